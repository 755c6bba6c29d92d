//! HTTP plumbing shared by both legs: the two clients (managed-identity endpoints never go
//! through a proxy; Entra honours HTTPS_PROXY/NO_PROXY), bounded response bodies, and transport
//! failures turned into errors that name the leg.

pub mod stats;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use reqwest::header::HeaderMap;

mod pinned;
pub(crate) use pinned::{PinnedServerCertificate, Thumbprint};

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;

/// Responses larger than this are hostile or broken; a token response is a few KB.
const MAX_BODY: usize = 256 * 1024;
const MAX_BODY_SHOWN: &str = "256 KiB";

/// Time limits for one HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// One whole request, from sending to the last byte of the response.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

/// rustls needs a process-wide crypto provider for reqwest's verifier. certless builds with
/// ring (it cross-compiles to every Windows target); if the host installed another provider
/// first, that one is used.
fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How many header fields a response may carry. hyper's default, 100, is less than what a
/// cookie-setting gateway or a TLS-inspecting proxy sends in front of a healthy endpoint
/// (docs/protocol.md §3); past this, the answer is refused as one that is too large.
pub(crate) const MAX_RESPONSE_HEADERS: usize = 1000;

/// The same bound for HTTP/2, in bytes of header list (hyper's default is 16 KiB).
const MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;

fn base_builder(timeouts: Timeouts) -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .http1_max_headers(MAX_RESPONSE_HEADERS)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        // A redirect could carry a form with an assertion or secret to another host.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("certless/", env!("CARGO_PKG_VERSION")))
}

/// The client for managed-identity endpoints: link-local or loopback, never through a proxy
/// (docs/protocol.md §3). With a pinned certificate (Service Fabric), that certificate is the only
/// one trusted.
pub(crate) fn managed_identity_client(
    timeouts: Timeouts,
    pin: Option<&Arc<PinnedServerCertificate>>,
) -> Result<reqwest::Client> {
    let mut builder = base_builder(timeouts).no_proxy();
    if let Some(pin) = pin {
        builder = builder.tls_backend_preconfigured(pin.client_config()?);
    }
    builder.build().map_err(|e| {
        Error::internal(format!(
            "could not build the HTTP client for the managed-identity endpoint: {}",
            with_causes(&e)
        ))
    })
}

/// The client for a certless broker: loopback or a Unix domain socket, never through a proxy.
pub(crate) fn broker_client(
    timeouts: Timeouts,
    unix_socket: Option<&std::path::Path>,
) -> Result<reqwest::Client> {
    let builder = base_builder(timeouts).no_proxy();
    #[cfg(unix)]
    let builder = match unix_socket {
        Some(path) => builder.unix_socket(path),
        None => builder,
    };
    #[cfg(not(unix))]
    if unix_socket.is_some() {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            "a Unix domain socket broker needs a Unix platform",
        ));
    }
    builder.build().map_err(|e| {
        Error::internal(format!(
            "could not build the HTTP client for the certless broker: {e}"
        ))
    })
}

/// The client for Entra: system trust store plus any extra CA files (corporate inspection
/// proxies, the emulator's CA), proxies from the environment.
/// Proxy settings for Entra, read from the credential's environment (so that they are the
/// same, and as testable, as every other setting): `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`, lower case first as curl does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProxySettings {
    https: Option<ProxyVariable>,
    http: Option<ProxyVariable>,
    all: Option<ProxyVariable>,
    no_proxy: Option<String>,
}

/// A proxy URL and the name of the variable it came from, as the user spelled it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProxyVariable {
    name: &'static str,
    url: String,
}

impl ProxySettings {
    pub(crate) fn from_env(env: &dyn crate::support::env::Environment) -> Self {
        let var = |lower: &'static str, upper: &'static str| {
            [lower, upper]
                .into_iter()
                .find_map(|name| env.var(name).map(|url| ProxyVariable { name, url }))
        };
        ProxySettings {
            https: var("https_proxy", "HTTPS_PROXY"),
            http: var("http_proxy", "HTTP_PROXY"),
            all: var("all_proxy", "ALL_PROXY"),
            no_proxy: env.var("no_proxy").or_else(|| env.var("NO_PROXY")),
        }
    }

