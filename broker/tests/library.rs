//! The broker as a library, without the CLI around it: `run` with a `Config`, asked over
//! loopback as an Azure SDK asks, then stopped through its stop future. (`certless serve` as a
//! machine runs it — signals, restarts, the Unix socket — is cli/tests/serve.rs.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certless_emulator::{Emulator, EmulatorConfig, MiSourceKind, StartOptions};

#[test]
fn run_serves_the_apps_token_until_its_stop_future_completes() {
    let emu = Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .expect("the emulator starts");
    // The only test of this binary, before any thread of its own: the credential reads the
    // emulator's addresses from the process environment, as the broker's service would.
    for (name, value) in emu.client_env(MiSourceKind::Imds) {
        // SAFETY: no other thread of this test binary reads or writes the environment yet.
        unsafe { std::env::set_var(name, value) };
    }
    let dir = scratch_dir();
    let config = certless_broker::Config {
        listen: "127.0.0.1:0".into(),
        secret_file: Some(dir.join("secret")),
        state_dir: Some(dir.join("state")),
        ready_file: Some(dir.join("ready.json")),
        ..Default::default()
    };
    let announced = Arc::new(Mutex::new(String::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let broker = {
        let announced = Arc::clone(&announced);
        let config = config.clone();
        runtime.spawn(async move {
            let stop = async move {
                let _ = stopped.await;
            };
            let announce = |text: &str| *announced.lock().unwrap() = text.to_string();
            certless_broker::run(&config, stop, announce).await
        })
    };
    let ready = dir.join("ready.json");
    for _ in 0..500 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ready).expect("the ready file")).unwrap();
    let url = json["url"].as_str().unwrap().to_string();
    assert!(
        announced.lock().unwrap().contains(&url),
        "the announcement names {url}"
    );
    let secret = std::fs::read_to_string(dir.join("secret")).unwrap();

    let address = url.trim_start_matches("http://").split('/').next().unwrap();
    let token_path = "/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com";
    let with_secret = format!("X-IDENTITY-HEADER: {}\r\n", secret.trim());
    let answer = get(address, token_path, &with_secret);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"access_token\""), "{answer}");
    let refused = get(address, token_path, "");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    stop.send(()).unwrap();
    let served = runtime.block_on(broker).unwrap();
    assert_eq!(served, Ok(()));
    assert!(
        !dir.join("secret").exists(),
        "the published secret is removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET {path}` with `headers` (lines ending in CRLF) and `Connection: close`; the whole answer.
fn get(address: &str, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certless-broker-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
