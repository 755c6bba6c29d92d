//! The TLS crypto provider every HTTP client of certless needs.

use std::sync::Once;

/// rustls needs a process-wide crypto provider for reqwest's verifier. certless builds with
/// ring (it cross-compiles to every Windows target); if the host installed another provider
/// first, that one is used.
pub(crate) fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
