//! Listeners and connections: HTTP/1.1 with keep-alive on loopback TCP and on the Unix socket,
//! bounded in every way a local client could abuse — header size and count, time to send a
//! request's head (also the idle keep-alive limit), and the number of open connections — and
//! shut down gracefully: stop accepting, let requests in flight finish, then return.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::handler::handle;
use crate::shared::{Broker, Via};

/// The limits of `--max-connections` and `--header-timeout`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    /// Time to send a request's head once the connection waits for one (also how long an idle
    /// keep-alive connection stays open).
    pub(crate) header_timeout: Duration,
}

/// Request heads larger than this are answered 431: a token request's is a few hundred bytes.
const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;

pub(crate) struct Server {
    broker: Arc<Broker>,
    limits: Limits,
    connections: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
}

impl Server {
    pub(crate) fn new(broker: Arc<Broker>, limits: Limits) -> Self {
        Server {
            broker,
            limits,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            shutdown: watch::channel(false).0,
        }
    }

    pub(crate) fn spawn_tcp(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let server = self.clone_parts();
        tokio::spawn(async move {
            let mut stop = server.shutdown.subscribe();
            loop {
                let accepted = tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        server.connection(stream, Via::Tcp(peer));
                    }
                    Err(e) => accept_failed(&e).await,
                }
            }
        })
    }

    #[cfg(unix)]
    pub(crate) fn spawn_unix(
        &self,
        listener: tokio::net::UnixListener,
    ) -> tokio::task::JoinHandle<()> {
        let server = self.clone_parts();
        tokio::spawn(async move {
            let mut stop = server.shutdown.subscribe();
            loop {
                let accepted = tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let peer = crate::unix::peer(&stream);
                        server.connection(stream, Via::Unix(peer));
                    }
                    Err(e) => accept_failed(&e).await,
                }
            }
        })
    }

    fn clone_parts(&self) -> Server {
        Server {
            broker: Arc::clone(&self.broker),
            limits: self.limits,
            connections: Arc::clone(&self.connections),
            shutdown: self.shutdown.clone(),
        }
    }

    /// Serves one connection on a task of its own, or, past the connection limit, answers 503
    /// and closes it.
    fn connection<S>(&self, stream: S, via: Via)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let metrics = &self.broker.metrics;
        let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "certless serve: {} connections are open (--max-connections); refusing {via}",
                self.limits.max_connections
            );
            tokio::spawn(refuse_connection(stream));
            return;
        };
        metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        let broker = Arc::clone(&self.broker);
        let mut stop = self.shutdown.subscribe();
        let limits = self.limits;
        tokio::spawn(async move {
            let service = {
                let broker = Arc::clone(&broker);
                let via = via.clone();
                hyper::service::service_fn(move |request| {
                    handle(Arc::clone(&broker), via.clone(), request)
                })
            };
            let mut http = http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_header_size(MAX_HEADER_BYTES)
                .max_headers(MAX_HEADERS)
                .keep_alive(true);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    // Finish the request in flight (if any), then close.
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(e) = result {
                log::debug!("certless serve: connection from {via} ended: {e}");
            }
            broker
                .metrics
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }

    /// Stops accepting, asks every connection to finish its request in flight and close, and
    /// waits for them up to `drain`. Returns how many were still open at the end.
    pub(crate) async fn shutdown(&self, drain: Duration) -> usize {
        let _ = self.shutdown.send(true);
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        match tokio::time::timeout(drain, self.connections.acquire_many(all)).await {
            Ok(_) => 0,
            Err(_) => self.limits.max_connections - self.connections.available_permits(),
        }
    }
}

async fn refuse_connection<S: AsyncWrite + Unpin>(mut stream: S) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
        Retry-After: 1\r\nContent-Length: 0\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
}

/// Out of file descriptors and the like: back off instead of spinning.
async fn accept_failed(e: &std::io::Error) {
    log::warn!("certless serve: accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
