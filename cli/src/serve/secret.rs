//! The broker's secret: 256 random bits made at every start (or, with `--keep-secret`, the one
//! already in the file), written to a file only its owner — and a named group — can read, and
//! compared in constant time.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::SecureRandom;

/// The secret. Shown as nothing: it must never reach a log.
#[derive(Clone)]
pub(super) struct BrokerSecret(String);

impl fmt::Debug for BrokerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrokerSecret(..)")
    }
}

/// A supplied secret must be at least this long (128 bits as hex).
const MIN_SUPPLIED_LEN: usize = 32;

impl BrokerSecret {
    /// 256 bits from the operating system's generator, as 64 hex digits (sendable as a header).
    pub(super) fn generate() -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| "the operating system's random generator failed".to_string())?;
        Ok(BrokerSecret(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }

    /// The secret already in `path` (`--keep-secret`): what a deployment that distributes its
    /// own secret supplies.
    pub(super) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
        let text = text.trim();
        if text.len() < MIN_SUPPLIED_LEN
            || !text.bytes().all(|b| b.is_ascii_graphic())
            || text.len() > 1024
        {
            return Err(format!(
                "the secret in {} must be {MIN_SUPPLIED_LEN} to 1024 printable ASCII characters \
                 (e.g. 64 hex digits: openssl rand -hex 32)",
                path.display()
            ));
        }
        Ok(BrokerSecret(text.to_string()))
    }

    /// Whether `presented` is the secret, in time that does not depend on where they differ.
    pub(super) fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = u8::from(expected.len() != presented.len());
        for (i, e) in expected.iter().enumerate() {
            // Compare against a byte of `presented` even when it is shorter, so that the time
            // taken depends on the secret's length only.
            let p = presented.get(i).copied().unwrap_or(!e);
            diff |= e ^ p;
        }
        std::hint::black_box(diff) == 0
    }

    /// Writes the secret to `path`, readable by the owner only, or also by `group` (0640): into
    /// a new file beside it first, so that no reader ever sees a partial or more open file.
    pub(super) fn write(&self, path: &Path, group: Option<&str>) -> Result<(), String> {
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
        let result = self.write_new(&staging, group).and_then(|()| {
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
    fn write_new(&self, staging: &Path, group: Option<&str>) -> Result<(), String> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = if group.is_some() { 0o640 } else { 0o600 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(staging)
            .map_err(|e| format!("cannot create the secret file {}: {e}", staging.display()))?;
        if let Some(group) = group {
            super::unix::chown_group(staging, group)?;
        }
        // The umask may have narrowed the mode asked for; never widened it.
        std::fs::set_permissions(staging, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot set the secret file's mode: {e}"))?;
        file.write_all(format!("{}\n", self.0).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write the secret file {}: {e}", staging.display()))
    }

    /// On Windows the file's access list is cut down to SYSTEM, Administrators, the service's
    /// own account and `group`, with `icacls` (what an administrator would run by hand).
    #[cfg(windows)]
    fn write_new(&self, staging: &Path, group: Option<&str>) -> Result<(), String> {
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
        file.write_all(format!("{}\n", self.0).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write the secret file {}: {e}", staging.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_256_bits_of_hex_and_differ() {
        let a = BrokerSecret::generate().unwrap();
        let b = BrokerSecret::generate().unwrap();
        assert_eq!(a.0.len(), 64);
        assert!(a.0.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.0, b.0);
        assert_eq!(format!("{a:?}"), "BrokerSecret(..)");
    }

    #[test]
    fn matching_is_exact() {
        let s = BrokerSecret("0123456789abcdef0123456789abcdef".into());
        assert!(s.matches(b"0123456789abcdef0123456789abcdef"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcdee"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcde"));
        assert!(!s.matches(b"0123456789abcdef0123456789abcdef0"));
        assert!(!s.matches(b""));
    }
}
