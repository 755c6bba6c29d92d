//! The standard OpenTelemetry environment variables certless honours (docs/telemetry.md has the
//! table). Export is on only when an OTLP endpoint is set; every other setting has the
//! specification's default.

use std::path::PathBuf;
use std::time::Duration;

use super::otlp::Value;

/// Where one signal goes.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// The full URL (`.../v1/metrics` or `.../v1/traces`).
    pub(crate) url: String,
    /// Extra headers (`OTEL_EXPORTER_OTLP_HEADERS`): often an API key, so never logged.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    /// A PEM file of CA certificates to trust for an `https` endpoint.
    pub(crate) certificate: Option<PathBuf>,
}

/// Which temporality sums and histograms are sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Temporality {
    Cumulative,
    Delta,
}

/// Which new traces are recorded (`OTEL_TRACES_SAMPLER`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// Keeps this fraction of traces, by trace id.
    Ratio(f64),
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) metrics: Option<Endpoint>,
    pub(crate) traces: Option<Endpoint>,
    pub(crate) metric_interval: Duration,
    pub(crate) span_delay: Duration,
    pub(crate) temporality: Temporality,
    /// The sampler of a trace certless starts.
    pub(crate) root_sampler: Sampler,
    /// Whether a span whose parent is not sampled is recorded anyway (`always_*` samplers).
    pub(crate) ignore_parent: bool,
    pub(crate) resource: Vec<(String, Value)>,
    /// What was set but cannot be honoured, said once in the log.
    pub(crate) warnings: Vec<String>,
}

impl Settings {
    /// The settings of this process's environment.
    pub(crate) fn from_env() -> Settings {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Settings {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let endpoint = |signal: &str, path: &str, warnings: &mut Vec<String>| {
            let upper = signal.to_ascii_uppercase();
            if disabled {
                return None;
            }
            match var(&format!("OTEL_{upper}_EXPORTER")) {
                Some(v) if v.eq_ignore_ascii_case("none") => return None,
                Some(v) if !v.split(',').any(|e| e.trim().eq_ignore_ascii_case("otlp")) => {
                    warnings.push(format!(
                        "OTEL_{upper}_EXPORTER={v}: certless exports {signal} over OTLP only"
                    ));
                    return None;
                }
                _ => {}
            }
            let specific = |suffix: &str| {
                var(&format!("OTEL_EXPORTER_OTLP_{upper}_{suffix}"))
                    .or_else(|| var(&format!("OTEL_EXPORTER_OTLP_{suffix}")))
            };
            let url = match var(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")) {
                Some(url) => url,
                None => {
                    let base = var("OTEL_EXPORTER_OTLP_ENDPOINT")?;
                    format!("{}/{path}", base.trim_end_matches('/'))
                }
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                warnings.push(format!(
                    "the OTLP {signal} endpoint {url:?} is not an http:// or https:// URL; \
                     {signal} are not exported"
                ));
                return None;
            }
            let protocol = specific("PROTOCOL").unwrap_or_else(|| "http/protobuf".into());
            if protocol != "http/protobuf" {
                warnings.push(format!(
                    "OTLP protocol {protocol:?} for {signal}: certless sends http/protobuf only; \
                     set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf and point the endpoint at the \
                     collector's OTLP/HTTP port (4318 by default). {signal} are not exported"
                ));
                return None;
            }
            if specific("COMPRESSION").is_some_and(|c| !c.eq_ignore_ascii_case("none")) {
                warnings.push(format!(
                    "OTLP compression is not supported: {signal} are sent uncompressed"
                ));
            }
            if specific("CLIENT_KEY").is_some() || specific("CLIENT_CERTIFICATE").is_some() {
                warnings.push(format!(
                    "OTLP client certificates are not supported: {signal} are sent without one"
                ));
            }
            let timeout = specific("TIMEOUT")
                .and_then(|t| t.parse::<u64>().ok())
                .map_or(Duration::from_secs(10), Duration::from_millis);
            Some(Endpoint {
                url,
                headers: specific("HEADERS")
                    .map(|h| parse_pairs(&h))
                    .unwrap_or_default(),
                timeout,
                certificate: specific("CERTIFICATE").map(PathBuf::from),
            })
        };
        let metrics = endpoint("metrics", "v1/metrics", &mut warnings);
        let traces = endpoint("traces", "v1/traces", &mut warnings);
        let millis = |name: &str, default: u64| {
            Duration::from_millis(
                var(name)
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|ms| *ms > 0)
                    .unwrap_or(default),
            )
        };
        let temporality = match var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            Some(t) if t.eq_ignore_ascii_case("delta") || t.eq_ignore_ascii_case("lowmemory") => {
                Temporality::Delta
            }
            _ => Temporality::Cumulative,
        };
        let ratio = || {
            var("OTEL_TRACES_SAMPLER_ARG")
                .and_then(|a| a.parse::<f64>().ok())
                .filter(|r| (0.0..=1.0).contains(r))
                .unwrap_or(1.0)
        };
        let (root_sampler, ignore_parent) = match var("OTEL_TRACES_SAMPLER").as_deref() {
            None | Some("parentbased_always_on") => (Sampler::AlwaysOn, false),
            Some("always_on") => (Sampler::AlwaysOn, true),
            Some("always_off") => (Sampler::AlwaysOff, true),
            Some("parentbased_always_off") => (Sampler::AlwaysOff, false),
            Some("traceidratio") => (Sampler::Ratio(ratio()), true),
            Some("parentbased_traceidratio") => (Sampler::Ratio(ratio()), false),
            Some(other) => {
                warnings.push(format!(
                    "OTEL_TRACES_SAMPLER={other} is not known to certless; using \
                     parentbased_always_on"
                ));
                (Sampler::AlwaysOn, false)
            }
        };
        let mut resource: Vec<(String, Value)> = var("OTEL_RESOURCE_ATTRIBUTES")
            .map(|r| parse_pairs(&r))
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        if let Some(name) = var("OTEL_SERVICE_NAME") {
            resource.retain(|(k, _)| k != "service.name");
            resource.push(("service.name".into(), Value::from(name)));
        }
        Settings {
            metrics,
            traces,
            metric_interval: millis("OTEL_METRIC_EXPORT_INTERVAL", 60_000),
            span_delay: millis("OTEL_BSP_SCHEDULE_DELAY", 5_000),
            temporality,
            root_sampler,
            ignore_parent,
            resource,
            warnings,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.metrics.is_some() || self.traces.is_some()
    }
}

