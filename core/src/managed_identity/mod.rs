//! Managed-identity sources: which one this host has (a pure function of the environment, in
//! MSAL.NET's order, PROTOCOL.md §2), how each is asked for a token, and what its answers mean.
//! One file per source.

mod app_service;
pub(crate) mod assertion;
pub(crate) mod azure_arc;
mod azure_ml;
mod cloud_shell;
pub mod expiry;
mod imds;
pub(crate) mod response;
mod service_fabric;
mod variables;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::echo::echo;
use crate::env::{Environment, vars};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, Response};
use crate::secret::Secret;

pub use response::ManagedIdentityToken;
pub(crate) use service_fabric::PinnedServerCertificate;

/// Which managed identity to ask for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ManagedIdentityId {
    /// The host's system-assigned identity (or the only user-assigned one, on IMDS).
    SystemAssigned,
    /// A user-assigned identity by its client (application) id.
    ClientId(String),
    /// A user-assigned identity by its object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its ARM resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    pub fn is_user_assigned(&self) -> bool {
        !matches!(self, ManagedIdentityId::SystemAssigned)
    }
}

impl fmt::Display for ManagedIdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentityId::SystemAssigned => f.write_str("system-assigned"),
            // Configuration values, shown in errors.
            ManagedIdentityId::ClientId(id) => write!(f, "user-assigned (client id {})", echo(id)),
            ManagedIdentityId::ObjectId(id) => write!(f, "user-assigned (object id {})", echo(id)),
            ManagedIdentityId::ResourceId(id) => {
                write!(f, "user-assigned (resource id {})", echo(id))
            }
        }
    }
}

/// Where a host's managed-identity tokens come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// Azure Instance Metadata Service (VMs, VM scale sets, AKS nodes).
    Imds,
    /// App Service, Functions, Container Apps.
    AppService,
    ServiceFabric,
    AzureArc,
    CloudShell,
    AzureMl,
}

impl ManagedIdentitySource {
    pub const ALL: [ManagedIdentitySource; 6] = [
        ManagedIdentitySource::Imds,
        ManagedIdentitySource::AppService,
        ManagedIdentitySource::ServiceFabric,
        ManagedIdentitySource::AzureArc,
        ManagedIdentitySource::CloudShell,
        ManagedIdentitySource::AzureMl,
    ];

    /// Stable machine name (also what `CERTLESS_MANAGED_IDENTITY_SOURCE` takes).
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedIdentitySource::Imds => "imds",
            ManagedIdentitySource::AppService => "app_service",
            ManagedIdentitySource::ServiceFabric => "service_fabric",
            ManagedIdentitySource::AzureArc => "azure_arc",
            ManagedIdentitySource::CloudShell => "cloud_shell",
            ManagedIdentitySource::AzureMl => "azure_ml",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ManagedIdentitySource::Imds => "IMDS",
            ManagedIdentitySource::AppService => "App Service",
            ManagedIdentitySource::ServiceFabric => "Service Fabric",
            ManagedIdentitySource::AzureArc => "Azure Arc",
            ManagedIdentitySource::CloudShell => "Cloud Shell",
            ManagedIdentitySource::AzureMl => "Azure ML",
        }
    }

    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_setting(value, "managed-identity source")
    }

    /// [`parse`](Self::parse) of the value of `setting` (a variable's name), named in the error.
    pub(crate) fn parse_setting(value: &str, setting: &str) -> Result<Self> {
        let norm: String = value
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        ManagedIdentitySource::ALL
            .into_iter()
            .find(|s| s.as_str().replace('_', "") == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = ManagedIdentitySource::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!(
                        "{setting} '{}' is not a managed-identity source",
                        echo(value)
                    ),
                )
                .with_remedy(format!("Use one of: {}.", names.join(", ")))
            })
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The source a host has, and why certless thinks so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSelection {
    pub source: ManagedIdentitySource,
    /// Which settings decided it, for logs and `certless doctor`.
    pub reason: String,
}

const ARC_AGENT_LINUX: &str = "/opt/azcmagent/bin/himds";

