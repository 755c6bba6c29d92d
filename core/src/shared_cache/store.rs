//! The Redis side: one connection per credential ([`super::connect`]: a server, the master the
//! sentinels name, or a cluster), made on first use and again after it failed (a failover, a
//! restart, a new address behind the same name), every command under a budget, and the breaker
//! ([`super::breaker`]) in front.
//!
//! Commands run as tasks of certless's own runtime, never on the caller's: the connection outlives
//! any host runtime, and a caller whose budget ran out goes on at once while the command finishes
//! (and counts) in the background. Nothing here ever fails a token request: every outcome that is
//! not an answer is [`Answer::Unavailable`], and the caller treats it as a miss.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::address::EVERY_FORM;
use super::breaker::{Breaker, Permit};
use super::connect::{Connection, Connector, Timeouts};
use super::{Settings, SharedCacheStats};
use crate::error::{Error, ErrorCode, Result};
use crate::support::runtime;

/// How long one command may take before it counts as a failure of Redis (the caller's own budget
/// is usually shorter; the command still finishes, or fails, within this).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long establishing a connection (TCP, TLS, AUTH; with Sentinel, asking the sentinels and
/// the master's ROLE too) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a caller waits for a command while there is no connection yet: a first connection
/// (TCP, TLS and AUTH) takes longer than a read's budget. The connection is also begun when the
/// credential is built ([`RedisStore::connect_early`]), so this is rarely waited for.
const FIRST_CONNECT_BUDGET: Duration = Duration::from_secs(1);

/// The most of an entry read back. A sealed entry is a token (a few KiB; Entra puts at most 200
/// groups in a token, about 8 KiB of them, and an overage claim beyond), its times and the seal's 30-odd bytes: a
/// value past this is not one of ours, and reading all of it (another program's blob under our
/// key, or a writer with Redis access filling it) would cost every machine of the farm its memory
/// and the time to receive it on every miss.
pub(crate) const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// Releases a lease only if it is still ours (it may have expired and been taken by another).
const RELEASE_LEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// An answer from Redis, or none.
pub(crate) enum Answer<T> {
    Got(T),
    /// Redis was not asked (breaker open), failed, or did not answer within the budget.
    Unavailable,
}

pub(crate) struct RedisStore {
    connector: Connector,
    /// The connection and the process it was made in (after `fork()` the child makes its own).
    connection: tokio::sync::Mutex<Option<(u32, Connection)>>,
    /// Where the last connection went, in words (for the doctor).
    reached: std::sync::Mutex<String>,
    /// Which kind of Redis it is, in words (for the doctor).
    kind: &'static str,
    /// Whether a connection is up (a caller then waits only its budget).
    connected: AtomicBool,
    breaker: Breaker,
    pub(crate) counters: Counters,
    target: String,
}

