//! A certificate in hand: the app's certificate (and chain) with the key that signs for it, and
//! how it is described in messages.

use std::fmt;

use ring::signature::RsaKeyPair;

use crate::error::{Error, Result};
use crate::support::clock::to_iso8601;

/// The key that signs: in memory, or held by the platform (Windows' certificate store) and
/// never exported. One per certificate, so the size difference of the two does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Signer {
    Rsa(RsaKeyPair),
    #[cfg_attr(not(windows), allow(dead_code))] // made only by `store::windows`
    Platform(Box<dyn PlatformKey>),
}

/// A private key the platform holds and signs with (Windows' CNG or CryptoAPI), implemented
/// where the platform is (`store::windows`), so that the certificate in hand needs to know
/// nothing of it.
pub(crate) trait PlatformKey: Send + Sync {
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) of `message`.
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>>;
}

impl Signer {
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) of `message`.
    pub(super) fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            Signer::Rsa(key) => {
                let mut signature = vec![0u8; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| Error::internal("RSA signing failed"))?;
                Ok(signature)
            }
            Signer::Platform(key) => key.sign_rs256(message),
        }
    }
}

/// A certificate and the RSA key that signs with it.
pub(crate) struct ClientCertificate {
    pub(super) key: Signer,
    /// DER, the app's certificate first.
    pub(super) chain: Vec<Vec<u8>>,
    pub(super) x5t: String,
    pub(super) x5t_s256: String,
    pub(crate) subject: String,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.subject)
            .field("thumbprint", &self.thumbprint())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// The SHA-1 thumbprint, uppercase hex, as the portal shows it.
    pub(crate) fn thumbprint(&self) -> String {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// "CN=..., thumbprint ..., valid until ...", for logs and errors.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} (thumbprint {}, valid {} to {})",
            self.subject,
            self.thumbprint(),
            to_iso8601(self.not_before),
            to_iso8601(self.not_after)
        )
    }

    pub(crate) fn expiry_warning(&self, now: i64) -> Option<String> {
        if now > self.not_after {
            Some(format!(
                "has expired: {}; Entra refuses it (AADSTS700027 'The key used is expired')",
                self.describe()
            ))
        } else if now < self.not_before {
            Some(format!("is not valid yet: {}", self.describe()))
        } else {
            None
        }
    }
}

impl ClientCertificate {
    /// What an error about this certificate should add: which one it was and whether it is in
    /// its validity period.
    pub(crate) fn context(&self, now: i64) -> String {
        let certificate = self;
        match certificate.expiry_warning(now) {
            Some(warning) => format!(
                "The certificate {warning}: upload a renewed one to the app registration and \
                    deploy it."
            ),
            None => format!(
                "The certificate used is {}: it must be among the app registration's \
                    Certificates & secrets.",
                certificate.describe()
            ),
        }
    }
}
