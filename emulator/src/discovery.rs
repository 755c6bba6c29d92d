//! Entra's discovery documents: OpenID configuration, the signing keys (JWKS), and MSAL's instance discovery.
//! Endpoint URLs in them point back at the listener the client used, so an https client stays on https.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use crate::config::entra_issuer;
use crate::entra_error::{AadError, RequestIds};
use crate::server::ConnInfo;
use crate::state::Shared;
use crate::wire::{base_url, json_response, param, query_pairs};

/// Authority aliases that are not tenants but that discovery answers for.
const AUTHORITY_ALIASES: &[&str] = &["common", "organizations", "consumers"];

fn known_authority(shared: &Shared, tenant: &str) -> bool {
    AUTHORITY_ALIASES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(tenant))
        || shared.registry().find_tenant(tenant).is_some()
}

fn listener_base(headers: &HeaderMap, uri: &Uri, conn: Option<&ConnInfo>) -> String {
    match conn {
        Some(c) => base_url(headers, uri, c.scheme, c.port),
        None => "http://127.0.0.1".into(),
    }
}

pub(crate) async fn openid_configuration(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    conn: Option<axum::Extension<ConnInfo>>,
) -> Response {
    if !known_authority(&shared, &tenant) {
        let mut e = AadError::tenant_not_found(&tenant);
        e.error = "invalid_tenant";
        return e.respond(&RequestIds::from_headers(&headers), shared.clock.now());
    }
    let base = listener_base(&headers, &uri, conn.as_deref());
    // Entra's multi-tenant documents carry the `{tenantid}` placeholder in the issuer.
    let issuer_tenant = if AUTHORITY_ALIASES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&tenant))
    {
        "{tenantid}"
    } else {
        tenant.as_str()
    };
    let doc = json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": entra_issuer(issuer_tenant),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    json_response(StatusCode::OK, doc.to_string())
}

pub(crate) async fn keys(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known_authority(&shared, &tenant) {
        let mut e = AadError::tenant_not_found(&tenant);
        e.error = "invalid_tenant";
        return e.respond(&RequestIds::from_headers(&headers), shared.clock.now());
    }
    let issuer = entra_issuer(
        if AUTHORITY_ALIASES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&tenant))
        {
            "{tenantid}"
        } else {
            &tenant
        },
    );
    json_response(StatusCode::OK, shared.key.jwks(&issuer).to_string())
}

/// MSAL's instance discovery (`/common/discovery/instance?api-version=1.1&authorization_endpoint=...`): says this
/// host is its own cloud, with no aliases.
pub(crate) async fn instance(
    headers: HeaderMap,
    uri: Uri,
    conn: Option<axum::Extension<ConnInfo>>,
) -> Response {
    let base = listener_base(&headers, &uri, conn.as_deref());
    let host = base
        .split_once("://")
        .map(|(_, h)| h.to_string())
        .unwrap_or_default();
    let query = query_pairs(&uri);
    let tenant = param(&query, "authorization_endpoint")
        .and_then(|ep| ep.split_once("://").map(|(_, rest)| rest.to_string()))
        .and_then(|rest| rest.split('/').nth(1).map(str::to_string))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".to_string());
    let doc = json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host] }],
    });
    json_response(StatusCode::OK, doc.to_string())
}

/// An injected fault's answer on a discovery endpoint.
pub(crate) fn fault_response(status: StatusCode, headers: &HeaderMap, now: i64) -> Response {
    crate::entra::fault_response(status, headers, now)
}
