//! The App Service / Functions / Container Apps identity endpoint (docs/protocol.md §2):
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R` with `X-IDENTITY-HEADER: {IDENTITY_HEADER}`,
//! selectors `client_id` / `principal_id` (alias `object_id`) / `mi_res_id`. The older `2017-09-01` protocol
//! (`secret` header, `clientid` selector, date-string `expires_on`) is answered too.
//!
//! A missing or wrong header is answered 401 (the request is unauthenticated); other request errors 400, both in
//! App Service's `{"statusCode","message","correlationId"}` shape.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::managed_identity::{
    ExpiresOnFormat, IssueError, SelectionError, Selector, issue_token, select_identity,
};
use crate::state::{Endpoint, Shared};
use crate::wire::{header_str, json_response, ordered_json, param, query_pairs};

/// The two protocol versions App Service speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V2019,
    V2017,
}

impl Version {
    fn parse(v: &str) -> Option<Self> {
        match v {
            "2019-08-01" => Some(Version::V2019),
            "2017-09-01" => Some(Version::V2017),
            _ => None,
        }
    }

    fn secret_header(self) -> &'static str {
        match self {
            Version::V2019 => "x-identity-header",
            Version::V2017 => "secret",
        }
    }
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = query_pairs(&uri);
    let version = match param(&query, "api-version") {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "The api-version query parameter is required.",
            );
        }
        Some(v) => match Version::parse(v) {
            Some(version) => version,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("api-version '{v}' is not supported. Use 2019-08-01."),
                );
            }
        },
    };
    let registry = shared.registry();
    let presented = header_str(&headers, version.secret_header());
    if presented != Some(registry.app_service_secret.as_str()) {
        log::info!(
            "app service: {} header {}",
            version.secret_header(),
            if presented.is_some() {
                "does not match"
            } else {
                "is missing"
            }
        );
        return error(
            StatusCode::UNAUTHORIZED,
            &format!(
                "Unauthorized: the {} header is missing or does not match.",
                version.secret_header().to_ascii_uppercase()
            ),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The resource query parameter is required.",
        );
    };

    let mut selectors = Vec::new();
    for (name, value) in &query {
        let selector = match (version, name.as_str()) {
            (Version::V2019, "client_id") | (Version::V2017, "clientid") => {
                Selector::ClientId(value.clone())
            }
            (Version::V2019, "principal_id" | "object_id") => Selector::ObjectId(value.clone()),
            (Version::V2019, "mi_res_id") => Selector::ResourceId(value.clone()),
            _ => continue,
        };
        selectors.push(selector);
    }
    let mi = match select_identity(&registry, &selectors) {
        Ok(mi) => mi,
        Err(e) => {
            let text = match e {
                SelectionError::Conflicting => {
                    "Only one of client_id, principal_id (object_id) and mi_res_id may be \
                        specified."
                }
                SelectionError::NotFound => "No managed identity matches the requested identity.",
                SelectionError::NoIdentity => "No managed identity is assigned to this app.",
                SelectionError::Ambiguous => {
                    "Multiple user-assigned identities are assigned to this app; specify client_id, principal_id \
                     or mi_res_id."
                }
            };
            log::info!("app service: identity selection failed: {text}");
            return error(StatusCode::BAD_REQUEST, text);
        }
    };

    let issued = match issue_token(&shared, &registry, &mi, resource) {
        Ok(t) => t,
        Err(IssueError::UnknownResource { resource, tenant }) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "AADSTS500011: {}",
                    crate::entra_error::resource_not_found_text(&resource, &tenant)
                ),
            );
        }
        Err(IssueError::Internal(e)) => {
            log::error!("app service: cannot issue: {e}");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.");
        }
    };

    let format = shared
        .expires_on_format(Endpoint::AppService)
        .unwrap_or(match version {
            Version::V2019 => ExpiresOnFormat::NumberString,
            Version::V2017 => ExpiresOnFormat::DateString,
        });
    let body = ordered_json(&[
        ("access_token", Value::from(issued.access_token)),
        ("expires_on", format.render(issued.validity.exp)),
        ("resource", Value::from(issued.resource)),
        ("token_type", Value::from("Bearer")),
        ("client_id", Value::from(mi.client_id)),
    ]);
    json_response(StatusCode::OK, body)
}

/// App Service's error shape.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        ordered_json(&[
            ("statusCode", Value::from(status.as_u16())),
            ("message", Value::from(message)),
            (
                "correlationId",
                Value::from(uuid::Uuid::new_v4().to_string()),
            ),
        ]),
    )
}

/// An injected fault's answer, in App Service's shape.
pub(crate) fn fault_response(status: StatusCode) -> Response {
    error(status, &format!("Injected fault: HTTP {}", status.as_u16()))
}
