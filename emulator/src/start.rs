//! Starting an emulator: its state directory, the HTTP and (when asked for) HTTPS listeners on
//! 127.0.0.1, the shared state they serve, and a runtime of its own for callers without one.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::running::RunningEmulator;
use crate::state::{Addresses, Counters, Journal, Shared};
use crate::{arc, clock, faults, router, server, tls, tokens};

/// Where and how to listen.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Port of the HTTP listener on 127.0.0.1; 0 picks a free one.
    pub http_port: u16,
    /// `None`: no HTTPS listener. `Some(0)`: HTTPS on a free port.
    pub https_port: Option<u16>,
    /// Where `ca.pem` is written when HTTPS is on; default a fresh temporary directory, removed at shutdown.
    pub state_dir: Option<PathBuf>,
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Starts on 127.0.0.1 (never any other address). Must be called inside a tokio runtime; the listeners run as
    /// tasks of that runtime.
    pub async fn start(
        config: EmulatorConfig,
        opts: StartOptions,
    ) -> Result<RunningEmulator, EmulatorError> {
        config.registry.validate()?;
        let key = tokens::SigningKey::generate()?;

        let http = server::bind_loopback(opts.http_port).await?;
        let http_url = format!("http://127.0.0.1:{}", local_port(&http, opts.http_port)?);
        let (dir, owned_state_dir) = state_dir(&opts);
        let arc_dir = dir.join("arc-tokens");
        std::fs::create_dir_all(&arc_dir).map_err(|source| EmulatorError::Io {
            action: "cannot create",
            path: arc_dir.clone(),
            source,
        })?;
        let https_http2 = Arc::new(AtomicBool::new(true));
        let https = match opts.https_port {
            None => None,
            Some(port) => Some(HttpsListener::bind(port, &dir, &https_http2).await?),
        };
        let https_url = match &https {
            Some(h) => Some(format!("https://127.0.0.1:{}", local_port(&h.listener, 0)?)),
            None => None,
        };
        let addresses = Addresses {
            http_url,
            https_url,
            ca_pem_path: https.as_ref().map(|h| h.ca_pem_path.clone()),
            server_thumbprint: https.as_ref().map(|h| h.server_thumbprint.clone()),
        };

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            registry: std::sync::RwLock::new(config.registry),
            key,
            clock: clock::Clock::default(),
            counters: Mutex::new(Counters::default()),
            journal: Journal::default(),
            faults: faults::FaultTable::default(),
            expires_on: Mutex::new(Default::default()),
            addresses,
            arc: arc::ArcState::new(arc_dir),
            site_access: Default::default(),
            sharepoint_lists: Default::default(),
            https_http2,
            shutdown,
        });

        let router = router::build(shared.clone());
        server::spawn_listener(http, None, router.clone(), shutdown_rx.clone());
        if let Some(h) = https {
            server::spawn_listener(h.listener, Some(h.tls), router, shutdown_rx);
        }
        log::info!(
            "emulator: listening on {}{}",
            shared.addresses.http_url,
            shared
                .addresses
                .https_url
                .as_deref()
                .map(|u| format!(" and {u}"))
                .unwrap_or_default()
        );
        Ok(RunningEmulator::new(shared, owned_state_dir))
    }

    /// For callers without a runtime (the CLI, plain `#[test]`s): runs the emulator on its own multi-thread runtime
    /// on a background thread, which ends when the emulator shuts down.
    pub fn start_blocking(
        config: EmulatorConfig,
        opts: StartOptions,
    ) -> Result<RunningEmulator, EmulatorError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("certless-emulator".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("certless-emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(EmulatorError::Runtime(e.to_string())));
                        return;
                    }
                };
                let started = runtime.block_on(Emulator::start(config, opts));
                let mut stopped = match &started {
                    Ok(emu) => emu.shared().shutdown.subscribe(),
                    Err(_) => {
                        let _ = tx.send(started);
                        return;
                    }
                };
                if tx.send(started).is_err() {
                    return;
                }
                runtime.block_on(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            })
            .map_err(|e| EmulatorError::Runtime(e.to_string()))?;
        rx.recv().map_err(|_| {
            EmulatorError::Runtime("the emulator thread ended before starting".into())
        })?
    }
}

/// The directory of `ca.pem` and the Arc key files: the one asked for, else a fresh temporary
/// one, which is also returned as the directory to remove at shutdown.
fn state_dir(opts: &StartOptions) -> (PathBuf, Option<PathBuf>) {
    match &opts.state_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d =
                std::env::temp_dir().join(format!("certless-emulator-{}", uuid::Uuid::new_v4()));
            (d.clone(), Some(d))
        }
    }
}

/// The HTTPS listener: its socket, its TLS set-up, and the CA certificate written to `ca.pem`.
struct HttpsListener {
    listener: tokio::net::TcpListener,
    tls: server::Https,
    ca_pem_path: PathBuf,
    server_thumbprint: String,
}

impl HttpsListener {
    /// Binds `port` with a fresh CA and server certificate, writing the CA to `dir/ca.pem`.
    async fn bind(
        port: u16,
        dir: &std::path::Path,
        https_http2: &Arc<AtomicBool>,
    ) -> Result<HttpsListener, EmulatorError> {
        let material = tls::generate()?;
        let listener = server::bind_loopback(port).await?;
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &material.ca_pem).map_err(|source| EmulatorError::Io {
            action: "cannot write",
            path: ca_path.clone(),
            source,
        })?;
        let tls = server::Https {
            acceptor: material.acceptor,
            acceptor_http1: material.acceptor_http1,
            offer_http2: https_http2.clone(),
        };
        Ok(HttpsListener {
            listener,
            tls,
            ca_pem_path: ca_path,
            server_thumbprint: material.server_thumbprint,
        })
    }
}

fn local_port(listener: &tokio::net::TcpListener, requested: u16) -> Result<u16, EmulatorError> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| EmulatorError::Bind {
            port: requested,
            source,
        })
}
