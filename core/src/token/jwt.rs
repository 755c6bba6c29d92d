//! Reading a JWT's claims without verifying it. certless never trusts these claims for security
//! (Entra verifies the assertion); it reads them to schedule refreshes and to explain failures.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};

/// The claims certless looks at, plus all of them as JSON.
#[derive(Clone, Debug, Default)]
pub struct Claims {
    /// Issuer.
    pub iss: Option<String>,
    /// Subject.
    pub sub: Option<String>,
    /// `aud` (a string, or the first of an array).
    pub aud: Option<String>,
    /// Object id of the principal (a managed identity's object id).
    pub oid: Option<String>,
    /// Tenant id.
    pub tid: Option<String>,
    /// The managed identity's ARM resource id: tells a user-assigned identity from a system-assigned one.
    pub xms_mirid: Option<String>,
    /// Issued at (Unix seconds).
    pub iat: Option<i64>,
    /// Not before (Unix seconds).
    pub nbf: Option<i64>,
    /// Expiry (Unix seconds).
    pub exp: Option<i64>,
    /// Every claim of the payload.
    pub all: Map<String, Value>,
}

/// Decodes the payload of a compact JWS. The error never includes the token.
pub fn decode_claims(token: &str) -> Result<Claims> {
    let invalid = |what: &str| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("the token is not a JWT: {what}"),
        )
    };
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("expected three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid("the payload is not base64url"))?;
    let all: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(invalid("the payload is not a JSON object")),
    };
    let string = |name: &str| match all.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => items.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let number = |name: &str| {
        all.get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    Ok(Claims {
        iss: string("iss"),
        sub: string("sub"),
        aud: string("aud"),
        oid: string("oid"),
        tid: string("tid"),
        xms_mirid: string("xms_mirid"),
        iat: number("iat"),
        nbf: number("nbf"),
        exp: number("exp"),
        all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJub25lIn0.{}.sig",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_claims() {
        let c = decode_claims(&jwt(
            r#"{"iss":"i","sub":"s","aud":["a","b"],"exp":1700000000,"iat":1.7e9}"#,
        ))
        .unwrap();
        assert_eq!(c.iss.as_deref(), Some("i"));
        assert_eq!(c.aud.as_deref(), Some("a"));
        assert_eq!(c.exp, Some(1_700_000_000));
        assert_eq!(c.iat, Some(1_700_000_000));
    }

    #[test]
    fn rejects_non_jwts_without_echoing_them() {
        for bad in [
            "",
            "a.b",
            "a.!!!.c",
            "a.b.c.d",
            &format!("x.{}.y", URL_SAFE_NO_PAD.encode("[1]")),
        ] {
            let e = decode_claims(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
        }
        let secretish = "header.c2VjcmV0LXZhbHVl.sig";
        assert!(
            !decode_claims(secretish)
                .unwrap_err()
                .to_string()
                .contains("c2VjcmV0")
        );
    }
}
