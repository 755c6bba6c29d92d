//! `certless._certless.explain_refusal`: core's explanation of a resource's refusal of a token
//! (`certless::resource::explain_refusal`), as the exception object — returned, not raised.

use pyo3::prelude::*;

use crate::error::exception;

/// The `CertlessError` (code 700, leg `resource`) explaining why a resource refused a token.
#[pyfunction]
#[pyo3(signature = (url, status, www_authenticate=None, body=None, token=None))]
pub(crate) fn explain_refusal<'py>(
    py: Python<'py>,
    url: &str,
    status: u16,
    www_authenticate: Option<&str>,
    body: Option<&str>,
    token: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let error = certless::resource::explain_refusal(
        url,
        status,
        www_authenticate,
        body.unwrap_or_default(),
        token,
    );
    exception(py, &error)
}
