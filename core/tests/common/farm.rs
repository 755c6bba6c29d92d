//! Set-up for the shared cache's tests: a farm of credentials, each one a machine with its own
//! in-process cache and its own Redis connection, against the emulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use certless::shared_cache::{SharedCacheStats, generate_key};
use certless::{Credential, CredentialBuilder, ManagedIdentityId};
use certless_emulator::{MiSourceKind, RunningEmulator};

use super::{builder, scratch_dir};

/// A key file with one new key (or the given keys text).
pub(crate) fn key_file(name: &str, text: Option<&str>) -> PathBuf {
    let path = scratch_dir(name).join("shared-cache.key");
    let text = match text {
        Some(t) => t.to_string(),
        None => generate_key("test").expect("a key"),
    };
    std::fs::write(&path, text).expect("write the key file");
    path
}

/// One machine of a farm whose Redis is at `url`.
pub(crate) fn machine_at(
    emu: &RunningEmulator,
    url: &str,
    ca_file: Option<&Path>,
    keys: &Path,
) -> CredentialBuilder {
    let mi = emu.default_user_assigned();
    let mut b = builder(emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .shared_cache(url)
        .shared_cache_key_file(keys)
        // Exact request counts need every read answered: a test machine's 2 cores, busy with
        // the emulator and 8 machines, do not always answer within the 50 ms default.
        .shared_cache_read_budget(Duration::from_secs(1));
    if let Some(ca) = ca_file {
        b = b.shared_cache_ca_file(ca);
    }
    b
}

pub(crate) fn stats(c: &Credential) -> SharedCacheStats {
    c.shared_cache_stats().expect("the shared cache is on")
}

pub(crate) fn total(farm: &[Credential], field: fn(&SharedCacheStats) -> u64) -> u64 {
    farm.iter().map(|c| field(&stats(c))).sum()
}

/// `callers` concurrent requests for `scope` on every machine of the farm, all at once.
pub(crate) async fn everyone_asks(
    farm: &[Credential],
    scope: &str,
    callers: usize,
) -> Vec<certless::AccessToken> {
    let mut tasks = Vec::new();
    for credential in farm {
        for _ in 0..callers {
            let c = credential.clone();
            let scope = scope.to_string();
            tasks.push(tokio::spawn(async move { c.get_token(&[scope]).await }));
        }
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .expect("joined")
                .expect("every caller gets a token"),
        );
    }
    tokens
}

/// Waits up to 5 s for `ready`.
pub(crate) async fn wait_for(mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not within 5 s");
}
