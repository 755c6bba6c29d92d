//! Building the HTTP clients of a credential: the managed-identity client (never through a
//! proxy, optionally pinned), the Entra client (proxies and extra CA files) and the broker
//! client, rebuilt in a child process after `fork()`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::pinned::PinnedServerCertificate;
use super::proxy::ProxySettings;
use super::response::{MAX_HEADER_LIST_BYTES, MAX_RESPONSE_HEADERS, Response};
use super::send::send;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;

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

fn base_builder(timeouts: Timeouts) -> reqwest::ClientBuilder {
    crate::support::tls::ensure_crypto_provider();
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
fn managed_identity_client(
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

/// The client for Entra: system trust store plus any extra CA files (corporate inspection
/// proxies, the emulator's CA), proxies from the environment.
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
