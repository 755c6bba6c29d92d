//! Entra's token endpoint: the FIC exchange and each way it fails, with Entra's codes and JSON.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certless_emulator::{
    DEFAULT_APP_CLIENT_ID, DEFAULT_APP_SERVICE_PRINCIPAL_ID, DEFAULT_OTHER_TENANT_ID,
    DEFAULT_SHAREPOINT_RESOURCE, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USER_ASSIGNED_OBJECT_ID, GRAPH_RESOURCE, TOKEN_EXCHANGE_AUDIENCE, UserAssignedIdentity,
};
use common::{
    assert_aadsts, client, exchange, exchange_form, imds, mi_assertion, post_token, start,
};
use reqwest::StatusCode;
use serde_json::json;

const SP_SCOPE: &str = "https://contoso.sharepoint.com/.default";

#[tokio::test]
async fn happy_exchange_issues_an_app_token_with_roles() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let (status, headers, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_in").is_none(), "{body}");
    assert_eq!(headers["cache-control"], "no-store, no-cache");
    assert!(headers.contains_key("x-ms-request-id"));

    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims["aud"], DEFAULT_SHAREPOINT_RESOURCE);
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/")
    );
    assert_eq!(claims["appid"], DEFAULT_APP_CLIENT_ID);
    assert_eq!(claims["azp"], DEFAULT_APP_CLIENT_ID);
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["azpacr"], "2");
    assert_eq!(claims["roles"], json!(["Sites.Selected"]));
    assert_eq!(claims["oid"], DEFAULT_APP_SERVICE_PRINCIPAL_ID);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        3599
    );

    let (status, _, body) =
        exchange(&emu, &c, &assertion, &format!("{GRAPH_RESOURCE}/.default")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims["roles"], json!(["User.Read.All"]));

    // A resource without app roles: no `roles` claim at all.
    let (status, _, body) = exchange(
        &emu,
        &c,
        &assertion,
        "https://management.azure.com//.default",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert!(claims.get("roles").is_none(), "{claims}");
    assert_eq!(claims["aud"], "https://management.azure.com/");
}

#[tokio::test]
async fn refresh_in_is_sent_when_configured() {
    let emu = start().await;
    emu.update_registry(|r| r.refresh_in_secs = Some(1800));
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["refresh_in"], 1800);
}

#[tokio::test]
async fn subject_mismatch_is_700213() {
    let emu = start().await;
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = "00000000-1111-4222-8333-444444444444".into()
    });
    let c = client();
    let (status, _, body) = exchange(&emu, &c, &mi_assertion(&emu, &c).await, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700213);
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.contains(&format!(
            "presented assertion subject '{DEFAULT_USER_ASSIGNED_OBJECT_ID}'"
        )),
        "{desc}"
    );
}

#[tokio::test]
async fn subject_differing_only_in_case_does_not_match() {
    let emu = start().await;
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = DEFAULT_USER_ASSIGNED_OBJECT_ID.to_uppercase();
    });
    let c = client();
    let (status, _, body) = exchange(&emu, &c, &mi_assertion(&emu, &c).await, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 7002138);
    assert!(
        body["error_description"]
            .as_str()
            .expect("desc")
            .contains("case-insensitive comparison")
    );
}

#[tokio::test]
async fn issuer_with_trailing_slash_does_not_match() {
    let emu = start().await;
    emu.update_registry(|r| r.apps[0].federated_credentials[0].issuer.push('/'));
    let c = client();
    let (status, _, body) = exchange(&emu, &c, &mi_assertion(&emu, &c).await, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700211);
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.contains(&format!(
            "assertion issuer 'https://login.microsoftonline.com/{DEFAULT_TENANT_ID}/v2.0'"
        )),
        "{desc}"
    );
}

