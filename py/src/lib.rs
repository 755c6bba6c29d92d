//! The certless Python extension, `certless._certless`: thin glue between the pure-Python package
//! `certless` and the Rust core. It converts arguments, maps errors and bridges asyncio; every token
//! decision (sources, exchange, cache, retry) is made by core.
//!
//! Files mirror core: `credential.rs` wraps `certless::Credential`, `options.rs` fills
//! `certless::CredentialOptions` from keyword arguments, `error.rs` maps `certless::Error`,
//! `runtime.rs` bridges core's runtime to asyncio. `glue.rs` holds what the
//! Python layer hands in at import (token types, exception factory); `exit.rs` keeps certless's
//! threads out of Python once the interpreter exits; `telemetry.rs` names the host and flushes
//! OpenTelemetry's exports at exit.

use pyo3::prelude::*;

mod credential;
mod diagnose;
mod error;
mod exit;
mod glue;
mod options;
mod resource;
mod runtime;
mod scope;
mod telemetry;

/// Core logs through the `log` crate with targets `certless::…`; they become the Python loggers
/// `certless.…` (children of `certless`). Only certless's own records cross over: the HTTP and TLS
/// crates underneath stay quiet. Levels are not cached, so `logging.getLogger("certless").setLevel`
/// takes effect at once (records are rare: one per token fetch).
fn install_logging(py: Python<'_>) {
    let logger = match pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers) {
        Ok(l) => l
            .filter(log::LevelFilter::Off)
            .filter_target("certless".to_string(), log::LevelFilter::Debug),
        Err(_) => return,
    };
    // Another extension may have installed a `log` backend first; then certless logs through it.
    if log::set_boxed_logger(Box::new(ExitGatedLogger(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

/// Records are logged from runtime threads too: they enter Python through `exit::attach`, so a
/// record emitted once Python has begun to exit is dropped instead of crashing the process.
struct ExitGatedLogger(pyo3_log::Logger);

impl log::Log for ExitGatedLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.0.enabled(record.metadata()) {
            exit::attach(|_| self.0.log(record));
        }
    }

    fn flush(&self) {}
}

#[pymodule]
fn _certless(m: &Bound<'_, PyModule>) -> PyResult<()> {
    exit::install(m)?;
    telemetry::install(m)?;
    install_logging(m.py());
    m.add("__version__", certless::VERSION)?;
    m.add_class::<credential::SyncCredential>()?;
    m.add_class::<credential::AsyncCredential>()?;
    m.add_class::<runtime::Ready>()?;
    m.add_class::<runtime::CancelOnDone>()?;
    m.add_function(wrap_pyfunction!(glue::install, m)?)?;
    m.add_function(wrap_pyfunction!(diagnose::diagnose, m)?)?;
    m.add_function(wrap_pyfunction!(resource::explain_refusal, m)?)?;
    m.add_function(wrap_pyfunction!(telemetry::flush_telemetry, m)?)?;
    Ok(())
}
