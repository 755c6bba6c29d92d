//! The process's telemetry and its way to the collector: a task on the certless runtime posts
//! the spans every `OTEL_BSP_SCHEDULE_DELAY` (sooner when a batch fills up) and the metrics every
//! `OTEL_METRIC_EXPORT_INTERVAL`; [`flush`] sends both now. A forked child starts its own task
//! and its own counts.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::metrics::{ExportContext, Registry};
use super::otlp::Value;
use super::settings::{Endpoint, Settings, Temporality};
use super::trace::{Ended, now_ns};

/// Spans kept for export at most; more are dropped (and counted) while the collector is away.
const MAX_QUEUED_SPANS: usize = 2048;
/// Spans that start an export before the schedule says.
const SPAN_BATCH: usize = 512;

static HOST: Mutex<&'static str> = Mutex::new("rust");

pub(super) fn set_host(host: &'static str) {
    *HOST.lock().unwrap_or_else(|e| e.into_inner()) = host;
}

pub(super) fn host() -> &'static str {
    *HOST.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything telemetry holds in a process where it is on.
pub(super) struct Telemetry {
    pub(super) settings: Settings,
    pub(super) registry: Registry,
    spans: Mutex<VecDeque<Ended>>,
    dropped_spans: AtomicU64,
    pub(super) exporter: Exporter,
    /// When this process (or forked child) started counting, ns since the epoch.
    start_ns: AtomicU64,
}

impl Telemetry {
    pub(super) fn new(settings: Settings) -> Telemetry {
        Telemetry {
            settings,
            registry: Registry::new(),
            spans: Mutex::new(VecDeque::new()),
            dropped_spans: AtomicU64::new(0),
            exporter: Exporter::default(),
            start_ns: AtomicU64::new(now_ns()),
        }
    }

    /// Queues an ended span for export.
    pub(super) fn push_span(&self, ended: Ended) {
        let mut queue = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= MAX_QUEUED_SPANS {
            if self.dropped_spans.fetch_add(1, Ordering::Relaxed) == 0 {
                log::warn!(
                    "certless: {MAX_QUEUED_SPANS} spans wait for the OTLP collector; newer ones \
                     are dropped until it takes them"
                );
            }
            return;
        }
        queue.push_back(ended);
        let full = queue.len() >= SPAN_BATCH;
        drop(queue);
        if full {
            self.exporter.wake();
        }
    }
}

/// The clients of the metrics and traces endpoints, and the process that built them.
type Clients = (u32, Option<reqwest::Client>, Option<reqwest::Client>);

#[derive(Default)]
pub(super) struct Exporter {
    /// The process the export task runs in; 0 before it starts.
    pid: AtomicU32,
    clients: Mutex<Option<Clients>>,
    /// The last failure, until an export succeeds.
    last_error: Mutex<Option<String>>,
    wake: tokio::sync::Notify,
    /// The end of the last metrics window (delta temporality).
    last_export_ns: AtomicU64,
}

#[derive(Clone, Copy)]
enum Signal {
    Metrics,
    Traces,
}

impl Exporter {
    /// Starts the export task in this process, unless it runs already.
    pub(super) fn ensure_running(&self, t: &'static Telemetry) {
        let pid = std::process::id();
        let previous = self.pid.swap(pid, Ordering::SeqCst);
        if previous == pid {
            return;
        }
        if previous != 0 {
            // A forked child: what the parent counted is the parent's to send.
            t.registry.reset();
            t.spans.lock().unwrap_or_else(|e| e.into_inner()).clear();
            t.start_ns.store(now_ns(), Ordering::Relaxed);
        }
        self.last_export_ns.store(now_ns(), Ordering::Relaxed);
        match crate::support::runtime::handle() {
            Ok(runtime) => {
                runtime.spawn(run(t, pid));
            }
            Err(e) => log::warn!("certless: telemetry is not exported: {e}"),
        }
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The signal's client, built once per process (a forked child builds its own).
    fn client_for(&self, t: &Telemetry, signal: Signal) -> Result<reqwest::Client, String> {
        let pid = std::process::id();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let (metrics, traces) = match clients.as_ref() {
            Some((owner, metrics, traces)) if *owner == pid => (metrics.clone(), traces.clone()),
            _ => {
                let build = |endpoint: &Option<Endpoint>| endpoint.as_ref().map(client);
                let metrics = build(&t.settings.metrics).transpose()?;
                let traces = build(&t.settings.traces).transpose()?;
                *clients = Some((pid, metrics.clone(), traces.clone()));
                (metrics, traces)
            }
        };
        match signal {
            Signal::Metrics => metrics,
            Signal::Traces => traces,
        }
        .ok_or_else(|| "the signal has no endpoint".to_string())
    }

    /// Says a failure once (again when it changes), and keeps it for the doctor.
    fn failed(&self, error: &str) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() != Some(error) {
            log::warn!("certless: could not export telemetry: {error}");
            *last = Some(error.to_string());
        } else {
            log::debug!("certless: could not export telemetry: {error}");
        }
    }

    fn succeeded(&self) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if last.take().is_some() {
            log::info!("certless: telemetry is exported again");
        }
    }
}

