//! The configuration file and starting without a runtime.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use certless_emulator::{Emulator, EmulatorConfig, EmulatorError, StartOptions};

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("certless-emulator-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn unknown_field_is_a_clear_error_naming_the_file() {
    let path = temp_file("bad.json", "{\n  \"tenant_id\": \"t\",\n  \"aps\": []\n}\n");
    let err = EmulatorConfig::from_file(&path).expect_err("unknown field");
    let text = err.to_string();
    assert!(matches!(err, EmulatorError::Config(_)), "{err:?}");
    assert!(text.contains("unknown field `aps`"), "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn missing_file_is_an_io_error() {
    let err = EmulatorConfig::from_file(std::path::Path::new("/nonexistent/certless.json"))
        .expect_err("missing");
    assert!(matches!(err, EmulatorError::Io { .. }), "{err:?}");
}

#[test]
fn inconsistent_registry_is_rejected() {
    let err = EmulatorConfig::from_json_str(
        r#"{"user_assigned":[{"name":"a","client_id":"c","object_id":"o"}],
            "apps":[{"client_id":"app","app_roles":{"https://unknown.example":["X"]}}]}"#,
    )
    .expect_err("app role on an unknown resource");
    assert!(err.to_string().contains("https://unknown.example"), "{err}");
}

/// One raw HTTP/1.1 request, without any runtime.
fn raw_get(http_url: &str, path_and_headers: &str) -> String {
    let addr = http_url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path_and_headers}Host: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn custom_file_is_served_by_a_blocking_start() {
    let path = temp_file(
        "good.json",
        r#"{
          "tenant_id": "11111111-1111-4111-8111-111111111111",
          "user_assigned": [
            {"name": "one", "client_id": "aaaaaaaa-0000-4000-8000-000000000001", "object_id": "bbbbbbbb-0000-4000-8000-000000000001"},
            {"name": "two", "client_id": "aaaaaaaa-0000-4000-8000-000000000002", "object_id": "bbbbbbbb-0000-4000-8000-000000000002"}
          ],
          "resources": ["https://graph.microsoft.com"],
          "mi_token_lifetime_secs": 600
        }"#,
    );
    let config = EmulatorConfig::from_file(&path).expect("valid config");
    let _ = std::fs::remove_file(&path);
    assert!(config.registry.system_assigned.is_none());

    let emu = Emulator::start_blocking(config, StartOptions::default())
        .expect("starts without a runtime");
    assert_eq!(emu.tenant_id(), "11111111-1111-4111-8111-111111111111");
    assert_eq!(emu.default_user_assigned().name.as_deref(), Some("one"));

    let ambiguous = raw_get(
        &emu.http_url(),
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com \
            HTTP/1.1\r\nMetadata: true\r\n",
    );
    assert!(ambiguous.starts_with("HTTP/1.1 400"), "{ambiguous}");
    assert!(
        ambiguous.contains("Multiple user assigned identities exist"),
        "{ambiguous}"
    );

    let ok = raw_get(
        &emu.http_url(),
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com&client_id=aaaaaaaa-0000-4000-8000-000000000002 \
            HTTP/1.1\r\nMetadata: true\r\n",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(r#""expires_in":"600""#), "{ok}");
    assert!(
        ok.contains(r#""client_id":"aaaaaaaa-0000-4000-8000-000000000002""#),
        "{ok}"
    );

    let url = emu.http_url();
    drop(emu);
    // Dropping the last handle stops the listener (and the background runtime).
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(url.trim_start_matches("http://")).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        refused,
        "listener still accepting after the handle was dropped"
    );
}

#[test]
fn fixed_port_in_use_is_a_bind_error() {
    let first = Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default())
        .expect("starts");
    let port: u16 = first
        .http_url()
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("number");
    let err = Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: port,
            ..StartOptions::default()
        },
    )
    .expect_err("port taken");
    assert!(
        matches!(err, EmulatorError::Bind { port: p, .. } if p == port),
        "{err:?}"
    );
}
