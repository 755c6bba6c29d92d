//! OpenTelemetry from the Rust library: with the standard OTLP settings, what a collector
//! receives (decoded by the receiver with OpenTelemetry's own protobuf definitions) carries the
//! names, units and tags MSAL.NET users chart, certless's own instruments, and a span tree whose
//! ids the emulator saw in `traceparent`. Telemetry settings are per process: each test here
//! sets them before its first credential, in a process of its own (nextest's way; under
//! `cargo test` each test runs itself again alone, see [`alone`]).

mod common;

use std::time::Duration;

use certless::TokenRequestOptions;
use certless_emulator::{MiSourceKind, RunningEmulator};
use common::otlp::{Receiver, metrics, points, spans};
use common::*;
use serde_json::{Value, json};

/// The caller's span the first request is made under.
const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Sets the process's OpenTelemetry environment.
fn export_to(receiver: &Receiver, extra: &[(&str, &str)]) {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("OTEL_SERVICE_NAME", "certless-rust-test"),
        // Only flush() exports, so that what a test sees is what it asked for.
        ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ];
    for (name, value) in vars.iter().chain(extra) {
        // SAFETY: set before the test starts any thread that reads the environment (its runtime
        // and credential come after).
        unsafe { std::env::set_var(name, value) };
    }
}

/// Runs `test` in a process of its own: at once under nextest (one process per test) or in the
/// child this starts; else this test binary again, filtered to `name` alone.
fn alone(name: &str, test: impl FnOnce()) {
    if std::env::var_os("NEXTEST").is_some() || std::env::var_os("CERTLESS_TEST_ALONE").is_some() {
        return test();
    }
    let status = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("CERTLESS_TEST_ALONE", "1")
        .status()
        .expect("the test runs alone");
    assert!(status.success(), "{name} failed alone: {status}");
}

/// A `#[test]` that runs `$body` alone (see [`alone`]).
macro_rules! alone_test {
    ($name:ident, $body:ident) => {
        #[test]
        fn $name() {
            alone(stringify!($name), $body);
        }
    };
}

