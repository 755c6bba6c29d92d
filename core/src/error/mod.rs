//! The one error type of certless: a stable numeric code, the leg of the flow that failed, what the
//! server said (HTTP status, AADSTS codes, trace and correlation ids) and how to fix it.
//!
//! Every binding (C status codes, Python exception classes, JS `.code`, .NET `CertlessException`)
//! carries the same [`ErrorCode`] numbers, so they are part of the public contract: never renumber
//! one, and keep retired numbers as comments.

mod report;

pub use report::ErrorReport;

use std::borrow::Cow;
use std::fmt;

/// The part of the flow that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Leg {
    /// The configuration, before anything went on the wire.
    Config,
    /// The managed-identity endpoint (IMDS, App Service, ...), which supplies the assertion.
    ManagedIdentity,
    /// Azure Key Vault, which holds a certificate of the credential list (Id.Web `KeyVault`).
    KeyVault,
    /// Entra's token endpoint, which exchanges the assertion for the access token.
    Exchange,
    /// The ordered list of credential sources as a whole (each source's own failure is a cause).
    Chain,
    /// The calling application (it cancelled the request).
    Caller,
    /// The resource the token was for (SharePoint, Graph, ...), which refused it.
    Resource,
    /// A defect in certless itself.
    Internal,
}

impl Leg {
    /// A stable machine name, used by every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Config => "config",
            Leg::ManagedIdentity => "managed_identity",
            Leg::KeyVault => "key_vault",
            Leg::Exchange => "exchange",
            Leg::Chain => "chain",
            Leg::Caller => "caller",
            Leg::Resource => "resource",
            Leg::Internal => "internal",
        }
    }

    /// The leg named by [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<Leg> {
        [
            Leg::Config,
            Leg::ManagedIdentity,
            Leg::Exchange,
            Leg::Chain,
            Leg::Caller,
            Leg::Resource,
            Leg::Internal,
        ]
        .into_iter()
        .find(|leg| leg.as_str() == name)
    }

    /// How the leg is named for people.
    pub fn describe(self) -> &'static str {
        match self {
            Leg::Config => "configuration",
            Leg::ManagedIdentity => "managed-identity endpoint",
            Leg::KeyVault => "Key Vault",
            Leg::Exchange => "Entra token exchange",
            Leg::Chain => "credential chain",
            Leg::Caller => "token request",
            Leg::Resource => "resource request",
            Leg::Internal => "certless internal",
        }
    }
}

