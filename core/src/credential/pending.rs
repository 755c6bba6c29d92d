//! A token request a host started and may cancel: the callback bridge under
//! [`Credential::get_token_callback`](crate::Credential::get_token_callback), for hosts with no
//! async runtime of their own (C, .NET, Python's sync API). The request runs on the certless
//! runtime (`support::runtime`); its callback runs exactly once.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorCode, Result};
use crate::support::runtime::handle;
use crate::token::AccessToken;

/// A token request running on the certless runtime; see
/// [`Credential::get_token_callback`](crate::Credential::get_token_callback).
#[derive(Debug)]
pub struct PendingToken {
    task: tokio::task::AbortHandle,
    finish: Finisher,
}

type Callback = Box<dyn FnOnce(Result<AccessToken>) + Send + 'static>;

/// Holds the completion callback until it has been called, so that it runs exactly once
/// whether the request completes, fails or is cancelled.
#[derive(Clone)]
struct Finisher(Arc<Mutex<Option<Callback>>>);

impl std::fmt::Debug for Finisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Finisher")
    }
}

impl Finisher {
    fn finish(&self, result: Result<AccessToken>) -> bool {
        let callback = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match callback {
            Some(cb) => {
                cb(result);
                true
            }
            None => false,
        }
    }
}

impl PendingToken {
    /// Cancels the request. The callback then runs once, on a runtime worker thread, with an
    /// [`ErrorCode::Cancelled`] error — unless it has already run, in which case this returns
    /// `false` and nothing happens. A fetch other callers share goes on for them.
    pub fn cancel(&self) -> bool {
        self.task.abort();
        // Taken here, not in the spawned task: a second `cancel` (or the request's own end) then
        // finds nothing to finish and says so.
        let Some(callback) = self
            .finish
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return false;
        };
        let cancelled = Error::new(
            ErrorCode::Cancelled,
            "the token request was cancelled by the caller",
        );
        match handle() {
            Ok(h) => {
                h.spawn(async move { callback(Err(cancelled)) });
            }
            Err(_) => callback(Err(cancelled)),
        }
        true
    }
}

/// Runs `request` on the certless runtime and returns at once; `callback` runs exactly once, on
/// a runtime worker thread, with its result (or [`ErrorCode::Cancelled`] after
/// [`PendingToken::cancel`]).
pub(crate) fn spawn_with_callback<F>(
    request: impl Future<Output = Result<AccessToken>> + Send + 'static,
    callback: F,
) -> Result<PendingToken>
where
    F: FnOnce(Result<AccessToken>) + Send + 'static,
{
    let handle = handle()?;
    let finish = Finisher(Arc::new(Mutex::new(Some(Box::new(callback)))));
    let done = finish.clone();
    let task = handle.spawn(async move {
        let result = request.await;
        done.finish(result);
    });
    Ok(PendingToken {
        task: task.abort_handle(),
        finish,
    })
}
