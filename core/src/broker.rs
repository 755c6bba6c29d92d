//! The certless broker (`certless serve`): one process per machine that holds the credentials and
//! serves their tokens to local processes over App Service's managed-identity protocol
//! (docs/protocol.md §7): `GET {endpoint}?api-version=2019-08-01&resource=R` with the secret in
//! `X-IDENTITY-HEADER`. Every Azure SDK's `ManagedIdentityCredential` speaks it, so
//! `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` pointed at the broker give them the app's token.
//!
//! This module is the wire format both sides share — the token answer and the error answer,
//! which carries certless's code, leg and fix for certless clients and a message for the SDKs —
//! and the client a [`crate::Credential`] uses when `CERTLESS_BROKER` names a broker.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, Timeouts};
use crate::managed_identity::response::{ErrorDetails, parse_token};
use crate::support::echo::{echo, echo_path};
use crate::support::secret::{Secret, scrub_server_text};
use crate::token::{AccessToken, CredentialSourceKind};

/// The protocol version the broker speaks (App Service's).
pub const API_VERSION: &str = "2019-08-01";
/// The token path on a broker's listener (App Service's is `/msi/token` too).
pub const TOKEN_PATH: &str = "/msi/token";
/// The header that carries the secret.
pub const SECRET_HEADER: &str = "X-IDENTITY-HEADER";

/// Where a broker listens: a loopback HTTP URL, or a Unix domain socket (Linux and other Unix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerAddress {
    /// `http://127.0.0.1:PORT/msi/token` (the token URL).
    Http(String),
    /// The socket's path; requests on it need no secret (its file mode is the access control).
    Unix(PathBuf),
}

impl BrokerAddress {
    /// `http://127.0.0.1:PORT[/path]` (a loopback host: the secret must not leave the machine;
    /// no path means `/msi/token`), or `unix:/path/to/socket`. `setting` names where the value
    /// came from, for the error.
    pub fn parse(value: &str, setting: &str) -> Result<Self> {
        let value = value.trim();
        let bad = |problem: String| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!("{setting} '{}' {problem}", echo(value)),
            )
            .with_remedy(format!(
                "Set {setting} to the broker's address as `certless serve` prints it: \
                 http://127.0.0.1:PORT or unix:/run/certless/certless.sock."
            ))
        };
        if let Some(path) = value.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if !Path::new(path).is_absolute() {
                return Err(bad("is not unix: followed by an absolute path".into()));
            }
            if !cfg!(unix) {
                return Err(bad(
                    "is a Unix domain socket, which this platform does not have".into(),
                ));
            }
            return Ok(BrokerAddress::Unix(PathBuf::from(path)));
        }
        let mut url = url::Url::parse(value).map_err(|e| bad(format!("is not a URL ({e})")))?;
        if url.scheme() != "http" {
            return Err(bad(
                "is not an http:// URL (a broker listens on loopback, in plain HTTP)".into(),
            ));
        }
        if !is_loopback_host(url.host_str().unwrap_or_default()) {
            return Err(bad(
                "does not name a loopback address (127.0.0.1, [::1] or localhost): the secret \
                 must not leave this machine"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(bad("has a query, fragment or user name".into()));
        }
        if matches!(url.path(), "" | "/") {
            url.set_path(TOKEN_PATH);
        }
        Ok(BrokerAddress::Http(url.to_string()))
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerAddress::Http(url) => f.write_str(url),
            BrokerAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A loopback host name: what the broker accepts in `Host` and what a client may send its
/// secret to.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a client finds the broker's secret.
#[derive(Clone, Debug)]
pub(crate) enum BrokerSecret {
    /// None: fine on a Unix socket, refused by a TCP broker.
    None,
    Value(Secret),
    /// Read before the first request, and again when the broker refuses it (it makes a new one
    /// each time it starts).
    File(PathBuf),
}

/// A broker for a credential to ask instead of fetching tokens itself.
#[derive(Clone, Debug)]
pub(crate) struct BrokerSettings {
    pub address: BrokerAddress,
    pub secret: BrokerSecret,
    /// When the broker cannot be reached, fetch in this process (opt-in:
    /// `CERTLESS_BROKER_FALLBACK=local`).
    pub fallback: bool,
    /// The setting that named the broker, for messages.
    pub setting: &'static str,
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
        "certless": error_fields(error, 0),
    })
    .to_string()
}

