//! The token cache: one slot per (tenant, scope) of a credential — the authority, app and
//! credential list are the credential's own, so they are part of every key implicitly.
//!
//! The read path is what every API call of every host goes through, so it is kept to an
//! atomic snapshot load, one hash of the key, one probe, two string compares, a clock read and
//! two reference-count increments: no lock, no allocation, no async runtime, and the same cost
//! with a thousand cached (tenant, scope) pairs as with one.
//!
//! The cache is bounded: slots that hold nothing usable (failed fetches, expired tokens) are
//! dropped as new ones are added, and past [`MAX_SLOTS`] the least recently used go.

pub mod hold;
pub(crate) mod singleflight;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::cache::hold::{Hold, HoldRule};
use crate::cache::singleflight::SingleFlight;
use crate::error::Error;
use crate::token::AccessToken;

/// At most this many (tenant, scope) slots per credential: a multi-tenant app asking for a few
/// resources in each of a thousand tenants fits; an unbounded stream of distinct keys does not
/// grow memory without bound.
pub(crate) const MAX_SLOTS: usize = 4096;
/// Past the bound, eviction makes this much room at once, so that it runs rarely.
const EVICT_TO: usize = MAX_SLOTS - MAX_SLOTS / 8;
/// Slots holding nothing usable are swept every this many new slots.
const SWEEP_EVERY: u32 = 64;

/// Refresh proactively when a token's lifetime is over this, at half of it.
const HALF_LIFE_THRESHOLD_SECS: i64 = 2 * 3600;
/// Otherwise refresh this long before expiry (or at 80% of a shorter lifetime).
const REFRESH_BEFORE_EXPIRY_SECS: i64 = 300;
/// While one caller starts a background refresh, others do not try to for this long.
const REFRESH_CLAIM_SECS: i64 = 10;

pub(crate) struct TokenCache {
    table: ArcSwap<Table>,
    /// Serialises changes to the table (readers never take it).
    write: Mutex<Writer>,
    /// A token is not handed out in its last `margin` seconds (less for short-lived tokens).
    margin: i64,
}

/// Slots by the hash of their key; a bucket holds more than one only on a hash collision.
type Table = HashMap<u64, Box<[Arc<Slot>]>, BuildHasherDefault<KeyHashIsTheHash>>;

#[derive(Default)]
struct Writer {
    added_since_sweep: u32,
}

/// What the cache has for a request.
pub(crate) enum Lookup {
    Fresh(AccessToken),
    /// Valid, and due for a proactive refresh that this caller has claimed.
    RefreshDue(AccessToken, Arc<Slot>),
    Miss,
}

pub(crate) struct Slot {
    tenant: Box<str>,
    scope: Box<str>,
    entry: ArcSwapOption<Entry>,
    pub flight: SingleFlight<AccessToken>,
    /// No background refresh starts before this (Unix seconds): a refresh in progress, backoff
    /// after failures, or the server's Retry-After.
    next_refresh: AtomicI64,
    /// Unix second of the last hit or fetch, for eviction.
    last_used: AtomicI64,
    /// The failure hold ([`hold`]): consecutive failures, and while no token is valid, the error
    /// every caller gets at once instead of a new request.
    hold: Hold,
    /// The token in hand was read from the farm's shared cache, not fetched here (telemetry's
    /// `TokenSource`).
    from_shared_cache: std::sync::atomic::AtomicBool,
}

/// What the cache holds for one (tenant, scope), for hosts that report on it (metrics) or keep
/// tokens warm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// The tenant.
    pub tenant: String,
    /// The scope (`{resource}/.default`).
    pub scope: String,
    /// The cached token's expiry (Unix seconds), when a token is cached.
    pub expires_on: Option<i64>,
    /// Until when that token is handed out (its expiry less the margin).
    pub usable_until: Option<i64>,
    /// When its proactive refresh is due.
    pub refresh_at: Option<i64>,
    /// Unix second of the last cache hit or caller's fetch (background refreshes do not count).
    pub last_used: i64,
    /// A fetch or refresh is in progress.
    pub fetching: bool,
}

struct Entry {
    token: AccessToken,
    /// Handed out while `now < usable_until` (expiry less the margin).
    usable_until: i64,
    refresh_at: i64,
}

