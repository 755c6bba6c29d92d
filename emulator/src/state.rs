//! State shared by every request: the registry, the key, the clock, and what tests observe and steer (counters,
//! recorded requests, faults, expires_on shapes).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Registry;
use crate::faults::FaultTable;
use crate::managed_identity::ExpiresOnFormat;
use crate::tokens::SigningKey;

/// The endpoints the emulator serves, for counters, recorded requests and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /metadata/identity/oauth2/token`
    Imds,
    /// `GET /msi/token` (also Azure ML's `2017-09-01` dialect)
    AppService,
    /// `POST /oauth2/token` (Cloud Shell)
    CloudShell,
    /// `GET /arc/metadata/identity/oauth2/token` (Azure Arc, with its key-file challenge)
    AzureArc,
    /// `GET /servicefabric/metadata/identity/oauth2/token` (HTTPS listener only)
    ServiceFabric,
    /// `POST /{tenant}/oauth2/v2.0/token`
    EntraToken,
    /// `GET /{tenant}/v2.0/.well-known/openid-configuration`
    OpenidMetadata,
    /// `GET /{tenant}/discovery/v2.0/keys`
    Jwks,
    /// `GET /common/discovery/instance` (MSAL's instance discovery)
    InstanceDiscovery,
    /// `GET /keyvault/{vault}/certificates/...` and `/secrets/...` (Azure Key Vault)
    KeyVault,
    /// `/sharepoint/{host}/sites/{site}/_api/...` (the SharePoint Online stand-in)
    #[serde(rename = "sharepoint")]
    SharePoint,
    /// Microsoft Graph: `/v1.0/sites/...` (the site permissions that grant `Sites.Selected` apps a site),
    /// `/v1.0/applications/.../federatedIdentityCredentials`, `/v1.0/servicePrincipals/{id}`,
    /// `/v1.0/directoryObjects/{id}`
    Graph,
    /// IMDS's own metadata: `GET /metadata/versions` and `/metadata/identity/getPlatformMetadata` (apart from
    /// `Imds`, so token-request counts stay token-request counts)
    ImdsMetadata,
}

/// Requests per endpoint since start or the last reset. Admin requests are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// IMDS token requests.
    pub imds: u64,
    /// App Service (and Azure ML) token requests.
    pub app_service: u64,
    /// Cloud Shell token requests.
    pub cloud_shell: u64,
    /// Azure Arc token requests (challenges included).
    pub azure_arc: u64,
    /// Service Fabric token requests.
    pub service_fabric: u64,
    /// Entra token-endpoint requests.
    pub entra_token: u64,
    /// OpenID configuration requests.
    pub openid_metadata: u64,
    /// JWKS requests.
    pub jwks: u64,
    /// Instance-discovery requests.
    pub instance_discovery: u64,
    /// Key Vault requests.
    #[serde(default)]
    pub key_vault: u64,
    /// SharePoint REST requests.
    #[serde(default)]
    pub sharepoint: u64,
    /// Microsoft Graph requests.
    #[serde(default)]
    pub graph: u64,
    /// IMDS metadata requests (`/metadata/versions`, `getPlatformMetadata`); not in [`Counters::managed_identity`].
    #[serde(default)]
    pub imds_metadata: u64,
    /// Requests no route matched (a client calling a wrong path shows up here).
    pub unmatched: u64,
}

impl Counters {
    /// Requests to every managed-identity endpoint together.
    pub fn managed_identity(&self) -> u64 {
        self.imds + self.app_service + self.cloud_shell + self.azure_arc + self.service_fabric
    }

    pub(crate) fn bump(&mut self, endpoint: Option<Endpoint>) {
        let slot = match endpoint {
            Some(Endpoint::Imds) => &mut self.imds,
            Some(Endpoint::AppService) => &mut self.app_service,
            Some(Endpoint::CloudShell) => &mut self.cloud_shell,
            Some(Endpoint::AzureArc) => &mut self.azure_arc,
            Some(Endpoint::ServiceFabric) => &mut self.service_fabric,
            Some(Endpoint::EntraToken) => &mut self.entra_token,
            Some(Endpoint::OpenidMetadata) => &mut self.openid_metadata,
            Some(Endpoint::Jwks) => &mut self.jwks,
            Some(Endpoint::InstanceDiscovery) => &mut self.instance_discovery,
            Some(Endpoint::KeyVault) => &mut self.key_vault,
            Some(Endpoint::SharePoint) => &mut self.sharepoint,
            Some(Endpoint::Graph) => &mut self.graph,
            Some(Endpoint::ImdsMetadata) => &mut self.imds_metadata,
            None => &mut self.unmatched,
        };
        *slot += 1;
    }
}

