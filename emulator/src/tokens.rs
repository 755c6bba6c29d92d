//! The emulator's token signing key, the tokens it issues, their verification, and the JWKS that publishes the key.
//!
//! Tokens are real RS256 JWTs: a client can verify them against `/{tenant}/discovery/v2.0/keys` like Entra's.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use crate::config::{ManagedIdentityInfo, entra_issuer};
use crate::error::EmulatorError;

/// Largest JWT the emulator will look at. Real tokens are a few KB; anything far bigger is hostile or broken.
pub(crate) const MAX_JWT_LEN: usize = 64 * 1024;

/// RSA-2048 key generated at start. `kid` (and `x5t`) is the base64url SHA-1 of the public key, the same shape as
/// Entra's key ids.
pub(crate) struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    n: String,
    e: String,
}

/// Why a JWT's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureProblem {
    /// Not three base64url parts with a JSON header and payload.
    Malformed,
    /// Signed with something other than RS256 (or `none`).
    UnsupportedAlgorithm(String),
    /// The `kid`/`x5t` names no key the emulator has.
    KeyNotFound(String),
    /// The key was found but the signature does not verify.
    BadSignature(String),
}

impl SigningKey {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let crypto = |what: &str| EmulatorError::Crypto(what.to_string());
        let pair =
            KeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto("RSA key generation failed"))?;
        let pkcs8: Pkcs8V1Der<'static> =
            pair.as_der().map_err(|_| crypto("RSA key export failed"))?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let encoding =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| crypto(&e.to_string()))?;

        let public = pair.public_key();
        let spki: PublicKeyX509Der<'static> = public
            .as_der()
            .map_err(|_| crypto("RSA public key export failed"))?;
        let thumbprint =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, spki.as_ref());
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Ok(SigningKey {
            encoding,
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            kid: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
            n: URL_SAFE_NO_PAD.encode(&n),
            e: URL_SAFE_NO_PAD.encode(&e),
        })
    }

    #[cfg(test)]
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn sign(&self, claims: &Value) -> Result<String, EmulatorError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| EmulatorError::Crypto(e.to_string()))
    }

    /// Verifies the signature only; the caller checks times against the emulator's (skewable) clock.
    pub(crate) fn verify_signature(
        &self,
        jwt: &str,
    ) -> Result<Map<String, Value>, SignatureProblem> {
        if jwt.len() > MAX_JWT_LEN || jwt.split('.').count() != 3 {
            return Err(SignatureProblem::Malformed);
        }
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| SignatureProblem::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(SignatureProblem::UnsupportedAlgorithm(format!(
                "{:?}",
                header.alg
            )));
        }
        let presented = header.kid.or(header.x5t).unwrap_or_default();
        if presented != self.kid {
            return Err(SignatureProblem::KeyNotFound(presented));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        match jsonwebtoken::decode::<Map<String, Value>>(jwt, &self.decoding, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                Err(SignatureProblem::BadSignature(presented))
            }
            Err(_) => Err(SignatureProblem::Malformed),
        }
    }

    /// The JWKS document (`/discovery/v2.0/keys`), shaped like Entra's.
    pub(crate) fn jwks(&self, issuer: &str) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "x5t": self.kid,
                "n": self.n,
                "e": self.e,
                "issuer": issuer,
            }]
        })
    }
}

/// Reads the claims of a JWT without verifying it: Entra needs the issuer before it knows which keys to use.
pub(crate) fn peek_claims(jwt: &str) -> Option<Map<String, Value>> {
    if jwt.len() > MAX_JWT_LEN {
        return None;
    }
    let mut parts = jwt.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A random token identifier (`uti`, `aio`), base64url like Entra's.
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// Times of a token being issued now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validity {
    pub iat: i64,
    pub exp: i64,
}

impl Validity {
    pub(crate) fn starting(now: i64, lifetime_secs: u64) -> Self {
        Validity {
            iat: now,
            exp: now.saturating_add(i64::try_from(lifetime_secs).unwrap_or(i64::MAX)),
        }
    }
}

