//! `certless_diagnose`: core's leg-by-leg diagnosis (`certless::diagnose`), as a report object
//! whose JSON is what `certless doctor --json` prints.

use std::ffi::{CString, c_char};

use certless::CredentialBuilder;

use crate::boundary::{Out, c_string, guard, guard_value, invalid_argument, ref_arg, str_arg};
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
        // SAFETY: the caller's contract on each string (NULL allowed).
        let path = if config_path.is_null() {
            None
        } else {
            // SAFETY: `config_path` is NULL or valid, as this function's `# Safety` requires of its caller.
            Some(unsafe { str_arg(config_path, "config_path") }?)
        };
        let json = if config_json.is_null() {
            None
        } else {
            // SAFETY: `config_json` is NULL or valid, as this function's `# Safety` requires of its caller.
            Some(unsafe { str_arg(config_json, "config_json") }?)
        };
        // SAFETY: `scope` is NULL or valid, as this function's `# Safety` requires of its caller.
        let scope = unsafe { scope_arg(scope) }?;
        let out = Out::new(report_out, "report_out")?;
        let builder = match (path, json) {
            (Some(_), Some(_)) => {
                return Err(invalid_argument(
                    "pass config_path or config_json, not both",
                ));
            }
            (Some(path), None) => CredentialBuilder::from_config_file(path),
            (None, Some(json)) => CredentialBuilder::from_config_json(json),
            (None, None) => CredentialBuilder::from_env(),
        };
        out.write(run(builder, scope)?);
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
        let scope = unsafe { scope_arg(scope) }?;
        let out = Out::new(report_out, "report_out")?;
        out.write(run(options.options().builder(), scope)?);
        Ok(CERTLESS_OK)
    })
}

/// The scope argument: NULL means Microsoft Graph.
///
/// # Safety
/// `scope` is NULL or a valid NUL-terminated string.
unsafe fn scope_arg(scope: *const c_char) -> Result<String, certless::Error> {
    if scope.is_null() {
        Ok(certless::diagnose::DEFAULT_SCOPE.to_string())
    } else {
        // SAFETY: `scope` is not NULL, and valid as this function's `# Safety` requires.
        Ok(unsafe { str_arg(scope, "scope") }?.to_string())
    }
}

/// Diagnoses what `builder` describes; a builder that could not be made is the report's
/// configuration failure.
fn run(
    builder: certless::Result<CredentialBuilder>,
    scope: String,
) -> certless::Result<certless_report> {
    let report = match builder {
        Ok(builder) => certless::runtime::block_on(async move {
            certless::diagnose::diagnose(builder, &scope).await
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
