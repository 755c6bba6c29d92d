//! The Azure Instance Metadata Service identity endpoint:
//! `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=|&object_id=|&msi_res_id=]`
//! with `Metadata: true` (docs/protocol.md §2). Clients reach it through `AZURE_POD_IDENTITY_AUTHORITY_HOST`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::entra_error::resource_not_found_text;
use crate::managed_identity::{IssueError, SelectionError, Selector, issue_token, select_identity};
use crate::state::{Endpoint, Shared};
use crate::wire::{header_str, json_response, ordered_json, param, query_pairs};

/// The identity endpoint exists from this API version on; IMDS rejects versions it does not know.
const FIRST_API_VERSION: &str = "2018-02-01";

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // The SSRF guard comes first: azure-identity probes for IMDS by sending a request without it.
    if let Some(refused) = missing_metadata_header(&headers) {
        return refused;
    }
    let query = query_pairs(&uri);
    let Some(api_version) = param(&query, "api-version") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    };
    if !is_known_api_version(api_version) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Invalid api-version '{api_version}'"),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };

    let mut selectors = Vec::new();
    for (name, value) in &query {
        match name.as_str() {
            "client_id" => selectors.push(Selector::ClientId(value.clone())),
            "object_id" => selectors.push(Selector::ObjectId(value.clone())),
            "msi_res_id" => selectors.push(Selector::ResourceId(value.clone())),
            _ => {}
        }
    }
    let registry = shared.registry();
    let mi = match select_identity(&registry, &selectors) {
        Ok(mi) => mi,
        Err(e) => {
            let text = match e {
                SelectionError::Conflicting => {
                    "Only one of client_id, object_id and msi_res_id may be specified in the \
                        token request"
                }
                SelectionError::NotFound | SelectionError::NoIdentity => "Identity not found",
                SelectionError::Ambiguous => {
                    "Multiple user assigned identities exist, please specify the clientId / resourceId of the \
                     identity in the token request"
                }
            };
            log::info!("imds: identity selection failed: {text}");
            return error(StatusCode::BAD_REQUEST, "invalid_request", text);
        }
    };

    let issued = match issue_token(&shared, &registry, &mi, resource) {
        Ok(t) => t,
        Err(IssueError::UnknownResource { resource, tenant }) => {
            // IMDS passes Entra's refusal through.
            let ids = crate::entra_error::RequestIds::from_headers(&headers);
            let text = format!(
                "AADSTS500011: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                resource_not_found_text(&resource, &tenant),
                ids.trace_id,
                ids.correlation_id,
                crate::clock::entra_timestamp(shared.clock.now())
            );
            return error(StatusCode::BAD_REQUEST, "invalid_resource", &text);
        }
        Err(IssueError::Internal(e)) => {
            log::error!("imds: cannot issue: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            );
        }
    };

    let format = shared.expires_on_format(Endpoint::Imds).unwrap_or_default();
    let lifetime = issued.lifetime_secs.to_string();
    // IMDS sends every number as a JSON string.
    let body = ordered_json(&[
        ("access_token", Value::from(issued.access_token)),
        ("client_id", Value::from(mi.client_id)),
        ("expires_in", Value::from(lifetime.clone())),
        ("expires_on", format.render(issued.validity.exp)),
        ("ext_expires_in", Value::from(lifetime)),
        ("not_before", Value::from(issued.validity.iat.to_string())),
        ("resource", Value::from(issued.resource)),
        ("token_type", Value::from("Bearer")),
    ]);
    json_response(StatusCode::OK, body)
}

fn is_known_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    // Same shape, so comparing the text compares the dates.
    shape && v >= FIRST_API_VERSION
}

/// The SSRF guard of IMDS-style endpoints (IMDS, Arc, Cloud Shell): no `Metadata: true`, no
/// token — answered the way the real endpoint answers.
pub(crate) fn missing_metadata_header(headers: &HeaderMap) -> Option<Response> {
    let metadata = header_str(headers, "metadata").unwrap_or_default();
    (!metadata.eq_ignore_ascii_case("true")).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        )
    })
}

/// IMDS's error shape: `{"error","error_description"}`.
pub(crate) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(
        status,
        ordered_json(&[
            ("error", Value::from(code)),
            ("error_description", Value::from(description)),
        ]),
    )
}

/// An injected fault's answer, in IMDS's shape.
pub(crate) fn fault_response(status: StatusCode) -> Response {
    let code = match status.as_u16() {
        404 => "not_found",
        410 => "gone",
        429 => "too_many_requests",
        500..=599 => "internal_error",
        _ => "invalid_request",
    };
    error(
        status,
        code,
        &format!("Injected fault: HTTP {}", status.as_u16()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert!(is_known_api_version("2018-02-01"));
        assert!(is_known_api_version("2019-08-01"));
        assert!(!is_known_api_version("2017-09-01"));
        assert!(!is_known_api_version("2018-2-01"));
        assert!(!is_known_api_version("latest"));
        assert!(!is_known_api_version("2018-02-01x"));
    }
}