fn error_fields(error: &Error, depth: usize) -> Value {
    let causes: Vec<Value> = if depth == 0 {
        error
            .causes()
            .iter()
            .map(|c| error_fields(c, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "code": error.code().as_u32(),
        "leg": error.leg().as_str(),
        "message": error.message(),
        "remedy": error.remedy(),
        "http_status": error.http_status(),
        "oauth_error": error.oauth_error(),
        "aadsts_codes": error.aadsts_codes(),
        "trace_id": error.trace_id(),
        "correlation_id": error.correlation_id(),
        "credential_source": error.credential_source(),
        "retry_after": error.retry_after(),
        "unavailable": error.is_unavailable(),
        "causes": causes,
    })
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

/// Asks a broker for tokens on behalf of a credential.
pub(crate) struct BrokerClient {
    settings: BrokerSettings,
    /// The app to ask for (`client_id=`); the broker's default app when `None`.
    client_id: Option<String>,
    timeouts: Timeouts,
    /// How messages name the broker: "the certless broker at ... (CERTLESS_BROKER)".
    shown: String,
    secret: Mutex<Option<Secret>>,
    /// Built on first use, and again in a child process after `fork()`.
    http: Mutex<Option<(u32, reqwest::Client)>>,
}

impl fmt::Debug for BrokerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerClient")
            .field("address", &self.settings.address)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// How long a client keeps trying to connect to a broker that refuses connections (a restart
/// takes a fraction of a second) before it reports the broker unreachable.
const CONNECT_RETRY_DELAYS: [Duration; 2] =
    [Duration::from_millis(100), Duration::from_millis(300)];

impl BrokerClient {
    pub(crate) fn new(
        settings: BrokerSettings,
        client_id: Option<String>,
        deadline: Duration,
    ) -> Self {
        let shown = format!(
            "the certless broker at {} ({})",
            settings.address, settings.setting
        );
        let secret = match &settings.secret {
            BrokerSecret::Value(s) => Some(s.clone()),
            _ => None,
        };
        BrokerClient {
            settings,
            client_id,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: deadline,
            },
            shown,
            secret: Mutex::new(secret),
            http: Mutex::new(None),
        }
    }

    pub(crate) fn address(&self) -> &BrokerAddress {
        &self.settings.address
    }

    pub(crate) fn falls_back(&self) -> bool {
        self.settings.fallback
    }

    fn http(&self) -> Result<reqwest::Client> {
        let pid = std::process::id();
        let mut current = self.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, client)) = current.as_ref() {
            if *owner == pid {
                return Ok(client.clone());
            }
        }
        let unix = match &self.settings.address {
            BrokerAddress::Unix(path) => Some(path.as_path()),
            BrokerAddress::Http(_) => None,
        };
        let client = http::broker_client(self.timeouts, unix)?;
        *current = Some((pid, client.clone()));
        Ok(client)
    }

    /// The secret to present; from its file when `reload` or not read yet.
    fn secret(&self, reload: bool) -> Result<Option<Secret>> {
        let BrokerSecret::File(path) = &self.settings.secret else {
            return Ok(self
                .secret
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone());
        };
        let mut current = self.secret.lock().unwrap_or_else(|e| e.into_inner());
        if reload || current.is_none() {
            *current = Some(read_secret_file(path)?);
        }
        Ok(current.clone())
    }

    /// A token for `scope` (`{resource}/.default`) in `tenant` (the broker's app's own tenant
    /// when empty).
    pub(crate) async fn acquire(
        &self,
        tenant: &str,
        scope: &str,
        claims: Option<&str>,
        now: impl Fn() -> i64,
    ) -> Result<AccessToken> {
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let mut query: Vec<(&str, &str)> =
            vec![("api-version", API_VERSION), ("resource", resource)];
        if let Some(client_id) = &self.client_id {
            query.push(("client_id", client_id));
        }
        if !tenant.is_empty() {
            query.push(("tenant_id", tenant));
        }
        if let Some(claims) = claims {
            query.push(("claims", claims));
        }
        let url = match &self.settings.address {
            BrokerAddress::Http(url) => url.clone(),
            // The host is not used on a socket, but the broker checks it like any other.
            BrokerAddress::Unix(_) => format!("http://localhost{TOKEN_PATH}"),
        };
        let http = self.http()?;
        let mut reloaded = false;
        let mut delays = CONNECT_RETRY_DELAYS.iter();
        loop {
            let mut request = http.get(&url).query(&query);
            if let Some(secret) = self.secret(false)? {
                request = request.header(SECRET_HEADER, secret.expose());
            }
            let response = match http::send(request, Leg::ManagedIdentity, &self.shown).await {
                Ok(response) => response,
                Err(e) if e.connect_failed() => match delays.next() {
                    Some(delay) => {
                        tokio::time::sleep(*delay).await;
                        continue;
                    }
                    None => return Err(self.unreachable(e)),
                },
                Err(e) => return Err(self.unreachable(e)),
            };
            match response.status {
                200 => return self.token(&response.body, now()),
                401 if !reloaded && matches!(self.settings.secret, BrokerSecret::File(_)) => {
                    // The broker makes a new secret each time it starts: read the file again.
                    reloaded = true;
                    self.secret(true)?;
                }
                _ => return Err(self.relayed(&response)),
            }
        }
    }

    fn token(&self, body: &[u8], now: i64) -> Result<AccessToken> {
        let token = parse_token(body, now, &self.shown)?;
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

    fn unreachable(&self, error: Error) -> Error {
        let fallback = if self.settings.fallback {
            ""
        } else {
            " To fetch tokens in this process while the broker is down, set \
             CERTLESS_BROKER_FALLBACK=local."
        };
        let start = match &self.settings.address {
            BrokerAddress::Unix(path) => format!(
                "check that `certless serve` is running (systemctl status certless) and that \
                 this account may open {} (the socket's group)",
                echo_path(path)
            ),
            BrokerAddress::Http(_) => "check that `certless serve` is running \
                 (systemctl status certless) and listens there"
                .to_string(),
        };
        error.with_remedy(format!(
            "Start the broker or correct {}: {start}.{fallback}",
            self.settings.setting
        ))
    }

    /// An error answer: rebuilt from the broker's `certless` object (its code, leg and fix),
    /// or, from something else answering at that address, a plain rejection.
    fn relayed(&self, response: &http::Response) -> Error {
        let json: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let retry_after = response.retry_after();
        if let Some(fields) = json.get("certless").filter(|f| f.is_object()) {
            return self
                .rebuild(fields, true)
                .with_retry_after(retry_after.or_else(|| fields["retry_after"].as_u64()));
        }
        let details = ErrorDetails::parse(&response.body);
        let mut message = format!("{} answered HTTP {}", self.shown, response.status);
        if let Some(text) = details.summary() {
            message.push_str(": ");
            message.push_str(&text);
        }
        let remedy = match response.status {
            401 | 403 => format!(
                "The broker refused the secret: give this process the broker's current secret \
                 (CERTLESS_BROKER_SECRET_FILE names the file `certless serve` writes it to; \
                 the broker makes a new one each time it starts), or check {} names a certless \
                 broker.",
                self.settings.setting
            ),
            _ => format!(
                "Check that {} names a certless broker (`certless serve`).",
                self.settings.setting
            ),
        };
        Error::new(ErrorCode::ManagedIdentityRejected, message)
            .with_leg(Leg::ManagedIdentity)
            .with_http_status(response.status)
            .with_oauth_error(details.error)
            .with_retry_after(retry_after)
            .with_remedy(remedy)
    }

    fn rebuild(&self, fields: &Value, top: bool) -> Error {
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
        let message = if top {
            format!("{message} (answered by {})", self.shown)
        } else {
            message
        };
        let mut error = Error::new(code, message)
            .with_leg(leg)
            .with_oauth_error(text("oauth_error"))
            .with_ids(text("trace_id"), text("correlation_id"))
            .with_aadsts_codes(
                fields["aadsts_codes"]
                    .as_array()
                    .map(|codes| {
                        codes
                            .iter()
                            .filter_map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                            .collect()
                    })
                    .unwrap_or_default(),
            );
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
        if top {
            if let Some(causes) = fields["causes"].as_array() {
                error = error.with_causes(causes.iter().map(|c| self.rebuild(c, false)).collect());
            }
        }
        error
    }
}

