//! The one error type of the emulator's Rust API.

use std::path::PathBuf;

/// What went wrong when configuring, starting or querying the emulator.
///
/// Wire-level failures (a client sending a bad request) are never errors here: the emulator answers them the way the
/// real service would. These are failures of the emulator itself or of the caller's use of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The configuration (JSON file or string) could not be parsed or is inconsistent.
    #[error("invalid emulator configuration: {0}")]
    Config(String),

    /// A file could not be read or written (configuration file, `ca.pem`, state directory).
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// To which file.
        path: PathBuf,
        #[source]
        /// The cause.
        source: std::io::Error,
    },

    /// A listener could not be bound on 127.0.0.1.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        #[source]
        /// The cause.
        source: std::io::Error,
    },

    /// Generating the signing key, the CA or the TLS server certificate failed.
    #[error("cannot set up the emulator's keys or certificates: {0}")]
    Crypto(String),

    /// `start_blocking` could not create its runtime or background thread.
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(String),

    /// `verify_access_token` rejected a token.
    #[error("token rejected: {0}")]
    TokenRejected(String),
}
