//! One fetch for any number of callers. The fetch runs as its own task, so a caller that is
//! cancelled or dropped takes nothing down with it: the others still get the result, and the
//! cache is filled even if every caller went away.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::error::{Error, Result};

type Outcome<T> = Option<Result<T>>;

pub(crate) struct SingleFlight<T> {
    current: Mutex<Option<Flight<T>>>,
    /// What it fetches, for the count of callers it coalesced (telemetry).
    name: &'static str,
}

struct Flight<T> {
    /// The process that started it: after `fork()` the task does not exist in the child.
    pid: u32,
    rx: watch::Receiver<Outcome<T>>,
}

impl<T> SingleFlight<T> {
    /// A single flight for `name`d fetches (`token`, `assertion`, ...).
    pub(crate) fn named(name: &'static str) -> Self {
        SingleFlight {
            current: Mutex::new(None),
            name,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Joins the fetch in progress, or starts `fetch()` as a new task on the current runtime
    /// (or certless's own when the caller has none), and waits for its result.
    pub(crate) async fn run<F, Fut>(&self, fetch: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let rx = self.join_or_start(fetch)?;
        wait(rx).await
    }

    /// Starts `fetch()` unless a fetch is already in progress; does not wait.
    pub(crate) fn start<F, Fut>(&self, fetch: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        self.join_or_start(fetch).map(drop)
    }

    /// Whether a fetch of this process is running.
    pub(crate) fn in_progress(&self) -> bool {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.as_ref().is_some_and(|f| {
            f.pid == std::process::id() && f.rx.borrow().is_none() && f.rx.has_changed().is_ok()
        })
    }

    /// Waits for the fetch in progress, if any (tests use it to let background refreshes land).
    pub(crate) async fn settle(&self) {
        let rx = {
            let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            current
                .as_ref()
                .filter(|f| f.pid == std::process::id())
                .map(|f| f.rx.clone())
        };
        if let Some(rx) = rx {
            let _ = wait(rx).await;
        }
    }

    fn join_or_start<F, Fut>(&self, fetch: F) -> Result<watch::Receiver<Outcome<T>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let pid = std::process::id();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flight) = current.as_ref() {
            if flight.pid == pid && flight.rx.borrow().is_none() && flight.rx.has_changed().is_ok()
            {
                crate::telemetry::record_coalesced(self.name);
                return Ok(flight.rx.clone());
            }
        }
        let (tx, rx) = watch::channel(None);
        // The task keeps the caller's span as its parent (telemetry).
        let task = crate::telemetry::carry(fetch());
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(h) => h,
            Err(_) => crate::support::runtime::handle()?,
        };
        handle.spawn(async move {
            let outcome = task.await;
            let _ = tx.send(Some(outcome));
        });
        *current = Some(Flight {
            pid,
            rx: rx.clone(),
        });
        Ok(rx)
    }
}

async fn wait<T: Clone>(mut rx: watch::Receiver<Outcome<T>>) -> Result<T> {
    match rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome
            .clone()
            .unwrap_or_else(|| Err(Error::internal("a fetch ended without a result"))),
        // The task ended without sending: it panicked, or its runtime shut down.
        Err(_) => Err(Error::internal(
            "the token fetch was interrupted (its task panicked or its runtime shut down)",
        )),
    }
}
