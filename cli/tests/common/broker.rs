//! A running `certless serve` for the tests: started in front of the emulator, asked over raw
//! HTTP/1.1 as the SDKs ask it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certless_emulator::{MiSourceKind, RunningEmulator};

use super::{certless, scratch_dir};

/// A running `certless serve`, stopped (SIGTERM) when dropped.
pub(crate) struct Broker {
    pub(crate) child: Option<Child>,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) secret: String,
}

impl Broker {
    pub(crate) fn start(emu: &RunningEmulator, name: &str, extra: &[&str]) -> Broker {
        Broker::start_at(emu, &scratch_dir(name), "127.0.0.1:0", extra)
    }

    pub(crate) fn start_at(
        emu: &RunningEmulator,
        dir: &Path,
        listen: &str,
        extra: &[&str],
    ) -> Broker {
        Broker::start_with_env(emu, dir, listen, extra, &[])
    }

    /// With these environment variables besides the emulator's.
    pub(crate) fn start_with_env(
        emu: &RunningEmulator,
        dir: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Broker {
        let dir = dir.to_path_buf();
        let _ = std::fs::remove_file(dir.join("ready.json"));
        let mut command = certless();
        command
            .args(["serve", "--listen", listen, "--log-level", "debug"])
            .arg("--secret-file")
            .arg(dir.join("secret"))
            .arg("--ready-file")
            .arg(dir.join("ready.json"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(emu.client_env(MiSourceKind::Imds))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
        let child = command.spawn().unwrap();
        let ready = dir.join("ready.json");
        let started = Instant::now();
        while !ready.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the broker did not start: {}",
                std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
        let url = json["url"].as_str().unwrap();
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let secret = std::fs::read_to_string(dir.join("secret"))
            .unwrap()
            .trim()
            .to_string();
        Broker {
            child: Some(child),
            dir,
            port,
            secret,
        }
    }

    pub(crate) fn token_path(resource: &str, extra: &str) -> String {
        format!("/msi/token?api-version=2019-08-01&resource={resource}{extra}")
    }

    /// A token request as the SDKs send it.
    pub(crate) fn get_token(&self, resource: &str, extra: &str) -> Answer {
        let secret = format!("X-IDENTITY-HEADER: {}\r\n", self.secret);
        self.raw(&request(&Self::token_path(resource, extra), &secret))
    }

    pub(crate) fn raw(&self, request: &str) -> Answer {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        read_answer(&mut stream)
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().unwrap()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn request(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n")
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub(crate) fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}
