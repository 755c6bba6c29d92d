//! `certless serve`: one token broker per machine. It holds the credentials of its
//! configuration(s) in core's cache, keeps the tokens it has handed out fresh before they are
//! due, and serves them to local processes over App Service's managed-identity protocol — so
//! every Azure SDK's unmodified `ManagedIdentityCredential`, and certless's own clients
//! (`CERTLESS_BROKER`), get the app's token with one upstream request per token for the whole
//! machine.

mod apps;
mod handler;
mod logger;
mod metrics;
mod secret;
mod server;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
pub mod windows;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use certless::ManagedIdentitySource;
use certless::broker::TOKEN_PATH;

use crate::output::{errln, outln};
use apps::Apps;
use handler::Broker;
use secret::{BrokerSecret, SecretSet, SecretState};
use server::{Limits, Server};

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
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: String,
    /// Also serve on this Unix domain socket, where the socket file's owner, group and mode are
    /// the access control (no secret is needed on it).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The socket's mode, in octal.
    #[arg(long, default_value = "660")]
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
    #[arg(long, default_value_t = 86_400)]
    keep_warm: u64,
    /// At most this many client connections at once; more are answered 503.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Seconds a client has to send a request's head (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// On SIGTERM/SIGINT, wait this many seconds for requests in flight before exiting.
    #[arg(long, default_value_t = 20)]
    shutdown_timeout: u64,
    /// Answer a request that just failed upstream with the same error for this many seconds
    /// rather than asking again (0: never).
    #[arg(long, default_value_t = 5)]
    failure_hold: u64,
    /// error, warn, info or debug.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Append the log to this file instead of standard error.
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// Once listening, write the addresses, the secret file's path and the apps as JSON here.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Run as a Windows service (what the service's command line says; see the README).
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
    #[arg(long, default_value_t = 86_400)]
    grace: u64,
}

/// The file in the state directory that keeps the secret.
const STATE_FILE: &str = "broker-secret";

/// The state file: in `given`, else where the platform keeps a service's state.
fn state_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = given {
        return Some(dir.join(STATE_FILE));
    }
    let first = |v: std::ffi::OsString| {
        // systemd's StateDirectory= (several are separated by ':'; the first is ours).
        PathBuf::from(v.to_string_lossy().split(':').next().unwrap_or_default())
    };
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        return Some(first(dir).join(STATE_FILE));
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

