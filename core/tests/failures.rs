//! Failures surface with the right leg, code, AADSTS codes, ids and remedy.

mod common;

use std::time::Duration;

use certless::{Credential, CredentialSourceKind, ErrorCode, Leg, ManagedIdentityId, Retries};
use certless_emulator::{Endpoint, Fault, FaultBody, MiSourceKind};
use common::*;

/// These tests are about the shape of each error: one attempt per leg, no retry.
fn once(emu: &certless_emulator::RunningEmulator) -> Credential {
    builder(emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap()
}

fn seed_config(emu: &certless_emulator::RunningEmulator) -> String {
    // Microsoft's certificateless sample, unchanged but for the values a user fills in.
    r#"{ "AzureAd": { "Instance": "https://login.microsoftonline.com/", "TenantId": "YOUR_TENANT_ID",
      "ClientId": "YOUR_CLIENT_ID", "ClientCredentials": [
        { "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "USER_ASSIGNED_MSI_CLIENT_ID" },
        { "SourceType": "KeyVault", "KeyVaultUrl": "https://your-keyvault.vault.azure.net", "KeyVaultCertificateName": "your-cert-name" } ] } }"#
        .replace("https://login.microsoftonline.com/", &format!("{}/", emu.authority_host()))
        .replace("YOUR_TENANT_ID", &emu.tenant_id())
        .replace("YOUR_CLIENT_ID", &emu.default_app_client_id())
        // A vault of the emulator's that does not hold the certificate.
        .replace("https://your-keyvault.vault.azure.net", &emu.key_vault_url("your-keyvault"))
        .replace("USER_ASSIGNED_MSI_CLIENT_ID", &emu.default_user_assigned().client_id)
}

fn seed_credential(emu: &certless_emulator::RunningEmulator) -> Credential {
    certless::CredentialBuilder::from_config_json(&seed_config(emu))
        .unwrap()
        .environment(std::sync::Arc::new(
            certless::env::MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn seed_configuration_runs_and_falls_back_with_each_cause() {
    let emu = emulator().await;
    let credential = seed_credential(&emu);
    assert_eq!(
        credential.sources(),
        [
            CredentialSourceKind::SignedAssertionFromManagedIdentity,
            CredentialSourceKind::KeyVault
        ]
    );
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        token.source,
        CredentialSourceKind::SignedAssertionFromManagedIdentity
    );

    // Break the federated credential: the chain reports both entries, the MI one first.
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = "00000000-1111-2222-3333-444444444444".into()
    });
    let e = credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::AllCredentialSourcesFailed);
    assert_eq!(e.leg(), Leg::Exchange, "the leg of the telling failure");
    assert_eq!(e.causes().len(), 2);
    assert_eq!(
        e.causes()[0].credential_source(),
        Some("SignedAssertionFromManagedIdentity")
    );
    assert_eq!(e.causes()[0].code(), ErrorCode::ExchangeRejected);
    assert_eq!(e.causes()[1].code(), ErrorCode::KeyVaultCertificateNotFound);
    assert_eq!(e.causes()[1].credential_source(), Some("KeyVault"));
    assert!(!e.aadsts_codes().is_empty());
}

