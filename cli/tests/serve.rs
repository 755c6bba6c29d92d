//! `certless serve` as a machine runs it: a broker process in front of the emulator, asked over
//! raw HTTP/1.1 exactly as the SDKs ask it, and attacked the ways a local process or a web page
//! could.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use certless_emulator::{Endpoint, Fault, FaultBody, MiSourceKind};

mod common;
use common::broker::*;
use common::*;

const GRAPH: &str = "https://graph.microsoft.com";

#[test]
fn the_apps_token_with_one_upstream_request_per_leg_for_a_herd() {
    let emu = emulator();
    let broker = Broker::start(&emu, "herd", &[]);
    emu.set_fault(
        Endpoint::EntraToken,
        Fault::delayed(Duration::from_millis(200)).times(1),
    );
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|_| s.spawn(|| broker.get_token(GRAPH, "")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let json = answers[0].json();
    let claims = emu
        .verify_access_token(json["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["appid"], emu.default_app_client_id());
    assert_eq!(claims["aud"], GRAPH);
    // App Service's shape: expires_on as a string of Unix seconds.
    assert!(json["expires_on"].as_str().unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    assert_eq!(json["resource"], GRAPH);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["client_id"], emu.default_app_client_id());
    assert!(answers[0].head.contains("cache-control: no-store"));
    let counters = emu.counters();
    assert_eq!(
        (counters.managed_identity(), counters.entra_token),
        (1, 1),
        "64 concurrent requests to a cold broker"
    );
}

#[test]
fn no_secret_or_a_wrong_one_is_401_and_the_log_shows_no_value() {
    let emu = emulator();
    let broker = Broker::start(&emu, "secret", &[]);
    let missing = broker.raw(&request(&Broker::token_path(GRAPH, ""), ""));
    assert_eq!(missing.status, 401);
    let json = missing.json();
    // What MSAL for Python reads, what MSAL for Node reads, and certless's own.
    assert_eq!(json["statusCode"], 401);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("X-IDENTITY-HEADER")
    );
    assert!(json["error_description"].is_string());
    assert_eq!(json["certless"]["code"], 202);
    assert!(
        json["certless"]["remedy"]
            .as_str()
            .unwrap()
            .contains("secret")
    );
    let wrong_value = "0123456789abcdef0123456789abcdef-not-the-secret";
    let wrong = broker.raw(&request(
        &Broker::token_path(GRAPH, ""),
        &format!("X-IDENTITY-HEADER: {wrong_value}\r\n"),
    ));
    assert_eq!(wrong.status, 401);
    assert_eq!(emu.counters().entra_token, 0);
    let log = broker.stderr();
    assert!(log.contains("without X-IDENTITY-HEADER"), "{log}");
    assert!(log.contains("with a wrong X-IDENTITY-HEADER"), "{log}");
    assert!(!log.contains(wrong_value), "{log}");
    assert!(!log.contains(&broker.secret), "{log}");
    // The secret file is the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(broker.dir.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn web_pages_are_refused_and_no_cors_header_is_ever_sent() {
    let emu = emulator();
    let broker = Broker::start(&emu, "web", &[]);
    let secret = format!("X-IDENTITY-HEADER: {}\r\n", broker.secret);
    let path = Broker::token_path(GRAPH, "");
    // DNS rebinding: the page's own name in Host, on the broker's address.
    let rebound = broker.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: attacker.example:{}\r\n{secret}Connection: close\r\n\r\n",
        broker.port
    ));
    assert_eq!(rebound.status, 403, "{}", rebound.body);
    let with_origin = broker.raw(&request(
        &path,
        &format!("{secret}Origin: https://attacker.example\r\n"),
    ));
    assert_eq!(with_origin.status, 403);
    let preflight = broker.raw(&format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccess-Control-Request-Method: GET\r\n\
         Connection: close\r\n\r\n"
    ));
    assert_eq!(preflight.status, 405);
    for answer in [&rebound, &with_origin, &preflight] {
        assert!(!answer.head.contains("access-control-"), "{}", answer.head);
    }
    assert_eq!(emu.counters().entra_token, 0);
    // Loopback names are fine.
    for host in ["localhost", "[::1]:1", "127.0.0.1:8765"] {
        let ok = broker.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{secret}Connection: close\r\n\r\n"
        ));
        assert_eq!(ok.status, 200, "{host}: {}", ok.body);
    }
}

