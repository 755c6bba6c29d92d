//! `certless::Error` as a Python exception. The classes live in `certless/errors.py` (one per leg,
//! deriving from azure-core's `ClientAuthenticationError` when it is installed); this file only
//! collects the error's fields and asks the Python factory for the instance.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::glue;

/// The exception object for `error`, with its causes (one per failed credential source) as
/// exception objects too.
pub(crate) fn exception<'py>(
    py: Python<'py>,
    error: &certless::Error,
) -> PyResult<Bound<'py, PyAny>> {
    from_report(py, error.report())
}

/// Python's form of core's error record: the fields the factory in `errors.py` sets as the
/// exception's attributes.
fn from_report(py: Python<'_>, report: certless::ErrorReport) -> PyResult<Bound<'_, PyAny>> {
    let causes = report
        .causes
        .into_iter()
        .map(|c| from_report(py, c))
        .collect::<PyResult<Vec<_>>>()?;
    let fields = PyDict::new(py);
    fields.set_item("message", report.text)?;
    fields.set_item("code", report.code)?;
    fields.set_item("leg", report.leg)?;
    fields.set_item("reason", report.reason)?;
    fields.set_item("remedy", report.remedy)?;
    fields.set_item("status", report.http_status)?;
    fields.set_item("aadsts_codes", PyTuple::new(py, report.aadsts_codes)?)?;
    fields.set_item("oauth_error", report.oauth_error)?;
    fields.set_item("trace_id", report.trace_id)?;
    fields.set_item("correlation_id", report.correlation_id)?;
    fields.set_item("credential_source", report.credential_source)?;
    fields.set_item("causes", PyTuple::new(py, causes)?)?;
    // No managed identity on this host: raised as `CredentialUnavailableError`, so that Azure SDK
    // credential chains move on to their next credential.
    fields.set_item("unavailable", report.unavailable)?;
    glue::get(py)?.error_factory.bind(py).call1((fields,))
}

/// `error` raised as its Python exception. If building the exception itself fails (the package
/// was half imported), that failure is raised instead: it names the real problem.
pub(crate) fn to_pyerr(py: Python<'_>, error: &certless::Error) -> PyErr {
    match exception(py, error) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// An argument the binding rejects itself, reported like core's own argument errors (code 100,
/// leg `config`).
pub(crate) fn invalid_argument(message: impl Into<String>) -> certless::Error {
    certless::Error::new(certless::ErrorCode::InvalidArgument, message)
}
