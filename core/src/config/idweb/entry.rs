//! One `ClientCredentials` entry of Id.Web's configuration as a credential source: its
//! `SourceType` picks one small reader per kind, each taking the keys that kind uses.

use serde_json::{Map, Value};

use super::json::{boolean, check_keys, string};
use crate::config::{
    CertificateSource, CredentialSource, CredentialSourceKind, KeyVaultReference, StoreFind,
    StorePath,
};
use crate::error::{Error, ErrorCode, Result};
use crate::managed_identity::ManagedIdentityId;
use crate::support::echo::echo;
use crate::support::secret::Secret;

/// Keys of a `ClientCredentials` entry (Id.Web's `CredentialDescription`), plus certless's
/// `ManagedIdentityObjectId` / `ManagedIdentityResourceId` for identities picked another way.
const CREDENTIAL_KEYS: &[&str] = &[
    "SourceType",
    "Skip",
    "ManagedIdentityClientId",
    "ManagedIdentityObjectId",
    "ManagedIdentityResourceId",
    "TokenExchangeUrl",
    "TokenExchangeAuthority",
    "KeyVaultUrl",
    "KeyVaultCertificateName",
    "CertificateStorePath",
    "CertificateDistinguishedName",
    "CertificateThumbprint",
    "CertificateDiskPath",
    "CertificatePassword",
    "Base64EncodedValue",
    "ClientSecret",
    "SignedAssertionFileDiskPath",
    "CustomSignedAssertionProviderName",
    "CustomSignedAssertionProviderData",
    "DecryptKeysAuthenticationOptions",
    "Container",
    "ReferenceOrValue",
    "Certificate",
    "CertificateSubjectName",
];

/// One `ClientCredentials` entry as a credential source, or `None` for one marked `"Skip"`.
pub(super) fn credential_entry(entry: &Value, path: &str) -> Result<Option<CredentialSource>> {
    let obj = entry.as_object().ok_or_else(|| {
        Error::config(ErrorCode::InvalidConfig, format!("{path} is not an object"))
    })?;
    check_keys(obj, path, &[CREDENTIAL_KEYS])?;
    if boolean(obj, "Skip", path)?.unwrap_or(false) {
        return Ok(None);
    }
    let kind = source_type(obj, path)?;
    let entry = Entry { obj, path, kind };
    use CredentialSourceKind as K;
    let source = match kind {
        K::ClientSecret => entry.client_secret()?,
        K::SignedAssertionFilePath => entry.assertion_file()?,
        K::Path => entry.certificate_file()?,
        K::Base64Encoded => entry.base64_certificate()?,
        _ => {
            // Read (and so checked) for every other kind, as Id.Web's loaders all see it.
            entry.string("CertificatePassword")?;
            let named = entry.managed_identity_id()?;
            // Id.Web's generic pair: the container (vault URL, store path) and what is in it.
            let generic = Generic {
                container: entry.string("Container")?,
                reference: entry.string("ReferenceOrValue")?,
            };
            match kind {
                K::SignedAssertionFromManagedIdentity => entry.managed_identity(named)?,
                K::KeyVault => entry.key_vault(named, generic)?,
                K::StoreWithThumbprint => entry.store_with_thumbprint(generic)?,
                K::StoreWithDistinguishedName => entry.store_with_distinguished_name(generic)?,
                K::StoreWithSubjectName => entry.store_with_subject_name(generic)?,
                _ => CredentialSource::Unsupported { kind },
            }
        }
    };
    Ok(Some(source))
}

/// The entry's `SourceType`, which must be one of Id.Web's.
fn source_type(obj: &Map<String, Value>, path: &str) -> Result<CredentialSourceKind> {
    let source_type = string(obj, "SourceType", path)?.ok_or_else(|| {
        Error::config(
            ErrorCode::MissingConfig,
            format!("{path} has no SourceType"),
        )
        .with_remedy(
            "Add \"SourceType\": \"SignedAssertionFromManagedIdentity\" (or another \
                Microsoft.Identity.Web source type).",
        )
    })?;
    CredentialSourceKind::parse(&source_type).ok_or_else(|| {
        let known: Vec<&str> = CredentialSourceKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        Error::config(
            ErrorCode::UnsupportedCredentialSource,
            format!("{path} has an unknown SourceType '{}'", echo(&source_type)),
        )
        .with_remedy(format!("Use one of: {}.", known.join(", ")))
    })
}

/// One `ClientCredentials` entry being read: its keys, where it is, and its kind.
struct Entry<'a> {
    obj: &'a Map<String, Value>,
    path: &'a str,
    kind: CredentialSourceKind,
}

/// Id.Web's `Container` and `ReferenceOrValue`, the fallbacks of the kind's own keys.
struct Generic {
    container: Option<String>,
    reference: Option<String>,
}

