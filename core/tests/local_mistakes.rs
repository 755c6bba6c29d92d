//! A mistake on this machine (an endpoint variable that is not a URL, a secret that cannot be
//! sent as a header, a proxy that is not there) is reported when the credential is built, or on
//! the first attempt, as what it is: never retried for half a minute as a network failure.

mod common;

use std::sync::Arc;

use certless::env::MapEnv;
use certless::{CredentialBuilder, ErrorCode, Leg, ManagedIdentityId, Retries};
use certless_emulator::{Endpoint, Fault, FaultBody, MiSourceKind, RunningEmulator};
use common::*;

/// The emulator's environment for `source` with `name` set to `value`.
fn env_with(emu: &RunningEmulator, source: MiSourceKind, name: &str, value: &str) -> MapEnv {
    MapEnv::new()
        .with_vars(emu.client_env(source))
        .with_var(name, value)
}

fn build_error(emu: &RunningEmulator, env: MapEnv) -> certless::Error {
    builder(emu, MiSourceKind::Imds)
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err()
}

#[tokio::test]
async fn a_secret_that_cannot_be_a_header_is_named_without_its_value() {
    let emu = emulator().await;
    let cases = [
        (MiSourceKind::AppService, "IDENTITY_HEADER"),
        (MiSourceKind::AzureMl, "MSI_SECRET"),
    ];
    for (source, name) in cases {
        for (value, what) in [
            ("s3cr3t-value\r\nX-Injected: 1", "line break"),
            ("s3cr3t-value\n", "line break"),
            ("s3cr3t\u{0}välue", "control character"),
        ] {
            let e = build_error(&emu, env_with(&emu, source, name, value));
            let text = e.to_string();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{text}");
            assert_eq!(e.leg(), Leg::Config, "{text}");
            assert!(text.contains(name) && text.contains(what), "{text}");
            assert!(
                !text.contains("s3cr3t") && !text.contains("Injected"),
                "{text}"
            );
        }
    }
    // Service Fabric takes IDENTITY_HEADER too.
    let mut env = env_with(
        &emu,
        MiSourceKind::AppService,
        "IDENTITY_HEADER",
        "s3cr3t\r\n",
    );
    env = env
        .with_var(
            "IDENTITY_ENDPOINT",
            "https://127.0.0.1:2377/metadata/identity/oauth2/token",
        )
        .with_var(
            "IDENTITY_SERVER_THUMBPRINT",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        );
    let e = build_error(&emu, env);
    assert!(e.to_string().contains("IDENTITY_HEADER"), "{e}");
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
}

#[tokio::test]
async fn endpoint_variables_that_are_not_urls_are_named() {
    let emu = emulator().await;
    let cases = [
        (
            MiSourceKind::Imds,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "notaurl",
        ),
        (
            MiSourceKind::Imds,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "ftp://127.0.0.1",
        ),
        (MiSourceKind::AppService, "IDENTITY_ENDPOINT", "notaurl"),
        (MiSourceKind::AppService, "IDENTITY_ENDPOINT", "http://"),
        (
            MiSourceKind::AzureMl,
            "MSI_ENDPOINT",
            "127.0.0.1:8081/msi/token",
        ),
        (MiSourceKind::CloudShell, "MSI_ENDPOINT", "http://exa mple/"),
        (
            MiSourceKind::AzureArc,
            "IDENTITY_ENDPOINT",
            "file:///etc/passwd",
        ),
        (MiSourceKind::AzureArc, "IMDS_ENDPOINT", "notaurl"),
    ];
    for (source, name, value) in cases {
        let e = build_error(&emu, env_with(&emu, source, name, value));
        let text = e.to_string();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{name}={value}: {text}");
        assert_eq!(e.leg(), Leg::Config, "{text}");
        assert!(
            text.contains(&format!("{name} '{value}'")) && text.contains("http"),
            "{text}"
        );
    }
    // The variables as the platforms set them still build.
    for source in [
        MiSourceKind::Imds,
        MiSourceKind::AppService,
        MiSourceKind::AzureMl,
        MiSourceKind::CloudShell,
        MiSourceKind::AzureArc,
    ] {
        builder(&emu, source)
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap_or_else(|e| panic!("{source:?}: {e}"));
    }
}

#[tokio::test]
async fn a_response_over_256_kb_is_called_too_large() {
    let emu = emulator().await;
    let big = FaultBody::Custom(format!(
        "{{\"access_token\": \"{}\"}}",
        "a".repeat(300 * 1024)
    ));
    for endpoint in [Endpoint::Imds, Endpoint::EntraToken] {
        emu.set_fault(endpoint, Fault::broken_body(big.clone()));
        let credential = builder(&emu, MiSourceKind::Imds)
            .retries(Retries::none())
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
        let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
        assert!(e.to_string().contains("response too large"), "{e}");
        assert!(e.to_string().contains("256 KiB"), "{e}");
        emu.clear_faults();
    }
}

#[tokio::test]
async fn a_proxy_that_refuses_is_named_without_its_credentials() {
    let emu = emulator().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for variable in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        let env = MapEnv::new()
            .with_vars(emu.client_env(MiSourceKind::Imds))
            .with_var(
                variable,
                format!("http://proxyuser:s3cret@127.0.0.1:{port}"),
            );
        let credential = builder(&emu, MiSourceKind::Imds)
            .environment(Arc::new(env))
            .retries(Retries::none())
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
        let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
        let text = e.to_string();
        assert_eq!(e.leg(), Leg::Exchange, "{text}");
        assert!(
            text.contains(&format!(
                "the proxy 127.0.0.1:{port} (set by {variable}) refused"
            )),
            "{text}"
        );
        let remedy = e.remedy().unwrap_or_default();
        assert!(
            remedy.contains("NO_PROXY") && remedy.contains(variable),
            "{text}"
        );
        assert!(
            !text.contains("s3cret") && !text.contains("proxyuser"),
            "{text}"
        );
    }
    // The managed-identity leg never used the proxy, and got its token each time.
    assert_eq!(emu.counters().imds, 3);
}

#[test]
fn endpoint_checks_need_no_request() {
    // The checks run at build time, without any request: an unparseable endpoint fails before
    // the first get_token even when nothing listens anywhere.
    let env = MapEnv::new()
        .with_var("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .with_var("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
        .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", "notaurl");
    let e = CredentialBuilder::from_environment(Arc::new(env))
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
    assert!(
        e.to_string().contains("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        "{e}"
    );
}
