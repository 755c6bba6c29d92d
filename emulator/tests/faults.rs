//! Fault injection as clients see it on the wire.

mod common;

use std::time::{Duration, Instant};

use certless_emulator::{ARM_RESOURCE, Endpoint, Fault, FaultBody};
use common::{client, exchange, imds, mi_assertion, start, start_https};
use reqwest::{StatusCode, Version};

async fn imds_raw(
    emu: &certless_emulator::RunningEmulator,
    c: &reqwest::Client,
) -> reqwest::Result<reqwest::Response> {
    c.get(format!(
        "{}/metadata/identity/oauth2/token",
        emu.imds_host()
    ))
    .header("Metadata", "true")
    .query(&[("api-version", "2018-02-01"), ("resource", ARM_RESOURCE)])
    .send()
    .await
}

#[tokio::test]
async fn throttling_twice_then_success() {
    let emu = start().await;
    let c = client();
    emu.set_fault(
        Endpoint::Imds,
        Fault::http_status(429).retry_after(5).times(2),
    );
    for _ in 0..2 {
        let resp = imds_raw(&emu, &c).await.expect("answer");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "5");
        let body: serde_json::Value = resp.json().await.expect("IMDS-shaped JSON");
        assert_eq!(body["error"], "too_many_requests");
    }
    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("retry-after").is_none());
    let faulted: Vec<bool> = emu.requests().iter().map(|r| r.fault_applied).collect();
    assert_eq!(faulted, vec![true, true, false]);
}

#[tokio::test]
async fn entra_fault_has_entras_shape() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    emu.set_fault(Endpoint::EntraToken, Fault::http_status(503).times(1));
    let (status, _, body) =
        exchange(&emu, &c, &assertion, "https://graph.microsoft.com/.default").await;
    common::assert_aadsts(status, &body, 503, "temporarily_unavailable", 90033);
    let (status, _, body) =
        exchange(&emu, &c, &assertion, "https://graph.microsoft.com/.default").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn app_service_fault_has_app_service_shape() {
    let emu = start().await;
    emu.set_fault(Endpoint::AppService, Fault::http_status(500));
    let resp = client()
        .get(emu.app_service_endpoint())
        .header("X-IDENTITY-HEADER", emu.app_service_secret())
        .query(&[("api-version", "2019-08-01"), ("resource", ARM_RESOURCE)])
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["statusCode"], 500);
    emu.clear_faults();
    let (status, _) = imds(&emu, &client(), ARM_RESOURCE, &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn delay_holds_the_answer_back() {
    let emu = start().await;
    let c = client();
    emu.set_fault(
        Endpoint::Imds,
        Fault::delayed(Duration::from_millis(300)).times(1),
    );
    let started = Instant::now();
    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    // A lower bound only: sleeping never ends early.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn broken_bodies() {
    let emu = start().await;
    let c = client();
    emu.set_fault(
        Endpoint::Imds,
        Fault::broken_body(FaultBody::Malformed).times(1),
    );
    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    assert!(!text.is_empty());

    emu.set_fault(
        Endpoint::Imds,
        Fault::http_status(500).with_body(FaultBody::Empty).times(1),
    );
    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.text().await.expect("text"), "");

    emu.set_fault(
        Endpoint::Imds,
        Fault::http_status(403)
            .with_body(FaultBody::Custom("unreachable network".into()))
            .times(1),
    );
    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.text().await.expect("text"), "unreachable network");

    let resp = imds_raw(&emu, &c).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn dropped_connection_gets_no_answer() {
    let emu = start().await;
    emu.set_fault(Endpoint::Imds, Fault::dropped_connection().times(1));
    let err = imds_raw(&emu, &client())
        .await
        .expect_err("the connection is closed without an answer");
    assert!(!err.is_status(), "{err:?}");
    let recorded = emu.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, None);
    assert!(recorded[0].fault_applied);

    let resp = imds_raw(&emu, &client()).await.expect("answers again");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A client of the HTTPS listener that offers HTTP/2 as well as HTTP/1.1 (ALPN), as reqwest's
/// default TLS does.
fn alpn_client(ca_pem: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).expect("ca.pem") {
        roots.add(cert.expect("certificate")).expect("CA accepted");
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("client")
}

#[tokio::test]
async fn reset_mid_body_sends_the_head_and_half_the_body_then_resets() {
    let emu = start_https().await;
    let https = emu.https_url().expect("https on");
    let ca = emu.ca_pem_path().expect("ca.pem");
    let cases = [
        (client(), emu.http_url(), true, Version::HTTP_11),
        (alpn_client(&ca), https.clone(), true, Version::HTTP_2),
        (alpn_client(&ca), https.clone(), false, Version::HTTP_11),
    ];
    for (c, base, http2, version) in cases {
        emu.set_https_http2(http2);
        emu.clear_requests();
        emu.set_fault(Endpoint::Imds, Fault::reset_mid_body().times(1));
        let url = format!("{base}/metadata/identity/oauth2/token");
        let query = [("api-version", "2018-02-01"), ("resource", ARM_RESOURCE)];
        let resp = c
            .get(&url)
            .header("Metadata", "true")
            .query(&query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{base}: the head arrives: {e:?}"));
        assert_eq!(resp.status(), StatusCode::OK, "{base}");
        assert_eq!(resp.version(), version, "{base}, http2 offered: {http2}");
        let full = resp.content_length().expect("the whole body's length");
        let mut resp = resp;
        let mut received = 0;
        let err = loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => received += chunk.len() as u64,
                Ok(None) => panic!("{base}: the body ended after {received} of {full} bytes"),
                Err(e) => break e,
            }
        };
        assert!(received < full, "{base}: {received} of {full} bytes");
        let cause = format!("{err:?}").to_ascii_lowercase();
        assert!(cause.contains("reset"), "{base}: {cause}");
        let recorded = emu.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].status, Some(200));
        assert!(recorded[0].fault_applied);

        let resp = c
            .get(&url)
            .header("Metadata", "true")
            .query(&query)
            .send()
            .await
            .expect("answers again");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("the whole body this time");
    }
}
