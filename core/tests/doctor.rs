//! `diagnose` against the emulator seeded with each failure users meet: the first line of the
//! report must name the cause (and carry the fix).

mod common;

use std::sync::Arc;
use std::time::Duration;

use certless::diagnose::{Report, Status, diagnose};
use certless::env::MapEnv;
use certless::{Credential, CredentialBuilder, ManagedIdentityId};
use certless_emulator::{EmulatorConfig, Endpoint, Fault, MiSourceKind, RunningEmulator};
use common::*;

fn user_assigned(emu: &RunningEmulator) -> CredentialBuilder {
    builder(emu, MiSourceKind::Imds).managed_identity(ManagedIdentityId::ClientId(
        emu.default_user_assigned().client_id,
    ))
}

async fn doctor(builder: CredentialBuilder) -> (Report, String) {
    let report = diagnose(builder, SHAREPOINT).await;
    let text = report.to_text();
    let first = text.lines().next().unwrap_or_default().to_string();
    assert_eq!(first, report.headline);
    (report, first)
}

fn assert_names(first: &str, words: &[&str]) {
    assert!(first.starts_with("FAIL: "), "{first}");
    assert!(
        first.contains(" Fix: "),
        "the fix is on the first line: {first}"
    );
    for w in words {
        assert!(first.contains(w), "'{w}' missing from: {first}");
    }
}

#[tokio::test]
async fn healthy_setup_is_all_ok() {
    let emu = emulator().await;
    let (report, first) = doctor(user_assigned(&emu)).await;
    assert!(report.ok, "{}", report.to_text());
    assert!(first.starts_with("OK: token obtained"), "{first}");
    let statuses: Vec<(&str, Status)> = report.legs.iter().map(|l| (l.leg, l.status)).collect();
    assert_eq!(
        statuses,
        [
            ("config", Status::Ok),
            ("platform", Status::Ok),
            ("managed_identity", Status::Ok),
            ("federated_credential", Status::Ok),
            ("exchange", Status::Ok),
            ("token", Status::Ok)
        ]
    );
    let fic = report.matching_federated_credential.unwrap();
    assert_eq!(fic.subject, emu.default_user_assigned().object_id);
    assert!(
        fic.az_command
            .starts_with("az ad app federated-credential create --id ")
    );
    // Never a raw token in the report.
    let json = report_json(&emu).await;
    assert!(!json.contains("eyJ"), "{json}");
}

async fn report_json(emu: &RunningEmulator) -> String {
    diagnose(user_assigned(emu), SHAREPOINT).await.to_json()
}

#[tokio::test]
async fn wrong_fic_subject() {
    let emu = emulator().await;
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = "00000000-1111-2222-3333-444444444444".into()
    });
    let (report, first) = doctor(user_assigned(&emu)).await;
    assert!(!report.ok);
    assert_names(
        &first,
        &[
            "subject",
            &emu.default_user_assigned().object_id,
            "AADSTS700213",
        ],
    );
    let error = report.error.unwrap();
    assert!(error.trace_id.is_some() && error.correlation_id.is_some());
}

#[tokio::test]
async fn fic_subject_differs_in_case() {
    let emu = emulator().await;
    let oid = emu.default_user_assigned().object_id;
    emu.update_registry(|r| r.apps[0].federated_credentials[0].subject = oid.to_uppercase());
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["differs only in case", &oid]);
}

#[tokio::test]
async fn fic_issuer_with_a_trailing_slash() {
    let emu = emulator().await;
    emu.update_registry(|r| r.apps[0].federated_credentials[0].issuer.push('/'));
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["issuer", "AADSTS700211", "trailing slash"]);
}

#[tokio::test]
async fn fic_audience_wrong_including_a_sovereign_one() {
    let emu = emulator().await;
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].audiences =
            vec!["api://AzureADTokenExchangeUSGov".into()]
    });
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(
        &first,
        &["audience", "api://AzureADTokenExchange'", "USGov"],
    );

    // The other way round: this side asks for the US Government audience on the global cloud.
    let emu = emulator().await;
    let (report, first) =
        doctor(user_assigned(&emu).token_exchange_audience("api://AzureADTokenExchangeUSGov"))
            .await;
    assert_names(&first, &["audience", "api://AzureADTokenExchangeUSGov"]);
    let fic_leg = report
        .legs
        .iter()
        .find(|l| l.leg == "federated_credential")
        .unwrap();
    assert!(
        fic_leg
            .checks
            .iter()
            .any(|c| c.status == Status::Warn && c.name == "audience"),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn system_assigned_identity() {
    let emu = emulator().await;
    let (_, first) = doctor(
        builder(&emu, MiSourceKind::Imds).managed_identity(ManagedIdentityId::SystemAssigned),
    )
    .await;
    assert_names(&first, &["system-assigned", "user-assigned"]);
}

#[tokio::test]
async fn identity_and_app_in_different_tenants() {
    let emu = emulator().await;
    let other = certless_emulator::DEFAULT_OTHER_TENANT_ID.to_string();
    emu.update_registry(|r| r.user_assigned[0].tenant_id = Some(other.clone()));
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["tenant", &other, &emu.tenant_id()]);
}

