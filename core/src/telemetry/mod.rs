//! OpenTelemetry: metrics and spans of token requests, exported over OTLP/HTTP when the standard
//! `OTEL_EXPORTER_OTLP_*` settings ask for it (docs/telemetry.md). Off by default; when off,
//! every recording point costs one relaxed atomic load.
//!
//! The metrics MSAL.NET users already chart keep MSAL's names, units and tag keys (meter
//! `MicrosoftIdentityClient_Common_Meter`); what MSAL does not show is under `certless.*`.
//!
//! `settings` reads the environment, `metrics` holds the instruments, `trace` the spans and the
//! scope a fetch runs in, `otlp` writes the protobuf, `export` sends it.

mod export;
mod metrics;
mod otlp;
mod settings;
mod trace;

use std::future::Future;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Leg, Result};
use crate::token::AccessToken;
use export::Telemetry;
pub(crate) use metrics::ObservedCache;
use metrics::{API_ID, Instrument};
use otlp::{Attribute, Value};
use settings::Settings;
pub use trace::TraceContext;
use trace::{Kind, Scope, Span};

static METRICS_ON: AtomicBool = AtomicBool::new(false);
static TRACING_ON: AtomicBool = AtomicBool::new(false);
/// Set in a child right after `fork()`: its first recording starts its own export (a pre-fork
/// server's workers inherit credentials and cached tokens, and may never build a credential).
static FORKED: AtomicBool = AtomicBool::new(false);
static STATE: OnceLock<Option<Telemetry>> = OnceLock::new();

/// The name of the host that loaded certless, reported as the `Platform` tag of the MSAL-named
/// metrics and as the `certless.host` resource attribute: `rust` unless a binding says
/// otherwise (`python`, `node`, `dotnet`, `c`, `broker`).
pub fn set_host(host: &'static str) {
    export::set_host(host);
}

/// Exports everything recorded so far and waits at most `timeout` for the collector to take
/// it. Returns `true` when everything was sent, there was nothing to send, or telemetry is off;
/// `false` when the collector did not take it in time (the log says why). Hosts call it before
/// they exit; certless's bindings do so themselves.
pub fn flush(timeout: Duration) -> bool {
    let Some(t) = state() else {
        return true;
    };
    FORKED.store(false, Ordering::Relaxed);
    t.exporter.ensure_running(t);
    let flushed = crate::support::runtime::block_on(async move {
        tokio::time::timeout(timeout, export::flush(t))
            .await
            .unwrap_or(false)
    });
    flushed.unwrap_or(false)
}

/// Whether OTLP export is on in this process, and where it goes: for the doctor and logs.
pub fn status() -> Option<String> {
    let t = state()?;
    let mut parts = Vec::new();
    if let Some(m) = &t.settings.metrics {
        parts.push(format!("metrics to {}", m.url));
    }
    if let Some(s) = &t.settings.traces {
        parts.push(format!("spans to {}", s.url));
    }
    let mut text = format!("OpenTelemetry: {}", parts.join(", "));
    if let Some(error) = t.exporter.last_error() {
        text.push_str(&format!("; the last export failed: {error}"));
    }
    Some(text)
}

/// Reads the settings, once per process: at the first credential built.
pub(crate) fn init() {
    let state = STATE.get_or_init(|| {
        let settings = Settings::from_env();
        for warning in &settings.warnings {
            log::warn!("certless: {warning}");
        }
        if !settings.enabled() {
            return None;
        }
        let telemetry = Telemetry::new(settings);
        METRICS_ON.store(telemetry.settings.metrics.is_some(), Ordering::Relaxed);
        TRACING_ON.store(telemetry.settings.traces.is_some(), Ordering::Relaxed);
        Some(telemetry)
    });
    if let Some(t) = state {
        if let Some(text) = status() {
            log::info!("certless: {text}");
        }
        watch_forks();
        t.exporter.ensure_running(t);
    }
}

/// Marks a forked child, once registered: the handler only stores to an atomic, which is all a
/// child of a multi-threaded process may do before it execs or gets going.
#[cfg(unix)]
fn watch_forks() {
    extern "C" fn in_child() {
        FORKED.store(true, Ordering::Relaxed);
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `in_child` is a plain function that lives as long as the process and only stores
    // to a static atomic; no prepare or parent handler is registered.
    ONCE.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
    });
}

