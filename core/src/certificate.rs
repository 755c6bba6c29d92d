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

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use crate::bounded_file;
use crate::clock::to_iso8601;
use crate::echo::echo_path;
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

/// How long a signed assertion is valid (MSAL: 10 minutes).
const ASSERTION_LIFETIME_SECS: i64 = 600;

/// A certificate and the RSA key that signs with it.
pub(crate) struct ClientCertificate {
    key: RsaKeyPair,
    /// DER, the app's certificate first.
    chain: Vec<Vec<u8>>,
    x5t: String,
    x5t_s256: String,
    subject: String,
    not_before: i64,
    not_after: i64,
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

fn unusable(origin: &str, what: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::CertificateUnusable,
        format!("the client certificate {origin} {what}"),
    )
    .with_leg(crate::error::Leg::Config)
}

impl ClientCertificate {
    /// PKCS#12 or PEM, told apart by content. `origin` names where the bytes came from, for errors.
    pub fn parse(bytes: &[u8], password: Option<&Secret>, origin: &str) -> Result<Self> {
        let text_start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &bytes[i..])
            .unwrap_or_default();
        if text_start.starts_with(b"-----BEGIN") {
            Self::from_pem(bytes, password, origin)
        } else {
            Self::from_pkcs12(bytes, password, origin)
        }
    }

    fn from_pkcs12(der: &[u8], password: Option<&Secret>, origin: &str) -> Result<Self> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(
            der,
            password.map(Secret::expose).unwrap_or_default(),
        )
        .map_err(|e| {
            use p12_keystore::error::Error as P12;
            match e {
                P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => {
                    let what = if password.is_some_and(|p| !p.is_empty()) {
                        "cannot be opened with the password given (the PFX's integrity check failed)"
                    } else {
                        "is protected by a password, and none was given"
                    };
                    unusable(origin, what).with_remedy("Set CertificatePassword (AZURE_CLIENT_CERTIFICATE_PASSWORD) to the password the PFX was exported with.")
                }
                P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm => unusable(
                    origin,
                    format!("uses an encryption certless cannot read ({e})"),
                )
                .with_remedy("Re-export it as PFX with AES-256 (openssl pkcs12 -export, or Windows' 'AES256-SHA256' option)."),
                other => unusable(origin, format!("is not a PKCS#12 (PFX) file or PEM ({other})"))
                    .with_remedy("Point it at the .pfx exported with the private key, or at a PEM file holding the certificate and its key."),
            }
        })?;
        let key = archive.keys.first().ok_or_else(|| {
            unusable(origin, "holds no private key")
                .with_remedy("Export the certificate *with* its private key (Windows: 'Yes, export the private key').")
        })?;
        let certs: Vec<Vec<u8>> = archive
            .certs
            .iter()
            .map(|c| c.cert.as_der().to_vec())
            .collect();
        Self::assemble(key.key.as_der(), certs, origin)
    }

    fn from_pem(pem: &[u8], password: Option<&Secret>, origin: &str) -> Result<Self> {
        let text =
            std::str::from_utf8(pem).map_err(|_| unusable(origin, "is not valid PEM text"))?;
        let mut certs = Vec::new();
        let mut key: Option<Vec<u8>> = None;
        for (label, der) in pem_blocks(text).map_err(|what| unusable(origin, what))? {
            let found = match label.as_str() {
                "CERTIFICATE" => {
                    certs.push(der);
                    continue;
                }
                "PRIVATE KEY" => der,
                "RSA PRIVATE KEY" => rsa_pkcs1_to_pkcs8(&der),
                "ENCRYPTED PRIVATE KEY" => {
                    let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
                        unusable(
                            origin,
                            "has an encrypted private key, and no password was given",
                        )
                        .with_remedy("Set CertificatePassword (AZURE_CLIENT_CERTIFICATE_PASSWORD).")
                    })?;
                    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
                        .map_err(|e| {
                            unusable(origin, format!("has a damaged encrypted key ({e})"))
                        })?;
                    let doc = info.decrypt(password.expose()).map_err(|_| {
                        unusable(origin, "cannot be decrypted with the password given")
                            .with_remedy("Set CertificatePassword to the key's passphrase.")
                    })?;
                    doc.as_bytes().to_vec()
                }
                "EC PRIVATE KEY" => {
                    return Err(unusable(origin, "has an EC key").with_remedy(RSA_ONLY));
                }
                _ => continue,
            };
            if key.replace(found).is_some() {
                return Err(unusable(origin, "holds more than one private key")
                    .with_remedy("Keep the certificate's own key only."));
            }
        }
        let key = key.ok_or_else(|| {
            unusable(origin, "holds no private key")
                .with_remedy("Put the certificate and its private key in the same PEM file (cat cert.pem key.pem).")
        })?;
        Self::assemble(&key, certs, origin)
    }

    /// The key (PKCS#8 DER) and the certificates: picks the certificate whose public key is the
    /// key's, and refuses anything that is not RSA.
    fn assemble(pkcs8_key: &[u8], certs: Vec<Vec<u8>>, origin: &str) -> Result<Self> {
        let key = RsaKeyPair::from_pkcs8(pkcs8_key).map_err(|e| {
            unusable(
                origin,
                format!("has a private key certless cannot sign with ({e})"),
            )
            .with_remedy(RSA_ONLY)
        })?;
        // ring checks the key's shape but not every CRT parameter: a damaged one shows only
        // when ring verifies its own signature. Sign once now rather than fail every request.
        let mut probe = vec![0u8; key.public().modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), b"certless", &mut probe)
            .map_err(|_| {
                unusable(origin, "has a damaged private key: it cannot sign")
                    .with_remedy("Export the certificate with its private key again; this copy of the key is corrupt.")
            })?;
        if certs.is_empty() {
            return Err(unusable(origin, "holds no certificate")
                .with_remedy("Include the certificate with its key (PFX export, or the CERTIFICATE block in the PEM)."));
        }
        let public = ring::signature::KeyPair::public_key(&key).as_ref().to_vec();
        let mut leaf = None;
        for (i, der) in certs.iter().enumerate() {
            let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
                unusable(
                    origin,
                    format!("holds a certificate that does not parse ({e})"),
                )
            })?;
            if cert.public_key().subject_public_key.data.as_ref() == public.as_slice() {
                leaf = Some((
                    i,
                    cert.subject().to_string(),
                    cert.validity().not_before.timestamp(),
                    cert.validity().not_after.timestamp(),
                ));
                break;
            }
        }
        let (index, subject, not_before, not_after) = leaf.ok_or_else(|| {
            unusable(origin, "has a private key that belongs to none of its certificates")
                .with_remedy("Pair the key with its own certificate (compare `openssl x509 -modulus` and `openssl rsa -modulus`).")
        })?;
        let mut chain = certs;
        let leaf_der = chain.remove(index);
        chain.insert(0, leaf_der);
        let digest = |alg| URL_SAFE_NO_PAD.encode(ring::digest::digest(alg, &chain[0]).as_ref());
        Ok(ClientCertificate {
            key,
            x5t: digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            x5t_s256: digest(&ring::digest::SHA256),
            chain,
            subject,
            not_before,
            not_after,
        })
    }

    /// The SHA-1 thumbprint, uppercase hex, as the portal shows it.
    pub fn thumbprint(&self) -> String {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// "CN=..., thumbprint ..., valid until ...", for logs and errors.
    pub fn describe(&self) -> String {
        format!(
            "{} (thumbprint {}, valid {} to {})",
            self.subject,
            self.thumbprint(),
            to_iso8601(self.not_before),
            to_iso8601(self.not_after)
        )
    }

    /// A client assertion for `audience` (the token endpoint URL).
    pub fn sign_assertion(
        &self,
        client_id: &str,
        audience: &str,
        send_x5c: bool,
        now: i64,
    ) -> Result<Secret> {
        let mut header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        if send_x5c {
            header["x5c"] = self.chain.iter().map(|c| STANDARD.encode(c)).collect();
        }
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::internal("RSA signing failed"))?;
        Ok(Secret::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }

    fn expiry_warning(&self, now: i64) -> Option<String> {
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

const RSA_ONLY: &str = "Entra's client assertions are RS256: use a certificate with an RSA key of 2048 bits or more (e.g. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048, or openssl req -newkey rsa:2048).";

const KNOWN_PEM_LABELS: [&str; 5] = [
    "CERTIFICATE",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "EC PRIVATE KEY",
];

/// The PEM blocks of `text`, decoded: (label, DER).
fn pem_blocks(text: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        // The label ends on its own line: a damaged line must not run on into the key.
        let label_end = after
            .find("-----")
            .filter(|end| !after[..*end].contains(['\r', '\n']))
            .ok_or("has a '-----BEGIN' line that does not end in '-----'")?;
        let label = after[..label_end].to_string();
        // Errors name only the labels certless reads: any other text could be key material.
        let named = if KNOWN_PEM_LABELS.contains(&label.as_str()) {
            format!("a '{label}'")
        } else {
            "a PEM".to_string()
        };
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body
            .find(&end_marker)
            .ok_or_else(|| format!("has {named} block without its END line"))?;
        let base64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if base64.contains(':') {
            return Err(format!(
                "has {named} block with OpenSSL's legacy encryption headers, which certless does not read (convert it: openssl pkcs8 -topk8 -v2 aes-256-cbc)"
            ));
        }
        let der = STANDARD
            .decode(base64.as_bytes())
            .map_err(|_| format!("has {named} block that is not base64"))?;
        blocks.push((label, der));
        rest = &body[end + end_marker.len()..];
    }
    if blocks.is_empty() {
        return Err("holds no PEM block".to_string());
    }
    Ok(blocks)
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (rsaEncryption, NULL parameters).
fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut octets = vec![0x04];
    der_length(pkcs1.len(), &mut octets);
    octets.extend_from_slice(pkcs1);
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(ALGORITHM);
    body.extend_from_slice(&octets);
    let mut out = vec![0x30];
    der_length(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

/// Where a certificate credential comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// A PFX or PEM file, re-read when it changes.
    File(PathBuf),
    /// A PFX, base64 (Id.Web `Base64EncodedValue`).
    Base64(Secret),
}

impl fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateSource::File(path) => f.debug_tuple("File").field(path).finish(),
            CertificateSource::Base64(_) => f.write_str("Base64(<redacted>)"),
        }
    }
}