impl TokenCache {
    pub(crate) fn new(margin: i64) -> Self {
        TokenCache {
            table: ArcSwap::from_pointee(Table::default()),
            write: Mutex::new(Writer::default()),
            margin,
        }
    }

    pub(crate) fn margin(&self) -> i64 {
        self.margin
    }

    /// The hot path.
    pub(crate) fn lookup(&self, tenant: &str, scope: &str, now: i64) -> Lookup {
        let table = self.table.load();
        let Some(slot) = find(&table, tenant, scope) else {
            return Lookup::Miss;
        };
        match slot.usable(now) {
            Some((token, false)) => {
                slot.touch(now);
                Lookup::Fresh(token)
            }
            Some((token, true)) if slot.claim_refresh(now) => {
                slot.touch(now);
                Lookup::RefreshDue(token, Arc::clone(slot))
            }
            Some((token, true)) => {
                slot.touch(now);
                Lookup::Fresh(token)
            }
            None => Lookup::Miss,
        }
    }

    /// The slot of (tenant, scope), added if it is new.
    pub(crate) fn slot(&self, tenant: &str, scope: &str, now: i64) -> Arc<Slot> {
        if let Some(slot) = find(&self.table.load(), tenant, scope) {
            slot.touch(now);
            return Arc::clone(slot);
        }
        let mut writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.table.load_full();
        if let Some(slot) = find(&current, tenant, scope) {
            return Arc::clone(slot);
        }
        let slot = Arc::new(Slot::new(tenant, scope, now));
        let mut next: Table = (*current).clone();
        writer.added_since_sweep += 1;
        if writer.added_since_sweep >= SWEEP_EVERY || next.len() >= MAX_SLOTS {
            writer.added_since_sweep = 0;
            sweep(&mut next, now);
        }
        let bucket = next.entry(key_hash(tenant, scope)).or_default();
        *bucket = bucket.iter().cloned().chain([Arc::clone(&slot)]).collect();
        self.table.store(Arc::new(next));
        slot
    }

    /// Every slot (tests wait for their refreshes).
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        self.table.load().values().flatten().cloned().collect()
    }
}

fn find<'t>(table: &'t Table, tenant: &str, scope: &str) -> Option<&'t Arc<Slot>> {
    table
        .get(&key_hash(tenant, scope))?
        .iter()
        .find(|s| &*s.scope == scope && &*s.tenant == tenant)
}

/// Drops the slots that hold nothing worth keeping — no usable token, no fetch in progress, no
/// Retry-After to honour — then, if the table is still full, the least recently used.
fn sweep(table: &mut Table, now: i64) {
    table.retain(|_, bucket| {
        if bucket.iter().any(|s| !s.keep(now)) {
            *bucket = bucket.iter().filter(|s| s.keep(now)).cloned().collect();
        }
        !bucket.is_empty()
    });
    let count: usize = table.values().map(|b| b.len()).sum();
    if count < MAX_SLOTS {
        return;
    }
    let mut ages: Vec<i64> = table
        .values()
        .flatten()
        .map(|s| s.last_used.load(Ordering::Relaxed))
        .collect();
    let excess = count - EVICT_TO;
    ages.select_nth_unstable(excess - 1);
    let cutoff = ages[excess - 1];
    let mut to_drop = excess;
    table.retain(|_, bucket| {
        let kept: Vec<Arc<Slot>> = bucket
            .iter()
            .filter(|s| {
                let old = s.last_used.load(Ordering::Relaxed) <= cutoff;
                if old && to_drop > 0 {
                    to_drop -= 1;
                    false
                } else {
                    true
                }
            })
            .cloned()
            .collect();
        *bucket = kept.into_boxed_slice();
        !bucket.is_empty()
    });
    log::debug!(
        "certless: token cache full ({count} slots): dropped the {excess} least recently used"
    );
}

/// A hash of the key in the manner of foldhash: 16 bytes per 128-bit multiply, tenant and scope
/// on two independent chains that the CPU runs side by side. A few nanoseconds for a typical key
/// (about a quarter of the whole hit), and the keys come from the application, not from an
/// adversary who could aim collisions at it (a collision costs a string compare, nothing more).
fn key_hash(tenant: &str, scope: &str) -> u64 {
    const K: [u64; 3] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
    ];
    let t = fold_bytes(tenant.as_bytes(), K[0]);
    let s = fold_bytes(scope.as_bytes(), K[1]);
    folded_multiply(t ^ K[2], s)
}

