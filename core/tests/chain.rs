//! The ordered credential list: the first source that yields a token wins, which one is visible
//! on the token, and when all fail the error lists each source's failure.

mod common;

use certless::{CredentialBuilder, CredentialSourceKind, ErrorCode, ManagedIdentityId, Retries};
use certless_emulator::MiSourceKind;
use common::*;

const SECRET: &str = "Xy7~certless-test-secret-value-0123456789";

fn with_secret(emu: &certless_emulator::RunningEmulator) {
    emu.update_registry(|r| r.apps[0].client_secrets = vec![SECRET.to_string()]);
}

#[tokio::test]
async fn a_client_secret_is_the_fallback_when_the_federated_credential_fails() {
    let emu = emulator().await;
    with_secret(&emu);
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .client_secret(SECRET)
        .build()
        .unwrap();
    let first = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        first.source,
        CredentialSourceKind::SignedAssertionFromManagedIdentity
    );

    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let token = credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    assert_eq!(token.source, CredentialSourceKind::ClientSecret);
    let claims = emu.verify_access_token(token.token.expose()).unwrap();
    assert_eq!(claims["appidacr"], "1", "Entra marks secret-based tokens");
    let sent = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .unwrap();
    assert!(
        sent.form
            .iter()
            .any(|(k, v)| k == "client_secret" && v.starts_with("<redacted"))
    );
    assert!(!sent.form.iter().any(|(k, _)| k == "client_assertion"));
}

#[tokio::test]
async fn a_wrong_secret_is_7000215_and_both_failures_are_listed() {
    let emu = emulator().await;
    with_secret(&emu);
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let credential = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .client_secret("not-the-secret")
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AllCredentialSourcesFailed);
    let sources: Vec<_> = e
        .causes()
        .iter()
        .map(|c| c.credential_source().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        sources,
        ["SignedAssertionFromManagedIdentity", "ClientSecret"]
    );
    assert_eq!(e.causes()[1].aadsts_codes(), [7000215]);
    assert!(
        e.causes()[1]
            .remedy()
            .unwrap()
            .contains("secret is wrong or expired"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("not-the-secret"));
}

#[test]
fn secrets_from_configuration_never_show() {
    let json = format!(
        r#"{{"AzureAd":{{"TenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","ClientId":"11111111-2222-3333-4444-555555555555",
            "ClientCredentials":[{{"SourceType":"ClientSecret","ClientSecret":"{SECRET}"}}]}}}}"#
    );
    let builder = CredentialBuilder::from_config_json(&json).unwrap();
    assert!(
        !format!("{builder:?}").contains("certless-test-secret"),
        "{builder:?}"
    );
    let credential = builder.build().unwrap();
    assert_eq!(credential.sources(), [CredentialSourceKind::ClientSecret]);
    assert!(!format!("{credential:?}").contains("certless-test-secret"));

    let e = CredentialBuilder::from_config_json(
        r#"{"AzureAd":{"ClientCredentials":[{"SourceType":"ClientSecret"}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingConfig);
    assert!(
        e.to_string().contains("without a ClientSecret value"),
        "{e}"
    );
}

#[test]
fn another_tenant_never_gets_the_cached_token_of_this_one() {
    let emu = certless_emulator::Emulator::start_blocking(Default::default(), Default::default())
        .unwrap();
    let credential = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap();
    let options = certless::TokenRequestOptions::default();
    credential
        .get_token_blocking(&[SHAREPOINT], &options)
        .unwrap();
    let other = certless::TokenRequestOptions {
        tenant_id: Some(certless_emulator::DEFAULT_OTHER_TENANT_ID.into()),
        ..Default::default()
    };
    assert!(
        credential
            .cached_token_with(&[SHAREPOINT], &other)
            .unwrap()
            .is_none()
    );
    // The app does not exist in the other tenant: the request must really go there.
    let e = credential
        .get_token_blocking(&[SHAREPOINT], &other)
        .unwrap_err();
    assert_eq!(e.aadsts_codes(), [700016], "{e}");
    assert_eq!(emu.counters().entra_token, 2);
}

#[test]
fn a_request_tenant_follows_the_configured_tenant_rule() {
    let emu = certless_emulator::Emulator::start_blocking(Default::default(), Default::default())
        .unwrap();
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap();
    for tenant in [
        ".",
        "..",
        "common",
        "organizations",
        "a/b",
        "x/../y",
        "%2e%2e",
        "t?x=1",
    ] {
        let options = certless::TokenRequestOptions {
            tenant_id: Some(tenant.into()),
            ..Default::default()
        };
        let e = credential
            .get_token_blocking(&[SHAREPOINT], &options)
            .unwrap_err();
        assert_eq!(
            e.code(),
            certless::ErrorCode::InvalidArgument,
            "{tenant}: {e}"
        );
        assert!(e.remedy().is_some(), "{tenant}: {e}");
        let e = credential
            .cached_token_with(&[SHAREPOINT], &options)
            .unwrap_err();
        assert_eq!(
            e.code(),
            certless::ErrorCode::InvalidArgument,
            "{tenant}: {e}"
        );
    }
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (0, 0), "nothing was sent");
    // The configured tenant in another case is the configured tenant.
    let same = certless::TokenRequestOptions {
        tenant_id: Some(emu.tenant_id().to_ascii_uppercase()),
        ..Default::default()
    };
    credential.get_token_blocking(&[SHAREPOINT], &same).unwrap();
}
