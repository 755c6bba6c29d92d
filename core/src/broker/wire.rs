//! The broker's wire format, written once for both sides: the token request (its query
//! parameters), the token answer, and the error answer — App Service's managed-identity protocol
//! (docs/protocol.md §7) plus a `certless` object that carries certless's code, leg and fix.
//! The broker (`certless-broker`) encodes answers and decodes requests with these functions; the
//! client a [`Credential`](crate::Credential) uses (the private `client` module beside this one)
//! encodes requests and decodes answers with them.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::managed_identity::response::parse_token;
use crate::support::secret::scrub_server_text;
use crate::token::{AccessToken, CredentialSourceKind};

/// The protocol version the broker speaks (App Service's).
pub const API_VERSION: &str = "2019-08-01";
/// The token path on a broker's listener (App Service's is `/msi/token` too).
pub const TOKEN_PATH: &str = "/msi/token";
/// The header that carries the secret.
pub const SECRET_HEADER: &str = "X-IDENTITY-HEADER";

/// A loopback host name: what the broker accepts in `Host` and what a client may send its
/// secret to.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Which of a broker's apps a token request asks for. The SDKs name a *managed identity*
/// (`client_id`, `object_id`/`principal_id`, `mi_res_id`); the broker maps it to an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppSelector<'a> {
    /// No selector: the broker's first (default) app.
    Default,
    /// `client_id=`: an app's client id, or its managed identity's.
    ClientId(&'a str),
    /// `object_id=` or `principal_id=`: a managed identity's object id.
    ObjectId(&'a str),
    /// `mi_res_id=`: a managed identity's Azure resource id.
    ResourceId(&'a str),
}

/// A token request's query, borrowed from its decoded pairs ([`query_pairs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest<'a> {
    /// `resource=`: the API the token is for (a scope without `/.default`).
    pub resource: &'a str,
    /// The app asked for.
    pub app: AppSelector<'a>,
    /// `tenant_id=`: another tenant than the app's own.
    pub tenant_id: Option<&'a str>,
    /// `claims=`: a claims challenge (never answered from the cache or the failure hold).
    pub claims: Option<&'a str>,
    /// `token_sha256_to_refresh=`: MSAL's revocation signal for App Service, the SHA-256 (hex)
    /// of a token a resource refused.
    pub token_sha256_to_refresh: Option<&'a str>,
}

/// A query string's `name=value` pairs, percent-decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl<'a> TokenRequest<'a> {
    /// A request's decoded query pairs, checked: App Service's `api-version`, a `resource`, and
    /// at most one app selector.
    pub fn parse(pairs: &'a [(String, String)]) -> Result<TokenRequest<'a>> {
        let bad = |message: String, remedy: &'static str| {
            Error::new(ErrorCode::InvalidArgument, message).with_remedy(remedy)
        };
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        const VERSION_FIX: &str =
            "Send api-version=2019-08-01 (App Service's managed-identity protocol).";
        match get("api-version") {
            Some(API_VERSION) => {}
            Some(other) => {
                let message = format!("api-version '{}' is not supported", shown(other));
                return Err(bad(message, VERSION_FIX));
            }
            None => {
                let message = "the api-version query parameter is missing".into();
                return Err(bad(message, VERSION_FIX));
            }
        }
        let resource = get("resource")
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                bad(
                    "the resource query parameter is missing".into(),
                    "Send resource=<the API's resource>, e.g. https://graph.microsoft.com.",
                )
            })?;
        let selectors: Vec<AppSelector<'a>> = [
            get("client_id").map(AppSelector::ClientId),
            get("principal_id").map(AppSelector::ObjectId),
            get("object_id").map(AppSelector::ObjectId),
            get("mi_res_id").map(AppSelector::ResourceId),
        ]
        .into_iter()
        .flatten()
        .collect();
        let app = match selectors.as_slice() {
            [] => AppSelector::Default,
            [one] => *one,
            [first, rest @ ..] if rest.iter().all(|s| s == first) => *first,
            _ => {
                return Err(bad(
                    "only one of client_id, principal_id (object_id) and mi_res_id may be sent"
                        .into(),
                    "Name the app once, by its client id.",
                ));
            }
        };
        Ok(TokenRequest {
            resource,
            app,
            tenant_id: get("tenant_id").filter(|t| !t.is_empty()),
            claims: get("claims").filter(|c| !c.is_empty()),
            token_sha256_to_refresh: get("token_sha256_to_refresh"),
        })
    }

    /// The query parameters that send this request, in the order a client sends them.
    pub fn query(&self) -> Vec<(&'static str, &'a str)> {
        let mut query = vec![("api-version", API_VERSION), ("resource", self.resource)];
        match self.app {
            AppSelector::Default => {}
            AppSelector::ClientId(id) => query.push(("client_id", id)),
            AppSelector::ObjectId(id) => query.push(("object_id", id)),
            AppSelector::ResourceId(id) => query.push(("mi_res_id", id)),
        }
        let optional = [
            ("tenant_id", self.tenant_id),
            ("claims", self.claims),
            ("token_sha256_to_refresh", self.token_sha256_to_refresh),
        ];
        query.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        query
    }
}

