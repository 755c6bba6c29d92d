//! A real `redis-server` (Debian's package) on a free loopback port, started by the test and
//! killed when dropped: plain, with a password, or TLS with a test CA.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: PathBuf,
    args: Vec<String>,
    password: Option<String>,
    tls: Option<Tls>,
}

/// The TLS files a TLS server was started with.
pub(crate) struct Tls {
    pub(crate) ca_file: PathBuf,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl RedisServer {
    pub(crate) fn start(name: &str) -> Self {
        Self::start_with(name, None, false)
    }

    /// With `requirepass`, and/or TLS only (no plain port).
    pub(crate) fn start_with(name: &str, password: Option<&str>, tls: bool) -> Self {
        let dir = super::scratch_dir(&format!("redis-{name}"));
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        let tls = tls.then(|| {
            let files = write_tls_files(&dir);
            args.extend([
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                dir.join("server.pem").display().to_string(),
                "--tls-key-file".into(),
                dir.join("server.key").display().to_string(),
                "--tls-ca-cert-file".into(),
                files.ca_file.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ]);
            files
        });
        if tls.is_none() {
            args.extend(["--port".into(), port.to_string()]);
        }
        if let Some(password) = password {
            args.extend(["--requirepass".into(), password.into()]);
        }
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            args,
            password: password.map(str::to_string),
            tls,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's package redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL certless is given.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(p) => format!("{scheme}://:{}@127.0.0.1:{}/0", urlencode(p), self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    pub(crate) fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// Runs `redis-cli` against it; its output, trimmed.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(p) = &self.password {
            cmd.args(["--no-auth-warning", "-a", p]);
        }
        if let Some(tls) = &self.tls {
            cmd.args(["--tls", "--cacert"]).arg(&tls.ca_file);
        }
        let out = cmd.args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The keys certless wrote.
    pub(crate) fn entry_keys(&self) -> Vec<String> {
        self.cli(&["--scan", "--pattern", "certless:*"])
            .lines()
            .filter(|k| !k.ends_with(":lease") && !k.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Kills it (as a crash or a failover would).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing is saved).
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.run();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA and a certificate for 127.0.0.1 it signed.
fn write_tls_files(dir: &Path) -> Tls {
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "certless test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("a key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        "127.0.0.1".parse().expect("an IP"),
    ));
    let cert = params.signed_by(&key, &issuer).expect("the certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
    Tls {
        ca_file: dir.join("ca.pem"),
    }
}

/// `text` percent-encoded for a URL's password.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