/// A certificate credential of the chain: loaded when the credential is built (so mistakes show
/// at once), and, for a file, re-read when the file changes.
pub(crate) struct CertificateCredential {
    source: CertificateSource,
    password: Option<Secret>,
    send_x5c: bool,
    current: Mutex<Loaded>,
}

struct Loaded {
    certificate: Arc<ClientCertificate>,
    /// The file's modification time and size when it was read.
    stamp: Option<(SystemTime, u64)>,
}

impl CertificateCredential {
    pub fn load(
        source: CertificateSource,
        password: Option<Secret>,
        send_x5c: bool,
    ) -> Result<Self> {
        let loaded = read(&source, password.as_ref())?;
        log::info!(
            "certless: client certificate {}",
            loaded.certificate.describe()
        );
        Ok(CertificateCredential {
            source,
            password,
            send_x5c,
            current: Mutex::new(loaded),
        })
    }

    pub fn certificate(&self) -> Arc<ClientCertificate> {
        Arc::clone(
            &self
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .certificate,
        )
    }

    /// A fresh assertion for `audience`, from the file's current certificate.
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<Secret> {
        self.reload_if_changed();
        let certificate = self.certificate();
        if let Some(warning) = certificate.expiry_warning(now) {
            log::warn!("certless: the client certificate {warning}");
        }
        certificate.sign_assertion(client_id, audience, self.send_x5c, now)
    }

