//! The Key Vault certificate source against the emulator's Key Vault and Entra: a token signed
//! with the vault's certificate, read with the managed identity's vault token; rotation (a newer
//! version after an hour, or at once when Entra refuses the old one); and the errors users meet
//! (no access policy, no RBAC role, a wrong name, another tenant, a key that is not exportable).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certless::clock::ManualClock;
use certless::{Credential, CredentialSourceKind, ErrorCode, Leg, TokenRequestOptions};
use certless_emulator::{
    ClientCertificateOptions, DEFAULT_KEY_VAULT_NAME, Endpoint, Fault, KeyVaultCertificateIssued,
    KeyVaultCertificateOptions, MiSourceKind, PermissionModel, RunningEmulator,
};
use common::*;

/// An Id.Web configuration whose credential list is `entries`, for a host with IMDS.
fn config(emu: &RunningEmulator, entries: &str) -> String {
    format!(
        r#"{{"AzureAd":{{"Instance":"{}","TenantId":"{}","ClientId":"{}","ClientCredentials":[{entries}]}}}}"#,
        emu.authority_host(),
        emu.tenant_id(),
        emu.default_app_client_id()
    )
}

fn key_vault_entry(issued: &KeyVaultCertificateIssued) -> String {
    format!(
        r#"{{"SourceType":"KeyVault","KeyVaultUrl":"{}","KeyVaultCertificateName":"{}"}}"#,
        issued.vault_url, issued.name
    )
}

fn user_assigned_entry(emu: &RunningEmulator) -> String {
    format!(
        r#"{{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":"{}"}}"#,
        emu.default_user_assigned().client_id
    )
}

fn credential_with(
    emu: &RunningEmulator,
    entries: &str,
    clock: Option<Arc<ManualClock>>,
) -> Credential {
    let mut builder = certless::CredentialBuilder::from_config_json(&config(emu, entries))
        .unwrap()
        .environment(Arc::new(
            certless::env::MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)),
        ))
        .retries(certless::Retries::none());
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder.build().unwrap()
}

async fn fresh_token(credential: &Credential) -> certless::Result<certless::AccessToken> {
    let options = TokenRequestOptions {
        force_refresh: true,
        ..Default::default()
    };
    credential.get_token_with(&[SHAREPOINT], &options).await
}

fn vault_paths(emu: &RunningEmulator) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::KeyVault))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn a_key_vault_certificate_is_the_fallback_when_the_federated_credential_breaks() {
    let emu = emulator().await;
    let issued = emu.add_key_vault_certificate(&Default::default()).unwrap();
    let entries = format!("{},{}", user_assigned_entry(&emu), key_vault_entry(&issued));
    let credential = credential_with(&emu, &entries, None);
    assert_eq!(
        credential.sources(),
        [
            CredentialSourceKind::SignedAssertionFromManagedIdentity,
            CredentialSourceKind::KeyVault
        ]
    );
    // The federated credential breaks: the chain falls back to the vault's certificate.
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::KeyVault);
    let claims = emu.verify_access_token(token.token.expose()).unwrap();
    assert_eq!(
        claims["appidacr"], "2",
        "a certificate token, as SharePoint wants"
    );

    // The vault was read with the user-assigned identity's token for the vault's audience.
    let vault_token_request = emu
        .requests()
        .into_iter()
        .find(|r| {
            r.endpoint == Some(Endpoint::Imds)
                && r.query
                    .iter()
                    .any(|(k, v)| k == "resource" && v == "https://vault.azure.net")
        })
        .expect("a managed-identity token for Key Vault");
    assert!(
        vault_token_request
            .query
            .iter()
            .any(|(k, v)| k == "client_id" && *v == emu.default_user_assigned().client_id)
    );
    let version = &issued.version;
    assert_eq!(
        vault_paths(&emu),
        [
            format!(
                "/keyvault/{DEFAULT_KEY_VAULT_NAME}/certificates/{}",
                issued.name
            ),
            format!(
                "/keyvault/{DEFAULT_KEY_VAULT_NAME}/secrets/{}/{version}",
                issued.name
            ),
        ]
    );
    let kv = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::KeyVault))
        .unwrap();
    assert!(
        kv.query
            .iter()
            .any(|(k, v)| k == "api-version" && v == "7.4")
    );
    assert!(
        kv.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.starts_with("<redacted"))
    );
    // Another scope: the certificate in hand, no new read of the vault.
    credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    assert_eq!(vault_paths(&emu).len(), 2);
}