impl fmt::Display for Leg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Stable numeric error codes. 0 is reserved for success in the C ABI.
/// 1xx configuration, 2xx managed-identity endpoint, 3xx Entra exchange, 4xx chain, 5xx caller,
/// 6xx Key Vault, 7xx the resource the token is for, 9xx internal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum ErrorCode {
    /// An argument was missing, NULL, not UTF-8 or otherwise unusable.
    InvalidArgument = 100,
    /// The configuration is malformed or a value is invalid.
    InvalidConfig = 101,
    /// The configuration has a key certless does not know (a typo, most often).
    UnknownConfigKey = 102,
    /// A required value (tenant, client id, ...) is missing.
    MissingConfig = 103,
    /// A `ClientCredentials` `SourceType` that is unknown, or that exists only inside a .NET
    /// program (`Certificate`, `CustomSignedAssertion`, ...).
    UnsupportedCredentialSource = 104,
    /// The authority is not https (and not a loopback address).
    InsecureAuthority = 105,
    /// The scope is not usable for an app-only token.
    InvalidScope = 106,
    /// The configuration file could not be read.
    ConfigFileUnreadable = 107,
    /// The environment points at a managed-identity source certless does not support yet.
    UnsupportedManagedIdentitySource = 108,
    /// The federated token file (`AZURE_FEDERATED_TOKEN_FILE`, `SignedAssertionFileDiskPath`)
    /// is missing, unreadable, expired or not a JWT.
    AssertionFileUnusable = 109,
    /// The client certificate (`Path`, `Base64Encoded`, `AZURE_CLIENT_CERTIFICATE_PATH`) cannot be
    /// used: unreadable, wrong password, no RSA key, or a key that is not the certificate's.
    CertificateUnusable = 110,
    /// No certificate in the certificate store matches the configured thumbprint, distinguished
    /// name or subject (or none that is valid now and has its private key).
    CertificateNotInStore = 111,
    /// The certificate store cannot be opened here: a store this platform does not have
    /// (`LocalMachine` on Linux), or one this process may not read.
    CertificateStoreUnavailable = 112,
    /// No connection to the managed-identity endpoint.
    ManagedIdentityUnreachable = 200,
    /// The managed-identity endpoint did not answer in time.
    ManagedIdentityTimeout = 201,
    /// The managed-identity endpoint answered with an error status.
    ManagedIdentityRejected = 202,
    /// The managed-identity endpoint answered 200 with a body certless cannot use.
    ManagedIdentityInvalidResponse = 203,
    /// The Azure Arc key file could not be read (permissions: the himds group).
    ManagedIdentityKeyFileUnreadable = 204,
    /// The endpoint answered for another identity than the one requested (failed closed).
    ManagedIdentityWrongIdentity = 205,
    /// No connection to Entra's token endpoint.
    ExchangeUnreachable = 300,
    /// Entra's token endpoint did not answer in time.
    ExchangeTimeout = 301,
    /// Entra refused the exchange (see the AADSTS codes).
    ExchangeRejected = 302,
    /// Entra answered with a body certless cannot use.
    ExchangeInvalidResponse = 303,
    /// Every source of the ordered credential list failed; the causes say why, one per source.
    AllCredentialSourcesFailed = 400,
    /// The caller cancelled the request.
    Cancelled = 500,
    /// No connection to Key Vault, or it did not answer in time.
    KeyVaultUnreachable = 600,
    /// Key Vault refused the managed identity (401: the token's audience or tenant; 403: no
    /// access policy or role that lets it read the certificate, or the vault's firewall).
    KeyVaultAccessDenied = 601,
    /// Key Vault has no certificate of that name (or it is disabled).
    KeyVaultCertificateNotFound = 602,
    /// Key Vault answered with another error status.
    KeyVaultRejected = 603,
    /// Key Vault answered with a body certless cannot use (or a certificate whose private key is
    /// not exportable).
    KeyVaultInvalidResponse = 604,
    /// The resource the token was for (SharePoint, Graph, ...) refused it (401 or 403); the
    /// message says what the token carried and the remedy what is missing
    /// ([`explain_refusal`](crate::resource::explain_refusal)).
    ResourceRefused = 700,
    /// A defect in certless (a caught panic, a broken invariant). Please report it.
    Internal = 900,
}

impl ErrorCode {
    /// The stable number.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The leg a code belongs to when nothing more specific is known.
    pub fn leg(self) -> Leg {
        match self as u32 {
            100..=199 => Leg::Config,
            200..=299 => Leg::ManagedIdentity,
            300..=399 => Leg::Exchange,
            400..=499 => Leg::Chain,
            500..=599 => Leg::Caller,
            600..=699 => Leg::KeyVault,
            700..=799 => Leg::Resource,
            _ => Leg::Internal,
        }
    }

    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidConfig,
        ErrorCode::UnknownConfigKey,
        ErrorCode::MissingConfig,
        ErrorCode::UnsupportedCredentialSource,
        ErrorCode::InsecureAuthority,
        ErrorCode::InvalidScope,
        ErrorCode::ConfigFileUnreadable,
        ErrorCode::UnsupportedManagedIdentitySource,
        ErrorCode::AssertionFileUnusable,
        ErrorCode::CertificateUnusable,
        ErrorCode::CertificateNotInStore,
        ErrorCode::CertificateStoreUnavailable,
        ErrorCode::ManagedIdentityUnreachable,
        ErrorCode::ManagedIdentityTimeout,
        ErrorCode::ManagedIdentityRejected,
        ErrorCode::ManagedIdentityInvalidResponse,
        ErrorCode::ManagedIdentityKeyFileUnreadable,
        ErrorCode::ManagedIdentityWrongIdentity,
        ErrorCode::ExchangeUnreachable,
        ErrorCode::ExchangeTimeout,
        ErrorCode::ExchangeRejected,
        ErrorCode::ExchangeInvalidResponse,
        ErrorCode::AllCredentialSourcesFailed,
        ErrorCode::Cancelled,
        ErrorCode::KeyVaultUnreachable,
        ErrorCode::KeyVaultAccessDenied,
        ErrorCode::KeyVaultCertificateNotFound,
        ErrorCode::KeyVaultRejected,
        ErrorCode::KeyVaultInvalidResponse,
        ErrorCode::ResourceRefused,
        ErrorCode::Internal,
    ];

    /// The code with this number, if it is one.
    pub fn from_u32(value: u32) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_u32() == value)
    }
}

