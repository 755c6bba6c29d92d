//! Status codes and the error object: the C face of `certless::Error`.

use std::ffi::{CString, c_char};

use certless::{Error, ErrorReport};

use crate::boundary::{c_string, guard_value, opt_ptr};

/// The result of a certless function. `CERTLESS_OK` (0) is success; `CERTLESS_NOT_CACHED` (1) is
/// the "nothing cached" answer of `certless_credential_cached_token`; every other value is an
/// error code, the same number `certless_error_code` returns and every certless binding (.NET,
/// Python, Node, the CLI) reports. Codes are stable: they are never renumbered. New codes may be
/// added in later versions, so treat an unknown value as an error of its hundred's group:
/// 1xx configuration or argument, 2xx managed-identity endpoint, 3xx Entra token exchange,
/// 4xx credential chain, 5xx caller, 6xx Key Vault, 7xx the resource the token was for,
/// 9xx internal.
pub type certless_status = u32;

/// Success.
pub const CERTLESS_OK: certless_status = 0;
/// Not an error: `certless_credential_cached_token` has no valid token cached for the scopes.
pub const CERTLESS_NOT_CACHED: certless_status = 1;
/// An argument was NULL, not UTF-8 or otherwise unusable.
pub const CERTLESS_INVALID_ARGUMENT: certless_status = 100;
/// The configuration is malformed (not JSON, wrong type) or a value is invalid.
pub const CERTLESS_INVALID_CONFIG: certless_status = 101;
/// The configuration has a key certless does not know (most often a typo; the message suggests the key meant).
pub const CERTLESS_UNKNOWN_CONFIG_KEY: certless_status = 102;
/// A required value (tenant id, client id, a client credential) is missing.
pub const CERTLESS_MISSING_CONFIG: certless_status = 103;
/// A `ClientCredentials` `SourceType` that is unknown or not supported yet.
pub const CERTLESS_UNSUPPORTED_CREDENTIAL_SOURCE: certless_status = 104;
/// The authority is not https (and not a loopback address).
pub const CERTLESS_INSECURE_AUTHORITY: certless_status = 105;
/// The scope cannot be used for an app-only token (use `https://<resource>/.default`).
pub const CERTLESS_INVALID_SCOPE: certless_status = 106;
/// The configuration file could not be read.
pub const CERTLESS_CONFIG_FILE_UNREADABLE: certless_status = 107;
/// The environment points at a managed-identity source certless does not support yet.
pub const CERTLESS_UNSUPPORTED_MANAGED_IDENTITY_SOURCE: certless_status = 108;
/// The federated token file (`AZURE_FEDERATED_TOKEN_FILE`, `SignedAssertionFileDiskPath`) is
/// missing, unreadable, expired or not a JWT.
pub const CERTLESS_ASSERTION_FILE_UNUSABLE: certless_status = 109;
/// The client certificate (`Path`, `Base64Encoded`, `AZURE_CLIENT_CERTIFICATE_PATH`) cannot be
/// used: unreadable, wrong password, no RSA key, or a key that is not the certificate's.
pub const CERTLESS_CERTIFICATE_UNUSABLE: certless_status = 110;
/// No certificate in the certificate store matches the configured thumbprint, distinguished name
/// or subject (or none that is valid now and has its private key).
pub const CERTLESS_CERTIFICATE_NOT_IN_STORE: certless_status = 111;
/// The certificate store cannot be opened here (`LocalMachine` on Linux, or a store this process
/// may not read).
pub const CERTLESS_CERTIFICATE_STORE_UNAVAILABLE: certless_status = 112;
/// No connection to the managed-identity endpoint.
pub const CERTLESS_MANAGED_IDENTITY_UNREACHABLE: certless_status = 200;
/// The managed-identity endpoint did not answer in time.
pub const CERTLESS_MANAGED_IDENTITY_TIMEOUT: certless_status = 201;
/// The managed-identity endpoint answered with an error status.
pub const CERTLESS_MANAGED_IDENTITY_REJECTED: certless_status = 202;
/// The managed-identity endpoint answered with a body certless cannot use.
pub const CERTLESS_MANAGED_IDENTITY_INVALID_RESPONSE: certless_status = 203;
/// The Azure Arc key file could not be read (the process needs the `himds` group, or
/// Administrators on Windows).
pub const CERTLESS_MANAGED_IDENTITY_KEY_FILE_UNREADABLE: certless_status = 204;
/// The managed-identity endpoint answered for another identity than the one requested
/// (certless fails closed).
pub const CERTLESS_MANAGED_IDENTITY_WRONG_IDENTITY: certless_status = 205;
/// No connection to Entra's token endpoint.
pub const CERTLESS_EXCHANGE_UNREACHABLE: certless_status = 300;
/// Entra's token endpoint did not answer in time.
pub const CERTLESS_EXCHANGE_TIMEOUT: certless_status = 301;
/// Entra refused the exchange: see `certless_error_aadsts_code`.
pub const CERTLESS_EXCHANGE_REJECTED: certless_status = 302;
/// Entra answered with a body certless cannot use.
pub const CERTLESS_EXCHANGE_INVALID_RESPONSE: certless_status = 303;
/// Every source of the credential list failed: see `certless_error_cause`.
pub const CERTLESS_ALL_CREDENTIAL_SOURCES_FAILED: certless_status = 400;
/// The request was cancelled by the caller (`certless_pending_cancel`).
pub const CERTLESS_CANCELLED: certless_status = 500;
/// No connection to Key Vault, or it did not answer in time.
pub const CERTLESS_KEY_VAULT_UNREACHABLE: certless_status = 600;
/// Key Vault refused the managed identity: the token's audience or tenant (401), or no access
/// policy or role that lets it read the certificate, or the vault's firewall (403).
pub const CERTLESS_KEY_VAULT_ACCESS_DENIED: certless_status = 601;
/// Key Vault has no certificate of that name (or its current version is disabled).
pub const CERTLESS_KEY_VAULT_CERTIFICATE_NOT_FOUND: certless_status = 602;
/// Key Vault answered with another error status.
pub const CERTLESS_KEY_VAULT_REJECTED: certless_status = 603;
/// Key Vault answered with a body certless cannot use, or a certificate whose key is not
/// exportable.
pub const CERTLESS_KEY_VAULT_INVALID_RESPONSE: certless_status = 604;
/// The resource the token was for (SharePoint, Graph, ...) refused it: the error object of
/// `certless_explain_refusal` says what the token carried and what is missing.
pub const CERTLESS_RESOURCE_REFUSED: certless_status = 700;
/// A defect in certless (a caught panic, a broken invariant). Please report it.
pub const CERTLESS_INTERNAL: certless_status = 900;

