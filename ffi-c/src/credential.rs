//! The credential handle and its blocking and cache-only calls: the C face of
//! `certless::Credential`.

use std::ffi::{CString, c_char};

use certless::{Credential, TokenRequestOptions};

use crate::boundary::{
    Out, c_string, guard, guard_value, mut_arg, opt_str_arg, ref_arg, scopes_arg, str_arg,
};
use crate::error::{CERTLESS_NOT_CACHED, CERTLESS_OK, certless_error, certless_status};
use crate::token::certless_token;

/// Gets Entra access tokens for one app registration, from a managed identity through a
/// federated identity credential, and caches them.
///
/// Create one with `certless_credential_from_config_json`, `_from_config_file`, `_from_env` or
/// `_from_options`, share it for the life of the process (one per app registration), and release
/// it with `certless_credential_free`.
///
/// Thread-safety: every function taking a `const certless_credential *` may be called from any
/// number of threads at once. `certless_credential_free` must not run concurrently with another
/// call on the same credential; requests started with `certless_credential_get_token_async`
/// before the free keep what they need and still complete.
pub struct certless_credential {
    pub(crate) credential: Credential,
    tenant_id: CString,
    client_id: CString,
    /// Where the shared cache is (no password), when there is one.
    pub(crate) shared_cache_target: Option<CString>,
}

impl certless_credential {
    pub(crate) fn new(credential: Credential) -> Self {
        certless_credential {
            tenant_id: c_string(credential.tenant_id()),
            client_id: c_string(credential.client_id()),
            shared_cache_target: credential.shared_cache_stats().map(|s| c_string(&s.target)),
            credential,
        }
    }
}

/// Options of one token request beyond the scopes. Create with `certless_token_options_new`,
/// release with `certless_token_options_free`. Pass NULL wherever options are taken to get the
/// defaults. Not thread-safe while being modified; the token functions only read it (and copy
/// what they need), so one options object may be used by several requests at once.
pub struct certless_token_options {
    pub(crate) options: TokenRequestOptions,
}

/// Creates a credential from a Microsoft.Identity.Web configuration given as JSON text: a whole
/// `appsettings.json` or its `AzureAd` section (keys case-insensitive; unknown keys are an error
/// that suggests the key probably meant).
///
/// `json` is a NUL-terminated UTF-8 string, only read during the call. On success
/// `*credential_out` receives a new credential the caller owns (free it with
/// `certless_credential_free`). On failure the status code is returned, `*credential_out` is left
/// untouched and, if `error_out` is not NULL, `*error_out` receives an error object the caller
/// owns (free it with `certless_error_free`). No network traffic happens here.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_from_config_json(
    json: *const c_char,
    credential_out: *mut *mut certless_credential,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `json`.
        let json = unsafe { str_arg(json, "json") }?;
        let out = Out::new(credential_out, "credential_out")?;
        crate::telemetry::name_the_host();
        out.write(certless_credential::new(Credential::from_config_json(
            json,
        )?));
        Ok(CERTLESS_OK)
    })
}

/// Creates a credential from a Microsoft.Identity.Web configuration file (`appsettings.json`, the
/// whole file or just its `AzureAd` section). `path` is a NUL-terminated UTF-8 path (on Windows
/// too: UTF-8, not the ANSI code page). Ownership and errors as
/// `certless_credential_from_config_json`.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_from_config_file(
    path: *const c_char,
    credential_out: *mut *mut certless_credential,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `path`.
        let path = unsafe { str_arg(path, "path") }?;
        let out = Out::new(credential_out, "credential_out")?;
        crate::telemetry::name_the_host();
        out.write(certless_credential::new(Credential::from_config_file(
            path,
        )?));
        Ok(CERTLESS_OK)
    })
}

/// Creates a credential from the process environment: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_AUTHORITY_HOST`, `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` (or `_OBJECT_ID`,
/// `_RESOURCE_ID`), ... Ownership and errors as `certless_credential_from_config_json`.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_from_env(
    credential_out: *mut *mut certless_credential,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        let out = Out::new(credential_out, "credential_out")?;
        crate::telemetry::name_the_host();
        out.write(certless_credential::new(Credential::from_env()?));
        Ok(CERTLESS_OK)
    })
}

/// Releases a credential and its token cache. NULL does nothing. Requests still running
/// (`certless_credential_get_token_async`) complete normally.
///
/// # Safety
/// `credential` is NULL or a credential this library handed out, not yet freed, and no other
/// thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_free(credential: *mut certless_credential) {
    if !credential.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_credential>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(credential) }));
    }
}