    /// The proxy a request to `url` goes through, by the same rules reqwest applies (the first
    /// of HTTPS_PROXY/HTTP_PROXY, ALL_PROXY that covers the scheme, unless NO_PROXY exempts the
    /// host).
    pub(crate) fn route(&self, url: &reqwest::Url) -> Option<ProxyRoute> {
        use hyper_util::client::proxy::matcher::Matcher;
        let destination: ::http::Uri = url.as_str().parse().ok()?;
        let no_proxy = self.no_proxy.as_deref().unwrap_or_default();
        let entries = [(&self.https, 0), (&self.http, 1), (&self.all, 2)];
        entries.into_iter().find_map(|(variable, kind)| {
            let ProxyVariable { name, url } = variable.as_ref()?;
            let matcher = match kind {
                0 => Matcher::builder().https(url.as_str()),
                1 => Matcher::builder().http(url.as_str()),
                _ => Matcher::builder().all(url.as_str()),
            };
            let proxy = matcher.no(no_proxy).build().intercept(&destination)?;
            let uri = proxy.uri();
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                Some(s) if s.starts_with("socks") => 1080,
                _ => 80,
            });
            Some(ProxyRoute {
                variable: name,
                // Rebuilt from host and port: the credentials in the variable stay out.
                address: format!("{}:{port}", uri.host()?),
            })
        })
    }

    fn apply(&self, mut builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        // Never the process environment behind our back: exactly these settings.
        builder = builder.no_proxy();
        let no_proxy = self
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        let entries = [(&self.https, 0), (&self.http, 1), (&self.all, 2)];
        for (variable, kind) in entries {
            let Some(ProxyVariable { name, url }) = variable else {
                continue;
            };
            let proxy = match kind {
                0 => reqwest::Proxy::https(url.as_str()),
                1 => reqwest::Proxy::http(url.as_str()),
                _ => reqwest::Proxy::all(url.as_str()),
            }
            .map_err(|_| {
                // The value may hold proxy credentials: it is not repeated.
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!("{name} is not a proxy URL"),
                )
                .with_remedy(format!("Set {name} to http://host:port (or unset it)."))
            })?;
            builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
        }
        Ok(builder)
    }
}

/// The proxy a request goes through, as errors name it: `host:port` and the variable that set it,
/// never the credentials the variable may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProxyRoute {
    pub variable: &'static str,
    pub address: String,
}

impl ProxyRoute {
    /// `error`, a failure to connect through this proxy, saying so and how to fix it.
    fn explain(&self, error: Error, host: &str) -> Error {
        let ProxyRoute { variable, address } = self;
        let (what, fix) = if error.connect_failed() {
            (
                format!("the proxy {address} (set by {variable}) refused the connection"),
                format!("Start the proxy, or correct {variable} (it names {address}); "),
            )
        } else {
            (
                format!("the connection went through the proxy {address} (set by {variable})"),
                format!(
                    "Check that the proxy {address} ({variable}) lets connections to {host} \
                        through; "
                ),
            )
        };
        let remedy = format!(
            "{fix}if {host} is reachable without a proxy, add it to NO_PROXY or unset {variable}."
        );
        error
            .with_message_suffix(&format!(": {what}"))
            .with_remedy(remedy)
    }
}

/// The extra CA certificates of `ca_files`, checked now so that a mistake is reported when the
/// credential is built, not on its first request.
fn load_ca_files(ca_files: &[PathBuf]) -> Result<Vec<reqwest::Certificate>> {
    let mut extra = Vec::new();
    for path in ca_files {
        let shown = echo_path(path);
        let pem = bounded_file::read(path, bounded_file::CA_FILE).map_err(|e| {
            Error::config(ErrorCode::InvalidConfig, format!("the CA file {shown} {e}")).with_remedy(
                concat!(
                    "Point CERTLESS_CA_FILE / SSL_CERT_FILE (or the ca_file setting) at a ",
                    "readable PEM file of CA certificates, or unset it."
                ),
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!("the CA file {shown} is not PEM certificates: {e}"),
            )
        })?;
        if certs.is_empty() {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!("the CA file {shown} holds no certificate"),
            ));
        }
        extra.extend(certs);
    }
    Ok(extra)
}