#[tokio::test]
async fn fic_subject_mismatch_names_the_leg_code_ids_and_fix() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    // A subject that differs only in case: Entra compares exactly.
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = mi.object_id.to_uppercase()
    });
    let credential = once(&emu);
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeRejected);
    assert_eq!(e.leg(), Leg::Exchange);
    // Entra answers federated-credential mismatches with 400 (70021) or 401 (the newer 7002xx codes).
    assert!(matches!(e.http_status(), Some(400 | 401)), "{e}");
    assert!(
        e.aadsts_codes()
            .iter()
            .any(|c| [70021, 700213, 7002138].contains(c)),
        "{:?}",
        e.aadsts_codes()
    );
    assert!(e.trace_id().is_some_and(|t| !t.is_empty()));
    assert!(e.correlation_id().is_some_and(|t| !t.is_empty()));
    // The remedy names the field and the exact value, from the assertion itself.
    assert_eq!(e.aadsts_codes(), [7002138]);
    assert_eq!(
        e.remedy().unwrap(),
        format!(
            "A federated credential's subject differs from this identity's object id '{0}' only \
             in case, and Entra compares subjects case-sensitively: set it to exactly '{0}'.",
            mi.object_id
        ),
        "{e}"
    );
    // The other fields likewise.
    for (change, code, says) in [
        (
            0,
            700213,
            "No federated credential names this identity's object id",
        ),
        (
            1,
            700211,
            "No federated credential trusts the issuer 'https://login.microsoftonline.com/",
        ),
        (
            2,
            700212,
            "No federated credential accepts the audience 'api://AzureADTokenExchange'",
        ),
    ] {
        emu.update_registry(|r| {
            let c = &mut r.apps[0].federated_credentials[0];
            c.subject = mi.object_id.clone();
            match change {
                0 => c.subject = "00000000-1111-2222-3333-444444444444".into(),
                1 => c.issuer.push('/'),
                _ => c.audiences = vec!["api://AzureADTokenExchangeUSGov".into()],
            }
        });
        let e = once(&emu).get_token(&[SHAREPOINT]).await.unwrap_err();
        assert_eq!(e.aadsts_codes(), [code], "{e}");
        assert!(e.remedy().unwrap().starts_with(says), "{e}");
        emu.update_registry(|r| {
            r.apps[0].federated_credentials[0] =
                certless_emulator::EmulatorConfig::default().registry.apps[0].federated_credentials
                    [0]
                .clone()
        });
    }
    let text = e.to_string();
    assert!(
        text.contains("AADSTS") && text.contains("certless code 302"),
        "{text}"
    );
}

#[tokio::test]
async fn a_rejected_assertion_is_replaced_and_never_sent_again() {
    let mut config = certless_emulator::EmulatorConfig::default();
    config.registry.mi_token_lifetime_secs = 600;
    let emu = emulator_with(config).await;
    let credential = once(&emu);
    // The first exchange fetches an MI token that certless keeps (10 minutes left)...
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let kept = credential.managed_identity_assertion().await.unwrap();
    // ...then Entra's clock runs 20 minutes ahead of this machine's: the kept assertion expired
    // for Entra, beyond its 5-minute skew allowance. Entra's 700024 condemns that token: it is
    // dropped and the exchange repeated once with a new one.
    emu.set_time_offset(1200);
    credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (2, 3));
    let replaced = credential.managed_identity_assertion().await.unwrap();
    assert_ne!(replaced.token.expose(), kept.token.expose());

    // When even a freshly fetched token is refused, the error is Entra's, with its fix, and
    // the refused token is not presented again by the next request.
    let stale = serde_json::json!({
        "access_token": kept.token.expose(),
        "expires_in": "600",
        "token_type": "Bearer",
    })
    .to_string();
    emu.set_fault(
        Endpoint::Imds,
        Fault::broken_body(FaultBody::Custom(stale)).times(1),
    );
    emu.reset_counters();
    let credential = once(&emu);
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.aadsts_codes(), [700024]);
    assert_eq!(e.leg(), Leg::Exchange);
    assert!(e.remedy().unwrap().contains("clock"), "{e}");
    let c = emu.counters();
    assert_eq!(
        (c.imds, c.entra_token),
        (1, 1),
        "a fresh token is not retried"
    );
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let c = emu.counters();
    assert_eq!(
        (c.imds, c.entra_token),
        (2, 2),
        "the next request fetched a new one"
    );
}

#[tokio::test]
async fn unknown_app_is_700016() {
    let emu = emulator().await;
    let credential = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .client_id("99999999-8888-7777-6666-555555555555")
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.aadsts_codes(), [700016]);
    assert!(
        e.remedy().unwrap().contains("Application (client) ID"),
        "{e}"
    );
}

#[tokio::test]
async fn managed_identity_errors_name_the_leg_and_status() {
    let emu = emulator().await;
    let credential = once(&emu);
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            status: Some(410),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityRejected);
    assert_eq!(e.leg(), Leg::ManagedIdentity);
    assert_eq!(e.http_status(), Some(410));
    assert!(e.remedy().unwrap().contains("being updated"), "{e}");
    // An outage is held: the next call at once gets the same error without a request
    // (src/hold.rs)...
    let sent = emu.counters().imds;
    let held = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(held.http_status(), Some(410));
    assert_eq!(emu.counters().imds, sent);
    // ...and the fault is spent: the first call after the hold (2 s) works.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    credential.get_token(&[SHAREPOINT]).await.unwrap();

    let unknown = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(
            "12345678-1234-1234-1234-123456789012".into(),
        ))
        .build()
        .unwrap();
    let e = unknown.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.http_status(), Some(400));
    assert!(e.message().contains("Identity not found"), "{e}");
    assert!(
        e.remedy().unwrap().contains("not assigned to this VM"),
        "{e}"
    );
}

