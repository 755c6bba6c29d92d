//! Listeners and connections: bind 127.0.0.1 only, serve the router over HTTP/1.1 and HTTP/2 (TLS optional), and
//! give each request a handle on its own connection so a fault can drop or reset it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::error::EmulatorError;

/// Per-connection facts a handler may need, put in every request's extensions.
#[derive(Clone)]
pub(crate) struct ConnInfo {
    pub scheme: &'static str,
    pub port: u16,
    /// Notifying this closes the connection without an answer.
    pub kill: Arc<Notify>,
    /// Set before `kill` to make that close a reset (RST) instead of an orderly FIN.
    pub reset: Arc<AtomicBool>,
}

impl ConnInfo {
    /// Resets the connection now: whatever the client has not read yet is lost, and its next write fails.
    pub(crate) fn reset_now(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }
}

/// The HTTPS listener's TLS: which protocols it offers is switchable while it runs.
#[derive(Clone)]
pub(crate) struct Https {
    pub acceptor: TlsAcceptor,
    pub acceptor_http1: TlsAcceptor,
    /// Whether new connections are offered HTTP/2; else HTTP/1.1 only.
    pub offer_http2: Arc<AtomicBool>,
}

/// The emulator is for local tests only: it listens on loopback and nowhere else.
pub(crate) async fn bind_loopback(port: u16) -> Result<TcpListener, EmulatorError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|source| EmulatorError::Bind { port, source })
}

/// A TLS handshake that takes longer than this is abandoned, so a silent client cannot pin a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn spawn_listener(
    listener: TcpListener,
    tls: Option<Https>,
    router: Router,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let mut stop = shutdown.clone();
        loop {
            let accepted = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(
                        stream,
                        tls.clone(),
                        router.clone(),
                        port,
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    log::warn!("emulator: accept failed on port {port}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        log::debug!("emulator: listener on port {port} stopped");
    })
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<Https>,
    router: Router,
    port: u16,
    mut shutdown: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let reset = Arc::new(AtomicBool::new(false));
    // A second handle on the socket: hyper owns the stream, and a reset needs SO_LINGER 0 set on the socket
    // before its last descriptor is closed.
    let control = socket2::SockRef::from(&stream).try_clone().ok();
    let info = ConnInfo {
        scheme: if tls.is_some() { "https" } else { "http" },
        port,
        kill: kill.clone(),
        reset: reset.clone(),
    };
    let inner = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info.clone());
        hyper::service::Service::call(&inner, req)
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    match tls {
        None => {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
        Some(https) => {
            let acceptor = if https.offer_http2.load(Ordering::Relaxed) {
                https.acceptor
            } else {
                https.acceptor_http1
            };
            let tls_stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        log::debug!("emulator: TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
    }
    if reset.load(Ordering::SeqCst) {
        if let Some(socket) = &control {
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
    }
}
