//! Service Fabric (PROTOCOL.md §2): `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview
//! &resource=R` with `secret: {IDENTITY_HEADER}`, over HTTPS to a local endpoint whose
//! certificate no public CA vouches for. Trust is one fact: the SHA-1 of the certificate the
//! endpoint presents must be `IDENTITY_SERVER_THUMBPRINT`, compared in constant time. Chains,
//! names and dates are not consulted; the pin replaces them. Never through a proxy.
//!
//! The identity is the one the application manifest binds to the service: the endpoint takes
//! no selector, so none is sent.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::ManagedIdentityId;
use super::response::ErrorDetails;
use crate::env::{Environment, vars};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

const API_VERSION: &str = "2019-07-01-preview";

pub(super) const UNREACHABLE_REMEDY: &str = "The Service Fabric identity endpoint (IDENTITY_ENDPOINT) did not answer: make sure the application has a managed identity in its manifest and runs on a cluster with the managed identity token service enabled.";

/// A SHA-1 certificate thumbprint, as Windows and Service Fabric print it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thumbprint([u8; 20]);

impl Thumbprint {
    /// 40 hex digits; spaces and colons between them are ignored (copied from a certificate
    /// dialog), and so is the invisible left-to-right mark Windows' certificate viewer prepends.
    pub fn parse(value: &str) -> Option<Thumbprint> {
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
    pub fn of_certificate(der: &[u8]) -> Thumbprint {
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
    pub fn new(pinned: Thumbprint) -> Self {
        PinnedServerCertificate {
            pinned,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            last_refused: Mutex::new(None),
        }
    }

    pub fn pinned(&self) -> Thumbprint {
        self.pinned
    }

    /// The certificate refused since the last call, if any.
    pub fn take_refused(&self) -> Option<Thumbprint> {
        self.last_refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// A TLS client configuration that trusts this pin and nothing else.
    pub fn client_config(self: &Arc<Self>) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS configuration for Service Fabric: {e}")))?
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
            "certless: the Service Fabric identity endpoint presented certificate {presented}, not the pinned {}",
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

/// What the credential needs to reach the endpoint: its URL, its secret and the pin.
pub(super) struct Settings {
    pub endpoint: String,
    pub secret: Secret,
    pub pin: Arc<PinnedServerCertificate>,
}

pub(super) fn settings(env: &dyn Environment, id: &ManagedIdentityId) -> Result<Settings> {
    let missing = |name: &str| {
        Error::config(ErrorCode::MissingConfig, format!("Service Fabric managed identity needs {name}, which is not set"))
            .with_remedy("Give the application a managed identity in its manifest; Service Fabric then sets IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT for each service.")
    };
    let endpoint = super::variables::endpoint_url(env, vars::IDENTITY_ENDPOINT)?;
    if !endpoint.to_ascii_lowercase().starts_with("https://") {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!("IDENTITY_ENDPOINT '{}' is not https, but IDENTITY_SERVER_THUMBPRINT says this is Service Fabric, whose identity endpoint is always https", crate::echo::echo(&endpoint)),
        )
        .with_remedy("Use the IDENTITY_ENDPOINT Service Fabric sets; if this is App Service, unset IDENTITY_SERVER_THUMBPRINT."));
    }
    let secret = super::variables::header_secret(env, vars::IDENTITY_HEADER)?
        .ok_or_else(|| missing(vars::IDENTITY_HEADER))?;
    let raw = env
        .var(vars::IDENTITY_SERVER_THUMBPRINT)
        .ok_or_else(|| missing(vars::IDENTITY_SERVER_THUMBPRINT))?;
    let pinned = Thumbprint::parse(&raw).ok_or_else(|| {
        Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "IDENTITY_SERVER_THUMBPRINT '{}' is not 40 hex digits (the SHA-1 of the identity endpoint's certificate)",
                crate::echo::echo(&raw)
            ),
        )
        .with_remedy("Use the value Service Fabric sets; never copy it by hand from another node or an older deployment.")
    })?;
    if id.is_user_assigned() {
        log::info!(
            "certless: Service Fabric hands out the identity the application manifest binds to the service; the configured {id} is not sent"
        );
    }
    Ok(Settings {
        endpoint,
        secret,
        pin: Arc::new(PinnedServerCertificate::new(pinned)),
    })
}

