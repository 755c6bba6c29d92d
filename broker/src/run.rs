//! Starting and stopping a broker: the apps, the listeners, the secret, the announcement of
//! where it listens, the keep-warm loop; then, when told to stop, a graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certless::ManagedIdentitySource;
use certless::broker::wire::{TOKEN_PATH, is_loopback_host};

use crate::apps::Apps;
use crate::paths::{secret_path, state_path};
use crate::rotation::follow_rotations;
use crate::secret::{SecretSet, SecretState, ServerSecret};
use crate::server::{Limits, Server};
use crate::shared::Broker;
use crate::warm::keep_warm;
use crate::{Config, Error};

/// Serves `config` until `stop` completes, then shuts down gracefully: no new connections,
/// requests in flight finished (for up to `config.shutdown_timeout`), the socket and the
/// published secret removed. Once listening, `announce` gets what clients must set, as
/// `certless serve` prints it. Logs through the `log` crate ([`crate::install_logger`]).
pub async fn run(
    config: &Config,
    stop: impl Future<Output = ()>,
    announce: impl FnOnce(&str),
) -> Result<(), Error> {
    // The `Platform` tag of its MSAL-named metrics (docs/telemetry.md), before any credential.
    certless::telemetry::set_host("broker");
    let started = match start(config, announce).await {
        Ok(s) => s,
        Err(e) => {
            log::error!("certless serve: {e}");
            return Err(Error::from(e));
        }
    };
    stop.await;
    log::info!("certless serve: stopping: no new connections; finishing requests in flight");
    let open = started.server.shutdown(config.shutdown_timeout).await;
    if open > 0 {
        log::warn!(
            "certless serve: {open} connection(s) still busy after {} s; exiting anyway",
            config.shutdown_timeout.as_secs()
        );
    }
    if let Some(path) = &started.socket {
        let _ = std::fs::remove_file(path);
    }
    if let (Some(path), false) = (&started.secret_file, config.keep_secret) {
        let _ = std::fs::remove_file(path);
    }
    // What the last export interval recorded reaches the collector (when export is on).
    let flushed = tokio::task::spawn_blocking(|| {
        certless::telemetry::flush(std::time::Duration::from_secs(5))
    })
    .await;
    if !matches!(flushed, Ok(true)) {
        log::warn!("certless serve: the last telemetry did not reach the OTLP collector");
    }
    log::info!("certless serve: stopped");
    Ok(())
}

/// SIGTERM (systemd stop) or SIGINT (Ctrl-C); Ctrl-C elsewhere.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A broker that is serving: what a shutdown needs.
struct Started {
    server: Server,
    socket: Option<PathBuf>,
    secret_file: Option<PathBuf>,
}

/// What guards the TCP port: the secrets accepted, the state file that keeps them (followed
/// for rotations) and the file they are published to.
struct Secrets {
    set: SecretSet,
    state: Option<SecretState>,
    file: Option<PathBuf>,
}

async fn start(config: &Config, announce: impl FnOnce(&str)) -> Result<Started, String> {
    let apps = Apps::load(config).map_err(|e| e.to_string())?;
    let listen = listen_address(&config.listen)?;
    if let Some(addr) = listen {
        refuse_self_loop(&apps, addr)?;
    }
    let secrets = secrets(config, listen.is_some())?;
    let tcp = match listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
        ),
        None => None,
    };
    let secret_file = secrets.file.clone();
    let broker = Arc::new(Broker::new(
        apps,
        secrets.set,
        secrets.state.clone(),
        secret_file
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string()),
        config.scopes.clone(),
        config.failure_hold,
    ));
    let server = Server::new(
        Arc::clone(&broker),
        Limits {
            max_connections: config.max_connections.max(1),
            header_timeout: config.header_timeout.max(Duration::from_secs(1)),
        },
    );
    let mut url = None;
    if let Some(listener) = tcp {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        url = Some(format!("http://{addr}{TOKEN_PATH}"));
        server.spawn_tcp(listener);
    }
    let socket = match &config.socket {
        Some(path) => {
            bind_socket(
                &server,
                path,
                &config.socket_mode,
                config.socket_group.as_deref(),
            )?;
            Some(path.clone())
        }
        None => None,
    };
    if url.is_none() && socket.is_none() {
        return Err("--listen none needs --socket: the broker would listen nowhere".into());
    }
    let listening = Listening {
        url: url.as_deref(),
        socket: socket.as_deref(),
        secret_file: secret_file.as_deref(),
    };
    announce(&listening.text(&broker.apps));
    listening.log();
    if let Some(path) = &config.ready_file {
        listening.write_ready_file(&broker.apps, path)?;
    }
    tokio::spawn(keep_warm(Arc::clone(&broker), config.keep_warm));
    if let (Some(state), Some(path)) = (secrets.state, &secret_file) {
        tokio::spawn(follow_rotations(
            Arc::clone(&broker),
            state,
            path.clone(),
            config.secret_group.clone(),
        ));
    }
    Ok(Started {
        server,
        socket,
        secret_file,
    })
}

