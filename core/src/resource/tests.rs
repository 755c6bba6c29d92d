use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::Leg;

const APP: &str = "0f3e8b5c-9a2d-4e6f-b1c7-4d8a2e6f0b93";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ACCESS_DENIED: &str = r#"{"error":{"code":"-2147024891, System.UnauthorizedAccessException","message":{"lang":"en-US","value":"Access denied. You do not have permission to perform this action or access this resource."}}}"#;
const EMULATED: &str = "http://127.0.0.1:8080/sharepoint/contoso.sharepoint.com/sites/crm/_api/web/lists/getbytitle('Orders')/items";

/// A token as Entra issues them (the signature is never looked at).
fn token(aud: &str, roles: &[&str], extra: &str) -> String {
    let roles = if roles.is_empty() {
        String::new()
    } else {
        format!(r#","roles":{}"#, serde_json::json!(roles))
    };
    let payload = format!(
        r#"{{"aud":"{aud}","appid":"{APP}","tid":"{TENANT}","exp":4102444800,"appidacr":"2"{roles}{extra}}}"#
    );
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw",
        URL_SAFE_NO_PAD.encode(payload)
    )
}

fn sharepoint_token(roles: &[&str]) -> String {
    token("https://contoso.sharepoint.com", roles, "")
}

#[test]
fn a_sites_selected_403_names_the_site_and_the_graph_grant() {
    for url in [
        EMULATED,
        "https://contoso.sharepoint.com/sites/crm/_api/web/lists/getbytitle('Orders')/items",
    ] {
        let t = sharepoint_token(&["Sites.Selected"]);
        let e = explain_refusal(url, 403, None, ACCESS_DENIED, Some(&t));
        assert_eq!(
            (e.code(), e.leg(), e.http_status()),
            (ErrorCode::ResourceRefused, Leg::Resource, Some(403))
        );
        let message = e.message();
        for part in [
            "SharePoint site contoso.sharepoint.com/sites/crm answered 403",
            "Sites.Selected but no grant on site contoso.sharepoint.com/sites/crm",
            "roles Sites.Selected",
            "audience https://contoso.sharepoint.com",
            APP,
            "Access denied.",
        ] {
            assert!(message.contains(part), "{part} missing from {message}");
        }
        let remedy = e.remedy().expect("remedy");
        for part in [
            "GET https://graph.microsoft.com/v1.0/sites/contoso.sharepoint.com:/sites/crm",
            "POST https://graph.microsoft.com/v1.0/sites/{site-id}/permissions",
            &format!(r#""grantedToIdentities":[{{"application":{{"id":"{APP}""#),
            "Sites.FullControl.All",
            "az rest --method post",
            "Grant-PnPAzureADAppSitePermission",
            "-Site https://contoso.sharepoint.com/sites/crm",
        ] {
            assert!(remedy.contains(part), "{part} missing from {remedy}");
        }
    }
}

#[test]
fn every_text_reads_as_one_line_with_single_spaces() {
    let t = sharepoint_token(&["Sites.Selected"]);
    let graph = token("https://graph.microsoft.com", &["Sites.Selected"], "");
    let cases = [
        (403, None, Some(t.clone())),
        (403, None, Some(sharepoint_token(&[]))),
        (
            401,
            Some(r#"Bearer error="insufficient_claims", claims="e30=""#),
            Some(t.clone()),
        ),
        (
            401,
            Some(r#"Bearer realm="r", error="invalid_token""#),
            Some(t.clone()),
        ),
        (401, None, Some(graph)),
        (403, None, None),
    ];
    for (status, header, tok) in cases {
        let e = explain_refusal(EMULATED, status, header, ACCESS_DENIED, tok.as_deref());
        for text in [e.message(), e.remedy().unwrap_or_default()] {
            assert!(!text.contains("  ") && !text.contains('\n'), "{text}");
        }
    }
}

#[test]
fn an_app_that_reads_every_site_is_not_sent_to_graph_for_a_grant() {
    let t = sharepoint_token(&["Sites.Selected", "Sites.Read.All"]);
    let e = explain_refusal(EMULATED, 403, None, ACCESS_DENIED, Some(&t));
    assert!(!e.message().contains("no grant"), "{}", e.message());
    assert!(e.remedy().is_some_and(|r| r.contains("lacks a permission")));
}

#[test]
fn no_roles_means_admin_consent_is_missing() {
    let e = explain_refusal(
        EMULATED,
        403,
        None,
        ACCESS_DENIED,
        Some(&sharepoint_token(&[])),
    );
    assert!(
        e.message().contains("no application permission"),
        "{}",
        e.message()
    );
    let remedy = e.remedy().expect("remedy");
    assert!(
        remedy.contains("Grant admin consent") && remedy.contains(APP),
        "{remedy}"
    );
}

#[test]
fn a_graph_token_at_sharepoint_is_the_wrong_audience() {
    let t = token("https://graph.microsoft.com", &["Sites.Selected"], "");
    let body = r#"{"error_description":"Invalid audience Uri 'https://graph.microsoft.com'."}"#;
    let e = explain_refusal(
        EMULATED,
        401,
        Some(r#"Bearer realm="x",client_id="y""#),
        body,
        Some(&t),
    );
    assert!(e.message().contains("another resource"), "{}", e.message());
    assert!(
        e.remedy()
            .is_some_and(|r| r.contains("https://contoso.sharepoint.com/.default"))
    );
    // The v1 audience spelling SharePoint also takes is not a wrong audience.
    let t = token(
        &format!("00000003-0000-0ff1-ce00-000000000000/contoso.sharepoint.com@{TENANT}"),
        &["Sites.Selected"],
        "",
    );
    let e = explain_refusal(EMULATED, 403, None, ACCESS_DENIED, Some(&t));
    assert!(e.message().contains("no grant"), "{}", e.message());
}

#[test]
fn a_claims_challenge_says_to_retry_with_the_claims() {
    let header = r#"Bearer realm="",authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",client_id="00000003-0000-0ff1-ce00-000000000000",error="insufficient_claims",claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzY1MDAwMDAwIn19fQ==""#;
    let e = explain_refusal(
        EMULATED,
        401,
        Some(header),
        "",
        Some(&sharepoint_token(&["Sites.Selected"])),
    );
    assert_eq!(e.oauth_error(), Some("insufficient_claims"));
    assert!(e.message().contains("claims challenge"), "{}", e.message());
    assert!(
        e.remedy()
            .is_some_and(|r| r.contains("TokenRequestOptions.claims"))
    );
}

#[test]
fn other_401s_say_what_the_resource_said() {
    let header = r#"Bearer realm="72f988bf", error="invalid_token", error_description="x""#;
    let body = r#"{"error_description":"Invalid issuer or signature."}"#;
    let e = explain_refusal(
        EMULATED,
        401,
        Some(header),
        body,
        Some(&sharepoint_token(&["Sites.Selected"])),
    );
    assert_eq!(e.oauth_error(), Some("invalid_token"));
    assert!(
        e.message().contains("(invalid_token)")
            && e.message().contains("Invalid issuer or signature.")
    );
    let expired = token("https://contoso.sharepoint.com", &[], r#","exp":1000"#);
    // (a second `exp` claim: the last one wins in serde_json, so the token has expired)
    let e = explain_refusal(EMULATED, 401, None, "", Some(&expired));
    assert!(e.message().contains("expired"), "{}", e.message());
    let secret = token(
        "https://contoso.sharepoint.com",
        &["Sites.Selected"],
        r#","appidacr":"1""#,
    );
    let e = explain_refusal(EMULATED, 401, None, "", Some(&secret));
    assert!(e.message().contains("client secret"), "{}", e.message());
}

#[test]
fn without_a_token_or_a_known_resource_it_still_explains() {
    let e = explain_refusal("not a url", 403, None, "not json", None);
    assert_eq!(e.code(), ErrorCode::ResourceRefused);
    assert!(
        e.message().contains("claims were not available"),
        "{}",
        e.message()
    );
    let e = explain_refusal(
        "https://graph.microsoft.com/v1.0/sites/x/lists",
        403,
        None,
        r#"{"error":{"code":"accessDenied","message":"Access denied"}}"#,
        Some(&token(
            "https://graph.microsoft.com",
            &["Sites.Selected"],
            "",
        )),
    );
    assert!(
        e.message().starts_with("Microsoft Graph answered 403"),
        "{}",
        e.message()
    );
    assert!(e.remedy().is_some_and(|r| r.contains("/permissions")));
}

#[test]
fn the_token_and_bearer_values_never_appear_in_the_error() {
    let t = sharepoint_token(&["Sites.Selected"]);
    let opaque = "opaque-bearer-value-0123456789";
    let header = format!(r#"Bearer error="{t}", realm="{opaque}""#);
    let body =
        format!(r#"{{"error_description":"bad token {t} sent as Bearer {opaque} and {opaque}"}}"#);
    for status in [401, 403] {
        for tok in [Some(t.as_str()), Some(opaque), None] {
            let e = explain_refusal(EMULATED, status, Some(&header), &body, tok);
            let shown = format!("{e} {e:?} {}", e.remedy().unwrap_or_default());
            let payload = t.split('.').nth(1).expect("payload");
            assert!(!shown.contains(payload), "token leaked: {shown}");
            assert!(!shown.contains("c2lnbmF0dXJl"), "signature leaked: {shown}");
            if tok == Some(opaque) {
                assert!(!shown.contains(opaque), "bearer value leaked: {shown}");
            }
        }
    }
}

#[test]
fn challenges_are_parsed_with_quotes_commas_and_padding() {
    let p = challenge_params(r#"Bearer realm="", a=b, claims="eyJ9==", c="x,y""#);
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("realm"), Some(""));
    assert_eq!(get("a"), Some("b"));
    assert_eq!(get("claims"), Some("eyJ9=="));
    assert_eq!(get("c"), Some("x,y"));
}
