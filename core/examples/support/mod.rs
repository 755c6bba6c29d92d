//! What the examples and the benchmark share: the emulator's demo app as a credential.
#![allow(dead_code)] // each example uses part of it

use std::sync::Arc;

use certless::env::MapEnv;
use certless::{Credential, CredentialBuilder, ManagedIdentityId};
use certless_emulator::{MiSourceKind, RunningEmulator};

/// The emulator's app, through its user-assigned identity on IMDS.
pub(crate) fn demo_credential(emulator: &RunningEmulator) -> Credential {
    demo_builder(emulator)
        .build()
        .expect("the demo credential builds")
}

/// [`demo_credential`]'s builder, for examples that add to it.
pub(crate) fn demo_builder(emulator: &RunningEmulator) -> CredentialBuilder {
    Credential::builder()
        .tenant_id(emulator.tenant_id())
        .client_id(emulator.default_app_client_id())
        .authority_host(emulator.authority_host())
        .environment(Arc::new(
            MapEnv::new().with_vars(emulator.client_env(MiSourceKind::Imds)),
        ))
        .managed_identity(ManagedIdentityId::ClientId(
            emulator.default_user_assigned().client_id,
        ))
}

/// Nanoseconds per cache hit on `scope`: the best of 5 rounds of `n` hits (the least disturbed
/// by whatever else the machine runs).
pub(crate) fn best_hit_ns(credential: &Credential, scope: &str, n: u32) -> f64 {
    let scope = [scope];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                credential
                    .cached_token(std::hint::black_box(&scope))
                    .expect("a cache hit"),
            );
        }
        best = best.min(started.elapsed().as_nanos() as f64 / f64::from(n));
    }
    best
}
