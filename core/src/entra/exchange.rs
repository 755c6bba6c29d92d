//! The federated-credential exchange: Entra's token endpoint turns a client assertion (the
//! managed-identity token) into an access token (docs/protocol.md §1).

use std::sync::Arc;

use serde_json::Value;

use crate::entra::aadsts;
use crate::entra::cloud::AuthorityHost;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, Response};
use crate::support::secret::{Secret, scrub_server_text};
use crate::token::expiry::{parse_expires_in, parse_expires_on};
use crate::token::lifetime;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the app proves who it is to Entra.
#[derive(Clone, Debug)]
pub(crate) enum ClientAuth {
    /// A signed JWT: a managed-identity token, a workload's federated token (or, later, a
    /// certificate-signed assertion).
    Assertion(Secret),
    /// The app registration's client secret.
    Secret(Secret),
}

/// An access token as Entra issued it.
#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub token: Secret,
    pub token_type: Arc<str>,
    pub expires_on: i64,
    pub refresh_on: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct TokenEndpoint {
    authority: AuthorityHost,
    client_id: String,
}

impl TokenEndpoint {
    pub(crate) fn new(authority: AuthorityHost, client_id: String) -> Self {
        TokenEndpoint {
            authority,
            client_id,
        }
    }

    /// One client-credentials request for `scope` (`{resource}/.default`) in `tenant`.
    pub(crate) async fn request_token(
        &self,
        http: &http::EntraClient,
        tenant: &str,
        scope: &str,
        auth: &ClientAuth,
        claims: Option<&str>,
        now: i64,
    ) -> Result<IssuedToken> {
        let url = self.authority.token_endpoint(tenant);
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("scope", scope),
            ("grant_type", "client_credentials"),
        ];
        match auth {
            ClientAuth::Assertion(assertion) => {
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", assertion.expose()));
            }
            ClientAuth::Secret(secret) => form.push(("client_secret", secret.expose())),
        }
        if let Some(claims) = claims {
            form.push(("claims", claims));
        }
        let request = http
            .post(&url)
            .header("Accept", "application/json")
            .header("client-request-id", &correlation_id)
            .header("return-client-request-id", "true")
            .header("x-client-SKU", "certless")
            .header("x-client-Ver", env!("CARGO_PKG_VERSION"))
            .form(&form);
        let target = format!("Entra token endpoint {url}");
        log::debug!(
            "certless: exchanging an assertion at {url} for {scope} (app {}, correlation id \
                {correlation_id})",
            self.client_id
        );
        let response = http.send(request, &target).await.map_err(|e| {
            let e = e.with_ids(None, Some(correlation_id.clone()));
            if e.remedy().is_some() {
                return e;
            }
            e.with_remedy(
                "Entra could not be reached: check the network path to the authority \
                host (firewall, HTTPS_PROXY / NO_PROXY, a TLS-inspecting proxy whose CA must be \
                trusted via SSL_CERT_FILE or CERTLESS_CA_FILE).",
            )
        })?;
        if response.status != 200 {
            return Err(self.error_for(&response, tenant, correlation_id));
        }
        parse_issued(&response.body, now, &target).map_err(|e| {
            e.with_ids(
                response.header("x-ms-request-id").map(scrub_server_text),
                Some(correlation_id),
            )
        })
    }

    pub(crate) fn error_for(
        &self,
        response: &Response,
        tenant: &str,
        sent_correlation_id: String,
    ) -> Error {
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .map(scrub_server_text)
                .filter(|s| !s.is_empty())
        };
        let oauth_error = text("error");
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // The description goes on with "\r\nTrace ID: ...\r\nCorrelation ID: ..."; keep its first line.
        let first_line =
            scrub_server_text(description.split(['\r', '\n']).next().unwrap_or_default());
        let mut codes: Vec<u32> = body
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .filter_map(|c| u32::try_from(c).ok())
                    .collect()
            })
            .unwrap_or_default();
        if codes.is_empty() {
            codes = aadsts::codes_in_text(description);
        }
        let trace_id =
            text("trace_id").or_else(|| response.header("x-ms-request-id").map(scrub_server_text));
        let correlation_id = text("correlation_id").or(Some(sent_correlation_id));
        let mut message = format!(
            "Entra refused the token request for app {} in tenant {tenant} with HTTP {}",
            self.client_id, response.status
        );
        if !first_line.is_empty() {
            message = format!("{message}: {first_line}");
        } else if let Some(e) = &oauth_error {
            message = format!("{message}: {e}");
        } else if body.is_null() {
            message.push_str(" and a body that is not JSON");
        }
        let remedy = codes
            .iter()
            .find_map(|c| aadsts::lookup(*c))
            .map(|info| info.remedy.to_string())
            .or_else(|| match response.status {
                429 => Some(
                    "Entra is throttling this app: wait for Retry-After; certless caches \
                    tokens, so look for other processes asking for tokens."
                        .to_string(),
                ),
                500..=599 => Some("Entra had a transient failure: retry with backoff.".to_string()),
                404 => Some(
                    "The token endpoint does not exist: check Instance (the authority \
                    host) and TenantId."
                        .to_string(),
                ),
                _ => None,
            });
        let code = if body.is_object() || response.status == 429 || response.status >= 500 {
            ErrorCode::ExchangeRejected
        } else {
            ErrorCode::ExchangeInvalidResponse
        };
        let mut error = Error::new(code, message)
            .with_leg(Leg::Exchange)
            .with_http_status(response.status)
            .with_oauth_error(oauth_error)
            .with_aadsts_codes(codes)
            .with_ids(trace_id, correlation_id)
            .with_retry_after(response.retry_after());
        if let Some(r) = remedy {
            error = error.with_remedy(r);
        }
        error
    }
}

