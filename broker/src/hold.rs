//! The broker's failure holds: one core [`Hold`] per key (app, tenant, resource), under core's
//! single rule (`certless::hold`) with the broker's numbers. A failure the broker answers 5xx
//! (what the SDKs retry) is answered with the same error for a while, so that clients retrying in
//! a herd do not each cause a request to the managed-identity endpoint and Entra: a refusal for
//! `--failure-hold` seconds, an outage from `--failure-hold` growing up to 30 s while it lasts, a
//! server's Retry-After at least. A success ends the key's hold. `--failure-hold 0` holds nothing.
//! A request with a claims challenge is never answered from here (its caller does not ask).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certless::Error;
use certless::broker::wire;
use certless::hold::{FailureHold as Growth, Hold, HoldRule};

use crate::lock;

/// Keys kept with no hold in force (their failure count, for the next hold's length) before the
/// idle ones are dropped.
const MAX_IDLE_KEYS: usize = 1024;

/// What a held failure answers: (app index, tenant in lower case, resource).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HoldKey {
    pub(crate) app: usize,
    pub(crate) tenant: String,
    pub(crate) resource: String,
}

/// The holds of every key that failed lately.
pub(crate) struct FailureHold {
    /// `None`: `--failure-hold 0`, nothing is ever held.
    rule: Option<HoldRule>,
    holds: Mutex<HashMap<HoldKey, Arc<Hold>>>,
}

impl FailureHold {
    pub(crate) fn new(hold: Duration) -> Self {
        let rule = (!hold.is_zero()).then(|| HoldRule {
            outage: Growth {
                base: hold,
                max: hold.max(HoldRule::IN_PROCESS.outage.max),
            },
            refusal: hold,
        });
        FailureHold {
            rule,
            holds: Mutex::new(HashMap::new()),
        }
    }

    /// The error held for `key` at `now` (Unix seconds), if one is.
    pub(crate) fn check(&self, key: &HoldKey, now: i64) -> Option<Error> {
        let hold = lock(&self.holds).get(key).cloned()?;
        hold.check(now)
    }

    /// `error` failed the request for `key` at `now`: held as the rule says, if the broker
    /// answers it 5xx (a mistake in the request itself is not held).
    pub(crate) fn record(&self, key: HoldKey, error: &Error, now: i64) {
        let Some(rule) = self.rule else { return };
        if wire::error_status(error) < 500 {
            return;
        }
        let hold = {
            let mut holds = lock(&self.holds);
            if holds.len() >= MAX_IDLE_KEYS {
                holds.retain(|_, hold| !hold.is_idle(now));
            }
            Arc::clone(
                holds
                    .entry(key)
                    .or_insert_with(|| Arc::new(Hold::new(rule))),
            )
        };
        hold.failed(error, now);
    }

    /// The request for `key` succeeded: its hold and failure count start over.
    pub(crate) fn clear(&self, key: &HoldKey) {
        lock(&self.holds).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certless::ErrorCode;

    fn key(resource: &str) -> HoldKey {
        HoldKey {
            app: 0,
            tenant: String::new(),
            resource: resource.into(),
        }
    }

    #[test]
    fn a_retryable_failure_is_held_for_its_time_and_no_longer() {
        let hold = FailureHold::new(Duration::from_secs(5));
        let now = 1_000;
        // A refusal the broker answers 5xx: held exactly --failure-hold.
        let unreachable = Error::new(
            ErrorCode::ExchangeRejected,
            "no matching federated credential",
        );
        hold.record(key("a"), &unreachable, now);
        let held = hold.check(&key("a"), now + 4);
        assert_eq!(held.map(|e| e.code()), Some(ErrorCode::ExchangeRejected));
        assert!(hold.check(&key("a"), now + 5).is_none());
        assert!(hold.check(&key("b"), now).is_none(), "another resource");
        hold.clear(&key("a"));
        assert!(hold.check(&key("a"), now).is_none(), "cleared");
    }

    #[test]
    fn request_mistakes_and_a_zero_hold_hold_nothing() {
        let now = 1_000;
        let mistake = Error::new(ErrorCode::InvalidScope, "bad scope");
        let hold = FailureHold::new(Duration::from_secs(5));
        hold.record(key("a"), &mistake, now);
        assert!(hold.check(&key("a"), now).is_none());
        let never = FailureHold::new(Duration::ZERO);
        let unreachable = Error::new(ErrorCode::ManagedIdentityUnreachable, "down");
        never.record(key("a"), &unreachable, now);
        assert!(never.check(&key("a"), now).is_none());
    }
}
