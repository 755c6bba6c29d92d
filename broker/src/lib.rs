//! The certless broker (what `certless serve` runs): one token broker per machine. It holds the
//! credentials of its configuration(s) in core's cache, keeps the tokens it has handed out fresh
//! before they are due, and serves them to local processes over App Service's managed-identity
//! protocol — so every Azure SDK's unmodified `ManagedIdentityCredential`, and certless's own
//! clients (`CERTLESS_BROKER`), get the app's token with one upstream request per token for the
//! whole machine.
//!
//! The route of a request: `server` accepts a connection (loopback TCP or the Unix socket)
//! within its limits → `handler` refuses what a web page or an oversized request looks like and
//! routes by path → `token` checks the secret (TCP), parses the query with
//! [`certless::broker::wire`], picks the app (`apps`), and answers from the credential's cache,
//! from the failure hold (`hold`), or by fetching → `metrics` counts it; `response` writes the
//! answer. Around that: `run` (start and graceful stop), `shared` (the state every connection
//! shares), `secret`, `rotation` and `paths` (the broker's own secret, its state file and its
//! rotation), `warm` (refreshing tokens before they are due), `logger`, and the platform parts
//! (`unix`, `windows`).
//!
//! ```no_run
//! # async fn serve() -> Result<(), certless_broker::Error> {
//! let config = certless_broker::Config {
//!     configs: vec!["/etc/certless/appsettings.json".into()],
//!     ..Default::default()
//! };
//! certless_broker::run(&config, certless_broker::stop_signal(), |text| println!("{text}")).await
//! # }
//! ```

mod apps;
mod handler;
mod hold;
mod logger;
mod metrics;
mod paths;
mod response;
mod rotation;
mod run;
mod secret;
mod server;
mod shared;
mod token;
#[cfg(unix)]
mod unix;
mod warm;
#[cfg(windows)]
pub mod windows;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use logger::install as install_logger;
pub use rotation::rotate_secret;
pub use run::{run, stop_signal};

/// The defaults of [`Config`] (and of `certless serve`'s options).
pub mod defaults {
    /// `--listen`: App Service's port on loopback.
    pub const LISTEN: &str = "127.0.0.1:8765";
    /// `--socket-mode`: the owner and the socket's group.
    pub const SOCKET_MODE: &str = "660";
    /// `--keep-warm`: a day.
    pub const KEEP_WARM_SECS: u64 = 86_400;
    /// `--max-connections`.
    pub const MAX_CONNECTIONS: usize = 256;
    /// `--header-timeout`.
    pub const HEADER_TIMEOUT_SECS: u64 = 10;
    /// `--shutdown-timeout`.
    pub const SHUTDOWN_TIMEOUT_SECS: u64 = 20;
    /// `--failure-hold`.
    pub const FAILURE_HOLD_SECS: u64 = 5;
    /// `--log-level`.
    pub const LOG_LEVEL: &str = "info";
    /// `rotate-secret --grace`: a day.
    pub const ROTATION_GRACE_SECS: u64 = 86_400;
}

/// What a broker serves, where, and within which limits: `certless serve`'s options (its
/// `--help` says what each one does; messages name the options too).
#[derive(Clone, Debug)]
pub struct Config {
    /// Microsoft.Identity.Web appsettings.json files, one per app; the first is the default.
    /// Empty: one app from the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...).
    pub configs: Vec<PathBuf>,
    /// A loopback `address:port` to listen on, or `none` (the Unix socket only).
    pub listen: String,
    /// Also serve on this Unix domain socket (its owner, group and mode are the access control).
    pub socket: Option<PathBuf>,
    /// The socket's mode, in octal, without access for others.
    pub socket_mode: String,
    /// The socket's group: its members may ask for tokens.
    pub socket_group: Option<String>,
    /// Where to publish the secret TCP clients must send (default: `$RUNTIME_DIRECTORY/secret`
    /// under systemd, else `$XDG_RUNTIME_DIR/certless/secret`).
    pub secret_file: Option<PathBuf>,
    /// Let this group read the secret file (mode 0640 instead of 0600).
    pub secret_group: Option<String>,
    /// Use the secret already in `secret_file` instead of the broker's own.
    pub keep_secret: bool,
    /// Where the secret is kept across restarts (default: the platform's place for a service's
    /// state; see `paths`).
    pub state_dir: Option<PathBuf>,
    /// Scopes fetched at start, kept warm whether asked for or not, and checked by `/readyz`.
    pub scopes: Vec<String>,
    /// Keep refreshing a token before it is due while it was asked for within this long.
    pub keep_warm: Duration,
    /// At most this many client connections at once; more are answered 503.
    pub max_connections: usize,
    /// Time a client has to send a request's head (also the idle keep-alive limit).
    pub header_timeout: Duration,
    /// When stopped, wait this long for requests in flight.
    pub shutdown_timeout: Duration,
    /// Answer a request that just failed upstream with the same error for this long (zero:
    /// never).
    pub failure_hold: Duration,
    /// error, warn, info or debug (for [`install_logger`]).
    pub log_level: String,
    /// Append the log to this file instead of standard error.
    pub log_file: Option<PathBuf>,
    /// Once listening, write the addresses, the secret file's path and the apps as JSON here.
    pub ready_file: Option<PathBuf>,
    /// `--shared-cache`: share every app's tokens with the farm through this Redis (or `off`);
    /// unset, each app's configuration and `CERTLESS_SHARED_CACHE` decide.
    pub shared_cache: Option<String>,
    /// `--shared-cache-key-file`: the keys that seal the shared entries.
    pub shared_cache_key_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            configs: Vec::new(),
            listen: defaults::LISTEN.into(),
            socket: None,
            socket_mode: defaults::SOCKET_MODE.into(),
            socket_group: None,
            secret_file: None,
            secret_group: None,
            keep_secret: false,
            state_dir: None,
            scopes: Vec::new(),
            keep_warm: Duration::from_secs(defaults::KEEP_WARM_SECS),
            max_connections: defaults::MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(defaults::HEADER_TIMEOUT_SECS),
            shutdown_timeout: Duration::from_secs(defaults::SHUTDOWN_TIMEOUT_SECS),
            failure_hold: Duration::from_secs(defaults::FAILURE_HOLD_SECS),
            log_level: defaults::LOG_LEVEL.into(),
            log_file: None,
            ready_file: None,
            shared_cache: None,
            shared_cache_key_file: None,
        }
    }
}

/// Why the broker could not start (or a secret could not be rotated): a sentence for an
/// operator, naming the option or file to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error(message)
    }
}

/// The current time in Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A mutex's data, also after a panic elsewhere poisoned it (every update here is whole).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
