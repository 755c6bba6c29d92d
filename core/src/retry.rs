//! Retries per leg (docs/protocol.md §3). Most incidents in this domain are retries done wrong:
//! none on IMDS's 410 during platform updates, hammering on 429, retrying a 400 forever.
//! Waiting goes through the credential's [`Clock`], so tests run these tables in virtual time.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::support::clock::Clock;

/// How one leg retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (410 has its own budget).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, with ±25% jitter.
    pub initial_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// How long to keep retrying IMDS's 410 ("being updated", back within 70 s): a deadline,
    /// spent in full (the last attempt lands at its end, whatever the jitter did before).
    pub gone_budget: Duration,
    /// The longest `Retry-After` one call waits for. A longer one fails the call at once with
    /// an error that says when to try again, and the cache holds every caller back until then:
    /// nothing is sent before the server's `Retry-After` has passed.
    pub max_retry_after: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// IMDS and the other managed-identity endpoints: 404 (identity still propagating), 408,
    /// 410, 429, 5xx and timeouts; never 400/401/403, nor an endpoint where nothing listens.
    pub const fn managed_identity() -> Self {
        RetryPolicy {
            max_retries: 5,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(16),
            gone_budget: Duration::from_secs(80),
            max_retry_after: Duration::from_secs(30),
            deadline: Duration::from_secs(100),
        }
    }

    /// Entra: 5xx, timeouts and its transient AADSTS codes, twice; 429 only after a short
    /// Retry-After.
    pub const fn exchange() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            gone_budget: Duration::ZERO,
            max_retry_after: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        }
    }

    /// One attempt, no retry.
    pub const fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            gone_budget: Duration::ZERO,
            max_retry_after: Duration::ZERO,
            deadline: Duration::ZERO,
        }
    }
}

/// The retry policies of both legs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    /// The managed-identity endpoint's.
    pub managed_identity: RetryPolicy,
    /// Entra's token endpoint's.
    pub exchange: RetryPolicy,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            managed_identity: RetryPolicy::managed_identity(),
            exchange: RetryPolicy::exchange(),
        }
    }
}

impl Retries {
    /// One attempt per leg, no retry.
    pub const fn none() -> Self {
        Retries {
            managed_identity: RetryPolicy::none(),
            exchange: RetryPolicy::none(),
        }
    }
}

/// What to do after a failed attempt.
enum Verdict {
    Stop,
    Retry {
        retry_after: Option<Duration>,
        gone: bool,
    },
}

/// Whether a retry would be tried for `error` (a policy with retries left permitting).
pub(crate) fn is_retryable(error: &Error) -> bool {
    matches!(verdict(error), Verdict::Retry { .. })
}

tokio::task_local! {
    /// Set while a fetch probes a source that is down: one attempt per leg, no retries, so
    /// that each probe costs one request (src/hold.rs).
    static PROBE: ()
}

/// Runs `fetch` with no retries on any leg: a probe of a service that is down.
pub(crate) async fn probe<F: Future>(fetch: F) -> F::Output {
    PROBE.scope((), fetch).await
}

fn verdict(error: &Error) -> Verdict {
    let retry_after = error.retry_after().map(Duration::from_secs);
    let again = Verdict::Retry {
        retry_after,
        gone: false,
    };
    if error.is_permanent() {
        return Verdict::Stop;
    }
    match error.code() {
        ErrorCode::ManagedIdentityTimeout | ErrorCode::ExchangeTimeout => again,
        // Nothing listening: no managed-identity endpoint (or Entra) on this path; waiting won't help.
        ErrorCode::ManagedIdentityUnreachable | ErrorCode::ExchangeUnreachable
            if error.connect_failed() =>
        {
            Verdict::Stop
        }
        ErrorCode::ManagedIdentityUnreachable | ErrorCode::ExchangeUnreachable => again,
        // Key Vault: a dropped connection, 408, 429 (it always says how long) and 5xx.
        ErrorCode::KeyVaultUnreachable if error.connect_failed() => Verdict::Stop,
        ErrorCode::KeyVaultUnreachable => again,
        ErrorCode::KeyVaultRejected => match error.http_status() {
            Some(408 | 429 | 500..=599) => again,
            _ => Verdict::Stop,
        },
        ErrorCode::ManagedIdentityRejected => match error.http_status() {
            Some(410) => Verdict::Retry {
                retry_after,
                gone: true,
            },
            Some(404 | 408 | 429 | 500..=599) => again,
            _ => Verdict::Stop,
        },
        ErrorCode::ExchangeRejected => {
            let transient = error
                .aadsts_codes()
                .iter()
                .any(|c| crate::entra::aadsts::lookup(*c).is_some_and(|i| i.transient));
            match error.http_status() {
                // Entra always says how long; how long is too long is decided with the budget.
                Some(429) if retry_after.is_some() => again,
                Some(429) => Verdict::Stop,
                Some(500..=599) => again,
                _ if transient => again,
                _ => Verdict::Stop,
            }
        }
        _ => Verdict::Stop,
    }
}

