//! The Azure Arc agent's identity endpoint (docs/protocol.md §2): `GET {IDENTITY_ENDPOINT}?
//! api-version=2020-06-01&resource=R` with `Metadata: true` is answered 401 with
//! `WWW-Authenticate: Basic realm=<key file>`; the client reads the file (which only the
//! `himds` group may) and repeats the request with `Authorization: Basic <file contents>`.
//! Real Arc machines have only a system-assigned identity and ignore a requested user-assigned
//! one, so do we unless told otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::imds::{error, missing_metadata_header};
use crate::managed_identity::{Selector, issue_token, select_identity};
use crate::state::{Endpoint, Shared};
use crate::wire::{header_str, json_response, ordered_json, param, query_pairs};

const FIRST_API_VERSION: &str = "2020-06-01";

pub(crate) struct ArcState {
    pub dir: PathBuf,
    /// The contents of the key file of the latest challenge.
    secret: Mutex<Option<String>>,
    pub honour_selectors: AtomicBool,
}

impl ArcState {
    pub(crate) fn new(dir: PathBuf) -> Self {
        ArcState {
            dir,
            secret: Mutex::new(None),
            honour_selectors: AtomicBool::new(false),
        }
    }
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(refused) = missing_metadata_header(&headers) {
        return refused;
    }
    let query = query_pairs(&uri);
    match param(&query, "api-version") {
        Some(v) if v.len() == 10 && v >= FIRST_API_VERSION => {}
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid or missing api-version",
            );
        }
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let presented = header_str(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .map(str::to_string);
    let expected = shared
        .arc
        .secret
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if presented.is_none() || presented != expected {
        return challenge(&shared);
    }
    let mut selectors = Vec::new();
    if shared.arc.honour_selectors.load(Ordering::Acquire) {
        for (name, value) in &query {
            match name.as_str() {
                "client_id" => selectors.push(Selector::ClientId(value.clone())),
                "object_id" => selectors.push(Selector::ObjectId(value.clone())),
                "msi_res_id" => selectors.push(Selector::ResourceId(value.clone())),
                _ => {}
            }
        }
    }
    let registry = shared.registry();
    let Ok(mi) = select_identity(&registry, &selectors) else {
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
        .expires_on_format(Endpoint::AzureArc)
        .unwrap_or_default();
    let lifetime = issued.lifetime_secs.to_string();
    json_response(
        StatusCode::OK,
        ordered_json(&[
            ("access_token", Value::from(issued.access_token)),
            ("client_id", Value::from(mi.client_id)),
            ("expires_in", Value::from(lifetime)),
            ("expires_on", format.render(issued.validity.exp)),
            ("not_before", Value::from(issued.validity.iat.to_string())),
            ("resource", Value::from(issued.resource)),
            ("token_type", Value::from("Bearer")),
        ]),
    )
}

/// A fresh key file and the 401 that points at it.
fn challenge(shared: &Shared) -> Response {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let path = shared.arc.dir.join(format!("{}.key", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::write(&path, &secret) {
        log::error!("arc: cannot write the key file {}: {e}", path.display());
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error",
        );
    }
    *shared.arc.secret.lock().unwrap_or_else(|e| e.into_inner()) = Some(secret);
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized: a key file was created; present its contents",
    );
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm={}", path.display())) {
        response.headers_mut().insert("www-authenticate", value);
    }
    response
}
