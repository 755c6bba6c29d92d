//! The doctor watches the fallback certificates: each certificate entry of the credential list
//! (Path, Base64Encoded, KeyVault, the certificate store) is loaded without being used and
//! reported with its subject, thumbprint and expiry; one expiring within 30 days is the first
//! warning, one that has expired (or cannot be loaded) is the first line.

mod common;

use certless::diagnose::{Status, diagnose};
use certless::{CredentialBuilder, ManagedIdentityId, Secret};
use certless_emulator::{
    ClientCertificateOptions, Endpoint, KeyVaultCertificateOptions, MiSourceKind, RunningEmulator,
};
use common::*;

/// The managed identity first (it works), then a certificate valid until `not_after`.
fn with_fallback(emu: &RunningEmulator, not_after: i64) -> (CredentialBuilder, String) {
    let issued = emu
        .issue_client_certificate(&ClientCertificateOptions {
            not_after: Some(not_after),
            not_before: Some(now() - 400 * DAY),
            ..Default::default()
        })
        .unwrap();
    let builder = builder(emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .client_certificate_base64(Secret::from(issued.pfx_base64), None);
    (builder, issued.thumbprint)
}

#[tokio::test]
async fn a_fallback_expiring_tomorrow_or_in_20_days_is_the_first_warning() {
    let emu = emulator().await;
    for (days, shown) in [(1, "expires in 1 day(s)"), (20, "expires in 20 day(s)")] {
        let (builder, thumbprint) = with_fallback(&emu, now() + days * DAY + 60);
        let report = diagnose(builder, SHAREPOINT).await;
        assert!(report.ok, "{}", report.to_text());
        assert!(
            report.headline.starts_with("OK with"),
            "{}",
            report.headline
        );
        let first_warning = report.headline.split("first warning: ").nth(1).unwrap();
        assert!(
            first_warning.starts_with(&format!("Base64Encoded: the Base64Encoded certificate CN=certless-demo-app (thumbprint {thumbprint})")),
            "{}",
            report.headline
        );
        assert!(first_warning.contains(shown), "{}", report.headline);
        let c = &report.certificates[0];
        assert_eq!(c.status, Status::Warn);
        assert_eq!(c.days_left, Some(days));
        assert_eq!(c.thumbprint.as_deref(), Some(thumbprint.as_str()));
        assert!(c.fix.as_deref().unwrap().starts_with("Renew it"), "{c:?}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["certificates"][0]["status"], "warn");
        assert_eq!(json["certificates"][0]["subject"], "CN=certless-demo-app");
        assert!(
            json["certificates"][0]["not_after"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        let leg = report
            .legs
            .iter()
            .find(|l| l.leg == "certificates")
            .unwrap();
        assert_eq!(leg.status, Status::Warn);
    }
}

#[tokio::test]
async fn a_fallback_that_expired_yesterday_is_the_first_line() {
    let emu = emulator().await;
    let (builder, thumbprint) = with_fallback(&emu, now() - DAY);
    let report = diagnose(builder, SHAREPOINT).await;
    assert!(report.ok, "a token was obtained with the managed identity");
    assert!(
        report.headline.starts_with(&format!(
            "ERROR: the Base64Encoded certificate CN=certless-demo-app (thumbprint {thumbprint}) \
             expired on "
        )),
        "{}",
        report.headline
    );
    assert!(
        report.headline.contains("1 day(s) ago"),
        "{}",
        report.headline
    );
    assert!(
        report.headline.contains(" Fix: Renew it"),
        "{}",
        report.headline
    );
    assert_eq!(report.certificates[0].status, Status::Fail);
    assert_eq!(report.certificates[0].days_left, Some(-1));
    assert_eq!(report.to_text().lines().next().unwrap(), report.headline);
}

#[tokio::test]
async fn a_healthy_key_vault_certificate_is_reported_with_its_version() {
    let emu = emulator().await;
    let issued = emu.add_key_vault_certificate(&Default::default()).unwrap();
    let json = format!(
        r#"{{"AzureAd":{{"Instance":"{}","TenantId":"{}","ClientId":"{}","ClientCredentials":[
            {{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":"{}"}},
            {{"SourceType":"KeyVault","KeyVaultUrl":"{}","KeyVaultCertificateName":"{}"}}]}}}}"#,
        emu.authority_host(),
        emu.tenant_id(),
        emu.default_app_client_id(),
        emu.default_user_assigned().client_id,
        issued.vault_url,
        issued.name
    );
    let builder = CredentialBuilder::from_config_json(&json)
        .unwrap()
        .environment(std::sync::Arc::new(
            certless::env::MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)),
        ));
    let report = diagnose(builder, SHAREPOINT).await;
    assert!(report.headline.starts_with("OK: "), "{}", report.to_text());
    let c = &report.certificates[0];
    assert_eq!((c.source.as_str(), c.status), ("KeyVault", Status::Ok));
    assert!(
        c.detail
            .contains(&format!("Key Vault version {}", issued.version)),
        "{}",
        c.detail
    );
    assert_eq!(
        emu.counters().key_vault,
        2,
        "loaded, never used: the token came from the managed identity"
    );
    assert_eq!(
        emu.requests()
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::EntraToken))
            .count(),
        1
    );

    // The vault refuses the identity: the fallback cannot be loaded, and the first line says why.
    emu.update_registry(|r| r.key_vaults[0].readers = Some(Vec::new()));
    let builder = CredentialBuilder::from_config_json(&json)
        .unwrap()
        .environment(std::sync::Arc::new(
            certless::env::MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)),
        ));
    let report = diagnose(builder, SHAREPOINT).await;
    assert!(
        report
            .headline
            .starts_with("ERROR: the KeyVault certificate cannot be loaded"),
        "{}",
        report.headline
    );
    assert!(
        report.headline.contains("az keyvault set-policy"),
        "{}",
        report.headline
    );
}

#[tokio::test]
async fn an_expired_only_certificate_is_the_cause_when_entra_refuses_it() {
    let emu = emulator().await;
    let issued = emu
        .add_key_vault_certificate(&KeyVaultCertificateOptions {
            certificate: ClientCertificateOptions {
                not_before: Some(now() - 400 * DAY),
                not_after: Some(now() - DAY),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    let builder = builder(&emu, MiSourceKind::Imds).key_vault_certificate(
        certless::KeyVaultReference::new(&issued.vault_url, &issued.name).unwrap(),
        None,
    );
    let report = diagnose(builder, SHAREPOINT).await;
    assert!(!report.ok);
    assert!(
        report
            .headline
            .starts_with("FAIL: the KeyVault certificate CN=certless-demo-app"),
        "{}",
        report.headline
    );
    assert!(
        report.headline.contains("expired on"),
        "{}",
        report.headline
    );
}