/// `certless serve rotate-secret`.
fn rotate_secret(args: &RotateArgs) -> ExitCode {
    let Some(path) = state_path(args.state_dir.as_deref()) else {
        errln!("certless serve rotate-secret: give --state-dir: the broker's state directory");
        return ExitCode::from(2);
    };
    let state = SecretState { path };
    let grace = i64::try_from(args.grace).unwrap_or(i64::MAX / 2);
    match state.rotate(unix_now(), grace) {
        Ok(_) => {
            outln!(
                "certless serve: a new secret is in {}; the running broker publishes it to its \
                 secret file within seconds. The old one is accepted for {} more second(s): \
                 restart the clients that hold it (IDENTITY_HEADER) before then.",
                state.path.display(),
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

/// `certless serve` in the foreground, until SIGTERM or SIGINT.
pub(crate) async fn run(args: Args) -> ExitCode {
    if let Some(Action::RotateSecret(rotate)) = &args.action {
        return rotate_secret(rotate);
    }
    if let Err(e) = logger::install(&args.log_level, args.log_file.as_deref()) {
        errln!("certless serve: {e}");
        return ExitCode::from(2);
    }
    serve(args, stop_signal()).await
}

/// Serves until `stop` completes, then shuts down gracefully.
pub(crate) async fn serve(args: Args, stop: impl Future<Output = ()>) -> ExitCode {
    let started = match start(&args).await {
        Ok(s) => s,
        Err(e) => {
            log::error!("certless serve: {e}");
            errln!("certless serve: {e}");
            return ExitCode::from(2);
        }
    };
    stop.await;
    log::info!("certless serve: stopping: no new connections; finishing requests in flight");
    let open = started
        .server
        .shutdown(Duration::from_secs(args.shutdown_timeout))
        .await;
    if open > 0 {
        log::warn!(
            "certless serve: {open} connection(s) still busy after {} s; exiting anyway",
            args.shutdown_timeout
        );
    }
    if let Some(path) = &started.socket {
        let _ = std::fs::remove_file(path);
    }
    if let (Some(path), false) = (&started.secret_file, args.keep_secret) {
        let _ = std::fs::remove_file(path);
    }
    log::info!("certless serve: stopped");
    ExitCode::SUCCESS
}

struct Started {
    server: Server,
    socket: Option<PathBuf>,
    secret_file: Option<PathBuf>,
}

async fn start(args: &Args) -> Result<Started, String> {
    let apps = Apps::load(&args.config).map_err(|e| e.to_string())?;
    let listen = listen_address(&args.listen)?;
    if let Some(addr) = listen {
        refuse_self_loop(&apps, addr)?;
    }
    // The secret guards the TCP port; the Unix socket is guarded by its file mode.
    let (secrets, state, secret_file) = match listen {
        Some(_) => {
            let path = secret_path(args.secret_file.as_deref())?;
            if args.keep_secret {
                let current = BrokerSecret::read(&path)?;
                (
                    SecretSet {
                        current,
                        previous: None,
                    },
                    None,
                    Some(path),
                )
            } else {
                // The same secret as at the last start: running SDK clients keep working.
                let state = state_path(args.state_dir.as_deref()).map(|path| SecretState { path });
                let secrets = match &state {
                    Some(state) => state.load_or_create()?,
                    None => {
                        log::warn!(
                            "certless serve: no state directory (give --state-dir): the secret \
                             changes at every start, and running Azure SDK clients must then be \
                             restarted"
                        );
                        SecretSet {
                            current: BrokerSecret::generate()?,
                            previous: None,
                        }
                    }
                };
                secrets.current.write(&path, args.secret_group.as_deref())?;
                (secrets, state, Some(path))
            }
        }
        None => (
            SecretSet {
                current: BrokerSecret::generate()?,
                previous: None,
            },
            None,
            None,
        ),
    };
    let tcp = match listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
        ),
        None => None,
    };
    let broker = Arc::new(Broker::new(
        apps,
        secrets,
        state.clone(),
        secret_file
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string()),
        args.scopes.clone(),
        Duration::from_secs(args.failure_hold),
    ));
    let server = Server::new(
        Arc::clone(&broker),
        Limits {
            max_connections: args.max_connections.max(1),
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        },
    );
    let mut url = None;
    if let Some(listener) = tcp {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        url = Some(format!("http://{addr}{TOKEN_PATH}"));
        server.spawn_tcp(listener);
    }
    let socket = match &args.socket {
        Some(path) => {
            bind_socket(
                &server,
                path,
                &args.socket_mode,
                args.socket_group.as_deref(),
            )?;
            Some(path.clone())
        }
        None => None,
    };
    if url.is_none() && socket.is_none() {
        return Err("--listen none needs --socket: the broker would listen nowhere".into());
    }
    announce(
        &broker,
        url.as_deref(),
        socket.as_deref(),
        secret_file.as_deref(),
        args.ready_file.as_deref(),
    )?;
    tokio::spawn(keep_warm(
        Arc::clone(&broker),
        Duration::from_secs(args.keep_warm),
    ));
    if let (Some(state), Some(path)) = (state, &secret_file) {
        tokio::spawn(follow_rotations(
            Arc::clone(&broker),
            state,
            path.clone(),
            args.secret_group.clone(),
        ));
    }
    Ok(Started {
        server,
        socket,
        secret_file,
    })
}

/// Watches the state file: after `certless serve rotate-secret`, the broker takes the new secret
/// (and keeps the old one for its grace) and publishes it to the secret file its clients read.
async fn follow_rotations(
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

/// `--listen`: a loopback socket address, or `none`.
fn listen_address(value: &str) -> Result<Option<SocketAddr>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let addr: SocketAddr = value.parse().map_err(|_| {
        format!("--listen '{value}' is not an address and port such as 127.0.0.1:8765")
    })?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--listen {addr} is not a loopback address: the broker serves this machine only \
             (127.0.0.1 or [::1]); for other machines' processes there is no safe secret"
        ));
    }
    Ok(Some(addr))
}

/// A broker whose own managed identity would be asked at its own address (an
/// `IDENTITY_ENDPOINT` exported machine-wide for the SDKs) would wait on itself forever.
fn refuse_self_loop(apps: &Apps, listen: SocketAddr) -> Result<(), String> {
    let uses_app_service = apps.all().iter().any(|a| {
        a.credential
            .managed_identity_source()
            .is_some_and(|s| s.source == ManagedIdentitySource::AppService)
    });
    let endpoint = std::env::var("IDENTITY_ENDPOINT").unwrap_or_default();
    let Ok(url) = url::Url::parse(&endpoint) else {
        return Ok(());
    };
    let same_port = url.port_or_known_default() == Some(listen.port())
        && certless::broker::is_loopback_host(url.host_str().unwrap_or_default());
    if uses_app_service && same_port {
        return Err(format!(
            "IDENTITY_ENDPOINT ({endpoint}) points at this broker's own address: it would ask \
             itself for its managed-identity token. Unset IDENTITY_ENDPOINT and IDENTITY_HEADER \
             in the broker's environment (they are for its clients)"
        ));
    }
    Ok(())
}