#[cfg(not(unix))]
fn watch_forks() {}

/// In a forked child, starts its own export (and its own counts) before it records anything.
#[inline]
fn after_fork(t: &'static Telemetry) {
    if FORKED.load(Ordering::Relaxed) && FORKED.swap(false, Ordering::Relaxed) {
        t.exporter.ensure_running(t);
    }
}

fn state() -> Option<&'static Telemetry> {
    STATE.get()?.as_ref()
}

#[inline(always)]
fn metrics_on() -> bool {
    METRICS_ON.load(Ordering::Relaxed)
}

#[inline]
fn tracing_on() -> bool {
    TRACING_ON.load(Ordering::Relaxed)
}

fn record(instrument: Instrument, value: u64, attributes: Vec<Attribute>) {
    if let Some(t) = state() {
        t.registry.series(instrument, attributes).record(value);
    }
}

// ---- Token requests -------------------------------------------------------------------------

/// The start of a request, when metrics are on.
#[inline(always)]
pub(crate) fn request_started() -> Option<Instant> {
    if metrics_on() {
        Some(Instant::now())
    } else {
        None
    }
}

/// A request answered from the process's cache (`started` is `None` when metrics are off).
#[inline(always)]
pub(crate) fn record_cache_hit(started: Option<Instant>) {
    if let Some(started) = started {
        record_hit(started);
    }
}

fn record_hit(started: Instant) {
    let Some(t) = state() else {
        return;
    };
    after_fork(t);
    let micros = started.elapsed().as_micros() as u64;
    t.registry.hit.success.record(1);
    t.registry.hit.l1.record(micros);
    t.registry.hit.total.record(micros / 1000);
}

/// Why a request went past the process's cache: MSAL's `CacheRefreshReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefreshReason {
    NoCachedAccessToken,
    Expired,
    ForceRefreshOrClaims,
    ProactivelyRefreshed,
}

impl RefreshReason {
    fn as_str(self) -> &'static str {
        match self {
            RefreshReason::NoCachedAccessToken => "NoCachedAccessToken",
            RefreshReason::Expired => "Expired",
            RefreshReason::ForceRefreshOrClaims => "ForceRefreshOrClaims",
            RefreshReason::ProactivelyRefreshed => "ProactivelyRefreshed",
        }
    }
}

/// A request that went past the process's cache ended; `from_shared_cache` says whether its
/// token was another machine's (the farm's cache) rather than fetched upstream.
pub(crate) fn record_request(
    started: Option<Instant>,
    result: &Result<AccessToken>,
    reason: RefreshReason,
    from_shared_cache: bool,
) {
    let Some(started) = started else {
        return;
    };
    record_outcome(result, reason, from_shared_cache, Some(started));
}

fn record_outcome(
    result: &Result<AccessToken>,
    reason: RefreshReason,
    from_shared_cache: bool,
    started: Option<Instant>,
) {
    let proactive = reason == RefreshReason::ProactivelyRefreshed;
    match result {
        Ok(_) => {
            let (source, level) = if from_shared_cache {
                ("Cache", "L2Cache")
            } else {
                ("IdentityProvider", "None")
            };
            let tags = || -> Vec<Attribute> {
                vec![
                    ("ApiId", API_ID.into()),
                    ("TokenSource", source.into()),
                    ("CacheLevel", level.into()),
                ]
            };
            let mut success = tags();
            success.push(("CacheRefreshReason", reason.as_str().into()));
            record(Instrument::Success, 1, success);
            if let Some(started) = started {
                record(
                    Instrument::TotalDuration,
                    started.elapsed().as_millis() as u64,
                    tags(),
                );
            }
        }
        Err(error) => record(
            Instrument::Failure,
            1,
            vec![
                ("ApiId", API_ID.into()),
                ("ErrorCode", format!("{:?}", error.code()).into()),
                ("IsProactiveRefresh", proactive.into()),
            ],
        ),
    }
}

/// Callers that waited for a fetch already under way (`flight`: `token`, `assertion`, ...).
pub(crate) fn record_coalesced(flight: &'static str) {
    if metrics_on() {
        record(
            Instrument::Coalesced,
            1,
            vec![("certless.flight", flight.into())],
        );
    }
}

/// A refresh replaced a token that had `seconds_left` of its lifetime.
pub(crate) fn record_refresh_lead(seconds_left: i64) {
    if metrics_on() {
        record(
            Instrument::RefreshLead,
            seconds_left.max(0) as u64,
            Vec::new(),
        );
    }
}

