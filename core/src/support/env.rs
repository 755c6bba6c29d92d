//! The world certless reads: environment variables and the existence of well-known files.
//! Source selection and configuration are pure functions of an [`Environment`], so tests (and
//! hosts that keep settings elsewhere) can hand one in instead of the process environment.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where certless reads environment variables and checks files: the process, or a test's map.
pub trait Environment: Send + Sync + fmt::Debug {
    /// The variable's value; `None` when unset or empty (an empty variable counts as unset, as in
    /// the Azure SDKs).
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a file exists (used to detect the Azure Arc agent).
    fn file_exists(&self, path: &Path) -> bool;
}

/// The real process environment and file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    fn file_exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// A fixed set of variables and files, for tests and for hosts that configure certless from
/// something other than the process environment.
#[derive(Debug, Default, Clone)]
pub struct MapEnv {
    vars: HashMap<String, String>,
    files: Vec<std::path::PathBuf>,
}

impl MapEnv {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// With variable `name` set to `value`.
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// With every `(name, value)` of `vars` set.
    pub fn with_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self.vars.insert(k.into(), v.into());
        }
        self
    }

    /// With a file at `path` (for the Azure Arc agent's detection).
    pub fn with_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }
}

impl Environment for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    fn file_exists(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path)
    }
}

pub(crate) fn process_env() -> Arc<dyn Environment> {
    Arc::new(ProcessEnv)
}

/// Names of the environment variables certless reads.
pub mod vars {
    /// The app registration's tenant (Azure SDKs' name).
    pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
    /// The app registration's client id (Azure SDKs' name).
    pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// The login host (Azure SDKs' name).
    pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    /// A client secret, tried after the managed identity.
    pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// A certificate file (PFX or PEM), tried after the managed identity.
    pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
    /// The certificate file's password.
    pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
    /// `true` to send the certificate chain (`x5c`).
    pub const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
    /// A user-assigned managed identity by client id.
    pub const MI_CLIENT_ID: &str = "CERTLESS_MANAGED_IDENTITY_CLIENT_ID";
    /// A user-assigned managed identity by object (principal) id.
    pub const MI_OBJECT_ID: &str = "CERTLESS_MANAGED_IDENTITY_OBJECT_ID";
    /// A user-assigned managed identity by ARM resource id.
    pub const MI_RESOURCE_ID: &str = "CERTLESS_MANAGED_IDENTITY_RESOURCE_ID";
    /// Forces a managed-identity source instead of detecting it (`imds`, `app_service`).
    pub const MI_SOURCE: &str = "CERTLESS_MANAGED_IDENTITY_SOURCE";
    /// Overrides the audience of the managed-identity token (default per cloud).
    pub const TOKEN_EXCHANGE_AUDIENCE: &str = "CERTLESS_TOKEN_EXCHANGE_AUDIENCE";
    /// Extra PEM CA certificates to trust for Entra (besides the system store).
    pub const CA_FILE: &str = "CERTLESS_CA_FILE";
    /// The overall deadline of one token request, in seconds (default 120).
    pub const REQUEST_DEADLINE: &str = "CERTLESS_REQUEST_DEADLINE";
    /// Extra PEM CA certificates (OpenSSL's name), also trusted for Entra.
    pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
    /// A certless broker to ask for tokens (`http://127.0.0.1:PORT` or `unix:/path`).
    pub const BROKER: &str = "CERTLESS_BROKER";
    /// The broker's secret.
    pub const BROKER_SECRET: &str = "CERTLESS_BROKER_SECRET";
    /// The file the broker writes its secret to (read instead of `CERTLESS_BROKER_SECRET`).
    pub const BROKER_SECRET_FILE: &str = "CERTLESS_BROKER_SECRET_FILE";
    /// `local`: fetch tokens in this process when the broker cannot be reached.
    pub const BROKER_FALLBACK: &str = "CERTLESS_BROKER_FALLBACK";
    /// The shared token cache's Redis (`redis://`, `rediss://`, `redis+sentinel://`,
    /// `redis+cluster://`), or `off`.
    pub const SHARED_CACHE: &str = "CERTLESS_SHARED_CACHE";
    /// The file of the keys that seal shared-cache entries (`id:base64`, newest first).
    pub const SHARED_CACHE_KEY_FILE: &str = "CERTLESS_SHARED_CACHE_KEY_FILE";
    /// The keys themselves (instead of the file), comma-separated.
    pub const SHARED_CACHE_KEY: &str = "CERTLESS_SHARED_CACHE_KEY";
    /// A PEM file of the CAs that sign Redis's TLS certificate (instead of the system's).
    pub const SHARED_CACHE_CA_FILE: &str = "CERTLESS_SHARED_CACHE_CA_FILE";
    /// Milliseconds one read of the shared cache may take before it is a miss (default 50).
    pub const SHARED_CACHE_READ_BUDGET_MS: &str = "CERTLESS_SHARED_CACHE_READ_BUDGET_MS";
    /// Milliseconds a fetch waits for another machine's lease before fetching (default 5000).
    pub const SHARED_CACHE_LEASE_WAIT_MS: &str = "CERTLESS_SHARED_CACHE_LEASE_WAIT_MS";

    /// App Service's, Service Fabric's and Azure Arc's identity endpoint.
    pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
    /// App Service's and Service Fabric's identity endpoint secret.
    pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
    /// The SHA-1 of Service Fabric's identity endpoint certificate.
    pub const IDENTITY_SERVER_THUMBPRINT: &str = "IDENTITY_SERVER_THUMBPRINT";
    /// Set by the Azure Arc agent beside `IDENTITY_ENDPOINT`.
    pub const IMDS_ENDPOINT: &str = "IMDS_ENDPOINT";
    /// Cloud Shell's and Azure ML's identity endpoint.
    pub const MSI_ENDPOINT: &str = "MSI_ENDPOINT";
    /// Azure ML's identity endpoint secret.
    pub const MSI_SECRET: &str = "MSI_SECRET";
    /// Azure ML: the compute's own identity's client id.
    pub const DEFAULT_IDENTITY_CLIENT_ID: &str = "DEFAULT_IDENTITY_CLIENT_ID";
    /// Replaces IMDS's host (AAD Pod Identity; the emulator).
    pub const AZURE_POD_IDENTITY_AUTHORITY_HOST: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
    /// AKS workload identity's service-account token file.
    pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
}