fn fold_bytes(mut bytes: &[u8], seed: u64) -> u64 {
    let word = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let mut acc = seed ^ bytes.len() as u64;
    while bytes.len() > 16 {
        acc = folded_multiply(word(bytes) ^ acc, word(&bytes[8..]) ^ seed);
        bytes = &bytes[16..];
    }
    // The last 1 to 16 bytes, read as two words that may overlap (the length is already mixed in).
    let (a, b) = match bytes.len() {
        8..=16 => (word(bytes), word(&bytes[bytes.len() - 8..])),
        4..=7 => {
            let half =
                |b: &[u8]| u64::from(u32::from_le_bytes(b[..4].try_into().unwrap_or_default()));
            (half(bytes), half(&bytes[bytes.len() - 4..]))
        }
        1..=3 => (
            u64::from(bytes[0]) | u64::from(bytes[bytes.len() / 2]) << 8,
            u64::from(bytes[bytes.len() - 1]),
        ),
        _ => (0, 0),
    };
    folded_multiply(a ^ acc, b ^ seed)
}

fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The table's keys are already hashes.
#[derive(Default)]
struct KeyHashIsTheHash(u64);

impl Hasher for KeyHashIsTheHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Slot {
    fn new(tenant: &str, scope: &str, now: i64) -> Self {
        Slot {
            tenant: tenant.into(),
            scope: scope.into(),
            entry: ArcSwapOption::empty(),
            flight: SingleFlight::named("token"),
            from_shared_cache: std::sync::atomic::AtomicBool::new(false),
            next_refresh: AtomicI64::new(i64::MIN),

            last_used: AtomicI64::new(now),
            hold: Hold::new(HoldRule::IN_PROCESS),
        }
    }

    pub(crate) fn key(&self) -> (&str, &str) {
        (&self.tenant, &self.scope)
    }

    /// What the slot holds, for reports.
    pub(crate) fn info(&self) -> CacheEntry {
        let entry = self.entry.load();
        let entry = entry.as_ref();
        CacheEntry {
            tenant: self.tenant.to_string(),
            scope: self.scope.to_string(),
            expires_on: entry.map(|e| e.token.expires_on),
            usable_until: entry.map(|e| e.usable_until),
            refresh_at: entry.map(|e| e.refresh_at),
            last_used: self.last_used.load(Ordering::Relaxed),
            fetching: self.flight.in_progress(),
        }
    }

    /// Whether a proactive refresh of the cached token is due at `now` and this caller won the
    /// right to start it (as a cache hit would: backoff and Retry-After are honoured).
    pub(crate) fn claim_due_refresh(&self, now: i64) -> bool {
        matches!(self.usable(now), Some((_, true))) && self.claim_refresh(now)
    }

    /// Records a use; written at most once a second, so hits on many threads do not contend.
    pub(crate) fn touch(&self, now: i64) {
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }

    /// Worth keeping in a sweep: a usable token, a fetch in progress, or a Retry-After to honour.
    fn keep(&self, now: i64) -> bool {
        self.usable(now).is_some() || self.flight.in_progress() || self.blocked(now).is_some()
    }

    /// The token if it may be handed out at `now`, and whether a refresh is due. Inlined into
    /// [`TokenCache::lookup`] by request: left to itself, LLVM stopped inlining it once the
    /// shared cache added callers of the slot, and a hit took 12 ns (13%) longer for the call
    /// (BENCHMARKS.md, "Issue 23").
    #[inline(always)]
    fn usable(&self, now: i64) -> Option<(AccessToken, bool)> {
        let entry = self.entry.load();
        let entry = entry.as_ref()?;
        (now < entry.usable_until).then(|| (entry.token.clone(), now >= entry.refresh_at))
    }

    /// The cached token, whether or not it may still be handed out.
    pub(crate) fn held(&self) -> Option<AccessToken> {
        self.entry.load().as_ref().map(|e| e.token.clone())
    }

