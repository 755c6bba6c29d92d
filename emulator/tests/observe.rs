//! Counters and recorded requests, with credentials redacted.

mod common;

use certless_emulator::{ARM_RESOURCE, Counters, Endpoint};
use common::{client, exchange, imds, mi_assertion, start};
use reqwest::StatusCode;

#[tokio::test]
async fn counts_each_endpoint_and_not_the_admin_surface() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    imds(&emu, &c, ARM_RESOURCE, &[]).await;
    exchange(&emu, &c, &assertion, "https://graph.microsoft.com/.default").await;
    let tenant = emu.tenant_id();
    for path in [
        format!("/{tenant}/v2.0/.well-known/openid-configuration"),
        format!("/{tenant}/discovery/v2.0/keys"),
        "/common/discovery/v2.0/keys".to_string(),
        "/nowhere".to_string(),
        "/_emulator/counters".to_string(),
        "/_emulator/info".to_string(),
    ] {
        c.get(format!("{}{path}", emu.http_url()))
            .send()
            .await
            .expect("request");
    }
    assert_eq!(
        emu.counters(),
        Counters {
            imds: 2,
            app_service: 0,
            cloud_shell: 0,
            azure_arc: 0,
            service_fabric: 0,
            entra_token: 1,
            openid_metadata: 1,
            jwks: 2,
            instance_discovery: 0,
            key_vault: 0,
            sharepoint: 0,
            graph: 0,
            imds_metadata: 0,
            unmatched: 1,
        }
    );
    emu.reset_counters();
    assert_eq!(emu.counters(), Counters::default());
}

#[tokio::test]
async fn recorded_requests_redact_the_assertion() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    emu.clear_requests();
    let resp = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.authority_host(),
            emu.tenant_id()
        ))
        .header("Authorization", "Bearer should-not-be-kept")
        .form(&common::exchange_form(
            &emu,
            &assertion,
            "https://graph.microsoft.com/.default",
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let token = resp.text().await.expect("body");

    let recorded = emu.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.endpoint, Some(Endpoint::EntraToken));
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/{}/oauth2/v2.0/token", emu.tenant_id()));
    assert_eq!(r.status, Some(200));
    let field = |name: &str| {
        r.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        field("client_assertion"),
        Some(format!("<redacted {} bytes>", assertion.len()))
    );
    assert_eq!(
        field("scope").as_deref(),
        Some("https://graph.microsoft.com/.default")
    );
    assert_eq!(field("client_id"), Some(emu.default_app_client_id()));
    let names: Vec<&str> = r.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "scope",
            "grant_type",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    let auth = r
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("<redacted 25 bytes>"));
    assert!(
        r.headers
            .iter()
            .all(|(k, _)| k.chars().all(|ch| !ch.is_ascii_uppercase()))
    );

    // Neither the assertion nor the issued token appears anywhere in what was recorded.
    let dump = serde_json::to_string(&recorded).expect("serializable");
    let issued: serde_json::Value = serde_json::from_str(&token).expect("json");
    assert!(!dump.contains(&assertion));
    assert!(!dump.contains(issued["access_token"].as_str().expect("token")));

    emu.clear_requests();
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn recorded_query_keeps_order() {
    let emu = start().await;
    let c = client();
    let mi = emu.default_user_assigned();
    imds(&emu, &c, ARM_RESOURCE, &[("client_id", &mi.client_id)]).await;
    let r = &emu.requests()[0];
    assert_eq!(r.endpoint, Some(Endpoint::Imds));
    assert_eq!(
        r.query,
        vec![
            ("api-version".to_string(), "2018-02-01".to_string()),
            ("resource".to_string(), ARM_RESOURCE.to_string()),
            ("client_id".to_string(), mi.client_id.clone()),
        ]
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "metadata" && v == "true")
    );
}

#[tokio::test]
async fn date_header_follows_the_skewed_clock() {
    let emu = start().await;
    let c = client();
    let year_of = |resp: &reqwest::Response| -> i64 {
        let date = resp.headers()["date"].to_str().expect("date").to_string();
        date.split_whitespace()
            .nth(3)
            .expect("year")
            .parse()
            .expect("number")
    };
    let now = c
        .get(format!("{}/_emulator/info", emu.http_url()))
        .send()
        .await
        .expect("req");
    let this_year = year_of(&now);
    emu.set_time_offset(-10 * 366 * 86_400);
    let then = c
        .get(format!("{}/_emulator/info", emu.http_url()))
        .send()
        .await
        .expect("req");
    let skewed_year = year_of(&then);
    assert!(
        (9..=11).contains(&(this_year - skewed_year)),
        "{this_year} vs {skewed_year}"
    );
}
