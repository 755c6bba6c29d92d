//! Certificate credentials as Entra checks them: an app registration lists certificates (PEM, the public part), and
//! a client assertion signed by one of their keys authenticates the app. The assertion's header names the
//! certificate by `x5t#S256` or `x5t`; its claims must have `iss` = `sub` = the client id, `aud` = the token endpoint,
//! a `jti`, and `nbf`/`exp` around now; the certificate must be within its validity period.
//!
//! The emulator also makes such certificates for tests ([`issue`]): an RSA-2048 key, a self-signed certificate, the
//! PEM of both and a password-protected PFX (AES-256, or 3DES/SHA-1 as Windows and older OpenSSL export it).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{CertificateParams, DnType, KeyPair, PKCS_RSA_SHA256};
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::AppRegistration;
use crate::entra_error::AadError;
use crate::error::EmulatorError;

/// A client certificate the emulator made, registered on an app: everything a client needs to use it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedClientCertificate {
    /// The certificate, PEM (what the app registration holds).
    pub certificate_pem: String,
    /// The RSA private key, PKCS#8 PEM, unencrypted.
    pub private_key_pem: String,
    /// The key and certificate as a PKCS#12 file, base64.
    pub pfx_base64: String,
    /// The PFX's password (may be empty).
    pub pfx_password: String,
    /// SHA-1 of the certificate, uppercase hex, as the portal shows it.
    pub thumbprint: String,
}

impl std::fmt::Debug for IssuedClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedClientCertificate")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// What to make.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateOptions {
    /// The app registration to add the certificate to (default: the registry's first app).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The PFX's password; default empty.
    #[serde(default)]
    pub password: String,
    /// Encrypt the PFX with 3DES and a SHA-1 MAC, as Windows' default export and `openssl -legacy` do.
    #[serde(default)]
    pub legacy_pfx: bool,
    /// Validity as Unix seconds; default from an hour ago for a year.
    #[serde(default)]
    pub not_before: Option<i64>,
    #[serde(default)]
    /// Last second of validity (Unix seconds); default a year from now.
    pub not_after: Option<i64>,
    /// Make the certificate but do not register it on the app (a certificate Entra does not know).
    #[serde(default)]
    pub unregistered: bool,
}

fn crypto(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Crypto(e.to_string())
}

/// Makes a certificate and its key, valid over `[not_before, not_after]` (Unix seconds).
pub(crate) fn issue(
    subject: &str,
    not_before: i64,
    not_after: i64,
    password: &str,
    legacy_pfx: bool,
) -> Result<IssuedClientCertificate, EmulatorError> {
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(crypto)?;
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(crypto)?;
    let key = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()),
        &PKCS_RSA_SHA256,
    )
    .map_err(crypto)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    params.distinguished_name.push(DnType::CommonName, subject);
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).map_err(crypto)?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).map_err(crypto)?;
    let cert = params.self_signed(&key).map_err(crypto)?;
    let der = cert.der().to_vec();

    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        b"1".as_slice(),
        p12_keystore::PrivateKey::from_der(pkcs8.as_ref()).map_err(crypto)?,
        [p12_keystore::Certificate::from_der(&der).map_err(crypto)?],
    );
    store.add_entry(subject, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let mut writer = store.writer(password);
    if legacy_pfx {
        writer = writer
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1);
    }
    let pfx = writer.write().map_err(crypto)?;
    Ok(IssuedClientCertificate {
        certificate_pem: cert.pem(),
        private_key_pem: key.serialize_pem(),
        pfx_base64: STANDARD.encode(pfx),
        pfx_password: password.to_string(),
        thumbprint: hex_upper(sha1(&der).as_ref()),
    })
}

fn sha1(der: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The DER of each PEM certificate an app lists (bad entries are skipped: the registry validated them).
fn registered_certificates(app: &AppRegistration) -> Vec<Vec<u8>> {
    app.certificates
        .iter()
        .filter_map(|pem| certificate_der(pem).ok())
        .collect()
}

/// The DER inside one PEM certificate.
pub(crate) fn certificate_der(pem: &str) -> Result<Vec<u8>, String> {
    let body = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
        .ok_or("not a PEM certificate (no BEGIN/END CERTIFICATE lines)")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| "the PEM certificate is not base64".to_string())?;
    x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(der)
}

/// Checks a certificate-signed client assertion of `app`. `claims` are the unverified claims; `token_endpoints` are
/// the audiences this request's token endpoint answers to.
pub(crate) fn verify_assertion(
    app: &AppRegistration,
    assertion: &str,
    claims: &Map<String, Value>,
    token_endpoints: &[String],
    now: i64,
    skew: i64,
) -> Result<(), AadError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| AadError::malformed_jwt())?;
    let presented = header
        .x5t_s256
        .clone()
        .or_else(|| header.x5t.clone())
        .unwrap_or_default();
    let certificates = registered_certificates(app);
    let found = certificates.iter().find(|der| {
        let s256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        header.x5t_s256.as_deref() == Some(URL_SAFE_NO_PAD.encode(s256.as_ref()).as_str())
            || header.x5t.as_deref() == Some(URL_SAFE_NO_PAD.encode(sha1(der).as_ref()).as_str())
    });
    let Some(der) = found else {
        log::info!(
            "entra: app {} has no certificate with thumbprint '{presented}'",
            app.client_id
        );
        return Err(AadError::invalid_signature(
            &format!(
                "The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see \
                 configured keys for app Id '{}'",
                app.client_id
            ),
            &presented,
        ));
    };
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| AadError::malformed_jwt())?;
    let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match header.alg {
        jsonwebtoken::Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        jsonwebtoken::Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        _ => return Err(AadError::unsupported_signing_algorithm()),
    };
    let (signing_input, signature) = assertion
        .rsplit_once('.')
        .ok_or_else(AadError::malformed_jwt)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| AadError::malformed_jwt())?;
    let public = UnparsedPublicKey::new(
        algorithm,
        cert.public_key().subject_public_key.data.as_ref(),
    );
    if public.verify(signing_input.as_bytes(), &signature).is_err() {
        return Err(AadError::invalid_signature(
            "Key was found, but use of the key to verify the signature failed.",
            &presented,
        ));
    }
    let validity = cert.validity();
    if now > validity.not_after.timestamp() || now < validity.not_before.timestamp() {
        return Err(AadError::invalid_signature(
            "The key used is expired.",
            &presented,
        ));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    if text("iss") != app.client_id || text("sub") != app.client_id {
        return Err(AadError::assertion_not_for_client());
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => token_endpoints.iter().any(|e| e == aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| token_endpoints.iter().any(|e| e == aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(AadError::assertion_audience_mismatch());
    }
    if text("jti").is_empty() {
        return Err(AadError::malformed_jwt());
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(AadError::malformed_jwt)?;
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    if now > exp.saturating_add(skew) || nbf.is_some_and(|nbf| now.saturating_add(skew) < nbf) {
        return Err(AadError::assertion_time_range(
            i128::from(now) * 1_000_000_000,
            nbf,
            exp,
        ));
    }
    Ok(())
}