#[tokio::test]
async fn hostile_and_broken_responses_are_clear_errors() {
    let emu = emulator().await;
    let credential = once(&emu);
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            status: Some(200),
            body: Some(FaultBody::Malformed),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityInvalidResponse);

    emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            status: Some(200),
            body: Some(FaultBody::Malformed),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeInvalidResponse);
    assert_eq!(e.leg(), Leg::Exchange);

    emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            drop_connection: true,
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeUnreachable, "{e}");
    assert!(e.correlation_id().is_some());

    // That outage is held for this credential (src/hold.rs): a new one for the next case.
    let credential = once(&emu);

    emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            status: Some(429),
            retry_after: Some(7),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.http_status(), Some(429));
    assert_eq!(e.retry_after(), Some(7));
    assert!(e.remedy().unwrap().to_lowercase().contains("retry"), "{e}");

    // A server that echoes a token in its error text: it is cut out. (A new credential, so that
    // the managed-identity endpoint is asked again.)
    let credential = once(&emu);
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4IiwiYXVkIjoieSJ9.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw";
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            status: Some(500),
            body: Some(FaultBody::Custom(format!(
                r#"{{"error":"boom","error_description":"leaked {jwt}"}}"#
            ))),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("eyJzdWIi"), "{e}");
    assert!(e.to_string().contains("<redacted token>"), "{e}");

    // Everything works again once the faults are spent (and the 500's hold, 2 s, is over).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
}

#[tokio::test]
async fn timeouts_and_unreachable_endpoints() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let credential = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .timeouts(certless::Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_millis(300),
        })
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
        .build()
        .unwrap();
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            delay: Some(Duration::from_secs(3)),
            remaining: Some(1),
            ..Default::default()
        },
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityTimeout, "{e}");

    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = certless::env::MapEnv::new().with_var(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://127.0.0.1:{port}"),
    );
    let credential = Credential::builder()
        .tenant_id(emu.tenant_id())
        .client_id(emu.default_app_client_id())
        .authority_host(emu.authority_host())
        .environment(std::sync::Arc::new(env))
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityUnreachable, "{e}");
    assert!(e.remedy().unwrap().contains("certless emulator"), "{e}");
    // No IMDS at all: the credential is unavailable here (a chain moves on), not failing.
    assert!(e.is_unavailable(), "{e}");
    // A managed identity that answers but fails is a real failure, not "unavailable".
    let e = timeout_error_is_not_unavailable(&emu).await;
    assert!(!e.is_unavailable(), "{e}");
}

async fn timeout_error_is_not_unavailable(
    emu: &certless_emulator::RunningEmulator,
) -> certless::Error {
    emu.set_fault(Endpoint::Imds, Fault::http_status(500).times(1));
    let e = builder(emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        ))
        .build()
        .unwrap()
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityRejected, "{e}");
    e
}

#[tokio::test]
async fn docker_desktop_and_a_chain_without_any_source_are_unavailable() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    emu.set_fault(
        Endpoint::Imds,
        Fault::http_status(403).with_body(FaultBody::Custom(
            "connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp \
                169.254.169.254:80: connectex: A socket operation was attempted to an \
                unreachable network."
                .into(),
        )),
    );
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert_eq!(emu.counters().imds, 1, "not retried: {e}");
    // Behind it a client secret Entra refuses: a real failure, so the chain is not unavailable.
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .client_secret("not-the-secret")
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AllCredentialSourcesFailed, "{e}");
    assert!(!e.is_unavailable(), "{e}");
    assert!(e.causes()[0].is_unavailable(), "{e}");
}

#[tokio::test]
async fn plain_http_authority_is_refused() {
    let emu = emulator().await;
    let json =
        seed_config(&emu).replacen(&emu.authority_host(), "http://login.microsoftonline.com", 1);
    let e = Credential::from_config_json(&json).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InsecureAuthority);
    assert_eq!(e.leg(), Leg::Config);
    assert!(e.to_string().contains("https://"), "{e}");
}