/// A managed-identity token is presented to Entra as the assertion: its age by its `iat`.
pub(crate) fn record_assertion_age(token: &crate::support::secret::Secret, now: i64) {
    if !metrics_on() {
        return;
    }
    if let Some(iat) = crate::token::jwt::decode_claims(token.expose())
        .ok()
        .and_then(|c| c.iat)
    {
        record(
            Instrument::AssertionAge,
            (now - iat).max(0) as u64,
            Vec::new(),
        );
    }
}

/// Which upstream a request went to.
#[derive(Clone, Copy)]
pub(crate) enum Upstream {
    /// The managed-identity endpoint, with its source (`imds`, `app_service`, ...).
    ManagedIdentity(&'static str),
    Entra,
}

/// One attempt at an upstream ended.
pub(crate) fn record_upstream<T>(upstream: Upstream, result: &Result<T>) {
    if !metrics_on() {
        return;
    }
    use crate::error::ErrorCode::*;
    let (outcome, status) = match result {
        Ok(_) => ("ok", Some(200)),
        Err(e) => {
            let outcome = match e.code() {
                _ if e.http_status() == Some(429) => "throttled",
                ManagedIdentityUnreachable | ExchangeUnreachable => "unreachable",
                ManagedIdentityTimeout | ExchangeTimeout => "timeout",
                ManagedIdentityInvalidResponse | ExchangeInvalidResponse => "invalid_response",
                _ => "rejected",
            };
            (outcome, e.http_status())
        }
    };
    let mut tags: Vec<Attribute> = Vec::with_capacity(4);
    let instrument = match upstream {
        Upstream::ManagedIdentity(source) => {
            tags.push(("certless.managed_identity.source", source.into()));
            Instrument::ManagedIdentityRequests
        }
        Upstream::Entra => Instrument::EntraRequests,
    };
    tags.push(("outcome", outcome.into()));
    if let Some(status) = status {
        tags.push(("http.response.status_code", i64::from(status).into()));
    }
    if let (Upstream::Entra, Err(e)) = (upstream, result) {
        if let Some(code) = e.aadsts_codes().first() {
            tags.push(("certless.aadsts", format!("AADSTS{code}").into()));
        }
    }
    record(instrument, 1, tags);
}

/// Where certless's shared-cache gauges and counters read from: `observe` answers `None` once
/// the credential is gone.
pub(crate) fn observe_shared_cache(
    observe: impl Fn() -> Option<ObservedCache> + Send + Sync + 'static,
) {
    if let Some(t) = state().filter(|t| t.settings.metrics.is_some()) {
        t.registry.observe(Box::new(observe));
    }
}

/// Whether the fetch the current task works for took its token from the shared cache.
pub(crate) fn in_shared_cache_fetch() -> bool {
    trace::current().is_some_and(|s| s.from_shared_cache.load(Ordering::Relaxed))
}

/// The token was read from the shared cache: time spent there (MSAL's L2 duration) and the
/// fetch's provenance.
pub(crate) fn served_by_shared_cache(started: Instant) {
    if let Some(scope) = trace::current() {
        scope.from_shared_cache.store(true, Ordering::Relaxed);
    }
    if metrics_on() {
        record(
            Instrument::L2Duration,
            started.elapsed().as_millis() as u64,
            vec![("ApiId", API_ID.into())],
        );
    }
}

// ---- Spans --------------------------------------------------------------------------------

/// Whether a new span is recorded, by the sampler (`parent`: the span it is under).
fn sampled(t: &Telemetry, parent: Option<&TraceContext>, trace_id: &[u8; 16]) -> bool {
    use settings::Sampler;
    if let Some(parent) = parent {
        if !t.settings.ignore_parent {
            return parent.sampled();
        }
    }
    match t.settings.root_sampler {
        Sampler::AlwaysOn => true,
        Sampler::AlwaysOff => false,
        Sampler::Ratio(ratio) => {
            // The trace id's last 8 bytes, as the specification's TraceIdRatioBased does.
            let low = u64::from_be_bytes(trace_id[8..].try_into().unwrap_or([0; 8]));
            (low >> 1) < (ratio * (u64::MAX >> 1) as f64) as u64
        }
    }
}

fn start_span(
    t: &Telemetry,
    name: &'static str,
    kind: Kind,
    parent: Option<TraceContext>,
    remote: bool,
) -> Span {
    Span::new(name, kind, parent, remote, |trace_id| {
        sampled(t, parent.as_ref(), trace_id)
    })
}

fn finish_span(t: &Telemetry, span: Span) {
    if let Some(ended) = span.end() {
        t.push_span(ended);
    }
}

/// Runs a caller's request under its `traceparent` (checked: a malformed one is the caller's
/// mistake, said as such).
pub(crate) fn parse_traceparent(value: Option<&str>) -> Result<Option<TraceContext>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => TraceContext::parse(v).map(Some).ok_or_else(|| {
            Error::new(
                crate::error::ErrorCode::InvalidArgument,
                format!("the traceparent {v:?} is not a W3C trace context"),
            )
            .with_leg(Leg::Config)
            .with_remedy(
                "Pass the traceparent header of the caller's span \
                 (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>), or none.",
            )
        }),
    }
}