pub(crate) fn parse_issued(body: &[u8], now: i64, target: &str) -> Result<IssuedToken> {
    let invalid = |what: &str| {
        Error::new(
            ErrorCode::ExchangeInvalidResponse,
            format!("{target} answered 200 but {what}"),
        )
        .with_leg(Leg::Exchange)
        .with_http_status(200)
        .with_remedy(
            "Something other than Entra may be answering (check Instance, and any \
                proxy between this machine and Entra).",
        )
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| invalid("the body is not JSON"))?;
    let token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("the body has no access_token"))?;
    let (reported, what) = match json.get("expires_in") {
        Some(v) => (parse_expires_in(v, now), "Entra's expires_in"),
        None => (
            json.get("expires_on")
                .and_then(|v| parse_expires_on(v, now)),
            "Entra's expires_on",
        ),
    };
    let expiry = lifetime::expiry(reported, what, token, now)
        .ok_or_else(|| invalid("the body has no usable expires_in"))?;
    if let Some(correction) = &expiry.correction {
        log::warn!("certless: {target}: {correction}");
    }
    let expires_on = expiry.expires_on;
    if expires_on <= now {
        return Err(invalid(
            "the token it issued has already expired (expires_in 0 or less, and no later exp \
                claim)",
        ));
    }
    // An empty token_type is no type at all: the default, as when it is missing (found by the
    // entra_token fuzz target; it would have made an `Authorization` header with no scheme).
    let token_type = json
        .get("token_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("Bearer");
    if token_type.len() > 32
        || !token_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid("its token_type is not a token type"));
    }
    let refresh_on = json
        .get("refresh_in")
        .and_then(|v| parse_expires_in(v, now))
        .filter(|r| *r < expires_on);
    Ok(IssuedToken {
        token: Secret::new(token),
        token_type: Arc::from(token_type),
        expires_on,
        refresh_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_bodies() {
        let t = parse_issued(br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"tok"}"#, 100, "x").unwrap();
        assert_eq!(t.expires_on, 3699);
        assert_eq!(t.refresh_on, None);
        assert_eq!(&*t.token_type, "Bearer");
        let empty = parse_issued(
            br#"{"token_type":"","expires_in":3599,"access_token":"tok"}"#,
            100,
            "x",
        )
        .unwrap();
        assert_eq!(&*empty.token_type, "Bearer");
        let t = parse_issued(
            br#"{"expires_in":"7200","refresh_in":3600,"access_token":"tok"}"#,
            0,
            "x",
        )
        .unwrap();
        assert_eq!(t.refresh_on, Some(3600));
    }

    #[test]
    fn lifetimes_are_sanity_checked() {
        use base64::Engine;
        let jwt = |exp: i64| {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"exp":{exp}}}"#));
            format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln")
        };
        let now = 1_800_000_000;
        let body = |token: &str, expires_in: &str| {
            format!(r#"{{"access_token":"{token}","expires_in":{expires_in}}}"#)
        };
        let issued = |b: String| parse_issued(b.as_bytes(), now, "x").unwrap().expires_on - now;
        // 31 years: the token's own exp claim; an opaque token: capped at what Entra issues.
        assert_eq!(issued(body(&jwt(now + 3599), "999999999")), 3599);
        assert_eq!(issued(body("opaque", "999999999")), 28 * 3600);
        // Zero, with a JWT: its exp claim.
        assert_eq!(issued(body(&jwt(now + 3599), "0")), 3599);
        // refresh_in past the expiry is ignored.
        let t = parse_issued(
            br#"{"access_token":"opaque","expires_in":600,"refresh_in":7200}"#,
            now,
            "x",
        )
        .unwrap();
        assert_eq!(t.refresh_on, None);
    }

    /// Found by the `entra_error` fuzz target: a request id header went into the error as sent,
    /// token and all, where the body's text is scrubbed.
    #[test]
    fn header_ids_are_scrubbed_like_the_body() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let mut headers = reqwest::header::HeaderMap::new();
        let id = format!("0f7a6e24 validation. Assertion: {token}");
        headers.insert("x-ms-request-id", id.parse().unwrap());
        let response = Response {
            status: 400,
            headers,
            body: b"not json".to_vec(),
        };
        let endpoint = TokenEndpoint::new(AuthorityHost::global(), "app".into());
        let e = endpoint.error_for(&response, "tenant", "sent".into());
        assert!(!e.to_string().contains(token), "{e}");
        assert!(e.trace_id().unwrap().starts_with("0f7a6e24"), "{e}");
    }

    #[test]
    fn hostile_success_bodies_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"expires_in":5}"#,
            br#"{"access_token":"t"}"#,
            br#"{"access_token":"t","expires_in":5,"token_type":"Bearer\r\nX: y"}"#,
            br#"{"access_token":"opaque","expires_in":0}"#,
            br#"{"access_token":"opaque","expires_in":"-5"}"#,
        ] {
            assert_eq!(
                parse_issued(body, 0, "x").unwrap_err().code(),
                ErrorCode::ExchangeInvalidResponse
            );
        }
    }
}
