//! Core's runtime bridged to asyncio. A token request that misses the cache runs on certless's own
//! (fork-aware) runtime through `Credential::get_token_callback`; its result is handed to the event
//! loop that was running when the request was made, with `loop.call_soon_threadsafe`. Nothing ties
//! a credential to one loop, so it keeps working after that loop is closed and another one runs.
//! The runtime thread enters Python through `exit::attach`, never while the interpreter exits.

use std::sync::{Arc, Mutex};

use certless::TokenRequestOptions;
use certless::runtime::PendingToken;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::credential::{Shape, Shared};
use crate::{error, exit, glue};

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// An awaitable that is already complete: a cache hit in the async API, answered without a
/// future, a task switch or the runtime.
#[pyclass(module = "certless._certless", frozen)]
pub(crate) struct Ready {
    value: Py<PyAny>,
}

impl Ready {
    pub(crate) fn new(value: Py<PyAny>) -> Self {
        Ready { value }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The first step of the `await` finishes it: `StopIteration(value)` is how an iterator
    /// driven by `await` returns its result.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Err(PyStopIteration::new_err((self.value.clone_ref(py),)))
    }

    fn send(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<PyAny>> {
        drop(value);
        self.__next__(py)
    }
}

/// Done-callback of the future: when the awaiting task is cancelled, so is the request (core then
/// calls back once with `Cancelled`, which `settle` ignores because the future is done).
#[pyclass(module = "certless._certless", frozen)]
pub(crate) struct CancelOnDone {
    pending: Mutex<Option<PendingToken>>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(pending) = pending {
            if future.call_method0("cancelled")?.is_truthy()? {
                pending.cancel();
            }
        }
        Ok(())
    }
}

/// Starts a token request on core's runtime and returns a future of the running loop.
pub(crate) fn start(
    py: Python<'_>,
    shared: Arc<Shared>,
    scopes: Vec<String>,
    options: TokenRequestOptions,
    shape: Shape,
) -> PyResult<Py<PyAny>> {
    let get_running_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?;
    let event_loop = get_running_loop.call0()?;
    let future = event_loop.call_method0("create_future")?;
    let settle = glue::get(py)?.settle.clone_ref(py);
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let callback_shared = Arc::clone(&shared);
    let pending = shared
        .credential
        .get_token_callback_after_miss(scopes, options, move |result| {
            // Once Python has begun to exit, the result is dropped: nobody is waiting any more.
            exit::attach(move |py| {
                let outcome = match result {
                    Ok(token) => callback_shared
                        .token_object(py, token, shape)
                        .map(|o| (true, o)),
                    Err(e) => error::exception(py, &e).map(|e| (false, e.unbind())),
                };
                let (ok, value) = outcome.unwrap_or_else(|e| (false, e.into_value(py).into_any()));
                // A closed loop raises here: whoever waited on it is gone, so there is no one to tell.
                let _ = loop_ref.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (settle, future_ref, ok, value),
                );
            });
        })
        .map_err(|e| error::to_pyerr(py, &e))?;
    future.call_method1(
        "add_done_callback",
        (CancelOnDone {
            pending: Mutex::new(Some(pending)),
        },),
    )?;
    Ok(future.unbind())
}
