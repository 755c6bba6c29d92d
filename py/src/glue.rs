//! What the pure-Python layer hands the extension when `certless` is imported: the token types
//! (azure-core's when it is installed, look-alikes otherwise), the exception factory (the
//! exception classes are Python classes, so that they can derive from azure-core's
//! `ClientAuthenticationError`) and the helper that settles an asyncio future on its loop.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

pub(crate) struct Glue {
    /// `AccessToken(token, expires_on)`.
    pub access_token: Py<PyAny>,
    /// `AccessTokenInfo(token, expires_on, *, token_type, refresh_on)`.
    pub access_token_info: Py<PyAny>,
    /// `error_factory(fields: dict) -> CertlessError`.
    pub error_factory: Py<PyAny>,
    /// `settle(future, ok, value)`: sets the result or exception unless the future is done.
    pub settle: Py<PyAny>,
}

static GLUE: PyOnceLock<Glue> = PyOnceLock::new();

/// Called once by `certless/__init__.py`; later calls (a module reload) keep the first values.
#[pyfunction]
pub(crate) fn install(
    py: Python<'_>,
    access_token: Py<PyAny>,
    access_token_info: Py<PyAny>,
    error_factory: Py<PyAny>,
    settle: Py<PyAny>,
) {
    let _ = GLUE.set(
        py,
        Glue {
            access_token,
            access_token_info,
            error_factory,
            settle,
        },
    );
}

pub(crate) fn get(py: Python<'_>) -> PyResult<&Glue> {
    GLUE.get(py).ok_or_else(|| {
        PyRuntimeError::new_err(
            "certless._certless was imported without the certless package; import certless instead",
        )
    })
}
