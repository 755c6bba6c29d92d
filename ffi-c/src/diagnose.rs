//! `certless_diagnose`: core's leg-by-leg diagnosis (`certless::diagnose`), as a report object
//! whose JSON is what `certless doctor --json` prints.

use std::ffi::{CString, c_char};

use certless::CredentialBuilder;
use certless::diagnose::{DEFAULT_SCOPE, DiagnoseSettings};

use crate::boundary::{Out, c_string, guard, guard_value, invalid_argument, opt_str_arg, ref_arg};
use crate::error::{CERTLESS_OK, certless_error, certless_status};
use crate::options::certless_options;

/// A diagnosis: the report as JSON, its headline (the cause and the fix in one line), and whether
/// a token was obtained. Immutable; may be read from any thread.
pub struct certless_report {
    json: CString,
    headline: CString,
    ok: bool,
}

/// Walks the flow once, leg by leg — configuration, managed-identity endpoint, what a matching
/// federated credential needs, the exchange, the token — and reports what it saw. Blocking: it
/// returns when every leg has answered (one attempt each, within the configured timeouts).
///
/// What to diagnose: `config_path` (an `appsettings.json`) or `config_json` (its text), at most
/// one of them; both NULL means the process environment (`AZURE_TENANT_ID`, ...). `scope` is the
/// scope to get a token for; NULL means `https://graph.microsoft.com/.default`.
/// `certless_diagnose_with` also reads the app's federated credentials back.
///
/// A failing flow is not an error: the call succeeds and the report says what failed. On
/// success `*report_out` receives a report the caller owns (free it with `certless_report_free`);
/// on failure (bad arguments) the status code is returned and `*error_out`, if not NULL, receives
/// an error object. Thread-safe.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_diagnose(
    config_path: *const c_char,
    config_json: *const c_char,
    scope: *const c_char,
    report_out: *mut *mut certless_report,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: each pointer is NULL or valid, as this function's `# Safety` requires of its caller.
        let target = unsafe { target_arg(config_path, config_json, std::ptr::null()) }?;
        // SAFETY: `scope` is NULL or valid, as this function's `# Safety` requires of its caller.
        let settings = unsafe { scope_arg(scope) }?;
        let out = Out::new(report_out, "report_out")?;
        out.write(run(target.builder(), settings)?);
        Ok(CERTLESS_OK)
    })
}

/// [`certless_diagnose`] for the credential an options object describes (the options
/// `certless_credential_from_options` takes): one attempt per leg with those settings. `scope`
/// as for `certless_diagnose`. Options that cannot make a credential (a missing tenant, say) are
/// the report's configuration failure, not an error. Errors (bad arguments) as for
/// `certless_diagnose`. Thread-safe as long as no thread modifies `options` meanwhile.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_diagnose_options(
    options: *const certless_options,
    scope: *const c_char,
    report_out: *mut *mut certless_report,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `options`.
        let options = unsafe { ref_arg(options, "options") }?;
        // SAFETY: `scope` is NULL or valid, as this function's `# Safety` requires of its caller.
        let settings = unsafe { scope_arg(scope) }?;
        let out = Out::new(report_out, "report_out")?;
        out.write(run(options.options().builder(), settings)?);
        Ok(CERTLESS_OK)
    })
}

/// [`certless_diagnose`] with settings: the scope, and where to read the app's federated
/// credentials back from, so that the report's headline names the credential that matches the
/// managed identity's token (`... through federated credential '<name>'`) or the one that nearly
/// does, what differs and the `az` command that fixes it.
///
/// What to diagnose: at most one of `config_path` (an `appsettings.json`), `config_json` (its
/// text) and `options` (as `certless_credential_from_options` takes them); all NULL means the
/// process environment. A configuration that cannot make a credential is the report's
/// configuration failure, not an error.
///
/// `settings_json` is NULL (the defaults: Microsoft Graph's default scope, nothing read back) or
/// a JSON object with any of these keys, and no others:
/// - `"scope"`: the scope to get a token for;
/// - `"federated_credentials_file"`: the path of a file holding what
///   `az ad app federated-credential list --id <app>` prints (or Graph's `{"value": [...]}`);
/// - `"federated_credentials"`: that list itself, as a JSON array or Graph's `{"value": [...]}`;
/// - `"graph"`: read the list from Microsoft Graph, `{"token_env": "VAR"}` or
///   `{"token_command": "az account get-access-token --resource-type ms-graph"}`, and optionally
///   `"url"` (default: the configured cloud's Graph). The token is used for the reads only.
///
/// At most one of the last three. Settings that are not valid UTF-8, not JSON, hold an unknown
/// key or contradict themselves fail the call with `CERTLESS_INVALID_ARGUMENT` and an error whose
/// message says what is wrong. A list that cannot be read (a missing file) is a warning in the
/// report, not an error.
///
/// On success `*report_out` receives a report the caller owns (free it with
/// `certless_report_free`); on failure the status code is returned and `*error_out`, if not NULL,
/// receives an error object. Blocking. Thread-safe as long as no thread modifies `options`
/// meanwhile.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_diagnose_with(
    config_path: *const c_char,
    config_json: *const c_char,
    options: *const certless_options,
    settings_json: *const c_char,
    report_out: *mut *mut certless_report,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: each pointer is NULL or valid, as this function's `# Safety` requires of its caller.
        let target = unsafe { target_arg(config_path, config_json, options) }?;
        // SAFETY: `settings_json` is NULL or valid, as this function's `# Safety` requires of its caller.
        let settings = match unsafe { opt_str_arg(settings_json, "settings_json") }? {
            Some(json) => DiagnoseSettings::from_json(json)?,
            None => DiagnoseSettings::default(),
        };
        let out = Out::new(report_out, "report_out")?;
        out.write(run(target.builder(), settings)?);
        Ok(CERTLESS_OK)
    })
}

