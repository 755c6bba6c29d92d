//! Who may use which SharePoint site, as the SharePoint stand-in (`sharepoint` module) decides it: the site
//! permissions Microsoft Graph grants to apps that hold `Sites.Selected`, and the revocations of Continuous Access
//! Evaluation (docs/protocol.md, "SharePoint: Sites.Selected and claims challenges").
//!
//! Grants are made over the admin surface (`/_emulator/sharepoint/grants`) or in Graph's own shape
//! (`POST /v1.0/sites/{site-id}/permissions`); both land in the same table.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::{Shared, lock};
use crate::wire::json_response;

/// The roles Graph grants on a site; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteRole {
    /// Read items.
    Read,
    /// Read and write items.
    Write,
    /// Write, and manage the site's permissions.
    Owner,
    /// Everything.
    #[serde(alias = "fullControl", alias = "FullControl")]
    Fullcontrol,
}

/// One site permission of an app (`POST /_emulator/sharepoint/grants`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteGrant {
    /// `{host}/sites/{name}`, e.g. `contoso.sharepoint.com/sites/crm` (case-insensitive).
    pub site: String,
    /// The app's client id (the token's `appid`/`azp`).
    pub app_id: String,
    /// What the app may do there.
    pub roles: Vec<SiteRole>,
    /// The app's name, as Graph shows it.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Graph's permission id (assigned when the grant is made).
    #[serde(default)]
    pub id: Option<String>,
}

/// Grants, and the tokens Continuous Access Evaluation revoked.
#[derive(Debug, Default)]
pub(crate) struct SiteAccess {
    grants: Mutex<Vec<SiteGrant>>,
    tokens: Mutex<Tokens>,
    /// Sites named so far (by Graph path, grant or REST call), so that Graph's site ids can be resolved.
    sites: Mutex<HashSet<String>>,
}

#[derive(Debug, Default)]
struct Tokens {
    /// `uti` of every token presented so far.
    seen: HashSet<String>,
    /// `uti` of the tokens presented before the last revocation.
    revoked: HashSet<String>,
    /// Tokens issued before this time (Unix seconds) are refused.
    revoked_at: Option<i64>,
}

/// `{host}/sites/{name}`, lowercased, without a trailing slash.
pub(crate) fn site_key(site: &str) -> String {
    let site = site.trim().trim_end_matches('/');
    let site = site
        .strip_prefix("https://")
        .or_else(|| site.strip_prefix("http://"))
        .unwrap_or(site);
    site.to_ascii_lowercase()
}

impl SiteAccess {
    /// Adds a grant (replacing the app's earlier one on that site) and returns it with its id.
    pub(crate) fn grant(&self, mut grant: SiteGrant) -> Result<SiteGrant, String> {
        grant.site = site_key(&grant.site);
        if !grant.site.contains("/sites/") || grant.site.starts_with('/') {
            return Err(format!(
                "site '{}' is not {{host}}/sites/{{name}}",
                grant.site
            ));
        }
        if grant.app_id.trim().is_empty() || grant.roles.is_empty() {
            return Err("a grant needs an app_id and at least one role".into());
        }
        let id = grant.id.clone().unwrap_or_else(|| {
            // Graph's ids are base64 of the app's claim; URL-safe here, as they go into paths.
            URL_SAFE_NO_PAD.encode(format!("i:0i.t|ms.sp.ext|{}@{}", grant.app_id, grant.site))
        });
        grant.id = Some(id);
        self.remember_site(&grant.site);
        let mut grants = lock(&self.grants);
        grants.retain(|g| !(g.site == grant.site && g.app_id.eq_ignore_ascii_case(&grant.app_id)));
        grants.push(grant.clone());
        Ok(grant)
    }

    /// Remembers a site (`{host}/sites/{name}`), for [`graph_site_id`] lookups.
    pub(crate) fn remember_site(&self, site: &str) {
        lock(&self.sites).insert(site_key(site));
    }

    fn site_with_id(&self, id: &str) -> Option<String> {
        lock(&self.sites)
            .iter()
            .find(|s| graph_site_id(s).eq_ignore_ascii_case(id))
            .cloned()
    }

    pub(crate) fn grants(&self) -> Vec<SiteGrant> {
        lock(&self.grants).clone()
    }

    fn grants_on(&self, site: &str) -> Vec<SiteGrant> {
        let site = site_key(site);
        lock(&self.grants)
            .iter()
            .filter(|g| g.site == site)
            .cloned()
            .collect()
    }

    /// Removes the grant with Graph permission id `id` from `site`; whether there was one.
    fn revoke_grant(&self, site: &str, id: &str) -> bool {
        let site = site_key(site);
        let mut grants = lock(&self.grants);
        let before = grants.len();
        grants.retain(|g| !(g.site == site && g.id.as_deref() == Some(id)));
        grants.len() != before
    }

    pub(crate) fn clear_grants(&self) {
        lock(&self.grants).clear();
    }

