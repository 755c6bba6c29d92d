//! What the shared cache reports: its counters and its breaker's state.

use super::breaker::BreakerState;

/// The shared cache's counters and state, for metrics and the doctor.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedCacheStats {
    /// Where Redis is (no user or password).
    pub target: String,
    /// The circuit breaker's state.
    pub state: BreakerState,
    /// How many times the breaker opened.
    pub breaker_opened: u64,
    /// Reads that found a usable entry.
    pub hits: u64,
    /// Reads that found none (or one too old to use).
    pub misses: u64,
    /// Entries that did not open: tampered with, moved to another key, or sealed under another
    /// key with the same id. Dropped; a miss.
    pub rejected: u64,
    /// Entries sealed under a key id this process does not have (a rotation not yet rolled out
    /// everywhere, or another farm's). A miss.
    pub unknown_key: u64,
    /// Commands that failed (connection refused or lost, timeouts, server errors).
    pub errors: u64,
    /// Reads not answered within the read budget (a miss; the read still finishes).
    pub over_budget: u64,
    /// Commands not sent because the breaker was open.
    pub skipped: u64,
    /// Entries and lease releases written.
    pub writes: u64,
    /// Writes that failed.
    pub write_failures: u64,
    /// Commands refused because Redis is full (maxmemory with noeviction).
    pub full: u64,
    /// Leases this process took (it fetched for the farm).
    pub leases_won: u64,
    /// Fetches that waited for another machine's lease.
    pub lease_waits: u64,
    /// Waits that reached the bound; the process then fetched for itself.
    pub lease_timeouts: u64,
}

impl SharedCacheStats {
    /// Every counter by name (`hit`, `miss`, ...), for metrics.
    pub fn counters(&self) -> [(&'static str, u64); 13] {
        [
            ("hit", self.hits),
            ("miss", self.misses),
            ("rejected", self.rejected),
            ("unknown_key", self.unknown_key),
            ("error", self.errors),
            ("over_budget", self.over_budget),
            ("skipped", self.skipped),
            ("write", self.writes),
            ("write_failure", self.write_failures),
            ("full", self.full),
            ("lease_won", self.leases_won),
            ("lease_wait", self.lease_waits),
            ("lease_timeout", self.lease_timeouts),
        ]
    }
}
