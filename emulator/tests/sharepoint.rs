//! The SharePoint Online stand-in over HTTP: Sites.Selected grants (admin and Graph shape), the 401/403 answers,
//! and the Continuous Access Evaluation challenge followed by a fresh token.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certless_emulator::{
    DEFAULT_APP_CLIENT_ID, DEFAULT_SHAREPOINT_RESOURCE, DEFAULT_TENANT_ID, GRAPH_RESOURCE,
    RunningEmulator, SiteGrant, SiteRole,
};
use common::{client, exchange, exchange_form, json, mi_assertion, post_token, start, start_https};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SITE: &str = "contoso.sharepoint.com/sites/crm";
const ITEMS: &str = "/_api/web/lists/getbytitle('Orders')/items";
const NOMETADATA: &str = "application/json;odata=nometadata";
const ACCESS_DENIED: &str =
    "Access denied. You do not have permission to perform this action or access this resource.";

/// An app token for `resource`, through the FIC exchange.
async fn app_token(emu: &RunningEmulator, c: &reqwest::Client, resource: &str) -> String {
    let assertion = mi_assertion(emu, c).await;
    let (status, _, body) = exchange(emu, c, &assertion, &format!("{resource}/.default")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

async fn sharepoint_token(emu: &RunningEmulator, c: &reqwest::Client) -> String {
    app_token(emu, c, DEFAULT_SHAREPOINT_RESOURCE).await
}

fn grant(emu: &RunningEmulator, role: SiteRole) {
    emu.grant_site(SiteGrant {
        site: SITE.into(),
        app_id: DEFAULT_APP_CLIENT_ID.into(),
        roles: vec![role],
        display_name: None,
        id: None,
    })
    .expect("grant");
}

async fn get(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = c.get(url).header("Accept", NOMETADATA);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    json(request.send().await.expect("request")).await
}

async fn post_item(
    c: &reqwest::Client,
    url: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = c
        .post(url)
        .header("Accept", NOMETADATA)
        .bearer_auth(token)
        .json(&json!({ "Title": "Order 2001" }))
        .send()
        .await
        .expect("request");
    json(response).await
}

fn assert_access_denied(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body,
        &json!({ "error": { "code": "-2147024891, System.UnauthorizedAccessException",
                            "message": { "lang": "en-US", "value": ACCESS_DENIED } } })
    );
}

#[tokio::test]
async fn a_granted_app_reads_the_list_at_the_url_a_client_builds() {
    let emu = start_https().await;
    let c = common::https_client(&emu.ca_pem_path().expect("ca"));
    grant(&emu, SiteRole::Read);
    let token = sharepoint_token(&emu, &c).await;
    let site = emu.sharepoint_site_url(SITE);
    assert_eq!(site, format!("{}/sharepoint/{SITE}", emu.http_url()));
    assert_eq!(emu.info().sharepoint_site_url, site);
    let https_site = format!("{}/sharepoint/{SITE}", emu.https_url().expect("https"));
    for url in [
        format!("{site}{ITEMS}"),
        format!("{https_site}{ITEMS}"),
        format!("{site}/_api/web/lists/getbytitle(%27Orders%27)/items"),
        format!("{site}/_api/web/lists/getbytitle%28%27Orders%27%29/items"),
    ] {
        let (status, headers, body) = get(&c, &url, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(NOMETADATA)
        );
        let items = body["value"].as_array().expect("value");
        assert_eq!(items.len(), 3, "{body}");
        assert_eq!(items[0]["Title"], "Orders 1001");
    }
    let (status, _, body) = get(
        &c,
        &format!("{site}/_api/web/lists/getbytitle('Orders')/items(2)"),
        Some(&token),
    )
    .await;
    assert_eq!((status, &body["Id"]), (StatusCode::OK, &json!(2)));

    let counters = emu.counters();
    assert_eq!(counters.sharepoint, 5);
    assert_eq!(counters.entra_token, 1);
    assert_eq!(counters.managed_identity(), 1);
}

#[tokio::test]
async fn no_grant_is_403_and_a_read_grant_does_not_write() {
    let emu = start().await;
    let c = client();
    let token = sharepoint_token(&emu, &c).await;
    let url = format!("{}{ITEMS}", emu.sharepoint_site_url(SITE));

    let (status, _, body) = get(&c, &url, Some(&token)).await;
    assert_access_denied(status, &body);

    grant(&emu, SiteRole::Read);
    let (status, _, _) = get(&c, &url, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = post_item(&c, &url, &token).await;
    assert_access_denied(status, &body);
    // Another site of the same host is not granted.
    let other = format!(
        "{}{ITEMS}",
        emu.sharepoint_site_url("contoso.sharepoint.com/sites/hr")
    );
    let (status, _, body) = get(&c, &other, Some(&token)).await;
    assert_access_denied(status, &body);

    grant(&emu, SiteRole::Write);
    let (status, _, body) = post_item(&c, &url, &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["Id"], &body["Title"]),
        (&json!(4), &json!("Order 2001"))
    );
    let (_, _, body) = get(&c, &url, Some(&token)).await;
    assert_eq!(body["value"].as_array().map(Vec::len), Some(4));

    let recorded = emu.requests();
    let last = recorded.last().expect("recorded");
    assert_eq!(last.endpoint, Some(certless_emulator::Endpoint::SharePoint));
    let authorization = last.headers.iter().find(|(n, _)| n == "authorization");
    assert!(authorization.is_some_and(|(_, v)| v.starts_with("<redacted")));
}

#[tokio::test]
async fn tokens_sharepoint_does_not_take_are_401_with_its_challenge() {
    let emu = start().await;
    let c = client();
    grant(&emu, SiteRole::Read);
    let url = format!("{}{ITEMS}", emu.sharepoint_site_url(SITE));
    let challenge = format!(
        "Bearer realm=\"{DEFAULT_TENANT_ID}\",client_id=\"00000003-0000-0ff1-ce00-000000000000\","
    );

    let (status, headers, body) = get(&c, &url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with(&challenge)
    );
    assert_eq!(
        body["error"]["code"],
        "-2147024891, System.UnauthorizedAccessException"
    );

    let graph = app_token(&emu, &c, GRAPH_RESOURCE).await;
    let (status, headers, body) = get(&c, &url, Some(&graph)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with(&challenge)
    );
    assert_eq!(
        body["error_description"],
        format!("Invalid audience Uri '{GRAPH_RESOURCE}'.")
    );

    let (status, _, body) = get(&c, &url, Some("not.a.token")).await;
    assert_eq!(
        (status, &body["error_description"]),
        (
            StatusCode::UNAUTHORIZED,
            &json!("Invalid issuer or signature.")
        )
    );

    let token = sharepoint_token(&emu, &c).await;
    emu.set_time_offset(2 * 3600);
    let (status, _, body) = get(&c, &url, Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "Invalid JWT token. The token is expired."
    );
}

#[tokio::test]
async fn after_a_revocation_a_claims_challenge_then_a_new_token_is_taken() {
    let emu = start().await;
    let c = client();
    grant(&emu, SiteRole::Read);
    let url = format!("{}{ITEMS}", emu.sharepoint_site_url(SITE));
    let old = sharepoint_token(&emu, &c).await;
    assert_eq!(get(&c, &url, Some(&old)).await.0, StatusCode::OK);

    let revoked = c
        .post(format!("{}/_emulator/sharepoint/revoke", emu.http_url()))
        .send()
        .await
        .expect("revoke");
    let (_, _, revoked) = json(revoked).await;
    assert_eq!(revoked["revoked_tokens"], 1);
    let revoked_at = revoked["revoked_at"].as_i64().expect("time");

    let (status, headers, _) = get(&c, &url, Some(&old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let header = headers["www-authenticate"].to_str().unwrap();
    let (head, claims) = header.split_once(",claims=\"").expect("claims");
    assert_eq!(
        head,
        "Bearer realm=\"\",authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\",\
         client_id=\"00000003-0000-0ff1-ce00-000000000000\",error=\"insufficient_claims\""
    );
    let claims = STANDARD
        .decode(claims.trim_end_matches('"'))
        .expect("base64");
    let claims: Value = serde_json::from_slice(&claims).expect("json");
    assert_eq!(
        claims,
        json!({ "access_token": { "nbf": { "essential": true, "value": revoked_at.to_string() } } })
    );

    // The client asks Entra again with the challenge's claims (which bypasses its cache).
    let assertion = mi_assertion(&emu, &c).await;
    let mut form = exchange_form(
        &emu,
        &assertion,
        &format!("{DEFAULT_SHAREPOINT_RESOURCE}/.default"),
    );
    form.push(("claims".into(), claims.to_string()));
    let (status, _, body) = post_token(&emu, &c, &emu.tenant_id(), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["access_token"].as_str().expect("token");
    assert_eq!(get(&c, &url, Some(new)).await.0, StatusCode::OK);
    assert_eq!(get(&c, &url, Some(&old)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn grants_made_the_way_graph_makes_them() {
    let emu = start().await;
    let c = client();
    let base = emu.http_url();
    let (status, _, site) = json(
        c.get(format!(
            "{base}/v1.0/sites/contoso.sharepoint.com:/sites/crm"
        ))
        .send()
        .await
        .expect("site"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{site}");
    let site_id = site["id"].as_str().expect("id");
    assert!(site_id.starts_with("contoso.sharepoint.com,"), "{site_id}");

    let (status, _, permission) = json(
        c.post(format!("{base}/v1.0/sites/{site_id}/permissions"))
            .json(&json!({ "roles": ["write"], "grantedToIdentities": [
                { "application": { "id": DEFAULT_APP_CLIENT_ID, "displayName": "certless-demo-app" } } ] }))
            .send()
            .await
            .expect("grant"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{permission}");
    assert_eq!(permission["roles"], json!(["write"]));
    assert_eq!(
        permission["grantedToIdentitiesV2"][0]["application"]["id"],
        DEFAULT_APP_CLIENT_ID
    );

    let (_, _, grants) = json(
        c.get(format!("{base}/_emulator/sharepoint/grants"))
            .send()
            .await
            .expect("grants"),
    )
    .await;
    assert_eq!(grants[0]["site"], SITE);
    assert_eq!(grants[0]["roles"], json!(["write"]));

    let token = sharepoint_token(&emu, &c).await;
    let url = format!("{}{ITEMS}", emu.sharepoint_site_url(SITE));
    assert_eq!(post_item(&c, &url, &token).await.0, StatusCode::CREATED);

    // Graph's removal of that permission.
    let permission_id = permission["id"].as_str().expect("permission id");
    let removed = c
        .delete(format!(
            "{base}/v1.0/sites/{site_id}/permissions/{permission_id}"
        ))
        .send()
        .await
        .expect("remove");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(post_item(&c, &url, &token).await.0, StatusCode::FORBIDDEN);

    // The admin route's grant, and its removal.
    let added = c
        .post(format!("{base}/_emulator/sharepoint/grants"))
        .json(&json!({ "site": "contoso.sharepoint.com/sites/hr", "app_id": DEFAULT_APP_CLIENT_ID, "roles": ["read"] }))
        .send()
        .await
        .expect("grant");
    assert_eq!(json(added).await.2.as_array().map(Vec::len), Some(1));
    let hr = format!(
        "{}{ITEMS}",
        emu.sharepoint_site_url("contoso.sharepoint.com/sites/hr")
    );
    assert_eq!(get(&c, &hr, Some(&token)).await.0, StatusCode::OK);
    c.delete(format!("{base}/_emulator/sharepoint/grants"))
        .send()
        .await
        .expect("clear");
    assert_eq!(get(&c, &hr, Some(&token)).await.0, StatusCode::FORBIDDEN);

    let counters = emu.counters();
    assert_eq!((counters.graph, counters.sharepoint), (3, 4));
}
