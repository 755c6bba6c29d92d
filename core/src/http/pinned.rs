//! A TLS server certificate pinned by its SHA-1 thumbprint: the one trust decision for an
//! endpoint no public CA vouches for (Service Fabric's identity endpoint, docs/protocol.md §2).
//! Chains, names and dates are not consulted; the pin replaces them. The handshake signatures
//! are still verified with the pinned certificate's key.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// A SHA-1 certificate thumbprint, as Windows and Service Fabric print it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thumbprint([u8; 20]);

impl Thumbprint {
    /// 40 hex digits; spaces and colons between them are ignored (copied from a certificate
    /// dialog), and so is the invisible left-to-right mark Windows' certificate viewer prepends.
    pub(crate) fn parse(value: &str) -> Option<Thumbprint> {
        let digits: Vec<u8> = value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':' && *c != '\u{200e}' && *c != '\u{feff}')
            .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<Vec<u8>>>()?;
        if digits.len() != 40 {
            return None;
        }
        let mut bytes = [0u8; 20];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            bytes[i] = pair[0] << 4 | pair[1];
        }
        Some(Thumbprint(bytes))
    }

    /// The SHA-1 thumbprint of a DER certificate.
    pub(crate) fn of_certificate(der: &[u8]) -> Thumbprint {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(digest.as_ref());
        Thumbprint(bytes)
    }

    /// Equality that takes the same time whichever byte differs.
    fn matches(&self, other: &Thumbprint) -> bool {
        let difference = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({self})")
    }
}

/// Accepts exactly the server certificate whose SHA-1 is pinned; the handshake signatures are
/// still verified with that certificate's key, so only its holder can complete the handshake.
pub(crate) struct PinnedServerCertificate {
    pinned: Thumbprint,
    algorithms: WebPkiSupportedAlgorithms,
    /// The thumbprint of the last certificate refused, for the error message.
    last_refused: Mutex<Option<Thumbprint>>,
}

impl PinnedServerCertificate {
    pub(crate) fn new(pinned: Thumbprint) -> Self {
        PinnedServerCertificate {
            pinned,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            last_refused: Mutex::new(None),
        }
    }

    pub(crate) fn pinned(&self) -> Thumbprint {
        self.pinned
    }

    /// The certificate refused since the last call, if any.
    pub(crate) fn take_refused(&self) -> Option<Thumbprint> {
        self.last_refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// A TLS client configuration that trusts this pin and nothing else.
    pub(crate) fn client_config(self: &Arc<Self>) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::internal(format!("TLS configuration for a pinned certificate: {e}"))
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(self) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        Ok(config)
    }
}

impl fmt::Debug for PinnedServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedServerCertificate")
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for PinnedServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let presented = Thumbprint::of_certificate(end_entity);
        if presented.matches(&self.pinned) {
            return Ok(ServerCertVerified::assertion());
        }
        *self.last_refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(presented);
        log::warn!(
            "certless: the endpoint presented certificate {presented}, not the pinned {}",
            self.pinned
        );
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "0123456789ABCDEF0123456789abcdef01234567";

    #[test]
    fn thumbprints_parse_as_windows_prints_them() {
        let t = Thumbprint::parse(PIN).unwrap();
        assert_eq!(t.to_string(), PIN.to_ascii_uppercase());
        assert_eq!(
            Thumbprint::parse(
                "\u{200e}01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67"
            ),
            Some(t)
        );
        assert_eq!(
            Thumbprint::parse("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67"),
            Some(t)
        );
        for bad in ["", "0123", &format!("{PIN}00"), &PIN.replace('A', "G")] {
            assert_eq!(Thumbprint::parse(bad), None, "{bad}");
        }
        let other = Thumbprint::parse(&PIN.replace('7', "8")).unwrap();
        assert!(t.matches(&t) && !t.matches(&other));
    }
}
