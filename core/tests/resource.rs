//! A token certless obtained, used at the emulator's SharePoint stand-in: the refusals a
//! Sites.Selected app meets (no grant, a claims challenge after a revocation) and certless's
//! explanation of each, then the fixes they name.

mod common;

use certless::{ErrorCode, Leg, TokenRequestOptions};
use certless_emulator::{MiSourceKind, SiteGrant, SiteRole};
use common::*;

const SITE: &str = "contoso.sharepoint.com/sites/crm";

struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: String,
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Answer {
    let response = http
        .get(url)
        .header("Accept", "application/json;odata=nometadata")
        .bearer_auth(token)
        .send()
        .await
        .expect("SharePoint answers");
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.expect("body");
    Answer {
        status,
        www_authenticate,
        body,
    }
}

fn explain(url: &str, answer: &Answer, token: &str) -> certless::Error {
    certless::resource::explain_refusal(
        url,
        answer.status,
        answer.www_authenticate.as_deref(),
        &answer.body,
        Some(token),
    )
}

#[tokio::test]
async fn a_missing_grant_then_a_revocation_explained_and_fixed() {
    let emu = emulator().await;
    let credential = credential(&emu, MiSourceKind::Imds);
    // As certless's own client does (core/src/http): ring, whatever else the process installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!(
        "{}/_api/web/lists/getbytitle('Orders')/items",
        emu.sharepoint_site_url(SITE)
    );
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    let token = token.token.expose().to_string();

    let refused = get(&http, &url, &token).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let e = explain(&url, &refused, &token);
    assert_eq!(
        (e.code(), e.leg(), e.http_status()),
        (ErrorCode::ResourceRefused, Leg::Resource, Some(403))
    );
    assert!(
        e.message()
            .contains("Sites.Selected but no grant on site contoso.sharepoint.com/sites/crm"),
        "{e}"
    );
    let remedy = e.remedy().unwrap();
    assert!(remedy.contains(&emu.default_app_client_id()), "{remedy}");
    assert!(!format!("{e} {e:?}").contains(&token));

    // The fix the remedy names; the same token now works.
    emu.grant_site(SiteGrant {
        site: SITE.into(),
        app_id: emu.default_app_client_id(),
        roles: vec![SiteRole::Read],
        display_name: None,
        id: None,
    })
    .unwrap();
    assert_eq!(get(&http, &url, &token).await.status, 200);

    // A revocation: the claims challenge, explained, and answered with a new token.
    emu.revoke_sharepoint_tokens();
    let challenged = get(&http, &url, &token).await;
    assert_eq!(challenged.status, 401);
    let e = explain(&url, &challenged, &token);
    assert_eq!(e.oauth_error(), Some("insufficient_claims"));
    let header = challenged.www_authenticate.unwrap();
    let claims = header
        .split_once("claims=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap();
    use base64::Engine;
    let claims = base64::engine::general_purpose::STANDARD
        .decode(claims)
        .unwrap();
    let options = TokenRequestOptions {
        claims: Some(String::from_utf8(claims).unwrap()),
        ..TokenRequestOptions::default()
    };
    let fresh = credential
        .get_token_with(&[SHAREPOINT], &options)
        .await
        .unwrap();
    assert_ne!(fresh.token.expose(), token);
    assert_eq!(get(&http, &url, fresh.token.expose()).await.status, 200);
    // The cache now holds the new token.
    let cached = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(cached.token.expose(), fresh.token.expose());
}