#[tokio::test]
async fn audience_mismatch_is_700212() {
    let emu = start().await;
    let c = client();
    let mi = emu.default_user_assigned();
    // A token for the US Gov exchange audience, presented to a FIC that expects the public one.
    let (status, body) = imds(
        &emu,
        &c,
        "api://AzureADTokenExchangeUSGov",
        &[("client_id", &mi.client_id)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let assertion = body["access_token"].as_str().expect("token");
    let (status, _, body) = exchange(&emu, &c, assertion, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700212);
}

#[tokio::test]
async fn app_without_federated_credentials_gets_70021_with_the_claims_echoed() {
    let emu = start().await;
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let c = client();
    let (status, _, body) = exchange(&emu, &c, &mi_assertion(&emu, &c).await, SP_SCOPE).await;
    assert_aadsts(status, &body, 400, "invalid_request", 70021);
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.contains(&format!(
            "Assertion Issuer: 'https://login.microsoftonline.com/{DEFAULT_TENANT_ID}/v2.0'. Assertion Subject: \
             '{DEFAULT_USER_ASSIGNED_OBJECT_ID}'. Assertion Audience: '{TOKEN_EXCHANGE_AUDIENCE}'."
        )),
        "{desc}"
    );
}

#[tokio::test]
async fn system_assigned_assertion_is_refused_unless_the_app_allows_it() {
    let emu = start().await;
    let c = client();
    let sa = emu.system_assigned().expect("built-in host has one");
    emu.update_registry(|r| r.apps[0].federated_credentials[0].subject = sa.object_id.clone());
    let (status, body) = imds(
        &emu,
        &c,
        TOKEN_EXCHANGE_AUDIENCE,
        &[("client_id", DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let assertion = body["access_token"].as_str().expect("token").to_string();
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_aadsts(status, &body, 400, "invalid_request", 70021);

    emu.update_registry(|r| r.apps[0].allow_system_assigned_fic = true);
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn expired_assertion_is_700024() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    // One day and the five-minute tolerance later, the 24-hour MI token has expired.
    emu.set_time_offset(86_399 + 300 + 60);
    let (status, headers, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700024);
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.contains("Client assertion is not within its valid time range. Current time: "),
        "{desc}"
    );
    // The Date header shows the skewed clock too.
    let date = headers["date"].to_str().expect("date");
    let today = emu.verify_access_token(&assertion);
    assert!(
        today.is_err(),
        "the skewed clock also expires the token for verify_access_token"
    );
    assert!(date.ends_with(" GMT"), "{date}");

    emu.set_time_offset(0);
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn assertion_from_the_future_is_700024() {
    let emu = start().await;
    let c = client();
    emu.set_time_offset(3600);
    let assertion = mi_assertion(&emu, &c).await;
    emu.set_time_offset(0);
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700024);
}

#[tokio::test]
async fn short_lived_assertion_expires() {
    let emu = start().await;
    emu.update_registry(|r| {
        r.mi_token_lifetime_secs = 60;
        r.assertion_clock_skew_secs = 0;
    });
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    emu.set_time_offset(61);
    let (status, _, body) = exchange(&emu, &c, &assertion, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700024);
}

#[tokio::test]
async fn forged_signature_is_700027() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let parts: Vec<&str> = assertion.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    claims["oid"] = json!("tampered");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let (status, _, body) = exchange(&emu, &c, &forged, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700027);
    assert!(
        body["error_description"]
            .as_str()
            .expect("desc")
            .contains("Key was found")
    );

    // Same claims, signed by another emulator's key: the key is unknown here.
    let other = start().await;
    let foreign = mi_assertion(&other, &c).await;
    let (status, _, body) = exchange(&emu, &c, &foreign, SP_SCOPE).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700027);
    assert!(
        body["error_description"]
            .as_str()
            .expect("desc")
            .contains("The key was not found.")
    );
}

#[tokio::test]
async fn assertion_that_is_not_a_jwt_is_50027() {
    let emu = start().await;
    let c = client();
    for junk in ["not-a-jwt", "a.b.c", &"eyJ".repeat(40_000)] {
        let (status, _, body) = exchange(&emu, &c, junk, SP_SCOPE).await;
        assert_aadsts(status, &body, 400, "invalid_request", 50027);
    }
}

#[tokio::test]
async fn unknown_app_is_700016() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let mut form = exchange_form(&emu, &assertion, SP_SCOPE);
    form[0].1 = "99999999-9999-4999-8999-999999999999".into();
    let (status, _, body) = post_token(&emu, &c, DEFAULT_TENANT_ID, &form).await;
    assert_aadsts(status, &body, 400, "unauthorized_client", 700016);
    // The app exists, but not in the other tenant.
    let form = exchange_form(&emu, &assertion, SP_SCOPE);
    let (status, _, body) = post_token(&emu, &c, DEFAULT_OTHER_TENANT_ID, &form).await;
    assert_aadsts(status, &body, 400, "unauthorized_client", 700016);
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let emu = start().await;
    let c = client();
    let form = exchange_form(&emu, "x", SP_SCOPE);
    let (status, _, body) = post_token(&emu, &c, "contoso-does-not-exist", &form).await;
    assert_aadsts(status, &body, 400, "invalid_request", 90002);
    assert!(
        body["error_description"]
            .as_str()
            .expect("desc")
            .contains("Tenant 'contoso-does-not-exist' not found")
    );
}

