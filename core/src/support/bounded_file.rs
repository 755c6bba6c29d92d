//! Reading a file someone named (`--config`, a CA file, a federated token file, a certificate,
//! the Azure Arc key): a regular file only, and no more than a limit sized for what the file
//! holds. A mistaken or hostile path must end in an error that says what the path is, not in an
//! exhausted memory (`/dev/zero`) or a read that never returns (a FIFO with no writer).
//!
//! Opening a FIFO for reading blocks until a writer appears, so the path's metadata is checked
//! before it is opened, the open does not block (Unix), and the opened handle is checked again
//! (the path may have been swapped in between).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// How large a file may be, and what it is (for the error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit {
    pub bytes: u64,
    pub purpose: &'static str,
}

/// appsettings.json: real ones are a few KB; a megabyte is far beyond any of them, and still
/// parsed in milliseconds.
pub(crate) const CONFIG_FILE: Limit = Limit {
    bytes: 1024 * 1024,
    purpose: "a configuration file",
};
/// PEM CA bundles: `SSL_CERT_FILE` often names the whole system bundle (about 200 KB for the
/// ~150 public roots, more with intermediates added); 4 MiB leaves room for large corporate ones.
pub(crate) const CA_FILE: Limit = Limit {
    bytes: 4 * 1024 * 1024,
    purpose: "a CA file",
};
/// A projected service-account token is 1–2 KB.
pub(crate) const FEDERATED_TOKEN_FILE: Limit = Limit {
    bytes: 64 * 1024,
    purpose: "a federated token file",
};
/// A PFX or PEM with its chain is a few KB.
pub(crate) const CERTIFICATE_FILE: Limit = Limit {
    bytes: 1024 * 1024,
    purpose: "a certificate file",
};
/// The Azure Arc agent's key is a short random string; Microsoft's SDKs refuse more than 4096
/// bytes (their fix for CVE-2024-35255).
pub(crate) const ARC_KEY_FILE: Limit = Limit {
    bytes: 4096,
    purpose: "an Azure Arc key file",
};

/// A certless broker's secret: 64 hex digits.
pub(crate) const BROKER_SECRET_FILE: Limit = Limit {
    bytes: 4096,
    purpose: "a broker secret file",
};

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        if self.bytes % MIB == 0 {
            write!(f, "{} MiB", self.bytes / MIB)
        } else if self.bytes % KIB == 0 {
            write!(f, "{} KiB", self.bytes / KIB)
        } else {
            write!(f, "{} bytes", self.bytes)
        }
    }
}

/// Why a file was not read. Its `Display` continues a sentence that starts with the path:
/// "`/dev/zero` is a character device, not a regular file".
#[derive(Debug)]
pub(crate) enum FileError {
    Io(io::Error),
    NotRegular(&'static str),
    TooLarge { limit: Limit, size: Option<u64> },
}

impl FileError {
    pub(crate) fn is_permission_denied(&self) -> bool {
        matches!(self, FileError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "cannot be read ({e})"),
            FileError::NotRegular(kind) => write!(f, "is {kind}, not a regular file"),
            FileError::TooLarge { limit, size } => {
                write!(f, "is larger than the {limit} limit for {}", limit.purpose)?;
                match size {
                    Some(size) => write!(f, " ({size} bytes)"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The whole file at `path`, if it is a regular file of at most `limit` bytes.
pub(crate) fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, FileError> {
    let before = std::fs::metadata(path).map_err(FileError::Io)?;
    check(&before, limit)?;
    let file = open(path).map_err(FileError::Io)?;
    let opened = file.metadata().map_err(FileError::Io)?;
    check(&opened, limit)?;
    let capacity = usize::try_from(opened.len().min(limit.bytes)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    // One byte past the limit tells a file that grew (or a /proc file that reports 0) from one
    // that fits.
    file.take(limit.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(FileError::TooLarge { limit, size: None });
    }
    Ok(bytes)
}

fn check(meta: &Metadata, limit: Limit) -> Result<(), FileError> {
    if !meta.is_file() {
        return Err(FileError::NotRegular(kind(meta)));
    }
    if meta.len() > limit.bytes {
        return Err(FileError::TooLarge {
            limit,
            size: Some(meta.len()),
        });
    }
    Ok(())
}

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // A FIFO swapped in after the metadata check must not block the open.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn kind(meta: &Metadata) -> &'static str {
    let file_type = meta.file_type();
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_print_in_their_unit() {
        assert_eq!(CONFIG_FILE.to_string(), "1 MiB");
        assert_eq!(CA_FILE.to_string(), "4 MiB");
        assert_eq!(FEDERATED_TOKEN_FILE.to_string(), "64 KiB");
        assert_eq!(ARC_KEY_FILE.to_string(), "4 KiB");
        let odd = Limit {
            bytes: 1000,
            purpose: "x",
        };
        assert_eq!(odd.to_string(), "1000 bytes");
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = std::env::temp_dir().join(format!("certless-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let limit = Limit {
            bytes: 10,
            purpose: "a test file",
        };
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, limit).unwrap(), b"0123456789");
        std::fs::write(&path, b"0123456789A").unwrap();
        let e = read(&path, limit).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is larger than the 10 bytes limit for a test file (11 bytes)"
        );
        assert_eq!(
            read(&dir, limit).unwrap_err().to_string(),
            "is a directory, not a regular file"
        );
        let missing = read(&dir.join("missing"), limit).unwrap_err();
        assert!(matches!(missing, FileError::Io(_)), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn files_that_report_no_size_are_still_bounded() {
        // /proc files say 0 bytes and have more.
        let limit = Limit {
            bytes: 16,
            purpose: "a test file",
        };
        let e = read(Path::new("/proc/self/status"), limit).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { size: None, .. }), "{e}");
    }
}
