//! `/metrics` in the Prometheus text exposition format (version 0.0.4). The request path only
//! adds to atomics; the text is made when it is scraped, from these counters and from each
//! credential's own (upstream requests, cache entries, expiries).

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use certless::CacheEntry;

use crate::apps::{App, Apps};
use crate::lock;

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

    /// The exposition as at `now` (Unix seconds): each family of [`FAMILIES`], in order, its
    /// `# HELP` and `# TYPE` lines, then its samples.
    fn render_at(&self, apps: &Apps, now: i64) -> String {
        let scrape = Scrape {
            metrics: self,
            apps,
            now,
            entries: apps
                .all()
                .iter()
                .map(|a| (a, a.credential.cache_entries()))
                .collect(),
        };
        let mut out = String::with_capacity(8192);
        for family in FAMILIES {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            let mut samples = Samples {
                out: &mut out,
                name: family.name,
            };
            (family.samples)(&scrape, &mut samples);
        }
        out
    }
}

/// One metric family: its name, type and help, and what writes its samples.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: fn(&Scrape<'_>, &mut Samples<'_>),
}

/// What a scrape reads: the broker's counters, each app's credential, and the time.
struct Scrape<'a> {
    metrics: &'a Metrics,
    apps: &'a Apps,
    now: i64,
    /// Each app's cache entries, read once for the families that show them.
    entries: Vec<(&'a App, Vec<CacheEntry>)>,
}

/// Writes one family's sample lines: `name[suffix]{label="value",...} value`.
struct Samples<'o> {
    out: &'o mut String,
    name: &'static str,
}

type Labels<'l> = [(&'l str, &'l dyn fmt::Display)];