#[tokio::test]
async fn a_pem_certificate_alone_with_the_system_assigned_identity() {
    let emu = emulator().await;
    let issued = emu
        .add_key_vault_certificate(&KeyVaultCertificateOptions {
            pem: true,
            ..Default::default()
        })
        .unwrap();
    let credential = credential_with(&emu, &key_vault_entry(&issued), None);
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::KeyVault);
    let vault_token_request = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::Imds))
        .unwrap();
    assert!(
        !vault_token_request
            .query
            .iter()
            .any(|(k, _)| k == "client_id"),
        "no managed identity in the list: the host's own reads the vault"
    );
}

#[tokio::test]
async fn a_rotated_certificate_is_used_at_once_when_entra_refuses_the_old_one() {
    let emu = emulator().await;
    let first = emu.add_key_vault_certificate(&Default::default()).unwrap();
    let credential = credential_with(&emu, &key_vault_entry(&first), None);
    fresh_token(&credential).await.unwrap();

    // Rotation: a new version in the vault, and the app registration holds only the new one.
    let second = emu.add_key_vault_certificate(&Default::default()).unwrap();
    emu.update_registry(|r| {
        r.apps[0]
            .certificates
            .retain(|pem| *pem == second.certificate.certificate_pem)
    });
    emu.clear_requests();
    let token = fresh_token(&credential).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::KeyVault);
    let entra: Vec<Option<u16>> = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::EntraToken))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        entra,
        [Some(401), Some(200)],
        "refused once, then the new version"
    );
    assert!(
        vault_paths(&emu)
            .iter()
            .any(|p| p.ends_with(&format!("/secrets/{}/{}", second.name, second.version))),
        "{:?}",
        vault_paths(&emu)
    );

    // Refused while the vault has nothing newer: one attempt, and the error names the certificate.
    emu.update_registry(|r| r.apps[0].certificates.clear());
    emu.clear_requests();
    let e = fresh_token(&credential).await.unwrap_err();
    assert_eq!(e.aadsts_codes(), [700027]);
    let remedy = e.remedy().unwrap_or_default();
    assert!(remedy.contains(&second.certificate.thumbprint), "{e}");
    let attempts = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::EntraToken))
        .count();
    assert_eq!(attempts, 1, "the refused certificate is not sent twice");
}

#[tokio::test]
async fn the_current_version_is_looked_up_again_after_an_hour() {
    let emu = emulator().await;
    let first = emu.add_key_vault_certificate(&Default::default()).unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let credential = credential_with(&emu, &key_vault_entry(&first), Some(clock.clone()));
    fresh_token(&credential).await.unwrap();
    assert_eq!(vault_paths(&emu).len(), 2);

    clock.advance(Duration::from_secs(1800));
    emu.set_time_offset(1800);
    fresh_token(&credential).await.unwrap();
    assert_eq!(vault_paths(&emu).len(), 2, "within the hour: no look-up");

    let second = emu.add_key_vault_certificate(&Default::default()).unwrap();
    clock.advance(Duration::from_secs(1900));
    emu.set_time_offset(3700);
    fresh_token(&credential).await.unwrap();
    let paths = vault_paths(&emu);
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert!(paths[3].ends_with(&second.version), "{paths:?}");

    // The vault fails while the certificate in hand is valid: it keeps being used.
    emu.set_fault(Endpoint::KeyVault, Fault::http_status(503));
    clock.advance(Duration::from_secs(7200));
    emu.set_time_offset(3700 + 7200);
    let token = fresh_token(&credential).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::KeyVault);
}

#[tokio::test]
async fn a_throttled_vault_is_retried() {
    let emu = emulator().await;
    let issued = emu.add_key_vault_certificate(&Default::default()).unwrap();
    let credential =
        certless::CredentialBuilder::from_config_json(&config(&emu, &key_vault_entry(&issued)))
            .unwrap()
            .environment(Arc::new(
                certless::env::MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)),
            ))
            .build()
            .unwrap();
    emu.set_fault(Endpoint::KeyVault, Fault::http_status(503).times(1));
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::KeyVault);
    assert_eq!(
        emu.counters().key_vault,
        3,
        "503, then the certificate and its secret"
    );
}

