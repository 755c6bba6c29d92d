//! The token endpoint (App Service's managed-identity protocol, §7 of docs/protocol.md): the
//! secret on TCP, the query, the app, then the token — from the app's cache (a hit), from the
//! failure hold, or fetched (a miss).

use std::time::Instant;

use certless::broker::wire::{self, TokenRequest, shown};
use certless::{AccessToken, Error, ErrorCode, TokenRequestOptions};
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

use crate::apps::App;
use crate::hold::HoldKey;
use crate::metrics::{Outcome, Refusal, scope_class};
use crate::response::{Body, error_response, json};
use crate::shared::{Broker, Via};

pub(crate) async fn token(broker: &Broker, via: &Via, request: &Parts) -> Response<Body> {
    if let Via::Tcp(peer) = via {
        if let Some(refused) = refuse_secret(broker, *peer, request) {
            return refused;
        }
    }
    let pairs = wire::query_pairs(request.uri.query().unwrap_or_default());
    let asked = match TokenRequest::parse(&pairs) {
        Ok(asked) => asked,
        Err(e) => return error_response(&e, 400),
    };
    let app = match broker.apps.select(asked.app) {
        Ok(app) => app,
        Err(e) => {
            log::info!("certless serve: {e}");
            return error_response(&e, 400);
        }
    };
    let index = broker.app_index(app);
    let class = scope_class(asked.resource);
    let started = Instant::now();
    let result = token_for(broker, app, index, &asked, traceparent(request)).await;
    let elapsed = started.elapsed();
    match result {
        Ok((token, outcome)) => {
            broker.metrics.token(index, class, outcome, elapsed);
            if outcome == Outcome::Miss {
                log::info!(
                    "certless serve: token for {} (app {}) fetched in {} ms",
                    shown(asked.resource),
                    app.client_id,
                    elapsed.as_millis()
                );
            } else {
                log::debug!(
                    "certless serve: token for {} (app {}) from the cache, {} µs",
                    shown(asked.resource),
                    app.client_id,
                    elapsed.as_micros()
                );
            }
            json(
                StatusCode::OK,
                wire::token_body(&token, asked.resource, &app.client_id),
            )
        }
        Err(error) => {
            broker.metrics.token(index, class, Outcome::Error, elapsed);
            log::warn!(
                "certless serve: token for {} (app {}) failed: {error}",
                shown(asked.resource),
                app.client_id
            );
            let mut response = error_response(&error, wire::error_status(&error));
            if let Some(seconds) = error.retry_after() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

/// A 401 for a TCP request without the secret or with a wrong one.
fn refuse_secret(
    broker: &Broker,
    peer: std::net::SocketAddr,
    request: &Parts,
) -> Option<Response<Body>> {
    let presented = request.headers.get(wire::SECRET_HEADER);
    let (why, what) = match presented {
        None => (Refusal::SecretMissing, "without"),
        Some(v) if !broker.accepts(v.as_bytes()) => (Refusal::SecretWrong, "with a wrong"),
        Some(_) => return None,
    };
    broker.metrics.refused(why);
    log::warn!("certless serve: refused a token request from {peer} {what} X-IDENTITY-HEADER");
    let error = Error::new(
        ErrorCode::ManagedIdentityRejected,
        format!("the broker refused a token request {what} secret"),
    )
    .with_remedy(format!(
        "Send the broker's secret in X-IDENTITY-HEADER: for Azure SDKs set \
         IDENTITY_HEADER to the contents of {0}; for certless set \
         CERTLESS_BROKER_SECRET_FILE={0}. The secret stays the same across the \
         broker's restarts and changes when an operator rotates it \
         (certless serve rotate-secret): then restart the client.",
        broker.secret_file
    ));
    Some(error_response(&error, 401))
}

/// The caller's span (W3C `traceparent`), for the spans of a fetch the request causes. A
/// malformed header is ignored, as the W3C specification says: it never fails a request.
fn traceparent(request: &Parts) -> Option<String> {
    let value = request.headers.get("traceparent")?.to_str().ok()?;
    certless::telemetry::TraceContext::parse(value).map(|_| value.trim().to_string())
}

/// The token, from the cache when it has one (a hit), else fetched (a miss).
async fn token_for(
    broker: &Broker,
    app: &App,
    index: usize,
    asked: &TokenRequest<'_>,
    traceparent: Option<String>,
) -> Result<(AccessToken, Outcome), Error> {
    let credential = &app.credential;
    let scopes = [asked.resource];
    let mut options = TokenRequestOptions {
        claims: asked.claims.map(str::to_string),
        tenant_id: asked.tenant_id.map(str::to_string),
        force_refresh: false,
        traceparent,
    };
    if let Some(hash) = asked.token_sha256_to_refresh {
        options.force_refresh = holds_refused_token(app, &scopes, &options, hash, asked)?;
    }
    if let Some(token) = credential.cached_token_with(&scopes, &options)? {
        return Ok((token, Outcome::Hit));
    }
    let key = HoldKey {
        app: index,
        tenant: asked.tenant_id.unwrap_or_default().to_ascii_lowercase(),
        resource: asked.resource.to_string(),
    };
    if asked.claims.is_none() {
        if let Some(error) = broker.hold.check(&key, now_unix()) {
            return Err(error);
        }
    }
    // The cache missed just above: no second lookup.
    match credential.get_token_after_miss(&scopes, &options).await {
        Ok(token) => {
            broker.hold.clear(&key);
            Ok((token, Outcome::Miss))
        }
        Err(error) => {
            broker.hold.record(key, &error, now_unix());
            Err(error)
        }
    }
}

/// MSAL's revocation signal for App Service: whether `hash` is the SHA-256 of the token the
/// broker holds for this request — the one a resource refused. Only that token is refreshed
/// for it, so a client cannot make the broker fetch anew by sending random hashes.
fn holds_refused_token(
    app: &App,
    scopes: &[&str],
    options: &TokenRequestOptions,
    hash: &str,
    asked: &TokenRequest<'_>,
) -> Result<bool, Error> {
    let Some(cached) = app.credential.cached_token_with(scopes, options)? else {
        return Ok(false);
    };
    if !sha256_hex(cached.token.expose()).eq_ignore_ascii_case(hash) {
        return Ok(false);
    }
    log::info!(
        "certless serve: a client reported the token for {} (app {}) as refused; \
         fetching a new one",
        shown(asked.resource),
        app.client_id
    );
    Ok(true)
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The holds' clock: Unix seconds, as core's holds count them.
fn now_unix() -> i64 {
    use certless::clock::Clock;
    certless::clock::SystemClock.now_unix()
}
