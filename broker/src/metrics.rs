//! `/metrics` in the Prometheus text exposition format (version 0.0.4). The request path only
//! adds to atomics; the text is made when it is scraped, from these counters and from each
//! credential's own (upstream requests, cache entries, expiries).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::apps::Apps;

/// Resources by kind, so that the request counters' labels stay few whatever clients ask for.
pub(crate) const SCOPE_CLASSES: [&str; 10] = [
    "graph",
    "sharepoint",
    "arm",
    "keyvault",
    "storage",
    "sql",
    "servicebus",
    "cognitiveservices",
    "devops",
    "other",
];

/// The class of a resource (`https://contoso.sharepoint.com` → `sharepoint`).
pub(crate) fn scope_class(resource: &str) -> usize {
    let host = resource
        .split_once("://")
        .map_or(resource, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let class = match host.as_str() {
        "graph.microsoft.com" | "graph.microsoft.us" | "microsoftgraph.chinacloudapi.cn" => "graph",
        h if h.ends_with(".sharepoint.com") || h.ends_with(".sharepoint.us") => "sharepoint",
        "management.azure.com" | "management.core.windows.net" | "management.usgovcloudapi.net" => {
            "arm"
        }
        h if h == "vault.azure.net" || h.ends_with(".vault.azure.net") => "keyvault",
        h if h == "storage.azure.com" || h.ends_with(".core.windows.net") => "storage",
        "database.windows.net" => "sql",
        "servicebus.azure.net" | "eventhubs.azure.net" => "servicebus",
        "cognitiveservices.azure.com" => "cognitiveservices",
        _ if resource.starts_with("499b84ac-1321-427f-aa17-267ca6975798") => "devops",
        _ => "other",
    };
    SCOPE_CLASSES.iter().position(|c| *c == class).unwrap_or(9)
}

/// How a token request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Hit = 0,
    Miss = 1,
    Error = 2,
}

const OUTCOMES: [&str; 3] = ["hit", "miss", "error"];

/// Latency buckets (seconds): a hit is tens of microseconds, a miss up to the request deadline.
const BUCKETS: [f64; 20] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// Why a request was turned away before reaching an endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    SecretMissing = 0,
    SecretWrong = 1,
    HostNotLoopback = 2,
    Origin = 3,
    TooLarge = 4,
}

const REFUSALS: [&str; 5] = [
    "secret_missing",
    "secret_wrong",
    "host_not_loopback",
    "origin_header",
    "too_large",
];

