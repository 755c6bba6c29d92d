//! How a process finds and asks the broker: [`BrokerAddress`] (`CERTLESS_BROKER`), where the
//! secret comes from ([`SecretLocation`]), and the client a [`crate::Credential`] uses instead of
//! fetching tokens itself. Requests and answers are encoded by [`super::wire`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::wire::{self, AppSelector, SECRET_HEADER, TOKEN_PATH, TokenRequest, is_loopback_host};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, Timeouts};
use crate::managed_identity::response::ErrorDetails;
use crate::support::echo::{echo, echo_path};
use crate::support::secret::Secret;
use crate::token::AccessToken;

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

/// Where a client finds the secret a TCP broker asks for (`CERTLESS_BROKER_SECRET`,
/// `CERTLESS_BROKER_SECRET_FILE`). Not the broker's own secret: that is the broker's business.
#[derive(Clone, Debug)]
pub(crate) enum SecretLocation {
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
    pub secret: SecretLocation,
    /// When the broker cannot be reached, fetch in this process (opt-in:
    /// `CERTLESS_BROKER_FALLBACK=local`).
    pub fallback: bool,
    /// The setting that named the broker, for messages.
    pub setting: &'static str,
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
            SecretLocation::Value(s) => Some(s.clone()),
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
        let SecretLocation::File(path) = &self.settings.secret else {
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
        let query = TokenRequest {
            resource: scope.strip_suffix("/.default").unwrap_or(scope),
            app: self
                .client_id
                .as_deref()
                .map_or(AppSelector::Default, AppSelector::ClientId),
            tenant_id: Some(tenant).filter(|t| !t.is_empty()),
            claims,
            token_sha256_to_refresh: None,
        }
        .query();
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
                200 => return wire::parse_token_body(&response.body, now(), &self.shown),
                401 if !reloaded && matches!(self.settings.secret, SecretLocation::File(_)) => {
                    // The broker makes a new secret each time it starts: read the file again.
                    reloaded = true;
                    self.secret(true)?;
                }
                _ => return Err(self.relayed(&response)),
            }
        }
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
            return wire::error_from_fields(fields, Some(&self.shown))
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
}