fn arc_agent_path(env: &dyn Environment) -> Option<std::path::PathBuf> {
    if cfg!(windows) {
        let program_files = env
            .var("ProgramFiles")
            .unwrap_or_else(|| r"C:\Program Files".to_string());
        Some(
            Path::new(&program_files)
                .join("AzureConnectedMachineAgent")
                .join("himds.exe"),
        )
    } else {
        Some(Path::new(ARC_AGENT_LINUX).to_path_buf())
    }
}

/// Picks the managed-identity source from the environment, in MSAL.NET's order
/// (PROTOCOL.md §2), unless one is forced (argument, then `CERTLESS_MANAGED_IDENTITY_SOURCE`).
pub fn select_source(
    env: &dyn Environment,
    forced: Option<ManagedIdentitySource>,
) -> Result<SourceSelection> {
    if let Some(source) = forced {
        return Ok(SourceSelection {
            source,
            reason: "set explicitly in the configuration".into(),
        });
    }
    if let Some(value) = env.var(vars::MI_SOURCE) {
        let source = ManagedIdentitySource::parse_setting(&value, vars::MI_SOURCE)?;
        return Ok(SourceSelection {
            source,
            reason: format!("{}={}", vars::MI_SOURCE, echo(&value)),
        });
    }
    let has = |name: &str| env.var(name).is_some();
    let pick = |source, reason: &str| {
        Ok(SourceSelection {
            source,
            reason: reason.to_string(),
        })
    };
    if has(vars::IDENTITY_ENDPOINT) && has(vars::IDENTITY_HEADER) {
        if has(vars::IDENTITY_SERVER_THUMBPRINT) {
            return pick(
                ManagedIdentitySource::ServiceFabric,
                "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set",
            );
        }
        return pick(
            ManagedIdentitySource::AppService,
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set",
        );
    }
    if has(vars::MSI_ENDPOINT) {
        if has(vars::MSI_SECRET) {
            return pick(
                ManagedIdentitySource::AzureMl,
                "MSI_ENDPOINT and MSI_SECRET are set",
            );
        }
        return pick(
            ManagedIdentitySource::CloudShell,
            "MSI_ENDPOINT is set (without MSI_SECRET)",
        );
    }
    if has(vars::IDENTITY_ENDPOINT) && has(vars::IMDS_ENDPOINT) {
        return pick(
            ManagedIdentitySource::AzureArc,
            "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set",
        );
    }
    if let Some(agent) = arc_agent_path(env).filter(|p| env.file_exists(p)) {
        return Ok(SourceSelection {
            source: ManagedIdentitySource::AzureArc,
            reason: format!("the Azure Arc agent is installed ({})", agent.display()),
        });
    }
    if has(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST) {
        return pick(
            ManagedIdentitySource::Imds,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST is set",
        );
    }
    pick(
        ManagedIdentitySource::Imds,
        "no other managed-identity environment found: the default, IMDS at 169.254.169.254",
    )
}

/// Asks one managed-identity endpoint for tokens.
pub(crate) struct ManagedIdentityClient {
    selection: SourceSelection,
    endpoint: String,
    secret: Option<Secret>,
    /// Azure ML names even the compute's own identity by client id.
    client_id_param: Option<String>,
    /// Azure Arc's fixed key-file directory.
    arc_key_directory: Option<std::path::PathBuf>,
    /// Service Fabric's pinned server certificate.
    pin: Option<Arc<PinnedServerCertificate>>,
    id: ManagedIdentityId,
}