#[test]
fn oversized_requests_and_slow_clients_are_cut_off() {
    let emu = emulator();
    let broker = Broker::start(
        &emu,
        "limits",
        &["--header-timeout", "1", "--max-connections", "3"],
    );
    let path = Broker::token_path(GRAPH, "");
    let huge = broker.raw(&request(
        &path,
        &format!("X-Filler: {}\r\n", "a".repeat(20_000)),
    ));
    assert_eq!(huge.status, 431);
    let with_body = broker.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    ));
    assert_eq!(with_body.status, 413);
    let long_url = broker.raw(&request(&format!("{path}&pad={}", "b".repeat(9_000)), ""));
    assert!(
        matches!(long_url.status, 413 | 431 | 414),
        "{}",
        long_url.status
    );

    // A slow client (half a request head, then nothing) is disconnected after the header
    // timeout, and does not keep others from being served meanwhile.
    let mut slow = TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    slow.write_all(b"GET /msi/token?api-version=2019-08-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    assert_eq!(broker.get_token(GRAPH, "").status, 200);
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = slow.read(&mut buf);
    assert!(
        matches!(read, Ok(0) | Err(_)) && started.elapsed() < Duration::from_secs(9),
        "the slow connection was not closed: {read:?}"
    );

    // Past --max-connections, a connection is answered 503 at once.
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", broker.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let busy = broker.raw(&request(&path, ""));
    assert_eq!(busy.status, 503, "{busy:?}");
    drop(idle);
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_0() {
    let emu = emulator();
    let mut broker = Broker::start(&emu, "shutdown", &[]);
    emu.set_fault(
        Endpoint::EntraToken,
        Fault::delayed(Duration::from_millis(1500)),
    );
    let in_flight = std::thread::scope(|s| {
        let request = s.spawn(|| broker.get_token(GRAPH, ""));
        std::thread::sleep(Duration::from_millis(500));
        let status = {
            let pid = broker.child.as_ref().unwrap().id();
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap()
        };
        assert!(status.success());
        request.join().unwrap()
    });
    assert_eq!(in_flight.status, 200, "{}", in_flight.body);
    let exit = broker.terminate();
    assert_eq!(exit.code(), Some(0), "{}", broker.stderr());
    assert!(TcpStream::connect(("127.0.0.1", broker.port)).is_err());
    assert!(
        !broker.dir.join("secret").exists(),
        "the secret file is removed"
    );
}

#[test]
fn several_apps_are_chosen_by_client_id_and_unknown_ones_refused() {
    let emu = emulator();
    let second = "22222222-3333-4444-5555-666666666666";
    emu.update_registry(|r| {
        let mut app = r.apps[0].clone();
        app.client_id = second.into();
        app.display_name = "second-app".into();
        app.service_principal_id = None;
        r.apps.push(app);
    });
    let dir = scratch_dir("apps-config");
    let mi = emu.default_user_assigned().client_id;
    let mut configs = Vec::new();
    for (name, client) in [
        ("a", emu.default_app_client_id()),
        ("b", second.to_string()),
    ] {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(
            &path,
            serde_json::json!({"AzureAd": {
                "Instance": emu.authority_host(), "TenantId": emu.tenant_id(), "ClientId": client,
                "ClientCredentials": [{"SourceType": "SignedAssertionFromManagedIdentity",
                                       "ManagedIdentityClientId": mi}]}})
            .to_string(),
        )
        .unwrap();
        configs.push(path);
    }
    let args: Vec<String> = configs
        .iter()
        .flat_map(|p| ["--config".to_string(), p.display().to_string()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let broker = Broker::start(&emu, "apps", &args);
    let appid = |answer: &Answer| {
        let json = answer.json();
        emu.verify_access_token(json["access_token"].as_str().unwrap())
            .unwrap()["appid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        appid(&broker.get_token(GRAPH, "")),
        emu.default_app_client_id()
    );
    assert_eq!(
        appid(&broker.get_token(GRAPH, &format!("&client_id={second}"))),
        second
    );
    let unknown = broker.get_token(GRAPH, "&client_id=99999999-8888-7777-6666-555555555555");
    assert_eq!(unknown.status, 400);
    let message = unknown.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("serves no app for client_id=9999"),
        "{message}"
    );
    assert!(message.contains(second), "{message}");
    // The managed identity both apps share names neither.
    let shared = broker.get_token(GRAPH, &format!("&client_id={mi}"));
    assert_eq!(shared.status, 400);
    assert!(shared.body.contains("2 apps"), "{}", shared.body);
}

#[test]
fn certless_clients_ask_the_broker_and_name_it_when_it_is_down() {
    let emu = emulator();
    let broker = Broker::start(&emu, "clients", &[]);
    let token = |env: &[(String, String)]| {
        let mut command = certless();
        command
            .args(["token", "--scope", "https://graph.microsoft.com/.default"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let broker_env = vec![
        (
            "CERTLESS_BROKER".to_string(),
            format!("http://127.0.0.1:{}", broker.port),
        ),
        (
            "CERTLESS_BROKER_SECRET_FILE".to_string(),
            broker.dir.join("secret").display().to_string(),
        ),
    ];
    for _ in 0..5 {
        let out = token(&broker_env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        emu.verify_access_token(String::from_utf8_lossy(&out.stdout).trim())
            .unwrap();
    }
    let counters = emu.counters();
    assert_eq!((counters.managed_identity(), counters.entra_token), (1, 1));

    // Nothing listens there: the error names the broker, and how to fall back.
    let mut down = broker_env.clone();
    down[0].1 = "http://127.0.0.1:1".into();
    let out = token(&down);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("certless broker at http://127.0.0.1:1/msi/token (CERTLESS_BROKER)")
            && stderr.contains("CERTLESS_BROKER_FALLBACK=local")
            && stderr.contains("certless code 200"),
        "{stderr}"
    );
    assert_eq!(emu.counters().entra_token, 1, "no silent fallback");
    // Opted in: the token is fetched in the process.
    let mut fallback = emu.client_env(MiSourceKind::Imds);
    fallback.extend(down);
    fallback.push(("CERTLESS_BROKER_FALLBACK".into(), "local".into()));
    let out = token(&fallback);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emu.counters().entra_token, 2);

    // The broker relays an upstream error with certless's code, leg and fix.
    let out = token(
        &[
            broker_env.clone(),
            vec![(
                "AZURE_CLIENT_ID".to_string(),
                "99999999-8888-7777-6666-555555555555".to_string(),
            )],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("certless code 100") && stderr.contains("Fix:"),
        "{stderr}"
    );
}

/// What an Azure SDK does: `IDENTITY_HEADER` read once, then sent with every request.
fn with_secret(broker: &Broker, secret: &str) -> Answer {
    let header = format!("X-IDENTITY-HEADER: {secret}\r\n");
    broker.raw(&request(&Broker::token_path(GRAPH, ""), &header))
}

#[test]
fn the_secret_outlives_a_restart_and_a_rotation_keeps_the_old_one_for_its_grace() {
    use certless::env::MapEnv;
    let emu = emulator();
    let dir = scratch_dir("restart");
    let mut first = Broker::start_at(&emu, &dir, "127.0.0.1:0", &[]);
    let port = first.port;
    let old = first.secret.clone();
    let env = MapEnv::new()
        .with_var("CERTLESS_BROKER", format!("http://127.0.0.1:{port}"))
        .with_var(
            "CERTLESS_BROKER_SECRET_FILE",
            dir.join("secret").display().to_string(),
        );
    let credential = certless::CredentialBuilder::from_environment(std::sync::Arc::new(env))
        .unwrap()
        .build()
        .unwrap();
    let scope = ["https://graph.microsoft.com/.default"];
    let refresh = certless::TokenRequestOptions {
        force_refresh: true,
        ..Default::default()
    };
    credential.get_token_blocking(&scope, &refresh).unwrap();
    assert_eq!(with_secret(&first, &old).status, 200);
    assert_eq!(first.terminate().code(), Some(0));

    // Restarted (as Restart=on-failure, an upgrade or a reboot would): the same secret.
    let second = Broker::start_at(&emu, &dir, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(second.secret, old, "the secret outlives the restart");
    assert_eq!(with_secret(&second, &old).status, 200);

    // Rotated with a grace of 4 s: both are accepted, the new one is published to the file.
    let rotate = certless()
        .args(["serve", "rotate-secret", "--grace", "4", "--state-dir"])
        .arg(dir.join("state"))
        .output()
        .unwrap();
    assert!(rotate.status.success(), "{rotate:?}");
    let rotated_at = Instant::now();
    let published = || {
        std::fs::read_to_string(dir.join("secret"))
            .unwrap()
            .trim()
            .to_string()
    };
    while published() == old {
        assert!(
            rotated_at.elapsed() < Duration::from_secs(10),
            "not published"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let new = published();
    assert_eq!(with_secret(&second, &new).status, 200);
    assert_eq!(with_secret(&second, &old).status, 200, "within the grace");
    credential.get_token_blocking(&scope, &refresh).unwrap();

    // After the grace, the old one is refused; a certless client reads the file again.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(rotated_at.elapsed()));
    assert_eq!(with_secret(&second, &old).status, 401, "after the grace");
    assert_eq!(with_secret(&second, &new).status, 200);
    credential
        .get_token_blocking(&scope, &refresh)
        .unwrap_or_else(|e| panic!("{e}"));
    // Neither value is ever logged.
    let log = second.stderr();
    assert!(!log.contains(&old) && !log.contains(&new), "{log}");
}

#[test]
fn used_tokens_are_refreshed_before_they_are_due_with_no_client_asking() {
    let emu = emulator();
    // Tokens that live 20 s: refreshed at about 80% of their life.
    emu.update_registry(|r| r.access_token_lifetime_secs = 20);
    let broker = Broker::start(&emu, "warm", &[]);
    assert_eq!(broker.get_token(GRAPH, "").status, 200);
    assert_eq!(emu.counters().entra_token, 1);
    let started = Instant::now();
    while emu.counters().entra_token < 2 && started.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        emu.counters().entra_token >= 2,
        "no background refresh: {}",
        broker.stderr()
    );
    // The refreshed token is served from the cache.
    let before = emu.counters().entra_token;
    assert_eq!(broker.get_token(GRAPH, "").status, 200);
    assert_eq!(emu.counters().entra_token, before);
    let metrics = broker.raw(&request("/metrics", ""));
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("certless_broker_background_refreshes_total{app=")
    );
}

#[cfg(unix)]
#[test]
fn the_unix_socket_is_for_its_owner_and_group_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let emu = emulator();
    let dir = scratch_dir("socket-dir");
    let socket = dir.join("certless.sock");
    let socket_arg = socket.display().to_string();
    let broker = Broker::start(&emu, "socket", &["--socket", &socket_arg]);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o660);
    // No secret on the socket: its mode is the access control.
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream
        .write_all(request(&Broker::token_path(GRAPH, ""), "").as_bytes())
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(broker);
    // A narrower mode is applied as given; one open to others is refused.
    let narrow = Broker::start(
        &emu,
        "socket-600",
        &["--socket", &socket_arg, "--socket-mode", "600"],
    );
    assert_eq!(mode(&socket), 0o600);
    drop(narrow);
    let out = certless()
        .args([
            "serve",
            "--listen",
            "none",
            "--socket",
            &socket_arg,
            "--socket-mode",
            "666",
        ])
        .envs(emu.client_env(MiSourceKind::Imds))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without access for others"));
}

#[test]
fn a_non_loopback_listen_address_is_refused() {
    let emu = emulator();
    let out = certless()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:8765",
            "--secret-file",
            "/tmp/x",
        ])
        .envs(emu.client_env(MiSourceKind::Imds))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a loopback address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hex SHA-256 MSAL sends as `token_sha256_to_refresh`.
fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_refused_tokens_hash_gets_a_new_token_and_any_other_hash_does_not() {
    let emu = emulator();
    let broker = Broker::start(&emu, "refused", &[]);
    let first = broker.get_token(GRAPH, "").json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(emu.counters().entra_token, 1);
    // A hash of some other token (or a made-up one) cannot make the broker fetch anew.
    let other = format!("&token_sha256_to_refresh={}", sha256_hex("not the token"));
    let answer = broker.get_token(GRAPH, &other);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["access_token"], first.as_str());
    assert_eq!(emu.counters().entra_token, 1);
    // The hash of the token it holds (in upper case too: hex is compared without case): a new one.
    let refused = format!(
        "&token_sha256_to_refresh={}",
        sha256_hex(&first).to_ascii_uppercase()
    );
    let answer = broker.get_token(GRAPH, &refused);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let second = answer.json()["access_token"].as_str().unwrap().to_string();
    assert_ne!(second, first, "the refused token was served again");
    assert_eq!(emu.counters().entra_token, 2);
    emu.verify_access_token(&second).unwrap();
    // The new token is what the cache serves from now on.
    assert_eq!(
        broker.get_token(GRAPH, "").json()["access_token"],
        second.as_str()
    );
    assert_eq!(emu.counters().entra_token, 2);
    assert!(broker.stderr().contains("reported the token for"));
    assert!(!broker.stderr().contains(&first) && !broker.stderr().contains(&second));
}

#[test]
fn an_upstream_failure_is_answered_from_the_hold_then_asked_again() {
    let emu = emulator();
    let broker = Broker::start(&emu, "hold", &["--failure-hold", "2"]);
    // Entra refuses once, for a reason retrying cannot fix (no federated credential matches):
    // the broker answers 502 and holds that answer.
    let refusal = concat!(
        r#"{"error":"invalid_client","error_codes":[70021],"error_description":"#,
        r#""AADSTS70021: No matching federated identity record found for presented assertion."}"#
    );
    emu.set_fault(
        Endpoint::EntraToken,
        Fault::http_status(400)
            .with_body(FaultBody::Custom(refusal.to_string()))
            .times(1),
    );
    let failed = broker.get_token(GRAPH, "");
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert_eq!(emu.counters().entra_token, 1);
    // Within the hold: the same error, and no request upstream.
    let held = broker.get_token(GRAPH, "");
    assert_eq!(held.status, 502, "{}", held.body);
    assert_eq!(held.json()["statusCode"], failed.json()["statusCode"]);
    assert_eq!(
        emu.counters().entra_token,
        1,
        "a held failure was asked again"
    );
    // Another resource is not held back by it.
    assert_eq!(broker.get_token("https://vault.azure.net", "").status, 200);
    // After the hold, the broker asks again (the fault is spent) and gets the token.
    std::thread::sleep(Duration::from_millis(2_200));
    let answer = broker.get_token(GRAPH, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(emu.counters().entra_token, 3);
}

#[test]
fn the_broker_exports_msal_named_metrics_and_continues_the_callers_trace() {
    use common::otlp::{Receiver, metrics, points, spans};
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let receiver = Receiver::start();
    let emu = emulator();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("OTEL_SERVICE_NAME", "certless-broker-test"),
        // Only the flush at shutdown exports: what arrives is the whole run.
        ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ];
    let mut broker = Broker::start_with_env(&emu, &scratch_dir("otel"), "127.0.0.1:0", &[], &env);
    let with = |extra: &str| {
        let headers = format!("X-IDENTITY-HEADER: {}\r\n{extra}", broker.secret);
        broker.raw(&request(&Broker::token_path(GRAPH, ""), &headers))
    };
    let first = with(&format!("traceparent: {PARENT}\r\n"));
    assert_eq!(first.status, 200, "{}", first.body);
    // A malformed traceparent never fails a request (the W3C says to ignore it).
    let ignored = with("traceparent: 00-garbage\r\n");
    assert_eq!(ignored.status, 200, "{}", ignored.body);
    assert_eq!(broker.get_token(GRAPH, "").status, 200);
    assert!(broker.terminate().success(), "{}", broker.stderr());

    let got = receiver.wait_for(|r| {
        !spans(r, "certless.entra").is_empty() && !metrics(r, "MsalSuccess").is_empty()
    });
    let tags = |source: &str, level: &str| {
        [
            ("Platform", serde_json::json!("broker")),
            ("TokenSource", serde_json::json!(source)),
            ("CacheLevel", serde_json::json!(level)),
        ]
    };
    let fetched = points(&got, "MsalSuccess", &tags("IdentityProvider", "None"));
    assert_eq!(fetched.len(), 1, "{:#}", got["metrics"]);
    assert_eq!(fetched[0]["value"], 1);
    let hits = points(&got, "MsalSuccess", &tags("Cache", "L1Cache"));
    assert_eq!(hits[0]["value"], 2, "{:#}", got["metrics"]);
    let success = metrics(&got, "MsalSuccess");
    assert_eq!(success[0]["resource"]["certless.host"], "broker");
    assert_eq!(
        success[0]["resource"]["service.name"],
        "certless-broker-test"
    );
    let root = spans(&got, "certless.acquire_token");
    assert_eq!(root.len(), 1, "one fetch for three requests");
    assert_eq!(root[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(root[0]["parent_span_id"], "00f067aa0ba902b7");
    let entra = spans(&got, "certless.entra");
    assert_eq!(entra[0]["parent_span_id"], root[0]["span_id"]);
    let sent = emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .expect("the exchange");
    let traceparent = sent
        .headers
        .iter()
        .find(|(k, _)| k == "traceparent")
        .map(|(_, v)| v.clone());
    let expected = format!(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
        entra[0]["span_id"].as_str().expect("hex")
    );
    assert_eq!(traceparent, Some(expected));
}