/// What went wrong, with everything needed to fix it or to open a support ticket.
///
/// Created by a failing certless function (through its `error_out` argument) or handed to a
/// completion callback; the receiver owns it and releases it with `certless_error_free`. Strings
/// returned by the getters are owned by the error object and valid until it is freed. An error
/// object is immutable: it may be read from several threads at once and moved between threads.
/// It never contains a token, an assertion or a secret.
pub struct certless_error {
    code: certless_status,
    leg: CString,
    message: CString,
    text: CString,
    remedy: Option<CString>,
    http_status: u16,
    aadsts_codes: Vec<u32>,
    oauth_error: Option<CString>,
    trace_id: Option<CString>,
    correlation_id: Option<CString>,
    credential_source: Option<CString>,
    causes: Vec<certless_error>,
    unavailable: bool,
}

impl certless_error {
    pub(crate) fn new(error: &Error) -> Self {
        certless_error::from_report(error.report())
    }

    /// The C form of core's error record, field for field.
    fn from_report(report: ErrorReport) -> Self {
        certless_error {
            code: report.code,
            leg: c_string(&report.leg),
            message: c_string(&report.reason),
            text: c_string(&report.text),
            remedy: report.remedy.as_deref().map(c_string),
            http_status: report.http_status.unwrap_or(0),
            aadsts_codes: report.aadsts_codes,
            oauth_error: report.oauth_error.as_deref().map(c_string),
            trace_id: report.trace_id.as_deref().map(c_string),
            correlation_id: report.correlation_id.as_deref().map(c_string),
            credential_source: report.credential_source.as_deref().map(c_string),
            causes: report
                .causes
                .into_iter()
                .map(certless_error::from_report)
                .collect(),
            unavailable: report.unavailable,
        }
    }

