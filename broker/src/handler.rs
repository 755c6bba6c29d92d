//! What the broker answers: the token endpoint (`token`), `/healthz`, `/readyz` and
//! `/metrics`. Every request first passes the checks that keep a web page from using the broker
//! (a loopback `Host`, no `Origin`) and that bound its size; token requests over TCP also need
//! the secret.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use certless::broker::wire::{TOKEN_PATH, is_loopback_host, shown};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use crate::metrics::Refusal;
use crate::response::{Body, json, problem};
use crate::shared::{Broker, Via};
use crate::token::token;

pub(crate) async fn handle(
    broker: Arc<Broker>,
    via: Via,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    // The body is never read: a request with one is refused.
    let (request, _body) = request.into_parts();
    let (endpoint, response) = route(&broker, &via, &request).await;
    broker
        .metrics
        .response(endpoint, response.status().as_u16());
    Ok(response)
}

async fn route(broker: &Broker, via: &Via, request: &Parts) -> (&'static str, Response<Body>) {
    let path = request.uri.path();
    let endpoint = match path {
        TOKEN_PATH => "token",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        _ => "other",
    };
    if let Some(refused) = refuse(broker, via, request) {
        return (endpoint, refused);
    }
    let response = match (&request.method, endpoint) {
        (&Method::GET, "token") => token(broker, via, request).await,
        (&Method::GET, "healthz") => json(
            StatusCode::OK,
            serde_json::json!({"status": "ok", "apps": broker.apps.all().len()}).to_string(),
        ),
        (&Method::GET, "readyz") => ready(broker).await,
        (&Method::GET, "metrics") => {
            let mut response =
                Response::new(Full::new(Bytes::from(broker.metrics.render(&broker.apps))));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        (_, "other") => problem(
            StatusCode::NOT_FOUND,
            format!(
                "there is nothing at {}: the token endpoint is {TOKEN_PATH}; also /healthz, \
                 /readyz, /metrics",
                shown(path)
            ),
            "Point IDENTITY_ENDPOINT (or CERTLESS_BROKER) at http://127.0.0.1:PORT/msi/token.",
        ),
        _ => {
            let mut response = problem(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed here", request.method),
                "The broker answers GET requests only.",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
    };
    (endpoint, response)
}

/// The checks every request passes first. A web page can make a browser send requests to
/// loopback; it cannot make it send a loopback `Host` for its own origin (DNS rebinding) or
/// leave out `Origin` on a cross-origin request — and no CORS header is ever sent.
fn refuse(broker: &Broker, via: &Via, request: &Parts) -> Option<Response<Body>> {
    let headers = &request.headers;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name);
    if !host.is_some_and(is_loopback_host) {
        broker.metrics.refused(Refusal::HostNotLoopback);
        log::warn!(
            "certless serve: refused a request from {via} with Host {:?}: not a loopback name \
             (a web page using DNS rebinding would look like this)",
            host.map(shown)
        );
        return Some(problem(
            StatusCode::FORBIDDEN,
            "the Host header must name this machine's loopback (127.0.0.1, [::1] or localhost)"
                .into(),
            "Send the request to http://127.0.0.1:PORT (or localhost) as the broker prints it.",
        ));
    }
    if headers.contains_key(header::ORIGIN) {
        broker.metrics.refused(Refusal::Origin);
        log::warn!(
            "certless serve: refused a request from {via} with an Origin header (a web page)"
        );
        return Some(problem(
            StatusCode::FORBIDDEN,
            "requests from web pages (with an Origin header) are refused".into(),
            "Only local processes may ask the broker for tokens.",
        ));
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body || request.uri.to_string().len() > 8192 {
        broker.metrics.refused(Refusal::TooLarge);
        let mut response = problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "a request to the broker has no body and a URL of at most 8 KiB".into(),
            "Send GET requests with the parameters in the query string.",
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(response);
    }
    None
}

/// `127.0.0.1:8765` → `127.0.0.1`, `[::1]:8765` → `[::1]`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// `/readyz`: every app can have a token for each `--scope` now (from its cache, or fetched
/// within a few seconds); with no `--scope`, its managed-identity endpoint gives it a token.
async fn ready(broker: &Broker) -> Response<Body> {
    const CHECK: Duration = Duration::from_secs(5);
    let mut all_ready = true;
    let mut report = Vec::new();
    for app in broker.apps.all() {
        let mut checks = serde_json::Map::new();
        let credential = &app.credential;
        if broker.scopes.is_empty() && credential.managed_identity_id().is_some() {
            let check = tokio::time::timeout(CHECK, credential.managed_identity_assertion()).await;
            let verdict = match check {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the managed-identity endpoint did not answer within 5 s".into(),
            };
            all_ready &= verdict == "ok";
            checks.insert("managed_identity".into(), verdict.into());
        }
        for scope in &broker.scopes {
            let verdict = match credential.cached_token(&[scope]) {
                Ok(Some(_)) => "ok".to_string(),
                _ => match tokio::time::timeout(CHECK, credential.get_token(&[scope])).await {
                    Ok(Ok(_)) => "ok".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "no token within 5 s".into(),
                },
            };
            all_ready &= verdict == "ok";
            checks.insert(scope.clone(), verdict.into());
        }
        let mut detail = serde_json::json!({"app": app.client_id, "checks": checks});
        // The shared cache is reported, never required: without it each broker fetches its own.
        if let Some(stats) = credential.shared_cache_stats() {
            detail["shared_cache"] = serde_json::json!({
                "target": stats.target,
                "state": stats.state.as_str(),
                "hits": stats.hits,
                "errors": stats.errors,
            });
        }
        report.push(detail);
    }
    let status = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        status,
        serde_json::json!({"ready": all_ready, "apps": report}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8765"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8765"), "[::1]");
        assert_eq!(host_name("localhost"), "localhost");
        assert!(is_loopback_host(host_name("[::1]:1")));
        assert!(!is_loopback_host(host_name("evil.example:8765")));
    }
}
