//! The vocabulary every layer shares: an access token and the options of one request. A leaf:
//! the cache, the single-flight and the credential all use it, and it uses none of them.

pub mod expiry;
pub mod jwt;
pub(crate) mod lifetime;
pub(crate) mod scope;

use std::fmt;
use std::sync::Arc;

use crate::support::secret::Secret;

/// An access token and what is known about it.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token. `Debug` prints no part of it.
    pub token: Secret,
    /// `Bearer`, almost always.
    pub token_type: Arc<str>,
    /// Expiry, Unix seconds.
    pub expires_on: i64,
    /// When to refresh proactively (Unix seconds), when Entra said (`refresh_in`).
    pub refresh_on: Option<i64>,
    /// Which entry of the credential list produced it.
    pub source: CredentialSourceKind,
}

/// Options of one token request, beyond the scopes.
#[derive(Clone, Debug, Default)]
pub struct TokenRequestOptions {
    /// Claims from a Continuous Access Evaluation challenge: the cache is bypassed and the new
    /// token replaces the cached one.
    pub claims: Option<String>,
    /// Another tenant than the configured one (multi-tenant apps).
    pub tenant_id: Option<String>,
    /// Fetch a new token even if a cached one is valid (it then replaces the cached one).
    pub force_refresh: bool,
    /// The caller's span, as a W3C `traceparent` header: with OpenTelemetry export on
    /// (docs/telemetry.md), the request's spans are its children. A malformed value is refused.
    pub traceparent: Option<String>,
}

/// The kinds of client credential, named as Microsoft.Identity.Web's `SourceType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSourceKind {
    /// A managed-identity token as the client assertion (the federated credential).
    SignedAssertionFromManagedIdentity,
    /// A federated token read from a file (AKS workload identity).
    SignedAssertionFilePath,
    /// A certificate file (PFX or PEM).
    Path,
    /// A PFX given as base64.
    Base64Encoded,
    /// A client secret.
    ClientSecret,
    /// A certificate in Azure Key Vault.
    KeyVault,
    /// A certificate in the Windows certificate store, by thumbprint.
    StoreWithThumbprint,
    /// A certificate in the Windows certificate store, by distinguished name.
    StoreWithDistinguishedName,
    /// A certificate in the Windows certificate store, by subject name.
    StoreWithSubjectName,
    /// A certificate object given in code (.NET only).
    Certificate,
    /// A signed assertion from Key Vault.
    SignedAssertionFromVault,
    /// A signed assertion from a custom provider (.NET only).
    CustomSignedAssertion,
    /// Decryption keys only (not a client credential).
    AutoDecryptKeys,
}

impl CredentialSourceKind {
    /// Every kind, in Id.Web's order.
    pub const ALL: [CredentialSourceKind; 13] = [
        CredentialSourceKind::SignedAssertionFromManagedIdentity,
        CredentialSourceKind::SignedAssertionFilePath,
        CredentialSourceKind::Path,
        CredentialSourceKind::Base64Encoded,
        CredentialSourceKind::ClientSecret,
        CredentialSourceKind::KeyVault,
        CredentialSourceKind::StoreWithThumbprint,
        CredentialSourceKind::StoreWithDistinguishedName,
        CredentialSourceKind::StoreWithSubjectName,
        CredentialSourceKind::Certificate,
        CredentialSourceKind::SignedAssertionFromVault,
        CredentialSourceKind::CustomSignedAssertion,
        CredentialSourceKind::AutoDecryptKeys,
    ];

    /// The Microsoft.Identity.Web `SourceType` name.
    pub fn as_str(self) -> &'static str {
        use CredentialSourceKind::*;
        match self {
            SignedAssertionFromManagedIdentity => "SignedAssertionFromManagedIdentity",
            SignedAssertionFilePath => "SignedAssertionFilePath",
            Path => "Path",
            Base64Encoded => "Base64Encoded",
            ClientSecret => "ClientSecret",
            KeyVault => "KeyVault",
            StoreWithThumbprint => "StoreWithThumbprint",
            StoreWithDistinguishedName => "StoreWithDistinguishedName",
            StoreWithSubjectName => "StoreWithSubjectName",
            Certificate => "Certificate",
            SignedAssertionFromVault => "SignedAssertionFromVault",
            CustomSignedAssertion => "CustomSignedAssertion",
            AutoDecryptKeys => "AutoDecryptKeys",
        }
    }

    /// Case-insensitive, as .NET configuration binding is.
    pub fn parse(value: &str) -> Option<Self> {
        CredentialSourceKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(value.trim()))
    }
}

impl fmt::Display for CredentialSourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
