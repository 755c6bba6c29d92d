//! The failure hold: how long callers are answered with the last error, without a new request,
//! while the service behind a token is down. One policy, for this process's token cache and for
//! the broker in front of many processes, so that an outage costs a handful of requests per
//! key, not one per call: the service is already struggling, and retrying it in a herd keeps it
//! down.
//!
//! The hold grows while the outage lasts (doubling from [`FailureHold::base`] up to
//! [`FailureHold::max`]), is shortened at random by up to a fifth so that processes that failed
//! together do not try again together, and starts over after a success. A server's Retry-After,
//! when longer, wins (docs/protocol.md §3).

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
        FailureHold {
            base: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
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
}
