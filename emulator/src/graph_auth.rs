//! How Microsoft Graph takes a bearer token for its directory routes (`graph_directory`), and the delegated token
//! the admin surface hands tests in the shape `az account get-access-token --resource-type ms-graph` prints.
//!
//! Graph checks, in this order (docs/emulator.md, "Microsoft Graph's directory"):
//! 1. a bearer token signed by the emulator's key, inside its lifetime, for Graph (`https://graph.microsoft.com`
//!    or Graph's app id `00000003-0000-0000-c000-000000000000`, with or without a trailing slash): else 401
//!    `InvalidAuthenticationToken` with a bearer challenge;
//! 2. leave to read applications: an app-only token whose `roles` hold one of [`READ_ROLES`], or any delegated
//!    token (`scp`): else 403 `Authorization_RequestDenied`.
//!
//! The token's tenant (`tid`) is checked by the route against the object asked for (404 when they differ).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::derived_guid;
use crate::state::Shared;
use crate::tokens::random_id;
use crate::wire::{bearer_token, json_response, ordered_json, set_header};

/// Microsoft Graph's application id, the other spelling of its audience.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The application permissions that let an app-only token read applications and their federated credentials.
pub(crate) const READ_ROLES: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// The Azure CLI's client id: `az account get-access-token` tokens carry it as `appid`.
const AZURE_CLI_APP_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The delegated scopes `POST /_emulator/graph-token` puts in a token unless told otherwise.
const DEFAULT_SCOPES: &str = "Application.Read.All User.Read";

/// Graph's error JSON: `{"error":{"code","message"}}`.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({ "error": { "code": code, "message": message } }).to_string(),
    )
}

/// 401 with Graph's bearer challenge.
fn invalid_token(message: &str) -> Box<Response> {
    let mut response = graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    );
    set_header(
        &mut response,
        "www-authenticate",
        &format!(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
             client_id=\"{GRAPH_APP_ID}\""
        ),
    );
    Box::new(response)
}

fn is_graph_audience(aud: &str) -> bool {
    let aud = aud.trim_end_matches('/');
    aud.eq_ignore_ascii_case(crate::config::GRAPH_RESOURCE)
        || aud.eq_ignore_ascii_case(GRAPH_APP_ID)
}