    /// The highest role `app_id` holds on `site`.
    pub(crate) fn role_of(&self, site: &str, app_id: &str) -> Option<SiteRole> {
        let site = site_key(site);
        lock(&self.grants)
            .iter()
            .filter(|g| g.site == site && g.app_id.eq_ignore_ascii_case(app_id))
            .flat_map(|g| g.roles.iter().copied())
            .max()
    }

    /// Remembers a presented token; says whether a revocation covers it.
    pub(crate) fn check_token(&self, uti: Option<&str>, iat: Option<i64>) -> Result<(), i64> {
        let mut tokens = lock(&self.tokens);
        if let Some(at) = tokens.revoked_at {
            let revoked = uti.is_some_and(|u| tokens.revoked.contains(u));
            if revoked || iat.is_none_or(|iat| iat < at) {
                return Err(at);
            }
        }
        if let Some(uti) = uti {
            tokens.seen.insert(uti.to_string());
        }
        Ok(())
    }

    /// Refuses every token seen so far and every token issued before `now`; returns how many were seen.
    pub(crate) fn revoke(&self, now: i64) -> usize {
        let mut tokens = lock(&self.tokens);
        let seen: Vec<String> = tokens.seen.drain().collect();
        tokens.revoked.extend(seen);
        tokens.revoked_at = Some(now);
        tokens.revoked.len()
    }
}

/// The ids Graph gives a site: `{host},{site collection id},{web id}`, stable for a site.
pub(crate) fn graph_site_id(site: &str) -> String {
    let key = site_key(site);
    let host = key.split('/').next().unwrap_or_default();
    let guid = |salt: &str| {
        let d = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{salt}{key}").as_bytes(),
        );
        let h: String = d.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    };
    format!("{host},{},{}", guid("site:"), guid("web:"))
}

fn ok(status: StatusCode, body: Value) -> Response {
    json_response(status, body.to_string())
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    ok(
        StatusCode::BAD_REQUEST,
        json!({ "error": message.to_string() }),
    )
}

/// `GET /_emulator/sharepoint/grants`.
pub(crate) async fn list_grants(State(shared): State<Arc<Shared>>) -> Response {
    ok(StatusCode::OK, json!(shared.site_access.grants()))
}

/// `POST /_emulator/sharepoint/grants`: one grant; answers every grant.
pub(crate) async fn add_grant(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let grant: SiteGrant = match serde_json::from_slice(&body) {
        Ok(g) => g,
        Err(e) => return bad_request(format!("invalid JSON body: {e}")),
    };
    match shared.site_access.grant(grant) {
        Ok(_) => ok(StatusCode::OK, json!(shared.site_access.grants())),
        Err(e) => bad_request(e),
    }
}

/// `DELETE /_emulator/sharepoint/grants`.
pub(crate) async fn clear_grants(State(shared): State<Arc<Shared>>) -> Response {
    shared.site_access.clear_grants();
    ok(StatusCode::OK, json!([]))
}

/// `POST /_emulator/sharepoint/revoke`.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.clock.now();
    let revoked = shared.site_access.revoke(now);
    log::info!("emulator: SharePoint now refuses {revoked} token(s) and any issued before {now}");
    ok(
        StatusCode::OK,
        json!({ "revoked_at": now, "revoked_tokens": revoked }),
    )
}

/// Graph's error JSON.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    ok(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

/// An injected fault's answer, in Graph's shape.
pub(crate) fn graph_fault_response(status: StatusCode) -> Response {
    graph_error(
        status,
        "generalException",
        "Injected by the certless emulator.",
    )
}

