//! The instruments, their series (one per set of tags) and their OTLP encoding.
//!
//! A cache hit, the one path hosts call millions of times, adds to three series held apart
//! ([`HitSeries`]): atomic adds, no lock. Every other recording follows a network call and takes
//! the registry's lock to find its series.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::otlp::{self, Attribute, Message, Value};
use super::settings::Temporality;

/// MSAL's `ApiId` of a confidential client's token request, which every certless request is.
pub(crate) const API_ID: &str = "AcquireTokenForClient";

/// MSAL.NET's meter: dashboards built on MSAL's metrics find certless's under the same names.
pub(crate) const MSAL_METER: &str = "MicrosoftIdentityClient_Common_Meter";
/// The version MSAL.NET gives its meter.
const MSAL_METER_VERSION: &str = "1.0.0";
/// certless's own instruments, spans included.
pub(crate) const CERTLESS_SCOPE: &str = "certless";

/// The OpenTelemetry SDKs' default histogram bounds (the specification's), which MSAL's
/// histograms are charted with.
const DEFAULT_BOUNDS: &[f64] = &[
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
/// Ages and lead times of tokens, in seconds: a minute to a day.
const SECONDS_BOUNDS: &[f64] = &[
    1.0, 10.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Instrument {
    /// `MsalSuccess`: token requests answered.
    Success,
    /// `MsalFailure`: token requests failed.
    Failure,
    /// `MsalTotalDuration.1A`, ms.
    TotalDuration,
    /// `MsalDurationInL1CacheInUs.1B`, µs: requests answered from the process's cache.
    L1Duration,
    /// `MsalDurationInL2Cache.1A`, ms: time in the shared cache, for a token it answered.
    L2Duration,
    /// `MsalDurationInHttp.1A`, ms: time in HTTP, for a token fetched upstream.
    HttpDuration,
    /// `certless.managed_identity.requests`.
    ManagedIdentityRequests,
    /// `certless.entra.requests`.
    EntraRequests,
    /// `certless.requests.coalesced`: callers that waited for a fetch already under way.
    Coalesced,
    /// `certless.assertion.age`, s: how old the managed-identity token was when presented.
    AssertionAge,
    /// `certless.token.refresh_lead`, s: what a token had left when a refresh replaced it.
    RefreshLead,
}

enum Kind {
    Counter,
    Histogram(&'static [f64]),
}

struct Spec {
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    msal: bool,
    kind: Kind,
}

impl Instrument {
    const ALL: [Instrument; 11] = [
        Instrument::Success,
        Instrument::Failure,
        Instrument::TotalDuration,
        Instrument::L1Duration,
        Instrument::L2Duration,
        Instrument::HttpDuration,
        Instrument::ManagedIdentityRequests,
        Instrument::EntraRequests,
        Instrument::Coalesced,
        Instrument::AssertionAge,
        Instrument::RefreshLead,
    ];

    fn spec(self) -> Spec {
        use Instrument::*;
        let (name, unit, description, msal, kind) = match self {
            Success => (
                "MsalSuccess",
                "",
                "Number of successful token acquisition calls",
                true,
                Kind::Counter,
            ),
            Failure => (
                "MsalFailure",
                "",
                "Number of failed token acquisition calls",
                true,
                Kind::Counter,
            ),
            TotalDuration => (
                "MsalTotalDuration.1A",
                "ms",
                "Performance of token acquisition calls total latency",
                true,
                Kind::Histogram(DEFAULT_BOUNDS),
            ),
            L1Duration => (
                "MsalDurationInL1CacheInUs.1B",
                "us",
                "Performance of token acquisition calls total latency in microseconds when L1 \
                 cache is used",
                true,
                Kind::Histogram(DEFAULT_BOUNDS),
            ),
            L2Duration => (
                "MsalDurationInL2Cache.1A",
                "ms",
                "Performance of token acquisition calls cache latency",
                true,
                Kind::Histogram(DEFAULT_BOUNDS),
            ),
            HttpDuration => (
                "MsalDurationInHttp.1A",
                "ms",
                "Performance of token acquisition calls network latency",
                true,
                Kind::Histogram(DEFAULT_BOUNDS),
            ),
            ManagedIdentityRequests => (
                "certless.managed_identity.requests",
                "{request}",
                "Requests to the managed-identity endpoint, by source and outcome",
                false,
                Kind::Counter,
            ),
            EntraRequests => (
                "certless.entra.requests",
                "{request}",
                "Requests to Entra's token endpoint, by outcome",
                false,
                Kind::Counter,
            ),
            Coalesced => (
                "certless.requests.coalesced",
                "{request}",
                "Callers that waited for a fetch already under way instead of starting one",
                false,
                Kind::Counter,
            ),
            AssertionAge => (
                "certless.assertion.age",
                "s",
                "Age of the managed-identity token when presented to Entra as the assertion",
                false,
                Kind::Histogram(SECONDS_BOUNDS),
            ),
            RefreshLead => (
                "certless.token.refresh_lead",
                "s",
                "Lifetime a token had left when a refresh replaced it",
                false,
                Kind::Histogram(SECONDS_BOUNDS),
            ),
        };
        Spec {
            name,
            unit,
            description,
            msal,
            kind,
        }
    }
}

/// The values of one series.
enum Cells {
    Count(AtomicU64),
    Histogram {
        bounds: &'static [f64],
        /// One more than the bounds: the last bucket is past the highest bound.
        buckets: Box<[AtomicU64]>,
        sum: AtomicU64,
        min: AtomicU64,
        max: AtomicU64,
    },
}

/// One instrument with one set of tags.
pub(crate) struct Series {
    instrument: Instrument,
    attributes: Vec<Attribute>,
    cells: Cells,
}

impl Series {
    fn new(instrument: Instrument, attributes: Vec<Attribute>) -> Series {
        let cells = match instrument.spec().kind {
            Kind::Counter => Cells::Count(AtomicU64::new(0)),
            Kind::Histogram(bounds) => Cells::Histogram {
                bounds,
                buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0),
                min: AtomicU64::new(u64::MAX),
                max: AtomicU64::new(0),
            },
        };
        Series {
            instrument,
            attributes,
            cells,
        }
    }

    /// Adds `value` to a counter, or records it in a histogram.
    pub(crate) fn record(&self, value: u64) {
        match &self.cells {
            Cells::Count(count) => {
                count.fetch_add(value, Ordering::Relaxed);
            }
            Cells::Histogram {
                bounds,
                buckets,
                sum,
                min,
                max,
            } => {
                // A value equal to a bound belongs to that bound's bucket (upper bounds inclusive).
                let index = bounds.partition_point(|b| *b < value as f64);
                buckets[index].fetch_add(1, Ordering::Relaxed);
                sum.fetch_add(value, Ordering::Relaxed);
                min.fetch_min(value, Ordering::Relaxed);
                max.fetch_max(value, Ordering::Relaxed);
            }
        }
    }
}

/// A histogram's values read for one export.
struct HistogramPoint {
    buckets: Vec<u64>,
    sum: u64,
    min: u64,
    max: u64,
}

impl Cells {
    /// The counter's value, or `None` for a histogram; taken (reset) for delta temporality.
    fn read_count(&self, take: bool) -> Option<u64> {
        match self {
            Cells::Count(c) if take => Some(c.swap(0, Ordering::Relaxed)),
            Cells::Count(c) => Some(c.load(Ordering::Relaxed)),
            Cells::Histogram { .. } => None,
        }
    }

    fn read_histogram(&self, take: bool) -> Option<HistogramPoint> {
        let Cells::Histogram {
            buckets,
            sum,
            min,
            max,
            ..
        } = self
        else {
            return None;
        };
        let read = |c: &AtomicU64, reset: u64| {
            if take {
                c.swap(reset, Ordering::Relaxed)
            } else {
                c.load(Ordering::Relaxed)
            }
        };
        Some(HistogramPoint {
            buckets: buckets.iter().map(|b| read(b, 0)).collect(),
            sum: read(sum, 0),
            min: read(min, u64::MAX),
            max: read(max, 0),
        })
    }
}

/// The series a cache hit adds to, made once.
pub(crate) struct HitSeries {
    pub(crate) success: Arc<Series>,
    pub(crate) total: Arc<Series>,
    pub(crate) l1: Arc<Series>,
}

/// A shared cache as telemetry sees it: where it is, its breaker's state, and its counters.
pub(crate) struct ObservedCache {
    /// The address, without user or password.
    pub(crate) target: String,
    /// `closed`, `open` or `half_open`.
    pub(crate) state: &'static str,
    pub(crate) counters: Vec<(&'static str, u64)>,
}

/// A source of observed values: a credential's shared cache, while the credential lives.
pub(crate) type SharedCacheObserver = Box<dyn Fn() -> Option<ObservedCache> + Send + Sync>;

pub(crate) struct Registry {
    series: Mutex<Vec<Arc<Series>>>,
    pub(crate) hit: HitSeries,
    observers: Mutex<Vec<SharedCacheObserver>>,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        let series = |instrument, attributes| Arc::new(Series::new(instrument, attributes));
        let hit_tags = || -> Vec<Attribute> {
            vec![
                ("ApiId", Value::from(API_ID)),
                ("TokenSource", Value::from("Cache")),
                ("CacheLevel", Value::from("L1Cache")),
            ]
        };
        let mut success_tags = hit_tags();
        success_tags.push(("CacheRefreshReason", Value::from("NotApplicable")));
        let hit = HitSeries {
            success: series(Instrument::Success, success_tags),
            total: series(Instrument::TotalDuration, hit_tags()),
            l1: series(Instrument::L1Duration, hit_tags()),
        };
        let all = vec![
            Arc::clone(&hit.success),
            Arc::clone(&hit.total),
            Arc::clone(&hit.l1),
        ];
        Registry {
            series: Mutex::new(all),
            hit,
            observers: Mutex::new(Vec::new()),
        }
    }

    /// The series of `instrument` with `attributes`, made on first use.
    pub(crate) fn series(&self, instrument: Instrument, attributes: Vec<Attribute>) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all
            .iter()
            .find(|s| s.instrument == instrument && s.attributes == attributes)
        {
            return Arc::clone(s);
        }
        let series = Arc::new(Series::new(instrument, attributes));
        all.push(Arc::clone(&series));
        series
    }

    pub(crate) fn observe(&self, observer: SharedCacheObserver) {
        self.observers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(observer);
    }

    /// Zeroes everything (a forked child starts its own count).
    pub(crate) fn reset(&self) {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for s in all.iter() {
            let _ = s.cells.read_count(true);
            let _ = s.cells.read_histogram(true);
        }
    }

    /// An `ExportMetricsServiceRequest` of every series; `None` when there is nothing to send.
    pub(crate) fn encode(&self, export: &ExportContext<'_>) -> Option<Vec<u8>> {
        let take = export.temporality == Temporality::Delta;
        let series: Vec<Arc<Series>> = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let shared: Vec<ObservedCache> = {
            let mut observers = self.observers.lock().unwrap_or_else(|e| e.into_inner());
            let mut seen = Vec::new();
            observers.retain(|observe| match observe() {
                Some(stats) => {
                    seen.push(stats);
                    true
                }
                None => false,
            });
            seen
        };
        let mut points = 0;
        let mut msal = Message::default();
        let mut certless = Message::default();
        for instrument in Instrument::ALL {
            let spec = instrument.spec();
            let of_instrument: Vec<&Arc<Series>> = series
                .iter()
                .filter(|s| s.instrument == instrument)
                .collect();
            if of_instrument.is_empty() {
                continue;
            }
            let platform: Option<Attribute> =
                spec.msal.then(|| ("Platform", Value::from(export.host)));
            let mut data = Message::default();
            for s in of_instrument {
                let attrs = || {
                    platform
                        .iter()
                        .chain(s.attributes.iter())
                        .map(|(k, v)| (*k, v))
                };
                if let Some(count) = s.cells.read_count(take) {
                    if take && count == 0 {
                        continue;
                    }
                    points += 1;
                    data.message(1, |p| {
                        otlp::attributes(p, 7, attrs());
                        p.fixed64(2, export.start_ns);
                        p.fixed64(3, export.now_ns);
                        p.key_fixed64(6, count);
                    });
                } else if let Some(h) = s.cells.read_histogram(take) {
                    let count: u64 = h.buckets.iter().sum();
                    if take && count == 0 {
                        continue;
                    }
                    points += 1;
                    let Kind::Histogram(bounds) = spec.kind else {
                        continue;
                    };
                    data.message(1, |p| {
                        otlp::attributes(p, 9, attrs());
                        p.fixed64(2, export.start_ns);
                        p.fixed64(3, export.now_ns);
                        p.key_fixed64(4, count);
                        p.double(5, h.sum as f64);
                        p.packed_fixed64(6, h.buckets.iter().copied());
                        p.packed_double(7, bounds);
                        if count > 0 {
                            p.double(11, h.min as f64);
                            p.double(12, h.max as f64);
                        }
                    });
                }
            }
            if data.is_empty() {
                continue;
            }
            let target = if spec.msal { &mut msal } else { &mut certless };
            let temporality = if take { 1 } else { 2 };
            target.message(2, |m| {
                m.string(1, spec.name);
                m.string(2, spec.description);
                m.string(3, spec.unit);
                match spec.kind {
                    // Sum { data_points = 1; aggregation_temporality = 2; is_monotonic = 3 }
                    Kind::Counter => m.message(7, |sum| {
                        sum.append(&data);
                        sum.uint(2, temporality);
                        sum.bool(3, true);
                    }),
                    // Histogram { data_points = 1; aggregation_temporality = 2 }
                    Kind::Histogram(_) => m.message(9, |hist| {
                        hist.append(&data);
                        hist.uint(2, temporality);
                    }),
                }
            });
        }
        points += encode_shared_caches(&mut certless, &shared, export);
        if points == 0 {
            return None;
        }
        let mut request = Message::default();
        request.message(1, |rm| {
            otlp::resource(rm, 1, export.resource);
            if !msal.is_empty() {
                rm.message(2, |sm| {
                    otlp::scope(sm, 1, MSAL_METER, MSAL_METER_VERSION);
                    sm.append(&msal);
                });
            }
            if !certless.is_empty() {
                rm.message(2, |sm| {
                    otlp::scope(sm, 1, CERTLESS_SCOPE, crate::VERSION);
                    sm.append(&certless);
                });
            }
        });
        Some(request.into_bytes())
    }
}

/// The shared caches' state as a gauge (how many of this process's connections to each Redis
/// are in each breaker state), and their operations as cumulative sums by Redis (they are counted
/// since each credential started, whatever the temporality asked for).
fn encode_shared_caches(
    scope: &mut Message,
    caches: &[ObservedCache],
    export: &ExportContext<'_>,
) -> usize {
    if caches.is_empty() {
        return 0;
    }
    // Several credentials of one process may share a Redis: one point per (target, state) and
    // per (target, operation).
    let mut states: Vec<(&str, &'static str, u64)> = Vec::new();
    let mut operations: Vec<(&str, &'static str, u64)> = Vec::new();
    fn add<'a>(
        list: &mut Vec<(&'a str, &'static str, u64)>,
        target: &'a str,
        key: &'static str,
        value: u64,
    ) {
        match list.iter_mut().find(|(t, k, _)| *t == target && *k == key) {
            Some(entry) => entry.2 += value,
            None => list.push((target, key, value)),
        }
    }
    for cache in caches {
        add(&mut states, cache.target.as_str(), cache.state, 1);
        for &(name, value) in &cache.counters {
            add(&mut operations, cache.target.as_str(), name, value);
        }
    }
    let point = |m: &mut Message, (target, key, value): (&str, &'static str, u64), tag, start| {
        m.message(1, |p| {
            let target = Value::from(target.to_string());
            let key = Value::from(key);
            otlp::attributes(
                p,
                7,
                [("certless.shared_cache.target", &target), (tag, &key)],
            );
            p.fixed64(2, start);
            p.fixed64(3, export.now_ns);
            p.key_fixed64(6, value);
        });
    };
    scope.message(2, |m| {
        m.string(1, "certless.shared_cache.state");
        m.string(
            2,
            "Connections to the shared cache by their breaker's state (closed: Redis answers)",
        );
        m.string(3, "{connection}");
        // Gauge { data_points = 1 }
        m.message(5, |gauge| {
            for &entry in &states {
                point(gauge, entry, "state", 0);
            }
        });
    });
    scope.message(2, |m| {
        m.string(1, "certless.shared_cache.operations");
        m.string(2, "Operations of the shared cache, by kind and outcome");
        m.string(3, "{operation}");
        m.message(7, |sum| {
            for &entry in &operations {
                point(sum, entry, "operation", export.process_start_ns);
            }
            sum.uint(2, 2);
            sum.bool(3, true);
        });
    });
    states.len() + operations.len()
}

/// What every export shares.
pub(crate) struct ExportContext<'a> {
    pub(crate) resource: &'a [(String, Value)],
    pub(crate) host: &'static str,
    pub(crate) temporality: Temporality,
    /// The start of the series' window: process start (cumulative) or the last export (delta).
    pub(crate) start_ns: u64,
    pub(crate) process_start_ns: u64,
    pub(crate) now_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_puts_values_in_inclusive_upper_buckets() {
        let s = Series::new(Instrument::TotalDuration, Vec::new());
        for v in [0, 5, 6, 10_000, 20_000] {
            s.record(v);
        }
        let h = s.cells.read_histogram(false).expect("a histogram");
        assert_eq!(h.buckets.len(), DEFAULT_BOUNDS.len() + 1);
        assert_eq!(h.buckets[0], 1, "0 is in (-inf, 0]");
        assert_eq!(h.buckets[1], 1, "5 is in (0, 5]");
        assert_eq!(h.buckets[2], 1, "6 is in (5, 10]");
        assert_eq!(h.buckets[14], 1, "10000 is in (7500, 10000]");
        assert_eq!(h.buckets[15], 1, "20000 is past the last bound");
        assert_eq!((h.sum, h.min, h.max), (30_011, 0, 20_000));
    }

    #[test]
    fn delta_takes_what_cumulative_keeps() {
        let registry = Registry::new();
        registry.hit.success.record(1);
        registry.hit.success.record(1);
        assert_eq!(registry.hit.success.cells.read_count(false), Some(2));
        assert_eq!(registry.hit.success.cells.read_count(true), Some(2));
        assert_eq!(registry.hit.success.cells.read_count(false), Some(0));
    }

    #[test]
    fn series_are_found_by_their_tags() {
        let registry = Registry::new();
        let tags = || vec![("outcome", Value::from("ok"))];
        let a = registry.series(Instrument::EntraRequests, tags());
        let b = registry.series(Instrument::EntraRequests, tags());
        assert!(Arc::ptr_eq(&a, &b));
        let c = registry.series(
            Instrument::EntraRequests,
            vec![("outcome", "timeout".into())],
        );
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn nothing_recorded_in_delta_sends_nothing() {
        let registry = Registry::new();
        let export = ExportContext {
            resource: &[],
            host: "rust",
            temporality: Temporality::Delta,
            start_ns: 1,
            process_start_ns: 1,
            now_ns: 2,
        };
        assert!(registry.encode(&export).is_none());
        registry.hit.success.record(1);
        assert!(registry.encode(&export).is_some());
        assert!(registry.encode(&export).is_none(), "the window was taken");
    }
}
