//! The failure hold: a fetch that just failed in a way the SDKs retry (a 5xx answer) is answered
//! with the same error for a short while, keyed by what was asked, so that clients retrying in a
//! herd do not each cause a request to the managed-identity endpoint and Entra. A request with a
//! claims challenge is never answered from here (its caller does not ask).
//!
//! The interface is the three verbs a hold needs — `check`, `record`, `clear` — with the time
//! passed in, so that core's failure-hold policy (`certless::hold`) can take its place.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use certless::Error;
use certless::broker::wire;

use crate::lock;

/// What a held failure answers: (app index, tenant in lower case, resource).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HoldKey {
    pub(crate) app: usize,
    pub(crate) tenant: String,
    pub(crate) resource: String,
}

/// Recent failures and until when each is held.
pub(crate) struct FailureHold {
    /// Zero: nothing is ever held.
    hold: Duration,
    failures: Mutex<HashMap<HoldKey, (Instant, Error)>>,
}

impl FailureHold {
    pub(crate) fn new(hold: Duration) -> Self {
        FailureHold {
            hold,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The error held for `key` at `now`, if one is.
    pub(crate) fn check(&self, key: &HoldKey, now: Instant) -> Option<Error> {
        let failures = lock(&self.failures);
        let (until, error) = failures.get(key)?;
        (now < *until).then(|| error.clone())
    }

    /// Holds `error` for `key` from `now`, if it is a failure the SDKs would retry (the broker
    /// answers it 5xx); forgets the holds that have ended.
    pub(crate) fn record(&self, key: HoldKey, error: &Error, now: Instant) {
        if wire::error_status(error) < 500 || self.hold.is_zero() {
            return;
        }
        let mut failures = lock(&self.failures);
        failures.retain(|_, (until, _)| *until > now);
        failures.insert(key, (now + self.hold, error.clone()));
    }

    /// Ends the hold of `key`, if any.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "part of the hold's interface; no caller ends a hold early yet"
        )
    )]
    pub(crate) fn clear(&self, key: &HoldKey) {
        lock(&self.failures).remove(key);
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
        let now = Instant::now();
        let unreachable = Error::new(ErrorCode::ManagedIdentityUnreachable, "down");
        hold.record(key("a"), &unreachable, now);
        let held = hold.check(&key("a"), now + Duration::from_secs(4));
        assert_eq!(
            held.map(|e| e.code()),
            Some(ErrorCode::ManagedIdentityUnreachable)
        );
        assert!(
            hold.check(&key("a"), now + Duration::from_secs(5))
                .is_none()
        );
        assert!(hold.check(&key("b"), now).is_none(), "another resource");
        hold.clear(&key("a"));
        assert!(hold.check(&key("a"), now).is_none(), "cleared");
    }

    #[test]
    fn request_mistakes_and_a_zero_hold_hold_nothing() {
        let now = Instant::now();
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
