//! The admin surface under `/_emulator/`: everything the Rust handle can do, over HTTP, for tests in other languages
//! that start the emulator as a separate process. Admin requests are neither counted nor recorded.
//!
//! The routes and their JSON are listed in the crate documentation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::EmulatorConfig;
use crate::faults::FaultSpec;
use crate::managed_identity::ExpiresOnFormat;
use crate::state::{Counters, Endpoint, Shared, lock};
use crate::wire::json_response;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/info", get(info))
        .route("/counters", get(counters))
        .route("/counters/reset", post(reset_counters))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(set_fault).delete(clear_faults),
        )
        .route("/time-offset", get(time_offset).post(set_time_offset))
        .route("/https-http2", get(https_http2).post(set_https_http2))
        .route(
            "/expires-on-format",
            get(expires_on_formats)
                .post(set_expires_on_format)
                .delete(reset_expires_on_formats),
        )
        .route("/registry", get(registry).put(put_registry))
        .route("/verify", post(verify))
        .route("/federated-token", post(federated_token))
        .route("/client-certificate", post(client_certificate))
        .route("/key-vault/certificates", post(key_vault_certificate))
        .route(
            "/sharepoint/grants",
            get(crate::site_access::list_grants)
                .post(crate::site_access::add_grant)
                .delete(crate::site_access::clear_grants),
        )
        .route("/sharepoint/revoke", post(crate::site_access::revoke))
        .route("/graph-token", post(crate::graph_auth::mint))
        .route("/shutdown", post(shutdown))
        .fallback(not_found)
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body.to_string())
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({ "error": message.to_string() }).to_string(),
    )
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

/// An empty body means every option's default.
fn parse_or_default<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse(body)
    }
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    ok(to_value(shared.info()))
}

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    ok(to_value(lock(&shared.counters).clone()))
}

async fn reset_counters(State(shared): State<Arc<Shared>>) -> Response {
    *lock(&shared.counters) = Counters::default();
    ok(to_value(Counters::default()))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    ok(to_value(shared.journal.all()))
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> Response {
    shared.journal.clear();
    ok(json!([]))
}

fn fault_list(shared: &Shared) -> Value {
    to_value(
        shared
            .faults
            .list()
            .iter()
            .map(|(e, f)| FaultSpec::from_fault(*e, f))
            .collect::<Vec<_>>(),
    )
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    ok(fault_list(&shared))
}

async fn set_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    match spec.into_fault() {
        Ok((endpoint, fault)) => {
            shared.faults.set(endpoint, fault);
            ok(fault_list(&shared))
        }
        Err(e) => bad_request(e),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults.clear();
    ok(json!([]))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeOffset {
    secs: i64,
}

async fn time_offset(State(shared): State<Arc<Shared>>) -> Response {
    ok(json!({ "secs": shared.clock.offset() }))
}

async fn set_time_offset(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<TimeOffset>(&body) {
        Ok(t) => {
            shared.clock.set_offset(t.secs);
            ok(json!({ "secs": t.secs }))
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Switch {
    enabled: bool,
}

async fn https_http2(State(shared): State<Arc<Shared>>) -> Response {
    ok(json!({ "enabled": shared.https_http2.load(Ordering::Relaxed) }))
}

async fn set_https_http2(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<Switch>(&body) {
        Ok(s) => {
            shared.https_http2.store(s.enabled, Ordering::Relaxed);
            ok(json!({ "enabled": s.enabled }))
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpiresOnSetting {
    endpoint: Endpoint,
    format: ExpiresOnFormat,
}

fn formats(shared: &Shared) -> Value {
    let map: BTreeMap<String, Value> = lock(&shared.expires_on)
        .iter()
        .map(|(e, f)| {
            (
                to_value(e).as_str().unwrap_or_default().to_string(),
                to_value(f),
            )
        })
        .collect();
    to_value(map)
}

async fn expires_on_formats(State(shared): State<Arc<Shared>>) -> Response {
    ok(formats(&shared))
}

async fn set_expires_on_format(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let setting: ExpiresOnSetting = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    if let Err(e) = crate::managed_identity::check_expires_on_endpoint(setting.endpoint) {
        return bad_request(e);
    }
    lock(&shared.expires_on).insert(setting.endpoint, setting.format);
    ok(formats(&shared))
}

async fn reset_expires_on_formats(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.expires_on).clear();
    ok(json!({}))
}

async fn registry(State(shared): State<Arc<Shared>>) -> Response {
    ok(to_value(shared.registry()))
}

async fn put_registry(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match EmulatorConfig::from_json_str(&text) {
        Ok(config) => {
            shared.update_registry(|r| *r = config.registry);
            ok(to_value(shared.registry()))
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    token: String,
}

async fn verify(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: VerifyRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match shared.verify_access_token(&req.token) {
        Ok(claims) => ok(json!({ "valid": true, "claims": claims })),
        Err(e) => ok(json!({ "valid": false, "error": e.to_string() })),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FederatedTokenRequest {
    issuer: String,
    subject: String,
    #[serde(default = "default_exchange_audience")]
    audience: String,
    #[serde(default = "default_federated_lifetime")]
    lifetime_secs: i64,
}

fn default_exchange_audience() -> String {
    "api://AzureADTokenExchange".to_string()
}

fn default_federated_lifetime() -> i64 {
    3600
}

async fn federated_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: FederatedTokenRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match shared.mint_federated_token(&req.issuer, &req.subject, &req.audience, req.lifetime_secs) {
        Ok(token) => ok(json!({ "token": token })),
        Err(e) => bad_request(e.to_string()),
    }
}

async fn client_certificate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let options: crate::client_certificate::ClientCertificateOptions = match parse_or_default(&body)
    {
        Ok(o) => o,
        Err(e) => return bad_request(e),
    };
    match shared.issue_client_certificate(&options) {
        Ok(issued) => ok(serde_json::to_value(issued).unwrap_or_default()),
        Err(e) => bad_request(e.to_string()),
    }
}

async fn key_vault_certificate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let options: crate::key_vault::KeyVaultCertificateOptions = match parse_or_default(&body) {
        Ok(o) => o,
        Err(e) => return bad_request(e),
    };
    match shared.add_key_vault_certificate(&options) {
        Ok(issued) => ok(serde_json::to_value(issued).unwrap_or_default()),
        Err(e) => bad_request(e.to_string()),
    }
}

async fn shutdown(State(shared): State<Arc<Shared>>) -> Response {
    log::info!("emulator: shutdown requested over the admin surface");
    // Answer first; stop a moment later.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        shared.shutdown.send_replace(true);
    });
    ok(json!({ "ok": true }))
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "error": "no such admin endpoint; see GET /_emulator/info" }).to_string(),
    )
}
