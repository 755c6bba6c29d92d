//! The token cache: one slot per (tenant, scope) of a credential — the authority, app and
//! credential list are the credential's own, so they are part of every key implicitly.
//!
//! The read path is what every API call of every host goes through, so it is kept to an
//! atomic snapshot load, a short linear scan (an application asks for a handful of resources),
//! two string compares, a clock read and two reference-count increments: no lock, no
//! allocation, no async runtime.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::credential::AccessToken;
use crate::error::Error;
use crate::singleflight::SingleFlight;

/// Refresh proactively when a token's lifetime is over this, at half of it (PROTOCOL.md §3).
const HALF_LIFE_THRESHOLD_SECS: i64 = 2 * 3600;
/// Otherwise refresh this long before expiry.
const REFRESH_BEFORE_EXPIRY_SECS: i64 = 300;
/// While one caller starts a background refresh, others do not try to for this long.
const REFRESH_CLAIM_SECS: i64 = 10;
const BACKOFF_BASE_SECS: i64 = 2;
const BACKOFF_MAX_SECS: i64 = 60;

pub(crate) struct TokenCache {
    slots: ArcSwap<Vec<Arc<Slot>>>,
    grow: Mutex<()>,
    /// A token is not handed out in its last `margin` seconds.
    margin: i64,
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
    failures: AtomicU32,
    /// Retry-After from a failed fetch while no token was valid: until then every caller gets
    /// that error at once instead of a new request.
    blocked: Mutex<Option<(i64, Error)>>,
}

struct Entry {
    token: AccessToken,
    refresh_at: i64,
}

impl TokenCache {
    pub fn new(margin: i64) -> Self {
        TokenCache {
            slots: ArcSwap::from_pointee(Vec::new()),
            grow: Mutex::new(()),
            margin,
        }
    }

    pub fn margin(&self) -> i64 {
        self.margin
    }

    /// The hot path.
    pub fn lookup(&self, tenant: &str, scope: &str, now: i64) -> Lookup {
        let slots = self.slots.load();
        let Some(slot) = slots
            .iter()
            .find(|s| &*s.scope == scope && &*s.tenant == tenant)
        else {
            return Lookup::Miss;
        };
        match slot.usable(now, self.margin) {
            Some((token, false)) => Lookup::Fresh(token),
            Some((token, true)) if slot.claim_refresh(now) => {
                Lookup::RefreshDue(token, Arc::clone(slot))
            }
            Some((token, true)) => Lookup::Fresh(token),
            None => Lookup::Miss,
        }
    }

    pub fn slot(&self, tenant: &str, scope: &str) -> Arc<Slot> {
        let find = |slots: &Vec<Arc<Slot>>| {
            slots
                .iter()
                .find(|s| &*s.scope == scope && &*s.tenant == tenant)
                .cloned()
        };
        if let Some(slot) = find(&self.slots.load()) {
            return slot;
        }
        let _grow = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.slots.load_full();
        if let Some(slot) = find(&current) {
            return slot;
        }
        let slot = Arc::new(Slot {
            tenant: tenant.into(),
            scope: scope.into(),
            entry: ArcSwapOption::empty(),
            flight: SingleFlight::default(),
            next_refresh: AtomicI64::new(i64::MIN),
            failures: AtomicU32::new(0),
            blocked: Mutex::new(None),
        });
        let mut next = Vec::with_capacity(current.len() + 1);
        next.extend(current.iter().cloned());
        next.push(Arc::clone(&slot));
        self.slots.store(Arc::new(next));
        slot
    }

    /// Every slot (tests wait for their refreshes).
    pub fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.load().iter().cloned().collect()
    }
}

impl Slot {
    pub fn key(&self) -> (&str, &str) {
        (&self.tenant, &self.scope)
    }

    /// The token if it may be handed out at `now`, and whether a refresh is due.
    fn usable(&self, now: i64, margin: i64) -> Option<(AccessToken, bool)> {
        let entry = self.entry.load();
        let entry = entry.as_ref()?;
        (now < entry.token.expires_on - margin)
            .then(|| (entry.token.clone(), now >= entry.refresh_at))
    }

