//! Reading a client certificate and its RSA key: PKCS#12 (`.pfx`, `.p12`; AES or the legacy
//! 3DES/RC2 encryption Windows and older OpenSSL write) with or without a password, and PEM
//! holding the certificate and its RSA key (`PRIVATE KEY`, `RSA PRIVATE KEY`, or `ENCRYPTED
//! PRIVATE KEY` with the password). The key must be the certificate's own, and able to sign.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use super::client_certificate::ClientCertificate;
use crate::error::{Error, ErrorCode, Result};
use crate::support::secret::Secret;

pub(super) fn unusable(origin: &str, what: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::CertificateUnusable,
        format!("the client certificate {origin} {what}"),
    )
    .with_leg(crate::error::Leg::Config)
}

impl ClientCertificate {
    /// PKCS#12 or PEM, told apart by content. `origin` names where the bytes came from, for errors.
    pub(crate) fn parse(bytes: &[u8], password: Option<&Secret>, origin: &str) -> Result<Self> {
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

    pub(crate) fn from_pkcs12(der: &[u8], password: Option<&Secret>, origin: &str) -> Result<Self> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(
            der,
            password.map(Secret::expose).unwrap_or_default(),
        )
        .map_err(|e| {
            use p12_keystore::error::Error as P12;
            match e {
                P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => {
                    let what = if password.is_some_and(|p| !p.is_empty()) {
                        "cannot be opened with the password given (the PFX's integrity check \
                            failed)"
                    } else {
                        "is protected by a password, and none was given"
                    };
                    unusable(origin, what).with_remedy(
                        "Set CertificatePassword \
                        (AZURE_CLIENT_CERTIFICATE_PASSWORD) to the password the PFX was exported \
                        with.",
                    )
                }
                P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm => unusable(
                    origin,
                    format!("uses an encryption certless cannot read ({e})"),
                )
                .with_remedy(
                    "Re-export it as PFX with AES-256 (openssl pkcs12 -export, or \
                    Windows' 'AES256-SHA256' option).",
                ),
                other => unusable(
                    origin,
                    format!("is not a PKCS#12 (PFX) file or PEM ({other})"),
                )
                .with_remedy(
                    "Point it at the .pfx exported with the private key, or at a \
                        PEM file holding the certificate and its key.",
                ),
            }
        })?;
        let key = archive.keys.first().ok_or_else(|| {
            unusable(origin, "holds no private key").with_remedy(
                "Export the certificate *with* its private key (Windows: 'Yes, \
                    export the private key').",
            )
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
                    if let Some(what) = excessive_key_derivation(&info.encryption_algorithm) {
                        return Err(unusable(origin, what).with_remedy(REENCRYPT_KEY));
                    }
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
            unusable(origin, "holds no private key").with_remedy(
                "Put the certificate and its private key in the same PEM file (cat \
                    cert.pem key.pem).",
            )
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
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            b"certless",
            &mut probe,
        )
        .map_err(|_| {
            unusable(origin, "has a damaged private key: it cannot sign").with_remedy(
                "Export the certificate with its private key again; this copy \
                        of the key is corrupt.",
            )
        })?;
        if certs.is_empty() {
            return Err(unusable(origin, "holds no certificate").with_remedy(
                "Include the certificate with its key (PFX export, or the \
                    CERTIFICATE block in the PEM).",
            ));
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
            unusable(
                origin,
                "has a private key that belongs to none of its certificates",
            )
            .with_remedy(
                "Pair the key with its own certificate (compare `openssl x509 \
                    -modulus` and `openssl rsa -modulus`).",
            )
        })?;
        let mut chain = certs;
        let leaf_der = chain.remove(index);
        chain.insert(0, leaf_der);
        Ok(Self::with_signer(
            super::client_certificate::Signer::Rsa(key),
            chain,
            subject,
            not_before,
            not_after,
        ))
    }

    /// A certificate (the app's first in `chain`) and the key that signs for it.
    pub(super) fn with_signer(
        key: super::client_certificate::Signer,
        chain: Vec<Vec<u8>>,
        subject: String,
        not_before: i64,
        not_after: i64,
    ) -> Self {
        let digest = |alg| URL_SAFE_NO_PAD.encode(ring::digest::digest(alg, &chain[0]).as_ref());
        ClientCertificate {
            key,
            x5t: digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            x5t_s256: digest(&ring::digest::SHA256),
            chain,
            subject,
            not_before,
            not_after,
        }
    }
}

const RSA_ONLY: &str = "Entra's client assertions are RS256: use a certificate with an RSA key \
    of 2048 bits or more (e.g. New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048, or \
    openssl req -newkey rsa:2048).";

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
                "has {named} block with OpenSSL's legacy encryption headers, which certless does \
                    not read (convert it: openssl pkcs8 -topk8 -v2 aes-256-cbc)"
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
/// The most PBKDF2 iterations an encrypted key may ask for: OpenSSL writes 2,048 and .NET 2,000
/// to 100,000; the PKCS#12 reader stops at the same 1,000,000.
const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The most memory an scrypt-encrypted key may make its derivation take (128 · r · N bytes):
/// OpenSSL's defaults (N = 16,384, r = 8) take 16 MiB.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

const REENCRYPT_KEY: &str = "Re-encrypt the key with usual settings: \
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-encrypted.pem";