#[tokio::test]
async fn tenant_id_is_matched_without_regard_to_case() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let form = exchange_form(&emu, &assertion, SP_SCOPE);
    let (status, _, body) = post_token(&emu, &c, &DEFAULT_TENANT_ID.to_uppercase(), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn wrong_resource_is_500011_and_bad_scopes_are_refused() {
    let emu = start().await;
    let c = client();
    let assertion = mi_assertion(&emu, &c).await;
    let (status, _, body) = exchange(
        &emu,
        &c,
        &assertion,
        "https://fabrikam.sharepoint.com/.default",
    )
    .await;
    assert_aadsts(status, &body, 400, "invalid_resource", 500011);
    assert!(body["error_description"].as_str().expect("desc").contains(
        "The resource principal named https://fabrikam.sharepoint.com was not found in the tenant"
    ));
    let (status, _, body) = exchange(
        &emu,
        &c,
        &assertion,
        "https://graph.microsoft.com/User.Read",
    )
    .await;
    assert_aadsts(status, &body, 400, "invalid_scope", 1002012);
    let (status, _, body) = exchange(
        &emu,
        &c,
        &assertion,
        "https://graph.microsoft.com/.default https://contoso.sharepoint.com/.default",
    )
    .await;
    assert_aadsts(status, &body, 400, "invalid_scope", 70011);
}

#[tokio::test]
async fn request_shape_errors() {
    let emu = start().await;
    let c = client();
    let tenant = emu.tenant_id();
    let base = exchange_form(&emu, "x", SP_SCOPE);
    let without = |name: &str| {
        base.iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect::<Vec<_>>()
    };

    let (status, _, body) = post_token(&emu, &c, &tenant, &without("grant_type")).await;
    assert_aadsts(status, &body, 400, "invalid_request", 900144);
    assert!(
        body["error_description"]
            .as_str()
            .expect("d")
            .contains("'grant_type'")
    );

    let mut form = base.clone();
    form[2].1 = "password".into();
    let (status, _, body) = post_token(&emu, &c, &tenant, &form).await;
    assert_aadsts(status, &body, 400, "unsupported_grant_type", 70003);

    let (status, _, body) = post_token(&emu, &c, &tenant, &without("scope")).await;
    assert_aadsts(status, &body, 400, "invalid_request", 900144);

    let no_credential: Vec<_> = without("client_assertion");
    let (status, _, body) = post_token(&emu, &c, &tenant, &no_credential).await;
    assert_aadsts(status, &body, 401, "invalid_client", 7000218);

    let resp = c
        .get(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .send()
        .await
        .expect("request");
    let (status, _, body) = common::json(resp).await;
    assert_aadsts(status, &body, 400, "invalid_request", 900561);

    // Garbage bytes, not UTF-8, as a form body: an answer, not a crash.
    let resp = c
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x00, b'&', 0xc3])
        .send()
        .await
        .expect("request");
    let (status, _, body) = common::json(resp).await;
    assert_aadsts(status, &body, 400, "invalid_request", 900144);

    let resp = c
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn disabled_app_is_7000112() {
    let emu = start().await;
    emu.update_registry(|r| r.apps[0].enabled = false);
    let c = client();
    let (status, _, body) = exchange(&emu, &c, &mi_assertion(&emu, &c).await, SP_SCOPE).await;
    assert_aadsts(status, &body, 400, "unauthorized_client", 7000112);
}

#[tokio::test]
async fn client_secret_works_and_a_wrong_one_is_7000215() {
    let emu = start().await;
    emu.update_registry(|r| r.apps[0].client_secrets.push("s3cr3t~value".into()));
    let c = client();
    let form = |secret: &str| {
        vec![
            ("client_id".to_string(), emu.default_app_client_id()),
            ("scope".to_string(), SP_SCOPE.to_string()),
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_secret".to_string(), secret.to_string()),
        ]
    };
    let (status, _, body) = post_token(&emu, &c, &emu.tenant_id(), &form("s3cr3t~value")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims["appidacr"], "1");
    let (status, _, body) = post_token(&emu, &c, &emu.tenant_id(), &form("wrong")).await;
    assert_aadsts(status, &body, 401, "invalid_client", 7000215);
}

#[tokio::test]
async fn assertion_from_another_tenant_is_700236() {
    let emu = start().await;
    emu.update_registry(|r| {
        r.user_assigned.push(UserAssignedIdentity {
            name: "foreign-mi".into(),
            client_id: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".into(),
            object_id: "ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb".into(),
            tenant_id: Some(DEFAULT_OTHER_TENANT_ID.into()),
        });
        let fic = &mut r.apps[0].federated_credentials[0];
        fic.issuer = format!("https://login.microsoftonline.com/{DEFAULT_OTHER_TENANT_ID}/v2.0");
        fic.subject = "ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb".into();
    });
    let c = client();
    let (status, body) = imds(
        &emu,
        &c,
        TOKEN_EXCHANGE_AUDIENCE,
        &[("client_id", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = exchange(
        &emu,
        &c,
        body["access_token"].as_str().expect("token"),
        SP_SCOPE,
    )
    .await;
    assert_aadsts(status, &body, 401, "invalid_client", 700236);
}

#[tokio::test]
async fn correlation_id_is_echoed() {
    let emu = start().await;
    let c = client();
    let cid = "5d9a0f3c-1b2e-4c7d-8e9f-0a1b2c3d4e5f";
    let resp = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.authority_host(),
            emu.tenant_id()
        ))
        .header("client-request-id", cid)
        .form(&exchange_form(&emu, "not-a-jwt", SP_SCOPE))
        .send()
        .await
        .expect("request");
    let (status, headers, body) = common::json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["client-request-id"], cid);
    assert_eq!(body["correlation_id"], cid);
    let trace = body["trace_id"].as_str().expect("trace");
    assert_eq!(headers["x-ms-request-id"], trace);
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.contains(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {cid}\r\nTimestamp: "
        )),
        "{desc}"
    );
    assert_eq!(
        desc.rsplit("Timestamp: ").next(),
        body["timestamp"].as_str()
    );

    // Success answers carry it too.
    let assertion = mi_assertion(&emu, &c).await;
    let resp = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.authority_host(),
            emu.tenant_id()
        ))
        .header("client-request-id", cid)
        .form(&exchange_form(&emu, &assertion, SP_SCOPE))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["client-request-id"], cid);
}
