//! Shared set-up for the tests that run certless against the emulator on loopback.
#![allow(dead_code)]

use std::sync::Arc;

use certless::env::MapEnv;
use certless::{Credential, CredentialBuilder, ManagedIdentityId};
use certless_emulator::{Emulator, EmulatorConfig, MiSourceKind, RunningEmulator, StartOptions};

pub(crate) mod farm;
pub(crate) mod otlp;

/// A day, in seconds: certificate lifetimes in the tests are days from [`now`].
pub(crate) const DAY: i64 = 86_400;

/// This machine's time, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

pub(crate) const SHAREPOINT: &str = "https://contoso.sharepoint.com/.default";

pub(crate) async fn emulator() -> RunningEmulator {
    emulator_with(EmulatorConfig::default()).await
}

pub(crate) async fn emulator_with(config: EmulatorConfig) -> RunningEmulator {
    start(config, None).await
}

/// An emulator with its HTTPS listener too (Service Fabric, https authorities).
pub(crate) async fn emulator_https() -> RunningEmulator {
    start(EmulatorConfig::default(), Some(0)).await
}

async fn start(config: EmulatorConfig, https_port: Option<u16>) -> RunningEmulator {
    Emulator::start(
        config,
        StartOptions {
            http_port: 0,
            https_port,
            state_dir: None,
        },
    )
    .await
    .expect("the emulator starts")
}

/// A builder for the emulator's default app, with the environment a host of `source` has.
pub(crate) fn builder(emu: &RunningEmulator, source: MiSourceKind) -> CredentialBuilder {
    Credential::builder()
        .tenant_id(emu.tenant_id())
        .client_id(emu.default_app_client_id())
        .authority_host(emu.authority_host())
        .environment(Arc::new(MapEnv::new().with_vars(emu.client_env(source))))
}

/// The emulator's default app, through its user-assigned identity named by client id.
pub(crate) fn credential(emu: &RunningEmulator, source: MiSourceKind) -> Credential {
    let mi = emu.default_user_assigned();
    builder(emu, source)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .build()
        .expect("credential builds")
}

/// A fresh, empty directory of this test's own under the system's temp directory.
pub(crate) fn scratch_dir(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("certless-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
