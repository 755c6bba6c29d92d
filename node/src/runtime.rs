//! Cancellation of one in-flight request (core `runtime::PendingToken`), for `abortSignal`.

use std::sync::Mutex;

use certless::runtime::PendingToken;
use napi_derive::napi;

/// A handle the JS layer creates when a call has an `abortSignal`; `cancel()` cancels the
/// request in core. A fetch that other callers share goes on for them.
#[napi]
#[derive(Default)]
pub struct TokenRequest {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: Option<PendingToken>,
    cancelled: bool,
}

#[napi]
impl TokenRequest {
    /// A request handle that nothing has started yet.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the request; the native promise then settles with code 500 (cancelled).
    /// Returns `false` when there was nothing left to cancel.
    #[napi(catch_unwind)]
    pub fn cancel(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.cancelled = true;
        state.pending.take().is_some_and(|p| p.cancel())
    }

    pub(crate) fn attach(&self, pending: PendingToken) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.cancelled {
            pending.cancel();
        } else {
            state.pending = Some(pending);
        }
    }
}
