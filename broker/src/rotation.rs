//! Rotating the secret (`certless serve rotate-secret`): a new one in the state file, the old
//! one still accepted for a grace period; and the running broker following such a rotation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::paths::state_path;
use crate::secret::SecretState;
use crate::shared::Broker;
use crate::{Error, unix_now};

/// Replaces the broker's secret with a new one in the state file under `state_dir` (default:
/// where `certless serve` keeps it); the old one is still accepted for `grace`. The running
/// broker picks the change up itself. Returns the state file's path.
pub fn rotate_secret(state_dir: Option<&Path>, grace: Duration) -> Result<PathBuf, Error> {
    let Some(path) = state_path(state_dir) else {
        return Err(Error::from(
            "give --state-dir: the broker's state directory".to_string(),
        ));
    };
    let state = SecretState { path };
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX / 2);
    state.rotate(unix_now(), grace)?;
    Ok(state.path)
}

/// Watches the state file: after `certless serve rotate-secret`, the broker takes the new secret
/// (and keeps the old one for its grace) and publishes it to the secret file its clients read.
pub(crate) async fn follow_rotations(
    broker: Arc<Broker>,
    state: SecretState,
    secret_file: PathBuf,
    group: Option<String>,
) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen = modified(&state.path);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = modified(&state.path);
        if now == seen {
            continue;
        }
        seen = now;
        match state.load() {
            Ok(Some(set)) => {
                if let Err(e) = set.current.write(&secret_file, group.as_deref()) {
                    log::error!("certless serve: after a rotation of the secret: {e}");
                }
                broker.replace_secrets(set);
                log::info!(
                    "certless serve: the secret was rotated; the new one is in {}",
                    secret_file.display()
                );
            }
            Ok(None) => {}
            Err(e) => log::error!("certless serve: {e}"),
        }
    }
}