async fn run(t: &'static Telemetry, pid: u32) {
    let s = &t.settings;
    let tick = match (s.metrics.is_some(), s.traces.is_some()) {
        (true, true) => s.metric_interval.min(s.span_delay),
        (true, false) => s.metric_interval,
        _ => s.span_delay,
    };
    let mut next_metrics = Instant::now() + s.metric_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = t.exporter.wake.notified() => {}
        }
        if t.exporter.pid.load(Ordering::SeqCst) != pid {
            return;
        }
        export_spans(t).await;
        if s.metrics.is_some() && Instant::now() >= next_metrics {
            export_metrics(t).await;
            next_metrics = Instant::now() + s.metric_interval;
        }
    }
}

/// Sends everything now; `true` when all of it reached the collector.
pub(super) async fn flush(t: &'static Telemetry) -> bool {
    let spans = export_spans(t).await;
    let metrics = export_metrics(t).await;
    spans && metrics
}

async fn export_spans(t: &'static Telemetry) -> bool {
    let Some(endpoint) = &t.settings.traces else {
        return true;
    };
    loop {
        let batch: Vec<_> = {
            let mut queue = t.spans.lock().unwrap_or_else(|e| e.into_inner());
            let n = queue.len().min(SPAN_BATCH);
            queue.drain(..n).collect()
        };
        if batch.is_empty() {
            return true;
        }
        let body = super::trace::encode(&batch, &resource(t));
        if !post(t, Signal::Traces, endpoint, body).await {
            return false;
        }
    }
}

async fn export_metrics(t: &'static Telemetry) -> bool {
    let Some(endpoint) = &t.settings.metrics else {
        return true;
    };
    let now = now_ns();
    let process_start_ns = t.start_ns.load(Ordering::Relaxed);
    let start_ns = match t.settings.temporality {
        Temporality::Cumulative => process_start_ns,
        Temporality::Delta => t.exporter.last_export_ns.swap(now, Ordering::Relaxed),
    };
    let resource = resource(t);
    let context = ExportContext {
        resource: &resource,
        host: host(),
        temporality: t.settings.temporality,
        start_ns,
        process_start_ns,
        now_ns: now,
    };
    match t.registry.encode(&context) {
        Some(body) => post(t, Signal::Metrics, endpoint, body).await,
        None => true,
    }
}

/// The resource of every export: the environment's attributes, then certless's own.
fn resource(t: &Telemetry) -> Vec<(String, Value)> {
    let mut resource = t.settings.resource.clone();
    let has = |key: &str, r: &[(String, Value)]| r.iter().any(|(k, _)| k == key);
    if !has("service.name", &resource) {
        // The specification's default: unknown_service and the executable's name.
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .map_or_else(
                || "unknown_service".to_string(),
                |e| format!("unknown_service:{e}"),
            );
        resource.push(("service.name".into(), exe.into()));
    }
    resource.extend([
        ("telemetry.sdk.name".to_string(), "certless".into()),
        ("telemetry.sdk.language".to_string(), "rust".into()),
        ("telemetry.sdk.version".to_string(), crate::VERSION.into()),
        ("certless.host".to_string(), host().into()),
        (
            "process.pid".to_string(),
            i64::from(std::process::id()).into(),
        ),
    ]);
    resource
}

/// The client for one endpoint: the system trust store plus the collector's CA file
/// (`OTEL_EXPORTER_OTLP_CERTIFICATE`), proxies from the environment.
fn client(endpoint: &Endpoint) -> Result<reqwest::Client, String> {
    crate::support::tls::ensure_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(endpoint.timeout.min(Duration::from_secs(5)))
        .timeout(endpoint.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("certless/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &endpoint.certificate {
        use crate::support::bounded_file;
        let shown = crate::support::echo::echo_path(path);
        let pem = bounded_file::read(path, bounded_file::CA_FILE)
            .map_err(|e| format!("the OTLP CA file {shown} {e}"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("the OTLP CA file {shown} is not PEM certificates: {e}"))?;
        builder = builder.tls_certs_merge(certificates);
    }
    builder
        .build()
        .map_err(|e| format!("could not build the HTTP client for the OTLP collector: {e}"))
}

/// POSTs one export; `true` when the collector took it.
async fn post(t: &Telemetry, signal: Signal, endpoint: &Endpoint, body: Vec<u8>) -> bool {
    let exporter = &t.exporter;
    let client = match exporter.client_for(t, signal) {
        Ok(client) => client,
        Err(e) => {
            exporter.failed(&e);
            return false;
        }
    };
    let mut request = client
        .post(&endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .timeout(endpoint.timeout.max(Duration::from_millis(1)));
    for (name, value) in &endpoint.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let what = match signal {
        Signal::Metrics => "metrics",
        Signal::Traces => "spans",
    };
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => {
            exporter.succeeded();
            true
        }
        Ok(response) => {
            exporter.failed(&format!(
                "the collector at {} refused the {what} (HTTP {})",
                endpoint.url,
                response.status().as_u16()
            ));
            false
        }
        Err(e) => {
            // A header of OTEL_EXPORTER_OTLP_HEADERS that is not a valid header fails the
            // builder: say that, never the header's value.
            let reason = if e.is_builder() {
                "OTEL_EXPORTER_OTLP_HEADERS holds an invalid header".to_string()
            } else if e.is_timeout() {
                format!("no answer in {:?}", endpoint.timeout)
            } else if e.is_connect() {
                "cannot connect".to_string()
            } else {
                "the connection failed".to_string()
            };
            exporter.failed(&format!(
                "the {what} did not reach the collector at {} ({reason})",
                endpoint.url
            ));
            false
        }
    }
}