/// Runs `attempt` until it succeeds, the error is not retryable, or the policy is spent.
///
/// A server's `Retry-After` is a floor: no attempt is sent before it has passed. When it is longer
/// than this call may wait, the call fails at once with an error that says when to try again
/// (and the cache holds every caller back until then). IMDS's 410 is retried until its budget is
/// actually spent: the last backoff is shortened so that the last attempt lands at the deadline.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    what: &str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = clock.now();
    let mut retries = 0u32;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let elapsed = clock.now().duration_since(started).unwrap_or_default();
        let probing = PROBE.try_with(|_| ()).is_ok();
        let delay = match verdict(&error) {
            Verdict::Stop => return Err(annotate(error, retries)),
            Verdict::Retry { .. } if probing => return Err(error),
            Verdict::Retry { retry_after, gone } => {
                // The time this call may still spend waiting.
                let budget = if gone {
                    policy.gone_budget
                } else {
                    policy.deadline
                };
                let left = budget.saturating_sub(elapsed);
                if let Some(ra) = retry_after {
                    if ra > left || (!gone && ra > policy.max_retry_after) {
                        return Err(throttled(annotate(error, retries), ra, clock));
                    }
                }
                let backoff = backoff(policy, retries);
                let delay = if gone {
                    // Never past the budget: the last attempt lands at its end.
                    backoff.min(left)
                } else {
                    backoff
                };
                let delay = retry_after.map_or(delay, |ra| ra.max(delay));
                let spent = if gone {
                    left.is_zero()
                } else {
                    retries >= policy.max_retries || delay > left
                };
                if spent {
                    return Err(annotate(error, retries));
                }
                delay
            }
        };
        retries += 1;
        log::info!(
            "certless: {what} failed ({}); retry {retries} in {} ms",
            error.message(),
            delay.as_millis()
        );
        clock.sleep(delay).await;
    }
}

/// The server asked for more patience than this call has: say so, and when to try again.
fn throttled(error: Error, retry_after: Duration, clock: &dyn Clock) -> Error {
    let at = clock
        .now_unix()
        .saturating_add(retry_after.as_secs() as i64);
    error.with_message_suffix(&format!(
        "; the server asked to wait {} s (Retry-After), longer than this request may wait: \
         certless sends nothing to it before {}, and answers from the cache or with this \
         error until then",
        retry_after.as_secs(),
        crate::support::clock::to_iso8601(at)
    ))
}

fn backoff(policy: &RetryPolicy, retries: u32) -> Duration {
    let exp = policy
        .initial_delay
        .saturating_mul(1u32 << retries.min(16))
        .min(policy.max_delay);
    // ±25% jitter, so that processes that failed together do not retry together.
    let jitter = crate::support::random::percent() as i64 - 50; // -50..=49
    let nanos = exp.as_nanos() as i64;
    Duration::from_nanos((nanos + nanos * jitter / 200).max(0) as u64)
}