/// A receiver, this process's settings exporting to it (with `extra`), a runtime and the
/// emulator.
fn started(extra: &[(&str, &str)]) -> (Receiver, tokio::runtime::Runtime, RunningEmulator) {
    let receiver = Receiver::start();
    export_to(&receiver, extra);
    let rt = runtime();
    let emu = rt.block_on(emulator());
    (receiver, rt, emu)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn header<'a>(request: &'a certless_emulator::RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

alone_test!(
    a_miss_and_a_hit_arrive_with_msal_names_and_a_span_tree,
    a_miss_and_a_hit_arrive_with_msal_names_and_a_span_tree_here
);

fn a_miss_and_a_hit_arrive_with_msal_names_and_a_span_tree_here() {
    let (receiver, rt, emu) = started(&[]);
    let credential = credential(&emu, MiSourceKind::Imds);
    let options = TokenRequestOptions {
        traceparent: Some(PARENT.into()),
        ..Default::default()
    };
    let first = rt
        .block_on(credential.get_token_with(&[SHAREPOINT], &options))
        .expect("a token");
    let again = rt
        .block_on(credential.get_token(&[SHAREPOINT]))
        .expect("a cached token");
    assert_eq!(first.token.expose(), again.token.expose());
    assert!(certless::telemetry::flush(Duration::from_secs(10)));
    let got = receiver.wait_for(|r| !spans(r, "certless.entra").is_empty());
    assert_eq!(got["errors"], json!([]), "the receiver decoded everything");

    // MSAL's instruments, under MSAL's meter, names, units and tags.
    let success = metrics(&got, "MsalSuccess");
    let success = success.last().expect("MsalSuccess arrived");
    assert_eq!(success["scope"], "MicrosoftIdentityClient_Common_Meter");
    assert_eq!(
        (&success["type"], &success["monotonic"]),
        (&json!("sum"), &json!(true))
    );
    assert_eq!(success["resource"]["service.name"], "certless-rust-test");
    assert_eq!(success["resource"]["telemetry.sdk.name"], "certless");
    let tags = |source: &str, level: &str, reason: &str| {
        [
            ("Platform", json!("rust")),
            ("ApiId", json!("AcquireTokenForClient")),
            ("TokenSource", json!(source)),
            ("CacheLevel", json!(level)),
            ("CacheRefreshReason", json!(reason)),
        ]
    };
    let fetched = points(
        &got,
        "MsalSuccess",
        &tags("IdentityProvider", "None", "NoCachedAccessToken"),
    );
    assert_eq!(fetched.len(), 1, "{success:#}");
    assert_eq!(fetched[0]["value"], 1);
    let hit = points(
        &got,
        "MsalSuccess",
        &tags("Cache", "L1Cache", "NotApplicable"),
    );
    assert_eq!(hit.len(), 1, "{success:#}");
    assert_eq!(hit[0]["value"], 1);
    for (name, unit) in [
        ("MsalTotalDuration.1A", "ms"),
        ("MsalDurationInL1CacheInUs.1B", "us"),
        ("MsalDurationInHttp.1A", "ms"),
    ] {
        let metric = metrics(&got, name);
        let metric = metric.last().unwrap_or_else(|| panic!("{name} arrived"));
        assert_eq!(
            (&metric["unit"], &metric["type"]),
            (&json!(unit), &json!("histogram")),
            "{name}"
        );
        let count: u64 = metric["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p["count"].as_u64().expect("a count"))
            .sum();
        let expected = if name == "MsalTotalDuration.1A" { 2 } else { 1 };
        assert_eq!(count, expected, "{name}: {metric:#}");
    }
    assert!(
        metrics(&got, "MsalDurationInL2Cache.1A").is_empty(),
        "no shared cache here"
    );

    // certless's own.
    let mi = points(
        &got,
        "certless.managed_identity.requests",
        &[
            ("certless.managed_identity.source", json!("imds")),
            ("outcome", json!("ok")),
            ("http.response.status_code", json!(200)),
        ],
    );
    assert_eq!(mi.len(), 1);
    assert_eq!(mi[0]["value"], 1);
    let entra = points(&got, "certless.entra.requests", &[("outcome", json!("ok"))]);
    assert_eq!(entra[0]["value"], 1);
    let age = metrics(&got, "certless.assertion.age");
    assert_eq!(age.last().expect("the assertion's age")["unit"], "s");
    for metric in got["metrics"].as_array().expect("metrics") {
        let text = metric.to_string();
        assert!(!text.contains(first.token.expose()), "no token in a metric");
        assert!(
            !text.contains(&emu.tenant_id()),
            "no tenant id as a tag unless asked"
        );
    }

    // The span tree: the request's span under the caller's, each HTTP call under it.
    let roots = spans(&got, "certless.acquire_token");
    assert_eq!(roots.len(), 1, "one fetch, one span: the hit makes none");
    let root = roots[0];
    assert_eq!(root["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(root["parent_span_id"], "b7ad6b7169203331");
    assert_eq!(root["kind"], "INTERNAL");
    assert_eq!(root["status"], "UNSET");
    assert_eq!(
        root["attributes"]["certless.managed_identity.source"],
        "imds"
    );
    assert_eq!(
        root["attributes"]["certless.credential_source"],
        "SignedAssertionFromManagedIdentity"
    );
    let requests = emu.requests();
    for (name, path) in [
        (
            "certless.managed_identity",
            "/metadata/identity/oauth2/token",
        ),
        ("certless.entra", "/oauth2/v2.0/token"),
    ] {
        let leg = spans(&got, name);
        assert_eq!(leg.len(), 1, "{name}");
        let leg = leg[0];
        assert_eq!(leg["trace_id"], root["trace_id"], "{name}");
        assert_eq!(leg["parent_span_id"], root["span_id"], "{name}");
        assert_eq!(leg["kind"], "CLIENT");
        assert_eq!(leg["attributes"]["http.response.status_code"], 200);
        assert_eq!(leg["attributes"]["server.address"], "127.0.0.1");
        let sent = requests
            .iter()
            .find(|r| r.path.ends_with(path))
            .unwrap_or_else(|| panic!("a request to {path}"));
        let expected = format!(
            "00-{}-{}-01",
            root["trace_id"].as_str().expect("hex"),
            leg["span_id"].as_str().expect("hex")
        );
        assert_eq!(
            header(sent, "traceparent"),
            Some(expected.as_str()),
            "{name}"
        );
    }
    let spans_text = got["spans"].to_string();
    assert!(
        !spans_text.contains(first.token.expose()),
        "no token in a span"
    );
}

alone_test!(
    a_refusal_counts_as_a_failure_and_fails_its_spans,
    a_refusal_counts_as_a_failure_and_fails_its_spans_here
);

fn a_refusal_counts_as_a_failure_and_fails_its_spans_here() {
    let (receiver, rt, emu) = started(&[]);
    // The app trusts no managed identity any more: Entra's real answer is AADSTS70021.
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let credential = builder(&emu, MiSourceKind::Imds)
        .retries(certless::Retries::none())
        .managed_identity(certless::ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .expect("credential builds");
    let error = rt
        .block_on(credential.get_token(&[SHAREPOINT]))
        .expect_err("refused");
    let code = format!("{:?}", error.code());
    assert!(certless::telemetry::flush(Duration::from_secs(10)));
    let got = receiver.wait_for(|r| !spans(r, "certless.acquire_token").is_empty());
    let failure = points(
        &got,
        "MsalFailure",
        &[
            ("Platform", json!("rust")),
            ("ApiId", json!("AcquireTokenForClient")),
            ("ErrorCode", json!(code)),
            ("IsProactiveRefresh", json!(false)),
        ],
    );
    assert_eq!(failure.len(), 1, "{:#}", got["metrics"]);
    assert_eq!(failure[0]["value"], 1);
    let aadsts = format!("AADSTS{}", error.aadsts_codes()[0]);
    let refused = points(
        &got,
        "certless.entra.requests",
        &[
            ("outcome", json!("rejected")),
            ("certless.aadsts", json!(aadsts)),
        ],
    );
    assert_eq!(refused.len(), 1, "{:#}", got["metrics"]);
    let root = spans(&got, "certless.acquire_token")[0];
    assert_eq!(root["status"], "ERROR");
    assert_eq!(root["status_message"], Value::from(code.as_str()));
    assert_eq!(
        root["parent_span_id"], "",
        "no caller's span: a trace of its own"
    );
    assert_eq!(root["attributes"]["certless.leg"], "exchange");
    let entra = spans(&got, "certless.entra")[0];
    assert_eq!(entra["status"], "ERROR");
    assert_eq!(entra["attributes"]["certless.aadsts"], Value::from(aadsts));
    let text = got.to_string();
    assert!(
        !text.contains("client_assertion"),
        "no request body in telemetry"
    );
}

alone_test!(
    a_malformed_traceparent_is_refused_before_any_request,
    a_malformed_traceparent_is_refused_before_any_request_here
);

fn a_malformed_traceparent_is_refused_before_any_request_here() {
    let (_receiver, rt, emu) = started(&[]);
    let credential = credential(&emu, MiSourceKind::Imds);
    let options = TokenRequestOptions {
        traceparent: Some("00-not-a-trace".into()),
        ..Default::default()
    };
    let error = rt
        .block_on(credential.get_token_with(&[SHAREPOINT], &options))
        .expect_err("refused");
    assert_eq!(error.code(), certless::ErrorCode::InvalidArgument);
    assert!(error.to_string().contains("traceparent"), "{error}");
    assert_eq!(emu.counters().imds, 0);
}

alone_test!(
    with_the_sdk_disabled_nothing_is_sent_and_no_traceparent_goes_out,
    with_the_sdk_disabled_nothing_is_sent_and_no_traceparent_goes_out_here
);

fn with_the_sdk_disabled_nothing_is_sent_and_no_traceparent_goes_out_here() {
    let (receiver, rt, emu) = started(&[("OTEL_SDK_DISABLED", "true")]);
    let credential = credential(&emu, MiSourceKind::Imds);
    rt.block_on(credential.get_token(&[SHAREPOINT]))
        .expect("a token");
    assert!(certless::telemetry::status().is_none());
    assert!(
        certless::telemetry::flush(Duration::from_secs(5)),
        "nothing to send"
    );
    std::thread::sleep(Duration::from_millis(300));
    let got = receiver.received();
    assert_eq!(got["requests"], json!([]), "the receiver got nothing");
    assert!(
        emu.requests()
            .iter()
            .all(|r| header(r, "traceparent").is_none())
    );
}

alone_test!(
    a_token_from_the_farms_cache_is_an_l2_hit_and_the_shared_cache_is_observed,
    a_token_from_the_farms_cache_is_an_l2_hit_and_the_shared_cache_is_observed_here
);

fn a_token_from_the_farms_cache_is_an_l2_hit_and_the_shared_cache_is_observed_here() {
    use certless_emulator::redis_server::RedisServer;
    use common::farm::{key_file, machine_at};
    let (receiver, rt, emu) = started(&[]);
    let redis = RedisServer::start("otel");
    let keys = key_file("otel", None);
    let machine = || {
        machine_at(&emu, &redis.url(), redis.ca_file(), &keys)
            .build()
            .expect("builds")
    };
    let (first, second) = (machine(), machine());
    rt.block_on(first.get_token(&[SHAREPOINT]))
        .expect("fetched");
    rt.block_on(second.get_token(&[SHAREPOINT]))
        .expect("read from Redis");
    assert_eq!(
        emu.counters().entra_token,
        1,
        "the second machine read the farm's"
    );
    assert!(certless::telemetry::flush(Duration::from_secs(10)));
    let got = receiver.wait_for(|r| !metrics(r, "MsalDurationInL2Cache.1A").is_empty());
    let from_farm = points(
        &got,
        "MsalSuccess",
        &[
            ("TokenSource", json!("Cache")),
            ("CacheLevel", json!("L2Cache")),
            ("CacheRefreshReason", json!("NoCachedAccessToken")),
        ],
    );
    assert_eq!(from_farm.len(), 1, "{:#}", got["metrics"]);
    assert_eq!(from_farm[0]["value"], 1);
    let l2 = metrics(&got, "MsalDurationInL2Cache.1A");
    let l2 = l2.last().expect("the L2 duration");
    assert_eq!(l2["unit"], "ms");
    assert_eq!(l2["points"][0]["count"], 1);
    assert_eq!(l2["points"][0]["attributes"]["Platform"], "rust");
    // Only the machine that fetched spent time in HTTP.
    let http = metrics(&got, "MsalDurationInHttp.1A");
    assert_eq!(http.last().expect("http")["points"][0]["count"], 1);
    let state = points(
        &got,
        "certless.shared_cache.state",
        &[("state", json!("closed"))],
    );
    assert_eq!(state.len(), 1, "{:#}", got["metrics"]);
    assert_eq!(state[0]["value"], 2, "two connections, one Redis");
    let target = state[0]["attributes"]["certless.shared_cache.target"]
        .as_str()
        .expect("the target");
    assert!(
        target.contains("127.0.0.1") && !target.contains('@'),
        "{target}"
    );
    let hits = points(
        &got,
        "certless.shared_cache.operations",
        &[("operation", json!("hit"))],
    );
    assert_eq!(hits[0]["value"], 1);
    let farm_span = spans(&got, "certless.acquire_token");
    assert!(
        farm_span
            .iter()
            .any(|s| s["attributes"]["certless.token_source"] == "shared_cache"),
        "{farm_span:#?}"
    );
}