impl Samples<'_> {
    fn sample(&mut self, labels: &Labels<'_>, value: impl fmt::Display) {
        self.series("", labels, value);
    }

    /// A sample of the series `name` + `suffix` (a histogram's `_bucket`, `_sum`, `_count`).
    fn series(&mut self, suffix: &str, labels: &Labels<'_>, value: impl fmt::Display) {
        let _ = write!(self.out, "{}{suffix}", self.name);
        for (i, (label, text)) in labels.iter().enumerate() {
            let open = if i == 0 { '{' } else { ',' };
            let _ = write!(self.out, "{open}{label}=\"{text}\"");
        }
        if !labels.is_empty() {
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The exposition, family by family.
const FAMILIES: &[Family] = &[
    Family {
        name: "certless_build_info",
        kind: "gauge",
        help: "certless version.",
        samples: |_, w| w.sample(&[("version", &certless::VERSION)], 1),
    },
    Family {
        name: "certless_broker_start_time_seconds",
        kind: "gauge",
        help: "When the broker started, Unix seconds.",
        samples: |s, w| w.sample(&[], s.metrics.started_unix),
    },
    Family {
        name: "certless_broker_token_requests_total",
        kind: "counter",
        help: "Token requests by app, scope class and outcome (hit: from the cache; miss: \
               fetched; error).",
        samples: token_requests,
    },
    Family {
        name: "certless_broker_token_request_duration_seconds",
        kind: "histogram",
        help: "Time to answer a token request, by outcome.",
        samples: token_request_durations,
    },
    Family {
        name: "certless_broker_http_responses_total",
        kind: "counter",
        help: "HTTP responses by endpoint and status.",
        samples: |s, w| {
            let responses = lock(&s.metrics.responses).clone();
            for ((endpoint, status), n) in responses {
                w.sample(&[("endpoint", &endpoint), ("status", &status)], n);
            }
        },
    },
    Family {
        name: "certless_broker_refused_requests_total",
        kind: "counter",
        help: "Requests turned away before reaching an endpoint, by reason.",
        samples: |s, w| {
            for (reason, count) in REFUSALS.iter().zip(&s.metrics.refusals) {
                w.sample(&[("reason", reason)], load(count));
            }
        },
    },
    Family {
        name: "certless_broker_connections_open",
        kind: "gauge",
        help: "Client connections open now.",
        samples: |s, w| w.sample(&[], s.metrics.connections_open.load(Ordering::Relaxed)),
    },
    Family {
        name: "certless_broker_connections_total",
        kind: "counter",
        help: "Client connections accepted.",
        samples: |s, w| w.sample(&[], load(&s.metrics.connections_total)),
    },
    Family {
        name: "certless_broker_connections_refused_total",
        kind: "counter",
        help: "Connections closed at once because --max-connections were open.",
        samples: |s, w| w.sample(&[], load(&s.metrics.connections_refused)),
    },
    Family {
        name: "certless_upstream_requests_total",
        kind: "counter",
        help: "Requests to the managed-identity endpoint and to Entra, by app, leg and outcome.",
        samples: upstream_requests,
    },
    Family {
        name: "certless_broker_background_refreshes_total",
        kind: "counter",
        help: "Token refreshes the broker started on its own, before they were due to a client.",
        samples: |s, w| {
            for (a, app) in s.apps.all().iter().enumerate() {
                let started = s.metrics.background_refreshes.get(a).map_or(0, load);
                w.sample(&[("app", &app.client_id)], started);
            }
        },
    },
    Family {
        name: "certless_cache_entries",
        kind: "gauge",
        help: "(tenant, scope) entries in each app's token cache.",
        samples: |s, w| {
            for (app, list) in &s.entries {
                w.sample(&[("app", &app.client_id)], list.len());
            }
        },
    },
    Family {
        name: "certless_shared_cache_operations_total",
        kind: "counter",
        help: "What each app's shared cache (Redis) did, by outcome: hit, miss, rejected \
               (an entry that did not open), unknown_key, error, over_budget, skipped (breaker \
               open), write, write_failure, full, lease_won, lease_wait, lease_timeout.",
        samples: |s, w| {
            for app in s.apps.all() {
                let Some(stats) = app.credential.shared_cache_stats() else {
                    continue;
                };
                for (outcome, n) in stats.counters() {
                    w.sample(&[("app", &app.client_id), ("outcome", &outcome)], n);
                }
            }
        },
    },
    Family {
        name: "certless_shared_cache_up",
        kind: "gauge",
        help: "1 while each app's shared cache answers (its circuit breaker closed), else 0.",
        samples: |s, w| {
            for app in s.apps.all() {
                if let Some(stats) = app.credential.shared_cache_stats() {
                    let up = u8::from(stats.state == certless::shared_cache::BreakerState::Closed);
                    w.sample(&[("app", &app.client_id), ("target", &stats.target)], up);
                }
            }
        },
    },
    Family {
        name: "certless_token_expiry_seconds",
        kind: "gauge",
        help: "Seconds until each cached token expires (negative: expired).",
        samples: token_expiries,
    },
];

fn token_requests(s: &Scrape<'_>, w: &mut Samples<'_>) {
    let apps = s.apps.all().iter().enumerate().take(s.metrics.apps);
    for (a, app) in apps {
        for (c, class) in SCOPE_CLASSES.iter().enumerate() {
            for (o, outcome) in OUTCOMES.iter().enumerate() {
                let i = (a * SCOPE_CLASSES.len() + c) * OUTCOMES.len() + o;
                let labels: &Labels<'_> = &[
                    ("app", &app.client_id),
                    ("scope_class", class),
                    ("outcome", outcome),
                ];
                w.sample(labels, load(&s.metrics.tokens[i]));
            }
        }
    }
}

fn token_request_durations(s: &Scrape<'_>, w: &mut Samples<'_>) {
    for (outcome, h) in OUTCOMES.iter().zip(&s.metrics.latency) {
        let mut cumulative = 0;
        for (le, bucket) in BUCKETS.iter().zip(&h.buckets) {
            cumulative += load(bucket);
            w.series("_bucket", &[("outcome", outcome), ("le", le)], cumulative);
        }
        let count = load(&h.count);
        w.series("_bucket", &[("outcome", outcome), ("le", &"+Inf")], count);
        let sum = load(&h.sum_nanos) as f64 / 1e9;
        w.series("_sum", &[("outcome", outcome)], sum);
        w.series("_count", &[("outcome", outcome)], count);
    }
}

fn upstream_requests(s: &Scrape<'_>, w: &mut Samples<'_>) {
    for app in s.apps.all() {
        let stats = app.credential.upstream_stats();
        let legs = [
            ("managed_identity", stats.managed_identity),
            ("exchange", stats.exchange),
        ];
        for (leg, counts) in legs {
            for (outcome, n) in counts.by_outcome() {
                let labels: &Labels<'_> = &[
                    ("app", &app.client_id),
                    ("leg", &leg),
                    ("outcome", &outcome),
                ];
                w.sample(labels, n);
            }
        }
    }
}

fn token_expiries(s: &Scrape<'_>, w: &mut Samples<'_>) {
    for (app, list) in &s.entries {
        for entry in list {
            if let Some(expires_on) = entry.expires_on {
                let labels: &Labels<'_> = &[
                    ("app", &app.client_id),
                    ("tenant", &escape(&entry.tenant)),
                    ("scope", &escape(&entry.scope)),
                ];
                w.sample(labels, expires_on - s.now);
            }
        }
    }
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
    /// The emulator's ids, the version and the token's expiry are replaced by names;
    /// `CERTLESS_WRITE_SNAPSHOT=1` rewrites the snapshot (then review its diff).
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