/// The app registration's tenant (directory) id, as configured (lowercase). Owned by the
/// credential, valid until it is freed. NULL for a NULL credential.
///
/// # Safety
/// `credential` is NULL or a live credential.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_tenant_id(
    credential: *const certless_credential,
) -> *const c_char {
    // SAFETY: the caller's contract on `credential`.
    guard_value(std::ptr::null(), || {
        // SAFETY: `credential` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { credential.as_ref() }.map_or(std::ptr::null(), |c| c.tenant_id.as_ptr())
    })
}

/// The app registration's application (client) id (lowercase). Owned by the credential, valid
/// until it is freed. NULL for a NULL credential.
///
/// # Safety
/// `credential` is NULL or a live credential.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_client_id(
    credential: *const certless_credential,
) -> *const c_char {
    // SAFETY: the caller's contract on `credential`.
    guard_value(std::ptr::null(), || {
        // SAFETY: `credential` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { credential.as_ref() }.map_or(std::ptr::null(), |c| c.client_id.as_ptr())
    })
}

/// Gets an access token, waiting for it: from the cache at once when a valid one is cached
/// (without any thread hop), else from the managed-identity endpoint and Entra while the calling
/// thread waits (requests run on certless's own worker threads; no runtime is needed in the
/// caller).
///
/// `scopes` points to `scopes_len` NUL-terminated UTF-8 strings naming one resource:
/// `"https://contoso.sharepoint.com/.default"`, `"https://graph.microsoft.com/.default"` or the
/// bare resource. `options` may be NULL (defaults). All inputs are only read during the call.
///
/// On success `*token_out` receives a token the caller owns (free it with
/// `certless_token_free`). On failure the status code is returned, `*token_out` is left
/// untouched and, if `error_out` is not NULL, `*error_out` receives an error object the caller
/// owns. Thread-safe. Do not call it from a completion callback (it would block a certless
/// worker thread).
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_get_token(
    credential: *const certless_credential,
    scopes: *const *const c_char,
    scopes_len: usize,
    options: *const certless_token_options,
    token_out: *mut *mut certless_token,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let credential = unsafe { ref_arg(credential, "credential") }?;
        // SAFETY: `scopes` is NULL or valid, as this function's `# Safety` requires of its caller.
        let scopes = unsafe { scopes_arg(scopes, scopes_len) }?;
        // SAFETY: `options` is NULL or valid, as this function's `# Safety` requires of its caller.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let out = Out::new(token_out, "token_out")?;
        let token = credential
            .credential
            .get_token_blocking(&scopes, &options)?;
        out.write(certless_token::new(&token));
        Ok(CERTLESS_OK)
    })
}

/// The cached token for `scopes`, if a valid one is cached; never touches the network, never
/// waits, never hops threads. For hosts that want to answer cache hits synchronously and start
/// `certless_credential_get_token_async` only on a miss.
///
/// Returns `CERTLESS_OK` with `*token_out` set to a token the caller owns; `CERTLESS_NOT_CACHED`
/// (not an error: `*token_out` and `*error_out` untouched) when nothing valid is cached; or an
/// error status (an invalid scope or argument) with `*error_out` set as usual. Thread-safe.
///
/// # Safety
/// Pointers are NULL or valid as described for `certless_credential_get_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_cached_token(
    credential: *const certless_credential,
    scopes: *const *const c_char,
    scopes_len: usize,
    token_out: *mut *mut certless_token,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let credential = unsafe { ref_arg(credential, "credential") }?;
        // SAFETY: `scopes` is NULL or valid, as this function's `# Safety` requires of its caller.
        let scopes = unsafe { scopes_arg(scopes, scopes_len) }?;
        let out = Out::new(token_out, "token_out")?;
        match credential.credential.cached_token(&scopes)? {
            Some(token) => {
                out.write(certless_token::new(&token));
                Ok(CERTLESS_OK)
            }
            None => Ok(CERTLESS_NOT_CACHED),
        }
    })
}

