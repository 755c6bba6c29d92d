//! Retries per leg (PROTOCOL.md §3). Most incidents in this domain are retries done wrong:
//! none on IMDS's 410 during platform updates, hammering on 429, retrying a 400 forever.
//! Waiting goes through the credential's [`Clock`], so tests run these tables in virtual time.

use std::future::Future;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};

/// How one leg retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (410 has its own budget).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, with ±25% jitter.
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// How long to keep retrying IMDS's 410 ("being updated", back within 70 s).
    pub gone_budget: Duration,
    /// A `Retry-After` longer than this is not waited for here: the error goes back to the
    /// callers, and the cache holds them back until then.
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
    pub managed_identity: RetryPolicy,
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

fn verdict(error: &Error, policy: &RetryPolicy) -> Verdict {
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
                .any(|c| crate::aadsts::lookup(*c).is_some_and(|i| i.transient));
            match error.http_status() {
                Some(429) if retry_after.is_some_and(|d| d <= policy.max_retry_after) => again,
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
        let delay = match verdict(&error, policy) {
            Verdict::Stop => return Err(annotate(error, retries)),
            Verdict::Retry { retry_after, gone } => {
                let backoff = backoff(policy, retries);
                let delay = retry_after
                    .map_or(backoff, |ra| ra.max(backoff))
                    .min(policy.max_retry_after.max(policy.max_delay));
                let within = if gone {
                    elapsed + delay <= policy.gone_budget
                } else {
                    retries < policy.max_retries
                };
                if !within || elapsed + delay > policy.deadline {
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

fn backoff(policy: &RetryPolicy, retries: u32) -> Duration {
    let exp = policy
        .initial_delay
        .saturating_mul(1u32 << retries.min(16))
        .min(policy.max_delay);
    // ±25% jitter, so that processes that failed together do not retry together.
    let jitter = crate::cache::random_percent() as i64 - 50; // -50..=49
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
