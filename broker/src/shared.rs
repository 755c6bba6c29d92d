//! What every connection shares: the apps, the secrets the broker accepts, its counters, the
//! `--scope` list and the failure hold.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apps::{App, Apps};
use crate::hold::FailureHold;
use crate::metrics::Metrics;
use crate::secret::{SecretSet, SecretState};
use crate::{lock, unix_now};

/// Everything a request needs, shared by every connection.
pub(crate) struct Broker {
    pub(crate) apps: Apps,
    /// The secrets accepted on TCP: the current one, and a rotated one during its grace.
    secrets: Mutex<SecretSet>,
    /// Where they are kept across restarts; re-read when a presented secret is not one of
    /// them, so that a rotation reaches the running broker (at most once a second).
    state: Option<SecretState>,
    last_reload: Mutex<Option<Instant>>,
    /// Where the secret is, for the fix in a 401's message.
    pub(crate) secret_file: String,
    pub(crate) metrics: Metrics,
    /// `--scope`: fetched at start, kept warm, checked by `/readyz`.
    pub(crate) scopes: Vec<String>,
    /// Failed fetches are answered from here for a short while.
    pub(crate) hold: FailureHold,
}

/// How the request arrived.
#[derive(Clone, Debug)]
pub(crate) enum Via {
    /// A TCP connection on loopback: the secret is required.
    Tcp(std::net::SocketAddr),
    /// The Unix socket: its file mode already decided who may connect.
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(String),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Tcp(peer) => write!(f, "{peer}"),
            Via::Unix(peer) => f.write_str(peer),
        }
    }
}

impl Broker {
    pub(crate) fn new(
        apps: Apps,
        secrets: SecretSet,
        state: Option<SecretState>,
        secret_file: String,
        scopes: Vec<String>,
        failure_hold: Duration,
    ) -> Self {
        let metrics = Metrics::new(apps.all().len());
        Broker {
            apps,
            secrets: Mutex::new(secrets),
            state,
            last_reload: Mutex::new(None),
            secret_file,
            metrics,
            scopes,
            hold: FailureHold::new(failure_hold),
        }
    }

    /// Takes the secrets a rotation left in the state file.
    pub(crate) fn replace_secrets(&self, secrets: SecretSet) {
        *lock(&self.secrets) = secrets;
    }

    /// Whether `presented` is a secret the broker accepts now.
    pub(crate) fn accepts(&self, presented: &[u8]) -> bool {
        let now = unix_now();
        if lock(&self.secrets).accepts(presented, now) {
            return true;
        }
        let Some(state) = &self.state else {
            return false;
        };
        {
            let mut last = lock(&self.last_reload);
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match state.load() {
            Ok(Some(set)) => {
                let accepted = set.accepts(presented, now);
                *lock(&self.secrets) = set;
                accepted
            }
            Ok(None) => false,
            Err(e) => {
                log::warn!("certless serve: {e}");
                false
            }
        }
    }

    pub(crate) fn app_index(&self, app: &App) -> usize {
        self.apps
            .all()
            .iter()
            .position(|a| std::ptr::eq(a, app))
            .unwrap_or(0)
    }
}