    pub(crate) fn boxed(error: &Error) -> *mut certless_error {
        Box::into_raw(Box::new(certless_error::new(error)))
    }
}

/// Reads a field of an error object inside the panic boundary; NULL gives `fallback`.
fn read<T: Copy>(
    error: *const certless_error,
    fallback: T,
    field: impl FnOnce(&certless_error) -> T,
) -> T {
    // SAFETY: the caller passed NULL or a live error object (the documented contract).
    guard_value(fallback, || {
        // SAFETY: `error` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { error.as_ref() }.map_or(fallback, field)
    })
}

/// The error's status code (`CERTLESS_EXCHANGE_REJECTED`, ...): the number the failing function
/// returned or the completion callback was given. `CERTLESS_OK` (0) for a NULL error.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_code(error: *const certless_error) -> certless_status {
    read(error, CERTLESS_OK, |e| e.code)
}

/// The leg of the flow that failed, a stable lowercase name: `"config"` (the configuration or an
/// argument, before anything went on the wire), `"managed_identity"` (the managed-identity
/// endpoint: IMDS, App Service, ...), `"exchange"` (Entra's token endpoint), `"key_vault"` (Azure
/// Key Vault, holding a certificate of the credential list), `"chain"` (several credential sources
/// failed), `"caller"` (cancelled), `"resource"` (the resource the token was for refused it) or
/// `"internal"`. NULL for a NULL error.
/// Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_leg(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| e.leg.as_ptr())
}

/// What went wrong, in one or two sentences, without the remedy or the details. Never NULL for
/// a non-NULL error. Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_message(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| e.message.as_ptr())
}

/// The whole story in one text, for a log or an exception message: the leg and message, then
/// `[source ...; HTTP ...; AADSTS...; trace id ...; correlation id ...; certless code N]`, the fix
/// when one is known, and each cause on its own line. Never NULL for a non-NULL error. Owned by
/// the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_text(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| e.text.as_ptr())
}

/// How to fix the common causes of this error, one or two sentences; NULL when certless knows no
/// fix. Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_remedy(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| opt_ptr(&e.remedy))
}

/// The HTTP status the failing endpoint answered with; 0 when there was no HTTP answer (a
/// configuration error, a connection failure, a timeout).
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_http_status(error: *const certless_error) -> u16 {
    read(error, 0, |e| e.http_status)
}

/// How many AADSTS codes Entra returned (its `error_codes`); 0 for other errors.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_aadsts_count(error: *const certless_error) -> usize {
    read(error, 0, |e| e.aadsts_codes.len())
}

/// The AADSTS code at `index` (70021 for AADSTS70021, ...); 0 when `index` is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_aadsts_code(error: *const certless_error, index: usize) -> u32 {
    read(error, 0, |e| {
        e.aadsts_codes.get(index).copied().unwrap_or(0)
    })
}

/// The OAuth `error` field the server sent (`invalid_client`, `invalid_request`, ...); NULL when
/// none. Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_oauth_error(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| opt_ptr(&e.oauth_error))
}

/// Entra's trace id (quote it in a support ticket); NULL when Entra sent none. Owned by the
/// error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_trace_id(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| opt_ptr(&e.trace_id))
}

