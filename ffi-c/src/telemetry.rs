//! OpenTelemetry for C hosts: the host's name and the flush before exit. What is recorded and
//! where it goes is core's, configured by the `OTEL_*` environment variables (docs/telemetry.md).

use std::ffi::c_char;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use certless::Error;

use crate::boundary::{guard, guard_value, invalid_argument, str_arg};
use crate::error::{CERTLESS_OK, certless_error, certless_status};

/// The longest host name taken: it is a tag on every metric point.
const MAX_HOST_LEN: usize = 32;

/// Names that need no copy; another name is copied once (core keeps a `&'static str`).
const KNOWN_HOSTS: &[&str] = &["c", "cpp", "dotnet", "powershell", "java", "go", "rust"];

/// At most this many distinct other names are ever copied, so a host that names itself in a
/// loop cannot grow the process's memory.
const MAX_OTHER_HOSTS: usize = 8;

/// The names copied so far (each leaked once, for the life of the process).
static OTHER_HOSTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Whether the host has named itself; if not, the library names it "c" before the first
/// credential is built.
static NAMED: AtomicBool = AtomicBool::new(false);

/// Called before every credential this library builds: a host that did not name itself is "c".
pub(crate) fn name_the_host() {
    if !NAMED.swap(true, Ordering::AcqRel) {
        certless::telemetry::set_host("c");
    }
}

fn static_name(host: &str) -> Result<&'static str, Error> {
    let valid = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
    if !valid {
        return Err(invalid_argument(format!(
            "argument `host` must be 1 to {MAX_HOST_LEN} ASCII letters, digits, '.', '-', '_' \
             or '+' (such as \"c\" or \"dotnet\"), not {host:?}"
        )));
    }
    if let Some(known) = KNOWN_HOSTS.iter().find(|k| **k == host) {
        return Ok(known);
    }
    let mut others = OTHER_HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(copied) = others.iter().find(|o| **o == host) {
        return Ok(copied);
    }
    if others.len() >= MAX_OTHER_HOSTS {
        return Err(invalid_argument(format!(
            "argument `host`: {MAX_OTHER_HOSTS} other host names were set already; \
             a process has one host"
        )));
    }
    let copied: &'static str = Box::leak(host.to_owned().into_boxed_str());
    others.push(copied);
    Ok(copied)
}

/// Names the program that loaded certless (`"c"`, `"cpp"`, `"dotnet"`, ...): the `Platform` tag
/// of the MSAL-named metrics and the `certless.host` resource attribute. Call it once, before the
/// first credential is built (a credential built first names the host `"c"`); the name is copied.
///
/// `host` is 1 to 32 ASCII letters, digits, `.`, `-`, `_` or `+`; anything else (and NULL, or
/// invalid UTF-8) is `CERTLESS_INVALID_ARGUMENT` with an error object in `*error_out` when
/// `error_out` is not NULL. Thread-safe.
///
/// # Safety
/// `host` is NULL or a NUL-terminated string; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_telemetry_set_host(
    host: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `host`.
        let host = static_name(unsafe { str_arg(host, "host") }?)?;
        NAMED.store(true, Ordering::Release);
        certless::telemetry::set_host(host);
        Ok(CERTLESS_OK)
    })
}

/// Sends the OpenTelemetry metrics and spans recorded so far to the collector and blocks the
/// calling thread for at most `timeout_ms` milliseconds. Returns true when everything was sent,
/// or when there was nothing to send (telemetry is off unless the `OTEL_EXPORTER_OTLP_*`
/// variables turn it on); false when the collector did not take it in time. Call it before the
/// process exits: what was recorded since the last periodic export is otherwise lost.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn certless_telemetry_flush(timeout_ms: u32) -> bool {
    guard_value(false, || {
        certless::telemetry::flush(Duration::from_millis(u64::from(timeout_ms)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked_and_copied_once() {
        assert_eq!(static_name("dotnet").unwrap(), "dotnet");
        let first = static_name("my-host_1.0+x").unwrap();
        let again = static_name("my-host_1.0+x").unwrap();
        assert!(std::ptr::eq(first, again), "one copy per name");
        for bad in ["", "has space", "ünïcode", &"x".repeat(MAX_HOST_LEN + 1)] {
            let e = static_name(bad).unwrap_err();
            assert_eq!(e.code(), certless::ErrorCode::InvalidArgument, "{bad:?}");
        }
        assert!(static_name(&"y".repeat(MAX_HOST_LEN)).is_ok());
    }
}
