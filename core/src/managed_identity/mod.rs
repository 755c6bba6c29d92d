//! Managed-identity sources: which one this host has (a pure function of the environment, in
//! MSAL.NET's order, docs/protocol.md §2), how each is asked for a token, and what its answers mean.
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
mod source;
mod variables;

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, PinnedServerCertificate, Response};
use crate::support::echo::echo;
use crate::support::env::{Environment, vars};

pub use response::ManagedIdentityToken;

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
    /// Whether this names a user-assigned identity.
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
    /// Service Fabric.
    ServiceFabric,
    /// Azure Arc-enabled servers.
    AzureArc,
    /// Azure Cloud Shell.
    CloudShell,
    /// Azure Machine Learning compute.
    AzureMl,
}

impl ManagedIdentitySource {
    /// Every source, in no particular order.
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

    /// How the source is named for people.
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

    /// A source from its machine name (`app_service`, `AppService`, `imds`, ...).
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
    /// The source.
    pub source: ManagedIdentitySource,
    /// Which settings decided it, for logs and `certless doctor`.
    pub reason: String,
}

/// Whether a source's environment is present, and why it is thought so.
type Detector = fn(&dyn Environment) -> Option<String>;

/// Picks the managed-identity source from the environment, in MSAL.NET's order
/// (docs/protocol.md §2), unless one is forced (argument, then `CERTLESS_MANAGED_IDENTITY_SOURCE`).
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
    // MSAL.NET's order (docs/protocol.md §2): the first source whose environment is present.
    let detectors: [(ManagedIdentitySource, Detector); 6] = [
        (ManagedIdentitySource::ServiceFabric, service_fabric::detect),
        (ManagedIdentitySource::AppService, app_service::detect),
        (ManagedIdentitySource::AzureMl, azure_ml::detect),
        (ManagedIdentitySource::CloudShell, cloud_shell::detect),
        (ManagedIdentitySource::AzureArc, azure_arc::detect),
        (ManagedIdentitySource::Imds, imds::detect),
    ];
    detectors
        .into_iter()
        .find_map(|(source, detect)| detect(env).map(|reason| SourceSelection { source, reason }))
        .ok_or_else(|| Error::internal("IMDS is always a candidate managed-identity source"))
}

/// Asks one managed-identity endpoint for tokens.
pub(crate) struct ManagedIdentityClient {
    selection: SourceSelection,
    source: Box<dyn source::Source>,
    id: ManagedIdentityId,
}

impl fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("source", &self.selection.source)
            .field("endpoint", &self.source.endpoint())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityClient {
    pub(crate) fn new(
        selection: SourceSelection,
        env: &dyn Environment,
        id: ManagedIdentityId,
    ) -> Result<Self> {
        let source = source::build(selection.source, env, id.clone())?;
        Ok(ManagedIdentityClient {
            selection,
            source,
            id,
        })
    }

    pub(crate) fn selection(&self) -> &SourceSelection {
        &self.selection
    }

    pub(crate) fn id(&self) -> &ManagedIdentityId {
        &self.id
    }

    /// The server certificate the endpoint must present, when it is pinned (Service Fabric).
    pub(crate) fn pinned_certificate(&self) -> Option<&Arc<PinnedServerCertificate>> {
        self.source.pinned_certificate()
    }

    /// One token for `resource` (an audience such as `api://AzureADTokenExchange`, without
    /// `/.default`). `now` is Unix seconds, to anchor relative expiry values.
    pub(crate) async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: &str,
        now: i64,
    ) -> Result<ManagedIdentityToken> {
        let source = &self.source;
        let target = format!("{} endpoint {}", source.kind(), source.endpoint());
        log::debug!(
            "certless: requesting a managed-identity token from {target} for {resource} ({})",
            self.id
        );
        let unreachable = |e: Error| {
            let e = source.explain_unreachable(e);
            if e.remedy().is_none() {
                e.with_remedy(source.unreachable_remedy())
            } else {
                e
            }
        };
        let send = |request| http::send(request, Leg::ManagedIdentity, &target);
        let mut response = send(source.request(http, resource))
            .await
            .map_err(unreachable)?;
        if let Some(answer) = source.answer_challenge(http, resource, &response) {
            response = send(answer?).await.map_err(unreachable)?;
        }
        if response.status == 200 {
            source.check_answer(&response.body)?;
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
        let remedy = self.source.remedy(response.status, &details);
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
                        .map(crate::support::secret::scrub_server_text)
                }),
            )
            .with_retry_after(response.retry_after());
        if let Some(r) = remedy {
            error = error.with_remedy(r);
        }
        let error = self
            .source
            .explain_rejection(error, response.status, &details);
        match proxy_evidence(response) {
            Some(evidence) => proxy_error(error, &evidence),
            None => error,
        }
    }
}

/// Signs that an HTTP proxy, not the managed-identity endpoint, answered: certless never sends
/// these requests through a proxy, so one that answers is intercepting the link-local or
/// loopback address (docs/protocol.md §3).
fn proxy_evidence(response: &Response) -> Option<String> {
    if response.status == 407 {
        return Some("HTTP 407 Proxy Authentication Required".to_string());
    }
    for name in ["via", "proxy-agent", "x-squid-error", "x-cache"] {
        if let Some(value) = response.header(name) {
            return Some(format!(
                "the answer carries '{name}: {}'",
                crate::support::secret::scrub_server_text(value)
            ));
        }
    }
    let html = response
        .header("content-type")
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    html.then(|| "the answer is an HTML page".to_string())
}

pub(crate) const PROXY_REMEDY: &str = "A proxy intercepts requests to the managed-identity \
    endpoint: exempt 169.254.169.254 (and localhost) from the proxy — NO_PROXY for explicit \
    proxies, the bypass list of a transparent one; IMDS must never be reached through a proxy.";

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
    use crate::support::env::MapEnv;

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
                select(MapEnv::new().with_file("/opt/azcmagent/bin/himds")),
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
