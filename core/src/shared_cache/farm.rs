//! One fetch per farm: the read, the lease, the wait for another machine's entry, and the
//! fetch that shares what it gets (docs/shared-cache.md, "How a farm shares a token").

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::entry::{self, CacheKey};
use super::seal::{OpenFailure, SealKeys};
use super::settings::Settings;
use super::stats::SharedCacheStats;
use super::store::{Answer, RedisStore, bump};
use crate::error::Result;
use crate::token::AccessToken;

/// The first pause between reads while another machine holds the lease; it doubles.
const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(200);

/// What a shared fetch asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A caller is waiting: any entry it can use, else one fetch for the farm.
    Share,
    /// A background refresh: only an entry newer than the one in hand; when another machine is
    /// refreshing, nothing ([`Outcome::Deferred`]).
    Refresh,
    /// A forced refresh: fetch now and replace the shared entry.
    Replace,
}

/// How a shared fetch ended.
pub(crate) enum Outcome {
    /// A token, fetched here or by another machine, and when it was fetched.
    Token { token: AccessToken, fetched_at: i64 },
    /// Another machine holds the lease of a refresh: keep the token in hand for now.
    Deferred,
}

/// One credential's view of the shared cache.
pub(crate) struct SharedCache {
    store: Arc<RedisStore>,
    keys: Arc<SealKeys>,
    read_budget: Duration,
    lease_wait: Duration,
    /// The key parts every entry of this credential shares: cloud, app, credential list.
    authority: String,
    client_id: String,
    kinds: String,
}

impl SharedCache {
    pub(crate) fn new(
        settings: &Settings,
        authority: &str,
        client_id: &str,
        kinds: String,
    ) -> Result<Self> {
        let store = Arc::new(RedisStore::new(settings)?);
        store.connect_early();
        Ok(SharedCache {
            store,
            keys: Arc::clone(&settings.keys),
            read_budget: settings.read_budget,
            lease_wait: settings.lease_wait,
            authority: authority.to_string(),
            client_id: client_id.to_string(),
            kinds,
        })
    }

    pub(crate) fn stats(&self) -> SharedCacheStats {
        self.store.stats()
    }

    pub(crate) fn target(&self) -> &str {
        self.store.target()
    }

    fn key(&self, tenant: &str, scope: &str) -> CacheKey {
        CacheKey::new(
            &self.authority,
            tenant,
            &self.client_id,
            scope,
            "",
            &self.kinds,
        )
    }

