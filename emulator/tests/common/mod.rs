//! Helpers shared by the integration tests: reqwest clients with an explicit ring TLS config (no process-wide
//! CryptoProvider), and the requests every test makes.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use certless_emulator::{
    Emulator, EmulatorConfig, RunningEmulator, StartOptions, TOKEN_EXCHANGE_AUDIENCE,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn tls_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A client for the HTTP listener. Never goes through a proxy.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls_config(rustls::RootCertStore::empty()))
        .build()
        .expect("client")
}

/// A client that trusts the emulator's CA and nothing else.
pub(crate) fn https_client(ca_pem: &Path) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).expect("ca.pem readable") {
        roots.add(cert.expect("certificate")).expect("CA accepted");
    }
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls_config(roots))
        .build()
        .expect("client")
}

pub(crate) async fn start() -> RunningEmulator {
    start_with(EmulatorConfig::default(), StartOptions::default()).await
}

pub(crate) async fn start_with(config: EmulatorConfig, opts: StartOptions) -> RunningEmulator {
    Emulator::start(config, opts)
        .await
        .expect("emulator starts")
}

/// The default emulator over http and https (its own CA), on free loopback ports.
pub(crate) async fn start_https() -> RunningEmulator {
    start_with(
        EmulatorConfig::default(),
        StartOptions {
            https_port: Some(0),
            ..StartOptions::default()
        },
    )
    .await
}

pub(crate) async fn json(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, headers, value)
}

/// IMDS token request with `Metadata: true` and extra query parameters.
pub(crate) async fn imds(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    resource: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut query = vec![("api-version", "2018-02-01"), ("resource", resource)];
    query.extend_from_slice(extra);
    let resp = c
        .get(format!(
            "{}/metadata/identity/oauth2/token",
            emu.imds_host()
        ))
        .header("Metadata", "true")
        .query(&query)
        .send()
        .await
        .expect("imds request");
    let (status, _, body) = json(resp).await;
    (status, body)
}

/// The default user-assigned identity's token for the token-exchange audience: a valid FIC assertion.
pub(crate) async fn mi_assertion(emu: &RunningEmulator, c: &reqwest::Client) -> String {
    let mi = emu.default_user_assigned();
    let (status, body) = imds(
        emu,
        c,
        TOKEN_EXCHANGE_AUDIENCE,
        &[("client_id", &mi.client_id)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// The form of a FIC exchange for the default app.
pub(crate) fn exchange_form(
    emu: &RunningEmulator,
    assertion: &str,
    scope: &str,
) -> Vec<(String, String)> {
    vec![
        ("client_id".into(), emu.default_app_client_id()),
        ("scope".into(), scope.into()),
        ("grant_type".into(), "client_credentials".into()),
        ("client_assertion_type".into(), JWT_BEARER.into()),
        ("client_assertion".into(), assertion.into()),
    ]
}

pub(crate) async fn post_token(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    tenant: &str,
    form: &[(String, String)],
) -> (StatusCode, HeaderMap, Value) {
    let resp = c
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .form(form)
        .send()
        .await
        .expect("token request");
    json(resp).await
}

/// Exchanges an assertion for the default app in the emulator's tenant.
pub(crate) async fn exchange(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    assertion: &str,
    scope: &str,
) -> (StatusCode, HeaderMap, Value) {
    post_token(
        emu,
        c,
        &emu.tenant_id(),
        &exchange_form(emu, assertion, scope),
    )
    .await
}

/// Asserts an Entra error answer: status, `error`, `error_codes`, and the description's AADSTS prefix.
pub(crate) fn assert_aadsts(
    status: StatusCode,
    body: &Value,
    want_status: u16,
    want_error: &str,
    code: u64,
) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"], want_error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let desc = body["error_description"]
        .as_str()
        .expect("error_description");
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(desc.contains("\r\nTrace ID: "), "{desc}");
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}
