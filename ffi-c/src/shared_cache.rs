//! The shared cache's state and counters (docs/shared-cache.md), for hosts that export metrics or
//! show a health page: the C face of `certless::Credential::shared_cache_stats`.

use std::ffi::{CStr, c_char};

use certless::shared_cache::BreakerState;

use crate::boundary::{guard, guard_value, invalid_argument, ref_arg, str_arg};
use crate::credential::certless_credential;
use crate::error::{CERTLESS_OK, certless_error, certless_status};

/// Where the credential's shared cache is (its address: `redis://host:port/db`, Sentinel's or a
/// cluster's; never a user or password), or NULL when it has none (no `shared_cache` option,
/// `CERTLESS_SHARED_CACHE` unset or `off`) and for a NULL credential. Owned by the credential,
/// valid until it is freed.
///
/// # Safety
/// `credential` is NULL or a live credential.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_shared_cache_target(
    credential: *const certless_credential,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: `credential` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { credential.as_ref() }
            .and_then(|c| c.shared_cache_target.as_ref())
            .map_or(std::ptr::null(), |target| target.as_ptr())
    })
}

/// The shared cache's circuit breaker now: `"closed"` (Redis answers), `"open"` (Redis failed, and
/// certless does not ask it until the cool-down ends; tokens still come from Entra) or
/// `"half_open"` (one probe is out). NULL when the credential has no shared cache, and for a NULL
/// credential. A static string: never freed. Thread-safe.
///
/// # Safety
/// `credential` is NULL or a live credential.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_shared_cache_state(
    credential: *const certless_credential,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: `credential` is NULL or valid, as this function's `# Safety` requires of its caller.
        let Some(stats) =
            unsafe { credential.as_ref() }.and_then(|c| c.credential.shared_cache_stats())
        else {
            return std::ptr::null();
        };
        state_name(stats.state).as_ptr()
    })
}

/// Writes one of the shared cache's counters, counted since the credential was made, to
/// `*value_out`: `hit`, `miss`, `rejected` (entries that did not open: tampered with or sealed
/// under another key), `unknown_key`, `error`, `over_budget` (reads Redis did not answer within the
/// read budget), `skipped` (breaker open), `write`, `write_failure`, `full`, `lease_won`,
/// `lease_wait`, `lease_timeout` and `breaker_opened`; docs/shared-cache.md says what each means.
///
/// Returns `CERTLESS_OK`; `CERTLESS_INVALID_ARGUMENT` (with an error in `*error_out` when it is not
/// NULL) for a NULL `credential`, `value_out` or `name`, a name that is not UTF-8 or not a counter
/// (the error lists them), and for a credential without a shared cache (check
/// `certless_credential_shared_cache_target` first). Thread-safe; never touches the network.
///
/// # Safety
/// `credential` is NULL or a live credential; `name` is NULL or a NUL-terminated string;
/// `value_out` is NULL or writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_shared_cache_counter(
    credential: *const certless_credential,
    name: *const c_char,
    value_out: *mut u64,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `credential` and `name`.
        let credential = unsafe { ref_arg(credential, "credential") }?;
        // SAFETY: as above.
        let name = unsafe { str_arg(name, "name") }?;
        if value_out.is_null() {
            return Err(invalid_argument(
                "argument `value_out` is NULL: pass the address of a uint64_t to receive the count",
            ));
        }
        let stats = credential.credential.shared_cache_stats().ok_or_else(|| {
            invalid_argument(
                "this credential has no shared cache: set the `shared_cache` option or \
                 CERTLESS_SHARED_CACHE (docs/shared-cache.md), or check \
                 certless_credential_shared_cache_target first",
            )
        })?;
        let value = stats.counter(name).ok_or_else(|| {
            let known: Vec<&str> = stats.all_counters().iter().map(|(n, _)| *n).collect();
            invalid_argument(format!(
                "`{name}` is not a shared-cache counter; the counters are {}",
                known.join(", ")
            ))
        })?;
        // SAFETY: checked non-NULL above; the caller promised a writable `uint64_t *`.
        unsafe { value_out.write(value) };
        Ok(CERTLESS_OK)
    })
}

fn state_name(state: BreakerState) -> &'static CStr {
    match state {
        BreakerState::Closed => c"closed",
        BreakerState::Open => c"open",
        BreakerState::HalfOpen => c"half_open",
    }
}