#[tokio::test]
async fn every_expires_on_shape_from_the_endpoint_works() {
    use certless_emulator::ExpiresOnFormat::*;
    let emu = emulator().await;
    for format in [NumberString, Number, DateString, Iso8601] {
        emu.set_expires_on_format(Endpoint::Imds, format).unwrap();
        let credential = once(&emu);
        let assertion = credential
            .managed_identity_assertion()
            .await
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let exp = certless::jwt::decode_claims(assertion.token.expose())
            .unwrap()
            .exp
            .unwrap();
        // Date strings carry whole seconds; the JWT's exp is the truth.
        assert!(
            (assertion.expires_on - exp).abs() <= 1,
            "{format:?}: {} vs {exp}",
            assertion.expires_on
        );
    }
}

#[tokio::test]
async fn a_request_has_an_overall_deadline_that_names_the_leg_still_waiting() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let hung = || Fault::delayed(Duration::from_secs(20));
    let credential = || {
        builder(&emu, MiSourceKind::Imds)
            .deadline(Duration::from_secs(1))
            .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
            .build()
            .unwrap()
    };
    emu.set_fault(Endpoint::Imds, hung());
    let e = credential().get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityTimeout, "{e}");
    assert_eq!(e.leg(), Leg::ManagedIdentity);
    assert!(e.message().contains("1 s deadline"), "{e}");
    assert!(e.message().contains("IMDS"), "{e}");
    assert!(
        e.remedy().unwrap().contains("CERTLESS_REQUEST_DEADLINE"),
        "{e}"
    );

    emu.clear_faults();
    emu.set_fault(Endpoint::EntraToken, hung());
    let e = credential().get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeTimeout, "{e}");
    assert_eq!(e.leg(), Leg::Exchange);
    assert!(e.message().contains("Entra's token endpoint"), "{e}");
}

#[tokio::test]
async fn the_deadline_comes_from_the_environment_and_is_checked() {
    let emu = emulator().await;
    let with_env = |value: &str| {
        let env = certless::env::MapEnv::new()
            .with_vars(emu.client_env(MiSourceKind::Imds))
            .with_var("CERTLESS_REQUEST_DEADLINE", value);
        Credential::builder()
            .tenant_id(emu.tenant_id())
            .client_id(emu.default_app_client_id())
            .authority_host(emu.authority_host())
            .environment(std::sync::Arc::new(env))
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
    };
    for bad in ["soon", "0", "-5", "86400", "NaN"] {
        let e = with_env(bad).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{bad}: {e}");
        assert!(
            e.message().contains("CERTLESS_REQUEST_DEADLINE"),
            "{bad}: {e}"
        );
    }
    with_env("90").unwrap();
    with_env(" 2.5 ").unwrap();
}

/// The runtime error knows what the doctor knows: a system-assigned identity is never accepted
/// as an app's federated credential, and its own token's `xms_mirid` says that is the cause.
#[tokio::test]
async fn a_system_assigned_identity_is_named_as_the_cause_in_the_error() {
    let emu = emulator().await;
    let system = emu.system_assigned().unwrap();
    // Even a federated credential naming it does not help: Entra refuses system-assigned ones.
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = system.object_id.clone();
    });
    let credential = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.aadsts_codes(), [70021]);
    assert!(
        e.message().starts_with(&format!(
            "the managed identity is system-assigned (the identity of virtualMachines/{}), and \
             Entra accepts no federated credential of the app for it (AADSTS70021): ",
            certless_emulator::DEFAULT_VM_NAME
        )),
        "{e}"
    );
    assert!(
        e.remedy().unwrap().starts_with(&format!(
            "Either no credential names its object id {} — a system-assigned identity gets a new \
             one",
            system.object_id
        )) && e
            .remedy()
            .unwrap()
            .contains("create a user-assigned managed identity"),
        "{e}"
    );

    // A user-assigned identity of another tenant: said first too.
    let other = certless_emulator::DEFAULT_OTHER_TENANT_ID;
    emu.update_registry(|r| r.user_assigned[0].tenant_id = Some(other.into()));
    let e = credential_for_user_assigned(&emu)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert!(
        e.message().starts_with(&format!(
            "the managed identity is in tenant {other}, the app registration in tenant {}",
            emu.tenant_id()
        )),
        "{e}"
    );
}

fn credential_for_user_assigned(emu: &certless_emulator::RunningEmulator) -> certless::Credential {
    credential(emu, MiSourceKind::Imds)
}
