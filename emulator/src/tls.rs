//! The HTTPS listener's certificates: a CA made at start (its PEM is what clients trust) and a server certificate
//! for 127.0.0.1 and localhost signed by it. MSAL-based SDKs insist on https authorities, hence this listener.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::EmulatorError;

pub(crate) struct TlsMaterial {
    /// Offers HTTP/2 and HTTP/1.1 (ALPN).
    pub acceptor: TlsAcceptor,
    /// Offers HTTP/1.1 only, as many TLS-inspecting proxies do.
    pub acceptor_http1: TlsAcceptor,
    pub ca_pem: String,
    /// SHA-1 of the server certificate (uppercase hex), what Service Fabric clients pin.
    pub server_thumbprint: String,
}

fn crypto(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Crypto(e.to_string())
}

pub(crate) fn generate() -> Result<TlsMaterial, EmulatorError> {
    let ca_key = KeyPair::generate().map_err(crypto)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "certless emulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto)?;

    let server_key = KeyPair::generate().map_err(crypto)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(crypto)?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "certless emulator");
    // Strict verifiers (OpenSSL's X509_STRICT, the default in Python 3.13) want these on a leaf.
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::new(ca_params, ca_key);
    let server_cert = params.signed_by(&server_key, &issuer).map_err(crypto)?;

    // The ring provider explicitly: never depend on (or install) a process-wide default CryptoProvider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(crypto)?
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone(), ca_cert.der().clone()]
                .into_iter()
                .map(CertificateDer::into_owned)
                .collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .map_err(crypto)?;
    let mut http1 = config.clone();
    http1.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let sha1 = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        server_cert.der(),
    );
    Ok(TlsMaterial {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        acceptor_http1: TlsAcceptor::from(Arc::new(http1)),
        ca_pem: ca_cert.pem(),
        server_thumbprint: sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
    })
}

/// Writes a new test CA (`ca.pem`) and a certificate for 127.0.0.1 and localhost it signed
/// (`server.pem`, `server.key`) into `dir`, for a test's own TLS servers (Redis, Azurite) that
/// clients must trust; returns the CA file's path.
pub fn write_loopback_tls_files(dir: &std::path::Path) -> std::path::PathBuf {
    let ca_key = KeyPair::generate().expect("a key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "certless test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("a key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let cert = params.signed_by(&key, &issuer).expect("the certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
    dir.join("ca.pem")
}