/// Whether `token` is still the token `certless_credential_cached_token` would hand out now for
/// `scopes` and `options`: the very same token (not an equal copy), still cached and still
/// usable. For hosts that keep their own copy of a token's strings (a managed string, say) and
/// reuse it while this answers true, instead of copying the token on every cache hit. Like a
/// cache hit, it starts the background refresh of a token that is due for one.
///
/// False when the cache holds another token now (refreshed, or replaced after a claims
/// challenge), when the token is near its expiry, when `options` ask to bypass the cache (claims,
/// force refresh), and for a NULL or invalid argument. Never waits, never touches the network,
/// copies no string. Thread-safe. `token` must come from this credential to ever be current.
///
/// # Safety
/// `credential` and `token` are NULL or live objects of this library; `scopes`, `scopes_len` and
/// `options` as for `certless_credential_get_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_token_is_current(
    credential: *const certless_credential,
    scopes: *const *const c_char,
    scopes_len: usize,
    options: *const certless_token_options,
    token: *const certless_token,
) -> bool {
    guard_value(false, || {
        // SAFETY: `credential` and `token` are NULL or live, as this function's `# Safety`
        // requires of its caller.
        let (Some(credential), Some(token)) =
            (unsafe { credential.as_ref() }, unsafe { token.as_ref() })
        else {
            return false;
        };
        let defaults = TokenRequestOptions::default();
        // SAFETY: `options` is NULL or valid, as this function's `# Safety` requires of its caller.
        let options = unsafe { options.as_ref() }.map_or(&defaults, |o| &o.options);
        let current = if scopes_len == 1 && !scopes.is_null() {
            // The hot path borrows its one scope: no allocation.
            // SAFETY: `scopes` points to one pointer, NULL or a NUL-terminated string.
            match unsafe { opt_str_arg(*scopes, "scopes[0]") } {
                Ok(Some(scope)) => credential.credential.cached_token_with(&[scope], options),
                _ => return false,
            }
        } else {
            // SAFETY: `scopes` is NULL or valid, as this function's `# Safety` requires.
            match unsafe { scopes_arg(scopes, scopes_len) } {
                Ok(scopes) => credential.credential.cached_token_with(&scopes, options),
                Err(_) => return false,
            }
        };
        matches!(current, Ok(Some(cached)) if token.is(&cached))
    })
}

/// Creates token request options with the defaults (no claims, the configured tenant, cache
/// allowed). Never returns NULL (it aborts only if memory is exhausted). Free it with
/// `certless_token_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn certless_token_options_new() -> *mut certless_token_options {
    Box::into_raw(Box::new(certless_token_options {
        options: TokenRequestOptions::default(),
    }))
}

/// Sets the claims of a Continuous Access Evaluation challenge (a JSON string Entra or the
/// resource sent); such a request bypasses the cache. NULL clears them. `claims` is copied.
///
/// # Safety
/// `options` is NULL or live and not used by another thread meanwhile; `claims` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_options_set_claims(
    options: *mut certless_token_options,
    claims: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let options = unsafe { mut_arg(options, "options") }?;
        // SAFETY: `claims` is NULL or valid, as this function's `# Safety` requires of its caller.
        options.options.claims = unsafe { opt_str_arg(claims, "claims") }?.map(str::to_string);
        Ok(CERTLESS_OK)
    })
}

/// Requests the token from another tenant than the configured one (multi-tenant apps): a GUID
/// or a domain. NULL goes back to the configured tenant. `tenant_id` is copied.
///
/// # Safety
/// As `certless_token_options_set_claims`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_options_set_tenant_id(
    options: *mut certless_token_options,
    tenant_id: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let options = unsafe { mut_arg(options, "options") }?;
        options.options.tenant_id =
            // SAFETY: `tenant_id` is NULL or valid, as this function's `# Safety` requires of its caller.
            unsafe { opt_str_arg(tenant_id, "tenant_id") }?.map(str::to_string);
        Ok(CERTLESS_OK)
    })
}

/// When `force_refresh` is true the request ignores the cache (and refills it).
///
/// # Safety
/// `options` is NULL or live and not used by another thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_options_set_force_refresh(
    options: *mut certless_token_options,
    force_refresh: bool,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on `options`.
        let options = unsafe { mut_arg(options, "options") }?;
        options.options.force_refresh = force_refresh;
        Ok(CERTLESS_OK)
    })
}

/// Sets the W3C `traceparent` of the caller's span (`00-<32 hex trace id>-<16 hex span id>-<2 hex
/// flags>`, as in the header of the request being served): the request's OpenTelemetry span
/// becomes its child (docs/telemetry.md). A malformed one makes the token request fail with
/// `CERTLESS_INVALID_ARGUMENT`. NULL clears it. `traceparent` is copied.
///
/// # Safety
/// As `certless_token_options_set_claims`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_options_set_traceparent(
    options: *mut certless_token_options,
    traceparent: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let options = unsafe { mut_arg(options, "options") }?;
        options.options.traceparent =
            // SAFETY: `traceparent` is NULL or valid, as this function's `# Safety` requires of its caller.
            unsafe { opt_str_arg(traceparent, "traceparent") }?.map(str::to_string);
        Ok(CERTLESS_OK)
    })
}

/// Releases token request options. NULL does nothing. Requests already started keep their own
/// copy.
///
/// # Safety
/// `options` is NULL or options this library handed out, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_token_options_free(options: *mut certless_token_options) {
    if !options.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_token_options>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(options) }));
    }
}