/// Runs `future` as a child of the caller's span `parent`, when spans are on. Plain functions
/// returning tokio's scope future, not `async fn`s: an `async fn` wrapper lays its argument out
/// beside its own state, and the request's future is kilobytes.
pub(crate) fn with_parent<F: Future>(
    parent: Option<TraceContext>,
    future: F,
) -> impl Future<Output = F::Output> {
    let scope = match parent {
        Some(parent) if tracing_on() => Some(Scope::new(Some(parent), true)),
        _ => trace::current(),
    };
    trace::SCOPE.scope(scope, future)
}

/// Runs `future` in the scope of the task that calls this, so that a task spawned to run it
/// (the single-flight's) keeps its parent span.
pub(crate) fn carry<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let scope = if tracing_on() || metrics_on() {
        trace::current()
    } else {
        None
    };
    trace::SCOPE.scope(scope, future)
}

/// A fetch from upstream (or the farm's cache): its span and the scope its work runs in.
pub(crate) struct FetchTrace {
    scope: Arc<Scope>,
    span: Option<Span>,
}

impl FetchTrace {
    /// `None` when telemetry is off. A background refresh starts a trace of its own; any other
    /// fetch is a child of the caller's span, when there is one.
    pub(crate) fn start(background: bool) -> Option<FetchTrace> {
        if !metrics_on() && !tracing_on() {
            return None;
        }
        let t = state()?;
        after_fork(t);
        let parent = (!background)
            .then(trace::current)
            .flatten()
            .and_then(|s| s.context.map(|c| (c, s.remote)));
        let span = tracing_on().then(|| {
            let (context, remote) = parent.map_or((None, false), |(c, r)| (Some(c), r));
            start_span(t, "certless.acquire_token", Kind::Internal, context, remote)
        });
        Some(FetchTrace {
            scope: Scope::new(span.as_ref().map(|s| s.context), false),
            span,
        })
    }

    /// Runs the fetch's work in its scope.
    pub(crate) fn run<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        trace::SCOPE.scope(Some(Arc::clone(&self.scope)), future)
    }

    /// Whether the token came from the farm's cache.
    pub(crate) fn served_by_shared_cache(&self) -> bool {
        self.scope.from_shared_cache.load(Ordering::Relaxed)
    }

    /// Ends the fetch: its span, and for a background refresh (which no caller records) its
    /// outcome.
    pub(crate) fn finish(self, result: &Result<AccessToken>, reason: RefreshReason) {
        let Some(t) = state() else {
            return;
        };
        let from_shared_cache = self.served_by_shared_cache();
        if result.is_ok() && !from_shared_cache && metrics_on() {
            let http_ms = self.scope.http_us.load(Ordering::Relaxed) / 1000;
            record(
                Instrument::HttpDuration,
                http_ms,
                vec![("ApiId", API_ID.into())],
            );
        }
        if reason == RefreshReason::ProactivelyRefreshed && metrics_on() {
            record_outcome(result, reason, from_shared_cache, None);
        }
        let Some(mut span) = self.span else {
            return;
        };
        let annotated = std::mem::take(
            &mut *self
                .scope
                .attributes
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (key, value) in annotated {
            span.set(key, value);
        }
        span.set("certless.cache_refresh_reason", reason.as_str());
        match result {
            Ok(token) => {
                span.set("certless.credential_source", token.source.as_str());
                span.set(
                    "certless.token_source",
                    if from_shared_cache {
                        "shared_cache"
                    } else {
                        "identity_provider"
                    },
                );
            }
            Err(error) => {
                let code = format!("{:?}", error.code());
                span.set("error.type", code.clone());
                span.set("certless.leg", error.leg().as_str());
                if let Some(aadsts) = error.aadsts_codes().first() {
                    span.set("certless.aadsts", format!("AADSTS{aadsts}"));
                }
                span.fail(code);
            }
        }
        finish_span(t, span);
    }
}