    /// The cached token, if usable: re-checked under the flight lock so that a caller arriving
    /// just after a fetch finished takes its result instead of starting another.
    pub(crate) fn current(&self, now: i64) -> Option<AccessToken> {
        self.usable(now).map(|(t, _)| t)
    }

    /// One caller wins the right to start the background refresh; the others keep being served.
    fn claim_refresh(&self, now: i64) -> bool {
        let next = self.next_refresh.load(Ordering::Acquire);
        now >= next
            && self
                .next_refresh
                .compare_exchange(
                    next,
                    now + REFRESH_CLAIM_SECS,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Caches `token`. Not a use: a token refreshed in the background that nobody asks for ages
    /// (for eviction and for hosts that keep only used tokens warm).
    pub(crate) fn store(&self, token: AccessToken, now: i64, margin: i64) {
        let (usable_until, refresh_at) = schedule(&token, now, margin);
        self.entry.store(Some(Arc::new(Entry {
            token,
            usable_until,
            refresh_at,
        })));
        self.next_refresh.store(i64::MIN, Ordering::Release);
        self.hold.succeeded();
    }

    /// Whether the token in hand was read from the farm's shared cache.
    pub(crate) fn served_by_shared_cache(&self) -> bool {
        self.from_shared_cache.load(Ordering::Relaxed)
    }

    pub(crate) fn set_from_shared_cache(&self, shared: bool) {
        self.from_shared_cache.store(shared, Ordering::Relaxed);
    }

    /// A fetch failed. While a token is still valid, it keeps being handed out and the next
    /// background refresh waits (the rule is [`hold`]'s). With no valid token, callers get this
    /// error without a new request while the hold lasts.
    pub(crate) fn failed(&self, error: &Error, now: i64) {
        if self.usable(now).is_some() {
            let next = self.hold.failed_in_hand(error, now);
            self.next_refresh.store(next, Ordering::Release);
        } else {
            self.hold.failed(error, now);
        }
    }

    /// Whether the last fetch failed: a service that is down, which the next fetch only probes
    /// (one attempt per leg, no retries).
    pub(crate) fn in_outage(&self) -> bool {
        self.hold.failures() > 0
    }

    /// The error to answer with while the failure hold lasts.
    pub(crate) fn blocked(&self, now: i64) -> Option<Error> {
        self.hold.check(now)
    }
}

/// Until when a token obtained at `fetched_at` is handed out: its expiry less the margin, which
/// is at most a tenth of the lifetime, so that a short-lived token is still cached.
pub(crate) fn usable_until(token: &AccessToken, fetched_at: i64, margin: i64) -> i64 {
    let lifetime = (token.expires_on - fetched_at).max(0);
    token.expires_on - margin.min(lifetime / 10).max(0)
}

/// Until when a token obtained at `now` is handed out, and when to refresh it.
///
/// The margin (the token must not expire on its way to the resource) is at most a tenth of the
/// lifetime, so that a short-lived token is still cached. certless's own schedule refreshes at
/// half the lifetime when that is over 2 hours; else 5 minutes before expiry, or at 80% of a
/// lifetime shorter than 25 minutes; never before half the lifetime has passed (a token that is
/// "due" as soon as it arrives would be refreshed back to back). When the server said when to
/// refresh (`refresh_in`, as `refresh_on`), the earlier of the two wins: Entra sends it ahead of
/// planned key or policy changes (docs/protocol.md §3). A `refresh_on` within the first tenth of
/// the lifetime counts as that tenth, for the same back-to-back reason. Then up to 10% earlier
/// (at most a minute) at random, so that processes started together do not refresh together.
fn schedule(token: &AccessToken, now: i64, margin: i64) -> (i64, i64) {
    let lifetime = (token.expires_on - now).max(0);
    let usable_until = usable_until(token, now, margin);
    let own = if lifetime > HALF_LIFE_THRESHOLD_SECS {
        now + lifetime / 2
    } else {
        token.expires_on - REFRESH_BEFORE_EXPIRY_SECS.min(lifetime / 5)
    };
    let own = own.max(now + lifetime / 2);
    let base = match token.refresh_on {
        Some(r) => own.min(r.max(now + lifetime / 10)),
        None => own,
    };
    let span = base - now;
    let jitter = (span / 10).min(60) * i64::from(crate::support::random::percent()) / 100;
    let refresh_at = (base - jitter).min(usable_until).max(now);
    (usable_until, refresh_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CredentialSourceKind;
    use crate::support::secret::Secret;

    fn token(expires_on: i64, refresh_on: Option<i64>) -> AccessToken {
        AccessToken {
            token: Secret::new("t"),
            token_type: Arc::from("Bearer"),
            expires_on,
            refresh_on,
            source: CredentialSourceKind::SignedAssertionFromManagedIdentity,
        }
    }

    fn refresh_at(token: &AccessToken, now: i64, margin: i64) -> i64 {
        schedule(token, now, margin).1
    }

    #[test]
    fn refresh_schedule_follows_the_rules() {
        let now = 1_000_000;
        for _ in 0..200 {
            // One hour: 5 minutes before expiry, up to 10% (≤ 60 s) earlier.
            let r = refresh_at(&token(now + 3600, None), now, 60);
            assert!((now + 3300 - 60..=now + 3300).contains(&r), "{}", r - now);
            // 24 hours: half-life.
            let r = refresh_at(&token(now + 86_400, None), now, 60);
            assert!(
                (now + 43_200 - 60..=now + 43_200).contains(&r),
                "{}",
                r - now
            );
            // refresh_in, when earlier than certless's own schedule, wins...
            let r = refresh_at(&token(now + 86_400, Some(now + 20_000)), now, 60);
            assert!((now + 19_940..=now + 20_000).contains(&r), "{}", r - now);
            let r = refresh_at(&token(now + 3600, Some(now + 900)), now, 60);
            assert!((now + 810..=now + 900).contains(&r), "{}", r - now);
            let r = refresh_at(&token(now + 90, Some(now + 30)), now, 0);
            assert!((now + 27..=now + 30).contains(&r), "{}", r - now);
            // ... when later, certless's own schedule does.
            let r = refresh_at(&token(now + 86_400, Some(now + 44_000)), now, 60);
            assert!((now + 43_140..=now + 43_200).contains(&r), "{}", r - now);
            let r = refresh_at(&token(now + 3600, Some(now + 3500)), now, 60);
            assert!((now + 3300 - 60..=now + 3300).contains(&r), "{}", r - now);
            // A refresh_in that would refresh at once counts as a tenth of the lifetime.
            let r = refresh_at(&token(now + 3600, Some(now)), now, 60);
            assert!((now + 324..=now + 360).contains(&r), "{}", r - now);
            // Short-lived (130 s): at 80%, and handed out until its last 13 s.
            let (until, r) = schedule(&token(now + 130, None), now, 60);
            assert_eq!(until, now + 117);
            assert!((now + 94..=now + 104).contains(&r), "{}", r - now);
        }
    }

    #[test]
    fn lookup_respects_the_margin_and_claims_one_refresh() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        assert!(matches!(cache.lookup("t", "s", now), Lookup::Miss));
        let slot = cache.slot("t", "s", now);
        slot.store(token(now + 3600, Some(now + 1900)), now, 60);
        assert!(matches!(cache.lookup("t", "s", now), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup("t", "other", now), Lookup::Miss));
        assert!(matches!(cache.lookup("other", "s", now), Lookup::Miss));
        assert!(matches!(
            cache.lookup("t", "s", now + 2000),
            Lookup::RefreshDue(..)
        ));
        // The refresh is claimed: the next caller is simply served.
        assert!(matches!(
            cache.lookup("t", "s", now + 2001),
            Lookup::Fresh(_)
        ));
        // Inside the margin: not handed out.
        assert!(matches!(cache.lookup("t", "s", now + 3541), Lookup::Miss));
        assert!(Arc::ptr_eq(&slot, &cache.slot("t", "s", now)));
    }

    #[test]
    fn a_token_living_less_than_the_margin_is_still_cached() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        cache
            .slot("t", "s", now)
            .store(token(now + 30, None), now, 60);
        assert!(matches!(cache.lookup("t", "s", now), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup("t", "s", now + 27), Lookup::Miss));
    }

    #[test]
    fn failures_back_off_while_valid_and_honour_retry_after() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        let slot = cache.slot("t", "s", now);
        slot.store(token(now + 3600, Some(now)), now, 60);
        let e = Error::new(crate::ErrorCode::ExchangeRejected, "x");
        slot.failed(&e, now);
        let next = slot.next_refresh.load(Ordering::Acquire);
        assert!((now + 1..=now + 2).contains(&next), "{}", next - now);
        for _ in 0..10 {
            slot.failed(&e, now);
        }
        let next = slot.next_refresh.load(Ordering::Acquire);
        assert!((now + 24..=now + 30).contains(&next), "{}", next - now);
        slot.failed(&e.clone().with_retry_after(Some(600)), now);
        assert_eq!(slot.next_refresh.load(Ordering::Acquire), now + 600);
        assert!(
            slot.blocked(now).is_none(),
            "a valid token is never blocked"
        );

        let cold = cache.slot("t", "cold", now);
        cold.failed(
            &Error::new(crate::ErrorCode::ExchangeRejected, "429").with_retry_after(Some(30)),
            now,
        );
        assert!(cold.blocked(now + 29).is_some());
        assert!(cold.blocked(now + 30).is_none());
        cold.failed(
            &Error::new(crate::ErrorCode::ExchangeRejected, "400"),
            now + 40,
        );
        assert!(cold.blocked(now + 40).is_none(), "a refusal is not held");

        // An outage with no valid token: held, longer at each failure, until a success.
        let down = Error::new(crate::ErrorCode::ExchangeRejected, "503").with_http_status(503);
        let outage = cache.slot("t", "outage", now);
        outage.failed(&down, now);
        assert!(outage.blocked(now).is_some());
        assert!(outage.blocked(now + 2).is_none());
        outage.failed(&down, now + 2);
        outage.failed(&down, now + 6);
        assert!(
            outage.blocked(now + 6 + 6).is_some(),
            "the third hold is 6.4 to 8 s"
        );
        assert!(outage.blocked(now + 6 + 8).is_none());
        outage.store(token(now + 3600, None), now + 20, 60);
        assert!(outage.blocked(now + 20).is_none());
        assert!(!outage.in_outage(), "a success starts over");
    }

