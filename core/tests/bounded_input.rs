//! Every file certless reads is a regular file read up to a limit sized for its purpose, and
//! every configuration value echoed into an error is truncated and has its control and bidi
//! characters escaped. A mistaken path (`/dev/zero`, a FIFO, a directory, a huge file) is an
//! error that says what the path is, never an exhausted memory or a hang.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certless::env::MapEnv;
use certless::{Credential, CredentialBuilder, ErrorCode, Leg, ManagedIdentityId, Retries};
use common::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

/// Paths that are not a readable regular file of sane size, and what the error must say.
fn hostile_paths(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    // Sparse: larger than every limit, yet costs no disk.
    let huge = dir.join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let mut paths = vec![
        (dir.to_path_buf(), "is a directory, not a regular file"),
        (huge, "limit"),
    ];
    if cfg!(unix) {
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        paths.push((fifo, "is a FIFO (named pipe), not a regular file"));
        paths.push((
            PathBuf::from("/dev/zero"),
            "is a character device, not a regular file",
        ));
    }
    paths
}

fn check(e: &certless::Error, path: &Path, expected: &str, limit: &str) {
    let text = e.to_string();
    assert_eq!(e.leg(), Leg::Config, "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(expected), "{}: {text}", path.display());
    if expected == "limit" {
        assert!(text.contains(limit), "the limit is not said: {text}");
    }
}

fn base() -> CredentialBuilder {
    Credential::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .environment(Arc::new(MapEnv::new()))
}

#[test]
fn configuration_files_are_regular_files_of_at_most_1_mib() {
    let dir = scratch_dir("bounded-config");
    for (path, expected) in hostile_paths(&dir) {
        let e = CredentialBuilder::from_config_file(&path).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigFileUnreadable, "{e}");
        check(&e, &path, expected, "1 MiB limit for a configuration file");
    }
    // The same limit for JSON handed over as a string.
    let e = CredentialBuilder::from_config_json(&format!(
        "{{\"AzureAd\": {{}}, \"x\": \"{}\"}}",
        "a".repeat(2 << 20)
    ))
    .unwrap_err();
    assert!(e.to_string().contains("1 MiB"), "{e}");
    assert!(e.to_string().len() < 1000, "{}", e.to_string().len());
}

#[test]
fn ca_files_are_regular_files_of_at_most_4_mib() {
    let dir = scratch_dir("bounded-ca");
    for (i, (path, expected)) in hostile_paths(&dir).into_iter().enumerate() {
        let var = if i % 2 == 0 {
            "CERTLESS_CA_FILE"
        } else {
            "SSL_CERT_FILE"
        };
        let env = MapEnv::new().with_var(var, path.display().to_string());
        let e = base()
            .environment(Arc::new(env))
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
        check(&e, &path, expected, "4 MiB limit for a CA file");
    }
}

#[test]
fn a_ca_file_with_a_damaged_certificate_fails_the_build_and_names_the_file() {
    let dir = scratch_dir("damaged-ca");
    let path = dir.join("corporate-ca.pem");
    // PEM that parses, around bytes that are no certificate (a bundle damaged in transit).
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let env = MapEnv::new().with_var("CERTLESS_CA_FILE", path.display().to_string());
    let e = base()
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
    assert_eq!(e.leg(), certless::Leg::Config, "{e}");
    assert!(e.message().contains("corporate-ca.pem"), "{e}");
    assert!(
        e.message()
            .contains("cannot be used to check Entra's certificate"),
        "{e}"
    );
    assert!(
        e.remedy().unwrap_or_default().contains("CERTLESS_CA_FILE"),
        "{e}"
    );
}

#[test]
fn certificate_files_are_regular_files_of_at_most_1_mib() {
    let dir = scratch_dir("bounded-cert");
    for (path, expected) in hostile_paths(&dir) {
        let e = base()
            .client_certificate_file(&path, None)
            .build()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::CertificateUnusable, "{e}");
        check(&e, &path, expected, "1 MiB limit for a certificate file");
    }
}

