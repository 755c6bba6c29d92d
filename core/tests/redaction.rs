//! Tokens, assertions and secrets appear in no error, log line or Debug output.

mod common;

use std::sync::Mutex;

use certless::{ManagedIdentityId, Retries};
use certless_emulator::{Endpoint, Fault, FaultBody, MiSourceKind};
use common::*;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

static CAPTURE: Capture = Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        LINES.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn no_secret_in_logs_errors_or_debug() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let emu = emulator().await;
    let credential = credential(&emu, MiSourceKind::AppService);
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    let assertion = credential.managed_identity_assertion().await.unwrap();
    // A failure path too: the exchange refuses the (valid) assertion.
    emu.update_registry(|r| r.apps[0].federated_credentials.clear());
    let error = credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    let unknown = builder(&emu, MiSourceKind::AppService)
        .managed_identity(ManagedIdentityId::ClientId(
            "12345678-1234-1234-1234-123456789012".into(),
        ))
        .build()
        .unwrap()
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();

    let secrets = [
        token.token.expose().to_string(),
        assertion.token.expose().to_string(),
        emu.app_service_secret(),
    ];
    // Any 24-character piece of a token is enough to count as a leak; a short secret, whole.
    let pieces: Vec<&str> = secrets
        .iter()
        .flat_map(|s| {
            if s.len() < 48 {
                vec![s.as_str()]
            } else {
                vec![
                    &s[..24],
                    &s[s.len() / 2..s.len() / 2 + 24],
                    &s[s.len() - 24..],
                ]
            }
        })
        .collect();
    let logs = LINES.lock().unwrap().join("\n");
    assert!(
        logs.contains("certless"),
        "certless logged nothing: the test would prove nothing"
    );
    let outputs = [
        ("logs", logs),
        ("token Debug", format!("{token:?}")),
        ("assertion Debug", format!("{assertion:?}")),
        ("credential Debug", format!("{credential:?}")),
        ("error Display", error.to_string()),
        ("error Debug", format!("{error:?}")),
        ("MI error Display", unknown.to_string()),
        ("MI error Debug", format!("{unknown:?}")),
    ];
    for (what, text) in &outputs {
        for piece in &pieces {
            assert!(!text.contains(piece), "{what} leaks a secret: {text}");
        }
    }
    for (what, text) in &outputs[1..3] {
        assert!(text.contains("redacted"), "{what}: {text}");
    }
}

/// Each secret a credential sends, quoted back by a server in a 401 body, is cut out of the error
/// (Display and Debug): the managed-identity header secrets (`IDENTITY_HEADER` for App Service and
/// Service Fabric, `MSI_SECRET` for Azure ML), the MI assertion and a client secret sent to Entra.
#[tokio::test]
async fn a_secret_a_server_echoes_back_is_not_shown() {
    let emu = emulator_https().await;
    let header_secrets = [
        (
            MiSourceKind::AppService,
            Endpoint::AppService,
            "IDENTITY_HEADER",
        ),
        (MiSourceKind::AzureMl, Endpoint::AppService, "MSI_SECRET"),
        (
            MiSourceKind::ServiceFabric,
            Endpoint::ServiceFabric,
            "IDENTITY_HEADER",
        ),
    ];
    for (source, endpoint, variable) in header_secrets {
        let secret = emu
            .client_env(source)
            .into_iter()
            .find(|(k, _)| k == variable)
            .map(|(_, v)| v)
            .expect("the source's secret variable");
        emu.set_fault(
            endpoint,
            Fault::http_status(401).with_body(FaultBody::EchoCredentials),
        );
        let error = builder(&emu, source)
            .retries(Retries::none())
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap()
            .get_token(&[SHAREPOINT])
            .await
            .unwrap_err();
        emu.clear_faults();
        let shown = format!("{error}\n{error:?}");
        // The echo reached certless (else the test would prove nothing) and was cut out.
        assert!(shown.contains("<redacted secret>"), "{source:?}: {shown}");
        assert!(
            !shown.contains(&secret),
            "{source:?} leaks {variable}: {shown}"
        );
    }

    const CLIENT_SECRET: &str = "Qz8~echoed-client-secret-0123456789";
    emu.update_registry(|r| r.apps[0].client_secrets = vec![CLIENT_SECRET.to_string()]);
    emu.set_fault(
        Endpoint::EntraToken,
        Fault::http_status(401).with_body(FaultBody::EchoCredentials),
    );
    let by_secret = builder(&emu, MiSourceKind::Imds)
        .retries(Retries::none())
        .client_secret(CLIENT_SECRET)
        .build()
        .unwrap();
    let error = by_secret.get_token(&[SHAREPOINT]).await.unwrap_err();
    let shown = format!("{error}\n{error:?}");
    assert!(shown.contains("<redacted secret>"), "{shown}");
    assert!(
        !shown.contains(CLIENT_SECRET),
        "leaks the client secret: {shown}"
    );

    let by_assertion = credential(&emu, MiSourceKind::AppService);
    let error = by_assertion.get_token(&[SHAREPOINT]).await.unwrap_err();
    let assertion = by_assertion.managed_identity_assertion().await.unwrap();
    let shown = format!("{error}\n{error:?}");
    assert!(shown.contains("<redacted"), "{shown}");
    assert!(
        !shown.contains(&assertion.token.expose()[..40]),
        "leaks the assertion: {shown}"
    );
}