fn annotate(error: Error, retries: u32) -> Error {
    if retries == 0 {
        error
    } else {
        error.with_message_suffix(&format!(" (after {} attempts)", retries + 1))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::support::clock::ManualClock;

    fn rejected(code: ErrorCode, status: u16, retry_after: Option<u64>) -> Error {
        Error::new(code, format!("HTTP {status}"))
            .with_http_status(status)
            .with_retry_after(retry_after)
    }

    /// Runs `policy` against an endpoint that answers `failure` until `outage` has passed on the
    /// virtual clock, each attempt taking `rtt`. Returns the outcome, the attempts and when each
    /// was sent (seconds since the start).
    async fn against_outage(
        policy: &RetryPolicy,
        outage: Duration,
        rtt: Duration,
        failure: impl Fn() -> Error,
    ) -> (Result<()>, Vec<f64>) {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = ManualClock::new(start);
        let sent = Cell::new(Vec::new());
        let result = with_retries(policy, &clock, "test", || {
            let at = clock.now().duration_since(start).unwrap();
            let mut log = sent.take();
            log.push(at.as_secs_f64());
            sent.set(log);
            clock.advance(rtt);
            let outcome = if at < outage { Err(failure()) } else { Ok(()) };
            std::future::ready(outcome)
        })
        .await;
        (result, sent.take())
    }

    #[tokio::test]
    async fn a_410_lasting_up_to_75_seconds_is_survived_with_every_seed() {
        let policy = RetryPolicy::managed_identity();
        let gone = || rejected(ErrorCode::ManagedIdentityRejected, 410, None);
        for seed in 0..1000 {
            crate::support::random::seeded::set(seed);
            for outage in (0..=75)
                .map(Duration::from_secs)
                .chain([Duration::from_millis(75_900)])
            {
                let (result, sent) =
                    against_outage(&policy, outage, Duration::from_millis(40), gone).await;
                assert!(
                    result.is_ok(),
                    "seed {seed}: a {outage:?} outage was not survived; attempts at {sent:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn an_endless_410_is_retried_until_the_budget_is_spent() {
        let policy = RetryPolicy::managed_identity();
        for seed in 0..200 {
            crate::support::random::seeded::set(seed);
            let (result, sent) = against_outage(&policy, Duration::MAX, Duration::ZERO, || {
                rejected(ErrorCode::ManagedIdentityRejected, 410, None)
            })
            .await;
            let e = result.unwrap_err();
            assert_eq!(e.http_status(), Some(410));
            let last = *sent.last().unwrap();
            assert_eq!(
                last, 80.0,
                "seed {seed}: the last attempt lands at the deadline: {sent:?}"
            );
        }
    }

    #[tokio::test]
    async fn retry_after_is_a_floor_and_a_long_one_fails_at_once() {
        let mi = RetryPolicy::managed_identity();
        let exchange = RetryPolicy::exchange();
        let cases = [
            (&mi, ErrorCode::ManagedIdentityRejected, 429),
            (&mi, ErrorCode::ManagedIdentityRejected, 503),
            (&exchange, ErrorCode::ExchangeRejected, 429),
            (&exchange, ErrorCode::ExchangeRejected, 503),
        ];
        for (policy, code, status) in cases {
            // Longer than the call may wait: one attempt, an error that says when to come back.
            let (result, sent) = against_outage(policy, Duration::MAX, Duration::ZERO, || {
                rejected(code, status, Some(120))
            })
            .await;
            let e = result.unwrap_err();
            assert_eq!(sent, vec![0.0], "{status}: nothing more is sent");
            assert_eq!(e.retry_after(), Some(120));
            assert!(e.message().contains("Retry-After"), "{e}");
            assert!(e.message().contains("2027-01-15T08:02:00Z"), "{e}");

            // Short enough: waited in full, never less.
            let wait = policy.max_retry_after.as_secs();
            let (result, sent) =
                against_outage(policy, Duration::from_secs(1), Duration::ZERO, || {
                    rejected(code, status, Some(wait))
                })
                .await;
            assert!(result.is_ok(), "{status}");
            assert_eq!(sent, vec![0.0, wait as f64], "{status}");
        }
    }

    #[tokio::test]
    async fn other_failures_keep_their_retry_counts() {
        crate::support::random::seeded::set(1);
        let (result, sent) = against_outage(
            &RetryPolicy::managed_identity(),
            Duration::MAX,
            Duration::ZERO,
            || rejected(ErrorCode::ManagedIdentityRejected, 500, None),
        )
        .await;
        assert!(result.unwrap_err().message().contains("after 6 attempts"));
        assert_eq!(sent.len(), 6);
        let (result, sent) = against_outage(
            &RetryPolicy::managed_identity(),
            Duration::MAX,
            Duration::ZERO,
            || rejected(ErrorCode::ManagedIdentityRejected, 400, None),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(sent, vec![0.0]);
    }
}