/// The secrets the TCP port accepts (`tcp`); with the Unix socket only, a throwaway one (the
/// socket is guarded by its file mode).
fn secrets(config: &Config, tcp: bool) -> Result<Secrets, String> {
    let only = |current| SecretSet {
        current,
        previous: None,
    };
    if !tcp {
        return Ok(Secrets {
            set: only(ServerSecret::generate()?),
            state: None,
            file: None,
        });
    }
    let path = secret_path(config.secret_file.as_deref())?;
    if config.keep_secret {
        return Ok(Secrets {
            set: only(ServerSecret::read(&path)?),
            state: None,
            file: Some(path),
        });
    }
    // The same secret as at the last start: running SDK clients keep working.
    let state = state_path(config.state_dir.as_deref()).map(|path| SecretState { path });
    let set = match &state {
        Some(state) => state.load_or_create()?,
        None => {
            log::warn!(
                "certless serve: no state directory (give --state-dir): the secret changes at \
                 every start, and running Azure SDK clients must then be restarted"
            );
            only(ServerSecret::generate()?)
        }
    };
    set.current.write(&path, config.secret_group.as_deref())?;
    Ok(Secrets {
        set,
        state,
        file: Some(path),
    })
}

/// `--listen`: a loopback socket address, or `none`.
fn listen_address(value: &str) -> Result<Option<SocketAddr>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let addr: SocketAddr = value.parse().map_err(|_| {
        format!("--listen '{value}' is not an address and port such as 127.0.0.1:8765")
    })?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--listen {addr} is not a loopback address: the broker serves this machine only \
             (127.0.0.1 or [::1]); for other machines' processes there is no safe secret"
        ));
    }
    Ok(Some(addr))
}

/// A broker whose own managed identity would be asked at its own address (an
/// `IDENTITY_ENDPOINT` exported machine-wide for the SDKs) would wait on itself forever.
fn refuse_self_loop(apps: &Apps, listen: SocketAddr) -> Result<(), String> {
    let uses_app_service = apps.all().iter().any(|a| {
        a.credential
            .managed_identity_source()
            .is_some_and(|s| s.source == ManagedIdentitySource::AppService)
    });
    let endpoint = std::env::var("IDENTITY_ENDPOINT").unwrap_or_default();
    let Ok(url) = url::Url::parse(&endpoint) else {
        return Ok(());
    };
    let same_port = url.port_or_known_default() == Some(listen.port())
        && is_loopback_host(url.host_str().unwrap_or_default());
    if uses_app_service && same_port {
        return Err(format!(
            "IDENTITY_ENDPOINT ({endpoint}) points at this broker's own address: it would ask \
             itself for its managed-identity token. Unset IDENTITY_ENDPOINT and IDENTITY_HEADER \
             in the broker's environment (they are for its clients)"
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn bind_socket(
    server: &Server,
    path: &Path,
    mode: &str,
    group: Option<&str>,
) -> Result<(), String> {
    let mode = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o777 && m & 0o007 == 0)
        .ok_or_else(|| {
            format!(
                "--socket-mode '{mode}' must be octal, without access for others (e.g. 660 or 600)"
            )
        })?;
    let listener = crate::unix::bind_socket(path, mode, group)?;
    server.spawn_unix(listener);
    Ok(())
}

#[cfg(not(unix))]
fn bind_socket(_: &Server, _: &Path, _: &str, _: Option<&str>) -> Result<(), String> {
    Err("--socket needs a Unix platform: on Windows use the loopback port and its secret".into())
}

/// Where the broker listens, once it does.
struct Listening<'a> {
    url: Option<&'a str>,
    socket: Option<&'a Path>,
    secret_file: Option<&'a Path>,
}

impl Listening<'_> {
    /// What clients must set, for standard output.
    fn text(&self, apps: &Apps) -> String {
        let mut lines = vec![format!("certless serve: serving {}", apps.describe())];
        if let (Some(url), Some(secret)) = (self.url, self.secret_file) {
            let secret = secret.display();
            let base = url.trim_end_matches(TOKEN_PATH);
            lines.push(format!("  token endpoint  {url} (secret in {secret})"));
            lines.push(format!(
                "  Azure SDKs      IDENTITY_ENDPOINT={url} IDENTITY_HEADER=\"$(cat {secret})\""
            ));
            lines.push(format!(
                "  certless        CERTLESS_BROKER={base} CERTLESS_BROKER_SECRET_FILE={secret}"
            ));
        }
        if let Some(socket) = self.socket {
            lines.push(format!(
                "  unix socket     {} (CERTLESS_BROKER=unix:{0})",
                socket.display()
            ));
        }
        lines.join("\n")
    }

    fn log(&self) {
        log::info!(
            "certless serve: listening{}{}",
            self.url.map(|u| format!(" on {u}")).unwrap_or_default(),
            self.socket
                .map(|s| format!(" and unix:{}", s.display()))
                .unwrap_or_default()
        );
    }

    /// `--ready-file`: the addresses, the secret file's path and the apps, as JSON.
    fn write_ready_file(&self, apps: &Apps, path: &Path) -> Result<(), String> {
        let json = serde_json::json!({
            "pid": std::process::id(),
            "url": self.url,
            "socket": self.socket.map(|s| s.display().to_string()),
            "secret_file": self.secret_file.map(|s| s.display().to_string()),
            "apps": apps.all().iter().map(|a| a.client_id.clone()).collect::<Vec<_>>(),
        });
        std::fs::write(path, json.to_string())
            .map_err(|e| format!("cannot write the ready file {}: {e}", path.display()))
    }
}