    /// A token for (tenant, scope): from the shared entry when `accept` takes it, else fetched by
    /// `fetch` here — under the farm's lease when it can be taken, after waiting for another
    /// machine's fetch up to the bound when it cannot — and shared. `now` is the credential's
    /// clock (Unix seconds); `accept(token, fetched_at, now)` says whether an entry will do.
    pub(crate) async fn fetch<F, Fut>(
        &self,
        tenant: &str,
        scope: &str,
        mode: Mode,
        now: &(dyn Fn() -> i64 + Send + Sync),
        accept: &(dyn Fn(&AccessToken, i64, i64) -> bool + Send + Sync),
        fetch: F,
    ) -> Result<Outcome>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken>>,
    {
        let key = self.key(tenant, scope);
        if mode == Mode::Replace {
            return self.fetch_and_share(&key, None, fetch, now).await;
        }
        let owner = lease_owner();
        let started = Instant::now();
        let mut pause = FIRST_POLL;
        let mut waiting = false;
        loop {
            match self.read(&key).await {
                Answer::Got(Some(found)) if accept(&found.token, found.fetched_at, now()) => {
                    bump(&self.store.counters.hits);
                    crate::telemetry::served_by_shared_cache(started);
                    return Ok(Outcome::Token {
                        token: found.token,
                        fetched_at: found.fetched_at,
                    });
                }
                Answer::Got(_) => bump(&self.store.counters.misses),
                Answer::Unavailable => return self.fetch_and_share(&key, None, fetch, now).await,
            }
            let ttl = self.lease_wait * 2;
            match self
                .store
                .try_lease(&key.lease, &owner, ttl, self.read_budget)
                .await
            {
                Answer::Got(true) => {
                    bump(&self.store.counters.leases_won);
                    // The machine that held the lease before may have written its entry and
                    // released the lease between the read above and this lease.
                    if let Answer::Got(Some(found)) = self.read(&key).await {
                        if accept(&found.token, found.fetched_at, now()) {
                            bump(&self.store.counters.hits);
                            crate::telemetry::served_by_shared_cache(started);
                            self.store.release_lease(key.lease.clone(), owner);
                            return Ok(Outcome::Token {
                                token: found.token,
                                fetched_at: found.fetched_at,
                            });
                        }
                    }
                    return self.fetch_and_share(&key, Some(owner), fetch, now).await;
                }
                Answer::Got(false) if mode == Mode::Refresh => return Ok(Outcome::Deferred),
                Answer::Got(false) => {}
                Answer::Unavailable => return self.fetch_and_share(&key, None, fetch, now).await,
            }
            if !waiting {
                waiting = true;
                bump(&self.store.counters.lease_waits);
            }
            if started.elapsed() >= self.lease_wait {
                bump(&self.store.counters.lease_timeouts);
                log::info!(
                    "certless: another machine's fetch of a token did not reach the shared cache \
                     within {} ms; fetching here",
                    self.lease_wait.as_millis()
                );
                return self.fetch_and_share(&key, None, fetch, now).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// The entry under `key`, opened; a miss when there is none or it does not open (counted).
    async fn read(&self, key: &CacheKey) -> Answer<Option<entry::Shared>> {
        let sealed = match self.store.get(&key.entry, self.read_budget).await {
            Answer::Got(Some(sealed)) => sealed,
            Answer::Got(None) => return Answer::Got(None),
            Answer::Unavailable => return Answer::Unavailable,
        };
        match self.keys.open(key.bound.as_bytes(), &sealed) {
            Ok(plain) => Answer::Got(entry::decode(&plain).or_else(|| {
                bump(&self.store.counters.rejected);
                None
            })),
            Err(OpenFailure::UnknownKey) => {
                bump(&self.store.counters.unknown_key);
                Answer::Got(None)
            }
            Err(OpenFailure::Rejected | OpenFailure::Malformed) => {
                bump(&self.store.counters.rejected);
                Answer::Got(None)
            }
        }
    }

    /// Fetches here and shares the token (then releases the lease, if held). A failed fetch
    /// releases the lease at once, so that another machine tries without waiting out the bound.
    async fn fetch_and_share<F, Fut>(
        &self,
        key: &CacheKey,
        lease: Option<String>,
        fetch: F,
        now: &(dyn Fn() -> i64 + Send + Sync),
    ) -> Result<Outcome>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken>>,
    {
        let result = fetch().await;
        let fetched_at = now();
        match (&result, lease) {
            (Ok(token), lease) => {
                let ttl = token.expires_on - fetched_at;
                match self
                    .keys
                    .seal(key.bound.as_bytes(), &entry::encode(token, fetched_at))
                {
                    Ok(sealed) if ttl > 0 => {
                        let ttl = Duration::from_secs(ttl.unsigned_abs());
                        match lease {
                            Some(owner) => self.store.put_then_release(
                                key.entry.clone(),
                                sealed,
                                ttl,
                                key.lease.clone(),
                                owner,
                            ),
                            None => self.store.put(key.entry.clone(), sealed, ttl),
                        }
                    }
                    _ => {
                        if let Some(owner) = lease {
                            self.store.release_lease(key.lease.clone(), owner);
                        }
                    }
                }
            }
            (Err(_), Some(owner)) => self.store.release_lease(key.lease.clone(), owner),
            (Err(_), None) => {}
        }
        result.map(|token| Outcome::Token { token, fetched_at })
    }
}

/// A random value naming this holder of a lease, so that only it releases the lease.
fn lease_owner() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the doctor learns of the shared cache, each step a success or the reason it failed.
pub(crate) struct Checkup {
    /// Where Redis is, and the id of the key that seals.
    pub(crate) target: String,
    pub(crate) sealing_key: String,
    pub(crate) keys: usize,
    /// PING's round trip.
    pub(crate) ping: std::result::Result<Duration, String>,
    /// Which kind of Redis, and which master or nodes it reached.
    pub(crate) reached: String,
    /// A sealed entry written, read back and opened, then deleted: the ACL lets this user write,
    /// and the key works.
    pub(crate) round_trip: std::result::Result<(), String>,
    pub(crate) stats: SharedCacheStats,
}

impl SharedCache {
    /// Checks the connection, the rights and the key, past the breaker (for `certless doctor`).
    pub(crate) async fn checkup(&self) -> Checkup {
        let started = Instant::now();
        let ping = self
            .store
            .diagnose(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| started.elapsed());
        let round_trip = match &ping {
            Ok(_) => self.round_trip().await,
            Err(_) => Err("not tried: no connection".to_string()),
        };
        let mut reached = self.store.reached();
        if self.store.is_cluster() && ping.is_ok() {
            reached = match self.cluster_masters().await {
                Ok(masters) => format!(
                    "{reached} of {} master(s): {}",
                    masters.len(),
                    masters.join(", ")
                ),
                Err(why) => format!("{reached} (its nodes not listed: {why})"),
            };
        }
        Checkup {
            target: self.store.target().to_string(),
            sealing_key: self.keys.sealing_id().to_string(),
            keys: self.keys.ids().len(),
            ping,
            reached,
            round_trip,
            stats: self.stats(),
        }
    }

    /// The cluster's masters that are up, as `CLUSTER NODES` lists them (`id host:port@bus
    /// flags ...`, one line a node).
    async fn cluster_masters(&self) -> std::result::Result<Vec<String>, String> {
        let nodes = self
            .store
            .diagnose(|mut c| async move {
                redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async::<String>(&mut c)
                    .await
            })
            .await?;
        let mut masters: Vec<String> = nodes
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let flags = fields.get(2)?;
                let up = flags.contains("master") && !flags.contains("fail");
                let address = fields.get(1)?.split('@').next()?;
                up.then(|| address.to_string())
            })
            .collect();
        masters.sort();
        Ok(masters)
    }

    async fn round_trip(&self) -> std::result::Result<(), String> {
        let key = format!("certless:v1:doctor:{}", lease_owner());
        let sealed = self
            .keys
            .seal(key.as_bytes(), b"certless doctor")
            .map_err(|e| e.to_string())?;
        let name = key.clone();
        let read = self
            .store
            .diagnose(move |mut c| async move {
                redis::cmd("SET")
                    .arg(&name)
                    .arg(sealed)
                    .arg("EX")
                    .arg(60)
                    .query_async::<()>(&mut c)
                    .await?;
                // Read as every read is (store::RedisStore::get), so an ACL without GETRANGE
                // shows here.
                let back: Vec<u8> = redis::cmd("GETRANGE")
                    .arg(&name)
                    .arg(0)
                    .arg(super::store::MAX_ENTRY_BYTES)
                    .query_async(&mut c)
                    .await?;
                redis::cmd("DEL")
                    .arg(&name)
                    .query_async::<i64>(&mut c)
                    .await?;
                Ok(back)
            })
            .await?;
        match read {
            back if back.is_empty() => {
                Err("the entry written was not there when read back".to_string())
            }
            back if self.keys.open(key.as_bytes(), &back).is_ok() => Ok(()),
            _ => Err("the entry read back did not open".to_string()),
        }
    }
}
