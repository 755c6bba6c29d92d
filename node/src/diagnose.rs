//! `diagnose`: core's leg-by-leg diagnosis (`certless::diagnose`), handed to JS as the JSON
//! report. It runs on a libuv pool thread (it is not a hot path), never on the event loop. Its
//! settings (the scope, where to read the app's federated credentials back from) come as core's
//! `DiagnoseSettings` JSON, which index.js writes.

use certless::diagnose::DiagnoseSettings;
use certless::{CredentialBuilder, ErrorCode};
use napi::bindgen_prelude::{AsyncTask, Either, Object};
use napi::{Env, Task};
use napi_derive::napi;

use crate::config::credential_options;
use crate::error::ErrorInfo;

/// What to diagnose: at most one of a configuration file and a configuration JSON; with
/// neither, the options (`diagnose`'s last argument) or else the environment.
#[napi(object)]
pub struct DiagnoseTarget {
    /// A Microsoft.Identity.Web configuration file.
    pub config_file: Option<String>,
    /// A Microsoft.Identity.Web configuration, as JSON.
    pub config_json: Option<String>,
}

/// A diagnosis running on a libuv pool thread.
pub struct Diagnosis {
    builder: Option<certless::Result<CredentialBuilder>>,
    settings: DiagnoseSettings,
}

impl Task for Diagnosis {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let settings = std::mem::take(&mut self.settings);
        let report = match self.builder.take() {
            Some(Ok(builder)) => certless::runtime::block_on(async move {
                certless::diagnose::diagnose_with(builder, &settings).await
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
/// `settings` is `DiagnoseSettings`' JSON (`scope`, `federated_credentials_file`,
/// `federated_credentials`, `graph`). Settings or options core refuses (an unknown name, a value
/// out of range, two managed identities, two sources of the federated credentials) are the
/// caller's mistake, not a diagnosis: they come back at once as an `ErrorInfo`.
#[napi(
    catch_unwind,
    ts_args_type = "target: DiagnoseTarget, settings: string, options?: Record<string, unknown>",
    ts_return_type = "Promise<string> | ErrorInfo"
)]
pub fn diagnose(
    target: DiagnoseTarget,
    settings: String,
    options: Option<Object<'_>>,
) -> napi::Result<Either<AsyncTask<Diagnosis>, ErrorInfo>> {
    let settings = match DiagnoseSettings::from_json(&settings) {
        Ok(settings) => settings,
        Err(e) => return Ok(Either::B(e.into())),
    };
    let builder = match (target.config_file, target.config_json, options) {
        (Some(path), None, None) => CredentialBuilder::from_config_file(path),
        (None, Some(json), None) => CredentialBuilder::from_config_json(&json),
        (None, None, Some(options)) => match credential_options(&options)? {
            Err(e) => return Ok(Either::B(e.into())),
            Ok(options) => match options.builder() {
                Err(e) if e.code() == ErrorCode::InvalidArgument => {
                    return Ok(Either::B(e.into()));
                }
                built => built,
            },
        },
        (None, None, None) => CredentialBuilder::from_env(),
        _ => Err(certless::Error::new(
            ErrorCode::InvalidArgument,
            "diagnose takes one of a configuration file, a configuration object, or options",
        )),
    };
    Ok(Either::A(AsyncTask::new(Diagnosis {
        builder: Some(builder),
        settings,
    })))
}