/// The correlation id of the failed request (the `client-request-id` certless sent, or the one
/// Entra returned); NULL when there was no request. Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_correlation_id(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| opt_ptr(&e.correlation_id))
}

/// The credential source that failed (`"SignedAssertionFromManagedIdentity"`, ...); NULL when the
/// error is not about one source. Owned by the error object.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_credential_source(error: *const certless_error) -> *const c_char {
    read(error, std::ptr::null(), |e| opt_ptr(&e.credential_source))
}

/// How many causes the error has: for `CERTLESS_ALL_CREDENTIAL_SOURCES_FAILED`, one per source
/// of the credential list, in order; 0 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_cause_count(error: *const certless_error) -> usize {
    read(error, 0, |e| e.causes.len())
}

/// The cause at `index`, an error object owned by `error` (do not free it; it is valid until
/// `error` is freed); NULL when `index` is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_cause(
    error: *const certless_error,
    index: usize,
) -> *const certless_error {
    read(error, std::ptr::null(), |e| {
        e.causes
            .get(index)
            .map_or(std::ptr::null(), |c| c as *const certless_error)
    })
}

/// True when the credential cannot work on this host at all, as opposed to failing: there is no
/// managed identity here (nothing answers at IMDS's address, or Docker Desktop answers for it) and
/// no other source of the credential list produced a token. A host that tries several ways to
/// authenticate (as the Azure SDKs' credential chains do) moves on to its next one; any other
/// error is a real failure to report. False for a NULL error.
#[unsafe(no_mangle)]
pub extern "C" fn certless_error_is_unavailable(error: *const certless_error) -> bool {
    read(error, false, |e| e.unavailable)
}

