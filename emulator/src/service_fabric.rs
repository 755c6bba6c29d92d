//! Service Fabric's managed identity token service (docs/protocol.md §2):
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview&resource=R` with `secret: {IDENTITY_HEADER}`,
//! served on the HTTPS listener only; clients pin its certificate by `IDENTITY_SERVER_THUMBPRINT` (the SHA-1 the
//! emulator publishes as `service_fabric_thumbprint`).
//!
//! The identity is the one the application manifest binds to the service, not chosen per request: here the
//! registry's first user-assigned identity, or the system-assigned one when there is none. Selector parameters are
//! ignored, as the real service ignores them. Errors are `{"error":{"code","message","correlationId"}}`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::managed_identity::{ExpiresOnFormat, IssueError, issue_token};
use crate::server::ConnInfo;
use crate::state::{Endpoint, Shared};
use crate::wire::{header_str, json_response, ordered_json, param, query_pairs};

const API_VERSION: &str = "2019-07-01-preview";

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if conn.is_none_or(|c| c.scheme != "https") {
        return error(
            StatusCode::BAD_REQUEST,
            "HttpsRequired",
            "The managed identity token service only answers over HTTPS.",
        );
    }
    let registry = shared.registry();
    match header_str(&headers, "secret") {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "SecretHeaderNotFound",
                "Secret is not found in the request headers.",
            );
        }
        Some(s) if s != registry.app_service_secret => {
            return error(
                StatusCode::NOT_FOUND,
                "ManagedIdentityNotFound",
                "Managed identity not found for the specified application host.",
            );
        }
        Some(_) => {}
    }
    let query = query_pairs(&uri);
    if param(&query, "api-version") != Some(API_VERSION) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            &format!(
                "The api-version '{}' is not supported. Supported version is '{API_VERSION}'.",
                param(&query, "api-version").unwrap_or_default()
            ),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ArgumentNullOrEmpty",
            "The parameter 'resource' should not be null or empty string.",
        );
    };
    let bound = registry
        .user_assigned_info()
        .into_iter()
        .next()
        .or_else(|| registry.system_assigned_info());
    let Some(mi) = bound else {
        return error(
            StatusCode::NOT_FOUND,
            "ManagedIdentityNotFound",
            "Managed identity not found for the specified application host.",
        );
    };
    let issued = match issue_token(&shared, &registry, &mi, resource) {
        Ok(t) => t,
        Err(IssueError::UnknownResource { resource, tenant }) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                &format!(
                    "AADSTS500011: {}",
                    crate::entra_error::resource_not_found_text(&resource, &tenant)
                ),
            );
        }
        Err(IssueError::Internal(e)) => {
            log::error!("service fabric: cannot issue: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "An error occurred.",
            );
        }
    };
    let format = shared
        .expires_on_format(Endpoint::ServiceFabric)
        .unwrap_or(ExpiresOnFormat::Number);
    json_response(
        StatusCode::OK,
        ordered_json(&[
            ("token_type", Value::from("Bearer")),
            ("access_token", Value::from(issued.access_token)),
            ("expires_on", format.render(issued.validity.exp)),
            ("resource", Value::from(issued.resource)),
        ]),
    )
}

/// Service Fabric's error shape.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        serde_json::json!({
            "error": {
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "code": code,
                "message": message,
            }
        })
        .to_string(),
    )
}

/// An injected fault's answer, in Service Fabric's shape.
pub(crate) fn fault_response(status: StatusCode) -> Response {
    error(
        status,
        if status == StatusCode::TOO_MANY_REQUESTS {
            "TooManyRequests"
        } else {
            "InternalServerError"
        },
        &format!("Injected fault: HTTP {}", status.as_u16()),
    )
}