pub(super) fn request(
    http: &reqwest::Client,
    endpoint: &str,
    resource: &str,
    secret: &Secret,
) -> reqwest::RequestBuilder {
    http.get(endpoint)
        .query(&[("api-version", API_VERSION), ("resource", resource)])
        .header("secret", secret.expose())
}

/// The error of a connection that failed because the endpoint's certificate is not the pinned one.
pub(super) fn refused_certificate(error: Error, pin: &PinnedServerCertificate) -> Error {
    match pin.take_refused() {
        Some(presented) => Error::new(
            ErrorCode::ManagedIdentityUnreachable,
            format!(
                "{} — the endpoint presented certificate {presented}, but IDENTITY_SERVER_THUMBPRINT is {}",
                error.message(),
                pin.pinned()
            ),
        )
        .with_leg(crate::error::Leg::ManagedIdentity)
        // Not retried: the same certificate will be presented again.
        .with_permanent()
        .with_remedy("certless only talks to the Service Fabric identity endpoint whose certificate matches IDENTITY_SERVER_THUMBPRINT. Use the value Service Fabric set for this process (a stale copy breaks when the cluster rotates its certificate); anything else answering at IDENTITY_ENDPOINT is not the identity endpoint."),
        None => error,
    }
}

/// Service Fabric's retry table (its documentation): 429 and 5xx are transient; every other
/// answer, 404 included, is a setup error that no retry fixes.
pub(super) fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

pub(super) fn remedy(status: u16, details: &ErrorDetails) -> Option<String> {
    let code = details.error.as_deref().unwrap_or_default();
    Some(match (status, code) {
        (_, "SecretHeaderNotFound") | (401 | 403, _) => "The identity endpoint did not accept IDENTITY_HEADER: read it from the environment Service Fabric gives the process; it changes when the service restarts.".to_string(),
        (_, "ManagedIdentityNotFound") | (404, _) => "The application has no managed identity, or IDENTITY_HEADER is stale: add the identity to the application manifest and bind it to this service.".to_string(),
        (_, "InvalidApiVersion") => "The cluster does not speak api-version 2019-07-01-preview: upgrade the Service Fabric runtime.".to_string(),
        (_, "ArgumentNullOrEmpty") | (400, _) => "The endpoint refused the request: check the resource (token exchange audience).".to_string(),
        (429, _) => "The identity endpoint is throttling: too many token requests from this service.".to_string(),
        (500..=599, _) => "The identity endpoint had an internal error (often a wrong resource; check for a trailing '/'): retry with backoff.".to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

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

    #[test]
    fn settings_insist_on_https_and_a_thumbprint() {
        let env = |endpoint: &str, thumbprint: &str| {
            MapEnv::new()
                .with_var("IDENTITY_ENDPOINT", endpoint)
                .with_var("IDENTITY_HEADER", "h")
                .with_var("IDENTITY_SERVER_THUMBPRINT", thumbprint)
        };
        let sys = ManagedIdentityId::SystemAssigned;
        let ok = settings(
            &env("https://10.0.0.4:2377/metadata/identity/oauth2/token", PIN),
            &sys,
        )
        .unwrap();
        assert_eq!(ok.pin.pinned(), Thumbprint::parse(PIN).unwrap());
        let e = settings(&env("http://10.0.0.4:2377/token", PIN), &sys)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not https"), "{e}");
        let e = settings(&env("https://10.0.0.4:2377/token", "abc"), &sys)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("IDENTITY_SERVER_THUMBPRINT 'abc' is not 40 hex digits"),
            "{e}"
        );
    }
}