/// A certless error. Cheap to move (one box), `Clone` so a failed fetch can be handed to every
/// waiting caller, and free of secrets: server text is scrubbed before it gets here.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", Rendered(self))]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug)]
struct Inner {
    code: ErrorCode,
    leg: Leg,
    message: String,
    remedy: Option<Cow<'static, str>>,
    http_status: Option<u16>,
    oauth_error: Option<String>,
    aadsts_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
    credential_source: Option<String>,
    retry_after: Option<u64>,
    /// Nothing accepted the connection (as opposed to a connection dropped or timed out).
    connect_failed: bool,
    /// The failure happened while connecting (refused, or no answer to the connection attempt).
    in_connect: bool,
    /// The source's own retry table says this answer will not change: never retried.
    permanent: bool,
    /// This host has no managed identity at all (see [`Error::is_unavailable`]).
    unavailable: bool,
    causes: Vec<Error>,
}

impl Error {
    /// An error of `code`, with a message and the code's leg.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            code,
            leg: code.leg(),
            message: message.into(),
            remedy: None,
            http_status: None,
            oauth_error: None,
            aadsts_codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
            credential_source: None,
            retry_after: None,
            connect_failed: false,
            in_connect: false,
            permanent: false,
            unavailable: false,
            causes: Vec::new(),
        }))
    }

    pub(crate) fn config(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::new(code, message).with_leg(Leg::Config)
    }

    pub(crate) fn with_leg(mut self, leg: Leg) -> Self {
        self.0.leg = leg;
        self
    }

    /// Sets how to fix it (hosts that report their own errors, such as the broker, use it too).
    pub fn with_remedy(mut self, remedy: impl Into<Cow<'static, str>>) -> Self {
        self.0.remedy = Some(remedy.into());
        self
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self
    }

    pub(crate) fn with_oauth_error(mut self, error: Option<String>) -> Self {
        self.0.oauth_error = error;
        self
    }

    pub(crate) fn with_aadsts_codes(mut self, codes: Vec<u32>) -> Self {
        self.0.aadsts_codes = codes;
        self
    }

    pub(crate) fn with_ids(
        mut self,
        trace_id: Option<String>,
        correlation_id: Option<String>,
    ) -> Self {
        self.0.trace_id = trace_id;
        self.0.correlation_id = correlation_id;
        self
    }

    pub(crate) fn with_credential_source(mut self, source: impl Into<String>) -> Self {
        self.0.credential_source = Some(source.into());
        self
    }

    pub(crate) fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.0.retry_after = seconds;
        self
    }

    pub(crate) fn with_connect_failed(mut self) -> Self {
        self.0.connect_failed = true;
        self
    }

    pub(crate) fn connect_failed(&self) -> bool {
        self.0.connect_failed
    }

    pub(crate) fn with_in_connect(mut self) -> Self {
        self.0.in_connect = true;
        self
    }

    /// The connection itself failed (refused or timed out), so no request reached a server.
    pub(crate) fn in_connect(&self) -> bool {
        self.0.in_connect
    }

    pub(crate) fn with_permanent(mut self) -> Self {
        self.0.permanent = true;
        self
    }

    pub(crate) fn is_permanent(&self) -> bool {
        self.0.permanent
    }

    pub(crate) fn with_unavailable(mut self) -> Self {
        self.0.unavailable = true;
        self
    }

    /// Puts `prefix` before the message: what the failure means, said first.
    pub(crate) fn with_message_prefix(mut self, prefix: &str) -> Self {
        self.0.message.insert_str(0, prefix);
        self
    }

    /// Appends to the message (how many attempts were made, ...).
    pub(crate) fn with_message_suffix(mut self, suffix: &str) -> Self {
        self.0.message.push_str(suffix);
        self
    }

    pub(crate) fn with_causes(mut self, causes: Vec<Error>) -> Self {
        self.0.causes = causes;
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The part of the flow that failed.
    pub fn leg(&self) -> Leg {
        self.0.leg
    }

    /// What went wrong, in one or two sentences, without the remedy.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix the common causes, when known.
    pub fn remedy(&self) -> Option<&str> {
        self.0.remedy.as_deref()
    }

    /// The HTTP status the failing endpoint answered with, if it answered.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// The OAuth `error` field (`invalid_client`, ...) when Entra or the MI endpoint sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        self.0.oauth_error.as_deref()
    }

    /// AADSTS codes from Entra's `error_codes` (or the description when the list is absent).
    pub fn aadsts_codes(&self) -> &[u32] {
        &self.0.aadsts_codes
    }

    /// Entra's trace id: quote it in a support ticket.
    pub fn trace_id(&self) -> Option<&str> {
        self.0.trace_id.as_deref()
    }

    /// The correlation id certless sent (`client-request-id`) or Entra returned.
    pub fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }

    /// The credential source that failed (`SignedAssertionFromManagedIdentity`, ...), when known.
    pub fn credential_source(&self) -> Option<&str> {
        self.0.credential_source.as_deref()
    }

    /// Seconds the server asked us to wait (`Retry-After`) before trying again.
    pub fn retry_after(&self) -> Option<u64> {
        self.0.retry_after
    }

    /// True when the credential cannot work on this host at all, as opposed to failing: no
    /// managed-identity endpoint exists here (nothing listens at IMDS and no other source is
    /// configured, or Docker Desktop answers for it), and no other source of the credential list
    /// produced a token. A chain of credentials (azure-identity's `ChainedTokenCredential`,
    /// `DefaultAzureCredential`) should move on to its next credential; the bindings raise what
    /// their ecosystem's chain recognises (`CredentialUnavailableError`).
    pub fn is_unavailable(&self) -> bool {
        self.0.unavailable
    }

    /// For [`ErrorCode::AllCredentialSourcesFailed`]: each source's own failure, in order.
    pub fn causes(&self) -> &[Error] {
        &self.0.causes
    }

    /// The most telling single failure: for a chain, the first cause that is not a
    /// "not supported" entry; otherwise the error itself.
    pub fn primary(&self) -> &Error {
        self.0
            .causes
            .iter()
            .find(|c| c.code() != ErrorCode::UnsupportedCredentialSource)
            .or(self.0.causes.first())
            .map(Error::primary)
            .unwrap_or(self)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
            .with_remedy("This is a certless defect; please report it with the log.")
    }
}

