//! The failure hold: how long callers are answered with the last error, without a new request,
//! after a request failed. One rule and one state type ([`Hold`]), kept wherever a failure can
//! be shared by many callers: each cache slot (one tenant and scope), the managed-identity
//! assertion (shared by every scope of a credential; it holds only a Retry-After, see
//! [`HoldRule::RETRY_AFTER_ONLY`]) and each key of the broker (shared by every
//! process of a machine). An outage then costs a handful of requests per key, not one per call:
//! the service is already struggling, and retrying it in a herd keeps it down.
//!
//! The rule, written once ([`HoldRule::hold_for`]):
//! - **What is held:** a failure while nothing usable is in hand. A cache slot with a valid
//!   token never holds its callers (they get the token); only its next background refresh waits
//!   ([`HoldRule::retry_in`]).
//! - **For how long:** an outage (the service down: timeouts, dropped connections, 5xx, 429,
//!   transient AADSTS codes; [`is_outage`]) for the [`FailureHold`], which grows while the
//!   outage lasts (doubling from [`FailureHold::base`] up to [`FailureHold::max`]) and is
//!   shortened at random by up to a fifth so that processes that failed together do not try
//!   again together. A refusal (a wrong configuration, a missing federated credential) for
//!   [`HoldRule::refusal`]: not at all in a process, where a fixed configuration must work at
//!   the next call; a few seconds at the broker (`--failure-hold`), where hundreds of processes
//!   would repeat it. A server's Retry-After, when longer, wins (docs/protocol.md §3).
//! - **What clears it:** a success ([`Hold::succeeded`]) starts over; otherwise the hold ends
//!   when its time is up, and the next caller makes one request (a probe).

use std::sync::Mutex;
use std::time::Duration;

use crate::error::{Error, ErrorCode};

/// The hold after consecutive failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureHold {
    /// The hold after the first failure.
    pub base: Duration,
    /// The longest hold, however long the outage: the first caller after it learns whether
    /// the service is back.
    pub max: Duration,
}

impl Default for FailureHold {
    fn default() -> Self {
        HoldRule::IN_PROCESS.outage
    }
}

impl FailureHold {
    /// The hold after the `failures`-th failure in a row (1 for the first), jittered.
    pub fn after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.max);
        // Up to 20% earlier, never later: the maximum stays a maximum.
        let early = full.as_millis() as u64 * u64::from(crate::support::random::percent()) / 500;
        full.saturating_sub(Duration::from_millis(early))
    }
}

/// What a failure holds and for how long (see the module's documentation for the rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldRule {
    /// The hold of an outage, by consecutive failures.
    pub outage: FailureHold,
    /// The hold of a refusal (zero: not held).
    pub refusal: Duration,
}

impl HoldRule {
    /// In a process (the token cache and the assertion): outages held, refusals not.
    pub const IN_PROCESS: HoldRule = HoldRule {
        outage: FailureHold {
            base: Duration::from_secs(2),
            max: Duration::from_secs(30),
        },
        refusal: Duration::ZERO,
    };

    /// Only what the server asked for (Retry-After). For a hold under another one: the
    /// managed-identity assertion sits under the cache slots, which already hold an outage per
    /// (tenant, scope); holding it again below them would only lengthen the outage's hold, and
    /// would refuse `certless doctor` its second look.
    pub const RETRY_AFTER_ONLY: HoldRule = HoldRule {
        outage: FailureHold {
            base: Duration::ZERO,
            max: Duration::ZERO,
        },
        refusal: Duration::ZERO,
    };

    /// How long the `failures`-th failure in a row (1 for the first), `error`, holds callers:
    /// `None` when it does not.
    pub fn hold_for(&self, error: &Error, failures: u32) -> Option<Duration> {
        let own = if is_outage(error) {
            self.outage.after(failures)
        } else {
            self.refusal
        };
        let hold = own.max(retry_after(error));
        (!hold.is_zero()).then_some(hold)
    }

    /// How long a background refresh waits after the `failures`-th failure in a row while a
    /// token is still in hand (callers are not held: they get the token): the outage schedule
    /// whatever the failure, or the server's Retry-After when longer.
    pub fn retry_in(&self, error: &Error, failures: u32) -> Duration {
        self.outage.after(failures).max(retry_after(error))
    }
}

fn retry_after(error: &Error) -> Duration {
    Duration::from_secs(error.retry_after().unwrap_or(0))
}

/// Whole seconds (the unit of the clocks that drive holds), rounded up; at least one.
pub(crate) fn whole_secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis().div_ceil(1000))
        .unwrap_or(i64::MAX)
        .max(1)
}

/// The hold state of one key: consecutive failures, and the failure callers are answered with
/// until when (Unix seconds of the caller's clock).
#[derive(Debug)]
pub struct Hold {
    rule: HoldRule,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    held: Option<(i64, Error)>,
}

