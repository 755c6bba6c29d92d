//! The admin surface under /_emulator/, driven over HTTP only, as a test in another language would.

mod common;

use certless_emulator::{ARM_RESOURCE, DEFAULT_TENANT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID};
use common::{client, exchange, imds, json, mi_assertion, start, start_https};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn admin(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (status, _, value) = json(req.send().await.expect("admin request")).await;
    (status, value)
}

#[tokio::test]
async fn info_describes_the_emulator() {
    let emu = start_https().await;
    let c = client();
    let (status, info) = admin(
        &c,
        reqwest::Method::GET,
        format!("{}/_emulator/info", emu.http_url()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["http_url"], emu.http_url());
    assert_eq!(info["https_url"], emu.https_url().expect("https"));
    assert_eq!(
        info["ca_pem_path"],
        emu.ca_pem_path().expect("ca").display().to_string()
    );
    assert_eq!(info["tenant_id"], DEFAULT_TENANT_ID);
    assert_eq!(
        info["default_user_assigned"]["client_id"],
        DEFAULT_USER_ASSIGNED_CLIENT_ID
    );
    assert_eq!(
        info["app_service_endpoint"],
        format!("{}/msi/token", emu.http_url())
    );
    assert_eq!(info["app_service_secret"], emu.app_service_secret());
    let env = info["env"]["imds"].as_array().expect("env");
    assert!(
        env.contains(&json!([
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            emu.http_url()
        ])),
        "{env:?}"
    );
    // With https on, clients are sent to the https authority.
    assert!(
        env.contains(&json!([
            "AZURE_AUTHORITY_HOST",
            emu.https_url().expect("https")
        ])),
        "{env:?}"
    );
    let parsed: certless_emulator::EmulatorInfo =
        serde_json::from_value(info).expect("EmulatorInfo shape");
    assert_eq!(parsed, emu.info());
}

#[tokio::test]
async fn faults_counters_and_requests_over_http() {
    let emu = start().await;
    let c = client();
    let base = format!("{}/_emulator", emu.http_url());
    let (status, faults) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/faults"),
        Some(json!({"endpoint": "imds", "status": 429, "retry_after": 7, "remaining": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{faults}");
    assert_eq!(faults[0]["remaining"], 2);
    for expected in [429, 429, 200] {
        let (status, _) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
        assert_eq!(status.as_u16(), expected);
    }
    let (_, counters) = admin(&c, reqwest::Method::GET, format!("{base}/counters"), None).await;
    assert_eq!(counters["imds"], 3);
    assert_eq!(counters["entra_token"], 0);

    let (_, requests) = admin(&c, reqwest::Method::GET, format!("{base}/requests"), None).await;
    let statuses: Vec<&Value> = requests
        .as_array()
        .expect("list")
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [&json!(429), &json!(429), &json!(200)]);
    assert_eq!(requests[0]["endpoint"], "imds");

    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/counters/reset"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(emu.counters().imds, 0);
    admin(
        &c,
        reqwest::Method::DELETE,
        format!("{base}/requests"),
        None,
    )
    .await;
    assert!(emu.requests().is_empty());

    admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/faults"),
        Some(json!({"endpoint": "entra_token", "body": "malformed"})),
    )
    .await;
    let (_, faults) = admin(&c, reqwest::Method::GET, format!("{base}/faults"), None).await;
    assert_eq!(faults[0]["endpoint"], "entra_token");
    admin(&c, reqwest::Method::DELETE, format!("{base}/faults"), None).await;
    let (_, faults) = admin(&c, reqwest::Method::GET, format!("{base}/faults"), None).await;
    assert_eq!(faults, json!([]));

    let (status, err) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/faults"),
        Some(json!({"endpoint": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]
            .as_str()
            .expect("error")
            .contains("unknown variant"),
        "{err}"
    );
    let (status, _) = admin(
        &c,
        reqwest::Method::GET,
        format!("{base}/no-such-thing"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // None of the admin calls were counted.
    assert_eq!(emu.counters(), certless_emulator::Counters::default());
}

#[tokio::test]
async fn drop_connection_fault_over_http() {
    let emu = start().await;
    let c = client();
    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{}/_emulator/faults", emu.http_url()),
        Some(json!({"endpoint": "imds", "drop_connection": true, "delay_ms": 10, "remaining": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = c
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={ARM_RESOURCE}",
            emu.http_url()
        ))
        .header("Metadata", "true")
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn time_offset_and_expires_on_over_http() {
    let emu = start().await;
    let c = client();
    let base = format!("{}/_emulator", emu.http_url());
    let (_, before) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/time-offset"),
        Some(json!({"secs": -600})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, offset) = admin(
        &c,
        reqwest::Method::GET,
        format!("{base}/time-offset"),
        None,
    )
    .await;
    assert_eq!(offset, json!({"secs": -600}));
    let (_, after) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    let on = |v: &Value| {
        v["expires_on"]
            .as_str()
            .expect("s")
            .parse::<i64>()
            .expect("n")
    };
    let shift = on(&before) - on(&after);
    assert!((599..=601).contains(&shift), "{shift}");

    let (status, formats) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/expires-on-format"),
        Some(json!({"endpoint": "imds", "format": "date_string"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(formats, json!({"imds": "date_string"}));
    let (_, body) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    assert!(
        body["expires_on"].as_str().expect("s").ends_with(" +00:00"),
        "{body}"
    );
    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/expires-on-format"),
        Some(json!({"endpoint": "entra_token", "format": "number"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    admin(
        &c,
        reqwest::Method::DELETE,
        format!("{base}/expires-on-format"),
        None,
    )
    .await;
    let (_, body) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    assert!(
        body["expires_on"]
            .as_str()
            .expect("s")
            .parse::<i64>()
            .is_ok(),
        "{body}"
    );
}

#[tokio::test]
async fn registry_can_be_read_and_replaced_over_http() {
    let emu = start().await;
    let c = client();
    let base = format!("{}/_emulator", emu.http_url());
    let assertion = mi_assertion(&emu, &c).await;
    let (_, mut registry) = admin(&c, reqwest::Method::GET, format!("{base}/registry"), None).await;
    assert_eq!(registry["tenant_id"], DEFAULT_TENANT_ID);
    registry["apps"][0]["federated_credentials"][0]["subject"] = json!("someone-else");
    let (status, _) = admin(
        &c,
        reqwest::Method::PUT,
        format!("{base}/registry"),
        Some(registry),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        exchange(&emu, &c, &assertion, "https://graph.microsoft.com/.default").await;
    common::assert_aadsts(status, &body, 401, "invalid_client", 700213);

    let (status, err) = admin(
        &c,
        reqwest::Method::PUT,
        format!("{base}/registry"),
        Some(json!({"tenant": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]
            .as_str()
            .expect("e")
            .contains("unknown field `tenant`"),
        "{err}"
    );
}

#[tokio::test]
async fn verify_over_http() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let url = format!("{}/_emulator/verify", emu.http_url());
    let (_, ok) = admin(
        &c,
        reqwest::Method::POST,
        url.clone(),
        Some(json!({"token": assertion})),
    )
    .await;
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["claims"]["appid"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
    let (_, bad) = admin(
        &c,
        reqwest::Method::POST,
        url,
        Some(json!({"token": "a.b.c"})),
    )
    .await;
    assert_eq!(bad["valid"], false);
    assert!(bad["error"].is_string());
}

#[tokio::test]
async fn shutdown_over_http_stops_the_listener() {
    let emu = start().await;
    let c = client();
    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{}/_emulator/shutdown", emu.http_url()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::timeout(std::time::Duration::from_secs(10), emu.wait_for_shutdown())
        .await
        .expect("shuts down");
    assert!(emu.is_shut_down());
    // The listener closes right after the signal; give its task a moment, then nothing answers.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(emu.http_url().trim_start_matches("http://"))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "listener still accepting after shutdown");
}

#[tokio::test]
async fn https_http2_switch_and_reset_fault_over_http() {
    let emu = start_https().await;
    let c = client();
    let base = format!("{}/_emulator", emu.http_url());
    let (status, on) = admin(
        &c,
        reqwest::Method::GET,
        format!("{base}/https-http2"),
        None,
    )
    .await;
    assert_eq!((status, on), (StatusCode::OK, json!({"enabled": true})));
    let (status, off) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/https-http2"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!((status, off), (StatusCode::OK, json!({"enabled": false})));
    let (_, now) = admin(
        &c,
        reqwest::Method::GET,
        format!("{base}/https-http2"),
        None,
    )
    .await;
    assert_eq!(now, json!({"enabled": false}));
    let (status, _) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/https-http2"),
        Some(json!({"enabled": "no"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, faults) = admin(
        &c,
        reqwest::Method::POST,
        format!("{base}/faults"),
        Some(json!({"endpoint": "entra_token", "reset_mid_body": true, "remaining": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults[0]["reset_mid_body"], true);
    let https = common::https_client(&emu.ca_pem_path().expect("ca.pem"));
    let assertion = mi_assertion(&emu, &client()).await;
    let resp = https
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.https_url().expect("https"),
            emu.tenant_id()
        ))
        .form(&common::exchange_form(
            &emu,
            &assertion,
            "https://graph.microsoft.com/.default",
        ))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err(), "the body is cut by the reset");
    assert_eq!(emu.counters().entra_token, 1);
}
