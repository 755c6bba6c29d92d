//! Microsoft Graph's view of the directory, as much as a doctor needs to check a federated credential: an app's
//! federated credentials (`GET /v1.0/applications(appId='{appId}')/federatedIdentityCredentials` and
//! `GET /v1.0/applications/{object-id}/federatedIdentityCredentials`), and what an object id is
//! (`GET /v1.0/servicePrincipals/{id}`, `GET /v1.0/directoryObjects/{id}`). A credential whose subject is an
//! object id that resolves to nothing names an identity that was deleted or recreated.
//!
//! Everything is read from the registry as it is now, so `PUT /_emulator/registry` shows at once. Tokens are
//! checked by `graph_auth`; an object of another tenant than the token's is answered as if it did not exist.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::config::{AppRegistration, IdentityKind, ManagedIdentityInfo, Registry};
use crate::graph_auth::{authorize, graph_error, tenant_of};
use crate::state::Shared;
use crate::wire::json_response;

const METADATA: &str = "https://graph.microsoft.com/v1.0/$metadata";

fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body.to_string())
}

fn app_tenant<'a>(registry: &'a Registry, app: &'a AppRegistration) -> &'a str {
    app.tenant_id.as_deref().unwrap_or(&registry.tenant_id)
}

/// `GET /v1.0/applications/{object-id}/federatedIdentityCredentials`.
pub(crate) async fn credentials_by_object_id(
    State(shared): State<Arc<Shared>>,
    Path(object_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let claims = match authorize(&shared, &headers) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let registry = shared.registry();
    let app = registry.apps.iter().find(|a| {
        a.application_object_id().eq_ignore_ascii_case(&object_id)
            && app_tenant(&registry, a).eq_ignore_ascii_case(tenant_of(&claims))
    });
    match app {
        Some(app) => ok(credentials_json(app)),
        None => not_found(&object_id),
    }
}

/// `GET /v1.0/applications(appId='{appId}')/federatedIdentityCredentials`: `reference` is the path segment
/// `applications(appId='..')`.
pub(crate) async fn credentials_by_reference(
    State(shared): State<Arc<Shared>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Response {
    let claims = match authorize(&shared, &headers) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let Some(app_id) = app_id_of(&reference) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{reference}'."),
        );
    };
    let registry = shared.registry();
    match registry.find_app(tenant_of(&claims), app_id) {
        Some(app) => ok(credentials_json(app)),
        None => not_found(app_id),
    }
}

/// The app id of `applications(appId='{appId}')` (the quotes may be left out).
fn app_id_of(reference: &str) -> Option<&str> {
    let inner = reference
        .strip_prefix("applications(")?
        .strip_suffix(')')?
        .strip_prefix("appId=")?;
    let app_id = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or(inner);
    (!app_id.is_empty()).then_some(app_id)
}

/// Graph's list of an app's federated credentials.
fn credentials_json(app: &AppRegistration) -> Value {
    let value: Vec<Value> = app
        .federated_credentials
        .iter()
        .map(|fic| {
            json!({
                "id": app.federated_credential_id(fic),
                "name": fic.name,
                "issuer": fic.issuer,
                "subject": fic.subject,
                "description": null,
                "audiences": fic.audiences,
            })
        })
        .collect();
    json!({
        "@odata.context": format!(
            "{METADATA}#applications('{}')/federatedIdentityCredentials",
            app.application_object_id()
        ),
        "value": value,
    })
}

