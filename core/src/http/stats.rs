//! Counters of the requests a credential sends upstream, by leg and outcome, for a host that
//! exports metrics (`certless serve`'s `/metrics`). Only the network path touches them — one
//! relaxed atomic add per attempt — never the cache-hit path.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{ErrorCode, Result};

/// How many requests went to one upstream leg, by how they ended. A request retried three times
/// counts three times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegStats {
    /// Answered with a usable token.
    pub ok: u64,
    /// Answered with an HTTP error (4xx/5xx).
    pub rejected: u64,
    /// No connection, or a connection dropped before the answer.
    pub unreachable: u64,
    /// No answer in time.
    pub timeout: u64,
    /// Answered, but with something certless cannot use.
    pub invalid_response: u64,
}

impl LegStats {
    /// Every request of the leg.
    pub fn total(&self) -> u64 {
        self.ok + self.rejected + self.unreachable + self.timeout + self.invalid_response
    }

    /// `(outcome name, count)`, in a fixed order (metric labels).
    pub fn by_outcome(&self) -> [(&'static str, u64); 5] {
        [
            ("ok", self.ok),
            ("rejected", self.rejected),
            ("unreachable", self.unreachable),
            ("timeout", self.timeout),
            ("invalid_response", self.invalid_response),
        ]
    }
}

/// The upstream requests of one credential so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamStats {
    /// Requests to the managed-identity endpoint (the assertion leg).
    pub managed_identity: LegStats,
    /// Requests to Entra's token endpoint.
    pub exchange: LegStats,
}

#[derive(Default)]
pub(crate) struct LegCounters {
    ok: AtomicU64,
    rejected: AtomicU64,
    unreachable: AtomicU64,
    timeout: AtomicU64,
    invalid_response: AtomicU64,
}

impl LegCounters {
    /// Counts one attempt by its result.
    pub(crate) fn record<T>(&self, result: &Result<T>) {
        use ErrorCode::*;
        let counter = match result {
            Ok(_) => &self.ok,
            Err(e) => match e.code() {
                ManagedIdentityUnreachable | ExchangeUnreachable => &self.unreachable,
                ManagedIdentityTimeout | ExchangeTimeout => &self.timeout,
                ManagedIdentityInvalidResponse | ExchangeInvalidResponse => &self.invalid_response,
                _ => &self.rejected,
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LegStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LegStats {
            ok: load(&self.ok),
            rejected: load(&self.rejected),
            unreachable: load(&self.unreachable),
            timeout: load(&self.timeout),
            invalid_response: load(&self.invalid_response),
        }
    }
}

/// The counters a credential's chain shares with its managed-identity entries.
#[derive(Default)]
pub(crate) struct UpstreamCounters {
    pub managed_identity: LegCounters,
    pub exchange: LegCounters,
}

impl UpstreamCounters {
    pub(crate) fn snapshot(&self) -> UpstreamStats {
        UpstreamStats {
            managed_identity: self.managed_identity.snapshot(),
            exchange: self.exchange.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn attempts_are_counted_by_outcome() {
        let c = LegCounters::default();
        c.record(&Ok(()));
        c.record::<()>(&Err(Error::new(ErrorCode::ExchangeRejected, "400")));
        c.record::<()>(&Err(Error::new(ErrorCode::ManagedIdentityTimeout, "t")));
        c.record::<()>(&Err(Error::new(ErrorCode::ExchangeUnreachable, "u")));
        c.record::<()>(&Err(Error::new(ErrorCode::ExchangeUnreachable, "u")));
        let s = c.snapshot();
        assert_eq!(
            (
                s.ok,
                s.rejected,
                s.timeout,
                s.unreachable,
                s.invalid_response
            ),
            (1, 1, 1, 2, 0)
        );
        assert_eq!(s.total(), 5);
    }
}
