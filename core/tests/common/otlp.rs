//! The OTLP receiver of the telemetry tests (tests/otlp/receiver.py): a Python process that
//! decodes what arrives with OpenTelemetry's own protobuf definitions and serves a summary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) struct Receiver {
    child: Child,
    pub(crate) url: String,
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
        let dir = super::scratch_dir("otlp");
        let port_file = dir.join("port");
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
        }
    }

    /// What arrived so far (the receiver's summary).
    pub(crate) fn received(&self) -> Value {
        let url = format!("{}/received", self.url);
        // A blocking GET on a thread of its own: the tests call it from inside a runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                reqwest::get(&url)
                    .await
                    .expect("the receiver answers")
                    .json::<Value>()
                    .await
                    .expect("JSON")
            })
        })
        .join()
        .expect("the GET thread")
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
