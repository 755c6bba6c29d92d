//! Certificate credentials (Id.Web `Path` and `Base64Encoded`, `AZURE_CLIENT_CERTIFICATE_PATH`):
//! the app proves who it is with a client assertion it signs itself — an RS256 JWT whose header
//! names the certificate (`x5t`, `x5t#S256`, optionally the chain in `x5c`) and whose claims are
//! `aud` = the token endpoint, `iss` = `sub` = the client id, `jti`, `nbf`, `iat` and `exp` ten
//! minutes later. Entra checks the signature against the certificates uploaded to the app.
//!
//! Accepted: PKCS#12 (`.pfx`, `.p12`; AES or the legacy 3DES/RC2 encryption Windows and older
//! OpenSSL write) with or without a password, and PEM holding the certificate and its RSA key
//! (`PRIVATE KEY`, `RSA PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with the password). A file on
//! disk is re-read when it changes, so a renewed certificate is picked up without a restart.
//! A certificate may also come from Azure Key Vault ([`key_vault`]) or the certificate store
//! ([`store`]), whose keys on Windows sign without leaving it. Reading is [`load`]'s job,
//! signing [`sign`]'s; [`credential`] holds the credential over them.

mod client_certificate;
mod credential;
pub(crate) mod key_vault;
mod load;
mod sign;
pub(crate) mod store;

pub(crate) use client_certificate::ClientCertificate;
pub(crate) use credential::CertificateCredential;
pub use credential::CertificateSource;
pub use key_vault::KeyVaultReference;
pub use store::{StoreFind, StoreLocation, StorePath};
