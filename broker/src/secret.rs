//! The broker's secret: 256 random bits made once and kept in a state file that outlives the
//! broker's restarts (Azure SDKs read `IDENTITY_HEADER` once, when their process starts, so a
//! secret that changed at a restart would lock every running SDK client out), published to a
//! file only its owner — and a named group — can read, and compared in constant time.
//!
//! It changes only when an operator rotates it (`certless serve rotate-secret`): the old one is
//! then still accepted for a grace period, kept in the state file as `previous` with its end,
//! so that clients can be restarted with the new one in their own time.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::SecureRandom;

/// The broker's own secret, which TCP clients must present (a client's side of it is
/// `certless::broker`'s secret location). Shown as nothing: it must never reach a log.
#[derive(Clone)]
pub(crate) struct ServerSecret(certless::Secret);

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

/// A supplied secret must be at least this long (128 bits as hex).
const MIN_SUPPLIED_LEN: usize = 32;

impl ServerSecret {
    /// 256 bits from the operating system's generator, as 64 hex digits (sendable as a header).
    pub(crate) fn generate() -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| "the operating system's random generator failed".to_string())?;
        Ok(ServerSecret(certless::Secret::new(
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        )))
    }

    /// `text` as a secret, if it is one: what a deployment that distributes its own secret
    /// supplies, or what the state file holds.
    fn parse(text: &str, origin: &Path) -> Result<Self, String> {
        let text = text.trim();
        if text.len() < MIN_SUPPLIED_LEN
            || !text.bytes().all(|b| b.is_ascii_graphic())
            || text.len() > 1024
        {
            return Err(format!(
                "the secret in {} must be {MIN_SUPPLIED_LEN} to 1024 printable ASCII characters \
                 (e.g. 64 hex digits: openssl rand -hex 32)",
                origin.display()
            ));
        }
        Ok(ServerSecret(certless::Secret::new(text)))
    }

    /// The secret already in `path` (`--keep-secret`).
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
        ServerSecret::parse(&text, path)
    }

    /// Whether `presented` is the secret, in time that does not depend on where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.expose().as_bytes();
        let mut diff = u8::from(expected.len() != presented.len());
        for (i, e) in expected.iter().enumerate() {
            // Compare against a byte of `presented` even when it is shorter, so that the time
            // taken depends on the secret's length only.
            let p = presented.get(i).copied().unwrap_or(!e);
            diff |= e ^ p;
        }
        std::hint::black_box(diff) == 0
    }

    /// Writes the secret to `path`, readable by the owner only, or also by `group` (0640).
    pub(crate) fn write(&self, path: &Path, group: Option<&str>) -> Result<(), String> {
        write_private(path, group, &format!("{}\n", self.0.expose()))
    }
}

/// The secrets the broker accepts: the current one and, until its grace period ends (Unix
/// seconds), the one a rotation replaced.
#[derive(Clone, Debug)]
pub(crate) struct SecretSet {
    pub(crate) current: ServerSecret,
    pub(crate) previous: Option<(ServerSecret, i64)>,
}

impl SecretSet {
    /// Whether `presented` is a secret accepted at `now`.
    pub(crate) fn accepts(&self, presented: &[u8], now: i64) -> bool {
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|(s, until)| s.matches(presented) && now < *until);
        // Both compared, always: the time taken does not say which one matched.
        self.current.matches(presented) | previous
    }
}

/// The state file that keeps the secret across restarts: readable by the broker's account only.
/// Its lines: `current <secret>`, then after a rotation `previous <secret> <until>`.
#[derive(Clone, Debug)]
pub(crate) struct SecretState {
    pub(crate) path: PathBuf,
}

impl SecretState {
    /// The secrets in the state file; `None` when there is no file yet.
    pub(crate) fn load(&self) -> Result<Option<SecretSet>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read the broker's state file {}: {e}",
                    self.path.display()
                ));
            }
        };
        let broken = || {
            format!(
                "the broker's state file {} is not one it wrote (a line 'current <secret>', \
                 maybe 'previous <secret> <until>'): remove it to make a new secret",
                self.path.display()
            )
        };
        let mut current = None;
        let mut previous = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("current"), Some(secret), None) => {
                    current = Some(ServerSecret::parse(secret, &self.path)?);
                }
                (Some("previous"), Some(secret), Some(until)) => {
                    let until = until.parse::<i64>().map_err(|_| broken())?;
                    previous = Some((ServerSecret::parse(secret, &self.path)?, until));
                }
                _ => return Err(broken()),
            }
        }
        let current = current.ok_or_else(broken)?;
        Ok(Some(SecretSet { current, previous }))
    }

    /// Replaces the state file with `set` (owner only, 0600).
    pub(crate) fn save(&self, set: &SecretSet) -> Result<(), String> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::paths::create_private_dir(dir)?;
        }
        let mut text = format!("current {}\n", set.current.0.expose());
        if let Some((secret, until)) = &set.previous {
            text.push_str(&format!("previous {} {until}\n", secret.0.expose()));
        }
        write_private(&self.path, None, &text)
    }

    /// The secrets kept from the last run, or a new secret, kept for the next.
    pub(crate) fn load_or_create(&self) -> Result<SecretSet, String> {
        if let Some(set) = self.load()? {
            return Ok(set);
        }
        let set = SecretSet {
            current: ServerSecret::generate()?,
            previous: None,
        };
        self.save(&set)?;
        Ok(set)
    }

    /// A new current secret; the old one stays accepted until `now + grace_secs`.
    pub(crate) fn rotate(&self, now: i64, grace_secs: i64) -> Result<SecretSet, String> {
        let old = self.load()?.ok_or_else(|| {
            format!(
                "there is no broker secret to rotate at {}: start the broker once (it makes one), \
                 or give the state directory it uses with --state-dir",
                self.path.display()
            )
        })?;
        let set = SecretSet {
            current: ServerSecret::generate()?,
            previous: (grace_secs > 0).then(|| (old.current, now.saturating_add(grace_secs))),
        };
        self.save(&set)?;
        Ok(set)
    }
}

