//! The shared cache's validated settings (config builds them) and their defaults.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::address::Address;
use super::seal::SealKeys;

/// Default budget of one read: a miss after this, never a wait on a slow Redis.
pub const DEFAULT_READ_BUDGET: Duration = Duration::from_millis(50);
/// Default bound on waiting for another machine's fetch; after it each machine fetches.
pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(5);

/// Everything the shared cache needs, validated (config builds it).
#[derive(Clone)]
pub(crate) struct Settings {
    /// Where Redis is (its passwords are secrets; `target` is the address without them).
    pub(crate) address: Address,
    pub(crate) keys: Arc<SealKeys>,
    /// PEM of the CAs that sign Redis's certificate, when not the system's.
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) read_budget: Duration,
    pub(crate) lease_wait: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCacheSettings")
            .field("target", &self.address.target)
            .field("keys", &self.keys)
            .field("ca_file", &self.ca_file)
            .field("read_budget", &self.read_budget)
            .field("lease_wait", &self.lease_wait)
            .finish()
    }
}
