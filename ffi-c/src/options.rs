//! The options handle: the C face of `certless::CredentialOptions`. Options are set by name, so an
//! option added to core reaches C with no new function, with core's rules and error text.

use std::ffi::c_char;

use certless::{CredentialOptions, OptionValue};

use crate::boundary::{Out, guard, guard_value, mut_arg, ref_arg, str_arg};
use crate::credential::certless_credential;
use crate::error::{CERTLESS_OK, certless_error, certless_status};

/// The options of a credential, set one by one by name, then built into a credential with
/// `certless_credential_from_options`.
///
/// Names are those of docs/configuration.md's options in any spelling: `"tenant_id"`, `"tenantId"`
/// and `"TenantId"` are one option. A duration takes seconds, or milliseconds under its name plus
/// `_ms` (`"connect_timeout_ms"`). An unknown name is `CERTLESS_UNKNOWN_CONFIG_KEY` with the name
/// probably meant in `certless_error_remedy`; a value of the wrong kind or out of range is
/// `CERTLESS_INVALID_ARGUMENT` saying what the option takes. A setter that fails changes nothing.
///
/// Create with `certless_options_new`, release with `certless_options_free`. Thread-safety: not
/// thread-safe while being modified; `certless_credential_from_options` only reads it, so one
/// options object may build credentials on several threads at once while no thread modifies it.
/// A credential keeps no reference to the options it was built from.
pub struct certless_options {
    options: CredentialOptions,
}

impl certless_options {
    /// The options set so far.
    pub(crate) fn options(&self) -> &CredentialOptions {
        &self.options
    }
}

/// Creates an options object with nothing set. On success `*options_out` receives it; the caller
/// owns it (free it with `certless_options_free`). The only failure is a NULL `options_out`.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_new(
    options_out: *mut *mut certless_options,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        let out = Out::new(options_out, "options_out")?;
        out.write(certless_options {
            options: CredentialOptions::new(),
        });
        Ok(CERTLESS_OK)
    })
}

/// Sets option `name` to the text `value`, both NUL-terminated UTF-8 strings, copied. Text is
/// taken by every option: a duration or a flag parses it (`"2.5"`, `"true"`). Setting an option
/// again replaces its value. On failure the status is returned, the options are unchanged and,
/// if `error_out` is not NULL, `*error_out` receives an error object the caller owns.
///
/// # Safety
/// `options` is NULL or live and not used by another thread meanwhile; `name` and `value` are
/// NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_set(
    options: *mut certless_options,
    name: *const c_char,
    value: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: `value` is NULL or valid, as this function's `# Safety` requires of its caller.
        let value = unsafe { str_arg(value, "value") }?;
        // SAFETY: as this function's `# Safety` requires of its caller.
        unsafe { set(options, name, OptionValue::Text(value.to_string())) }
    })
}

/// What every setter does once its value is converted.
///
/// # Safety
/// `options` is NULL or live and not used by another thread meanwhile; `name` is NULL or a
/// NUL-terminated string.
unsafe fn set(
    options: *mut certless_options,
    name: *const c_char,
    value: OptionValue,
) -> Result<certless_status, certless::Error> {
    // SAFETY: the caller's contract on `options`.
    let options = unsafe { mut_arg(options, "options") }?;
    // SAFETY: the caller's contract on `name`.
    let name = unsafe { str_arg(name, "name") }?;
    options.options.set(name, value)?;
    Ok(CERTLESS_OK)
}

/// Sets option `name` (a NUL-terminated UTF-8 string) to the number `value`: seconds for a
/// duration (`"deadline"`), milliseconds under a name ending in `_ms`. Durations must be more
/// than 0 and at most one hour. Errors as `certless_options_set`.
///
/// # Safety
/// As `certless_options_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_set_number(
    options: *mut certless_options,
    name: *const c_char,
    value: f64,
    error_out: *mut *mut certless_error,
) -> certless_status {
    // SAFETY: as this function's `# Safety` requires of its caller.
    guard(error_out, || unsafe {
        set(options, name, OptionValue::Number(value))
    })
}

/// Sets the flag option `name` (`"from_env"`) to `value`. Errors as `certless_options_set`.
///
/// # Safety
/// As `certless_options_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_set_flag(
    options: *mut certless_options,
    name: *const c_char,
    value: bool,
    error_out: *mut *mut certless_error,
) -> certless_status {
    // SAFETY: as this function's `# Safety` requires of its caller.
    guard(error_out, || unsafe {
        set(options, name, OptionValue::Flag(value))
    })
}

