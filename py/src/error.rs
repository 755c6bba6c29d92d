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
    let causes = error
        .causes()
        .iter()
        .map(|c| exception(py, c))
        .collect::<PyResult<Vec<_>>>()?;
    let fields = PyDict::new(py);
    fields.set_item("message", error.to_string())?;
    fields.set_item("code", error.code().as_u32())?;
    fields.set_item("leg", error.leg().as_str())?;
    fields.set_item("reason", error.message())?;
    fields.set_item("remedy", error.remedy())?;
    fields.set_item("status", error.http_status())?;
    fields.set_item("aadsts_codes", PyTuple::new(py, error.aadsts_codes())?)?;
    fields.set_item("oauth_error", error.oauth_error())?;
    fields.set_item("trace_id", error.trace_id())?;
    fields.set_item("correlation_id", error.correlation_id())?;
    fields.set_item("credential_source", error.credential_source())?;
    fields.set_item("causes", PyTuple::new(py, causes)?)?;
    // No managed identity on this host: raised as `CredentialUnavailableError`, so that Azure SDK
    // credential chains move on to their next credential.
    fields.set_item("unavailable", error.is_unavailable())?;
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
