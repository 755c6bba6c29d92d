//! What every exported function goes through: the panic boundary, argument checks and the
//! writing of outputs. Modelled on rustls-ffi's `panic.rs` and its `try_*` helpers.

use std::any::Any;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use certless::{Error, ErrorCode};

use crate::error::{certless_error, certless_status};

/// Runs `body` inside a panic boundary. `Ok(status)` is returned as is (`CERTLESS_OK`, or
/// `CERTLESS_NOT_CACHED`); an error becomes its status code and, when `error_out` is not NULL, an
/// error object written to it. A panic becomes `CERTLESS_INTERNAL`.
pub(crate) fn guard(
    error_out: *mut *mut certless_error,
    body: impl FnOnce() -> Result<certless_status, Error>,
) -> certless_status {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => return status,
        Ok(Err(error)) => error,
        Err(panic) => panic_error(panic),
    };
    let status = error.code().as_u32();
    if !error_out.is_null() {
        if let Ok(object) = catch_unwind(AssertUnwindSafe(|| certless_error::boxed(&error))) {
            // SAFETY: the caller passed a writable `certless_error **` (checked non-NULL above).
            unsafe { error_out.write(object) };
        }
    }
    status
}

/// A panic boundary for functions that return a plain value (getters): `fallback` on panic.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A caught panic as a certless error (a defect to report).
pub(crate) fn panic_error(panic: Box<dyn Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        ErrorCode::Internal,
        format!("a certless defect (panic: {what}); please report it with the log"),
    )
}

pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
}

/// A borrowed, NUL-terminated UTF-8 string argument that must not be NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded from the caller.
    unsafe { opt_str_arg(ptr, name) }?
        .ok_or_else(|| invalid_argument(format!("argument `{name}` is NULL")))
}

/// Like [`str_arg`], where NULL means "not given".
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the function's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map(Some).map_err(|e| {
        invalid_argument(format!(
            "argument `{name}` is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A borrowed handle argument that must not be NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` created by this library that outlives `'a`.
pub(crate) unsafe fn ref_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid_argument(format!("argument `{name}` is NULL")))
}

/// A mutable handle argument that must not be NULL.
///
/// # Safety
/// As [`ref_arg`], and no other thread uses the object meanwhile.
pub(crate) unsafe fn mut_arg<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| invalid_argument(format!("argument `{name}` is NULL")))
}

/// An output pointer checked up front, written only once the call has succeeded.
pub(crate) struct Out<T>(*mut *mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut *mut T, name: &str) -> Result<Self, Error> {
        if ptr.is_null() {
            return Err(invalid_argument(format!(
                "argument `{name}` is NULL: pass the address of a pointer to receive the result"
            )));
        }
        Ok(Out(ptr))
    }

    /// Hands `value` to the caller, who now owns it.
    pub(crate) fn write(self, value: T) {
        // SAFETY: checked non-NULL in `new`; the caller promised a writable `T **`.
        unsafe { self.0.write(Box::into_raw(Box::new(value))) }
    }
}

/// The scopes of a token request: `scopes_len` NUL-terminated UTF-8 strings.
///
/// # Safety
/// `scopes` is NULL or points to `scopes_len` pointers, each NULL or a NUL-terminated string.
pub(crate) unsafe fn scopes_arg(
    scopes: *const *const c_char,
    scopes_len: usize,
) -> Result<Vec<String>, Error> {
    if scopes_len == 0 {
        return Ok(Vec::new());
    }
    if scopes.is_null() {
        return Err(invalid_argument(format!(
            "argument `scopes` is NULL but `scopes_len` is {scopes_len}"
        )));
    }
    // SAFETY: the caller promised `scopes_len` readable pointers.
    let list = unsafe { std::slice::from_raw_parts(scopes, scopes_len) };
    list.iter()
        .enumerate()
        // SAFETY: each entry is NULL or a NUL-terminated string, per the contract.
        .map(|(i, p)| unsafe { str_arg(*p, &format!("scopes[{i}]")) }.map(str::to_string))
        .collect()
}

/// A C string from text that may (in theory) hold NUL bytes: they become U+FFFD.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text)
        .unwrap_or_else(|_| CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default())
}

/// The pointer a getter hands out for an optional string: NULL when absent.
pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}
