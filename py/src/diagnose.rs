//! `certless._certless.diagnose`: core's diagnosis (`certless::diagnose`), returned as the JSON
//! report. The constructor's keywords say what to diagnose.

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::prelude::*;

use crate::credential::credential_builder;
use crate::error::to_pyerr;

/// Walks the flow once, leg by leg, and returns the report as JSON (its `headline` is the cause
/// and the fix). The GIL is released while the legs run.
#[pyfunction]
#[pyo3(signature = (
    scope, *, tenant_id=None, client_id=None, authority_host=None,
    managed_identity_client_id=None, managed_identity_object_id=None, managed_identity_resource_id=None,
    managed_identity_source=None, token_exchange_audience=None,
    connect_timeout=None, request_timeout=None, ca_file=None, environment=None,
    config_json=None, config_file=None, from_env=false,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn diagnose(
    py: Python<'_>,
    scope: String,
    tenant_id: Option<String>,
    client_id: Option<String>,
    authority_host: Option<String>,
    managed_identity_client_id: Option<String>,
    managed_identity_object_id: Option<String>,
    managed_identity_resource_id: Option<String>,
    managed_identity_source: Option<String>,
    token_exchange_audience: Option<String>,
    connect_timeout: Option<f64>,
    request_timeout: Option<f64>,
    ca_file: Option<PathBuf>,
    environment: Option<HashMap<String, String>>,
    config_json: Option<String>,
    config_file: Option<PathBuf>,
    from_env: bool,
) -> PyResult<String> {
    let builder = match credential_builder(
        tenant_id,
        client_id,
        authority_host,
        managed_identity_client_id,
        managed_identity_object_id,
        managed_identity_resource_id,
        managed_identity_source,
        token_exchange_audience,
        connect_timeout,
        request_timeout,
        ca_file,
        environment,
        config_json,
        config_file,
        from_env,
    ) {
        Ok(builder) => builder,
        // Arguments that make no credential at all are a caller's mistake; a configuration that
        // cannot be read is a diagnosis.
        Err(e) if e.code() == certless::ErrorCode::InvalidArgument => return Err(to_pyerr(py, &e)),
        Err(e) => return Ok(certless::diagnose::unusable_configuration(&e).to_json()),
    };
    let report = py.detach(|| {
        certless::runtime::block_on(
            async move { certless::diagnose::diagnose(builder, &scope).await },
        )
    });
    report.map(|r| r.to_json()).map_err(|e| to_pyerr(py, &e))
}