impl Entry<'_> {
    fn string(&self, key: &str) -> Result<Option<String>> {
        string(self.obj, key, self.path)
    }

    /// The value of `key`, else `fallback`; an error showing `example` when neither is there.
    fn required(&self, key: &str, fallback: Option<String>, example: &str) -> Result<String> {
        let (path, kind) = (self.path, self.kind);
        match self.string(key)?.or(fallback) {
            Some(value) => Ok(value),
            None => Err(Error::config(
                ErrorCode::MissingConfig,
                format!("{path} is a {kind} entry without {key}"),
            )
            .with_remedy(format!("Add \"{key}\": \"{example}\"."))),
        }
    }

    /// `ClientSecret`: the secret's value in the entry.
    fn client_secret(&self) -> Result<CredentialSource> {
        let path = self.path;
        let secret = self.string("ClientSecret")?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "{path} is a ClientSecret entry \
                without a ClientSecret value"
                ),
            )
            .with_remedy(
                "Add \"ClientSecret\": \"<the secret's value>\" (better: keep it \
                    out of the file, in AZURE_CLIENT_SECRET).",
            )
        })?;
        Ok(CredentialSource::ClientSecret {
            secret: Secret::from(secret),
        })
    }

    /// `SignedAssertionFilePath`: a federated token file, by default `AZURE_FEDERATED_TOKEN_FILE`.
    fn assertion_file(&self) -> Result<CredentialSource> {
        let path = self
            .string("SignedAssertionFileDiskPath")?
            .map(std::path::PathBuf::from);
        Ok(CredentialSource::SignedAssertionFile { path })
    }

    /// `Path`: a PFX or PEM file, with its password.
    fn certificate_file(&self) -> Result<CredentialSource> {
        let path = self.path;
        let password = self.string("CertificatePassword")?.map(Secret::from);
        let file = self.string("CertificateDiskPath")?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "{path} is a Path entry without \
                CertificateDiskPath"
                ),
            )
            .with_remedy(
                "Add \"CertificateDiskPath\": \"<path to the .pfx or .pem>\" (and \
                    CertificatePassword if the PFX has one).",
            )
        })?;
        Ok(CredentialSource::Certificate {
            source: CertificateSource::File(file.into()),
            password,
        })
    }

    /// `Base64Encoded`: a PFX in the entry, with its password.
    fn base64_certificate(&self) -> Result<CredentialSource> {
        let path = self.path;
        let password = self.string("CertificatePassword")?.map(Secret::from);
        let value = self.string("Base64EncodedValue")?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!("{path} is a Base64Encoded entry without Base64EncodedValue"),
            )
            .with_remedy("Add \"Base64EncodedValue\": \"<base64 of the .pfx>\".")
        })?;
        Ok(CredentialSource::Certificate {
            source: CertificateSource::Base64(Secret::from(value)),
            password,
        })
    }

    /// The managed identity the entry names, by at most one of its three keys.
    fn managed_identity_id(&self) -> Result<Option<ManagedIdentityId>> {
        let path = self.path;
        let ids = [
            self.string("ManagedIdentityClientId")?
                .map(ManagedIdentityId::ClientId),
            self.string("ManagedIdentityObjectId")?
                .map(ManagedIdentityId::ObjectId),
            self.string("ManagedIdentityResourceId")?
                .map(ManagedIdentityId::ResourceId),
        ];
        let mut ids = ids.into_iter().flatten();
        let named = ids.next();
        if ids.next().is_some() {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "{path} names the managed \
            identity more than once"
                ),
            )
            .with_remedy(
                "Keep one of ManagedIdentityClientId, ManagedIdentityObjectId, \
                    ManagedIdentityResourceId.",
            ));
        }
        Ok(named)
    }

    /// `SignedAssertionFromManagedIdentity`: the named identity (else the system-assigned one)
    /// and the audience of its token.
    fn managed_identity(&self, named: Option<ManagedIdentityId>) -> Result<CredentialSource> {
        let id = named.unwrap_or(ManagedIdentityId::SystemAssigned);
        let token_exchange_audience = self.string("TokenExchangeUrl")?;
        Ok(CredentialSource::ManagedIdentity {
            id,
            token_exchange_audience,
        })
    }

    /// `KeyVault`: a certificate in a vault, read as the named identity.
    fn key_vault(
        &self,
        named: Option<ManagedIdentityId>,
        generic: Generic,
    ) -> Result<CredentialSource> {
        let url = self.required(
            "KeyVaultUrl",
            generic.container,
            "https://<vault>.vault.azure.net",
        )?;
        let name = self.required(
            "KeyVaultCertificateName",
            generic.reference,
            "<certificate name>",
        )?;
        Ok(CredentialSource::Certificate {
            source: CertificateSource::KeyVault {
                reference: KeyVaultReference::new(&url, &name)?,
                managed_identity: named,
            },
            password: None,
        })
    }

    /// `StoreWithThumbprint`.
    fn store_with_thumbprint(&self, generic: Generic) -> Result<CredentialSource> {
        let thumbprint = self.required(
            "CertificateThumbprint",
            generic.reference,
            "<40 hex digits>",
        )?;
        self.store_entry(StoreFind::thumbprint(&thumbprint)?, generic.container)
    }

    /// `StoreWithDistinguishedName`.
    fn store_with_distinguished_name(&self, generic: Generic) -> Result<CredentialSource> {
        let name = self.required(
            "CertificateDistinguishedName",
            generic.reference,
            "CN=<subject>",
        )?;
        self.store_entry(StoreFind::DistinguishedName(name), generic.container)
    }

    /// `StoreWithSubjectName`.
    fn store_with_subject_name(&self, generic: Generic) -> Result<CredentialSource> {
        let name = self.required("CertificateSubjectName", generic.reference, "<subject>")?;
        self.store_entry(StoreFind::SubjectName(name), generic.container)
    }

    /// A certificate found in the entry's store (by default the current user's `My`).
    fn store_entry(&self, find: StoreFind, container: Option<String>) -> Result<CredentialSource> {
        let store = match self.string("CertificateStorePath")?.or(container) {
            Some(text) => StorePath::parse(&text)?,
            None => StorePath::current_user_my(),
        };
        Ok(CredentialSource::Certificate {
            source: CertificateSource::Store { store, find },
            password: None,
        })
    }
}
