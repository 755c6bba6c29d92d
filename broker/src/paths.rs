//! Where the broker keeps its files when not told: the state file (the secret across restarts)
//! where the platform keeps a service's state, the published secret where it keeps a service's
//! runtime files.

use std::path::{Path, PathBuf};

/// The file in the state directory that keeps the secret.
const STATE_FILE: &str = "broker-secret";

/// The state file: in `given`, else where the platform keeps a service's state.
pub(crate) fn state_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = given {
        return Some(dir.join(STATE_FILE));
    }
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(first_of_systemd_list(dir)).join(STATE_FILE));
    }
    #[cfg(windows)]
    if let Some(dir) = std::env::var_os("ProgramData") {
        return Some(PathBuf::from(dir).join("certless").join(STATE_FILE));
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir).join("certless").join(STATE_FILE));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| {
            PathBuf::from(home)
                .join(".local/state/certless")
                .join(STATE_FILE)
        })
}

/// The file the secret is published to: `given`, else in the service's runtime directory.
pub(crate) fn secret_path(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("RUNTIME_DIRECTORY") {
        return Ok(PathBuf::from(first_of_systemd_list(dir)).join("secret"));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        let dir = PathBuf::from(dir).join("certless");
        create_private_dir(&dir)?;
        return Ok(dir.join("secret"));
    }
    Err(
        "give --secret-file: where to write the secret TCP clients must present \
         (e.g. /run/certless/secret)"
            .into(),
    )
}

/// systemd's StateDirectory= and RuntimeDirectory= (several are separated by ':'; the first is
/// ours).
fn first_of_systemd_list(value: std::ffi::OsString) -> String {
    value
        .to_string_lossy()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `dir` and its parents, the last one for the broker's account only (0700).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}