struct Rendered<'a>(&'a Error);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0.0;
        write!(f, "{} failed: {}", e.leg.describe(), e.message)?;
        let mut details: Vec<String> = Vec::new();
        if let Some(source) = &e.credential_source {
            details.push(format!("source {source}"));
        }
        if let Some(status) = e.http_status {
            details.push(format!("HTTP {status}"));
        }
        if !e.aadsts_codes.is_empty() {
            let codes: Vec<String> = e
                .aadsts_codes
                .iter()
                .map(|c| format!("AADSTS{c}"))
                .collect();
            details.push(codes.join(", "));
        }
        if let Some(t) = &e.trace_id {
            details.push(format!("trace id {t}"));
        }
        if let Some(c) = &e.correlation_id {
            details.push(format!("correlation id {c}"));
        }
        if let Some(r) = e.retry_after {
            details.push(format!("retry after {r}s"));
        }
        details.push(format!("certless code {}", e.code.as_u32()));
        write!(f, " [{}]", details.join("; "))?;
        if let Some(remedy) = &e.remedy {
            write!(f, " Fix: {remedy}")?;
        }
        for (i, cause) in e.causes.iter().enumerate() {
            write!(f, "\n  {}. {cause}", i + 1)?;
        }
        Ok(())
    }
}

/// certless's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        assert_eq!(ErrorCode::InvalidArgument.as_u32(), 100);
        assert_eq!(ErrorCode::ManagedIdentityUnreachable.as_u32(), 200);
        assert_eq!(ErrorCode::ExchangeRejected.as_u32(), 302);
        assert_eq!(ErrorCode::AllCredentialSourcesFailed.as_u32(), 400);
        assert_eq!(ErrorCode::Internal.as_u32(), 900);
        for n in 0..1000 {
            if let Some(code) = ErrorCode::from_u32(n) {
                assert_eq!(code.as_u32(), n);
            }
        }
        assert_eq!(ErrorCode::from_u32(0), None);
    }

    #[test]
    fn display_names_leg_codes_ids_and_remedy() {
        let e = Error::new(ErrorCode::ExchangeRejected, "AADSTS70021: no match")
            .with_http_status(400)
            .with_aadsts_codes(vec![70021])
            .with_ids(Some("t-1".into()), Some("c-1".into()))
            .with_remedy("add a federated credential");
        let s = e.to_string();
        assert!(
            s.starts_with("Entra token exchange failed: AADSTS70021"),
            "{s}"
        );
        for part in [
            "HTTP 400",
            "AADSTS70021",
            "trace id t-1",
            "correlation id c-1",
            "certless code 302",
            "Fix: add",
        ] {
            assert!(s.contains(part), "{part} missing from {s}");
        }
        assert_eq!(e.leg(), Leg::Exchange);
    }
}
