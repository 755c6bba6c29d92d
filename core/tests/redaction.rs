//! Tokens, assertions and secrets appear in no error, log line or Debug output.

mod common;

use std::sync::Mutex;

use certless::ManagedIdentityId;
use certless_emulator::MiSourceKind;
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
