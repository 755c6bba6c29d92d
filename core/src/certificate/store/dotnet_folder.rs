//! The certificate store where Windows has none: .NET on Linux keeps the user's `My` store as a
//! folder of PFX files without a password, `~/.dotnet/corefx/cryptography/x509stores/my/`, one
//! `<thumbprint>.pfx` per certificate (`X509Store.Add` writes them). Reading that folder makes
//! the same `appsettings.json` work on a Linux host. .NET on Linux has no `LocalMachine/My` (it
//! refuses to open it), so neither does certless.

use std::path::{Path, PathBuf};

use super::find::{Candidate, StoreFind, StoreLocation, StorePath, choose, unavailable};
use crate::certificate::client_certificate::ClientCertificate;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;
use crate::support::env::Environment;
use crate::support::secret::Secret;

/// More files than any real store holds: a folder past this is not a certificate store.
const MAX_FILES: usize = 2_000;

/// The folder of `CurrentUser/<name>` for the user whose home is `home`.
pub(crate) fn folder(home: &Path, name: &str) -> PathBuf {
    home.join(".dotnet/corefx/cryptography/x509stores")
        .join(name.to_ascii_lowercase())
}

pub(super) fn load(
    store: &StorePath,
    find: &StoreFind,
    env: &dyn Environment,
    now: i64,
) -> Result<ClientCertificate> {
    if store.location != StoreLocation::CurrentUser || store.name != "My" {
        return Err(unavailable(
            format!(
                "the certificate store {store} is not available on {}: .NET there keeps only the \
                 user's stores, as a folder of PFX files (CurrentUser/My in \
                 ~/.dotnet/corefx/cryptography/x509stores/my)",
                std::env::consts::OS
            ),
            "Use CertificateStorePath CurrentUser/My for the account this process runs as (add \
             the PFX with .NET's X509Store, or copy it there as <thumbprint>.pfx without a \
             password), or a Path entry naming the PFX file.",
        ));
    }
    let home = env.var("HOME").ok_or_else(|| {
        unavailable(
            format!("the certificate store {store} lives in the user's home, and HOME is not set"),
            "Set HOME for this process, or use a Path entry naming the PFX file.",
        )
    })?;
    let dir = folder(Path::new(&home), &store.name);
    let shown = echo_path(&dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(
                ErrorCode::CertificateNotInStore,
                format!(
                    "the certificate store {store} is empty: {shown} does not exist (nothing was \
                     ever added to it for this user)"
                ),
            )
            .with_remedy(
                "Add the certificate with its private key (.NET: new X509Store(StoreName.My, \
                 StoreLocation.CurrentUser).Add(cert)), or copy the PFX there as \
                 <thumbprint>.pfx without a password.",
            ));
        }
        Err(e) => {
            return Err(unavailable(
                format!("the certificate store {store} ({shown}) cannot be read: {e}"),
                "Let this process's account read its own ~/.dotnet folder.",
            ));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pfx")))
        .take(MAX_FILES)
        .collect();
    files.sort();
    let empty = Secret::from("");
    let mut candidates = Vec::new();
    let mut contents = Vec::new();
    for path in files {
        let Ok(bytes) = bounded_file::read(&path, bounded_file::CERTIFICATE_FILE) else {
            continue;
        };
        // .NET skips what it cannot read; so does certless, saying so in the log.
        match first_certificate(&bytes) {
            Some(der) => match Candidate::from_der(&der) {
                Some(candidate) => {
                    candidates.push(candidate);
                    contents.push((path, bytes));
                }
                None => log::debug!("certless: {} holds no X.509 certificate", echo_path(&path)),
            },
            None => log::debug!(
                "certless: {} is not a PFX without a password; skipped",
                echo_path(&path)
            ),
        }
    }
    let chosen = choose(&candidates, find, store, now)?;
    let (path, bytes) = &contents[chosen];
    let origin = format!("{} in the certificate store {store}", echo_path(path));
    ClientCertificate::from_pkcs12(bytes, Some(&empty), &origin)
        .map_err(|e| e.with_leg(Leg::Config))
}

/// The certificate a PFX file stands for, as .NET's `X509Certificate2(path)` picks it: the one
/// with the private key, else the first.
fn first_certificate(pfx: &[u8]) -> Option<Vec<u8>> {
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(pfx, "").ok()?;
    if let Some(key) = archive.keys.first() {
        let public = ring::signature::RsaKeyPair::from_pkcs8(key.key.as_der())
            .ok()
            .map(|k| ring::signature::KeyPair::public_key(&k).as_ref().to_vec());
        let own = archive.certs.iter().find(|c| {
            x509_parser::parse_x509_certificate(c.cert.as_der())
                .is_ok_and(|(_, x)| Some(x.public_key().subject_public_key.data.to_vec()) == public)
        });
        if let Some(own) = own {
            return Some(own.cert.as_der().to_vec());
        }
    }
    archive.certs.first().map(|c| c.cert.as_der().to_vec())
}