    /// What an error about this certificate should add: which one it was and whether it is in
    /// its validity period.
    pub fn context(&self, now: i64) -> String {
        let certificate = self.certificate();
        match certificate.expiry_warning(now) {
            Some(warning) => format!(
                "The certificate {warning}: upload a renewed one to the app registration and deploy it."
            ),
            None => format!(
                "The certificate used is {}: it must be among the app registration's Certificates & secrets.",
                certificate.describe()
            ),
        }
    }

    fn reload_if_changed(&self) {
        let CertificateSource::File(path) = &self.source else {
            return;
        };
        let stamp = file_stamp(path);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_none() || stamp == current.stamp {
            return;
        }
        match read(&self.source, self.password.as_ref()) {
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
                    "certless: {} changed but cannot be used ({e}); keeping the previous certificate",
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

fn read(source: &CertificateSource, password: Option<&Secret>) -> Result<Loaded> {
    match source {
        CertificateSource::File(path) => {
            let origin = echo_path(path);
            let stamp = file_stamp(path);
            let bytes = bounded_file::read(path, bounded_file::CERTIFICATE_FILE).map_err(|e| {
                unusable(&origin, &e).with_remedy(
                    "Check CertificateDiskPath (AZURE_CLIENT_CERTIFICATE_PATH): it must name the .pfx or .pem file, readable by this process's account.",
                )
            })?;
            Ok(Loaded {
                certificate: Arc::new(ClientCertificate::parse(&bytes, password, &origin)?),
                stamp,
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
                unusable(origin, "is not base64")
                    .with_remedy("Use the base64 of the .pfx file ([Convert]::ToBase64String([IO.File]::ReadAllBytes('app.pfx')), or base64 -w0 app.pfx).")
            })?;
            Ok(Loaded {
                certificate: Arc::new(ClientCertificate::from_pkcs12(&der, password, origin)?),
                stamp: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_split_and_decoded() {
        let text = "junk\n-----BEGIN A-----\nAAEC\nAw==\n-----END A-----\n-----BEGIN B-----\nBA==\n-----END B-----\n";
        let blocks = pem_blocks(text).unwrap();
        assert_eq!(
            blocks,
            vec![
                ("A".to_string(), vec![0, 1, 2, 3]),
                ("B".to_string(), vec![4])
            ]
        );
        assert!(pem_blocks("nothing").unwrap_err().contains("no PEM block"));
        assert!(
            pem_blocks("-----BEGIN A-----\nAA==\n")
                .unwrap_err()
                .contains("without its END")
        );
        assert!(
            pem_blocks("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAA==\n-----END RSA PRIVATE KEY-----")
                .unwrap_err()
                .contains("legacy encryption")
        );
    }

    #[test]
    fn der_lengths() {
        for (len, want) in [
            (5usize, vec![5u8]),
            (200, vec![0x81, 200]),
            (1200, vec![0x82, 0x04, 0xb0]),
        ] {
            let mut out = Vec::new();
            der_length(len, &mut out);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn garbage_is_a_clear_error_that_names_the_origin() {
        let e = ClientCertificate::parse(b"not a certificate", None, "app.pfx").unwrap_err();
        assert_eq!(e.code(), ErrorCode::CertificateUnusable);
        assert!(e.to_string().contains("app.pfx is not a PKCS#12"), "{e}");
        let e = ClientCertificate::parse(
            b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----",
            None,
            "c.pem",
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds no private key"), "{e}");
        let source = CertificateSource::Base64(Secret::from("%%%"));
        assert_eq!(format!("{source:?}"), "Base64(<redacted>)");
        let e = read(&source, None).err().unwrap();
        assert!(e.to_string().contains("is not base64"), "{e}");
    }

    /// Found by the `certificate` fuzz target: a BEGIN line whose closing dashes are damaged made
    /// the label run on into the key, and the error quoted the key.
    #[test]
    fn a_damaged_pem_line_never_puts_key_material_in_the_error() {
        let key = "MIIEowIBAAKCAQEAjj+SpYBLJnye96zFp1Nxs52sDGZRoDD0GBzwUZHs5yljC5NN";
        let damaged_begin = format!(
            "-----BEGIN RSA PRIVATE KEY%----\n{key}\nXXwgGY/0jYakJjZhSb+lBlL7\n-----END RSA PRIVATE KEY-----\n"
        );
        let one_line_label = format!("-----BEGIN {key}-----\nAA==\n-----END X-----\n");
        for pem in [damaged_begin, one_line_label] {
            let e = ClientCertificate::parse(pem.as_bytes(), None, "key.pem").unwrap_err();
            assert_eq!(e.code(), ErrorCode::CertificateUnusable);
            assert!(!e.to_string().contains(&key[..20]), "{e}");
        }
    }
}

#[cfg(test)]
mod assertion_tests {
    use super::*;
    use certless_emulator::{ClientCertificateOptions, Emulator, EmulatorConfig, StartOptions};
    use serde_json::Value;

    fn part(jwt: &str, i: usize) -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_assertion_has_entras_shape() {
        let emu =
            Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default()).unwrap();
        let issued = emu
            .issue_client_certificate(&ClientCertificateOptions::default())
            .unwrap();
        let pem = format!("{}{}", issued.private_key_pem, issued.certificate_pem);
        let cert = ClientCertificate::parse(pem.as_bytes(), None, "test.pem").unwrap();
        assert_eq!(cert.thumbprint(), issued.thumbprint);
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cert
            .sign_assertion("client", aud, false, 1_700_000_000)
            .unwrap();
        let header = part(jwt.expose(), 0);
        let der = STANDARD
            .decode(
                issued
                    .certificate_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let s256 = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der));
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], s256.as_str());
        assert_eq!(
            header["x5t"].as_str().unwrap().len(),
            27,
            "base64url of 20 bytes"
        );
        assert!(header.get("x5c").is_none());
        let claims = part(jwt.expose(), 1);
        assert_eq!(claims["aud"], aud);
        assert_eq!(
            (&claims["iss"], &claims["sub"]),
            (&"client".into(), &"client".into())
        );
        assert_eq!(claims["nbf"], 1_700_000_000);
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_600);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
        let again = cert
            .sign_assertion("client", aud, true, 1_700_000_000)
            .unwrap();
        assert_ne!(
            part(again.expose(), 1)["jti"],
            claims["jti"],
            "a new jti each time"
        );
        assert_eq!(
            part(again.expose(), 0)["x5c"][0],
            STANDARD.encode(&der).as_str()
        );
        // The key's Debug shows which certificate, never key material.
        let debug = format!("{cert:?}");
        assert!(
            debug.contains(&issued.thumbprint) && !debug.contains("PRIVATE"),
            "{debug}"
        );
    }

    /// Found by the `certificate` fuzz target: one damaged byte in a PFX's private key (in its
    /// CRT exponent dP, which ring checks only for range) loaded fine, then failed every
    /// signature with "a certless defect". A key that cannot sign is refused when it is loaded.
    #[test]
    fn a_damaged_key_that_cannot_sign_is_refused_at_load() {
        // (content start, element end) of the DER element at `at`.
        fn element(der: &[u8], at: usize) -> (usize, usize) {
            let first = usize::from(der[at + 1]);
            let (len, header) = if first < 0x80 {
                (first, 2)
            } else {
                let n = first & 0x7f;
                let len = der[at + 2..at + 2 + n]
                    .iter()
                    .fold(0, |acc, b| acc << 8 | usize::from(*b));
                (len, 2 + n)
            };
            (at + header, at + header + len)
        }
        let emu =
            Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default()).unwrap();
        let issued = emu.issue_client_certificate(&Default::default()).unwrap();
        let mut der = STANDARD
            .decode(
                issued
                    .private_key_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        // PrivateKeyInfo { version, algorithm, OCTET STRING { RSAPrivateKey { version, n, e, d,
        // p, q, dP, ... } } }
        let (info, _) = element(&der, 0);
        let (_, after_version) = element(&der, info);
        let (_, after_algorithm) = element(&der, after_version);
        let (octets, _) = element(&der, after_algorithm);
        let (mut at, _) = element(&der, octets);
        for _ in 0..6 {
            at = element(&der, at).1;
        }
        // Any bit but the lowest (ring refuses an even dP).
        let (dp_start, dp_end) = element(&der, at);
        der[(dp_start + dp_end) / 2] ^= 0x10;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n{}",
            STANDARD.encode(&der),
            issued.certificate_pem
        );
        let e = ClientCertificate::parse(pem.as_bytes(), None, "key.pem").unwrap_err();
        assert_eq!(e.code(), ErrorCode::CertificateUnusable);
        assert!(
            e.to_string().contains("key.pem has a damaged private key"),
            "{e}"
        );
    }

    #[test]
    fn keys_are_matched_to_their_certificate() {
        let emu =
            Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default()).unwrap();
        let a = emu.issue_client_certificate(&Default::default()).unwrap();
        let b = emu.issue_client_certificate(&Default::default()).unwrap();
        // Another certificate first in the file: the key's own is still picked.
        let pem = format!(
            "{}{}{}",
            b.certificate_pem, a.private_key_pem, a.certificate_pem
        );
        let cert = ClientCertificate::parse(pem.as_bytes(), None, "x.pem").unwrap();
        assert_eq!(cert.thumbprint(), a.thumbprint);
        assert_eq!(cert.chain.len(), 2);
        let mismatched = format!("{}{}", a.private_key_pem, b.certificate_pem);
        let e = ClientCertificate::parse(mismatched.as_bytes(), None, "x.pem").unwrap_err();
        assert!(
            e.to_string()
                .contains("belongs to none of its certificates"),
            "{e}"
        );
    }
}
