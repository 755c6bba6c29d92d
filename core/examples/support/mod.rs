//! What the examples and the benchmark share: the emulator's demo app as a credential.

use std::sync::Arc;

use certless::env::MapEnv;
use certless::{Credential, ManagedIdentityId};
use certless_emulator::{MiSourceKind, RunningEmulator};

/// The emulator's app, through its user-assigned identity on IMDS.
pub fn demo_credential(emulator: &RunningEmulator) -> Credential {
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
        .build()
        .expect("the demo credential builds")
}
