//! The certificate-store sources off Windows: `CurrentUser/My` is the folder of password-less PFX
//! files where .NET on Linux keeps that store, so the same appsettings.json works there. The
//! certificate is chosen as .NET chooses it (valid now, matching, the newest), and the other
//! stores say they are not available here.

#![cfg(not(windows))]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certless::env::MapEnv;
use certless::{Credential, CredentialSourceKind, ErrorCode};
use certless_emulator::{ClientCertificateOptions, IssuedClientCertificate, RunningEmulator};
use common::*;

/// Where .NET on Linux keeps `CurrentUser/My` for a user whose home is `home`.
fn my_store(home: &Path) -> PathBuf {
    home.join(".dotnet/corefx/cryptography/x509stores/my")
}

fn add_to_store(home: &Path, issued: &IssuedClientCertificate) {
    let dir = my_store(home);
    std::fs::create_dir_all(&dir).unwrap();
    let pfx = STANDARD.decode(&issued.pfx_base64).unwrap();
    std::fs::write(dir.join(format!("{}.pfx", issued.thumbprint)), pfx).unwrap();
}

fn from_store(emu: &RunningEmulator, home: &Path, entry: &str) -> certless::Result<Credential> {
    let json = format!(
        r#"{{"AzureAd":{{"Instance":"{}","TenantId":"{}","ClientId":"{}","ClientCredentials":[{entry}]}}}}"#,
        emu.authority_host(),
        emu.tenant_id(),
        emu.default_app_client_id()
    );
    certless::CredentialBuilder::from_config_json(&json)?
        .environment(Arc::new(
            MapEnv::new().with_var("HOME", home.display().to_string()),
        ))
        .build()
}

#[tokio::test]
async fn the_same_appsettings_finds_the_certificate_in_dotnets_linux_store() {
    let emu = emulator().await;
    let home = scratch_dir("store-home");
    // Someone else's certificate, and the app's.
    let other = emu
        .issue_client_certificate(&ClientCertificateOptions {
            unregistered: true,
            not_before: Some(now() - 10 * DAY),
            ..Default::default()
        })
        .unwrap();
    let app = emu.issue_client_certificate(&Default::default()).unwrap();
    add_to_store(&home, &other);
    add_to_store(&home, &app);
    std::fs::write(my_store(&home).join("not-a-certificate.pfx"), b"junk").unwrap();

    let entries = [
        (
            format!(
                r#"{{"SourceType":"StoreWithThumbprint","CertificateStorePath":"CurrentUser/My","CertificateThumbprint":"{}"}}"#,
                app.thumbprint.to_lowercase()
            ),
            CredentialSourceKind::StoreWithThumbprint,
        ),
        (
            r#"{"SourceType":"StoreWithSubjectName","CertificateSubjectName":"demo-app"}"#
                .to_string(),
            CredentialSourceKind::StoreWithSubjectName,
        ),
        (
            r#"{"SourceType":"StoreWithDistinguishedName","CertificateStorePath":"CurrentUser\\My","CertificateDistinguishedName":"cn=certless-demo-app"}"#
                .to_string(),
            CredentialSourceKind::StoreWithDistinguishedName,
        ),
    ];
    for (entry, kind) in entries {
        // Both certificates have the app's subject; only the app's is registered, and being
        // the newer it is the one chosen by name.
        let credential = from_store(&emu, &home, &entry).unwrap();
        let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
        assert_eq!(token.source, kind);
        let claims = emu.verify_access_token(token.token.expose()).unwrap();
        assert_eq!(claims["appidacr"], "2");
    }
}

#[tokio::test]
async fn the_newest_valid_certificate_is_chosen_as_dotnet_does() {
    let emu = emulator().await;
    let home = scratch_dir("store-newest");
    let expired = emu
        .issue_client_certificate(&ClientCertificateOptions {
            not_before: Some(now() - 400 * DAY),
            not_after: Some(now() - DAY),
            ..Default::default()
        })
        .unwrap();
    let older = emu
        .issue_client_certificate(&ClientCertificateOptions {
            not_before: Some(now() - 300 * DAY),
            not_after: Some(now() + 60 * DAY),
            unregistered: true,
            ..Default::default()
        })
        .unwrap();
    let newest = emu
        .issue_client_certificate(&ClientCertificateOptions {
            not_before: Some(now() - DAY),
            not_after: Some(now() + 365 * DAY),
            ..Default::default()
        })
        .unwrap();
    for issued in [&expired, &older, &newest] {
        add_to_store(&home, issued);
    }
    let entry =
        r#"{"SourceType":"StoreWithSubjectName","CertificateSubjectName":"CN=certless-demo-app"}"#;
    let credential = from_store(&emu, &home, entry).unwrap();
    // Only the newest is registered on the app: a token proves it was the one chosen.
    credential.get_token(&[SHAREPOINT]).await.unwrap();

    // By thumbprint, an expired certificate is not chosen: the error says which one is there.
    let entry = format!(
        r#"{{"SourceType":"StoreWithThumbprint","CertificateThumbprint":"{}"}}"#,
        expired.thumbprint
    );
    let e = from_store(&emu, &home, &entry).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CertificateNotInStore);
    assert!(
        e.to_string().contains(&format!(
            "has no certificate with thumbprint {} that is valid now",
            expired.thumbprint
        )),
        "{e}"
    );
}

#[tokio::test]
async fn other_stores_and_missing_certificates_say_what_to_do() {
    let emu = emulator().await;
    let home = scratch_dir("store-errors");
    let entry = r#"{"SourceType":"StoreWithThumbprint","CertificateStorePath":"LocalMachine/My","CertificateThumbprint":"8F2A1C00112233445566778899AABBCCDDEEFF00"}"#;
    let e = from_store(&emu, &home, entry).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CertificateStoreUnavailable);
    assert!(
        e.to_string()
            .contains("the certificate store LocalMachine/My is not available on linux"),
        "{e}"
    );
    assert!(e.remedy().unwrap().contains("CurrentUser/My"), "{e}");

    let entry = r#"{"SourceType":"StoreWithThumbprint","CertificateThumbprint":"8F2A1C00112233445566778899AABBCCDDEEFF00"}"#;
    let e = from_store(&emu, &home, entry).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CertificateNotInStore);
    assert!(e.to_string().contains("does not exist"), "{e}");

    add_to_store(
        &home,
        &emu.issue_client_certificate(&Default::default()).unwrap(),
    );
    let e = from_store(&emu, &home, entry).unwrap_err();
    assert!(e.to_string().contains("(1 certificate(s) in it)"), "{e}");
    assert!(
        e.remedy().unwrap().contains("LocalMachine/My rather than"),
        "{e}"
    );

    let bad = r#"{"SourceType":"StoreWithThumbprint","CertificateThumbprint":"not hex"}"#;
    let e = from_store(&emu, &home, bad).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    let missing = r#"{"SourceType":"StoreWithDistinguishedName"}"#;
    let e = from_store(&emu, &home, missing).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingConfig);
    assert!(
        e.to_string().contains("CertificateDistinguishedName"),
        "{e}"
    );
}
