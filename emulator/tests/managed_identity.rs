//! IMDS and App Service endpoints over loopback, checked by verifying the tokens they issue.

mod common;

use certless_emulator::{
    ARM_RESOURCE, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID, DEFAULT_USER_ASSIGNED_OBJECT_ID, Endpoint,
    ExpiresOnFormat, MiSourceKind, TOKEN_EXCHANGE_AUDIENCE, UserAssignedIdentity,
};
use common::{client, imds, json, start};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn imds_without_metadata_header_is_refused_like_the_real_one() {
    let emu = start().await;
    let resp = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token",
            emu.imds_host()
        ))
        .query(&[("api-version", "2018-02-01"), ("resource", ARM_RESOURCE)])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.expect("body");
    assert_eq!(
        text,
        r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#
    );
}

#[tokio::test]
async fn imds_request_errors() {
    let emu = start().await;
    let c = client();
    let url = format!("{}/metadata/identity/oauth2/token", emu.imds_host());
    let get = |query: Vec<(&'static str, &'static str)>| {
        c.get(&url).header("Metadata", "true").query(&query).send()
    };

    let (status, _, body) = json(get(vec![("resource", ARM_RESOURCE)]).await.expect("req")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        "Required query variable 'api-version' is missing"
    );

    let (status, _, body) =
        json(get(vec![("api-version", "2018-02-01")]).await.expect("req")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        "Required query variable 'resource' is missing"
    );

    let (status, _, body) = json(
        get(vec![
            ("api-version", "2017-01-01"),
            ("resource", ARM_RESOURCE),
        ])
        .await
        .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");

    let (status, body) = imds(
        &emu,
        &c,
        ARM_RESOURCE,
        &[("client_id", "00000000-0000-0000-0000-000000000000")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error":"invalid_request","error_description":"Identity not found"})
    );

    let mi = emu.default_user_assigned();
    let (status, body) = imds(
        &emu,
        &c,
        ARM_RESOURCE,
        &[("client_id", &mi.client_id), ("object_id", &mi.object_id)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");

    let (status, body) = imds(&emu, &c, "https://nothing.example.com", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_resource");
    let desc = body["error_description"].as_str().expect("desc");
    assert!(
        desc.starts_with(
            "AADSTS500011: The resource principal named https://nothing.example.com was not found"
        ),
        "{desc}"
    );
}

#[tokio::test]
async fn imds_selects_user_assigned_by_each_selector() {
    let emu = start().await;
    let c = client();
    let mi = emu.default_user_assigned();
    assert_eq!(mi.client_id, DEFAULT_USER_ASSIGNED_CLIENT_ID);
    let upper_res_id = mi.resource_id.to_uppercase();
    for (name, value) in [
        ("client_id", mi.client_id.as_str()),
        ("object_id", mi.object_id.as_str()),
        ("msi_res_id", upper_res_id.as_str()),
    ] {
        let (status, body) = imds(&emu, &c, TOKEN_EXCHANGE_AUDIENCE, &[(name, value)]).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["client_id"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
        assert_eq!(body["resource"], TOKEN_EXCHANGE_AUDIENCE);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], "86399");
        assert_eq!(body["ext_expires_in"], "86399");
        let claims = emu
            .verify_access_token(body["access_token"].as_str().expect("token"))
            .expect("valid token");
        assert_eq!(
            claims["iss"],
            format!("https://login.microsoftonline.com/{DEFAULT_TENANT_ID}/v2.0")
        );
        assert_eq!(claims["sub"], DEFAULT_USER_ASSIGNED_OBJECT_ID);
        assert_eq!(claims["oid"], DEFAULT_USER_ASSIGNED_OBJECT_ID);
        assert_eq!(claims["aud"], TOKEN_EXCHANGE_AUDIENCE);
        assert_eq!(claims["azp"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
        assert_eq!(claims["appid"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(claims["ver"], "2.0");
        assert_eq!(claims["xms_mirid"], mi.resource_id);
        assert!(mi.resource_id.contains(
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/certless-demo-mi"
        ));
        let exp = claims["exp"].as_i64().expect("exp");
        assert_eq!(body["expires_on"], exp.to_string());
        assert_eq!(exp - claims["iat"].as_i64().expect("iat"), 86399);
    }
}

#[tokio::test]
async fn imds_without_selector_is_the_system_assigned_identity() {
    let emu = start().await;
    let (status, body) = imds(&emu, &client(), &format!("{ARM_RESOURCE}/.default"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
    // `/.default` is accepted and stripped.
    assert_eq!(body["resource"], ARM_RESOURCE);
    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims["sub"], DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID);
    assert_eq!(claims["aud"], ARM_RESOURCE);
    let mirid = claims["xms_mirid"].as_str().expect("mirid");
    assert!(
        mirid.ends_with("/providers/Microsoft.Compute/virtualMachines/certless-demo-vm"),
        "{mirid}"
    );
}

#[tokio::test]
async fn imds_without_selector_and_several_user_assigned_is_ambiguous() {
    let emu = start().await;
    emu.update_registry(|r| {
        r.system_assigned = None;
        r.user_assigned.push(UserAssignedIdentity {
            name: "second".into(),
            client_id: "11111111-2222-4333-8444-555555555555".into(),
            object_id: "66666666-7777-4888-9999-000000000000".into(),
            tenant_id: None,
        });
    });
    let (status, body) = imds(&emu, &client(), ARM_RESOURCE, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        "Multiple user assigned identities exist, please specify the clientId / resourceId of \
            the identity in the token request"
    );
}

#[tokio::test]
async fn expires_on_shape_is_switchable() {
    let emu = start().await;
    let c = client();
    emu.set_expires_on_format(Endpoint::Imds, ExpiresOnFormat::Number)
        .expect("imds has expires_on");
    let (_, body) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    assert!(body["expires_on"].is_i64(), "{body}");
    emu.set_expires_on_format(Endpoint::Imds, ExpiresOnFormat::DateString)
        .expect("ok");
    let (_, body) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    let text = body["expires_on"].as_str().expect("string");
    assert!(
        text.ends_with(" +00:00") && (text.contains(" AM ") || text.contains(" PM ")),
        "{text}"
    );
    emu.set_expires_on_format(Endpoint::Imds, ExpiresOnFormat::Iso8601)
        .expect("ok");
    let (_, body) = imds(&emu, &c, ARM_RESOURCE, &[]).await;
    let text = body["expires_on"].as_str().expect("string");
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "{text}"
    );
    assert!(
        emu.set_expires_on_format(Endpoint::EntraToken, ExpiresOnFormat::Number)
            .is_err()
    );
}

async fn app_service(
    emu: &certless_emulator::RunningEmulator,
    header: Option<(&str, &str)>,
    query: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let mut req = client().get(emu.app_service_endpoint()).query(query);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    let (status, _, body) = json(req.send().await.expect("request")).await;
    (status, body)
}

#[tokio::test]
async fn app_service_requires_the_identity_header() {
    let emu = start().await;
    let q = [("api-version", "2019-08-01"), ("resource", ARM_RESOURCE)];
    let (status, body) = app_service(&emu, None, &q).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], 401);
    assert!(body["correlationId"].is_string(), "{body}");
    let (status, _) = app_service(&emu, Some(("X-IDENTITY-HEADER", "wrong")), &q).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let secret = emu.app_service_secret();
    let (status, body) = app_service(&emu, Some(("X-IDENTITY-HEADER", &secret)), &q).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
    assert_eq!(body["resource"], ARM_RESOURCE);
    assert_eq!(body["token_type"], "Bearer");
    let claims = emu
        .verify_access_token(body["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(
        body["expires_on"],
        claims["exp"].as_i64().expect("exp").to_string()
    );
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 5, "{body}");
}

#[tokio::test]
async fn app_service_selectors_and_errors() {
    let emu = start().await;
    let secret = emu.app_service_secret();
    let h = Some(("X-IDENTITY-HEADER", secret.as_str()));
    let mi = emu.default_user_assigned();
    for (name, value) in [
        ("client_id", mi.client_id.as_str()),
        ("principal_id", mi.object_id.as_str()),
        ("object_id", mi.object_id.as_str()),
        ("mi_res_id", mi.resource_id.as_str()),
    ] {
        let (status, body) = app_service(
            &emu,
            h,
            &[
                ("api-version", "2019-08-01"),
                ("resource", ARM_RESOURCE),
                (name, value),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["client_id"], DEFAULT_USER_ASSIGNED_CLIENT_ID, "{name}");
    }
    let (status, body) = app_service(
        &emu,
        h,
        &[
            ("api-version", "2019-08-01"),
            ("resource", ARM_RESOURCE),
            ("client_id", "nope"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["statusCode"], 400);
    let (status, _) = app_service(&emu, h, &[("api-version", "2019-08-01")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app_service(&emu, h, &[("resource", ARM_RESOURCE)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn app_service_legacy_protocol_sends_a_date_string() {
    let emu = start().await;
    let secret = emu.app_service_secret();
    let (status, body) = app_service(
        &emu,
        Some(("secret", &secret)),
        &[
            ("api-version", "2017-09-01"),
            ("resource", ARM_RESOURCE),
            ("clientid", DEFAULT_USER_ASSIGNED_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
    let text = body["expires_on"].as_str().expect("string");
    assert!(text.ends_with(" +00:00"), "{text}");
    // The 2017 protocol's header is not accepted by the 2019 one.
    let (status, _) = app_service(
        &emu,
        Some(("secret", &secret)),
        &[("api-version", "2019-08-01"), ("resource", ARM_RESOURCE)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_env_points_at_this_emulator() {
    let emu = start().await;
    let imds_env = emu.client_env(MiSourceKind::Imds);
    let get = |env: &[(String, String)], k: &str| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    assert_eq!(
        get(&imds_env, "AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        Some(emu.http_url())
    );
    assert_eq!(
        get(&imds_env, "AZURE_TENANT_ID"),
        Some(DEFAULT_TENANT_ID.to_string())
    );
    assert_eq!(
        get(&imds_env, "AZURE_CLIENT_ID"),
        Some(emu.default_app_client_id())
    );
    assert_eq!(get(&imds_env, "AZURE_AUTHORITY_HOST"), Some(emu.http_url()));
    assert_eq!(
        get(&imds_env, "CERTLESS_MANAGED_IDENTITY_CLIENT_ID"),
        Some(DEFAULT_USER_ASSIGNED_CLIENT_ID.to_string())
    );
    assert_eq!(get(&imds_env, "IDENTITY_ENDPOINT"), None);
    let as_env = emu.client_env(MiSourceKind::AppService);
    assert_eq!(
        get(&as_env, "IDENTITY_ENDPOINT"),
        Some(format!("{}/msi/token", emu.http_url()))
    );
    assert_eq!(
        get(&as_env, "IDENTITY_HEADER"),
        Some(emu.app_service_secret())
    );
    assert_eq!(get(&as_env, "AZURE_POD_IDENTITY_AUTHORITY_HOST"), None);
}

#[tokio::test]
async fn imds_answers_msals_path_with_a_trailing_slash() {
    let emu = start().await;
    let resp = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token/",
            emu.imds_host()
        ))
        .query(&[("api-version", "2018-02-01"), ("resource", ARM_RESOURCE)])
        .header("Metadata", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert_eq!(emu.counters().imds, 1);
}