impl fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("source", &self.selection.source)
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityClient {
    pub fn new(
        selection: SourceSelection,
        env: &dyn Environment,
        id: ManagedIdentityId,
    ) -> Result<Self> {
        let mut client_id_param = None;
        let mut arc_key_directory = None;
        let mut pin = None;
        let (endpoint, secret) = match selection.source {
            ManagedIdentitySource::Imds => (imds::endpoint(env)?, None),
            ManagedIdentitySource::AppService => {
                let (endpoint, secret) = app_service::endpoint(env)?;
                (endpoint, Some(secret))
            }
            ManagedIdentitySource::CloudShell => (cloud_shell::endpoint(env, &id)?, None),
            ManagedIdentitySource::AzureArc => {
                arc_key_directory = Some(azure_arc::key_directory(env));
                (azure_arc::endpoint(env)?, None)
            }
            ManagedIdentitySource::AzureMl => {
                let (endpoint, secret, client_id) = azure_ml::endpoint(env, &id)?;
                client_id_param = client_id;
                (endpoint, Some(secret))
            }
            ManagedIdentitySource::ServiceFabric => {
                let settings = service_fabric::settings(env, &id)?;
                pin = Some(settings.pin);
                (settings.endpoint, Some(settings.secret))
            }
        };
        Ok(ManagedIdentityClient {
            selection,
            endpoint,
            secret,
            client_id_param,
            arc_key_directory,
            pin,
            id,
        })
    }

    pub fn selection(&self) -> &SourceSelection {
        &self.selection
    }

    pub fn id(&self) -> &ManagedIdentityId {
        &self.id
    }

    /// The server certificate the endpoint must present, when it is pinned (Service Fabric).
    pub fn pinned_certificate(&self) -> Option<&Arc<PinnedServerCertificate>> {
        self.pin.as_ref()
    }

    /// One token for `resource` (an audience such as `api://AzureADTokenExchange`, without
    /// `/.default`). `now` is Unix seconds, to anchor relative expiry values.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: &str,
        now: i64,
    ) -> Result<ManagedIdentityToken> {
        let source = self.selection.source;
        let request = match source {
            ManagedIdentitySource::Imds => imds::request(http, &self.endpoint, resource, &self.id),
            ManagedIdentitySource::AppService => {
                let secret = self
                    .secret
                    .as_ref()
                    .ok_or_else(|| Error::internal("App Service source without its secret"))?;
                app_service::request(http, &self.endpoint, resource, &self.id, secret)
            }
            ManagedIdentitySource::CloudShell => {
                cloud_shell::request(http, &self.endpoint, resource)
            }
            ManagedIdentitySource::AzureMl => {
                let secret = self
                    .secret
                    .as_ref()
                    .ok_or_else(|| Error::internal("Azure ML source without its secret"))?;
                azure_ml::request(
                    http,
                    &self.endpoint,
                    resource,
                    self.client_id_param.as_deref(),
                    secret,
                )
            }
            ManagedIdentitySource::AzureArc => {
                azure_arc::request(http, &self.endpoint, resource, &self.id, None)
            }
            ManagedIdentitySource::ServiceFabric => {
                let secret = self
                    .secret
                    .as_ref()
                    .ok_or_else(|| Error::internal("Service Fabric source without its secret"))?;
                service_fabric::request(http, &self.endpoint, resource, secret)
            }
        };
        let target = format!("{source} endpoint {}", self.endpoint);
        log::debug!(
            "certless: requesting a managed-identity token from {target} for {resource} ({})",
            self.id
        );
        let unreachable = |e: Error| {
            let remedy = match source {
                ManagedIdentitySource::Imds => imds::UNREACHABLE_REMEDY,
                ManagedIdentitySource::CloudShell => cloud_shell::UNREACHABLE_REMEDY,
                ManagedIdentitySource::AzureMl => azure_ml::UNREACHABLE_REMEDY,
                ManagedIdentitySource::AzureArc => azure_arc::UNREACHABLE_REMEDY,
                ManagedIdentitySource::ServiceFabric => service_fabric::UNREACHABLE_REMEDY,
                ManagedIdentitySource::AppService => app_service::UNREACHABLE_REMEDY,
            };
            let e = match &self.pin {
                Some(pin) => service_fabric::refused_certificate(e, pin),
                None => e,
            };
            // Nothing at IMDS's address accepts connections: this host has no managed identity
            // (not an Azure VM). Waiting will not change that, and a chain of credentials should
            // move on to its next one.
            let e = if source == ManagedIdentitySource::Imds && e.in_connect() {
                e.with_unavailable().with_permanent()
            } else {
                e
            };
            if e.remedy().is_none() {
                e.with_remedy(remedy)
            } else {
                e
            }
        };
        let mut response = http::send(request, Leg::ManagedIdentity, &target)
            .await
            .map_err(unreachable)?;
        if source == ManagedIdentitySource::AzureArc && response.status == 401 {
            let directory = self
                .arc_key_directory
                .as_deref()
                .ok_or_else(|| Error::internal("Azure Arc source without its key directory"))?;
            let key = azure_arc::key_from_challenge(&response, directory)?;
            let answer = azure_arc::request(http, &self.endpoint, resource, &self.id, Some(&key));
            response = http::send(answer, Leg::ManagedIdentity, &target)
                .await
                .map_err(unreachable)?;
            if response.status == 200 {
                azure_arc::check_identity(&response.body, &self.id)?;
            }
        }
        if response.status != 200 {
            return Err(self.error_for(&response, &target));
        }
        let token =
            response::parse_token(&response.body, now, &target).map_err(
                |e| match proxy_evidence(&response) {
                    Some(evidence) => proxy_error(e, &evidence),
                    None => e,
                },
            )?;
        log::debug!(
            "certless: managed-identity token from {target} expires at {}",
            token.expires_on
        );
        Ok(token)
    }

    pub(crate) fn error_for(&self, response: &Response, target: &str) -> Error {
        let details = response::ErrorDetails::parse(&response.body);
        let remedy = match self.selection.source {
            ManagedIdentitySource::Imds => imds::remedy(response.status, &details, &self.id),
            ManagedIdentitySource::CloudShell => cloud_shell::remedy(response.status, &details),
            ManagedIdentitySource::AzureArc => azure_arc::remedy(response.status, &details),
            ManagedIdentitySource::AzureMl => azure_ml::remedy(response.status, &details, &self.id),
            ManagedIdentitySource::ServiceFabric => {
                service_fabric::remedy(response.status, &details)
            }
            ManagedIdentitySource::AppService => {
                app_service::remedy(response.status, &details, &self.id)
            }
        };
        let mut message = format!("{target} answered HTTP {}", response.status);
        if let Some(text) = details.summary() {
            message.push_str(": ");
            message.push_str(&text);
        }
        let mut error = Error::new(ErrorCode::ManagedIdentityRejected, message)
            .with_leg(Leg::ManagedIdentity)
            .with_http_status(response.status)
            .with_oauth_error(details.error.clone())
            .with_ids(
                None,
                details.correlation_id.clone().or_else(|| {
                    response
                        .header("x-ms-request-id")
                        .map(crate::secret::scrub_server_text)
                }),
            )
            .with_retry_after(response.retry_after());
        if let Some(r) = remedy {
            error = error.with_remedy(r);
        }
        if self.selection.source == ManagedIdentitySource::ServiceFabric
            && !service_fabric::is_transient(response.status)
        {
            error = error.with_permanent();
        }
        if imds::is_docker_desktop(self.selection.source, response.status, &details) {
            error = error.with_unavailable().with_permanent();
        }
        match proxy_evidence(response) {
            Some(evidence) => proxy_error(error, &evidence),
            None => error,
        }
    }
}