/// Clears option `name`, as if it had never been set. An unknown name is an error, as for the
/// setters.
///
/// # Safety
/// As `certless_options_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_unset(
    options: *mut certless_options,
    name: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let options = unsafe { mut_arg(options, "options") }?;
        // SAFETY: `name` is NULL or valid, as this function's `# Safety` requires of its caller.
        let name = unsafe { str_arg(name, "name") }?;
        options.options.unset(name)?;
        Ok(CERTLESS_OK)
    })
}

/// Adds the variable `name` = `value` (NUL-terminated UTF-8 strings, copied) to the environment
/// the credential reads for managed-identity detection and `from_env`. Once one variable is
/// added, the process's environment is not read at all: add every variable the credential needs
/// (`IDENTITY_ENDPOINT`, `AZURE_TENANT_ID`, ...). A name that is empty or holds `=` is an error.
///
/// # Safety
/// As `certless_options_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_set_environment_variable(
    options: *mut certless_options,
    name: *const c_char,
    value: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let options = unsafe { mut_arg(options, "options") }?;
        // SAFETY: `name` is NULL or valid, as this function's `# Safety` requires of its caller.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: `value` is NULL or valid, as this function's `# Safety` requires of its caller.
        let value = unsafe { str_arg(value, "value") }?;
        options.options.set_environment_variable(name, value)?;
        Ok(CERTLESS_OK)
    })
}

/// Makes the credential read no variable of the process's environment: only those added with
/// `certless_options_set_environment_variable` (none, unless some are added).
///
/// # Safety
/// `options` is NULL or live and not used by another thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_isolate_environment(
    options: *mut certless_options,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `options`.
        let options = unsafe { mut_arg(options, "options") }?;
        options.options.isolate_environment();
        Ok(CERTLESS_OK)
    })
}

/// Creates a credential from options: a configuration (`config_json`, `config_file` or
/// `from_env`, at most one) with the other options applied on top, or the options alone
/// (`tenant_id`, `client_id`, a managed identity or none for the system-assigned one, ...).
/// Everything is validated here; `options` is only read and may be freed or reused afterwards.
///
/// On success `*credential_out` receives a new credential the caller owns (free it with
/// `certless_credential_free`). On failure the status code is returned, `*credential_out` is
/// left untouched and, if `error_out` is not NULL, `*error_out` receives an error object the
/// caller owns. No network traffic happens here.
///
/// # Safety
/// Pointers are NULL or valid as described; no other thread modifies `options` meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_from_options(
    options: *const certless_options,
    credential_out: *mut *mut certless_credential,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `options`.
        let options = unsafe { ref_arg(options, "options") }?;
        let out = Out::new(credential_out, "credential_out")?;
        crate::telemetry::name_the_host();
        out.write(certless_credential::new(options.options.build()?));
        Ok(CERTLESS_OK)
    })
}

/// Releases an options object. NULL does nothing. Credentials built from it are not affected.
///
/// # Safety
/// `options` is NULL or an options object this library handed out, not yet freed, and no other
/// thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_options_free(options: *mut certless_options) {
    if !options.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_options>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(options) }));
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::error::{
        CERTLESS_INVALID_ARGUMENT, CERTLESS_UNKNOWN_CONFIG_KEY, certless_error_free,
        certless_error_remedy,
    };

    #[test]
    fn a_failed_set_writes_the_error_and_keeps_the_options() {
        let mut options = std::ptr::null_mut();
        let mut error = std::ptr::null_mut();
        // SAFETY: every pointer passed below is a live local or NULL, as each function allows.
        unsafe {
            assert_eq!(certless_options_new(&mut options, &mut error), CERTLESS_OK);
            assert!(error.is_null());
            let status =
                certless_options_set(options, c"tennant_id".as_ptr(), c"x".as_ptr(), &mut error);
            assert_eq!(status, CERTLESS_UNKNOWN_CONFIG_KEY);
            let remedy = CStr::from_ptr(certless_error_remedy(error));
            assert_eq!(remedy.to_str().unwrap(), "Did you mean 'tenant_id'?");
            certless_error_free(error);
            let status = certless_options_set_number(
                options,
                c"deadline".as_ptr(),
                0.0,
                std::ptr::null_mut(),
            );
            assert_eq!(status, CERTLESS_INVALID_ARGUMENT);
            assert_eq!((*options).options, CredentialOptions::new());
            certless_options_free(options);
            certless_options_free(std::ptr::null_mut());
        }
    }
}