impl Hold {
    /// No failure yet, under `rule`.
    pub fn new(rule: HoldRule) -> Self {
        Hold {
            rule,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The error to answer with at `now`, without a request, while a hold lasts.
    pub fn check(&self, now: i64) -> Option<Error> {
        self.held(now).map(|(error, _)| error)
    }

    /// [`check`](Self::check), with the seconds the hold has left.
    pub fn held(&self, now: i64) -> Option<(Error, u64)> {
        let state = self.state();
        let (until, error) = state.held.as_ref().filter(|(until, _)| now < *until)?;
        Some((error.clone(), (until - now).unsigned_abs()))
    }

    /// Whether the hold holds nothing at `now` (for sweeping idle keys).
    pub fn is_idle(&self, now: i64) -> bool {
        let state = self.state();
        state.held.as_ref().is_none_or(|(until, _)| now >= *until)
    }

    /// `error` failed a request at `now` while nothing usable was in hand: callers are held as
    /// the rule says. Returns until when (Unix seconds), if they are.
    pub fn failed(&self, error: &Error, now: i64) -> Option<i64> {
        let mut state = self.state();
        state.failures = state.failures.saturating_add(1);
        let until = self
            .rule
            .hold_for(error, state.failures)
            .map(|hold| now.saturating_add(whole_secs(hold)));
        state.held = until.map(|until| (until, error.clone()));
        until
    }

    /// `error` failed a background refresh at `now` while a token was still in hand: nobody
    /// is held; returns when (Unix seconds) the next refresh may start.
    pub fn failed_in_hand(&self, error: &Error, now: i64) -> i64 {
        let mut state = self.state();
        state.failures = state.failures.saturating_add(1);
        now.saturating_add(whole_secs(self.rule.retry_in(error, state.failures)))
    }

    /// Consecutive failures so far: the service was down at the last attempt when non-zero.
    pub fn failures(&self) -> u32 {
        self.state().failures
    }

    /// A request succeeded: the hold and the failure count start over.
    pub fn succeeded(&self) {
        *self.state() = State::default();
    }
}

/// Whether `error` is a service being down (an answer that retrying later may change: a
/// timeout, a dropped connection, 5xx, 429, a transient AADSTS code), as opposed to a refusal
/// that stays until someone fixes something. Only outages are held: a fixed configuration
/// must work at the next call.
pub fn is_outage(error: &Error) -> bool {
    if let [first, rest @ ..] = error.causes() {
        return is_outage(first) && rest.iter().all(is_outage);
    }
    match error.code() {
        ErrorCode::ExchangeUnreachable
        | ErrorCode::ExchangeTimeout
        | ErrorCode::ManagedIdentityTimeout
        | ErrorCode::KeyVaultUnreachable => true,
        ErrorCode::ManagedIdentityUnreachable => !error.connect_failed(),
        _ => crate::retry::is_retryable(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_doubles_up_to_its_maximum_and_is_never_longer() {
        let hold = FailureHold::default();
        for _ in 0..200 {
            let first = hold.after(1);
            assert!(first <= Duration::from_secs(2) && first >= Duration::from_millis(1600));
            let third = hold.after(3);
            assert!(third <= Duration::from_secs(8) && third >= Duration::from_millis(6400));
            let long = hold.after(40);
            assert!(long <= Duration::from_secs(30) && long >= Duration::from_secs(24));
        }
    }

    #[test]
    fn outages_are_held_refusals_are_not() {
        let down = Error::new(ErrorCode::ExchangeRejected, "503").with_http_status(503);
        assert!(is_outage(&down));
        let refused = Error::new(ErrorCode::ExchangeRejected, "401").with_http_status(401);
        assert!(!is_outage(&refused));
        assert!(!is_outage(&Error::new(ErrorCode::InvalidConfig, "x")));
    }

    #[test]
    fn one_rule_for_every_hold() {
        let down = Error::new(ErrorCode::ExchangeRejected, "503").with_http_status(503);
        let refused = Error::new(ErrorCode::ExchangeRejected, "401").with_http_status(401);
        let told = refused.clone().with_retry_after(Some(40));

        // In a process: an outage is held, a refusal is not, a Retry-After always.
        let hold = Hold::new(HoldRule::IN_PROCESS);
        assert_eq!(hold.failed(&refused, 100), None);
        assert!(hold.check(100).is_none(), "a refusal is not held");
        let until = hold.failed(&down, 100).expect("an outage is held");
        assert!(
            (101..=104).contains(&until),
            "second failure: 4 s less jitter, {until}"
        );
        let (held, left) = hold.held(100).expect("held");
        assert_eq!(held.code(), ErrorCode::ExchangeRejected);
        assert_eq!(left, (until - 100) as u64, "says how long is left");
        assert!(
            hold.check(until).is_none() && hold.is_idle(until),
            "ends on time"
        );
        assert_eq!(hold.failed(&told, 200), Some(240), "Retry-After wins");
        hold.succeeded();
        assert_eq!(hold.failures(), 0);
        assert!(hold.check(200).is_none(), "a success clears it");

        // With a token in hand nobody is held; the next refresh waits even for a refusal.
        let next = hold.failed_in_hand(&refused, 300);
        assert!((302..=302).contains(&next), "{next}");
        assert!(hold.check(300).is_none());

        // The broker holds refusals too, for its --failure-hold.
        let broker = Hold::new(HoldRule {
            refusal: Duration::from_secs(5),
            ..HoldRule::IN_PROCESS
        });
        assert_eq!(broker.failed(&refused, 0), Some(5));

        // Under the cache slots, only what the server asked for.
        let assertion = Hold::new(HoldRule::RETRY_AFTER_ONLY);
        assert_eq!(assertion.failed(&down, 0), None);
        assert_eq!(assertion.failed(&told, 0), Some(40));
    }
}
