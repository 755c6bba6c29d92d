//! `diagnose`: core's leg-by-leg diagnosis (`certless::diagnose`), handed to JS as the JSON
//! report. It runs on a libuv pool thread (it is not a hot path), never on the event loop.

use certless::CredentialBuilder;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use crate::config::CredentialOptions;

/// What to diagnose: exactly one of a configuration file, a configuration JSON, credential
/// options, or (none of them) the environment.
#[napi(object)]
pub struct DiagnoseTarget {
    pub config_file: Option<String>,
    pub config_json: Option<String>,
    pub options: Option<CredentialOptions>,
}

pub struct Diagnosis {
    builder: Option<certless::Result<CredentialBuilder>>,
    scope: String,
}

impl Task for Diagnosis {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let scope = std::mem::take(&mut self.scope);
        let report = match self.builder.take() {
            Some(Ok(builder)) => certless::runtime::block_on(async move {
                certless::diagnose::diagnose(builder, &scope).await
            })
            .map_err(|e| napi::Error::from_reason(e.to_string()))?,
            Some(Err(e)) => certless::diagnose::unusable_configuration(&e),
            None => return Err(napi::Error::from_reason("the diagnosis ran twice")),
        };
        Ok(report.to_json())
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}

/// Resolves to the JSON report; never rejects for a failing flow (the failure is the report).
#[napi(catch_unwind, ts_return_type = "Promise<string>")]
pub fn diagnose(target: DiagnoseTarget, scope: String) -> AsyncTask<Diagnosis> {
    let builder = match (target.config_file, target.config_json, target.options) {
        (Some(path), None, None) => CredentialBuilder::from_config_file(path),
        (None, Some(json), None) => CredentialBuilder::from_config_json(&json),
        (None, None, Some(options)) => options.into_builder(),
        (None, None, None) => CredentialBuilder::from_env(),
        _ => Err(certless::Error::new(
            certless::ErrorCode::InvalidArgument,
            "diagnose takes one of a configuration file, a configuration object, or options",
        )),
    };
    AsyncTask::new(Diagnosis {
        builder: Some(builder),
        scope,
    })
}
