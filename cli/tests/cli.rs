//! The `certless` binary as a user runs it.

use std::process::Command;

use certless_emulator::{Emulator, EmulatorConfig, MiSourceKind, StartOptions};

fn certless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_certless"))
}

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
    let emu = Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .unwrap();
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
    let emu = Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .unwrap();
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
    let emu = Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .unwrap();
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