#[tokio::test]
async fn federated_token_files_are_regular_files_of_at_most_64_kib() {
    let dir = scratch_dir("bounded-token");
    for (path, expected) in hostile_paths(&dir) {
        let credential = base()
            .federated_token_file(&path)
            .retries(Retries::none())
            .build()
            .unwrap();
        let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::AssertionFileUnusable, "{e}");
        check(
            &e,
            &path,
            expected,
            "64 KiB limit for a federated token file",
        );
    }
}

/// What an echoed value may look like in an error: bounded, and nothing a terminal would act on
/// or render out of order.
fn assert_safe(e: &certless::Error) {
    let text = e.to_string();
    assert!(text.len() < 2000, "a {}-byte error", text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        assert!(
            !bidi && (!c.is_control() || c == '\n'),
            "raw {:?} in {text:?}",
            c
        );
    }
}

#[test]
fn a_10_mb_tenant_id_gives_a_short_error() {
    let huge = "t".repeat(10 << 20);
    let e = base()
        .tenant_id(huge.clone())
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert_safe(&e);
    assert!(e.to_string().contains("TenantId 'tttt"), "{e}");
    assert!(e.to_string().contains("10485760 bytes"), "{e}");

    let env = MapEnv::new()
        .with_var("AZURE_TENANT_ID", huge)
        .with_var("AZURE_CLIENT_ID", CLIENT);
    let e = CredentialBuilder::from_environment(Arc::new(env))
        .unwrap()
        .build()
        .unwrap_err();
    assert_safe(&e);
}

#[test]
fn control_and_bidi_characters_are_escaped_wherever_a_value_is_echoed() {
    // An ANSI sequence that would recolour (or clear) the terminal, and a right-to-left override
    // that would make "contoso<RLO>moc.live" display as "contosoevil.com".
    let hostile = "\u{1b}[31mcontoso\u{202e}moc.live\u{0}";
    let escaped = "\\u{1b}[31mcontoso\\u{202e}moc.live\\0";

    let e = base()
        .tenant_id(hostile)
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err();
    assert_safe(&e);
    assert!(e.to_string().contains(escaped), "{e}");

    let e = base()
        .authority_host(format!("https://login.microsoftonline.com/{hostile}"))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err();
    assert_safe(&e);

    let e = base()
        .managed_identity(ManagedIdentityId::ClientId(hostile.into()))
        .build()
        .unwrap_err();
    assert_safe(&e);
    assert!(e.to_string().contains(escaped), "{e}");

    let json = serde_json::json!({ "AzureAd": { format!("Tenant{hostile}Id"): "x" } }).to_string();
    let e = CredentialBuilder::from_config_json(&json).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownConfigKey);
    assert_safe(&e);

    let json =
        serde_json::json!({ "AzureAd": { "ClientCredentials": [{ "SourceType": hostile }] } })
            .to_string();
    let e = CredentialBuilder::from_config_json(&json).unwrap_err();
    assert_safe(&e);
    assert!(e.to_string().contains(escaped), "{e}");

    for (name, value) in [
        ("CERTLESS_MANAGED_IDENTITY_SOURCE", hostile.to_string()),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", hostile.to_string()),
    ] {
        let env = MapEnv::new()
            .with_var("AZURE_TENANT_ID", TENANT)
            .with_var("AZURE_CLIENT_ID", CLIENT)
            .with_var(name, value);
        let e = CredentialBuilder::from_environment(Arc::new(env))
            .and_then(CredentialBuilder::build)
            .unwrap_err();
        assert_safe(&e);
        assert!(e.to_string().contains(name), "{e}");
    }

    // A path is echoed too.
    let e =
        CredentialBuilder::from_config_file(format!("/nonexistent/{hostile}.json")).unwrap_err();
    assert_safe(&e);
}