    /// The cached token, if usable: re-checked under the flight lock so that a caller arriving
    /// just after a fetch finished takes its result instead of starting another.
    pub fn current(&self, now: i64, margin: i64) -> Option<AccessToken> {
        self.usable(now, margin).map(|(t, _)| t)
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

    pub fn store(&self, token: AccessToken, now: i64, margin: i64) {
        let refresh_at = refresh_at(&token, now, margin);
        self.entry
            .store(Some(Arc::new(Entry { token, refresh_at })));
        self.failures.store(0, Ordering::Release);
        self.next_refresh.store(i64::MIN, Ordering::Release);
        *self.blocked.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A fetch failed. While a token is still valid, the next background refresh waits for an
    /// exponential, jittered backoff (or the server's Retry-After, if longer); with no valid
    /// token, only Retry-After holds callers back.
    pub fn failed(&self, error: &Error, now: i64, margin: i64) {
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let retry_after = error
            .retry_after()
            .map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        if self.usable(now, margin).is_some() {
            let exp = BACKOFF_BASE_SECS
                .saturating_mul(1i64 << failures.min(16).saturating_sub(1))
                .min(BACKOFF_MAX_SECS);
            let jittered = exp - (exp * i64::from(random_percent()) / 500); // up to 20% earlier
            self.next_refresh
                .store(now + jittered.max(1).max(retry_after), Ordering::Release);
        } else if retry_after > 0 {
            *self.blocked.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((now + retry_after, error.clone()));
        }
    }

    /// The error to answer with while a server's Retry-After holds.
    pub fn blocked(&self, now: i64) -> Option<Error> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked
            .as_ref()
            .filter(|(until, _)| now < *until)
            .map(|(_, e)| e.clone())
    }
}

/// When to refresh a token obtained at `now` (PROTOCOL.md §3): at `refresh_in` when Entra gave
/// one; at half the lifetime when that is over 2 hours; else 5 minutes before expiry. Up to 10%
/// earlier (at most a minute) at random, so that many processes started together do not
/// refresh together.
fn refresh_at(token: &AccessToken, now: i64, margin: i64) -> i64 {
    let lifetime = token.expires_on - now;
    let base = match token.refresh_on {
        Some(r) => r,
        None if lifetime > HALF_LIFE_THRESHOLD_SECS => now + lifetime / 2,
        None => token.expires_on - REFRESH_BEFORE_EXPIRY_SECS,
    };
    let span = (base - now).max(0);
    let jitter = (span / 10).min(60) * i64::from(random_percent()) / 100;
    (base - jitter).min(token.expires_on - margin).max(now)
}

/// 0..=99, well spread; not for anything secret.
pub(crate) fn random_percent() -> u32 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    // splitmix64 finaliser
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % 100) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CredentialSourceKind;
    use crate::secret::Secret;

    fn token(expires_on: i64, refresh_on: Option<i64>) -> AccessToken {
        AccessToken {
            token: Secret::new("t"),
            token_type: Arc::from("Bearer"),
            expires_on,
            refresh_on,
            source: CredentialSourceKind::SignedAssertionFromManagedIdentity,
        }
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
            // refresh_in wins.
            let r = refresh_at(&token(now + 86_400, Some(now + 1000)), now, 60);
            assert!((now + 940..=now + 1000).contains(&r), "{}", r - now);
            // Short-lived: due at once, never after the margin.
            assert_eq!(refresh_at(&token(now + 200, None), now, 60), now);
        }
    }

    #[test]
    fn lookup_respects_the_margin_and_claims_one_refresh() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        assert!(matches!(cache.lookup("t", "s", now), Lookup::Miss));
        let slot = cache.slot("t", "s");
        slot.store(token(now + 3600, Some(now + 100)), now, 60);
        assert!(matches!(cache.lookup("t", "s", now), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup("t", "other", now), Lookup::Miss));
        assert!(matches!(
            cache.lookup("t", "s", now + 200),
            Lookup::RefreshDue(..)
        ));
        // The refresh is claimed: the next caller is simply served.
        assert!(matches!(
            cache.lookup("t", "s", now + 201),
            Lookup::Fresh(_)
        ));
        // Inside the margin: not handed out.
        assert!(matches!(cache.lookup("t", "s", now + 3541), Lookup::Miss));
        assert!(Arc::ptr_eq(&slot, &cache.slot("t", "s")));
    }

    #[test]
    fn failures_back_off_while_valid_and_honour_retry_after() {
        let cache = TokenCache::new(60);
        let now = 1_000_000;
        let slot = cache.slot("t", "s");
        slot.store(token(now + 3600, Some(now)), now, 60);
        let e = Error::new(crate::ErrorCode::ExchangeRejected, "x");
        slot.failed(&e, now, 60);
        let next = slot.next_refresh.load(Ordering::Acquire);
        assert!((now + 1..=now + 2).contains(&next), "{}", next - now);
        for _ in 0..10 {
            slot.failed(&e, now, 60);
        }
        let next = slot.next_refresh.load(Ordering::Acquire);
        assert!((now + 48..=now + 60).contains(&next), "{}", next - now);
        slot.failed(&e.clone().with_retry_after(Some(600)), now, 60);
        assert_eq!(slot.next_refresh.load(Ordering::Acquire), now + 600);
        assert!(
            slot.blocked(now).is_none(),
            "a valid token is never blocked"
        );

        let cold = cache.slot("t", "cold");
        cold.failed(
            &Error::new(crate::ErrorCode::ExchangeRejected, "429").with_retry_after(Some(30)),
            now,
            60,
        );
        assert!(cold.blocked(now + 29).is_some());
        assert!(cold.blocked(now + 30).is_none());
        cold.failed(
            &Error::new(crate::ErrorCode::ExchangeRejected, "400"),
            now + 40,
            60,
        );
        assert!(cold.blocked(now + 40).is_none(), "no Retry-After, no block");
    }
}
