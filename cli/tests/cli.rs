//! The `certless` binary as a user runs it.

use std::process::Stdio;

use certless_emulator::{Endpoint, Fault, MiSourceKind};

mod common;
use common::*;

#[test]
fn demo_shows_the_three_legs_and_exits_0() {
    for source in ["imds", "app_service"] {
        let out = certless()
            .args(["demo", "--source", source])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "[1/3] configuration",
            "[2/3] managed-identity endpoint",
            "[3/3] Entra token exchange",
            "xms_mirid",
            "Sites.Selected",
        ] {
            assert!(stdout.contains(line), "{line} missing:\n{stdout}");
        }
        assert!(stdout.contains("made 0 upstream request(s)"), "{stdout}");
        assert!(
            stdout.contains("upstream requests in all: managed identity 1, Entra 1"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("raw:"),
            "raw tokens only with --show-tokens"
        );
    }
}

#[test]
fn token_prints_json_or_a_clear_error() {
    let emu = emulator();
    let env = emu.client_env(MiSourceKind::Imds);
    let out = certless()
        .args([
            "token",
            "--scope",
            "https://graph.microsoft.com/.default",
            "--json",
        ])
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let claims = emu
        .verify_access_token(json["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(json["tokenType"], "Bearer");
    assert!(json["expiresOn"].as_str().unwrap().ends_with('Z'));
    assert!(json["expires_on"].as_i64().unwrap() > 1_700_000_000);

    // The raw form is the token alone, for $(certless token ...).
    let out = certless()
        .args(["token", "-s", "https://graph.microsoft.com/.default"])
        .envs(env.clone())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );

    let out = certless()
        .args(["token", "--scope", "https://graph.microsoft.com/.default"])
        .envs(env)
        .env("AZURE_CLIENT_ID", "99999999-8888-7777-6666-555555555555")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AADSTS700016") && stderr.contains("Fix:"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn token_reads_an_appsettings_file() {
    let emu = emulator();
    let dir = std::env::temp_dir().join(format!("certless-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("appsettings.json");
    let settings = serde_json::json!({
        "Logging": { "LogLevel": { "Default": "Information" } },
        "AzureAd": {
            "Instance": format!("{}/", emu.authority_host()),
            "TenantId": emu.tenant_id(),
            "ClientId": emu.default_app_client_id(),
            "ClientCredentials": [{ "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": emu.default_user_assigned().client_id }]
        }
    });
    std::fs::write(&path, settings.to_string()).unwrap();
    let out = certless()
        .args([
            "token",
            "--config",
            path.to_str().unwrap(),
            "--scope",
            "https://contoso.sharepoint.com/.default",
        ])
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.imds_host())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        emu.verify_access_token(token.trim()).unwrap()["roles"][0],
        "Sites.Selected"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn doctor_exits_0_only_with_a_token() {
    let emu = emulator();
    let env = emu.client_env(MiSourceKind::Imds);
    let out = certless()
        .args([
            "doctor",
            "--scope",
            "https://contoso.sharepoint.com/.default",
        ])
        .envs(env.clone())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with("OK: token obtained"), "{stdout}");
    assert!(
        stdout.contains("az ad app federated-credential create"),
        "{stdout}"
    );

    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = "00000000-1111-2222-3333-444444444444".into()
    });
    let out = certless()
        .args(["doctor", "--json"])
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert!(
        json["headline"].as_str().unwrap().contains("AADSTS700213"),
        "{json}"
    );
    assert_eq!(json["error"]["aadsts_codes"][0], 700213);
    assert!(
        json["legs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["leg"] == "exchange" && l["status"] == "fail")
    );
}

/// `certless token` and `certless doctor` for `source`, while the emulator resets the connection
/// halfway through the body of one answer of `endpoint`: both get their token, exit 0.
fn survives_one_reset(
    emu: &certless_emulator::RunningEmulator,
    source: MiSourceKind,
    endpoint: Endpoint,
) {
    let env = emu.client_env(source);
    let ca = emu.ca_pem_path().unwrap();
    let count = |emu: &certless_emulator::RunningEmulator| match endpoint {
        Endpoint::EntraToken => emu.counters().entra_token,
        _ => emu.counters().service_fabric,
    };
    for command in ["token", "doctor"] {
        emu.reset_counters();
        emu.set_fault(endpoint, Fault::reset_mid_body().times(1));
        let out = certless()
            .args([command, "--scope", "https://graph.microsoft.com/.default"])
            .envs(env.clone())
            .env("CERTLESS_CA_FILE", &ca)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{command} with a reset from {endpoint:?}: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(count(emu), 2, "{command}: the reset request and its retry");
        if command == "token" {
            emu.verify_access_token(stdout.trim()).unwrap();
        } else {
            assert!(stdout.starts_with("OK"), "{stdout}");
            assert!(stdout.contains("tried once more"), "{stdout}");
        }
    }
}

#[test]
fn a_reset_mid_response_from_entra_over_tls_is_retried() {
    let emu = emulator_https();
    // HTTP/1.1 (as through many TLS-inspecting proxies): after the reset its client writes a TLS
    // close alert to the dead socket, which raised SIGPIPE and killed the process (exit 141).
    emu.set_https_http2(false);
    survives_one_reset(&emu, MiSourceKind::Imds, Endpoint::EntraToken);
    emu.set_https_http2(true);
    survives_one_reset(&emu, MiSourceKind::Imds, Endpoint::EntraToken);
}

#[test]
fn a_reset_mid_response_from_service_fabric_is_retried() {
    let emu = emulator_https();
    survives_one_reset(&emu, MiSourceKind::ServiceFabric, Endpoint::ServiceFabric);
}

/// `certless token ... | head -c1`: the reader goes away before the token is written. The
/// command ends quietly, with exit 0, neither killed by SIGPIPE nor panicking on EPIPE.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let emu = emulator_https();
    for command in ["token", "doctor"] {
        let mut child = certless()
            .args([command, "--scope", "https://graph.microsoft.com/.default"])
            .envs(emu.client_env(MiSourceKind::Imds))
            .env("CERTLESS_CA_FILE", emu.ca_pem_path().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{command}");
    }
}

/// A managed-identity endpoint that quotes `X-IDENTITY-HEADER` back in its 401: neither
/// `certless token` nor `certless doctor` (text or JSON) prints the value.
#[test]
fn an_identity_header_echoed_in_a_401_is_not_printed() {
    let emu = emulator();
    emu.set_fault(
        Endpoint::AppService,
        Fault::http_status(401).with_body(certless_emulator::FaultBody::EchoCredentials),
    );
    let env = emu.client_env(MiSourceKind::AppService);
    let secret = emu.app_service_secret();
    for args in [&["token"][..], &["doctor"][..], &["doctor", "--json"][..]] {
        let out = certless()
            .args(args)
            .args(["--scope", "https://graph.microsoft.com/.default"])
            .envs(env.clone())
            .output()
            .unwrap();
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?}: {shown}");
        assert!(shown.contains("redacted secret"), "{args:?}: {shown}");
        assert!(
            !shown.contains(&secret),
            "{args:?} prints the secret: {shown}"
        );
    }
}
