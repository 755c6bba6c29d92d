//! Azure Cloud Shell's identity endpoint (docs/protocol.md §2): `POST {MSI_ENDPOINT}` with a form
//! `resource=R` and `Metadata: true`. It serves the Cloud Shell user's own identity — here the
//! host's system-assigned one — and takes no user-assigned selector.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::imds::{error, missing_metadata_header};
use crate::managed_identity::{issue_token, select_identity};
use crate::state::{Endpoint, Shared};
use crate::wire::{form_pairs, json_response, ordered_json, param};

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = missing_metadata_header(&headers) {
        return refused;
    }
    let form = form_pairs(&body);
    let Some(resource) = param(&form, "resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required form parameter 'resource' is missing",
        );
    };
    let registry = shared.registry();
    let Ok(mi) = select_identity(&registry, &[]) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    };
    let issued = match issue_token(&shared, &registry, &mi, resource) {
        Ok(t) => t,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                "The resource is not known",
            );
        }
    };
    let format = shared
        .expires_on_format(Endpoint::CloudShell)
        .unwrap_or_default();
    let lifetime = issued.lifetime_secs.to_string();
    json_response(
        StatusCode::OK,
        ordered_json(&[
            ("access_token", Value::from(issued.access_token)),
            ("refresh_token", Value::from("")),
            ("expires_in", Value::from(lifetime)),
            ("expires_on", format.render(issued.validity.exp)),
            ("not_before", Value::from(issued.validity.iat.to_string())),
            ("resource", Value::from(issued.resource)),
            ("token_type", Value::from("Bearer")),
        ]),
    )
}
