//! `certless::telemetry` for Python: the host's name, `flush_telemetry`, and the flush at exit.
//! What is recorded and where it goes is core's (docs/telemetry.md); this file only names the
//! host, converts the timeout and waits with the GIL released.

use std::time::Duration;

use certless::{Error, ErrorCode};
use pyo3::prelude::*;

use crate::error::to_pyerr;

/// How long the interpreter's exit waits for the collector: long enough for a collector on the
/// same host or network, short enough that an unreachable one does not hold up the exit.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(2);

/// The longest timeout `flush_telemetry` takes, as for every other duration of certless.
const LONGEST_TIMEOUT: f64 = 3600.0;

/// Exports the telemetry recorded so far and waits at most `timeout` seconds for the collector.
/// True when everything was sent, or nothing needed sending (telemetry off).
#[pyfunction]
#[pyo3(signature = (timeout = 5.0))]
pub(crate) fn flush_telemetry(py: Python<'_>, timeout: f64) -> PyResult<bool> {
    if !(0.0..=LONGEST_TIMEOUT).contains(&timeout) {
        let error = Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "flush_telemetry's timeout must be from 0 to {LONGEST_TIMEOUT} seconds, not {timeout}"
            ),
        );
        return Err(to_pyerr(py, &error));
    }
    let timeout = Duration::from_secs_f64(timeout);
    // The export runs on certless's runtime; its threads may log, which enters Python.
    Ok(py.detach(|| certless::telemetry::flush(timeout)))
}

/// The `atexit` callback: what was recorded since the last export still reaches the collector.
#[pyfunction]
fn flush_at_exit(py: Python<'_>) {
    py.detach(|| certless::telemetry::flush(FLUSH_AT_EXIT));
}

/// Names the host and registers the flush at exit; called once, when the extension is imported,
/// after `exit::install`. `atexit` runs its callbacks last in, first out, so the flush runs before
/// `exit` closes its gate: log records of the export still reach `logging`, and the runtime's
/// threads that enter Python meanwhile can, as the GIL is released while the flush waits.
pub(crate) fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    certless::telemetry::set_host("python");
    m.py()
        .import("atexit")?
        .call_method1("register", (wrap_pyfunction!(flush_at_exit, m)?,))?;
    Ok(())
}