/// The claims of a token that may read applications (steps 1 and 2 of the module documentation), or Graph's
/// refusal. The token itself is never logged.
pub(crate) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Map<String, Value>, Box<Response>> {
    let Some(token) = bearer_token(headers).filter(|t| !t.is_empty()) else {
        return Err(invalid_token("Access token is empty."));
    };
    let claims = shared.key.verify_signature(token).map_err(|problem| {
        log::info!("graph: bearer token refused: {problem:?}");
        invalid_token("Access token validation failure. Invalid signature.")
    })?;
    let now = shared.clock.now();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if number("exp").is_none_or(|exp| exp <= now) {
        return Err(invalid_token(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if number("nbf").is_some_and(|nbf| nbf > now) {
        return Err(invalid_token(
            "Lifetime validation failed, the token is not yet valid.",
        ));
    }
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !is_graph_audience(aud) {
        log::info!("graph: token for audience '{aud}' refused");
        return Err(invalid_token(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let delegated = claims
        .get("scp")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    let has_read_role = claims
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|roles| {
            roles
                .iter()
                .filter_map(Value::as_str)
                .any(|r| READ_ROLES.iter().any(|want| want.eq_ignore_ascii_case(r)))
        });
    if !(delegated || has_read_role) {
        return Err(Box::new(graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )));
    }
    Ok(claims)
}

/// The tenant a token was issued in.
pub(crate) fn tenant_of(claims: &Map<String, Value>) -> &str {
    claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `POST /_emulator/graph-token`; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphTokenRequest {
    /// Default: the registry's tenant.
    tenant_id: Option<String>,
    /// Application permissions (`roles`); alone, they make an app-only token.
    roles: Option<Vec<String>>,
    /// Delegated scopes (`scp`), space-separated; `""` for none. Default: [`DEFAULT_SCOPES`] unless `roles` is set.
    scp: Option<String>,
    /// Lifetime; negative makes an expired token. Default 3600.
    expires_in_secs: Option<i64>,
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({ "error": message.to_string() }).to_string(),
    )
}

/// `POST /_emulator/graph-token`: a Graph token signed by the emulator, answered as the Azure CLI prints one:
/// `{"accessToken","expiresOn","expires_on","subscription","tenant","tokenType"}`.
pub(crate) async fn mint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: GraphTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GraphTokenRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(format!("invalid JSON body: {e}")),
        }
    };
    let registry = shared.registry();
    let tenant = match &request.tenant_id {
        None => registry.tenant_id.clone(),
        Some(t) => match registry.find_tenant(t) {
            Some(t) => t.to_string(),
            None => return bad_request(format!("tenant '{t}' is not in the registry")),
        },
    };
    let scp = match (&request.scp, &request.roles) {
        (Some(scp), _) => scp.trim().to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => DEFAULT_SCOPES.to_string(),
    };
    let roles = request.roles.unwrap_or_default();
    let now = shared.clock.now();
    let exp = now.saturating_add(request.expires_in_secs.unwrap_or(3600));
    let issuer = format!("https://sts.windows.net/{tenant}/");
    let mut claims = json!({
        "aud": GRAPH_APP_ID,
        "iss": issuer,
        "iat": now.min(exp),
        "nbf": now.min(exp),
        "exp": exp,
        "aio": random_id(),
        "app_displayname": "Microsoft Azure CLI",
        "appid": AZURE_CLI_APP_ID,
        "appidacr": "0",
        "idp": issuer,
        "tid": tenant,
        "uti": random_id(),
        "ver": "1.0",
    });
    if let Some(map) = claims.as_object_mut() {
        if scp.is_empty() {
            let oid = derived_guid(&format!("az-cli-app:{tenant}"));
            map.insert("idtyp".into(), json!("app"));
            map.insert("oid".into(), json!(oid));
            map.insert("sub".into(), json!(oid));
        } else {
            let oid = derived_guid(&format!("az-cli-user:{tenant}"));
            map.insert("idtyp".into(), json!("user"));
            map.insert("amr".into(), json!(["pwd"]));
            map.insert("name".into(), json!("certless developer"));
            map.insert("oid".into(), json!(oid));
            map.insert("sub".into(), json!(oid));
            map.insert("upn".into(), json!("developer@certless.invalid"));
            map.insert("unique_name".into(), json!("developer@certless.invalid"));
            map.insert("scp".into(), json!(scp));
        }
        if !roles.is_empty() {
            map.insert("roles".into(), json!(roles));
        }
    }
    let token = match shared.key.sign(&claims) {
        Ok(t) => t,
        Err(e) => {
            log::error!("emulator: cannot sign a Graph token: {e}");
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": format!("cannot sign: {e}") }).to_string(),
            );
        }
    };
    log::info!(
        "emulator: minted a Graph token for tenant {tenant} (scp '{scp}', roles {roles:?}), expiring at {exp}"
    );
    let body = ordered_json(&[
        ("accessToken", Value::from(token)),
        ("expiresOn", Value::from(crate::clock::az_cli_time(exp))),
        ("expires_on", Value::from(exp)),
        ("subscription", Value::from(registry.subscription_id)),
        ("tenant", Value::from(tenant)),
        ("tokenType", Value::from("Bearer")),
    ]);
    json_response(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_audiences() {
        for aud in [
            "https://graph.microsoft.com",
            "https://graph.microsoft.com/",
            "00000003-0000-0000-c000-000000000000",
            "00000003-0000-0000-c000-000000000000/",
        ] {
            assert!(is_graph_audience(aud), "{aud}");
        }
        for aud in [
            "https://graph.microsoft.us",
            "https://management.azure.com",
            "",
        ] {
            assert!(!is_graph_audience(aud), "{aud}");
        }
    }
}
