//! `certless serve`: the machine's token broker (the `certless-broker` crate) with its options
//! as command-line arguments. This module only turns the arguments into the broker's
//! [`Config`] and its outcome into messages and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use certless_broker::{Config, defaults};

use crate::output::{errln, outln};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// A Microsoft.Identity.Web appsettings.json (or its AzureAd section). Repeat it to serve
    /// several apps: a request's client_id picks one, the first is the default. Default: the
    /// environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...).
    #[arg(long, short = 'c')]
    config: Vec<PathBuf>,
    /// The loopback address and port to listen on (any other address is refused), or `none`
    /// to serve on the Unix socket only.
    #[arg(long, default_value = defaults::LISTEN)]
    listen: String,
    /// Also serve on this Unix domain socket, where the socket file's owner, group and mode are
    /// the access control (no secret is needed on it).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The socket's mode, in octal.
    #[arg(long, default_value = defaults::SOCKET_MODE)]
    socket_mode: String,
    /// The socket's group: its members may ask for tokens.
    #[arg(long)]
    socket_group: Option<String>,
    /// Where to write the secret TCP clients must send in X-IDENTITY-HEADER (default
    /// $RUNTIME_DIRECTORY/secret under systemd, else $XDG_RUNTIME_DIR/certless/secret).
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Let this group read the secret file (mode 0640 instead of 0600).
    #[arg(long)]
    secret_group: Option<String>,
    /// Use the secret already in --secret-file instead of the broker's own (kept in
    /// --state-dir).
    #[arg(long)]
    keep_secret: bool,
    /// Where the secret is kept across restarts, readable by the broker's account only
    /// (default $STATE_DIRECTORY under systemd, %ProgramData%\certless on Windows, else
    /// $XDG_STATE_HOME/certless or ~/.local/state/certless).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// A scope to fetch at start, keep warm whether or not it is asked for, and check in
    /// /readyz (repeatable; for every app).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Keep refreshing a token before it is due while it was asked for in the last this many
    /// seconds.
    #[arg(long, default_value_t = defaults::KEEP_WARM_SECS)]
    keep_warm: u64,
    /// At most this many client connections at once; more are answered 503.
    #[arg(long, default_value_t = defaults::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a client has to send a request's head (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = defaults::HEADER_TIMEOUT_SECS)]
    header_timeout: u64,
    /// On SIGTERM/SIGINT, wait this many seconds for requests in flight before exiting.
    #[arg(long, default_value_t = defaults::SHUTDOWN_TIMEOUT_SECS)]
    shutdown_timeout: u64,
    /// Answer a request that just failed upstream with the same error for this many seconds
    /// rather than asking again (a refusal; an outage's hold grows from this to 30 s; 0: never).
    #[arg(long, default_value_t = defaults::FAILURE_HOLD_SECS)]
    failure_hold: u64,
    /// error, warn, info or debug.
    #[arg(long, default_value = defaults::LOG_LEVEL)]
    log_level: String,
    /// Append the log to this file instead of standard error.
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// Once listening, write the addresses, the secret file's path and the apps as JSON here.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Share every app's tokens with the other brokers of a farm through this Redis
    /// (redis://host:port, rediss:// for TLS, redis+sentinel://host1,host2/MASTER,
    /// redis+cluster://host1,host2; docs/shared-cache.md), or off. Default:
    /// CERTLESS_SHARED_CACHE. A password here is visible on this machine's process list: give
    /// it in CERTLESS_SHARED_CACHE instead.
    #[arg(long, value_name = "URL")]
    shared_cache: Option<String>,
    /// The file of the keys that seal the shared entries (`certless shared-cache-key` writes
    /// one; default CERTLESS_SHARED_CACHE_KEY_FILE).
    #[arg(long, value_name = "FILE")]
    shared_cache_key_file: Option<PathBuf>,
    /// Run as a Windows service (what the service's command line says; see docs/broker.md).
    #[cfg(windows)]
    #[arg(long)]
    pub service: bool,
}

/// What `certless serve` does instead of serving.
#[derive(clap::Subcommand)]
enum Action {
    /// Replace the broker's secret with a new one. The old one is still accepted for --grace
    /// seconds, so that clients holding it (Azure SDKs read IDENTITY_HEADER once, at start) can
    /// be restarted with the new one meanwhile. The running broker picks the change up itself.
    RotateSecret(RotateArgs),
}

#[derive(clap::Args)]
struct RotateArgs {
    /// The broker's state directory (as given to `certless serve --state-dir`; default as there).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Seconds the old secret is still accepted (0: refused at once).
    #[arg(long, default_value_t = defaults::ROTATION_GRACE_SECS)]
    grace: u64,
}

impl Args {
    fn into_config(self) -> Config {
        Config {
            configs: self.config,
            listen: self.listen,
            socket: self.socket,
            socket_mode: self.socket_mode,
            socket_group: self.socket_group,
            secret_file: self.secret_file,
            secret_group: self.secret_group,
            keep_secret: self.keep_secret,
            state_dir: self.state_dir,
            scopes: self.scopes,
            keep_warm: Duration::from_secs(self.keep_warm),
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.header_timeout),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            failure_hold: Duration::from_secs(self.failure_hold),
            log_level: self.log_level,
            log_file: self.log_file,
            ready_file: self.ready_file,
            shared_cache: self.shared_cache,
            shared_cache_key_file: self.shared_cache_key_file,
        }
    }
}

/// `certless serve rotate-secret`.
fn rotate_secret(args: &RotateArgs) -> ExitCode {
    let grace = Duration::from_secs(args.grace);
    match certless_broker::rotate_secret(args.state_dir.as_deref(), grace) {
        Ok(path) => {
            outln!(
                "certless serve: a new secret is in {}; the running broker publishes it to its \
                 secret file within seconds. The old one is accepted for {} more second(s): \
                 restart the clients that hold it (IDENTITY_HEADER) before then.",
                path.display(),
                args.grace
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln!("certless serve rotate-secret: {e}");
            ExitCode::from(2)
        }
    }
}

/// Where the broker says what clients must set: standard output.
fn announce(text: &str) {
    outln!("{text}");
}

/// `certless serve` in the foreground, until SIGTERM or SIGINT.
pub(crate) async fn run(args: Args) -> ExitCode {
    if let Some(Action::RotateSecret(rotate)) = &args.action {
        return rotate_secret(rotate);
    }
    let config = args.into_config();
    if let Err(e) = certless_broker::install_logger(&config.log_level, config.log_file.as_deref()) {
        errln!("certless serve: {e}");
        return ExitCode::from(2);
    }
    match certless_broker::run(&config, certless_broker::stop_signal(), announce).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("certless serve: {e}");
            ExitCode::from(2)
        }
    }
}

/// `certless serve --service`: the broker under the Windows service control manager.
#[cfg(windows)]
pub(crate) fn run_service(args: Args) -> ExitCode {
    match certless_broker::windows::run_service(args.into_config(), announce) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("certless serve --service: {e}");
            ExitCode::from(2)
        }
    }
}