#[tokio::test]
async fn without_an_access_policy_the_error_names_the_permission_and_the_identity() {
    let emu = emulator().await;
    let issued = emu.add_key_vault_certificate(&Default::default()).unwrap();
    emu.update_registry(|r| r.key_vaults[0].readers = Some(Vec::new()));
    let entries = format!("{},{}", user_assigned_entry(&emu), key_vault_entry(&issued));
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let credential = credential_with(&emu, &entries, None);
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    let vault = e
        .causes()
        .iter()
        .find(|c| c.credential_source() == Some("KeyVault"))
        .expect("the Key Vault entry's failure")
        .clone();
    assert_eq!(vault.code(), ErrorCode::KeyVaultAccessDenied);
    assert_eq!(vault.leg(), Leg::KeyVault);
    assert_eq!(vault.http_status(), Some(403));
    let text = vault.to_string();
    let object_id = emu.default_user_assigned().object_id;
    assert!(
        text.contains("Key Vault failed: the certificate 'certless-demo-cert' in Key Vault"),
        "{text}"
    );
    assert!(text.contains("Forbidden/AccessDenied"), "{text}");
    let remedy = vault.remedy().unwrap();
    assert!(
        remedy.contains(&format!(
            "az keyvault set-policy --name {DEFAULT_KEY_VAULT_NAME} --object-id {object_id} \
             --certificate-permissions get --secret-permissions get"
        )),
        "{remedy}"
    );

    emu.update_registry(|r| r.key_vaults[0].permission_model = PermissionModel::Rbac);
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    let remedy = e.causes()[1].remedy().unwrap().to_string();
    assert!(remedy.contains("'Key Vault Certificate User'"), "{remedy}");
    assert!(
        remedy.contains(&format!("--assignee-object-id {object_id}")),
        "{remedy}"
    );
}

#[tokio::test]
async fn a_wrong_name_another_tenant_and_a_locked_key_are_told_apart() {
    let emu = emulator().await;
    let issued = emu.add_key_vault_certificate(&Default::default()).unwrap();

    let wrong = KeyVaultCertificateIssued {
        name: "no-such-cert".into(),
        ..issued.clone()
    };
    let e = credential_with(&emu, &key_vault_entry(&wrong), None)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyVaultCertificateNotFound);
    assert!(e.to_string().contains("CertificateNotFound"), "{e}");
    assert!(
        e.remedy().unwrap().contains("az keyvault certificate list"),
        "{e}"
    );

    emu.update_registry(|r| {
        r.key_vaults[0].tenant_id = Some(certless_emulator::DEFAULT_OTHER_TENANT_ID.into())
    });
    let e = credential_with(&emu, &key_vault_entry(&issued), None)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyVaultAccessDenied);
    assert_eq!(e.http_status(), Some(401));
    assert!(
        e.remedy().unwrap().contains(&format!(
            "The vault belongs to tenant {}",
            certless_emulator::DEFAULT_OTHER_TENANT_ID
        )),
        "{e}"
    );
    emu.update_registry(|r| r.key_vaults[0].tenant_id = None);

    let locked = emu
        .add_key_vault_certificate(&KeyVaultCertificateOptions {
            name: Some("locked".into()),
            not_exportable: true,
            ..Default::default()
        })
        .unwrap();
    let e = credential_with(&emu, &key_vault_entry(&locked), None)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyVaultInvalidResponse);
    assert!(e.to_string().contains("not exportable"), "{e}");

    let expired = emu
        .add_key_vault_certificate(&KeyVaultCertificateOptions {
            name: Some("expired".into()),
            certificate: ClientCertificateOptions {
                not_after: Some(
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64
                        - 86_400,
                ),
                not_before: Some(0),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    let e = credential_with(&emu, &key_vault_entry(&expired), None)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(e.aadsts_codes(), [700027]);
    assert!(e.remedy().unwrap().contains("has expired"), "{e}");
}