fn entra_client(
    timeouts: Timeouts,
    extra_roots: &[reqwest::Certificate],
    ca_files: &[PathBuf],
    proxies: &ProxySettings,
) -> Result<reqwest::Client> {
    proxies
        .apply(base_builder(timeouts))?
        .tls_certs_merge(extra_roots.iter().cloned())
        .build()
        .map_err(|e| {
            let causes = with_causes(&e);
            if ca_files.is_empty() {
                return Error::internal(format!(
                    "could not build the HTTP client for Entra: {causes}"
                ));
            }
            // The extra CA certificates are what the verifier refused: PEM that parses, holding
            // a certificate it cannot use (damaged base64, a truncated bundle).
            let files = ca_files
                .iter()
                .map(|f| echo_path(f))
                .collect::<Vec<_>>()
                .join(", ");
            Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "the CA file {files} cannot be used to check Entra's certificate: {causes}"
                ),
            )
            .with_remedy(concat!(
                "Check that each certificate in it is intact (openssl storeutl -noout -certs ",
                "<file> lists them), or unset CERTLESS_CA_FILE / SSL_CERT_FILE (or the ca_file ",
                "setting): certless trusts the system's certificate store without one."
            ))
        })
}

pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds, at most an hour: delay-seconds, or an HTTP date measured from
    /// the response's own `Date` (so that this machine's clock skew does not matter) or, without
    /// one, from now.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        let value = self.header("retry-after")?.trim();
        let seconds = match value.parse::<u64>() {
            Ok(s) => s,
            Err(_) => {
                let at = crate::support::clock::parse_http_date(value)?;
                let base = self
                    .header("date")
                    .and_then(crate::support::clock::parse_http_date)
                    .unwrap_or_else(|| {
                        crate::support::clock::unix_seconds(std::time::SystemTime::now())
                    });
                u64::try_from(at - base).unwrap_or(0)
            }
        };
        Some(seconds.min(3600))
    }
}

/// The two HTTP clients of a credential, rebuilt in a child process after `fork()`: pooled
/// connections belong to the parent's runtime, whose threads do not exist in the child.
pub(crate) struct HttpClients {
    timeouts: Timeouts,
    extra_roots: Vec<reqwest::Certificate>,
    /// Where `extra_roots` came from, for errors.
    ca_files: Vec<PathBuf>,
    proxies: Arc<ProxySettings>,
    pin: Option<Arc<PinnedServerCertificate>>,
    /// Built on first use (loading the system trust store takes a while), and again in a
    /// child process after `fork()`.
    current: std::sync::Mutex<Option<(u32, Clients)>>,
}

