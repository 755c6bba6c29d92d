//! The shared token cache: an optional second level on Redis behind the in-process cache, so that
//! a farm of machines (or of brokers) costs one Entra request per token (docs/shared-cache.md).
//!
//! The in-process cache answers first and never touches Redis. On its miss, or when its refresh
//! is due, the shared cache (`SharedCache::fetch`) reads the entry (under a short budget), and when
//! there is none takes a short lease so that one machine fetches while the others wait for its
//! entry, up to a bound. Entries are the app's access tokens only, sealed (the `seal` module:
//! AES-256-GCM) and bound to their key (the `entry` module). Redis failing, slow, full or holding
//! something that does not open is a miss, never an error: callers are never failed to save a
//! request.

mod address;
mod breaker;
mod connect;
pub(crate) mod entry;
mod farm;
mod seal;
mod settings;
mod stats;
mod store;

pub(crate) use address::AddressError;
pub(crate) use address::parse as parse_address;
pub use breaker::BreakerState;
pub(crate) use farm::{Checkup, Mode, Outcome, SharedCache};
pub(crate) use seal::SealKeys;
pub use seal::generate_key;
pub(crate) use settings::Settings;
pub use settings::{DEFAULT_LEASE_WAIT, DEFAULT_READ_BUDGET};
pub use stats::SharedCacheStats;