/// Signs that an HTTP proxy, not the managed-identity endpoint, answered: certless never sends
/// these requests through a proxy, so one that answers is intercepting the link-local or
/// loopback address (PROTOCOL.md §3).
fn proxy_evidence(response: &Response) -> Option<String> {
    if response.status == 407 {
        return Some("HTTP 407 Proxy Authentication Required".to_string());
    }
    for name in ["via", "proxy-agent", "x-squid-error", "x-cache"] {
        if let Some(value) = response.header(name) {
            return Some(format!(
                "the answer carries '{name}: {}'",
                crate::secret::scrub_server_text(value)
            ));
        }
    }
    let html = response
        .header("content-type")
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    html.then(|| "the answer is an HTML page".to_string())
}

pub(crate) const PROXY_REMEDY: &str = "A proxy intercepts requests to the managed-identity endpoint: exempt 169.254.169.254 (and localhost) from the proxy — NO_PROXY for explicit proxies, the bypass list of a transparent one; IMDS must never be reached through a proxy.";

fn proxy_error(error: Error, evidence: &str) -> Error {
    let message = format!(
        "{} — a proxy seems to have answered instead of the endpoint ({evidence})",
        error.message()
    );
    let mut proxied = Error::new(error.code(), message)
        .with_leg(Leg::ManagedIdentity)
        .with_oauth_error(error.oauth_error().map(str::to_string))
        .with_remedy(PROXY_REMEDY);
    if let Some(status) = error.http_status() {
        proxied = proxied.with_http_status(status);
    }
    proxied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    fn select(env: MapEnv) -> ManagedIdentitySource {
        select_source(&env, None).unwrap().source
    }

    #[test]
    fn selection_follows_msal_order() {
        assert_eq!(select(MapEnv::new()), ManagedIdentitySource::Imds);
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "http://x")
                    .with_var("IDENTITY_HEADER", "h")
            ),
            ManagedIdentitySource::AppService
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "https://x")
                    .with_var("IDENTITY_HEADER", "h")
                    .with_var("IDENTITY_SERVER_THUMBPRINT", "ab")
            ),
            ManagedIdentitySource::ServiceFabric
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("MSI_ENDPOINT", "http://x")
                    .with_var("MSI_SECRET", "s")
            ),
            ManagedIdentitySource::AzureMl
        );
        assert_eq!(
            select(MapEnv::new().with_var("MSI_ENDPOINT", "http://x")),
            ManagedIdentitySource::CloudShell
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "http://x")
                    .with_var("IMDS_ENDPOINT", "http://y")
            ),
            ManagedIdentitySource::AzureArc
        );
        if !cfg!(windows) {
            assert_eq!(
                select(MapEnv::new().with_file(ARC_AGENT_LINUX)),
                ManagedIdentitySource::AzureArc
            );
        }
        // IDENTITY_ENDPOINT alone is not App Service.
        assert_eq!(
            select(MapEnv::new().with_var("IDENTITY_ENDPOINT", "http://x")),
            ManagedIdentitySource::Imds
        );
    }

    /// Found by fuzzing (`entra_error`; the same code path here): a request id header went into
    /// the error as sent, token and all, where the body's text is scrubbed.
    #[test]
    fn header_ids_are_scrubbed_like_the_body() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let selection = select_source(&MapEnv::new(), None).unwrap();
        let client = ManagedIdentityClient::new(
            selection,
            &MapEnv::new(),
            ManagedIdentityId::SystemAssigned,
        )
        .unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-ms-request-id",
            format!("5d3a2c1b echo {token}").parse().unwrap(),
        );
        let response = Response {
            status: 500,
            headers,
            body: Vec::new(),
        };
        let e = client.error_for(&response, "IMDS endpoint x");
        assert!(!e.to_string().contains(token), "{e}");
        assert!(e.correlation_id().unwrap().starts_with("5d3a2c1b"), "{e}");
    }

    #[test]
    fn selection_can_be_forced_and_says_why() {
        let env = MapEnv::new()
            .with_var("IDENTITY_ENDPOINT", "http://x")
            .with_var("IDENTITY_HEADER", "h")
            .with_var(vars::MI_SOURCE, "IMDS");
        let s = select_source(&env, None).unwrap();
        assert_eq!(s.source, ManagedIdentitySource::Imds);
        assert!(s.reason.contains("CERTLESS_MANAGED_IDENTITY_SOURCE"));
        assert_eq!(
            select_source(&env, Some(ManagedIdentitySource::AppService))
                .unwrap()
                .source,
            ManagedIdentitySource::AppService
        );
        let bad = select_source(&MapEnv::new().with_var(vars::MI_SOURCE, "vm"), None).unwrap_err();
        assert_eq!(bad.code(), ErrorCode::InvalidConfig);
        assert!(bad.to_string().contains("app_service"), "{bad}");
    }
}
