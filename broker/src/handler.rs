//! What the broker answers: the token endpoint (App Service's managed-identity protocol, §7 of
//! docs/protocol.md), `/healthz`, `/readyz` and `/metrics`. Every request first passes the
//! checks that keep a web page from using the broker (a loopback `Host`, no `Origin`) and that
//! bound its size; token requests over TCP also need the secret.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use certless::broker::{self as wire, TOKEN_PATH};
use certless::{Error, ErrorCode, TokenRequestOptions};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use super::apps::{App, Apps, Selector};
use super::metrics::{Metrics, Outcome, Refusal, scope_class};
use super::secret::{SecretSet, SecretState};

pub(super) type Body = Full<Bytes>;

/// (app index, tenant, resource) of a failed fetch.
type FailureKey = (usize, String, String);

/// Everything a request needs, shared by every connection.
pub(super) struct Broker {
    pub apps: Apps,
    /// The secrets accepted on TCP: the current one, and a rotated one during its grace.
    secrets: Mutex<SecretSet>,
    /// Where they are kept across restarts; re-read when a presented secret is not one of
    /// them, so that a rotation reaches the running broker (at most once a second).
    state: Option<SecretState>,
    last_reload: Mutex<Option<Instant>>,
    /// Where the secret is, for the fix in a 401's message.
    pub secret_file: String,
    pub metrics: Metrics,
    /// `--scope`: fetched at start, kept warm, checked by `/readyz`.
    pub scopes: Vec<String>,
    /// Failed fetches are answered from here for a short while, so that clients retrying in a
    /// herd (the SDKs retry 5xx answers) do not each cause a request to Entra.
    failures: Mutex<HashMap<FailureKey, (Instant, Error)>>,
    failure_hold: Duration,
}

/// How the request arrived.
#[derive(Clone, Debug)]
pub(super) enum Via {
    /// A TCP connection on loopback: the secret is required.
    Tcp(std::net::SocketAddr),
    /// The Unix socket: its file mode already decided who may connect.
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(String),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Tcp(peer) => write!(f, "{peer}"),
            Via::Unix(peer) => f.write_str(peer),
        }
    }
}

impl Broker {
    pub(super) fn new(
        apps: Apps,
        secrets: SecretSet,
        state: Option<SecretState>,
        secret_file: String,
        scopes: Vec<String>,
        failure_hold: Duration,
    ) -> Self {
        let metrics = Metrics::new(apps.all().len());
        Broker {
            apps,
            secrets: Mutex::new(secrets),
            state,
            last_reload: Mutex::new(None),
            secret_file,
            metrics,
            scopes,
            failures: Mutex::new(HashMap::new()),
            failure_hold,
        }
    }

    /// Takes the secrets a rotation left in the state file.
    pub(super) fn replace_secrets(&self, secrets: SecretSet) {
        *lock(&self.secrets) = secrets;
    }