fn secret_path(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("RUNTIME_DIRECTORY") {
        // systemd's RuntimeDirectory= (several are separated by ':'; the first is ours).
        let dir = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        return Ok(PathBuf::from(dir).join("secret"));
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

fn create_private_dir(dir: &Path) -> Result<(), String> {
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

#[cfg(unix)]
fn bind_socket(
    server: &Server,
    path: &Path,
    mode: &str,
    group: Option<&str>,
) -> Result<(), String> {
    let mode = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o777 && m & 0o007 == 0)
        .ok_or_else(|| {
            format!(
                "--socket-mode '{mode}' must be octal, without access for others (e.g. 660 or 600)"
            )
        })?;
    let listener = unix::bind_socket(path, mode, group)?;
    server.spawn_unix(listener);
    Ok(())
}

#[cfg(not(unix))]
fn bind_socket(_: &Server, _: &Path, _: &str, _: Option<&str>) -> Result<(), String> {
    Err("--socket needs a Unix platform: on Windows use the loopback port and its secret".into())
}

/// Says where the broker listens and what clients must set, on standard output and in the
/// ready file.
fn announce(
    broker: &Broker,
    url: Option<&str>,
    socket: Option<&Path>,
    secret_file: Option<&Path>,
    ready_file: Option<&Path>,
) -> Result<(), String> {
    outln!("certless serve: serving {}", broker.apps.describe());
    if let (Some(url), Some(secret)) = (url, secret_file) {
        let secret = secret.display();
        let base = url.trim_end_matches(TOKEN_PATH);
        outln!("  token endpoint  {url} (secret in {secret})");
        outln!("  Azure SDKs      IDENTITY_ENDPOINT={url} IDENTITY_HEADER=\"$(cat {secret})\"");
        outln!("  certless        CERTLESS_BROKER={base} CERTLESS_BROKER_SECRET_FILE={secret}");
    }
    if let Some(socket) = socket {
        outln!(
            "  unix socket     {} (CERTLESS_BROKER=unix:{0})",
            socket.display()
        );
    }
    log::info!(
        "certless serve: listening{}{}",
        url.map(|u| format!(" on {u}")).unwrap_or_default(),
        socket
            .map(|s| format!(" and unix:{}", s.display()))
            .unwrap_or_default()
    );
    if let Some(path) = ready_file {
        let json = serde_json::json!({
            "pid": std::process::id(),
            "url": url,
            "socket": socket.map(|s| s.display().to_string()),
            "secret_file": secret_file.map(|s| s.display().to_string()),
            "apps": broker.apps.all().iter().map(|a| a.client_id.clone()).collect::<Vec<_>>(),
        });
        std::fs::write(path, json.to_string())
            .map_err(|e| format!("cannot write the ready file {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Fetches the `--scope` tokens at start, then, for as long as the broker runs, refreshes every
/// token asked for within `keep_warm` before it is due — so that after the first request no
/// client waits on Entra — and keeps the `--scope` tokens whether asked for or not.
async fn keep_warm(broker: Arc<Broker>, keep_warm: Duration) {
    let keep_warm = i64::try_from(keep_warm.as_secs()).unwrap_or(i64::MAX / 2);
    loop {
        let now = unix_now();
        for (index, app) in broker.apps.all().iter().enumerate() {
            for scope in &broker.scopes {
                // A hit counts as a use, and starts the refresh when one is due.
                if !matches!(app.credential.cached_token(&[scope]), Ok(Some(_))) {
                    let credential = app.credential.clone();
                    let scope = scope.clone();
                    let client_id = app.client_id.clone();
                    tokio::spawn(async move {
                        match credential.get_token(&[&scope]).await {
                            Ok(_) => log::info!(
                                "certless serve: token for {scope} (app {client_id}) is warm"
                            ),
                            Err(e) => log::warn!(
                                "certless serve: keeping {scope} (app {client_id}) warm failed: {e}"
                            ),
                        }
                    });
                }
            }
            let started = app.credential.refresh_due(now.saturating_sub(keep_warm));
            if started > 0 {
                log::debug!(
                    "certless serve: refreshing {started} token(s) of app {} before they are due",
                    app.client_id
                );
                broker.metrics.background_refreshes(index, started);
            }
        }
        // Wake for the next refresh that comes due, and at least every 5 s: a token fetched
        // meanwhile may be due sooner (short-lived ones), and a failed refresh is retried on its
        // backoff.
        let next_due = broker
            .apps
            .all()
            .iter()
            .flat_map(|a| a.credential.cache_entries())
            .filter(|e| e.last_used >= now.saturating_sub(keep_warm))
            .filter_map(|e| e.refresh_at)
            .filter(|at| *at > now)
            .min()
            .map_or(5, |at| at - now);
        tokio::time::sleep(Duration::from_secs(next_due.clamp(1, 5) as u64)).await;
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// SIGTERM (systemd stop) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
