//! The certificate credential: where the certificate comes from (a file, Key Vault, the store),
//! loading it when the credential is built, re-reading a file that changed, and the assertion it
//! signs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::client_certificate::ClientCertificate;
use super::key_vault::KeyVaultReference;
use super::load::unusable;
use super::store::{self, StoreFind, StorePath};
use crate::error::{Error, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;
use crate::support::env::Environment;
use crate::support::secret::Secret;

/// Where a certificate credential comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateSource {
    /// A PFX or PEM file, re-read when it changes.
    File(PathBuf),
    /// A PFX, base64 (Id.Web `Base64EncodedValue`).
    Base64(Secret),
    /// A certificate in Azure Key Vault (Id.Web `KeyVault`), read with a managed-identity token
    /// and read again when the vault has a newer version.
    KeyVault {
        /// The vault and the certificate's name.
        reference: KeyVaultReference,
        /// The identity that reads the vault; `None`: the credential list's managed identity
        /// (the first `SignedAssertionFromManagedIdentity` entry's), else the system-assigned one.
        managed_identity: Option<crate::managed_identity::ManagedIdentityId>,
    },
    /// A certificate in the certificate store (Id.Web `StoreWithThumbprint`,
    /// `StoreWithDistinguishedName`, `StoreWithSubjectName`).
    Store {
        /// Which store (`CurrentUser/My`, `LocalMachine/My`, ...).
        store: StorePath,
        /// How the certificate is named.
        find: StoreFind,
    },
}

impl fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateSource::File(path) => f.debug_tuple("File").field(path).finish(),
            CertificateSource::Base64(_) => f.write_str("Base64(<redacted>)"),
            CertificateSource::KeyVault {
                reference,
                managed_identity,
            } => f
                .debug_struct("KeyVault")
                .field("reference", reference)
                .field("managed_identity", managed_identity)
                .finish(),
            CertificateSource::Store { store, find } => f
                .debug_struct("Store")
                .field("store", store)
                .field("find", find)
                .finish(),
        }
    }
}

/// A certificate credential of the chain: loaded when the credential is built (so mistakes show
/// at once), and, for a file, re-read when the file changes.
pub(crate) struct CertificateCredential {
    source: CertificateSource,
    password: Option<Secret>,
    send_x5c: bool,
    env: Arc<dyn Environment>,
    current: Mutex<Loaded>,
}

pub(super) struct Loaded {
    certificate: Arc<ClientCertificate>,
    /// The file's modification time and size when it was read.
    stamp: Option<(SystemTime, u64)>,
    /// When a store was last searched (Unix seconds).
    searched_at: i64,
}

/// A store is searched again this long after the last search, for a renewed certificate.
const STORE_RESEARCH_SECS: i64 = 3600;

impl CertificateCredential {
    pub(crate) fn load(
        source: CertificateSource,
        password: Option<Secret>,
        send_x5c: bool,
        env: Arc<dyn Environment>,
        now: i64,
    ) -> Result<Self> {
        let loaded = read(&source, password.as_ref(), env.as_ref(), now)?;
        log::info!(
            "certless: client certificate {}",
            loaded.certificate.describe()
        );
        Ok(CertificateCredential {
            source,
            password,
            send_x5c,
            env,
            current: Mutex::new(loaded),
        })
    }

    pub(crate) fn certificate(&self) -> Arc<ClientCertificate> {
        Arc::clone(
            &self
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .certificate,
        )
    }

    /// A fresh assertion for `audience`, from the file's current certificate.
    pub(crate) fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<Secret> {
        self.reload_if_changed();
        self.research_store(now, false);
        let certificate = self.certificate();
        if let Some(warning) = certificate.expiry_warning(now) {
            log::warn!("certless: the client certificate {warning}");
        }
        certificate.sign_assertion(client_id, audience, self.send_x5c, now)
    }

    /// What an error about this certificate should add: which one it was and whether it is in
    /// its validity period.
    /// Entra refused the certificate: a store is searched again at once (a renewed certificate
    /// may be there already).
    pub(crate) fn rejected(&self, now: i64) {
        self.research_store(now, true);
    }

    /// Searches the store again an hour after the last search, or at once when `now_please`.
    fn research_store(&self, now: i64, now_please: bool) {
        if !matches!(self.source, CertificateSource::Store { .. }) {
            return;
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if !now_please && now - current.searched_at < STORE_RESEARCH_SECS {
            return;
        }
        current.searched_at = now;
        match read(&self.source, None, self.env.as_ref(), now) {
            Ok(fresh) if fresh.certificate.chain[0] != current.certificate.chain[0] => {
                log::info!(
                    "certless: the certificate store now has {}",
                    fresh.certificate.describe()
                );
                *current = fresh;
            }
            Ok(_) => {}
            Err(e) => log::warn!(
                "certless: searching the certificate store again failed ({e}); keeping {}",
                current.certificate.describe()
            ),
        }
    }
}

impl CertificateCredential {
    fn reload_if_changed(&self) {
        let CertificateSource::File(path) = &self.source else {
            return;
        };
        let stamp = file_stamp(path);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_none() || stamp == current.stamp {
            return;
        }
        match read(&self.source, self.password.as_ref(), self.env.as_ref(), 0) {
            Ok(fresh) => {
                log::info!(
                    "certless: {} changed; now using {}",
                    path.display(),
                    fresh.certificate.describe()
                );
                *current = fresh;
            }
            Err(e) => {
                // Keep signing with the certificate in hand; say so once per change.
                log::warn!(
                    "certless: {} changed but cannot be used ({e}); keeping the previous \
                        certificate",
                    path.display()
                );
                current.stamp = stamp;
            }
        }
    }
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("source", &self.source)
            .field("certificate", &self.certificate())
            .finish_non_exhaustive()
    }
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

pub(super) fn read(
    source: &CertificateSource,
    password: Option<&Secret>,
    env: &dyn Environment,
    now: i64,
) -> Result<Loaded> {
    match source {
        CertificateSource::File(path) => {
            let origin = echo_path(path);
            let stamp = file_stamp(path);
            let bytes = bounded_file::read(path, bounded_file::CERTIFICATE_FILE).map_err(|e| {
                unusable(&origin, &e).with_remedy(
                    "Check CertificateDiskPath (AZURE_CLIENT_CERTIFICATE_PATH): it must name the \
                        .pfx or .pem file, readable by this process's account.",
                )
            })?;
            Ok(Loaded {
                certificate: Arc::new(ClientCertificate::parse(&bytes, password, &origin)?),
                stamp,
                searched_at: now,
            })
        }
        CertificateSource::Base64(value) => {
            let origin = "in Base64EncodedValue";
            let cleaned: String = value
                .expose()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = STANDARD.decode(cleaned.as_bytes()).map_err(|_| {
                unusable(origin, "is not base64").with_remedy(
                    "Use the base64 of the .pfx file \
                        ([Convert]::ToBase64String([IO.File]::ReadAllBytes('app.pfx')), or \
                        base64 -w0 app.pfx).",
                )
            })?;
            Ok(Loaded {
                certificate: Arc::new(ClientCertificate::from_pkcs12(&der, password, origin)?),
                stamp: None,
                searched_at: now,
            })
        }
        CertificateSource::Store { store, find } => Ok(Loaded {
            certificate: Arc::new(store::load(store, find, env, now)?),
            stamp: None,
            searched_at: now,
        }),
        CertificateSource::KeyVault { .. } => Err(Error::internal(
            "a Key Vault certificate is read by its own chain entry",
        )),
    }
}