/// What to diagnose: at most one configuration was given; none means the environment.
enum Target<'a> {
    Environment,
    File(&'a str),
    Json(&'a str),
    Options(&'a certless_options),
}

impl Target<'_> {
    /// The builder; an error is a configuration that cannot make a credential (the report's
    /// configuration failure, not the call's).
    fn builder(self) -> certless::Result<CredentialBuilder> {
        match self {
            Target::Environment => CredentialBuilder::from_env(),
            Target::File(path) => CredentialBuilder::from_config_file(path),
            Target::Json(json) => CredentialBuilder::from_config_json(json),
            Target::Options(options) => options.options().builder(),
        }
    }
}

/// The configuration arguments: at most one of them may be given.
///
/// # Safety
/// Each pointer is NULL or valid: a NUL-terminated string, or a live options object.
unsafe fn target_arg<'a>(
    config_path: *const c_char,
    config_json: *const c_char,
    options: *const certless_options,
) -> Result<Target<'a>, certless::Error> {
    // SAFETY: `config_path` is NULL or valid, as this function's `# Safety` requires.
    let path = unsafe { opt_str_arg(config_path, "config_path") }?;
    // SAFETY: `config_json` is NULL or valid, as this function's `# Safety` requires.
    let json = unsafe { opt_str_arg(config_json, "config_json") }?;
    // SAFETY: `options` is NULL or a live options object, as this function's `# Safety` requires.
    let options = unsafe { options.as_ref() };
    Ok(match (path, json, options) {
        (None, None, None) => Target::Environment,
        (Some(path), None, None) => Target::File(path),
        (None, Some(json), None) => Target::Json(json),
        (None, None, Some(options)) => Target::Options(options),
        _ => {
            let given: Vec<&str> = [
                (path.is_some(), "config_path"),
                (json.is_some(), "config_json"),
                (options.is_some(), "options"),
            ]
            .into_iter()
            .filter_map(|(given, name)| given.then_some(name))
            .collect();
            return Err(invalid_argument(format!(
                "{} are given: pass one configuration at most",
                given.join(" and ")
            )));
        }
    })
}

/// The settings of a call that names only a scope: NULL means Microsoft Graph.
///
/// # Safety
/// `scope` is NULL or a valid NUL-terminated string.
unsafe fn scope_arg(scope: *const c_char) -> Result<DiagnoseSettings, certless::Error> {
    // SAFETY: `scope` is NULL or valid, as this function's `# Safety` requires.
    let scope = unsafe { opt_str_arg(scope, "scope") }?;
    Ok(DiagnoseSettings {
        scope: Some(scope.unwrap_or(DEFAULT_SCOPE).to_string()),
        ..Default::default()
    })
}

/// Diagnoses what `builder` describes; a builder that could not be made is the report's
/// configuration failure.
fn run(
    builder: certless::Result<CredentialBuilder>,
    settings: DiagnoseSettings,
) -> certless::Result<certless_report> {
    crate::telemetry::name_the_host();
    let report = match builder {
        Ok(builder) => certless::runtime::block_on(async move {
            certless::diagnose::diagnose_with(builder, &settings).await
        })?,
        Err(e) => certless::diagnose::unusable_configuration(&e),
    };
    Ok(certless_report {
        json: c_string(&report.to_json()),
        headline: c_string(&report.headline),
        ok: report.ok,
    })
}

/// Reads a field of a report; `fallback` for NULL.
fn read<T: Copy>(
    report: *const certless_report,
    fallback: T,
    field: impl FnOnce(&certless_report) -> T,
) -> T {
    // SAFETY: the caller passed NULL or a live report (the documented contract).
    guard_value(fallback, || {
        // SAFETY: `report` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { report.as_ref() }.map_or(fallback, field)
    })
}

/// The report as JSON (the schema of `certless doctor --json`). Owned by the report. NULL for a
/// NULL report.
#[unsafe(no_mangle)]
pub extern "C" fn certless_report_json(report: *const certless_report) -> *const c_char {
    read(report, std::ptr::null(), |r| r.json.as_ptr())
}

/// The first line of the report: `OK: ...`, or `FAIL: <cause>. Fix: <fix>`. Owned by the report.
/// NULL for a NULL report.
#[unsafe(no_mangle)]
pub extern "C" fn certless_report_headline(report: *const certless_report) -> *const c_char {
    read(report, std::ptr::null(), |r| r.headline.as_ptr())
}

/// Whether a token was obtained. False for a NULL report.
#[unsafe(no_mangle)]
pub extern "C" fn certless_report_ok(report: *const certless_report) -> bool {
    read(report, false, |r| r.ok)
}

/// Releases a report. NULL does nothing.
///
/// # Safety
/// `report` is NULL or a report this library handed out, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_report_free(report: *mut certless_report) {
    guard_value((), || {
        if !report.is_null() {
            // SAFETY: handed out by `certless_diagnose` as a Box, freed once (the contract).
            drop(unsafe { Box::from_raw(report) });
        }
    })
}
