//! The certificate store (Id.Web `StoreWithThumbprint`, `StoreWithDistinguishedName`,
//! `StoreWithSubjectName`): a certificate named by thumbprint, distinguished name or subject in
//! `CertificateStorePath` (`CurrentUser/My` by default, `LocalMachine/My` on IIS).
//!
//! Which certificate is chosen is decided here, the same on every platform and as .NET's
//! `X509Certificate2Collection.Find` does for Id.Web: only certificates valid now, then those
//! matching the criterion, then the one that became valid last (the newest renewal). Where the
//! certificates come from is the platform's: Windows' system stores, signing through CNG or
//! CryptoAPI without exporting the key ([`windows`]); elsewhere, the folder of PFX files where
//! .NET keeps the user's `My` store ([`dotnet_folder`]).

#[cfg(not(windows))]
mod dotnet_folder;
mod find;
#[cfg(windows)]
mod windows;

pub use find::{StoreFind, StoreLocation, StorePath};

use crate::certificate::client_certificate::ClientCertificate;
use crate::error::Result;
use crate::support::env::Environment;

/// The store's certificate as configured, with a key that signs without leaving the store
/// (Windows) or read from .NET's store folder (elsewhere).
pub(crate) fn load(
    store: &StorePath,
    find: &StoreFind,
    env: &dyn Environment,
    now: i64,
) -> Result<ClientCertificate> {
    #[cfg(windows)]
    {
        let _ = env;
        let found = windows::load(store, find, now)?;
        Ok(ClientCertificate::with_signer(
            crate::certificate::client_certificate::Signer::Platform(Box::new(found.key)),
            vec![found.certificate],
            found.subject,
            found.not_before,
            found.not_after,
        ))
    }
    #[cfg(not(windows))]
    {
        dotnet_folder::load(store, find, env, now)
    }
}
