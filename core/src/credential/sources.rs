//! The entries of the credential list and how each is built from its configured source: a
//! managed-identity assertion, a federated token file, a loaded or Key Vault certificate, a
//! client secret — or, for a source that cannot work here, the error it will report.

use std::path::Path;
use std::sync::Arc;

use crate::certificate::CertificateCredential;
use crate::certificate::key_vault::{KeyVaultCertificate, KeyVaultReference};
use crate::config::{CertificateSource, CredentialSource, CredentialSourceKind, ValidatedOptions};
use crate::credential::assertion_file::AssertionFile;
use crate::error::{Error, ErrorCode, Result};
use crate::http::stats::UpstreamCounters;
use crate::managed_identity::assertion::ManagedIdentityAssertion;
use crate::managed_identity::{
    ManagedIdentityClient, ManagedIdentityId, SourceSelection, select_source,
};
use crate::support::secret::Secret;

pub(super) enum ChainEntry {
    ManagedIdentity(Arc<ManagedIdentityAssertion>),
    ClientSecret(Secret),
    AssertionFile(AssertionFile),
    Certificate {
        kind: CredentialSourceKind,
        certificate: CertificateCredential,
    },
    KeyVault(Arc<KeyVaultCertificate>),
    /// A source that cannot produce a token here; its error is reported when the chain reaches it.
    Unavailable {
        kind: CredentialSourceKind,
        error: Error,
    },
}

/// What building the entries shares: the options, the managed-identity source (selected once,
/// on the first entry that needs it) and the upstream counters.
struct Build<'a> {
    o: &'a ValidatedOptions,
    selection: Option<Result<SourceSelection>>,
    counters: &'a Arc<UpstreamCounters>,
}

/// The entries of the configured sources, in order.
pub(super) fn build_entries(
    o: &ValidatedOptions,
    counters: &Arc<UpstreamCounters>,
) -> Vec<ChainEntry> {
    let mut build = Build {
        o,
        selection: None,
        counters,
    };
    o.sources
        .iter()
        .map(|source| ChainEntry::new(source, &mut build))
        .collect()
}

impl ChainEntry {
    pub(super) fn kind(&self) -> CredentialSourceKind {
        match self {
            ChainEntry::ManagedIdentity(_) => {
                CredentialSourceKind::SignedAssertionFromManagedIdentity
            }
            ChainEntry::ClientSecret(_) => CredentialSourceKind::ClientSecret,
            ChainEntry::AssertionFile(_) => CredentialSourceKind::SignedAssertionFilePath,
            ChainEntry::KeyVault(_) => CredentialSourceKind::KeyVault,
            ChainEntry::Certificate { kind, .. } | ChainEntry::Unavailable { kind, .. } => *kind,
        }
    }

    /// Builds the entry for one configured source. A source that cannot work here (no
    /// managed-identity endpoint, an unreadable certificate, ...) becomes `Unavailable`: the
    /// others may still produce tokens.
    fn new(source: &CredentialSource, build: &mut Build<'_>) -> ChainEntry {
        let kind = source.kind();
        let entry = match source {
            CredentialSource::ManagedIdentity {
                id,
                token_exchange_audience,
            } => build.managed_identity(kind, id, token_exchange_audience.as_deref()),
            CredentialSource::ClientSecret { secret } => {
                Ok(ChainEntry::ClientSecret(secret.clone()))
            }
            CredentialSource::SignedAssertionFile { path } => {
                build.assertion_file(kind, path.as_deref())
            }
            CredentialSource::Certificate {
                source:
                    CertificateSource::KeyVault {
                        reference,
                        managed_identity,
                    },
                ..
            } => build.key_vault(kind, reference, managed_identity.as_ref()),
            CredentialSource::Certificate { source, password } => {
                build.certificate(kind, source, password.clone())
            }
            CredentialSource::Unsupported { kind } => Err(unsupported(*kind)),
        };
        entry.unwrap_or_else(|error| ChainEntry::Unavailable { kind, error })
    }
}

