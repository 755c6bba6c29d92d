//! Core errors as plain objects; `index.js` turns them into `CertlessError` subclasses.
//! Errors are resolved as values rather than thrown so every field crosses intact.

use napi_derive::napi;

/// A certless error, field for field (core `Error`); never contains a token.
#[napi(object)]
pub struct ErrorInfo {
    /// The stable numeric code (docs/errors.md: 1xx config, 2xx managed identity, 3xx exchange, ...).
    pub code: u32,
    /// `config`, `managed_identity`, `exchange`, `key_vault`, `chain`, `caller`, `resource` or `internal`.
    pub leg: String,
    /// The full text: what failed, the ids, the fix, and each cause.
    pub message: String,
    /// What went wrong, in one or two sentences, without the details.
    pub reason: String,
    /// How to fix the common causes, when known.
    pub remedy: Option<String>,
    /// The HTTP status the failing endpoint answered with.
    pub status: Option<u32>,
    /// The OAuth `error` field (`invalid_client`, ...) when the server sent one.
    pub oauth_error: Option<String>,
    /// Entra's AADSTS codes.
    pub aadsts_codes: Vec<u32>,
    /// Entra's trace id: quote it in a support ticket.
    pub trace_id: Option<String>,
    /// The correlation id sent or returned.
    pub correlation_id: Option<String>,
    /// The credential source that failed (`SignedAssertionFromManagedIdentity`, ...).
    pub credential_source: Option<String>,
    /// For a failed credential chain: each source's own failure, in order.
    pub causes: Vec<ErrorInfo>,
    /// This host has no managed identity at all (core `Error::is_unavailable`): `index.js` makes
    /// it a `CredentialUnavailableError`, the name @azure/identity's credential chains move past.
    pub unavailable: bool,
}

impl From<certless::ErrorReport> for ErrorInfo {
    /// Node's form of core's error record, field for field.
    fn from(report: certless::ErrorReport) -> Self {
        ErrorInfo {
            code: report.code,
            leg: report.leg,
            message: report.text,
            reason: report.reason,
            remedy: report.remedy,
            status: report.http_status.map(u32::from),
            oauth_error: report.oauth_error,
            aadsts_codes: report.aadsts_codes,
            trace_id: report.trace_id,
            correlation_id: report.correlation_id,
            credential_source: report.credential_source,
            causes: report.causes.into_iter().map(ErrorInfo::from).collect(),
            unavailable: report.unavailable,
        }
    }
}

impl From<&certless::Error> for ErrorInfo {
    fn from(e: &certless::Error) -> Self {
        ErrorInfo::from(e.report())
    }
}

impl From<certless::Error> for ErrorInfo {
    fn from(e: certless::Error) -> Self {
        ErrorInfo::from(e.report())
    }
}