/// `key1=value1,key2=value2`, each part percent-decoded (the W3C Baggage format the
/// specification uses for headers and resource attributes); malformed pairs are skipped.
fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = percent_decode(k.trim());
            (!k.is_empty()).then(|| (k, percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn off_unless_an_endpoint_is_set() {
        assert!(!settings(&[]).enabled());
        assert!(!settings(&[("OTEL_SERVICE_NAME", "x")]).enabled());
        let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]);
        assert_eq!(s.metrics.unwrap().url, "http://127.0.0.1:4318/v1/metrics");
        assert_eq!(s.traces.unwrap().url, "http://127.0.0.1:4318/v1/traces");
    }

    #[test]
    fn signal_settings_win_and_none_turns_a_signal_off() {
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://b/custom"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret, x=1"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
        ]);
        let m = s.metrics.unwrap();
        assert_eq!(m.url, "https://b/custom");
        assert_eq!(m.timeout, Duration::from_millis(2500));
        assert_eq!(
            m.headers,
            [
                ("api-key".into(), "s=cret".into()),
                ("x".into(), "1".into())
            ]
        );
        assert!(s.traces.is_none());
        let off = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ]);
        assert!(!off.enabled());
    }

    #[test]
    fn what_cannot_be_honoured_is_said() {
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(!s.enabled());
        assert!(
            s.warnings[0].contains("http/protobuf only"),
            "{:?}",
            s.warnings
        );
        let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]);
        assert!(!s.enabled());
        assert!(s.warnings[0].contains("not an http"), "{:?}", s.warnings);
    }

    #[test]
    fn resource_attributes_and_service_name() {
        let s = settings(&[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=a,deployment.environment=prod%20eu",
            ),
            ("OTEL_SERVICE_NAME", "crm-api"),
        ]);
        assert_eq!(
            s.resource,
            [
                ("deployment.environment".into(), Value::from("prod eu")),
                ("service.name".into(), Value::from("crm-api")),
            ]
        );
    }

    #[test]
    fn samplers_and_temporality() {
        let s = settings(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ]);
        assert_eq!(s.root_sampler, Sampler::Ratio(0.25));
        assert!(!s.ignore_parent);
        assert_eq!(s.temporality, Temporality::Delta);
        assert_eq!(settings(&[]).root_sampler, Sampler::AlwaysOn);
    }
}