impl fmt::Debug for HttpClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClients")
            .field("timeouts", &self.timeouts)
            .field("extra_roots", &self.extra_roots.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Clients {
    pub managed_identity: reqwest::Client,
    pub entra: EntraClient,
}

/// The client for Entra, which knows the proxies it goes through so that a failure to connect
/// through one can name it.
#[derive(Clone, Debug)]
pub(crate) struct EntraClient {
    client: reqwest::Client,
    proxies: Arc<ProxySettings>,
}

impl std::ops::Deref for EntraClient {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

impl EntraClient {
    /// [`send`] on the Entra leg, naming the proxy when the connection through it failed.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        target: &str,
    ) -> Result<Response> {
        self.send_on(request, Leg::Exchange, target).await
    }

    /// [`send`] through Entra's client (its proxies and CA files) for another remote service of
    /// `leg` (Key Vault).
    pub(crate) async fn send_on(
        &self,
        request: reqwest::RequestBuilder,
        leg: Leg,
        target: &str,
    ) -> Result<Response> {
        let (client, request) = request.build_split();
        let request = request.map_err(|e| {
            Error::internal(format!("the request to {target} could not be built ({e})"))
        })?;
        let route = self.proxies.route(request.url());
        let host = request.url().host_str().unwrap_or_default().to_string();
        let builder = reqwest::RequestBuilder::from_parts(client, request);
        send(builder, leg, target).await.map_err(|e| match &route {
            Some(route) if e.in_connect() => route.explain(e, &host),
            _ => e,
        })
    }
}

impl HttpClients {
    /// Checks the CA files and proxy settings now; builds the clients on first use. `pin` is the
    /// managed-identity endpoint's pinned certificate, when it has one.
    pub(crate) fn new(
        timeouts: Timeouts,
        ca_files: Vec<PathBuf>,
        proxies: ProxySettings,
        pin: Option<Arc<PinnedServerCertificate>>,
    ) -> Result<Self> {
        let extra_roots = load_ca_files(&ca_files)?;
        proxies.apply(reqwest::Client::builder()).map(drop)?;
        let clients = HttpClients {
            timeouts,
            extra_roots,
            ca_files,
            proxies: Arc::new(proxies),
            pin,
            current: std::sync::Mutex::new(None),
        };
        if !clients.extra_roots.is_empty() {
            // Whether the verifier takes the extra CA certificates shows only when a client is
            // built: build (and keep) the clients now, so that a bad CA file fails the build.
            clients.get()?;
        }
        Ok(clients)
    }

    pub(crate) fn get(&self) -> Result<Clients> {
        let pid = std::process::id();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some((owner, clients)) if *owner == pid => Ok(clients.clone()),
            _ => {
                let clients = Clients {
                    managed_identity: managed_identity_client(self.timeouts, self.pin.as_ref())?,
                    entra: EntraClient {
                        client: entra_client(
                            self.timeouts,
                            &self.extra_roots,
                            &self.ca_files,
                            &self.proxies,
                        )?,
                        proxies: Arc::clone(&self.proxies),
                    },
                };
                *current = Some((pid, clients.clone()));
                Ok(clients)
            }
        }
    }
}

