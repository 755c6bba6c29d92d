//! The OTLP receiver of the telemetry tests (tests/otlp/receiver.py): a Python process that
//! decodes what arrives with OpenTelemetry's own protobuf definitions and serves a summary.
//! Standard library and serde_json only: the CLI's tests use this file too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) struct Receiver {
    child: Child,
    pub(crate) url: String,
    port: u16,
}

/// The Python that has the receiver's packages: `CERTLESS_OTLP_PYTHON` (scripts/lib/otlp-env.sh
/// exports it), else the test venv's, else `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CERTLESS_OTLP_PYTHON") {
        return p.into();
    }
    let venv = repo().join("target/py-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port_file = std::env::temp_dir().join(format!(
            "certless-otlp-receiver-{}-{n}.port",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&port_file);
        let mut child = Command::new(python())
            .arg(repo().join("tests/otlp/receiver.py"))
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("the OTLP receiver starts (python3 with tests/otlp/requirements.txt)");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                if !port.trim().is_empty() {
                    break port.trim().to_string();
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the OTLP receiver exited ({status}): install tests/otlp/requirements.txt \
                     (scripts/lib/otlp-env.sh) or set CERTLESS_OTLP_PYTHON"
                );
            }
            assert!(Instant::now() < deadline, "the OTLP receiver did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port: port.parse().expect("a port number"),
        }
    }

    /// What arrived so far (the receiver's summary).
    pub(crate) fn received(&self) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("the receiver");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a timeout");
        stream
            .write_all(b"GET /received HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("the request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("the answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        serde_json::from_str(body).expect("JSON")
    }

    /// What arrived once `ready` holds of it, within 20 s.
    pub(crate) fn wait_for(&self, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if ready(&got) || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The metrics named `name`, every export's.
pub(crate) fn metrics<'a>(received: &'a Value, name: &str) -> Vec<&'a Value> {
    received["metrics"]
        .as_array()
        .map(|all| all.iter().filter(|m| m["name"] == name).collect())
        .unwrap_or_default()
}

/// The points of the last export of metric `name` whose attributes include `tags`.
pub(crate) fn points<'a>(
    received: &'a Value,
    name: &str,
    tags: &[(&str, Value)],
) -> Vec<&'a Value> {
    let Some(last) = metrics(received, name).pop() else {
        return Vec::new();
    };
    last["points"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter(|p| tags.iter().all(|(k, v)| &p["attributes"][k] == v))
                .collect()
        })
        .unwrap_or_default()
}

/// The spans named `name`.
pub(crate) fn spans<'a>(received: &'a Value, name: &str) -> Vec<&'a Value> {
    received["spans"]
        .as_array()
        .map(|all| all.iter().filter(|s| s["name"] == name).collect())
        .unwrap_or_default()
}