/// A directory object the registry holds, with its tenant.
enum DirectoryObject<'a> {
    ManagedIdentity(ManagedIdentityInfo),
    AppServicePrincipal(&'a AppRegistration),
    Application(&'a AppRegistration),
}

impl DirectoryObject<'_> {
    fn tenant<'r>(&'r self, registry: &'r Registry) -> &'r str {
        match self {
            DirectoryObject::ManagedIdentity(mi) => &mi.tenant_id,
            DirectoryObject::AppServicePrincipal(app) | DirectoryObject::Application(app) => {
                app_tenant(registry, app)
            }
        }
    }

    /// Graph's entity, without `@odata.context`.
    fn json(&self, registry: &Registry) -> Value {
        match self {
            DirectoryObject::ManagedIdentity(mi) => {
                let (explicit, name) = match mi.kind {
                    IdentityKind::SystemAssigned => ("isExplicit=False", registry.vm_name.clone()),
                    IdentityKind::UserAssigned => {
                        ("isExplicit=True", mi.name.clone().unwrap_or_default())
                    }
                };
                json!({
                    "@odata.type": "#microsoft.graph.servicePrincipal",
                    "id": mi.object_id,
                    "accountEnabled": true,
                    "alternativeNames": [explicit, mi.resource_id],
                    "appId": mi.client_id,
                    "displayName": name,
                    "servicePrincipalNames": [mi.client_id],
                    "servicePrincipalType": "ManagedIdentity",
                })
            }
            DirectoryObject::AppServicePrincipal(app) => json!({
                "@odata.type": "#microsoft.graph.servicePrincipal",
                "id": app.service_principal_id(),
                "accountEnabled": app.enabled,
                "alternativeNames": [],
                "appDisplayName": app.display_name,
                "appId": app.client_id,
                "appOwnerOrganizationId": app_tenant(registry, app),
                "displayName": app.display_name,
                "servicePrincipalNames": [app.client_id],
                "servicePrincipalType": "Application",
            }),
            DirectoryObject::Application(app) => json!({
                "@odata.type": "#microsoft.graph.application",
                "id": app.application_object_id(),
                "appId": app.client_id,
                "displayName": app.display_name,
                "signInAudience": "AzureADMyOrg",
            }),
        }
    }
}

/// The service principal (a managed identity's or an app's) with object id `id`.
fn service_principal<'a>(registry: &'a Registry, id: &str) -> Option<DirectoryObject<'a>> {
    let identities = registry
        .system_assigned_info()
        .into_iter()
        .chain(registry.user_assigned_info());
    for mi in identities {
        if mi.object_id.eq_ignore_ascii_case(id) {
            return Some(DirectoryObject::ManagedIdentity(mi));
        }
    }
    registry
        .apps
        .iter()
        .find(|a| a.service_principal_id().eq_ignore_ascii_case(id))
        .map(DirectoryObject::AppServicePrincipal)
}

/// `GET /v1.0/servicePrincipals/{id}`.
pub(crate) async fn service_principal_by_id(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer_object(&shared, &headers, &id, "servicePrincipals", |registry| {
        service_principal(registry, &id)
    })
}

/// `GET /v1.0/directoryObjects/{id}`: a service principal or an application object.
pub(crate) async fn directory_object_by_id(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer_object(&shared, &headers, &id, "directoryObjects", |registry| {
        service_principal(registry, &id).or_else(|| {
            registry
                .apps
                .iter()
                .find(|a| a.application_object_id().eq_ignore_ascii_case(&id))
                .map(DirectoryObject::Application)
        })
    })
}

/// One directory object, Graph's way: for an authorized token of the object's tenant, the
/// object with the `@odata.context` of `collection` (a service principal's own collection
/// names no `@odata.type`); anything else is not found.
fn answer_object(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    collection: &str,
    find: impl for<'a> FnOnce(&'a Registry) -> Option<DirectoryObject<'a>>,
) -> Response {
    let claims = match authorize(shared, headers) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let registry = shared.registry();
    let found =
        find(&registry).filter(|o| o.tenant(&registry).eq_ignore_ascii_case(tenant_of(&claims)));
    let Some(object) = found else {
        return not_found(id);
    };
    let mut body = object.json(&registry);
    if let Some(map) = body.as_object_mut() {
        if collection == "servicePrincipals" {
            map.remove("@odata.type");
        }
        map.insert(
            "@odata.context".into(),
            json!(format!("{METADATA}#{collection}/$entity")),
        );
    }
    ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_references() {
        assert_eq!(app_id_of("applications(appId='abc')"), Some("abc"));
        assert_eq!(app_id_of("applications(appId=abc)"), Some("abc"));
        assert_eq!(app_id_of("applications(appId='')"), None);
        assert_eq!(app_id_of("applications('abc')"), None);
        assert_eq!(app_id_of("servicePrincipals(appId='abc')"), None);
    }
}