/// The secret in a broker's secret file (surrounding white space ignored).
fn read_secret_file(path: &Path) -> Result<Secret> {
    let shown = echo_path(path);
    let bytes =
        crate::support::bounded_file::read(path, crate::support::bounded_file::BROKER_SECRET_FILE)
            .map_err(|e| {
                Error::config(
                    ErrorCode::ConfigFileUnreadable,
                    format!("the broker's secret file {shown} (CERTLESS_BROKER_SECRET_FILE) {e}"),
                )
                .with_remedy(
                    "`certless serve` writes this file when it starts: start the broker, or point \
             CERTLESS_BROKER_SECRET_FILE at the file it names (--secret-file), and give this \
             account read access (its group, --secret-group).",
                )
            })?;
    let text = String::from_utf8(bytes).ok().map(|s| s.trim().to_string());
    match text {
        Some(s) if !s.is_empty() && reqwest::header::HeaderValue::from_str(&s).is_ok() => {
            Ok(Secret::from(s))
        }
        _ => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!("the broker's secret file {shown} does not hold a secret"),
        )
        .with_remedy("Point CERTLESS_BROKER_SECRET_FILE at the file `certless serve` writes.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_loopback_urls_or_sockets() {
        assert_eq!(
            BrokerAddress::parse("http://127.0.0.1:8765", "X").unwrap(),
            BrokerAddress::Http("http://127.0.0.1:8765/msi/token".into())
        );
        assert_eq!(
            BrokerAddress::parse("http://localhost:1/custom", "X").unwrap(),
            BrokerAddress::Http("http://localhost:1/custom".into())
        );
        assert!(BrokerAddress::parse("http://[::1]:1", "X").is_ok());
        for bad in [
            "http://10.0.0.4:8765",
            "https://127.0.0.1:1",
            "127.0.0.1:8765",
            "unix:relative/path",
            "http://127.0.0.1:1/?x=1",
        ] {
            let e = BrokerAddress::parse(bad, "CERTLESS_BROKER").unwrap_err();
            assert!(e.to_string().contains("CERTLESS_BROKER"), "{e}");
        }
        if cfg!(unix) {
            assert_eq!(
                BrokerAddress::parse("unix:/run/certless/certless.sock", "X").unwrap(),
                BrokerAddress::Unix("/run/certless/certless.sock".into())
            );
        }
    }

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
        let client = BrokerClient::new(
            BrokerSettings {
                address: BrokerAddress::Http("http://127.0.0.1:1/msi/token".into()),
                secret: BrokerSecret::None,
                fallback: false,
                setting: "CERTLESS_BROKER",
            },
            None,
            Duration::from_secs(10),
        );
        let rebuilt = client.rebuild(&json["certless"], true);
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
}
