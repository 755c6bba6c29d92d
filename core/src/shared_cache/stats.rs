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

    /// Every counter by name, the breaker's openings (`breaker_opened`) after the operations of
    /// [`counters`](Self::counters): what the bindings report.
    pub fn all_counters(&self) -> [(&'static str, u64); 14] {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m] = self.counters();
        [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            l,
            m,
            ("breaker_opened", self.breaker_opened),
        ]
    }

    /// One counter by its name in [`all_counters`](Self::all_counters); `None` for a name it has
    /// not.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.all_counters()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> SharedCacheStats {
        SharedCacheStats {
            target: "redis://127.0.0.1:6379/0".to_string(),
            state: BreakerState::Closed,
            breaker_opened: 14,
            hits: 1,
            misses: 2,
            rejected: 3,
            unknown_key: 4,
            errors: 5,
            over_budget: 6,
            skipped: 7,
            writes: 8,
            write_failures: 9,
            full: 10,
            leases_won: 11,
            lease_waits: 12,
            lease_timeouts: 13,
        }
    }

    #[test]
    fn every_counter_is_found_by_its_name_and_no_other() {
        let stats = stats();
        let all = stats.all_counters();
        // Each field once, in order: a field left out or named twice shows here.
        let values: Vec<u64> = all.iter().map(|(_, v)| *v).collect();
        assert_eq!(values, (1..=14).collect::<Vec<u64>>());
        for (name, value) in all {
            assert_eq!(stats.counter(name), Some(value), "{name}");
        }
        assert_eq!(stats.counter("hits"), None);
        assert_eq!(stats.counter(""), None);
    }
}