/// What happened, counted (read by [`SharedCacheStats`]).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) unknown_key: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) over_budget: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) write_failures: AtomicU64,
    pub(crate) full: AtomicU64,
    pub(crate) leases_won: AtomicU64,
    pub(crate) lease_waits: AtomicU64,
    pub(crate) lease_timeouts: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl RedisStore {
    pub(crate) fn new(settings: &Settings) -> Result<Self> {
        // redis-rs builds its TLS configuration with the process's default provider: ring, as
        // for every other connection certless makes (a no-op when one is already installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let address = &settings.address;
        let connector = Connector::new(address, settings.ca_pem.as_deref()).map_err(|e| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "the shared cache address {} is not usable: {}",
                    address.target,
                    e.category()
                ),
            )
            .with_remedy(EVERY_FORM)
        })?;
        Ok(RedisStore {
            connector,
            connection: tokio::sync::Mutex::new(None),
            reached: std::sync::Mutex::new(String::new()),
            kind: address.topology.kind(),
            connected: AtomicBool::new(false),
            breaker: Breaker::new(address.target.clone()),
            counters: Counters::default(),
            target: address.target.clone(),
        })
    }

    /// Begins connecting in the background, so that the first token request finds a connection.
    pub(crate) fn connect_early(self: &Arc<Self>) {
        let Ok(handle) = runtime::handle() else {
            return;
        };
        let store = Arc::clone(self);
        handle.spawn(async move {
            match store.connection().await {
                Ok(_) => store.breaker.succeeded(),
                Err(e) => store.failed(&e),
            }
        });
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Which kind of Redis, and where the last connection went: "Redis Sentinel: master 'm' at
    /// 10.0.0.5:6379, as the sentinels say".
    pub(crate) fn reached(&self) -> String {
        let at = self.reached.lock().map(|r| r.clone()).unwrap_or_default();
        match at.is_empty() {
            true => self.kind.to_string(),
            false => format!("{}: {at}", self.kind),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.connector, Connector::Cluster(_))
    }

    pub(crate) fn stats(&self) -> SharedCacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SharedCacheStats {
            target: self.target.clone(),
            state: self.breaker.state(Instant::now()),
            breaker_opened: self.breaker.times_opened(),
            hits: get(&c.hits),
            misses: get(&c.misses),
            rejected: get(&c.rejected),
            unknown_key: get(&c.unknown_key),
            errors: get(&c.errors),
            over_budget: get(&c.over_budget),
            skipped: get(&c.skipped),
            writes: get(&c.writes),
            write_failures: get(&c.write_failures),
            full: get(&c.full),
            leases_won: get(&c.leases_won),
            lease_waits: get(&c.lease_waits),
            lease_timeouts: get(&c.lease_timeouts),
        }
    }

    /// The entry at `key` (at most [`MAX_ENTRY_BYTES`]; a longer value is rejected), within
    /// `budget`.
    pub(crate) async fn get(
        self: &Arc<Self>,
        key: &str,
        budget: Duration,
    ) -> Answer<Option<Vec<u8>>> {
        let key = key.to_string();
        // GETRANGE, not GET: Redis sends at most one byte past the bound, whatever the value's
        // size. It answers an empty string for a key that does not exist.
        let read = self.ask(budget, move |mut c| async move {
            redis::cmd("GETRANGE")
                .arg(key)
                .arg(0)
                .arg(MAX_ENTRY_BYTES)
                .query_async::<Vec<u8>>(&mut c)
                .await
        });
        match read.await {
            Answer::Got(value) if value.is_empty() => Answer::Got(None),
            Answer::Got(value) if value.len() > MAX_ENTRY_BYTES => {
                bump(&self.counters.rejected);
                Answer::Got(None)
            }
            Answer::Got(value) => Answer::Got(Some(value)),
            Answer::Unavailable => Answer::Unavailable,
        }
    }

    /// SET `key` to `value` with a time to live, in the background (nobody waits for a write).
    pub(crate) fn put(self: &Arc<Self>, key: String, value: Vec<u8>, ttl: Duration) {
        let millis = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.spawn_write(move |mut c| async move { store(&mut c, &key, value, millis).await });
    }

    /// Takes the lease `key` (SET NX PX) with `owner` as its value; `Got(true)` when taken.
    pub(crate) async fn try_lease(
        self: &Arc<Self>,
        key: &str,
        owner: &str,
        ttl: Duration,
        budget: Duration,
    ) -> Answer<bool> {
        let (key, owner) = (key.to_string(), owner.to_string());
        let millis = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.ask(budget, move |mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
        .await
    }

    /// Releases the lease if `owner` still holds it, in the background.
    pub(crate) fn release_lease(self: &Arc<Self>, key: String, owner: String) {
        self.spawn_write(move |mut c| async move { release(&mut c, &key, &owner).await });
    }

    /// Stores `value` under `key` and then releases the lease, in that order, in the background:
    /// a machine that sees the lease gone finds the entry.
    pub(crate) fn put_then_release(
        self: &Arc<Self>,
        key: String,
        value: Vec<u8>,
        ttl: Duration,
        lease: String,
        owner: String,
    ) {
        let millis = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.spawn_write(move |mut c| async move {
            let stored = store(&mut c, &key, value, millis).await;
            let released = release(&mut c, &lease, &owner).await;
            stored.and(released)
        });
    }

    /// Runs `command` now, past the breaker, and says how it went in words safe to show: for the
    /// doctor, which wants the reason, not a miss.
    pub(crate) async fn diagnose<T, F, Fut>(
        self: &Arc<Self>,
        command: F,
    ) -> std::result::Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send,
    {
        let handle = runtime::handle().map_err(|e| e.to_string())?;
        let store = Arc::clone(self);
        let task = handle.spawn(async move {
            let connection = store.connection().await.map_err(|e| describe(&e))?;
            match tokio::time::timeout(COMMAND_TIMEOUT, command(connection)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(describe(&e)),
                Err(_) => Err("no answer within 2 s".to_string()),
            }
        });
        match tokio::time::timeout(CONNECT_TIMEOUT + COMMAND_TIMEOUT, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the check did not finish".to_string()),
            Err(_) => Err(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }

    /// Runs `command` on certless's runtime and waits for it at most `budget`.
    async fn ask<T, F, Fut>(self: &Arc<Self>, budget: Duration, command: F) -> Answer<T>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send,
    {
        let permit = self.breaker.permit(Instant::now());
        if permit == Permit::Skip {
            bump(&self.counters.skipped);
            return Answer::Unavailable;
        }
        let Ok(handle) = runtime::handle() else {
            return Answer::Unavailable;
        };
        let budget = if self.connected.load(Ordering::Relaxed) {
            budget
        } else {
            budget.max(FIRST_CONNECT_BUDGET)
        };
        let store = Arc::clone(self);
        let task = handle.spawn(async move { store.run(command).await });
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(Some(value))) => Answer::Got(value),
            Ok(_) => Answer::Unavailable,
            Err(_) => {
                bump(&self.counters.over_budget);
                Answer::Unavailable
            }
        }
    }

    fn spawn_write<F, Fut>(self: &Arc<Self>, command: F)
    where
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<()>> + Send,
    {
        if self.breaker.permit(Instant::now()) == Permit::Skip {
            bump(&self.counters.skipped);
            return;
        }
        let Ok(handle) = runtime::handle() else {
            return;
        };
        let store = Arc::clone(self);
        handle.spawn(async move {
            match store.run(command).await {
                Some(()) => bump(&store.counters.writes),
                None => bump(&store.counters.write_failures),
            }
        });
    }

    /// One command on the connection (made now if need be), its outcome recorded.
    async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = match self.connection().await {
            Ok(c) => c,
            Err(e) => {
                self.failed(&e);
                return None;
            }
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, command(connection)).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(&e);
                None
            }
            Err(_) => {
                bump(&self.counters.errors);
                self.forget_connection().await;
                self.breaker.failed(Instant::now(), "no answer within 2 s");
                None
            }
        }
    }

    async fn connection(&self) -> redis::RedisResult<Connection> {
        let pid = std::process::id();
        let mut slot = self.connection.lock().await;
        if let Some((owner, c)) = slot.as_ref() {
            if *owner == pid {
                return Ok(c.clone());
            }
        }
        let timeouts = Timeouts {
            connect: CONNECT_TIMEOUT,
            command: COMMAND_TIMEOUT,
        };
        // Bounded as a whole: with Sentinel it is several connections (a sentinel, the master's
        // ROLE, the master), each with its own timeouts.
        let (connection, reached) =
            tokio::time::timeout(CONNECT_TIMEOUT, self.connector.connect(timeouts))
                .await
                .map_err(|_| {
                    redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no connection within the time allowed",
                    ))
                })??;
        if let Ok(mut r) = self.reached.lock() {
            *r = reached;
        }
        *slot = Some((pid, connection.clone()));
        self.connected.store(true, Ordering::Relaxed);
        Ok(connection)
    }

    async fn forget_connection(&self) {
        *self.connection.lock().await = None;
        self.connected.store(false, Ordering::Relaxed);
    }

    /// Records a failed command. A full Redis (maxmemory with noeviction) still answers reads, so
    /// it is counted but does not open the breaker; any other failure does, and a broken
    /// connection is made anew by the next command. So is one to a server that has become a
    /// replica (`READONLY`, after a failover): the next connection asks the sentinels (or the DNS,
    /// for a name that moves) for the master again.
    fn failed(&self, e: &redis::RedisError) {
        if e.code() == Some("OOM") {
            bump(&self.counters.full);
            return;
        }
        bump(&self.counters.errors);
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.code() == Some("READONLY")
        {
            if let Ok(mut slot) = self.connection.try_lock() {
                *slot = None;
                self.connected.store(false, Ordering::Relaxed);
            }
        }
        self.breaker.failed(Instant::now(), &describe(e));
    }
}

/// Deletes the lease `key` if `owner` still holds it (one atomic script).
/// `SET key value PX millis`: the one way an entry is written (docs/protocol.md §11 and the ACL in
/// docs/shared-cache.md name SET, so not PSETEX).
async fn store(
    c: &mut Connection,
    key: &str,
    value: Vec<u8>,
    millis: u64,
) -> redis::RedisResult<()> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(millis)
        .query_async(c)
        .await
}

async fn release(c: &mut Connection, key: &str, owner: &str) -> redis::RedisResult<()> {
    redis::cmd("EVAL")
        .arg(RELEASE_LEASE)
        .arg(1)
        .arg(key)
        .arg(owner)
        .query_async::<i64>(c)
        .await
        .map(|_| ())
}

/// A Redis error in words safe to log: its kind and server code, never the command's arguments.
fn describe(e: &redis::RedisError) -> String {
    let what = if e.is_connection_refusal() {
        "connection refused".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection lost".to_string()
    } else {
        match (e.code(), e.detail()) {
            (Some(code), Some(detail)) => format!("the server answered {code} {detail}"),
            (Some(code), None) => format!("the server answered {code}"),
            (None, _) => e.category().to_string(),
        }
    };
    crate::support::secret::scrub_server_text(&what)
}
