//! Keeps certless's own threads out of Python once the interpreter has begun to exit.
//!
//! A runtime worker thread enters Python to settle an asyncio future and to hand a log record to
//! `logging`. If it does so while the interpreter finalizes, CPython kills or corrupts the thread
//! ("Fatal Python error: PyGILState_Release", SIGSEGV). `atexit` callbacks run while the
//! interpreter is still whole, before finalization starts, so the module registers one that
//! closes the gate below: from then on no certless thread enters Python, and the ones already
//! inside are waited for (at most [`WAIT_FOR_THREADS_INSIDE`]). A request that completes later —
//! a slow fetch, a cancelled one, a background refresh's log line — finds the gate closed and
//! drops its result, which nobody can receive any more.
//!
//! Checking `Py_IsFinalizing` before attaching would not do: it leaves a window between the check
//! and the attach, and it is not in the stable ABI before 3.13 (pyo3's `try_attach` only checks it
//! when built for 3.13+, not for this abi3-py310 module).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// The count of threads inside, plus `CLOSED` once Python has begun to exit. One atomic, so that
/// entering and closing never miss each other, and so that `fork()` cannot leave a lock held.
static GATE: AtomicUsize = AtomicUsize::new(0);
const CLOSED: usize = 1 << (usize::BITS - 1);

/// How long exit waits for threads already inside Python. They only build a token or an error
/// and queue it on the event loop (or pass a record to `logging`); the bound keeps a handler that
/// hangs from hanging the exit too.
const WAIT_FOR_THREADS_INSIDE: Duration = Duration::from_secs(5);

/// Runs `f` attached to the interpreter, on any thread, unless Python has begun to exit: then
/// `f` is dropped unrun and the answer is `None`. Python objects `f` owns are then released
/// without the GIL (pyo3 queues them), which touches no interpreter state.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    if GATE.fetch_add(1, Ordering::SeqCst) & CLOSED != 0 {
        GATE.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            GATE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    // Dropped after the thread has detached again: exit waits for that too.
    let _leave = Leave;
    Python::try_attach(f)
}

/// Whether Python has begun to exit (certless's threads no longer enter it).
pub(crate) fn begun() -> bool {
    GATE.load(Ordering::SeqCst) & CLOSED != 0
}

/// The `atexit` callback: closes the gate, then waits, with the GIL released so that they can
/// finish, for the threads inside to leave.
#[pyfunction]
fn close_at_exit(py: Python<'_>) {
    GATE.fetch_or(CLOSED, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + WAIT_FOR_THREADS_INSIDE;
        // Polled: this runs once per process, and almost always finds nobody inside.
        while GATE.load(Ordering::SeqCst) & !CLOSED != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// After `os.fork()` the child has none of the parent's threads, so none of them is inside.
#[pyfunction]
fn reset_after_fork() {
    GATE.fetch_and(CLOSED, Ordering::SeqCst);
}

/// Registers the `atexit` and fork hooks; called once, when the extension is imported.
pub(crate) fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    py.import("atexit")?
        .call_method1("register", (wrap_pyfunction!(close_at_exit, m)?,))?;
    let os = py.import("os")?;
    // Not on Windows: there is no fork there.
    if os.hasattr("register_at_fork")? {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("after_in_child", wrap_pyfunction!(reset_after_fork, m)?)?;
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    Ok(())
}