/// One request as the emulator saw it, secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `None` when no route matched.
    pub endpoint: Option<Endpoint>,
    /// The HTTP method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Form fields of a form-encoded body, in order. `client_assertion`, `client_secret` and `assertion` values are
    /// replaced by `<redacted N bytes>`.
    pub form: Vec<(String, String)>,
    /// The response status; `None` when a fault dropped the connection.
    pub status: Option<u16>,
    /// Whether an injected fault shaped the answer.
    pub fault_applied: bool,
    /// Emulator clock, seconds since the epoch.
    pub received_at: i64,
}

/// Form fields and headers whose values are credentials.
const SECRET_FIELDS: &[&str] = &["client_assertion", "client_secret", "assertion"];
const SECRET_HEADERS: &[&str] = &["authorization"];

pub(crate) fn redact_field(name: &str, value: &str) -> String {
    if SECRET_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        format!("<redacted {} bytes>", value.len())
    } else {
        value.to_string()
    }
}

pub(crate) fn redact_header(name: &str, value: &str) -> String {
    if SECRET_HEADERS.contains(&name) {
        format!("<redacted {} bytes>", value.len())
    } else {
        value.to_string()
    }
}

/// Keeps the last requests, bounded so a long-running emulator does not grow without end.
const JOURNAL_CAPACITY: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl Journal {
    pub(crate) fn push(&self, r: RecordedRequest) {
        let mut q = lock(&self.entries);
        if q.len() == JOURNAL_CAPACITY {
            q.pop_front();
        }
        q.push_back(r);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        lock(&self.entries).iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        lock(&self.entries).clear();
    }
}

/// Where the emulator listens; fixed once the listeners are bound.
#[derive(Debug, Clone)]
pub(crate) struct Addresses {
    pub http_url: String,
    pub https_url: Option<String>,
    pub ca_pem_path: Option<PathBuf>,
    /// SHA-1 of the HTTPS listener's certificate, uppercase hex: Service Fabric's `IDENTITY_SERVER_THUMBPRINT`.
    pub server_thumbprint: Option<String>,
}

pub(crate) struct Shared {
    pub registry: RwLock<Registry>,
    pub key: SigningKey,
    pub clock: Clock,
    pub counters: Mutex<Counters>,
    pub journal: Journal,
    pub faults: FaultTable,
    /// Per-endpoint `expires_on` shape; absent means the endpoint's own default.
    pub expires_on: Mutex<HashMap<Endpoint, ExpiresOnFormat>>,
    pub addresses: Addresses,
    pub arc: crate::arc::ArcState,
    /// Sites granted to apps, and tokens revoked, for the SharePoint stand-in.
    pub site_access: crate::site_access::SiteAccess,
    /// The SharePoint stand-in's lists.
    pub sharepoint_lists: crate::sharepoint::Lists,
    /// Whether the HTTPS listener offers HTTP/2 to new connections.
    pub https_http2: Arc<AtomicBool>,
    /// Sending `true` stops every listener and connection.
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    /// A snapshot of the registry; handlers never hold the lock across an await.
    pub(crate) fn registry(&self) -> Registry {
        self.registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn expires_on_format(&self, endpoint: Endpoint) -> Option<ExpiresOnFormat> {
        lock(&self.expires_on).get(&endpoint).copied()
    }

    pub(crate) fn count(&self, endpoint: Option<Endpoint>) {
        lock(&self.counters).bump(endpoint);
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_only() {
        assert_eq!(
            redact_field("client_assertion", "abc.def.ghi"),
            "<redacted 11 bytes>"
        );
        assert_eq!(redact_field("client_secret", "s"), "<redacted 1 bytes>");
        assert_eq!(redact_field("scope", "x/.default"), "x/.default");
        assert_eq!(
            redact_header("authorization", "Bearer x"),
            "<redacted 8 bytes>"
        );
        assert_eq!(redact_header("metadata", "true"), "true");
    }

    #[test]
    fn journal_is_bounded() {
        let j = Journal::default();
        for i in 0..(JOURNAL_CAPACITY + 5) {
            j.push(RecordedRequest {
                endpoint: None,
                method: "GET".into(),
                path: format!("/{i}"),
                query: vec![],
                headers: vec![],
                form: vec![],
                status: Some(404),
                fault_applied: false,
                received_at: 0,
            });
        }
        let all = j.all();
        assert_eq!(all.len(), JOURNAL_CAPACITY);
        assert_eq!(all[0].path, "/5");
    }
}
