//! One entry of the ordered credential list (Id.Web's `ClientCredentials`): what it is made of.

use std::path::PathBuf;

use crate::certificate::{CertificateSource, StoreFind};
use crate::managed_identity::ManagedIdentityId;
use crate::support::secret::Secret;
use crate::token::CredentialSourceKind;
/// One entry of the ordered credential list (Id.Web's `ClientCredentials`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// A managed-identity token, presented to Entra as the client assertion.
    ManagedIdentity {
        /// Which managed identity.
        id: ManagedIdentityId,
        /// The managed-identity token's audience (Id.Web `TokenExchangeUrl`); default per cloud.
        token_exchange_audience: Option<String>,
    },
    /// A client secret (the app registration's). Entra issues the token with `appidacr` 1,
    /// which SharePoint REST refuses; prefer the managed identity and keep this as a fallback.
    ClientSecret {
        /// The secret's value.
        secret: Secret,
    },
    /// A federated token in a file (AKS workload identity), re-read as it rotates; `None` means
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    SignedAssertionFile {
        /// The file.
        path: Option<PathBuf>,
    },
    /// A certificate whose key signs a client assertion (Id.Web `Path`, `Base64Encoded`,
    /// `KeyVault` and the certificate-store types).
    Certificate {
        /// Where the certificate comes from.
        source: CertificateSource,
        /// The PFX's (or encrypted PEM key's) password.
        password: Option<Secret>,
    },
    /// A kind that exists only inside a .NET program (a certificate object or an assertion
    /// provider given in code); reported when the chain reaches it.
    Unsupported {
        /// Which kind.
        kind: CredentialSourceKind,
    },
}

impl CredentialSource {
    /// The Id.Web `SourceType` of this entry.
    pub fn kind(&self) -> CredentialSourceKind {
        match self {
            CredentialSource::ManagedIdentity { .. } => {
                CredentialSourceKind::SignedAssertionFromManagedIdentity
            }
            CredentialSource::ClientSecret { .. } => CredentialSourceKind::ClientSecret,
            CredentialSource::SignedAssertionFile { .. } => {
                CredentialSourceKind::SignedAssertionFilePath
            }
            CredentialSource::Certificate { source, .. } => match source {
                CertificateSource::File(_) => CredentialSourceKind::Path,
                CertificateSource::Base64(_) => CredentialSourceKind::Base64Encoded,
                CertificateSource::KeyVault { .. } => CredentialSourceKind::KeyVault,
                CertificateSource::Store { find, .. } => match find {
                    StoreFind::Thumbprint(_) => CredentialSourceKind::StoreWithThumbprint,
                    StoreFind::DistinguishedName(_) => {
                        CredentialSourceKind::StoreWithDistinguishedName
                    }
                    StoreFind::SubjectName(_) => CredentialSourceKind::StoreWithSubjectName,
                },
            },
            CredentialSource::Unsupported { kind } => *kind,
        }
    }
}
