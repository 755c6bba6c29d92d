//! A real `redis-server` (Debian's package `redis-server`) on a free loopback port, for tests of
//! the shared token cache: started by the test, killed when dropped; plain, with a password, or
//! TLS with a CA of its own. Not an emulator: the shared cache is tested against the real thing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    dir: PathBuf,
    /// A configuration file, which redis-server takes only as its first argument (a sentinel's).
    config_file: Option<PathBuf>,
    args: Vec<String>,
    password: Option<String>,
    tls: Option<Tls>,
}

/// The TLS files a TLS server was started with.
pub struct Tls {
    /// The CA that signed the server's certificate (PEM).
    pub ca_file: PathBuf,
}

/// A fresh directory for one server's files.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("certless-redis-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl RedisServer {
    /// A plain server, no password.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, None, false)
    }

    /// With `requirepass`, and/or TLS only (no plain port).
    pub fn start_with(name: &str, password: Option<&str>, tls: bool) -> Self {
        Self::start_in(scratch_dir(name), None, &[], password, tls)
    }

    /// In `dir`, with `config_file` first (when given) and `extra` arguments after the usual ones
    /// (`--replicaof`, `--cluster-enabled`, `--sentinel`).
    pub(crate) fn start_in(
        dir: PathBuf,
        config_file: Option<PathBuf>,
        extra: &[String],
        password: Option<&str>,
        tls: bool,
    ) -> Self {
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
            // Servers of one set share the TLS files of the first ([`share_tls_files`]).
            let files = match dir.join("ca.pem").exists() {
                true => Tls {
                    ca_file: dir.join("ca.pem"),
                },
                false => write_tls_files(&dir),
            };
            args.extend([
                "--port".into(),
                "0".into(),
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
        if let Some(password) = password {
            args.extend(["--requirepass".into(), password.into()]);
        }
        args.extend(extra.iter().cloned());
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            config_file,
            args,
            password: password.map(str::to_string),
            tls,
        };
        // The free port may be taken by another test between its probe and redis-server's bind:
        // then redis-server exits, and it starts again on another.
        for _ in 0..5 {
            if server.run() {
                return server;
            }
            server.port = free_port();
        }
        panic!("redis-server did not start on 5 free ports in a row");
    }

    /// Starts redis-server on `self.port`; false when it exited (its port was taken).
    fn run(&mut self) -> bool {
        let port_flag = if self.tls.is_some() {
            "--tls-port"
        } else {
            "--port"
        };
        let mut child = Command::new("redis-server")
            .args(&self.config_file)
            .args(&self.args)
            .args([port_flag, &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's package redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if !matches!(child.try_wait(), Ok(None)) {
                return false;
            }
            // Connected, and our child still runs a moment later (one that lost the port to
            // another process exits as soon as its bind fails): the port is ours.
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                if !matches!(child.try_wait(), Ok(None)) {
                    return false;
                }
                self.child = Some(child);
                return true;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL certless is given.
    pub fn url(&self) -> String {
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

    /// The CA file a TLS server's clients trust.
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// Runs `redis-cli` against it; its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
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

    /// Whether it still runs (it has not been killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The keys certless wrote.
    pub fn entry_keys(&self) -> Vec<String> {
        self.cli(&["--scan", "--pattern", "certless:*"])
            .lines()
            .filter(|k| !k.ends_with(":lease") && !k.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Kills it (as a crash or a failover would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing is saved).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.run(),
            "redis-server did not start again on port {}",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Puts the TLS files of the server in `from` in `to`, for another server of the same set: one CA
/// for every server a client reaches.
pub(crate) fn share_tls_files(from: &Path, to: &Path) {
    for name in ["ca.pem", "server.pem", "server.key"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy a TLS file");
    }
}

/// A test CA and a certificate for 127.0.0.1 it signed.
fn write_tls_files(dir: &Path) -> Tls {
    Tls {
        ca_file: crate::write_loopback_tls_files(dir),
    }
}

/// `text` percent-encoded for a URL's password.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
