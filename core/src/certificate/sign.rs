//! The client assertion a certificate signs: an RS256 JWT whose header names the certificate
//! (`x5t`, `x5t#S256`, optionally the chain in `x5c`) and whose claims are `aud` = the token
//! endpoint, `iss` = `sub` = the client id, a fresh `jti`, `nbf`, `iat`, and `exp` ten minutes
//! later. Entra checks the signature against the certificates uploaded to the app.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::client_certificate::ClientCertificate;
use crate::error::Result;
use crate::support::secret::Secret;

/// How long a signed assertion is valid (MSAL: 10 minutes).
const ASSERTION_LIFETIME_SECS: i64 = 600;

impl ClientCertificate {
    /// A client assertion for `audience` (the token endpoint URL).
    pub(crate) fn sign_assertion(
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
        let signature = self.key.sign_rs256(signing_input.as_bytes())?;
        Ok(Secret::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

#[cfg(test)]
mod assertion_tests {
    use super::*;
    use crate::error::ErrorCode;
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