impl Build<'_> {
    /// A client for the host's managed-identity endpoint, presenting `id`.
    fn managed_identity_client(&mut self, id: &ManagedIdentityId) -> Result<ManagedIdentityClient> {
        let o = self.o;
        self.selection
            .get_or_insert_with(|| select_source(o.env.as_ref(), o.managed_identity_source))
            .clone()
            .and_then(|s| ManagedIdentityClient::new(s, o.env.as_ref(), id.clone()))
    }

    /// A managed-identity token as assertion, for `audience` (else the cloud's default).
    fn managed_identity(
        &mut self,
        kind: CredentialSourceKind,
        id: &ManagedIdentityId,
        audience: Option<&str>,
    ) -> Result<ChainEntry> {
        let o = self.o;
        let audience = audience.map_or_else(|| o.default_audience.clone(), str::to_string);
        let client = self.managed_identity_client(id)?;
        log::info!(
            "certless: {kind}: {id} managed identity via {} ({}), audience {audience}",
            client.selection().source,
            client.selection().reason
        );
        Ok(ChainEntry::ManagedIdentity(Arc::new(
            ManagedIdentityAssertion::new(
                client,
                audience,
                o.assertion_margin,
                o.retries.managed_identity,
                Arc::clone(self.counters),
            ),
        )))
    }

    /// A federated token file, read afresh whenever its token nears its end.
    fn assertion_file(
        &self,
        kind: CredentialSourceKind,
        path: Option<&Path>,
    ) -> Result<ChainEntry> {
        let Some(path) = path else {
            return Err(Error::config(
                ErrorCode::MissingConfig,
                "the SignedAssertionFilePath credential has no file",
            ));
        };
        log::info!("certless: {kind}: federated token file {}", path.display());
        Ok(ChainEntry::AssertionFile(AssertionFile::new(
            path.to_path_buf(),
            self.o.assertion_margin,
        )))
    }

    /// A certificate kept in Key Vault, read with a managed identity when first needed.
    fn key_vault(
        &mut self,
        kind: CredentialSourceKind,
        reference: &KeyVaultReference,
        managed_identity: Option<&ManagedIdentityId>,
    ) -> Result<ChainEntry> {
        let o = self.o;
        // The vault is read with the identity the entry names, else the one the credential list
        // presents to Entra, else the host's own.
        let id = managed_identity.cloned().unwrap_or_else(|| {
            o.sources
                .iter()
                .find_map(|s| match s {
                    CredentialSource::ManagedIdentity { id, .. } => Some(id.clone()),
                    _ => None,
                })
                .unwrap_or(ManagedIdentityId::SystemAssigned)
        });
        let client = self.managed_identity_client(&id)?;
        log::info!(
            "certless: {kind}: {reference:?}, read as the {id} managed identity via {}",
            client.selection().source
        );
        Ok(ChainEntry::KeyVault(Arc::new(KeyVaultCertificate::new(
            reference.clone(),
            &o.authority,
            client,
            o.retries.managed_identity,
            o.retries.exchange,
            o.send_certificate_chain,
        ))))
    }

    /// A certificate from a file, base64 text or the certificate store, loaded now.
    fn certificate(
        &self,
        kind: CredentialSourceKind,
        source: &CertificateSource,
        password: Option<Secret>,
    ) -> Result<ChainEntry> {
        let o = self.o;
        let certificate = CertificateCredential::load(
            source.clone(),
            password,
            o.send_certificate_chain,
            Arc::clone(&o.env),
            o.clock.now_unix(),
        )?;
        Ok(ChainEntry::Certificate { kind, certificate })
    }
}

/// Why a source that lives only inside a .NET application is skipped.
fn unsupported(kind: CredentialSourceKind) -> Error {
    Error::config(
        ErrorCode::UnsupportedCredentialSource,
        format!(
            "the {kind} credential source exists only inside a .NET application (an object or \
             provider given in code), so certless cannot use it"
        ),
    )
    .with_remedy(
        "Use a Path, KeyVault or certificate-store entry for a certificate, or put a \
         SignedAssertionFromManagedIdentity entry first in ClientCredentials; this entry is \
         skipped.",
    )
}

/// Whether entries of this kind hold a certificate (what the doctor inspects).
pub(super) fn is_certificate_kind(kind: CredentialSourceKind) -> bool {
    use CredentialSourceKind as K;
    matches!(
        kind,
        K::Path
            | K::Base64Encoded
            | K::KeyVault
            | K::StoreWithThumbprint
            | K::StoreWithDistinguishedName
            | K::StoreWithSubjectName
    )
}
