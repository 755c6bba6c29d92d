//! The exact requests certless sends to each managed-identity source and to Entra.

mod common;

use std::sync::Arc;

use certless::{CredentialSourceKind, ManagedIdentityId};
use certless_emulator::{Endpoint, MiSourceKind};
use common::*;

fn query<'a>(req: &'a certless_emulator::RecordedRequest, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn header<'a>(req: &'a certless_emulator::RecordedRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn form<'a>(req: &'a certless_emulator::RecordedRequest, name: &str) -> Option<&'a str> {
    req.form
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn imds_user_assigned_by_each_selector() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let cases = [
        (
            ManagedIdentityId::ClientId(mi.client_id.clone()),
            "client_id",
            mi.client_id.clone(),
        ),
        (
            ManagedIdentityId::ObjectId(mi.object_id.clone()),
            "object_id",
            mi.object_id.clone(),
        ),
        (
            ManagedIdentityId::ResourceId(mi.resource_id.clone()),
            "msi_res_id",
            mi.resource_id.clone(),
        ),
    ];
    for (id, param, value) in cases {
        emu.clear_requests();
        let credential = builder(&emu, MiSourceKind::Imds)
            .managed_identity(id)
            .build()
            .unwrap();
        let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
        assert_eq!(
            token.source,
            CredentialSourceKind::SignedAssertionFromManagedIdentity
        );
        let claims = emu
            .verify_access_token(token.token.expose())
            .expect("a token the emulator issued");
        assert_eq!(claims["aud"], "https://contoso.sharepoint.com");
        assert_eq!(claims["appid"], emu.default_app_client_id());

        let requests = emu.requests();
        let imds: Vec<_> = requests
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::Imds))
            .collect();
        assert_eq!(imds.len(), 1, "one IMDS request");
        let r = imds[0];
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metadata/identity/oauth2/token");
        assert_eq!(query(r, "api-version"), Some("2018-02-01"));
        assert_eq!(query(r, "resource"), Some("api://AzureADTokenExchange"));
        assert_eq!(query(r, param), Some(value.as_str()), "selector {param}");
        assert_eq!(r.query.len(), 3, "nothing else in the query: {:?}", r.query);
        assert_eq!(header(r, "metadata"), Some("true"));

        let entra: Vec<_> = requests
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::EntraToken))
            .collect();
        assert_eq!(entra.len(), 1, "one Entra request");
        let e = entra[0];
        assert_eq!(e.method, "POST");
        assert_eq!(e.path, format!("/{}/oauth2/v2.0/token", emu.tenant_id()));
        assert_eq!(
            form(e, "client_id"),
            Some(emu.default_app_client_id().as_str())
        );
        assert_eq!(form(e, "scope"), Some(SHAREPOINT));
        assert_eq!(form(e, "grant_type"), Some("client_credentials"));
        assert_eq!(
            form(e, "client_assertion_type"),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        assert!(form(e, "client_assertion").is_some_and(|v| v.starts_with("<redacted")));
        assert!(header(e, "client-request-id").is_some_and(|v| v.len() == 36));
    }
}

#[tokio::test]
async fn imds_system_assigned_sends_no_selector() {
    let emu = emulator().await;
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    let assertion = credential.managed_identity_assertion().await.unwrap();
    let claims = certless::jwt::decode_claims(assertion.token.expose()).unwrap();
    let mirid = claims.xms_mirid.unwrap();
    assert!(mirid.contains("/virtualMachines/"), "{mirid}");
    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::Imds))
        .unwrap();
    assert_eq!(
        r.query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["api-version", "resource"]
    );
}

#[tokio::test]
async fn app_service_user_assigned_by_each_selector() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let cases = [
        (
            ManagedIdentityId::ClientId(mi.client_id.clone()),
            "client_id",
            mi.client_id.clone(),
        ),
        (
            ManagedIdentityId::ObjectId(mi.object_id.clone()),
            "principal_id",
            mi.object_id.clone(),
        ),
        (
            ManagedIdentityId::ResourceId(mi.resource_id.clone()),
            "mi_res_id",
            mi.resource_id.clone(),
        ),
    ];
    for (id, param, value) in cases {
        emu.clear_requests();
        let credential = builder(&emu, MiSourceKind::AppService)
            .managed_identity(id)
            .build()
            .unwrap();
        assert_eq!(
            credential.managed_identity_source().unwrap().source,
            certless::ManagedIdentitySource::AppService
        );
        credential
            .get_token(&["https://graph.microsoft.com"])
            .await
            .unwrap();
        let r = emu
            .requests()
            .into_iter()
            .find(|r| r.endpoint == Some(Endpoint::AppService))
            .expect("an App Service request");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/msi/token");
        assert_eq!(query(&r, "api-version"), Some("2019-08-01"));
        assert_eq!(query(&r, "resource"), Some("api://AzureADTokenExchange"));
        assert_eq!(query(&r, param), Some(value.as_str()));
        assert_eq!(
            header(&r, "x-identity-header"),
            Some(emu.app_service_secret().as_str())
        );
        assert_eq!(header(&r, "metadata"), None);
    }
}