/// Text from a request as the broker's messages and log lines show it: at most 200 characters,
/// control characters escaped.
pub fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The token answer: App Service's fields (`expires_on` as a string of Unix seconds, as App
/// Service sends it), plus which credential source produced the token (`certless_source`,
/// ignored by the SDKs).
pub fn token_body(token: &AccessToken, resource: &str, client_id: &str) -> String {
    json!({
        "access_token": token.token.expose(),
        "expires_on": token.expires_on.to_string(),
        "resource": resource,
        "token_type": &*token.token_type,
        "client_id": client_id,
        "certless_source": token.source.as_str(),
    })
    .to_string()
}

/// A token answer's body read back; `answered_by` names the broker in messages.
pub(crate) fn parse_token_body(body: &[u8], now: i64, answered_by: &str) -> Result<AccessToken> {
    let token = parse_token(body, now, answered_by)?;
    let extra: Value = serde_json::from_slice(body).unwrap_or_default();
    let source = extra
        .get("certless_source")
        .and_then(Value::as_str)
        .and_then(CredentialSourceKind::parse)
        .unwrap_or(CredentialSourceKind::SignedAssertionFromManagedIdentity);
    let token_type = extra
        .get("token_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() < 32)
        .unwrap_or("Bearer");
    Ok(AccessToken {
        token: token.token,
        token_type: Arc::from(token_type),
        expires_on: token.expires_on,
        refresh_on: token.refresh_on,
        source,
    })
}

/// The HTTP status a broker answers `error` with. A mistake in the request is 400; a failure
/// that may pass (unreachable, timeout, throttled, an upstream 5xx) is 503, which the SDKs
/// retry; one that will not pass by itself (Entra refused the app's set-up) is 502, which
/// @azure/identity does not retry.
pub fn error_status(error: &Error) -> u16 {
    use ErrorCode::*;
    match error.code() {
        InvalidArgument | InvalidScope => return 400,
        Internal | Cancelled => return 500,
        _ => {}
    }
    // Entra's AADSTS500011: the resource does not exist in the tenant — the request's mistake.
    if error.primary().aadsts_codes().contains(&500011) {
        return 400;
    }
    let transient = |e: &Error| {
        e.retry_after().is_some()
            || matches!(
                e.code(),
                ManagedIdentityUnreachable
                    | ManagedIdentityTimeout
                    | ExchangeUnreachable
                    | ExchangeTimeout
            )
            || e.http_status().is_some_and(|s| s == 429 || s >= 500)
    };
    if transient(error) || error.causes().iter().any(transient) {
        503
    } else {
        502
    }
}

/// The error answer: App Service's `{"statusCode","message"}` (what MSAL for Python reads), the
/// OAuth `{"error","error_description"}` pair (what MSAL for Node reads), and a `certless`
/// object with everything a certless client needs to rebuild the error. The message is the
/// whole rendered error — leg, code, AADSTS codes, ids and fix — so an SDK user reads it all.
pub fn error_body(error: &Error, status: u16) -> String {
    let text = error.to_string();
    json!({
        "statusCode": status,
        "message": text,
        "error": error_name(error.code()),
        "error_description": text,
        "correlationId": error.correlation_id(),
        "certless": error_fields(error),
    })
    .to_string()
}

/// The `certless` object of an error answer: core's error record ([`crate::ErrorReport`]), its causes one
/// level deep (what a client rebuilds).
fn error_fields(error: &Error) -> Value {
    let mut report = error.report();
    for cause in &mut report.causes {
        cause.causes.clear();
    }
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// The error an answer's `certless` object ([`error_body`]) describes. At the top
/// (`answered_by` given) the message names the broker and the causes are rebuilt too. Text from
/// the answer is scrubbed like any server's.
pub(crate) fn error_from_fields(fields: &Value, answered_by: Option<&str>) -> Error {
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .map(scrub_server_text)
    };
    let code = fields["code"]
        .as_u64()
        .and_then(|c| u32::try_from(c).ok())
        .and_then(ErrorCode::from_u32)
        .unwrap_or(ErrorCode::ManagedIdentityRejected);
    let leg = text("leg")
        .and_then(|l| Leg::from_name(&l))
        .unwrap_or(code.leg());
    let message = text("message").unwrap_or_else(|| "the broker gave no message".into());
    let message = match answered_by {
        Some(broker) => format!("{message} (answered by {broker})"),
        None => message,
    };
    let aadsts_codes = fields["aadsts_codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                .collect()
        })
        .unwrap_or_default();
    let mut error = Error::new(code, message)
        .with_leg(leg)
        .with_oauth_error(text("oauth_error"))
        .with_ids(text("trace_id"), text("correlation_id"))
        .with_aadsts_codes(aadsts_codes);
    if let Some(status) = fields["http_status"].as_u64() {
        error = error.with_http_status(u16::try_from(status).unwrap_or(0));
    }
    if let Some(remedy) = text("remedy") {
        error = error.with_remedy(remedy);
    }
    if let Some(source) = text("credential_source") {
        error = error.with_credential_source(source);
    }
    if fields["unavailable"].as_bool() == Some(true) {
        error = error.with_unavailable();
    }
    if answered_by.is_some() {
        if let Some(causes) = fields["causes"].as_array() {
            error = error.with_causes(causes.iter().map(|c| error_from_fields(c, None)).collect());
        }
    }
    error
}