/// Releases an error object and the strings its getters returned. NULL does nothing. Never free
/// an error obtained from `certless_error_cause`, nor the same error twice.
///
/// # Safety
/// `error` is NULL or an error object this library handed out, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_error_free(error: *mut certless_error) {
    if !error.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_error>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(error) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certless::ErrorCode;

    /// The C constants are the core's stable codes.
    #[test]
    fn status_constants_are_the_core_codes() {
        let pairs = [
            (CERTLESS_INVALID_ARGUMENT, ErrorCode::InvalidArgument),
            (CERTLESS_INVALID_CONFIG, ErrorCode::InvalidConfig),
            (CERTLESS_UNKNOWN_CONFIG_KEY, ErrorCode::UnknownConfigKey),
            (CERTLESS_MISSING_CONFIG, ErrorCode::MissingConfig),
            (
                CERTLESS_UNSUPPORTED_CREDENTIAL_SOURCE,
                ErrorCode::UnsupportedCredentialSource,
            ),
            (CERTLESS_INSECURE_AUTHORITY, ErrorCode::InsecureAuthority),
            (CERTLESS_INVALID_SCOPE, ErrorCode::InvalidScope),
            (
                CERTLESS_CONFIG_FILE_UNREADABLE,
                ErrorCode::ConfigFileUnreadable,
            ),
            (
                CERTLESS_UNSUPPORTED_MANAGED_IDENTITY_SOURCE,
                ErrorCode::UnsupportedManagedIdentitySource,
            ),
            (
                CERTLESS_ASSERTION_FILE_UNUSABLE,
                ErrorCode::AssertionFileUnusable,
            ),
            (
                CERTLESS_CERTIFICATE_UNUSABLE,
                ErrorCode::CertificateUnusable,
            ),
            (
                CERTLESS_CERTIFICATE_NOT_IN_STORE,
                ErrorCode::CertificateNotInStore,
            ),
            (
                CERTLESS_CERTIFICATE_STORE_UNAVAILABLE,
                ErrorCode::CertificateStoreUnavailable,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_UNREACHABLE,
                ErrorCode::ManagedIdentityUnreachable,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_TIMEOUT,
                ErrorCode::ManagedIdentityTimeout,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_REJECTED,
                ErrorCode::ManagedIdentityRejected,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_INVALID_RESPONSE,
                ErrorCode::ManagedIdentityInvalidResponse,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_KEY_FILE_UNREADABLE,
                ErrorCode::ManagedIdentityKeyFileUnreadable,
            ),
            (
                CERTLESS_MANAGED_IDENTITY_WRONG_IDENTITY,
                ErrorCode::ManagedIdentityWrongIdentity,
            ),
            (
                CERTLESS_EXCHANGE_UNREACHABLE,
                ErrorCode::ExchangeUnreachable,
            ),
            (CERTLESS_EXCHANGE_TIMEOUT, ErrorCode::ExchangeTimeout),
            (CERTLESS_EXCHANGE_REJECTED, ErrorCode::ExchangeRejected),
            (
                CERTLESS_EXCHANGE_INVALID_RESPONSE,
                ErrorCode::ExchangeInvalidResponse,
            ),
            (
                CERTLESS_ALL_CREDENTIAL_SOURCES_FAILED,
                ErrorCode::AllCredentialSourcesFailed,
            ),
            (CERTLESS_CANCELLED, ErrorCode::Cancelled),
            (
                CERTLESS_KEY_VAULT_UNREACHABLE,
                ErrorCode::KeyVaultUnreachable,
            ),
            (
                CERTLESS_KEY_VAULT_ACCESS_DENIED,
                ErrorCode::KeyVaultAccessDenied,
            ),
            (
                CERTLESS_KEY_VAULT_CERTIFICATE_NOT_FOUND,
                ErrorCode::KeyVaultCertificateNotFound,
            ),
            (CERTLESS_KEY_VAULT_REJECTED, ErrorCode::KeyVaultRejected),
            (
                CERTLESS_KEY_VAULT_INVALID_RESPONSE,
                ErrorCode::KeyVaultInvalidResponse,
            ),
            (CERTLESS_RESOURCE_REFUSED, ErrorCode::ResourceRefused),
            (CERTLESS_INTERNAL, ErrorCode::Internal),
        ];
        for (c, core) in pairs {
            assert_eq!(c, core.as_u32(), "{core:?}");
        }
        // Every code core knows has a C constant (a new core code needs one here and in the header).
        let known: Vec<u32> = pairs.iter().map(|(c, _)| *c).collect();
        for n in 0..1000 {
            if ErrorCode::from_u32(n).is_some() {
                assert!(
                    known.contains(&n),
                    "core code {n} has no CERTLESS_ constant"
                );
            }
        }
        assert!(
            ErrorCode::from_u32(CERTLESS_OK).is_none()
                && ErrorCode::from_u32(CERTLESS_NOT_CACHED).is_none()
        );
    }

    #[test]
    fn getters_copy_every_field_and_accept_null() {
        let error = Error::new(ErrorCode::Cancelled, "stop\0here");
        let e = certless_error::boxed(&error);
        assert_eq!(certless_error_code(e), CERTLESS_CANCELLED);
        // SAFETY: `e` is a live error, so its leg is a static NUL-terminated string.
        let leg = unsafe { std::ffi::CStr::from_ptr(certless_error_leg(e)) };
        assert_eq!(leg.to_str().unwrap(), "caller");
        assert!(certless_error_remedy(e).is_null());
        assert_eq!(certless_error_aadsts_code(e, 7), 0);
        assert!(certless_error_cause(e, 0).is_null());
        // SAFETY: `e` is a live error, freed once.
        unsafe { certless_error_free(e) };
        assert_eq!(certless_error_code(std::ptr::null()), CERTLESS_OK);
        assert!(certless_error_text(std::ptr::null()).is_null());
        // SAFETY: freeing NULL is a documented no-op.
        unsafe { certless_error_free(std::ptr::null_mut()) };
    }
}