/// Claims of a managed-identity token (docs/protocol.md §1: what a FIC must match is `iss`, `sub`, `aud`).
pub(crate) fn managed_identity_claims(
    mi: &ManagedIdentityInfo,
    audience: &str,
    v: Validity,
) -> Value {
    json!({
        "aud": audience,
        "iss": entra_issuer(&mi.tenant_id),
        "iat": v.iat,
        "nbf": v.iat,
        "exp": v.exp,
        "aio": random_id(),
        "appid": mi.client_id,
        "appidacr": "2",
        "azp": mi.client_id,
        "azpacr": "2",
        "idtyp": "app",
        "oid": mi.object_id,
        "sub": mi.object_id,
        "tid": mi.tenant_id,
        "uti": random_id(),
        "ver": "2.0",
        "xms_mirid": mi.resource_id,
    })
}

/// What Entra put in an app-only access token it issued for a client-credentials request.
pub(crate) struct AppToken<'a> {
    pub tenant_id: &'a str,
    pub app_client_id: &'a str,
    pub app_display_name: &'a str,
    pub service_principal_id: &'a str,
    pub audience: &'a str,
    pub roles: Vec<String>,
    /// "1" for a client secret, "2" for a certificate or assertion.
    pub acr: &'static str,
    pub validity: Validity,
}

/// Claims of an app-only v1 access token, as SharePoint and Graph get them (`iss` is the v1 `sts.windows.net`).
pub(crate) fn app_token_claims(t: &AppToken<'_>) -> Value {
    let issuer = format!("https://sts.windows.net/{}/", t.tenant_id);
    let mut claims = json!({
        "aud": t.audience,
        "iss": issuer,
        "iat": t.validity.iat,
        "nbf": t.validity.iat,
        "exp": t.validity.exp,
        "aio": random_id(),
        "app_displayname": t.app_display_name,
        "appid": t.app_client_id,
        "appidacr": t.acr,
        "azp": t.app_client_id,
        "azpacr": t.acr,
        "idp": issuer,
        "idtyp": "app",
        "oid": t.service_principal_id,
        "sub": t.service_principal_id,
        "tid": t.tenant_id,
        "uti": random_id(),
        "ver": "1.0",
    });
    if !t.roles.is_empty() {
        if let Some(map) = claims.as_object_mut() {
            map.insert("roles".into(), json!(t.roles));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::generate().expect("key")
    }

    #[test]
    fn signs_and_verifies() {
        let k = key();
        let jwt = k.sign(&json!({"sub": "x", "exp": 1})).expect("sign");
        let claims = k.verify_signature(&jwt).expect("verifies");
        assert_eq!(claims["sub"], "x");
        let header = jsonwebtoken::decode_header(&jwt).expect("header");
        assert_eq!(header.kid.as_deref(), Some(k.kid()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(peek_claims(&jwt).expect("peek")["sub"], "x");
    }

    #[test]
    fn other_key_and_tampering_are_rejected() {
        let (a, b) = (key(), key());
        let jwt = a.sign(&json!({"sub": "x"})).expect("sign");
        assert!(matches!(
            b.verify_signature(&jwt),
            Err(SignatureProblem::KeyNotFound(_))
        ));

        // Same kid, different payload: the signature no longer matches.
        let mut parts: Vec<&str> = jwt.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#);
        parts[1] = &forged_payload;
        let forged = parts.join(".");
        assert!(matches!(
            a.verify_signature(&forged),
            Err(SignatureProblem::BadSignature(_))
        ));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let k = key();
        for junk in [
            "",
            "a.b.c",
            "....",
            "eyJ.eyJ.x",
            &"A".repeat(MAX_JWT_LEN + 1),
        ] {
            assert_eq!(
                k.verify_signature(junk),
                Err(SignatureProblem::Malformed),
                "{junk:.20}"
            );
            assert!(peek_claims(junk).is_none());
        }
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
        );
        assert!(matches!(
            k.verify_signature(&none_alg),
            Err(SignatureProblem::UnsupportedAlgorithm(_))
        ));
    }
}