/// `ExchangeRejected` → `exchange_rejected`: the OAuth-style `error` of a broker answer.
fn error_name(code: ErrorCode) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_round_trip_code_leg_and_fix() {
        let original = Error::new(ErrorCode::ExchangeRejected, "Entra refused: AADSTS70021")
            .with_http_status(400)
            .with_aadsts_codes(vec![70021])
            .with_ids(Some("trace".into()), Some("corr".into()))
            .with_remedy("fix the federated credential");
        let status = error_status(&original);
        assert_eq!(status, 502);
        let body = error_body(&original, status);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["statusCode"], 502);
        assert_eq!(json["error"], "exchange_rejected");
        assert!(json["message"].as_str().unwrap().contains("Fix: fix the"));
        let shown = "the certless broker at http://127.0.0.1:1/msi/token (CERTLESS_BROKER)";
        let rebuilt = error_from_fields(&json["certless"], Some(shown));
        assert_eq!(rebuilt.code(), ErrorCode::ExchangeRejected);
        assert_eq!(rebuilt.leg(), Leg::Exchange);
        assert_eq!(rebuilt.aadsts_codes(), &[70021]);
        assert_eq!(rebuilt.http_status(), Some(400));
        assert_eq!(rebuilt.trace_id(), Some("trace"));
        assert_eq!(rebuilt.remedy(), Some("fix the federated credential"));
        assert!(
            rebuilt
                .message()
                .contains("certless broker at http://127.0.0.1:1")
        );

        let throttled = Error::new(ErrorCode::ManagedIdentityRejected, "429")
            .with_http_status(429)
            .with_retry_after(Some(30));
        assert_eq!(error_status(&throttled), 503);
        let scope = Error::new(ErrorCode::InvalidScope, "bad scope");
        assert_eq!(error_status(&scope), 400);
    }

    #[test]
    fn queries_name_one_resource_and_at_most_one_app() {
        let parse = |q: &str| {
            let pairs = query_pairs(q);
            TokenRequest::parse(&pairs).map(|r| (r.resource.to_string(), format!("{:?}", r.app)))
        };
        let (resource, app) =
            parse("api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&client_id=abc")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resource, "https://vault.azure.net");
        assert_eq!(app, "ClientId(\"abc\")");
        assert!(parse("resource=x").is_err());
        assert!(parse("api-version=2017-09-01&resource=x").is_err());
        assert!(parse("api-version=2019-08-01").is_err());
        assert!(parse("api-version=2019-08-01&resource=x&client_id=a&mi_res_id=b").is_err());
    }

    #[test]
    fn a_request_encoded_by_the_client_parses_back_the_same() {
        let sent = TokenRequest {
            resource: "https://vault.azure.net",
            app: AppSelector::ClientId("abc"),
            tenant_id: Some("contoso"),
            claims: Some("{\"access_token\":{}}"),
            token_sha256_to_refresh: None,
        };
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sent.query())
            .finish();
        let pairs = query_pairs(&encoded);
        assert_eq!(TokenRequest::parse(&pairs).unwrap(), sent);
    }
}
