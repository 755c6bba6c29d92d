//! The token object: the C face of `certless::AccessToken`.

use std::ffi::{CString, c_char};

use certless::AccessToken;

use crate::boundary::{c_string, guard_value};

/// An access token and what is known about it.
///
/// Handed out by `certless_credential_get_token`, `certless_credential_cached_token` and the
/// completion callback of `certless_credential_get_token_async`; the receiver owns it and
/// releases it with `certless_token_free`, which also overwrites the token's bytes. Strings
/// returned by the getters are owned by the token object and valid until it is freed. A token
/// object is immutable: it may be read from several threads at once and moved between threads.
pub struct certless_token {
    /// Core's token, kept so that `certless_credential_token_is_current` can tell whether the
    /// cache still holds this very token: while it is held here, its text cannot be freed and
    /// its address cannot be reused by another token.
    held: AccessToken,
    value: CString,
    token_type: CString,
    expires_on: i64,
    refresh_on: i64,
    source: CString,
}

impl certless_token {
    pub(crate) fn new(token: &AccessToken) -> Self {
        certless_token {
            held: token.clone(),
            value: c_string(token.token.expose()),
            token_type: c_string(&token.token_type),
            expires_on: token.expires_on,
            refresh_on: token.refresh_on.unwrap_or(0),
            source: c_string(token.source.as_str()),
        }
    }

    /// Whether `other` is this very token (core hands out clones that share the token's text),
    /// not merely an equal one.
    pub(crate) fn is(&self, other: &AccessToken) -> bool {
        std::ptr::eq(self.held.token.expose(), other.token.expose())
            && self.held.expires_on == other.expires_on
    }
}

impl Drop for certless_token {
    fn drop(&mut self) {
        // The bearer token should not linger in freed heap memory.
        let mut bytes = std::mem::take(&mut self.value).into_bytes_with_nul();
        for b in bytes.iter_mut() {
            // SAFETY: a valid, exclusive pointer into `bytes`; volatile so the wipe is not elided.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

fn read<T: Copy>(
    token: *const certless_token,
    fallback: T,
    field: impl FnOnce(&certless_token) -> T,
) -> T {
    // SAFETY: the caller passed NULL or a live token object (the documented contract).
    guard_value(fallback, || {
        // SAFETY: `token` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { token.as_ref() }.map_or(fallback, field)
    })
}

/// The bearer token, to send as `Authorization: <type> <value>`. Never log it. Owned by the token
/// object. NULL for a NULL token.
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_value(token: *const certless_token) -> *const c_char {
    read(token, std::ptr::null(), |t| t.value.as_ptr())
}

/// The token type, `"Bearer"` in practice. Owned by the token object. NULL for a NULL token.
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_type(token: *const certless_token) -> *const c_char {
    read(token, std::ptr::null(), |t| t.token_type.as_ptr())
}

/// When the token expires, in Unix seconds (UTC). 0 for a NULL token.
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_expires_on(token: *const certless_token) -> i64 {
    read(token, 0, |t| t.expires_on)
}

/// When the token should be refreshed, in Unix seconds, if Entra said (`refresh_in`); 0 when it
/// did not (certless itself refreshes cached tokens before they expire).
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_refresh_on(token: *const certless_token) -> i64 {
    read(token, 0, |t| t.refresh_on)
}

/// Which entry of the credential list produced the token, as Microsoft.Identity.Web names it
/// (`"SignedAssertionFromManagedIdentity"`). Owned by the token object. NULL for a NULL token.
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_source(token: *const certless_token) -> *const c_char {
    read(token, std::ptr::null(), |t| t.source.as_ptr())
}

/// Releases a token object, overwriting the token's bytes first. NULL does nothing.
///
/// # Safety
/// `token` is NULL or a token object this library handed out, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_free(token: *mut certless_token) {
    if !token.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_token>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(token) }));
    }
}