/// Graph's view of a permission.
fn permission_json(g: &SiteGrant) -> Value {
    let identity = json!({ "application": {
        "id": g.app_id, "displayName": g.display_name.clone().unwrap_or_default() } });
    json!({
        "id": g.id,
        "roles": g.roles,
        "grantedToIdentitiesV2": [identity],
        "grantedToIdentities": [identity],
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphPermission {
    roles: Vec<SiteRole>,
    #[serde(default)]
    granted_to_identities: Vec<GraphIdentity>,
    #[serde(default)]
    granted_to_identities_v2: Vec<GraphIdentity>,
}

#[derive(Deserialize)]
struct GraphIdentity {
    application: GraphApplication,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphApplication {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// The site a Graph site reference names: `{host}:/sites/{name}[:]` or an id of [`graph_site_id`].
fn resolve_site(shared: &Shared, reference: &str) -> Option<String> {
    if let Some((host, path)) = reference.split_once(':') {
        let path = path.trim_end_matches(':').trim_matches('/');
        if path.is_empty() {
            return None;
        }
        let site = site_key(&format!("{host}/{path}"));
        shared.site_access.remember_site(&site);
        return Some(site);
    }
    shared.site_access.site_with_id(reference)
}

/// `/v1.0/sites/{*rest}`: `GET` a site (`{host}:/sites/{name}` or its id), `GET`/`POST` its `/permissions`,
/// `DELETE` one of them (`/permissions/{id}`).
/// No token is asked for: granting is the administrator's business, not the app's.
pub(crate) async fn graph_sites(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    method: Method,
    body: Bytes,
) -> Response {
    let rest = rest.trim_end_matches('/');
    if let Some((reference, id)) = rest.split_once("/permissions/") {
        let Some(site) = resolve_site(&shared, reference.trim_end_matches(':')) else {
            return graph_error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "Requested site could not be found",
            );
        };
        return match method {
            Method::DELETE if shared.site_access.revoke_grant(&site, id) => {
                json_response(StatusCode::NO_CONTENT, String::new())
            }
            Method::DELETE => graph_error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "Permission not found",
            ),
            _ => graph_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "methodNotAllowed",
                "The method is not allowed here",
            ),
        };
    }
    let (reference, permissions) = match rest.strip_suffix("/permissions") {
        Some(site) => (site.trim_end_matches(':'), true),
        None => (rest, false),
    };
    let Some(site) = resolve_site(&shared, reference) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "Requested site could not be found",
        );
    };
    match (permissions, method) {
        (false, Method::GET) => {
            let name = site.rsplit('/').next().unwrap_or_default().to_string();
            let host = site.split('/').next().unwrap_or_default();
            let body = json!({
                "id": graph_site_id(&site),
                "name": name,
                "displayName": name,
                "webUrl": format!("https://{site}"),
                "siteCollection": { "hostname": host },
            });
            ok(StatusCode::OK, body)
        }
        (true, Method::GET) => {
            let value: Vec<Value> = shared
                .site_access
                .grants_on(&site)
                .iter()
                .map(permission_json)
                .collect();
            ok(StatusCode::OK, json!({ "value": value }))
        }
        (true, Method::POST) => {
            let Ok(request) = serde_json::from_slice::<GraphPermission>(&body) else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "invalidRequest",
                    "Invalid request: expected roles and grantedToIdentities",
                );
            };
            let identities = if request.granted_to_identities_v2.is_empty() {
                request.granted_to_identities
            } else {
                request.granted_to_identities_v2
            };
            let [identity] = identities.as_slice() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "invalidRequest",
                    "Exactly one application must be granted",
                );
            };
            let grant = SiteGrant {
                site,
                app_id: identity.application.id.clone(),
                roles: request.roles,
                display_name: identity.application.display_name.clone(),
                id: None,
            };
            match shared.site_access.grant(grant) {
                Ok(g) => ok(StatusCode::CREATED, permission_json(&g)),
                Err(e) => graph_error(StatusCode::BAD_REQUEST, "invalidRequest", &e),
            }
        }
        _ => graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
            "The method is not allowed here",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(site: &str, roles: Vec<SiteRole>) -> SiteGrant {
        SiteGrant {
            site: site.into(),
            app_id: "APP".into(),
            roles,
            display_name: None,
            id: None,
        }
    }

    #[test]
    fn grants_are_per_site_and_app_and_replace_each_other() {
        let a = SiteAccess::default();
        a.grant(grant(
            "Contoso.SharePoint.com/sites/CRM/",
            vec![SiteRole::Read],
        ))
        .unwrap();
        assert_eq!(
            a.role_of("contoso.sharepoint.com/sites/crm", "app"),
            Some(SiteRole::Read)
        );
        assert_eq!(a.role_of("contoso.sharepoint.com/sites/hr", "app"), None);
        a.grant(grant(
            "https://contoso.sharepoint.com/sites/crm",
            vec![SiteRole::Write],
        ))
        .unwrap();
        assert_eq!(a.grants().len(), 1);
        assert_eq!(
            a.role_of("contoso.sharepoint.com/sites/crm", "APP"),
            Some(SiteRole::Write)
        );
        assert!(
            a.grant(grant("contoso.sharepoint.com", vec![SiteRole::Read]))
                .is_err()
        );
        assert!(
            a.grant(grant("contoso.sharepoint.com/sites/x", vec![]))
                .is_err()
        );
    }

    #[test]
    fn revocation_covers_seen_tokens_and_older_ones() {
        let a = SiteAccess::default();
        assert!(a.check_token(Some("u1"), Some(100)).is_ok());
        assert_eq!(a.revoke(100), 1);
        assert_eq!(a.check_token(Some("u1"), Some(100)), Err(100));
        assert_eq!(a.check_token(Some("u0"), Some(99)), Err(100));
        assert!(a.check_token(Some("u2"), Some(100)).is_ok());
    }

    #[test]
    fn graph_site_ids_are_stable_and_named_by_host() {
        let id = graph_site_id("contoso.sharepoint.com/sites/crm");
        assert_eq!(
            id,
            graph_site_id("https://Contoso.sharepoint.com/sites/CRM/")
        );
        assert!(id.starts_with("contoso.sharepoint.com,"));
        assert_eq!(id.split(',').count(), 3);
        assert_ne!(id, graph_site_id("contoso.sharepoint.com/sites/hr"));
    }
}