/// Why decrypting a key with these parameters would take unreasonable time or memory (a damaged
/// or hostile file: the password-based derivation runs before any check), if it would.
fn excessive_key_derivation(scheme: &pkcs8::pkcs5::EncryptionScheme) -> Option<String> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
        return None;
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => Some(format!(
            "has an encrypted key that asks for {} PBKDF2 iterations (at most {MAX_PBKDF2_ITERATIONS} \
             are accepted)",
            p.iteration_count
        )),
        Kdf::Scrypt(p) => {
            let memory = 128u64
                .saturating_mul(u64::from(p.block_size))
                .saturating_mul(p.cost_parameter);
            (memory > MAX_SCRYPT_MEMORY || p.parallelization > 16).then(|| {
                format!(
                    "has an encrypted key whose scrypt parameters (N = {}, r = {}, p = {}) would \
                     take over {} MiB or too many passes to derive",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_MEMORY >> 20
                )
            })
        }
        _ => None,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::credential::{CertificateSource, read};

    /// An encrypted-key PEM with these PBES2 parameters (the ciphertext is noise: a key whose
    /// parameters are refused is never decrypted).
    fn encrypted_key_pem(kdf: pkcs8::pkcs5::pbes2::Kdf) -> String {
        use pkcs8::der::Encode;
        use pkcs8::pkcs5::pbes2;
        let params = pbes2::Parameters {
            kdf,
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: [0; 16] },
        };
        let noise = [0x5a; 48];
        let info = pkcs8::EncryptedPrivateKeyInfoRef {
            encryption_algorithm: params.into(),
            encrypted_data: pkcs8::der::asn1::OctetStringRef::new(&noise).unwrap(),
        };
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
            STANDARD.encode(info.to_der().unwrap())
        )
    }

    #[test]
    fn a_key_asking_for_too_much_derivation_work_is_refused_before_deriving() {
        use pkcs8::pkcs5::pbes2::Pbkdf2Params;
        let password = Secret::new("pass");
        // 50 million PBKDF2 rounds would take this machine about half a minute before failing.
        let pem = encrypted_key_pem(
            Pbkdf2Params::hmac_sha256(50_000_000, &[7; 16])
                .unwrap()
                .into(),
        );
        let error =
            ClientCertificate::parse(pem.as_bytes(), Some(&password), "key.pem").unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::CertificateUnusable);
        assert!(
            error
                .message()
                .contains("asks for 50000000 PBKDF2 iterations"),
            "{error}"
        );
        assert!(
            error.remedy().unwrap_or_default().contains("openssl pkcs8"),
            "{error}"
        );
        // A usual count gets as far as decrypting (and this noise then fails to decrypt).
        let pem = encrypted_key_pem(Pbkdf2Params::hmac_sha256(2_048, &[7; 16]).unwrap().into());
        let error =
            ClientCertificate::parse(pem.as_bytes(), Some(&password), "key.pem").unwrap_err();
        assert!(error.message().contains("cannot be decrypted"), "{error}");
        // scrypt that would need 2 GiB.
        let pem = encrypted_key_pem(
            pkcs8::pkcs5::pbes2::ScryptParams {
                salt: pkcs8::pkcs5::pbes2::Salt::new([7; 16]).unwrap(),
                cost_parameter: 1 << 21,
                block_size: 8,
                parallelization: 1,
                key_length: None,
            }
            .into(),
        );
        let error =
            ClientCertificate::parse(pem.as_bytes(), Some(&password), "key.pem").unwrap_err();
        assert!(
            error
                .message()
                .contains("scrypt parameters (N = 2097152, r = 8"),
            "{error}"
        );
    }

    #[test]
    fn pem_blocks_are_split_and_decoded() {
        let text = "junk\n-----BEGIN A-----\nAAEC\nAw==\n-----END A-----\n-----BEGIN \
            B-----\nBA==\n-----END B-----\n";
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
            pem_blocks(
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAA==\n-----END \
                RSA PRIVATE KEY-----"
            )
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
        let e = read(&source, None, &crate::support::env::MapEnv::new(), 0)
            .err()
            .unwrap();
        assert!(e.to_string().contains("is not base64"), "{e}");
    }

    /// Found by the `certificate` fuzz target: a BEGIN line whose closing dashes are damaged made
    /// the label run on into the key, and the error quoted the key.
    #[test]
    fn a_damaged_pem_line_never_puts_key_material_in_the_error() {
        let key = "MIIEowIBAAKCAQEAjj+SpYBLJnye96zFp1Nxs52sDGZRoDD0GBzwUZHs5yljC5NN";
        let damaged_begin = format!(
            "-----BEGIN RSA PRIVATE KEY%----\n{key}\nXXwgGY/0jYakJjZhSb+lBlL7\n-----END RSA \
                PRIVATE KEY-----\n"
        );
        let one_line_label = format!("-----BEGIN {key}-----\nAA==\n-----END X-----\n");
        for pem in [damaged_begin, one_line_label] {
            let e = ClientCertificate::parse(pem.as_bytes(), None, "key.pem").unwrap_err();
            assert_eq!(e.code(), ErrorCode::CertificateUnusable);
            assert!(!e.to_string().contains(&key[..20]), "{e}");
        }
    }
}
