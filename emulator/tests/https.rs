//! The HTTPS listener: trusted through the CA in ca.pem, for 127.0.0.1 and localhost.

mod common;

use certless_emulator::{ARM_RESOURCE, EmulatorConfig, StartOptions};
use common::{https_client, json, start_with};
use reqwest::StatusCode;

fn https_opts(state_dir: Option<std::path::PathBuf>) -> StartOptions {
    StartOptions {
        http_port: 0,
        https_port: Some(0),
        state_dir,
    }
}

#[tokio::test]
async fn https_listener_serves_the_same_endpoints() {
    let dir = std::env::temp_dir().join(format!("certless-emulator-test-{}", std::process::id()));
    let emu = start_with(EmulatorConfig::default(), https_opts(Some(dir.clone()))).await;
    let https = emu.https_url().expect("https on");
    assert!(https.starts_with("https://127.0.0.1:"), "{https}");
    assert_eq!(emu.authority_host_https(), Some(https.clone()));
    let ca = emu.ca_pem_path().expect("ca path");
    assert_eq!(ca, dir.join("ca.pem"));
    let pem = std::fs::read_to_string(&ca).expect("ca.pem written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    let c = https_client(&ca);
    let port = https.rsplit(':').next().expect("port");
    for base in [https.clone(), format!("https://localhost:{port}")] {
        let resp = c
            .get(format!("{base}/metadata/identity/oauth2/token"))
            .header("Metadata", "true")
            .query(&[("api-version", "2018-02-01"), ("resource", ARM_RESOURCE)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{base}: {e:?}"));
        assert_eq!(resp.status(), StatusCode::OK, "{base}");
    }

    // Discovery over https points back at https.
    let tenant = emu.tenant_id();
    let resp = c
        .get(format!(
            "{https}/{tenant}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery");
    let (status, _, doc) = json(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["token_endpoint"],
        format!("{https}/{tenant}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{https}/{tenant}/discovery/v2.0/keys")
    );
    assert_eq!(
        doc["issuer"],
        format!("https://login.microsoftonline.com/{tenant}/v2.0")
    );

    let resp = c
        .get(doc["jwks_uri"].as_str().expect("uri"))
        .send()
        .await
        .expect("keys");
    let (status, _, jwks) = json(resp).await;
    assert_eq!(status, StatusCode::OK);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["kid"], key["x5t"]);
    assert!(
        key["n"].as_str().expect("n").len() >= 340,
        "2048-bit modulus"
    );

    // The token's kid names the published key.
    let (_, body) = common::imds(&emu, &common::client(), ARM_RESOURCE, &[]).await;
    let token = body["access_token"].as_str().expect("token");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().expect("header"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");

    // A client that does not trust the CA is refused.
    let untrusting = common::client();
    assert!(
        untrusting
            .get(format!("{https}/_emulator/info"))
            .send()
            .await
            .is_err()
    );

    drop(emu);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn default_state_dir_is_temporary() {
    let emu = start_with(EmulatorConfig::default(), https_opts(None)).await;
    let ca = emu.ca_pem_path().expect("ca");
    assert!(ca.exists());
    drop(emu);
    assert!(
        !ca.exists(),
        "the emulator's own temporary directory is removed at shutdown"
    );
}

#[tokio::test]
async fn http_only_has_no_ca() {
    let emu = common::start().await;
    assert_eq!(emu.https_url(), None);
    assert_eq!(emu.ca_pem_path(), None);
}

#[tokio::test]
async fn instance_discovery_names_this_host() {
    let emu = start_with(EmulatorConfig::default(), https_opts(None)).await;
    let https = emu.https_url().expect("https");
    let tenant = emu.tenant_id();
    let c = https_client(&emu.ca_pem_path().expect("ca"));
    let resp = c
        .get(format!("{https}/common/discovery/instance"))
        .query(&[
            ("api-version", "1.1"),
            (
                "authorization_endpoint",
                &format!("{https}/{tenant}/oauth2/v2.0/authorize"),
            ),
        ])
        .send()
        .await
        .expect("instance discovery");
    let (status, _, doc) = json(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["tenant_discovery_endpoint"],
        format!("{https}/{tenant}/v2.0/.well-known/openid-configuration")
    );
    let host = https.trim_start_matches("https://");
    assert_eq!(doc["metadata"][0]["aliases"], serde_json::json!([host]));
    assert_eq!(emu.counters().instance_discovery, 1);
}

#[tokio::test]
async fn http2_is_served_and_discovery_uses_the_authority() {
    let emu = common::start().await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .build()
        .expect("client");
    let (status, body) = common::imds(&emu, &c, ARM_RESOURCE, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = c
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            emu.http_url(),
            emu.tenant_id()
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let (_, _, doc) = json(resp).await;
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/{}/oauth2/v2.0/token", emu.http_url(), emu.tenant_id())
    );
}