/// Sends a request and reads a bounded body. Transport failures become `*Unreachable` /
/// `*Timeout` errors of `leg` whose message says where we tried to go.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    leg: Leg,
    target: &str,
) -> Result<Response> {
    let (unreachable, timeout, invalid) = match leg {
        Leg::ManagedIdentity => (
            ErrorCode::ManagedIdentityUnreachable,
            ErrorCode::ManagedIdentityTimeout,
            ErrorCode::ManagedIdentityInvalidResponse,
        ),
        Leg::KeyVault => (
            ErrorCode::KeyVaultUnreachable,
            ErrorCode::KeyVaultUnreachable,
            ErrorCode::KeyVaultInvalidResponse,
        ),
        _ => (
            ErrorCode::ExchangeUnreachable,
            ErrorCode::ExchangeTimeout,
            ErrorCode::ExchangeInvalidResponse,
        ),
    };
    let transport = |e: reqwest::Error| {
        if refused(&e) == Some(Refused::NoCloseNotify) {
            return Error::new(
                invalid,
                format!(
                    "{target} closed the TLS connection without close_notify before its answer \
                    was known to be complete, so the answer was refused (it could have been cut \
                    short)"
                ),
            )
            .with_leg(leg)
            .with_remedy(
                "The endpoint was reached: what answers there (often a TLS-terminating proxy or \
                load balancer sending HTTP/1.0 answers without Content-Length) ends connections \
                uncleanly. Have it send Content-Length (or chunked answers) and close TLS with \
                close_notify, or bypass it (NO_PROXY).",
            );
        }
        if refused(&e) == Some(Refused::HeadTooLarge) {
            return Error::new(
                invalid,
                format!(
                    "{target} sent a response whose head is too large (more than \
                    {MAX_RESPONSE_HEADERS} header fields, or headers of more than \
                    {MAX_HEADER_LIST_BYTES} bytes)"
                ),
            )
            .with_leg(leg)
            .with_remedy(
                "Something between certless and the endpoint (a gateway, a proxy) adds headers \
                without bound: check what answers at that address and what it adds.",
            );
        }
        let (code, what) = if e.is_timeout() {
            (timeout, "did not answer in time")
        } else if e.is_connect() {
            (unreachable, "could not be reached")
        } else {
            (unreachable, "dropped the connection")
        };
        let error = Error::new(
            code,
            format!("{target} {what} ({})", describe_transport_error(&e)),
        )
        .with_leg(leg);
        match (e.is_connect(), e.is_timeout()) {
            (true, false) => error.with_connect_failed().with_in_connect(),
            (true, true) => error.with_in_connect(),
            _ => error,
        }
    };
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let too_large = || {
        Error::new(
            invalid,
            format!(
                "{target} sent a response too large: more than {MAX_BODY_SHOWN}, where a \
                token response is a few KB"
            ),
        )
        .with_leg(leg)
        .with_http_status(status)
        .with_remedy(
            "Something other than the endpoint answered (a proxy or captive portal?), \
            or the endpoint is broken: check what listens at that address.",
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    // A UTF-8 byte order mark is not part of the JSON that follows it (RFC 8259 lets a parser
    // ignore it, and some endpoints and proxies send one: docs/protocol.md §3): every parser
    // sees the body without it.
    if body.starts_with(UTF8_BOM) {
        body.drain(..UTF8_BOM.len());
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a transport failure was, when it was not the network: an answer refused for its shape.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// hyper refused the response because its head (status line and headers) is over the limits
    /// set in [`base_builder`]: a message that arrived whole, not a connection that broke.
    HeadTooLarge,
    /// The peer closed TLS without `close_notify`: for an answer whose end is the connection's
    /// end (HTTP/1.0 without `Content-Length`), a truncation cannot be told from the end, so
    /// rustls refuses it. The peer is reachable; it closes uncleanly.
    NoCloseNotify,
}

fn refused(e: &reqwest::Error) -> Option<Refused> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = refused_by_text(&s.to_string()) {
            return Some(r);
        }
        source = s.source();
    }
    None
}

/// hyper's `Parse(TooLarge)`, h2's refusal of an oversized header list, and rustls's
/// `UnexpectedEof` for a close without `close_notify`, as their messages say them.
fn refused_by_text(text: &str) -> Option<Refused> {
    if text.contains("message head is too large") || text.contains("header list size") {
        Some(Refused::HeadTooLarge)
    } else if text.contains("close_notify") {
        Some(Refused::NoCloseNotify)
    } else {
        None
    }
}

/// An error and each of its causes ("builder error: ...: ..."): reqwest's own text alone says
/// only which step failed.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// reqwest's own message plus its innermost cause (the useful part: "connection refused",
/// "invalid peer certificate: UnknownIssuer", ...), without the URL (it may carry a query).
fn describe_transport_error(e: &reqwest::Error) -> String {
    let mut innermost = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&'static str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Response {
            status: 429,
            headers: map,
            body: Vec::new(),
        }
    }

    #[test]
    fn answers_refused_for_their_shape_are_told_from_network_failures() {
        assert_eq!(
            refused_by_text("message head is too large"),
            Some(Refused::HeadTooLarge)
        );
        assert_eq!(
            refused_by_text(
                "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof"
            ),
            Some(Refused::NoCloseNotify)
        );
        assert_eq!(refused_by_text("connection reset by peer"), None);
        assert_eq!(refused_by_text("Connection refused (os error 111)"), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(response(&[("retry-after", "120")]).retry_after(), Some(120));
        assert_eq!(
            response(&[("retry-after", "86400")]).retry_after(),
            Some(3600)
        );
        // A date is measured from the response's own Date: skew-free.
        let dated = response(&[
            ("retry-after", "Wed, 21 Oct 2015 07:30:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(dated.retry_after(), Some(120));
        let past = response(&[
            ("retry-after", "Wed, 21 Oct 2015 07:20:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(past.retry_after(), Some(0));
        assert_eq!(response(&[("retry-after", "soon")]).retry_after(), None);
        assert_eq!(response(&[]).retry_after(), None);
    }
}