/// Writes `contents` to `path`, readable by the owner only, or also by `group` (0640): into a new
/// file beside it first, so that no reader ever sees a partial or more open file. A file that
/// was there keeps its owner (a rotation run by root keeps the broker's files the broker's).
fn write_private(path: &Path, group: Option<&str>, contents: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging: PathBuf = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "secret".into()),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&staging);
    let result = write_new(&staging, group, contents, path).and_then(|()| {
        std::fs::rename(&staging, path).map_err(|e| {
            format!(
                "cannot move the secret into place at {}: {e}",
                path.display()
            )
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result
}

#[cfg(unix)]
fn write_new(
    staging: &Path,
    group: Option<&str>,
    contents: &str,
    replaces: &Path,
) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let mode = if group.is_some() { 0o640 } else { 0o600 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(staging)
        .map_err(|e| format!("cannot create the secret file {}: {e}", staging.display()))?;
    if let Ok(old) = std::fs::metadata(replaces) {
        crate::unix::chown(staging, old.uid(), old.gid())?;
    }
    if let Some(group) = group {
        crate::unix::chown_group(staging, group)?;
    }
    // The umask may have narrowed the mode asked for; never widened it.
    std::fs::set_permissions(staging, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the secret file's mode: {e}"))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the secret file {}: {e}", staging.display()))
}

/// On Windows the file's access list is cut down to SYSTEM, Administrators, the service's
/// own account and `group`, with `icacls` (what an administrator would run by hand).
#[cfg(windows)]
fn write_new(
    staging: &Path,
    group: Option<&str>,
    contents: &str,
    _replaces: &Path,
) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(staging)
        .map_err(|e| format!("cannot create the secret file {}: {e}", staging.display()))?;
    let mut grants = vec![
        "*S-1-5-18:F".to_string(),     // SYSTEM
        "*S-1-5-32-544:F".to_string(), // Administrators
        "*S-1-3-4:F".to_string(),      // the file's owner: the service's account
    ];
    if let Some(group) = group {
        grants.push(format!("{group}:R"));
    }
    let mut icacls = std::process::Command::new("icacls");
    icacls.arg(staging).arg("/inheritance:r");
    for grant in &grants {
        icacls.arg("/grant:r").arg(grant);
    }
    let status = icacls
        .output()
        .map_err(|e| format!("cannot run icacls to protect the secret file: {e}"))?;
    if !status.status.success() {
        return Err(format!(
            "icacls could not protect the secret file {}: {}",
            staging.display(),
            String::from_utf8_lossy(&status.stdout).trim()
        ));
    }
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the secret file {}: {e}", staging.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_256_bits_of_hex_and_differ() {
        let a = ServerSecret::generate().unwrap();
        let b = ServerSecret::generate().unwrap();
        assert_eq!(a.0.len(), 64);
        assert!(a.0.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.0.expose(), b.0.expose());
        assert_eq!(format!("{a:?}"), "ServerSecret(..)");
    }

    #[test]
    fn matching_is_exact() {
        let s = ServerSecret(certless::Secret::new("0123456789abcdef0123456789abcdef"));
        assert!(s.matches(b"0123456789abcdef0123456789abcdef"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcdee"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcde"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcdef0"));
        assert!(!s.matches(b""));
    }

    #[test]
    fn the_state_keeps_the_secret_and_a_rotation_keeps_the_old_one_for_its_grace() {
        let dir = std::env::temp_dir().join(format!("certless-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = SecretState {
            path: dir.join("broker-secret"),
        };
        let first = state.load_or_create().unwrap();
        let again = state.load_or_create().unwrap();
        let old = first.current.0.expose().to_string();
        assert_eq!(again.current.0.expose(), old, "a restart keeps the secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&state.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let rotated = state.rotate(1000, 60).unwrap();
        let new = rotated.current.0.expose().to_string();
        assert_ne!(new, old);
        let loaded = state.load().unwrap().unwrap();
        for set in [&rotated, &loaded] {
            assert!(set.accepts(new.as_bytes(), 1000));
            assert!(set.accepts(old.as_bytes(), 1059), "within the grace");
            assert!(!set.accepts(old.as_bytes(), 1060), "after the grace");
            assert!(set.accepts(new.as_bytes(), 5000));
        }
        std::fs::write(&state.path, "nonsense").unwrap();
        assert!(state.load().unwrap_err().contains("remove it"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
