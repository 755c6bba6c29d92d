//! `certless._certless.diagnose`: core's diagnosis (`certless::diagnose`), returned as the JSON
//! report. The constructor's keywords say what to diagnose; the settings (the scope, where to read
//! the app's federated credentials back from) come as core's `DiagnoseSettings` JSON.

use certless::diagnose::DiagnoseSettings;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::to_pyerr;
use crate::options::credential_options;

/// Walks the flow once, leg by leg, and returns the report as JSON (its `headline` is the cause
/// and the fix). `settings` is `DiagnoseSettings`' JSON; settings core refuses (an unknown key,
/// two sources of the federated credentials) raise. The GIL is released while the legs run.
#[pyfunction]
#[pyo3(signature = (settings, **options))]
pub(crate) fn diagnose(
    py: Python<'_>,
    settings: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let settings = DiagnoseSettings::from_json(settings).map_err(|e| to_pyerr(py, &e))?;
    // A keyword core does not take, or a value it refuses, is the caller's mistake: raised.
    let options = credential_options(py, options)?;
    let builder = match options.builder() {
        Ok(builder) => builder,
        // Arguments that make no credential at all are a caller's mistake; a configuration that
        // cannot be read is a diagnosis.
        Err(e) if e.code() == certless::ErrorCode::InvalidArgument => return Err(to_pyerr(py, &e)),
        Err(e) => return Ok(certless::diagnose::unusable_configuration(&e).to_json()),
    };
    let report = py.detach(|| {
        certless::runtime::block_on(async move {
            certless::diagnose::diagnose_with(builder, &settings).await
        })
    });
    report.map(|r| r.to_json()).map_err(|e| to_pyerr(py, &e))
}
