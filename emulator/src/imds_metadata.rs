//! What IMDS says about itself, beside its tokens: the API versions it serves (`GET /metadata/versions`), the
//! platform metadata of hosts that have the newer credential endpoint
//! (`GET /metadata/identity/getPlatformMetadata`), and the `Server` header every IMDS answer carries. A client's
//! doctor reads these to tell a real IMDS from something else on 169.254.169.254, and an old platform from a new one.

use std::sync::{Arc, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use crate::config::derived_guid;
use crate::imds::{error, missing_metadata_header};
use crate::state::Shared;
use crate::wire::{json_response, ordered_json, param, query_pairs, set_header};

/// The IMDS API versions from the first one with the identity endpoint on, as `/metadata/versions` lists them.
/// The token route takes any date-shaped version from the first on (`imds::is_known_api_version`).
pub(crate) const API_VERSIONS: &[&str] = &[
    "2018-02-01",
    "2018-04-02",
    "2018-10-01",
    "2019-02-01",
    "2019-03-11",
    "2019-04-30",
    "2019-06-01",
    "2019-06-04",
    "2019-08-01",
    "2019-08-15",
    "2019-11-01",
    "2020-06-01",
    "2020-07-15",
    "2020-09-01",
    "2020-10-01",
    "2020-12-01",
    "2021-01-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2021-10-01",
    "2021-11-01",
    "2021-11-15",
    "2021-12-13",
    "2023-07-01",
    "2023-11-15",
    "2024-03-15",
];

/// Puts the registry's `imds_server` on every answer of an IMDS route, injected faults included.
pub(crate) async fn server_header(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    // Only the one field: this runs on every IMDS request.
    let server = shared
        .registry
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .imds_server
        .clone();
    let mut response = next.run(req).await;
    set_header(&mut response, "server", &server);
    response
}

/// `GET /metadata/versions`: `{"apiVersions":[...]}`, behind the same `Metadata: true` guard as the token route.
pub(crate) async fn versions(headers: HeaderMap) -> Response {
    if let Some(refused) = missing_metadata_header(&headers) {
        return refused;
    }
    let body = ordered_json(&[("apiVersions", Value::from(API_VERSIONS.to_vec()))]);
    json_response(StatusCode::OK, body)
}

/// `GET /metadata/identity/getPlatformMetadata?api-version=..`: 404 unless the registry sets
/// `imds_platform_metadata` (hosts without the newer credential endpoint do not have it); then the host's identity
/// and tenant.
pub(crate) async fn platform_metadata(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(refused) = missing_metadata_header(&headers) {
        return refused;
    }
    let registry = shared.registry();
    if !registry.imds_platform_metadata {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "The requested resource was not found",
        );
    }
    if param(&query_pairs(&uri), "api-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let client_id = registry
        .system_assigned
        .as_ref()
        .map(|sa| sa.client_id.clone())
        .or_else(|| {
            registry
                .user_assigned
                .first()
                .map(|ua| ua.client_id.clone())
        })
        .unwrap_or_default();
    // The compute unit's id: stable for the emulated VM.
    let cu_id = derived_guid(&format!(
        "cuId:{}/{}/{}",
        registry.subscription_id, registry.resource_group, registry.vm_name
    ));
    let body = ordered_json(&[
        ("client_id", Value::from(client_id)),
        ("tenant_id", Value::from(registry.tenant_id)),
        ("cuId", Value::from(cu_id)),
        ("attestationEndpoint", Value::Null),
    ]);
    json_response(StatusCode::OK, body)
}
