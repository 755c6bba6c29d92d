//! IMDS's own signals over HTTP: the `Server` header on every IMDS answer, `/metadata/versions`,
//! `getPlatformMetadata` (404 unless the registry enables it), their counter apart from token requests, and faults.

mod common;

use certless_emulator::{
    DEFAULT_IMDS_SERVER, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USER_ASSIGNED_CLIENT_ID, Endpoint, Fault, RunningEmulator,
};
use common::{client, json, start};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

async fn imds_get(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    path: &str,
    metadata: bool,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = c.get(format!("{}{path}", emu.imds_host()));
    if metadata {
        request = request.header("Metadata", "true");
    }
    json(request.send().await.expect("imds request")).await
}

fn server(headers: &HeaderMap) -> Option<&str> {
    headers.get("server").and_then(|v| v.to_str().ok())
}

const TOKEN: &str =
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com";
const PLATFORM: &str = "/metadata/identity/getPlatformMetadata?api-version=2024-03-15";

async fn put_registry(emu: &RunningEmulator, c: &reqwest::Client, change: impl FnOnce(&mut Value)) {
    let base = format!("{}/_emulator/registry", emu.http_url());
    let mut registry: Value = c
        .get(&base)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    change(&mut registry);
    let (status, _, body) = json(c.put(&base).json(&registry).send().await.expect("PUT")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_imds_answer_names_the_imds_server() {
    let emu = start().await;
    let c = client();
    let (status, headers, body) = imds_get(
        &emu,
        &c,
        &format!("{TOKEN}&client_id={DEFAULT_USER_ASSIGNED_CLIENT_ID}"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server(&headers), Some(DEFAULT_IMDS_SERVER));
    assert_eq!(DEFAULT_IMDS_SERVER, "IMDS/150.870.65.1854");

    // Refusals and the metadata routes too.
    let (status, headers, _) = imds_get(&emu, &c, TOKEN, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server(&headers), Some(DEFAULT_IMDS_SERVER));
    let (_, headers, _) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(server(&headers), Some(DEFAULT_IMDS_SERVER));
    let (_, headers, _) = imds_get(&emu, &c, PLATFORM, true).await;
    assert_eq!(server(&headers), Some(DEFAULT_IMDS_SERVER));

    // Other endpoints are not IMDS.
    let response = c
        .get(format!(
            "{}/{DEFAULT_TENANT_ID}/discovery/v2.0/keys",
            emu.authority_host()
        ))
        .send()
        .await
        .expect("jwks");
    assert_ne!(server(response.headers()), Some(DEFAULT_IMDS_SERVER));

    put_registry(&emu, &c, |r| r["imds_server"] = json!("IMDS/1.2.3.4")).await;
    let (_, headers, _) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(server(&headers), Some("IMDS/1.2.3.4"));
}

#[tokio::test]
async fn versions_lists_the_identity_endpoint_versions() {
    let emu = start().await;
    let c = client();
    let (status, _, body) = imds_get(&emu, &c, "/metadata/versions", false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": "Required metadata header not specified" })
    );

    let (status, _, body) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let versions: Vec<&str> = body["apiVersions"]
        .as_array()
        .expect("apiVersions")
        .iter()
        .map(|v| v.as_str().expect("text"))
        .collect();
    assert_eq!(versions.first(), Some(&"2018-02-01"));
    assert!(versions.contains(&"2019-08-01"), "{versions:?}");
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "sorted: {versions:?}"
    );
    // Each listed version is one the token route takes.
    for v in [
        versions[0],
        versions[versions.len() / 2],
        versions[versions.len() - 1],
    ] {
        let path = format!(
            "/metadata/identity/oauth2/token?api-version={v}&resource=https://management.azure.com&client_id={DEFAULT_USER_ASSIGNED_CLIENT_ID}"
        );
        let (status, _, body) = imds_get(&emu, &c, &path, true).await;
        assert_eq!(status, StatusCode::OK, "{v}: {body}");
    }

    let counters = emu.counters();
    assert_eq!(counters.imds_metadata, 2);
    assert_eq!(counters.imds, 3, "token requests alone");
}

#[tokio::test]
async fn platform_metadata_is_absent_unless_the_registry_enables_it() {
    let emu = start().await;
    let c = client();
    let (status, _, body) = imds_get(&emu, &c, PLATFORM, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    put_registry(&emu, &c, |r| r["imds_platform_metadata"] = json!(true)).await;
    let (status, _, body) = imds_get(&emu, &c, PLATFORM, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
    assert_eq!(body["tenant_id"], DEFAULT_TENANT_ID);
    assert_eq!(body["attestationEndpoint"], Value::Null);
    let cu_id = body["cuId"].as_str().expect("cuId").to_string();
    assert_eq!(cu_id.len(), 36, "{cu_id}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{body}");

    // The lowercase path, the same answer; the guards as the token route's.
    let (status, _, again) = imds_get(
        &emu,
        &c,
        "/metadata/identity/getplatformmetadata?api-version=2024-03-15",
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, body);
    let (status, _, _) = imds_get(&emu, &c, PLATFORM, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) =
        imds_get(&emu, &c, "/metadata/identity/getPlatformMetadata", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Without a system-assigned identity, the first user-assigned one.
    put_registry(&emu, &c, |r| r["system_assigned"] = Value::Null).await;
    let (status, _, body) = imds_get(&emu, &c, PLATFORM, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
    assert_eq!(body["cuId"], cu_id.as_str());

    assert_eq!(emu.counters().imds_metadata, 6);
    assert_eq!(emu.counters().imds, 0);
}

#[tokio::test]
async fn faults_on_the_metadata_routes_keep_the_server_header() {
    let emu = start().await;
    let c = client();
    emu.set_fault(Endpoint::ImdsMetadata, Fault::http_status(500).times(1));
    let (status, headers, body) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "internal_error");
    assert_eq!(server(&headers), Some(DEFAULT_IMDS_SERVER));
    let (status, _, _) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(status, StatusCode::OK);

    // The token route's faults are its own.
    let (status, _, body) = json(
        c.post(format!("{}/_emulator/faults", emu.http_url()))
            .json(&json!({ "endpoint": "imds_metadata", "status": 429, "remaining": 1 }))
            .send()
            .await
            .expect("set fault"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = imds_get(
        &emu,
        &c,
        &format!("{TOKEN}&client_id={DEFAULT_USER_ASSIGNED_CLIENT_ID}"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = imds_get(&emu, &c, "/metadata/versions", true).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
