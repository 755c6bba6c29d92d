//! Certificate credentials against the emulator's Entra, which verifies the signed assertion
//! against the certificates registered on the app: PFX (AES and legacy 3DES, with a password),
//! base64 PFX, PEM (PKCS#8, PKCS#1, encrypted PKCS#8), rotation on disk, and the errors users meet.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certless::env::MapEnv;
use certless::{Credential, CredentialSourceKind, ErrorCode, ManagedIdentityId, Secret};
use certless_emulator::{
    ClientCertificateOptions, Endpoint, IssuedClientCertificate, MiSourceKind,
};
use common::*;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certless-cert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A token fetched anew, bypassing the cache.
async fn refreshed(credential: &Credential) -> certless::AccessToken {
    let options = certless::TokenRequestOptions {
        force_refresh: true,
        ..Default::default()
    };
    credential
        .get_token_with(&[SHAREPOINT], &options)
        .await
        .unwrap()
}

fn pfx(issued: &IssuedClientCertificate) -> Vec<u8> {
    STANDARD.decode(&issued.pfx_base64).unwrap()
}

fn config(emu: &certless_emulator::RunningEmulator, entries: &str) -> String {
    format!(
        r#"{{"AzureAd":{{"Instance":"{}","TenantId":"{}","ClientId":"{}","ClientCredentials":[{entries}]}}}}"#,
        emu.authority_host(),
        emu.tenant_id(),
        emu.default_app_client_id()
    )
}

async fn token_claims(
    emu: &certless_emulator::RunningEmulator,
    credential: &Credential,
) -> serde_json::Value {
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    emu.verify_access_token(token.token.expose()).unwrap()
}

#[tokio::test]
async fn a_pfx_with_a_password_signs_an_assertion_entra_accepts() {
    let emu = emulator().await;
    let issued = emu
        .issue_client_certificate(&ClientCertificateOptions {
            password: "p@ss w0rd".into(),
            ..Default::default()
        })
        .unwrap();
    let dir = temp_dir();
    let path = dir.join("app.pfx");
    std::fs::write(&path, pfx(&issued)).unwrap();
    let json = config(
        &emu,
        &format!(
            r#"{{"SourceType":"Path","CertificateDiskPath":{},"CertificatePassword":"p@ss w0rd"}}"#,
            serde_json::to_string(&path).unwrap()
        ),
    );
    let credential = Credential::from_config_json(&json).unwrap();
    assert_eq!(credential.sources(), vec![CredentialSourceKind::Path]);
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::Path);
    let claims = emu.verify_access_token(token.token.expose()).unwrap();
    assert_eq!(
        claims["appidacr"], "2",
        "SharePoint accepts certificate tokens"
    );
    assert_eq!(claims["roles"][0], "Sites.Selected");

    let r = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::EntraToken))
        .unwrap();
    let fields: Vec<&str> = r.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        fields,
        [
            "client_id",
            "scope",
            "grant_type",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(
        r.form[3].1,
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(emu.counters().managed_identity(), 0);
    // Neither the password nor key material shows in Debug output.
    let debug = format!("{credential:?}");
    assert!(!debug.contains("p@ss"), "{debug}");
}

#[tokio::test]
async fn legacy_3des_pfx_in_base64_encoded_and_send_x5c() {
    let emu = emulator().await;
    let issued = emu
        .issue_client_certificate(&ClientCertificateOptions {
            password: "legacy".into(),
            legacy_pfx: true,
            ..Default::default()
        })
        .unwrap();
    let json = config(
        &emu,
        &format!(
            r#"{{"SourceType":"Base64Encoded","Base64EncodedValue":"{}","CertificatePassword":"legacy"}}"#,
            issued.pfx_base64
        ),
    )
    .replace(r#""ClientCredentials""#, r#""SendX5C":true,"ClientCredentials""#);
    let credential = Credential::from_config_json(&json).unwrap();
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::Base64Encoded);
    // The secret value stays out of Debug output.
    let debug = format!("{credential:?}");
    assert!(!debug.contains(&issued.pfx_base64[..40]), "{debug}");
}

#[tokio::test]
async fn pem_files_in_every_key_encoding_through_the_azure_sdk_variables() {
    let emu = emulator().await;
    let issued = emu.issue_client_certificate(&Default::default()).unwrap();
    let dir = temp_dir();
    let pkcs8_der = STANDARD
        .decode(
            issued
                .private_key_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let info = pkcs8::PrivateKeyInfoRef::try_from(pkcs8_der.as_slice()).unwrap();
    let pkcs1 = pem_block("RSA PRIVATE KEY", info.private_key.as_bytes());
    let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
        2048, &[7u8; 16], [9u8; 16],
    )
    .unwrap();
    let encrypted = info.encrypt_with_params(params, "pem pass").unwrap();
    let encrypted = pem_block("ENCRYPTED PRIVATE KEY", encrypted.as_bytes());
    let cases = [
        (
            "pkcs8.pem",
            format!("{}{}", issued.certificate_pem, issued.private_key_pem),
            None,
        ),
        (
            "pkcs1.pem",
            format!("{pkcs1}{}", issued.certificate_pem),
            None,
        ),
        (
            "encrypted.pem",
            format!("{}{encrypted}", issued.certificate_pem),
            Some("pem pass"),
        ),
    ];
    for (name, content, password) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let mut env = MapEnv::new()
            .with_var("AZURE_TENANT_ID", emu.tenant_id())
            .with_var("AZURE_CLIENT_ID", emu.default_app_client_id())
            .with_var("AZURE_AUTHORITY_HOST", emu.authority_host())
            .with_var("AZURE_CLIENT_CERTIFICATE_PATH", path.display().to_string())
            // No managed identity here: IMDS is refused, the certificate is the fallback.
            .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        if let Some(p) = password {
            env = env.with_var("AZURE_CLIENT_CERTIFICATE_PASSWORD", p);
        }
        let credential = certless::CredentialBuilder::from_environment(Arc::new(env))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            credential.sources(),
            vec![
                CredentialSourceKind::SignedAssertionFromManagedIdentity,
                CredentialSourceKind::Path
            ]
        );
        let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
        assert_eq!(token.source, CredentialSourceKind::Path, "{name}");
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

#[tokio::test]
async fn the_managed_identity_comes_first_and_the_certificate_is_the_fallback() {
    let emu = emulator().await;
    let issued = emu.issue_client_certificate(&Default::default()).unwrap();
    let mi = emu.default_user_assigned().client_id;
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(mi))
        .client_certificate_base64(issued.pfx_base64.clone(), None)
        .build()
        .unwrap();
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        token.source,
        CredentialSourceKind::SignedAssertionFromManagedIdentity
    );

    // "It worked for a week, then stopped": the federated credential is gone; the certificate carries on.
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let token = refreshed(&credential).await;
    assert_eq!(token.source, CredentialSourceKind::Base64Encoded);
    let c = emu.counters();
    assert_eq!(
        (c.imds, c.entra_token),
        (1, 3),
        "the exchange was tried with the MI token first"
    );
}