/// Tags the fetch the current task works for (the managed-identity source it asked, ...).
pub(crate) fn annotate(key: &'static str, value: &'static str) {
    if tracing_on() {
        if let Some(scope) = trace::current() {
            scope
                .attributes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((key, Value::from(value)));
        }
    }
}

/// One HTTP request under way: its span (a child of the fetch's) and its clock.
pub(crate) struct HttpTrace {
    started: Instant,
    scope: Arc<Scope>,
    span: Option<Span>,
}

/// An HTTP request of `leg` is about to be sent: when it works for a traced fetch, it gets a
/// span and carries `traceparent` naming it.
pub(crate) fn http_started(leg: Leg, request: &mut reqwest::Request) -> Option<HttpTrace> {
    if !metrics_on() && !tracing_on() {
        return None;
    }
    let scope = trace::current()?;
    let span = match (state(), scope.context) {
        (Some(t), Some(parent)) if tracing_on() => {
            let name = match leg {
                Leg::ManagedIdentity => "certless.managed_identity",
                Leg::Exchange => "certless.entra",
                Leg::KeyVault => "certless.key_vault",
                _ => "certless.http",
            };
            let mut span = start_span(t, name, Kind::Client, Some(parent), false);
            let url = request.url();
            span.set("http.request.method", request.method().as_str().to_string());
            if let Some(host) = url.host_str() {
                span.set("server.address", host.to_string());
            }
            if let Some(port) = url.port_or_known_default() {
                span.set("server.port", i64::from(port));
            }
            span.set("url.scheme", url.scheme().to_string());
            if let Ok(value) = reqwest::header::HeaderValue::from_str(&span.context.header()) {
                request.headers_mut().insert("traceparent", value);
            }
            Some(span)
        }
        _ => None,
    };
    Some(HttpTrace {
        started: Instant::now(),
        scope,
        span,
    })
}

/// The request ended: with an answer (`status`, and for an Entra error its body, for the
/// AADSTS code), or with `error`.
pub(crate) fn http_ended(
    trace: Option<HttpTrace>,
    answer: std::result::Result<(u16, &[u8]), &Error>,
) {
    let Some(trace) = trace else {
        return;
    };
    trace
        .scope
        .add_http(trace.started.elapsed().as_micros() as u64);
    let (Some(mut span), Some(t)) = (trace.span, state()) else {
        return;
    };
    match answer {
        Ok((status, body)) => {
            span.set("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.set("error.type", status.to_string());
                if let Some(code) = aadsts_of(body) {
                    span.set("certless.aadsts", code);
                }
                span.fail(format!("HTTP {status}"));
            }
        }
        Err(error) => {
            let code = format!("{:?}", error.code());
            span.set("error.type", code.clone());
            span.fail(code);
        }
    }
    finish_span(t, span);
}

/// The first AADSTS code of an Entra error body (`"error_codes": [700213]`).
fn aadsts_of(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = json.get("error_codes")?.get(0)?.as_u64()?;
    Some(format!("AADSTS{code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_traceparent_is_the_callers_mistake() {
        let e = parse_traceparent(Some("00-zz")).expect_err("refused");
        assert_eq!(e.code(), crate::error::ErrorCode::InvalidArgument);
        assert!(e.to_string().contains("W3C"), "{e}");
        assert!(parse_traceparent(Some(" ")).expect("empty").is_none());
        assert!(parse_traceparent(None).expect("none").is_none());
    }

    #[test]
    fn entra_error_bodies_give_their_aadsts_code() {
        let body = br#"{"error":"invalid_client","error_codes":[700213],"trace_id":"t"}"#;
        assert_eq!(aadsts_of(body).as_deref(), Some("AADSTS700213"));
        assert_eq!(aadsts_of(b"<html>"), None);
    }
}