#[tokio::test]
async fn cache_serves_repeats_and_reuses_the_assertion() {
    let emu = emulator().await;
    let credential = credential(&emu, MiSourceKind::Imds);
    let first = credential.get_token(&[SHAREPOINT]).await.unwrap();
    let again = credential
        .get_token(&["https://contoso.sharepoint.com"])
        .await
        .unwrap();
    assert_eq!(first.token, again.token);
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 1));
    assert!(credential.cached_token(&[SHAREPOINT]).unwrap().is_some());
    assert!(
        credential
            .cached_token(&["https://graph.microsoft.com/.default"])
            .unwrap()
            .is_none()
    );

    // Another resource: a new exchange, but the managed-identity token is reused.
    credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    let forced = credential
        .get_token_with(
            &[SHAREPOINT],
            &certless::TokenRequestOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_ne!(forced.token, first.token);
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 3));
}

#[tokio::test]
async fn https_authority_with_the_emulator_ca() {
    let emu = certless_emulator::Emulator::start(
        certless_emulator::EmulatorConfig::default(),
        certless_emulator::StartOptions {
            http_port: 0,
            https_port: Some(0),
            state_dir: None,
        },
    )
    .await
    .unwrap();
    let https = emu.https_url().unwrap();
    let mi = emu.default_user_assigned();
    let without_ca = builder(&emu, MiSourceKind::Imds)
        .authority_host(&https)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
        .build()
        .unwrap();
    let e = without_ca.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), certless::ErrorCode::ExchangeUnreachable, "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let with_ca = builder(&emu, MiSourceKind::Imds)
        .authority_host(&https)
        .ca_file(emu.ca_pem_path().unwrap())
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .build()
        .unwrap();
    with_ca.get_token(&[SHAREPOINT]).await.unwrap();
}

#[tokio::test]
async fn cloud_shell_posts_a_form_with_the_metadata_header() {
    let emu = emulator().await;
    let credential = builder(&emu, MiSourceKind::CloudShell)
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    assert_eq!(
        credential.managed_identity_source().unwrap().source,
        certless::ManagedIdentitySource::CloudShell
    );
    let assertion = credential.managed_identity_assertion().await.unwrap();
    assert_eq!(
        certless::jwt::decode_claims(assertion.token.expose())
            .unwrap()
            .aud
            .as_deref(),
        Some("api://AzureADTokenExchange")
    );
    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::CloudShell))
        .expect("a Cloud Shell request");
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/oauth2/token");
    assert!(r.query.is_empty());
    assert_eq!(form(&r, "resource"), Some("api://AzureADTokenExchange"));
    assert_eq!(header(&r, "metadata"), Some("true"));

    // Cloud Shell serves only the signed-in user's identity.
    let e = builder(&emu, MiSourceKind::CloudShell)
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("Cloud Shell cannot select"), "{e}");
}

