//! Managed-identity responses: the token (numbers may be strings, `expires_on` has many shapes)
//! and the three error shapes (docs/protocol.md §2).

use serde_json::Value;

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::secret::{Secret, scrub_server_text};
use crate::token::expiry::{parse_expires_in, parse_expires_on};
use crate::token::lifetime;

/// A managed-identity token, used as the client assertion.
#[derive(Clone, Debug)]
pub struct ManagedIdentityToken {
    /// The token. `Debug` prints no part of it.
    pub token: Secret,
    /// Unix seconds.
    pub expires_on: i64,
    /// Unix seconds, when the endpoint suggested one (`refresh_in`).
    pub refresh_on: Option<i64>,
}

pub(crate) fn parse_token(body: &[u8], now: i64, target: &str) -> Result<ManagedIdentityToken> {
    let invalid = |what: &str| {
        Error::new(
            ErrorCode::ManagedIdentityInvalidResponse,
            format!(
                "{target} answered 200 but \
            {what}"
            ),
        )
        .with_leg(Leg::ManagedIdentity)
        .with_http_status(200)
        .with_remedy(
            "Something other than the managed-identity endpoint may be answering (a \
                proxy, a captive portal); run `certless doctor`.",
        )
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| invalid("the body is not JSON"))?;
    let obj = json
        .as_object()
        .ok_or_else(|| invalid("the body is not a JSON object"))?;
    let token = obj
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("the body has no access_token"))?;
    let (reported, what) = match obj.get("expires_on").and_then(|v| parse_expires_on(v, now)) {
        Some(t) => (Some(t), "the endpoint's expires_on"),
        None => (
            obj.get("expires_in").and_then(|v| parse_expires_in(v, now)),
            "the endpoint's expires_in",
        ),
    };
    // The assertion is usable until the earlier of the endpoint's figure and the token's own
    // exp claim: Entra judges it by the claim, and an implausible figure must not pin it.
    let expiry = lifetime::expiry(reported, what, token, now)
        .ok_or_else(|| invalid("no usable expiry (expires_on / expires_in / the token's exp)"))?;
    if let Some(correction) = &expiry.correction {
        log::warn!("certless: {target}: {correction}");
    }
    let expires_on = expiry.expires_on;
    let refresh_on = obj.get("refresh_in").and_then(|v| parse_expires_in(v, now));
    Ok(ManagedIdentityToken {
        token: Secret::new(token),
        expires_on,
        refresh_on,
    })
}

/// What an error body said, whatever its shape:
/// `{"error","error_description"}` (IMDS, OAuth), `{"statusCode","message"}` (App Service),
/// `{"error":{"code","message"}}` (Service Fabric), or plain text.
#[derive(Debug, Default, Clone)]
pub(crate) struct ErrorDetails {
    pub error: Option<String>,
    pub description: Option<String>,
    pub correlation_id: Option<String>,
}

impl ErrorDetails {
    pub(crate) fn parse(body: &[u8]) -> Self {
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .map(scrub_server_text)
                .filter(|s| !s.is_empty())
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => {
                if let Some(Value::Object(inner)) = obj.get("error") {
                    return ErrorDetails {
                        error: text(inner.get("code")),
                        description: text(inner.get("message")),
                        correlation_id: None,
                    };
                }
                ErrorDetails {
                    error: text(obj.get("error")),
                    description: text(obj.get("error_description"))
                        .or_else(|| text(obj.get("message")).or_else(|| text(obj.get("Message")))),
                    correlation_id: text(obj.get("correlationId"))
                        .or_else(|| text(obj.get("correlation_id"))),
                }
            }
            _ => {
                let raw = String::from_utf8_lossy(body);
                let scrubbed = scrub_server_text(&raw);
                ErrorDetails {
                    description: (!scrubbed.is_empty()).then_some(scrubbed),
                    ..Default::default()
                }
            }
        }
    }

    pub(crate) fn summary(&self) -> Option<String> {
        match (&self.error, &self.description) {
            (Some(e), Some(d)) => Some(format!("{e}: {d}")),
            (Some(e), None) => Some(e.clone()),
            (None, Some(d)) => Some(d.clone()),
            (None, None) => None,
        }
    }

    pub(crate) fn text_lowercase(&self) -> String {
        self.summary().unwrap_or_default().to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strings_and_relative_expiry() {
        let t = parse_token(
            br#"{"access_token":"abc","expires_in":"3600","token_type":"Bearer"}"#,
            1000,
            "x",
        )
        .unwrap();
        assert_eq!(t.expires_on, 4600);
        let t = parse_token(
            br#"{"access_token":"abc","expires_on":"1700000000","expires_in":"3600"}"#,
            1_699_996_400,
            "x",
        )
        .unwrap();
        assert_eq!(t.expires_on, 1_700_000_000);
        let t = parse_token(
            br#"{"access_token":"abc","expires_on":"1/16/2020 5:24:12 AM +00:00"}"#,
            1_579_150_000,
            "x",
        )
        .unwrap();
        assert_eq!(t.expires_on, 1_579_152_252);
    }

    #[test]
    fn the_assertion_lives_until_the_earlier_of_expires_on_and_its_exp_claim() {
        use base64::Engine;
        let now = 1_800_000_000;
        let jwt = |exp: i64| {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"exp":{exp}}}"#));
            format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln")
        };
        let parse = |token: String, expires_on: i64| {
            let body = format!(r#"{{"access_token":"{token}","expires_on":"{expires_on}"}}"#);
            parse_token(body.as_bytes(), now, "x").unwrap().expires_on - now
        };
        // expires_on in milliseconds: the claim.
        assert_eq!(parse(jwt(now + 86_399), (now + 86_399) * 1000), 86_399);
        // The claim is earlier than the endpoint says.
        assert_eq!(parse(jwt(now + 600), now + 86_399), 600);
        assert_eq!(parse(jwt(now + 86_399), now + 600), 600);
        // Decades ahead and no claim to go by: capped at the longest a token lives.
        assert_eq!(parse("opaque".into(), now + 30 * 365 * 86_400), 28 * 3600);
    }

    #[test]
    fn unusable_bodies_are_invalid_responses() {
        for body in [
            &b"<html>proxy</html>"[..],
            b"[]",
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":"abc"}"#,
            br#"{"access_token":"","expires_in":5}"#,
        ] {
            let e = parse_token(body, 0, "IMDS endpoint x").unwrap_err();
            assert_eq!(e.code(), ErrorCode::ManagedIdentityInvalidResponse);
            assert_eq!(e.leg(), Leg::ManagedIdentity);
        }
    }

    #[test]
    fn every_error_shape_is_read() {
        let d = ErrorDetails::parse(
            br#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        );
        assert_eq!(d.summary().unwrap(), "invalid_request: Identity not found");
        let d = ErrorDetails::parse(br#"{"statusCode":500,"message":"boom","correlationId":"c1"}"#);
        assert_eq!(d.summary().unwrap(), "boom");
        assert_eq!(d.correlation_id.as_deref(), Some("c1"));
        let d = ErrorDetails::parse(
            br#"{"error":{"code":"SecretHeaderNotFound","message":"no secret"}}"#,
        );
        assert_eq!(d.summary().unwrap(), "SecretHeaderNotFound: no secret");
        let d = ErrorDetails::parse(b"plain failure\r\n");
        assert_eq!(d.summary().unwrap(), "plain failure");
    }
}