#[tokio::test]
async fn assertion_expired_on_its_way() {
    let mut config = EmulatorConfig::default();
    config.registry.mi_token_lifetime_secs = 1;
    config.registry.assertion_clock_skew_secs = 0;
    let emu = emulator_with(config).await;
    // Two seconds between the managed-identity endpoint and Entra: the one-second token is stale.
    emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            delay: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    );
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["expired", "AADSTS700024"]);
}

#[tokio::test]
async fn app_not_found() {
    let emu = emulator().await;
    let (_, first) =
        doctor(user_assigned(&emu).client_id("99999999-8888-7777-6666-555555555555")).await;
    assert_names(
        &first,
        &[
            "no app 99999999-8888-7777-6666-555555555555",
            "AADSTS700016",
            "Application (client) ID",
        ],
    );
}

#[tokio::test]
async fn managed_identity_endpoint_down() {
    let emu = emulator().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = MapEnv::new().with_var(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://127.0.0.1:{port}"),
    );
    let (report, first) = doctor(user_assigned(&emu).environment(Arc::new(env))).await;
    assert_names(
        &first,
        &[
            "managed-identity endpoint failed",
            "could not be reached",
            "not an Azure VM",
        ],
    );
    assert_eq!(
        report.error.unwrap().code,
        certless::ErrorCode::ManagedIdentityUnreachable.as_u32()
    );
}

/// A connection dropped or reset while the answer comes is retried by the token flow, so the
/// doctor tries once more too (and says so) rather than blame the network for one drop.
#[tokio::test]
async fn a_connection_dropped_mid_answer_is_tried_once_more() {
    let emu = emulator().await;
    for (endpoint, leg) in [
        (Endpoint::Imds, "managed_identity"),
        (Endpoint::EntraToken, "exchange"),
    ] {
        for fault in [Fault::reset_mid_body(), Fault::dropped_connection()] {
            emu.reset_counters();
            emu.set_fault(endpoint, fault.clone().times(1));
            let (report, first) = doctor(user_assigned(&emu)).await;
            assert!(report.ok, "{endpoint:?} {fault:?}: {}", report.to_text());
            assert!(first.contains("token obtained"), "{first}");
            let leg = report.legs.iter().find(|l| l.leg == leg).unwrap();
            assert_eq!(leg.status, Status::Warn, "{}", report.to_text());
            assert!(
                leg.checks
                    .iter()
                    .any(|c| c.status == Status::Warn && c.detail.contains("tried once more")),
                "{}",
                report.to_text()
            );
            let requests = |e: Endpoint| if e == endpoint { 2 } else { 1 };
            let counters = emu.counters();
            assert_eq!(
                (counters.imds, counters.entra_token),
                (requests(Endpoint::Imds), requests(Endpoint::EntraToken))
            );
        }
    }
    // Only once: a connection that drops every time is the diagnosis.
    emu.reset_counters();
    emu.set_fault(Endpoint::EntraToken, Fault::reset_mid_body());
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["dropped the connection"]);
    assert_eq!(emu.counters().entra_token, 2);
}

#[tokio::test]
async fn imds_being_updated() {
    let emu = emulator().await;
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            status: Some(410),
            ..Default::default()
        },
    );
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["HTTP 410", "being updated"]);
}

#[tokio::test]
async fn a_proxy_intercepting_imds() {
    let emu = emulator().await;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = proxy.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let body = "<html><body>Access denied by corporate web filter</body></html>";
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nVia: 1.1 corp-proxy \
                    (squid)\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let env = MapEnv::new().with_var(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://{addr}"),
    );
    let (_, first) = doctor(user_assigned(&emu).environment(Arc::new(env))).await;
    assert_names(&first, &["proxy", "via: 1.1 corp-proxy", "169.254.169.254"]);
}

#[tokio::test]
async fn clock_skew() {
    // This machine's clock two days ahead of Azure's: a fresh managed-identity token looks expired.
    let emu = emulator().await;
    emu.set_time_offset(-2 * 86_400);
    let (_, first) = doctor(user_assigned(&emu)).await;
    assert_names(&first, &["expired", "this machine's clock", "NTP"]);

    // Ten minutes behind: tokens still work, and the skew is the warning on the first line.
    let emu = emulator().await;
    emu.set_time_offset(600);
    let (report, first) = doctor(user_assigned(&emu)).await;
    assert!(report.ok);
    assert!(
        first.starts_with("OK with 1 warning(s)") && first.contains("s behind Entra's"),
        "{first}"
    );
    assert!(
        ["599s", "600s", "601s"].iter().any(|s| first.contains(s)),
        "{first}"
    );
}

#[tokio::test]
async fn a_configuration_mistake_is_the_first_line() {
    let emu = emulator().await;
    let (report, first) =
        doctor(user_assigned(&emu).client_id(emu.default_user_assigned().client_id)).await;
    assert_names(
        &first,
        &["ManagedIdentityClientId and ClientId are the same"],
    );
    assert_eq!(report.legs.len(), 1);
    let (_, first) =
        doctor(Credential::builder().client_id("11111111-2222-3333-4444-555555555555")).await;
    assert_names(&first, &["no tenant id", "AZURE_TENANT_ID"]);
}