pub(crate) struct Metrics {
    started_unix: i64,
    apps: usize,
    /// (app, scope class, outcome) → token requests.
    tokens: Vec<AtomicU64>,
    latency: [Histogram; 3],
    /// (endpoint, status) → HTTP responses.
    responses: Mutex<BTreeMap<(&'static str, u16), u64>>,
    refusals: [AtomicU64; REFUSALS.len()],
    pub(crate) connections_open: AtomicI64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    /// Per app: refreshes started by the keep-warm loop.
    background_refreshes: Vec<AtomicU64>,
}

impl Metrics {
    pub(crate) fn new(apps: usize) -> Self {
        Metrics {
            started_unix: now_unix(),
            apps,
            tokens: (0..apps * SCOPE_CLASSES.len() * OUTCOMES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: [Histogram::new(), Histogram::new(), Histogram::new()],
            responses: Mutex::new(BTreeMap::new()),
            refusals: std::array::from_fn(|_| AtomicU64::new(0)),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            background_refreshes: (0..apps).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn token(&self, app: usize, class: usize, outcome: Outcome, elapsed: Duration) {
        let i = (app * SCOPE_CLASSES.len() + class) * OUTCOMES.len() + outcome as usize;
        if let Some(c) = self.tokens.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.latency[outcome as usize].observe(elapsed);
    }

    pub(crate) fn response(&self, endpoint: &'static str, status: u16) {
        let mut map = self.responses.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((endpoint, status)).or_default() += 1;
    }

    pub(crate) fn refused(&self, why: Refusal) {
        self.refusals[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn background_refreshes(&self, app: usize, started: usize) {
        if let Some(c) = self.background_refreshes.get(app) {
            c.fetch_add(started as u64, Ordering::Relaxed);
        }
    }

    /// The whole exposition.
    pub(crate) fn render(&self, apps: &Apps) -> String {
        self.render_at(apps, now_unix())
    }

    /// The exposition as at `now` (Unix seconds).
    fn render_at(&self, apps: &Apps, now: i64) -> String {
        let mut out = String::with_capacity(8192);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let app_ids: Vec<&str> = apps.all().iter().map(|a| a.client_id.as_str()).collect();

        header(
            &mut out,
            "certless_build_info",
            "gauge",
            "certless version.",
        );
        let _ = writeln!(
            out,
            "certless_build_info{{version=\"{}\"}} 1",
            certless::VERSION
        );
        header(
            &mut out,
            "certless_broker_start_time_seconds",
            "gauge",
            "When the broker started, Unix seconds.",
        );
        let _ = writeln!(
            out,
            "certless_broker_start_time_seconds {}",
            self.started_unix
        );

        header(
            &mut out,
            "certless_broker_token_requests_total",
            "counter",
            "Token requests by app, scope class and outcome (hit: from the cache; miss: fetched; error).",
        );
        for (a, app) in app_ids.iter().enumerate().take(self.apps) {
            for (c, class) in SCOPE_CLASSES.iter().enumerate() {
                for (o, outcome) in OUTCOMES.iter().enumerate() {
                    let i = (a * SCOPE_CLASSES.len() + c) * OUTCOMES.len() + o;
                    let _ = writeln!(
                        out,
                        "certless_broker_token_requests_total{{app=\"{app}\",scope_class=\"{class}\",outcome=\"{outcome}\"}} {}",
                        load(&self.tokens[i])
                    );
                }
            }
        }

        header(
            &mut out,
            "certless_broker_token_request_duration_seconds",
            "histogram",
            "Time to answer a token request, by outcome.",
        );
        for (o, outcome) in OUTCOMES.iter().enumerate() {
            let h = &self.latency[o];
            let mut cumulative = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cumulative += load(&h.buckets[b]);
                let _ = writeln!(
                    out,
                    "certless_broker_token_request_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let count = load(&h.count);
            let _ = writeln!(
                out,
                "certless_broker_token_request_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "certless_broker_token_request_duration_seconds_sum{{outcome=\"{outcome}\"}} {}",
                load(&h.sum_nanos) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "certless_broker_token_request_duration_seconds_count{{outcome=\"{outcome}\"}} {count}"
            );
        }

        header(
            &mut out,
            "certless_broker_http_responses_total",
            "counter",
            "HTTP responses by endpoint and status.",
        );
        let responses = self
            .responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((endpoint, status), n) in responses {
            let _ = writeln!(
                out,
                "certless_broker_http_responses_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }

        header(
            &mut out,
            "certless_broker_refused_requests_total",
            "counter",
            "Requests turned away before reaching an endpoint, by reason.",
        );
        for (i, reason) in REFUSALS.iter().enumerate() {
            let _ = writeln!(
                out,
                "certless_broker_refused_requests_total{{reason=\"{reason}\"}} {}",
                load(&self.refusals[i])
            );
        }

        header(
            &mut out,
            "certless_broker_connections_open",
            "gauge",
            "Client connections open now.",
        );
        let _ = writeln!(
            out,
            "certless_broker_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "certless_broker_connections_total",
            "counter",
            "Client connections accepted.",
        );
        let _ = writeln!(
            out,
            "certless_broker_connections_total {}",
            load(&self.connections_total)
        );
        header(
            &mut out,
            "certless_broker_connections_refused_total",
            "counter",
            "Connections closed at once because --max-connections were open.",
        );
        let _ = writeln!(
            out,
            "certless_broker_connections_refused_total {}",
            load(&self.connections_refused)
        );

        header(
            &mut out,
            "certless_upstream_requests_total",
            "counter",
            "Requests to the managed-identity endpoint and to Entra, by app, leg and outcome.",
        );
        for app in apps.all() {
            let stats = app.credential.upstream_stats();
            for (leg, counts) in [
                ("managed_identity", stats.managed_identity),
                ("exchange", stats.exchange),
            ] {
                for (outcome, n) in counts.by_outcome() {
                    let _ = writeln!(
                        out,
                        "certless_upstream_requests_total{{app=\"{}\",leg=\"{leg}\",outcome=\"{outcome}\"}} {n}",
                        app.client_id
                    );
                }
            }
        }

        header(
            &mut out,
            "certless_broker_background_refreshes_total",
            "counter",
            "Token refreshes the broker started on its own, before they were due to a client.",
        );
        for (a, app) in app_ids.iter().enumerate() {
            let _ = writeln!(
                out,
                "certless_broker_background_refreshes_total{{app=\"{app}\"}} {}",
                self.background_refreshes.get(a).map_or(0, load)
            );
        }

        header(
            &mut out,
            "certless_cache_entries",
            "gauge",
            "(tenant, scope) entries in each app's token cache.",
        );
        let entries: Vec<_> = apps
            .all()
            .iter()
            .map(|a| (a, a.credential.cache_entries()))
            .collect();
        for (app, list) in &entries {
            let _ = writeln!(
                out,
                "certless_cache_entries{{app=\"{}\"}} {}",
                app.client_id,
                list.len()
            );
        }
        header(
            &mut out,
            "certless_token_expiry_seconds",
            "gauge",
            "Seconds until each cached token expires (negative: expired).",
        );
        for (app, list) in &entries {
            for entry in list {
                if let Some(expires_on) = entry.expires_on {
                    let _ = writeln!(
                        out,
                        "certless_token_expiry_seconds{{app=\"{}\",tenant=\"{}\",scope=\"{}\"}} {}",
                        app.client_id,
                        escape(&entry.tenant),
                        escape(&entry.scope),
                        expires_on - now
                    );
                }
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the exposition format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_fall_into_few_classes() {
        let class = |r| SCOPE_CLASSES[scope_class(r)];
        assert_eq!(class("https://graph.microsoft.com"), "graph");
        assert_eq!(class("https://contoso.sharepoint.com"), "sharepoint");
        assert_eq!(class("https://management.azure.com/"), "arm");
        assert_eq!(class("https://vault.azure.net"), "keyvault");
        assert_eq!(class("https://acct.blob.core.windows.net"), "storage");
        assert_eq!(class("api://11111111-2222-3333-4444-555555555555"), "other");
        assert_eq!(class("weird"), "other");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    /// The exposition's whole text, every family with samples, against a snapshot
    /// (`tests/data/metrics.txt`, written from the text before `render` became table-driven).
    /// The emulator's ids, the version and the token's expiry are replaced by names.
    #[test]
    fn the_exposition_matches_its_snapshot() {
        use certless::env::MapEnv;
        use certless::{CredentialBuilder, Secret};
        use certless_emulator::{Emulator, EmulatorConfig, MiSourceKind, StartOptions};

        let emu = Emulator::start_blocking(
            EmulatorConfig::default(),
            StartOptions {
                http_port: 0,
                https_port: None,
                state_dir: None,
            },
        )
        .expect("the emulator starts");
        let env = MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds));
        let first = CredentialBuilder::from_environment(std::sync::Arc::new(env)).unwrap();
        let second = CredentialBuilder::new()
            .tenant_id(emu.tenant_id())
            .client_id("22222222-2222-2222-2222-222222222222")
            .authority_host(emu.authority_host())
            .client_secret(Secret::new("not used"));
        let apps = Apps::from_builders(vec![
            (first, "the environment".into()),
            (second, "the second".into()),
        ])
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let credential = &apps.all()[0].credential;
        runtime
            .block_on(credential.get_token(&["https://graph.microsoft.com/.default"]))
            .unwrap();
        let expires_on = credential.cache_entries()[0].expires_on.unwrap();

        let mut metrics = Metrics::new(2);
        metrics.started_unix = 1_700_000_000;
        metrics.token(0, 0, Outcome::Miss, Duration::from_millis(300));
        metrics.token(0, 0, Outcome::Hit, Duration::from_micros(30));
        metrics.token(1, 3, Outcome::Error, Duration::from_secs(200));
        metrics.response("token", 200);
        metrics.response("token", 401);
        metrics.response("metrics", 200);
        metrics.refused(Refusal::Origin);
        metrics.refused(Refusal::SecretWrong);
        metrics.connections_open.store(2, Ordering::Relaxed);
        metrics.connections_total.store(5, Ordering::Relaxed);
        metrics.connections_refused.store(1, Ordering::Relaxed);
        metrics.background_refreshes(1, 3);

        let text = metrics
            .render_at(&apps, expires_on - 3000)
            .replace(&emu.tenant_id(), "TENANT")
            .replace(&emu.default_app_client_id(), "APP")
            .replace(certless::VERSION, "VERSION");
        let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/metrics.txt");
        if std::env::var_os("CERTLESS_WRITE_SNAPSHOT").is_some() {
            std::fs::write(snapshot, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(snapshot).unwrap());
    }
}