    /// Whether `presented` is a secret the broker accepts now.
    fn accepts(&self, presented: &[u8]) -> bool {
        let now = super::unix_now();
        if lock(&self.secrets).accepts(presented, now) {
            return true;
        }
        let Some(state) = &self.state else {
            return false;
        };
        {
            let mut last = lock(&self.last_reload);
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match state.load() {
            Ok(Some(set)) => {
                let accepted = set.accepts(presented, now);
                *lock(&self.secrets) = set;
                accepted
            }
            Ok(None) => false,
            Err(e) => {
                log::warn!("certless serve: {e}");
                false
            }
        }
    }

    pub(super) fn app_index(&self, app: &App) -> usize {
        self.apps
            .all()
            .iter()
            .position(|a| std::ptr::eq(a, app))
            .unwrap_or(0)
    }
}

pub(super) async fn handle(
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
    if !host.is_some_and(wire::is_loopback_host) {
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

async fn token(broker: &Broker, via: &Via, request: &Parts) -> Response<Body> {
    if let Via::Tcp(peer) = via {
        let presented = request.headers.get(wire::SECRET_HEADER);
        let refusal = match presented {
            None => Some((Refusal::SecretMissing, "without")),
            Some(v) if !broker.accepts(v.as_bytes()) => {
                Some((Refusal::SecretWrong, "with a wrong"))
            }
            Some(_) => None,
        };
        if let Some((why, what)) = refusal {
            broker.metrics.refused(why);
            log::warn!(
                "certless serve: refused a token request from {peer} {what} X-IDENTITY-HEADER"
            );
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
            return error_response(&error, 401);
        }
    }
    let pairs = decode(request.uri.query().unwrap_or_default());
    let params = match Params::parse(&pairs) {
        Ok(p) => p,
        Err(e) => return error_response(&e, 400),
    };
    let app = match broker.apps.select(params.selector) {
        Ok(app) => app,
        Err(e) => {
            log::info!("certless serve: {e}");
            return error_response(&e, 400);
        }
    };
    let index = broker.app_index(app);
    let class = scope_class(params.resource);
    let started = Instant::now();
    let result = token_for(broker, app, index, &params).await;
    let elapsed = started.elapsed();
    match result {
        Ok((token, outcome)) => {
            broker.metrics.token(index, class, outcome, elapsed);
            if outcome == Outcome::Miss {
                log::info!(
                    "certless serve: token for {} (app {}) fetched in {} ms",
                    shown(params.resource),
                    app.client_id,
                    elapsed.as_millis()
                );
            } else {
                log::debug!(
                    "certless serve: token for {} (app {}) from the cache, {} µs",
                    shown(params.resource),
                    app.client_id,
                    elapsed.as_micros()
                );
            }
            json(
                StatusCode::OK,
                wire::token_body(&token, params.resource, &app.client_id),
            )
        }
        Err(error) => {
            broker.metrics.token(index, class, Outcome::Error, elapsed);
            let status = wire::error_status(&error);
            log::warn!(
                "certless serve: token for {} (app {}) failed: {error}",
                shown(params.resource),
                app.client_id
            );
            let mut response = error_response(&error, status);
            if let Some(seconds) = error.retry_after() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

/// The token, from the cache when it has one (a hit), else fetched (a miss).
async fn token_for(
    broker: &Broker,
    app: &App,
    index: usize,
    params: &Params<'_>,
) -> Result<(certless::AccessToken, Outcome), Error> {
    let credential = &app.credential;
    let scopes = [params.resource];
    let mut options = TokenRequestOptions {
        claims: params.claims.map(str::to_string),
        tenant_id: params.tenant_id.map(str::to_string),
        force_refresh: false,
    };
    // MSAL's revocation signal for App Service: the SHA-256 of the token a resource refused.
    // Only the token this broker holds is refreshed for it, so a client cannot make the broker
    // fetch anew by sending random hashes.
    if let Some(hash) = params.token_sha256_to_refresh {
        if let Some(cached) = credential.cached_token_with(&scopes, &options)? {
            if sha256_hex(cached.token.expose()).eq_ignore_ascii_case(hash) {
                log::info!(
                    "certless serve: a client reported the token for {} (app {}) as refused; \
                     fetching a new one",
                    shown(params.resource),
                    app.client_id
                );
                options.force_refresh = true;
            }
        }
    }
    if let Some(token) = credential.cached_token_with(&scopes, &options)? {
        return Ok((token, Outcome::Hit));
    }
    let key = (
        index,
        params.tenant_id.unwrap_or_default().to_ascii_lowercase(),
        params.resource.to_string(),
    );
    if params.claims.is_none() {
        let failures = broker.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((until, error)) = failures.get(&key) {
            if Instant::now() < *until {
                return Err(error.clone());
            }
        }
    }
    match credential.get_token_with(&scopes, &options).await {
        Ok(token) => Ok((token, Outcome::Miss)),
        Err(error) => {
            if wire::error_status(&error) >= 500 && !broker.failure_hold.is_zero() {
                let mut failures = broker.failures.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                failures.retain(|_, (until, _)| *until > now);
                failures.insert(key, (now + broker.failure_hold, error.clone()));
            }
            Err(error)
        }
    }
}

/// A token request's query, borrowed from its decoded pairs.
struct Params<'a> {
    resource: &'a str,
    selector: Selector<'a>,
    tenant_id: Option<&'a str>,
    claims: Option<&'a str>,
    token_sha256_to_refresh: Option<&'a str>,
}

/// The query's `name=value` pairs, percent-decoded.
fn decode(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl<'a> Params<'a> {
    fn parse(pairs: &'a [(String, String)]) -> Result<Params<'a>, Error> {
        let bad = |message: String, remedy: &'static str| {
            Error::new(ErrorCode::InvalidArgument, message).with_remedy(remedy)
        };
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match get("api-version") {
            Some(wire::API_VERSION) => {}
            Some(other) => {
                return Err(bad(
                    format!("api-version '{}' is not supported", shown(other)),
                    "Send api-version=2019-08-01 (App Service's managed-identity protocol).",
                ));
            }
            None => {
                return Err(bad(
                    "the api-version query parameter is missing".into(),
                    "Send api-version=2019-08-01 (App Service's managed-identity protocol).",
                ));
            }
        }
        let resource = get("resource")
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                bad(
                    "the resource query parameter is missing".into(),
                    "Send resource=<the API's resource>, e.g. https://graph.microsoft.com.",
                )
            })?;
        let selectors: Vec<Selector<'a>> = [
            get("client_id").map(Selector::ClientId),
            get("principal_id").map(Selector::ObjectId),
            get("object_id").map(Selector::ObjectId),
            get("mi_res_id").map(Selector::ResourceId),
        ]
        .into_iter()
        .flatten()
        .collect();
        let selector = match selectors.as_slice() {
            [] => Selector::None,
            [one] => *one,
            [first, rest @ ..] if rest.iter().all(|s| s == first) => *first,
            _ => {
                return Err(bad(
                    "only one of client_id, principal_id (object_id) and mi_res_id may be sent"
                        .into(),
                    "Name the app once, by its client id.",
                ));
            }
        };
        Ok(Params {
            resource,
            selector,
            tenant_id: get("tenant_id").filter(|t| !t.is_empty()),
            claims: get("claims").filter(|c| !c.is_empty()),
            token_sha256_to_refresh: get("token_sha256_to_refresh"),
        })
    }
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
        report.push(serde_json::json!({"app": app.client_id, "checks": checks}));
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

fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // Tokens must not be kept by anything between the broker and its client.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn error_response(error: &Error, status: u16) -> Response<Body> {
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        wire::error_body(error, status),
    )
}

/// An error answer for a request the broker refuses before any token logic.
fn problem(status: StatusCode, message: String, remedy: &'static str) -> Response<Body> {
    let code = if status == StatusCode::FORBIDDEN {
        ErrorCode::ManagedIdentityRejected
    } else {
        ErrorCode::InvalidArgument
    };
    error_response(
        &Error::new(code, message).with_remedy(remedy),
        status.as_u16(),
    )
}

/// Text from a request as a log line or message shows it: at most 200 characters, control
/// characters escaped.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8765"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8765"), "[::1]");
        assert_eq!(host_name("localhost"), "localhost");
        assert!(wire::is_loopback_host(host_name("[::1]:1")));
        assert!(!wire::is_loopback_host(host_name("evil.example:8765")));
    }

    #[test]
    fn queries_name_one_resource_and_at_most_one_app() {
        let parse = |q: &str| {
            Params::parse(&decode(q)).map(|p| (p.resource.to_string(), format!("{:?}", p.selector)))
        };
        let (resource, selector) =
            parse("api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&client_id=abc")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resource, "https://vault.azure.net");
        assert_eq!(selector, "ClientId(\"abc\")");
        assert!(parse("resource=x").is_err());
        assert!(parse("api-version=2017-09-01&resource=x").is_err());
        assert!(parse("api-version=2019-08-01").is_err());
        assert!(parse("api-version=2019-08-01&resource=x&client_id=a&mi_res_id=b").is_err());
    }
}