    #[test]
    fn the_cache_is_bounded_and_drops_what_holds_nothing_first() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        // A throttled slot keeps its Retry-After through sweeps.
        let throttled = cache.slot("t", "throttled", now);
        throttled.failed(
            &Error::new(crate::ErrorCode::ExchangeRejected, "429").with_retry_after(Some(600)),
            now,
        );
        // Failed fetches leave empty slots: they are swept as new slots come.
        for i in 0..1000 {
            cache.slot("t", &format!("failed-{i}"), now);
        }
        let count = cache.slots().len();
        assert!(count <= SWEEP_EVERY as usize + 1, "{count}");
        assert!(cache.slots().iter().any(|s| Arc::ptr_eq(s, &throttled)));
        // Valid tokens fill the table up to the bound; the least recently used go first.
        for i in 0..MAX_SLOTS + 100 {
            let at = now + i as i64;
            cache
                .slot("t", &format!("scope-{i}"), at)
                .store(token(at + 86_400, None), at, 60);
        }
        let count = cache.slots().len();
        assert!((EVICT_TO..=MAX_SLOTS).contains(&count), "{count}");
        let late = now + MAX_SLOTS as i64 + 100;
        assert!(matches!(cache.lookup("t", "scope-0", late), Lookup::Miss));
        let newest = format!("scope-{}", MAX_SLOTS + 99);
        assert!(matches!(cache.lookup("t", &newest, late), Lookup::Fresh(_)));
    }

    #[test]
    fn keys_with_colliding_hashes_are_kept_apart() {
        let mut table = Table::default();
        let a = Arc::new(Slot::new("t", "a", 0));
        let b = Arc::new(Slot::new("t", "b", 0));
        // Force both into one bucket, as a hash collision would.
        table.insert(
            key_hash("t", "a"),
            vec![Arc::clone(&b), Arc::clone(&a)].into(),
        );
        assert!(Arc::ptr_eq(find(&table, "t", "a").unwrap(), &a));
        assert!(
            find(&table, "t", "b").is_none(),
            "b's own hash has no bucket"
        );
        assert_ne!(key_hash("ab", "c"), key_hash("a", "bc"));
        assert_ne!(key_hash("t", "s"), key_hash("s", "t"));
    }
}