#[tokio::test]
async fn wrong_password_and_unusable_files_fail_at_build_with_the_reason() {
    let emu = emulator().await;
    let issued = emu
        .issue_client_certificate(&ClientCertificateOptions {
            password: "right".into(),
            ..Default::default()
        })
        .unwrap();
    let build = |password: Option<&str>| {
        builder(&emu, MiSourceKind::Imds)
            .client_certificate_base64(issued.pfx_base64.clone(), password.map(Secret::from))
            .build()
            .unwrap_err()
    };
    let e = build(Some("wrong-horse-battery"));
    assert_eq!(e.code(), ErrorCode::CertificateUnusable);
    assert_eq!(e.leg(), certless::Leg::Config);
    assert!(
        e.to_string()
            .contains("cannot be opened with the password given"),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong-horse-battery"), "{e}");
    let e = build(None);
    assert!(e.to_string().contains("none was given"), "{e}");

    let missing = builder(&emu, MiSourceKind::Imds)
        .client_certificate_file("/nonexistent/app.pfx", None)
        .build()
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/app.pfx cannot be read"),
        "{missing}"
    );

    let dir = temp_dir();
    let ec = dir.join("ec.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["x".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(&ec, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let e = builder(&emu, MiSourceKind::Imds)
        .client_certificate_file(&ec, None)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("certless cannot sign with"), "{e}");
    assert!(e.remedy().unwrap().contains("RSA"), "{:?}", e.remedy());
}

#[tokio::test]
async fn entra_refusals_name_the_certificate() {
    let emu = emulator().await;
    let unknown = emu
        .issue_client_certificate(&ClientCertificateOptions {
            unregistered: true,
            ..Default::default()
        })
        .unwrap();
    let credential = builder(&emu, MiSourceKind::Imds)
        .client_certificate_base64(unknown.pfx_base64.clone(), None)
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeRejected);
    assert_eq!(e.aadsts_codes(), &[700027]);
    assert!(e.to_string().contains("The key was not found"), "{e}");
    let remedy = e.remedy().unwrap();
    assert!(
        remedy.contains(&unknown.thumbprint) && remedy.contains("Certificates & secrets"),
        "{remedy}"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = emu
        .issue_client_certificate(&ClientCertificateOptions {
            not_before: Some(now - 10 * 86_400),
            not_after: Some(now - 86_400),
            ..Default::default()
        })
        .unwrap();
    let credential = builder(&emu, MiSourceKind::Imds)
        .client_certificate_base64(expired.pfx_base64.clone(), None)
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.aadsts_codes(), &[700027]);
    assert!(e.to_string().contains("The key used is expired"), "{e}");
    assert!(
        e.remedy().unwrap().contains("has expired"),
        "{:?}",
        e.remedy()
    );
}

#[tokio::test]
async fn a_renewed_certificate_on_disk_is_picked_up_without_a_restart() {
    let emu = emulator().await;
    let old = emu.issue_client_certificate(&Default::default()).unwrap();
    let dir = temp_dir();
    let path = dir.join("app.pfx");
    std::fs::write(&path, pfx(&old)).unwrap();
    let credential = builder(&emu, MiSourceKind::Imds)
        .client_certificate_file(&path, None)
        .build()
        .unwrap();
    token_claims(&emu, &credential).await;

    // Renewal: a new certificate on disk, the old one removed from the app registration.
    let new = emu.issue_client_certificate(&Default::default()).unwrap();
    emu.update_registry(|r| {
        r.apps[0]
            .certificates
            .retain(|pem| pem != &old.certificate_pem)
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, pfx(&new)).unwrap();
    let token = refreshed(&credential).await;
    assert_eq!(token.source, CredentialSourceKind::Path);

    // A broken file keeps the certificate in hand.
    std::fs::write(&path, b"half-written").unwrap();
    refreshed(&credential).await;
}