#[tokio::test]
async fn azure_ml_sends_the_secret_header_and_clientid() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let credential = builder(&emu, MiSourceKind::AzureMl)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
        .build()
        .unwrap();
    assert_eq!(
        credential.managed_identity_source().unwrap().source,
        certless::ManagedIdentitySource::AzureMl
    );
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::AppService))
        .expect("an Azure ML request");
    assert_eq!(r.method, "GET");
    assert_eq!(query(&r, "api-version"), Some("2017-09-01"));
    assert_eq!(query(&r, "resource"), Some("api://AzureADTokenExchange"));
    assert_eq!(query(&r, "clientid"), Some(mi.client_id.as_str()));
    assert_eq!(
        header(&r, "secret"),
        Some(emu.app_service_secret().as_str())
    );

    // The compute's own identity is named by DEFAULT_IDENTITY_CLIENT_ID.
    emu.clear_requests();
    let system = emu.system_assigned().unwrap();
    let env = certless::env::MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::AzureMl))
        .with_var("DEFAULT_IDENTITY_CLIENT_ID", system.client_id.clone());
    let credential = builder(&emu, MiSourceKind::AzureMl)
        .environment(std::sync::Arc::new(env))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    credential.managed_identity_assertion().await.unwrap();
    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::AppService))
        .unwrap();
    assert_eq!(query(&r, "clientid"), Some(system.client_id.as_str()));

    let e = builder(&emu, MiSourceKind::AzureMl)
        .managed_identity(ManagedIdentityId::ObjectId(mi.object_id))
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Azure ML names identities by client id"),
        "{e}"
    );
}

#[tokio::test]
async fn service_fabric_pins_the_endpoint_certificate_and_sends_the_secret() {
    let emu = emulator_https().await;
    let env = emu.client_env(MiSourceKind::ServiceFabric);
    let var = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert!(var("IDENTITY_ENDPOINT").starts_with("https://127.0.0.1:"));
    assert_eq!(var("IDENTITY_SERVER_THUMBPRINT").len(), 40);
    // No CA file: the pin alone is trusted.
    let credential = credential(&emu, MiSourceKind::ServiceFabric);
    assert_eq!(
        credential.managed_identity_source().unwrap().source,
        certless::ManagedIdentitySource::ServiceFabric
    );
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    let claims = emu.verify_access_token(token.token.expose()).unwrap();
    assert_eq!(claims["appid"], emu.default_app_client_id().as_str());
    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::ServiceFabric))
        .expect("a Service Fabric request");
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/servicefabric/metadata/identity/oauth2/token");
    assert_eq!(
        r.query,
        vec![
            ("api-version".to_string(), "2019-07-01-preview".to_string()),
            (
                "resource".to_string(),
                "api://AzureADTokenExchange".to_string()
            ),
        ],
        "no selector: the manifest binds the identity"
    );
    assert_eq!(
        header(&r, "secret"),
        Some(emu.app_service_secret().as_str())
    );
    assert_eq!(emu.counters().service_fabric, 1);
}

#[tokio::test]
async fn service_fabric_refuses_an_endpoint_whose_certificate_is_not_pinned() {
    let emu = emulator_https().await;
    let mut env = emu.client_env(MiSourceKind::ServiceFabric);
    let actual = env
        .iter()
        .find(|(k, _)| k == "IDENTITY_SERVER_THUMBPRINT")
        .map(|(_, v)| v.clone())
        .unwrap();
    // One digit off: the emulator's own, CA-signed certificate is still refused.
    let last = actual.chars().last().unwrap();
    let wrong = format!("{}{}", &actual[..39], if last == '0' { '1' } else { '0' });
    env.retain(|(k, _)| k != "IDENTITY_SERVER_THUMBPRINT");
    env.push(("IDENTITY_SERVER_THUMBPRINT".into(), wrong.clone()));
    let credential = builder(&emu, MiSourceKind::ServiceFabric)
        .environment(Arc::new(certless::env::MapEnv::new().with_vars(env)))
        // Even a CA file that trusts the endpoint does not replace the pin.
        .ca_file(emu.ca_pem_path().unwrap())
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(
        e.code(),
        certless::ErrorCode::ManagedIdentityUnreachable,
        "{e}"
    );
    assert_eq!(e.leg(), certless::Leg::ManagedIdentity);
    let text = e.to_string();
    assert!(
        text.contains(&format!("presented certificate {actual}"))
            && text.contains(&format!("IDENTITY_SERVER_THUMBPRINT is {wrong}")),
        "{text}"
    );
    let c = emu.counters();
    assert_eq!(
        (c.service_fabric, c.entra_token),
        (0, 0),
        "nothing was sent"
    );
}

#[tokio::test]
async fn service_fabric_endpoint_answers_only_over_https_in_its_own_error_shape() {
    let emu = emulator_https().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/servicefabric/metadata/identity/oauth2/token?api-version=2019-07-01-preview&resource=api://AzureADTokenExchange",
        emu.http_url()
    );
    let r = http
        .get(&url)
        .header("secret", emu.app_service_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "HttpsRequired");
}
