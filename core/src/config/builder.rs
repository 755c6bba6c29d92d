//! The typed [`CredentialBuilder`]: everything a credential is made of, set one value at a time.
//! Validation is [`super::validate`]'s job; reading a configuration into a builder, [`super::load`]'s.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::source::CredentialSource;
use crate::broker::{BrokerAddress, SecretLocation};
use crate::certificate::{CertificateSource, KeyVaultReference, StoreFind, StorePath};
use crate::http::Timeouts;
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::retry::Retries;
use crate::support::clock::Clock;
use crate::support::env::Environment;
use crate::support::secret::Secret;

/// Default for [`CredentialBuilder::deadline`]: room for IMDS's 70-second platform updates
/// (retried for 80 s) and an exchange after them.
pub(crate) const DEFAULT_DEADLINE_SECS: u64 = 120;

/// Default for [`CredentialBuilder::assertion_margin`]: a managed-identity token is reused as
/// an assertion only while it has more than this left — an assertion that expires on the way
/// to Entra is AADSTS700024 (docs/protocol.md §3).
pub const ASSERTION_SAFETY_MARGIN_SECS: i64 = 300;

/// Default for [`CredentialBuilder::expiry_margin`].
pub(crate) const DEFAULT_EXPIRY_MARGIN_SECS: u64 = 60;

/// The shared cache as a builder holds it, unvalidated.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedCacheSetting {
    /// The Redis URL (it may hold a password: never shown), or `off`.
    pub(crate) url: Option<Secret>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) read_budget: Option<Duration>,
    pub(crate) lease_wait: Option<Duration>,
}

/// Everything a credential is made of. Build one with the setters, or start from
/// [`CredentialBuilder::from_config_json`], [`CredentialBuilder::from_config_file`] or
/// [`CredentialBuilder::from_env`] and adjust.
#[derive(Clone)]
pub struct CredentialBuilder {
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) authority_host: Option<String>,
    pub(crate) sources: Vec<CredentialSource>,
    pub(crate) managed_identity_source: Option<ManagedIdentitySource>,
    pub(crate) token_exchange_audience: Option<String>,
    pub(crate) timeouts: Timeouts,
    pub(crate) deadline: Option<Duration>,
    pub(crate) expiry_margin: Duration,
    pub(crate) assertion_margin: Duration,
    pub(crate) retries: Retries,
    pub(crate) ca_files: Vec<PathBuf>,
    pub(crate) send_certificate_chain: bool,
    pub(crate) env: Option<Arc<dyn Environment>>,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) origin: String,
    pub(crate) broker: Option<BrokerAddress>,
    pub(crate) broker_secret: SecretLocation,
    pub(crate) broker_fallback: bool,
    /// Where the broker was named (`CERTLESS_BROKER`, or the builder), for messages.
    pub(crate) broker_setting: &'static str,
    /// The shared token cache (docs/shared-cache.md).
    pub(crate) shared_cache: SharedCacheSetting,
}

impl fmt::Debug for CredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialBuilder")
            .field("origin", &self.origin)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("authority_host", &self.authority_host)
            .field("sources", &self.sources)
            .field("managed_identity_source", &self.managed_identity_source)
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl Default for CredentialBuilder {
    fn default() -> Self {
        CredentialBuilder {
            tenant_id: None,
            client_id: None,
            authority_host: None,
            sources: Vec::new(),
            managed_identity_source: None,
            token_exchange_audience: None,
            timeouts: Timeouts::default(),
            deadline: None,
            expiry_margin: Duration::from_secs(DEFAULT_EXPIRY_MARGIN_SECS),
            assertion_margin: Duration::from_secs(ASSERTION_SAFETY_MARGIN_SECS.unsigned_abs()),
            retries: Retries::default(),
            ca_files: Vec::new(),
            send_certificate_chain: false,
            env: None,
            clock: None,
            origin: "builder".to_string(),
            broker: None,
            broker_secret: SecretLocation::None,
            broker_fallback: false,
            broker_setting: "the broker option",
            shared_cache: SharedCacheSetting::default(),
        }
    }
}

impl CredentialBuilder {
    /// An empty builder: set the tenant, the client id and at least one credential source.
    pub fn new() -> Self {
        Self::default()
    }

    /// The directory (tenant) of the app registration: a GUID or a verified domain.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The app registration's Application (client) ID.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The cloud's login host (default `https://login.microsoftonline.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }

    /// Appends a managed-identity assertion source for `id` to the credential list.
    pub fn managed_identity(mut self, id: ManagedIdentityId) -> Self {
        self.sources.push(CredentialSource::ManagedIdentity {
            id,
            token_exchange_audience: None,
        });
        self
    }

    /// Appends a client-secret source to the credential list (a fallback: SharePoint REST
    /// refuses tokens obtained with a secret).
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.sources.push(CredentialSource::ClientSecret {
            secret: secret.into(),
        });
        self
    }

    /// Appends a certificate source: a PFX (`.pfx`/`.p12`, with its password if it has one) or a
    /// PEM file holding the certificate and its RSA key. The file is read when the credential is
    /// built, and again whenever it changes.
    pub fn client_certificate_file(
        mut self,
        path: impl Into<PathBuf>,
        password: Option<Secret>,
    ) -> Self {
        self.sources.push(CredentialSource::Certificate {
            source: CertificateSource::File(path.into()),
            password,
        });
        self
    }

    /// Appends a certificate source given as the base64 of a PFX (Id.Web `Base64EncodedValue`).
    pub fn client_certificate_base64(
        mut self,
        pfx_base64: impl Into<Secret>,
        password: Option<Secret>,
    ) -> Self {
        self.sources.push(CredentialSource::Certificate {
            source: CertificateSource::Base64(pfx_base64.into()),
            password,
        });
        self
    }

    /// Appends a certificate kept in Azure Key Vault, read with the managed identity `reader`
    /// (`None`: the credential list's managed identity, else the system-assigned one).
    pub fn key_vault_certificate(
        mut self,
        reference: KeyVaultReference,
        reader: Option<ManagedIdentityId>,
    ) -> Self {
        self.sources.push(CredentialSource::Certificate {
            source: CertificateSource::KeyVault {
                reference,
                managed_identity: reader,
            },
            password: None,
        });
        self
    }

    /// Appends a certificate from the certificate store (on Windows its key signs without
    /// leaving the store; elsewhere `CurrentUser/My` is .NET's folder of PFX files).
    pub fn store_certificate(mut self, store: StorePath, find: StoreFind) -> Self {
        self.sources.push(CredentialSource::Certificate {
            source: CertificateSource::Store { store, find },
            password: None,
        });
        self
    }

    /// Sends the certificate chain (`x5c`) with certificate assertions: needed when the app
    /// trusts its certificate by subject name and issuer (Id.Web `SendX5C`).
    pub fn send_certificate_chain(mut self, send: bool) -> Self {
        self.send_certificate_chain = send;
        self
    }

    /// Appends a federated-token-file source (AKS workload identity's
    /// `AZURE_FEDERATED_TOKEN_FILE`, or any file a workload's issuer keeps fresh).
    pub fn federated_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(CredentialSource::SignedAssertionFile {
            path: Some(path.into()),
        });
        self
    }

    /// Appends any source to the ordered credential list.
    pub fn credential_source(mut self, source: CredentialSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Uses this managed-identity source instead of detecting it from the environment.
    pub fn managed_identity_source(mut self, source: ManagedIdentitySource) -> Self {
        self.managed_identity_source = Some(source);
        self
    }

    /// The audience of the managed-identity token for sources that set none
    /// (default `api://AzureADTokenExchange`, or the sovereign cloud's).
    pub fn token_exchange_audience(mut self, audience: impl Into<String>) -> Self {
        self.token_exchange_audience = Some(audience.into());
        self
    }

    /// Time limits of each HTTP request (default 5 s to connect, 30 s in all).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The longest one token request may take, retries included (default 120 s, or
    /// `CERTLESS_REQUEST_DEADLINE` seconds): then the caller gets an error naming the leg that
    /// was still being waited on. Keep it above 80 s to ride out IMDS's documented 70-second
    /// platform updates.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// A cached token is not handed out in its last `margin` (default 60 s), so that it cannot
    /// expire on its way to the resource.
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// A managed-identity token is sent as assertion only with more than `margin` left
    /// (default 5 minutes); otherwise a new one is fetched.
    pub fn assertion_margin(mut self, margin: Duration) -> Self {
        self.assertion_margin = margin;
        self
    }

    /// How each leg retries (default: the tables of docs/protocol.md §3; `Retries::none()` for one
    /// attempt per leg).
    pub fn retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }

    /// Also trust the PEM CA certificates in this file for Entra (a TLS-inspecting proxy, the
    /// emulator's https listener).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Where environment variables (managed-identity detection) are read; default the process.
    pub fn environment(mut self, env: Arc<dyn Environment>) -> Self {
        self.env = Some(env);
        self
    }

    /// Where time comes from; default the system clock (tests pass a [`crate::support::clock::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Asks this certless broker (`certless serve`) for tokens instead of fetching them in this
    /// process; the tenant and client ids become optional (the client id, when set, selects
    /// among the broker's apps). [`from_env`](Self::from_env) sets it from `CERTLESS_BROKER`.
    pub fn broker(mut self, address: BrokerAddress) -> Self {
        self.broker = Some(address);
        self
    }

    /// The broker's secret (needed for a TCP broker).
    pub fn broker_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.broker_secret = SecretLocation::Value(secret.into());
        self
    }

    /// The file the broker writes its secret to; read before the first request and again
    /// whenever the broker refuses the secret (it makes a new one each time it starts).
    pub fn broker_secret_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.broker_secret = SecretLocation::File(path.into());
        self
    }

    /// When the broker cannot be reached, fetch tokens in this process with the configured
    /// credential sources (default: fail, naming the broker).
    pub fn broker_fallback(mut self, fallback: bool) -> Self {
        self.broker_fallback = fallback;
        self
    }

    /// Fetches tokens in this process even if a broker is configured (what the broker itself
    /// does with its own configuration).
    pub fn without_broker(mut self) -> Self {
        self.broker = None;
        self
    }

    /// Shares tokens with every machine that uses this Redis and key (docs/shared-cache.md):
    /// `redis://[user:password@]host:port[/db]`, `rediss://...` for TLS,
    /// `redis+sentinel://[user:password@]host1:26379,host2:26379/MASTER` for Sentinel,
    /// `redis+cluster://[user:password@]host1:6379,host2:6379` for a cluster, or `off` (whatever
    /// `CERTLESS_SHARED_CACHE` says). Default: `CERTLESS_SHARED_CACHE`, else no shared cache.
    pub fn shared_cache(mut self, url: impl Into<Secret>) -> Self {
        self.shared_cache.url = Some(url.into());
        self
    }

    /// The file of the keys that seal the shared cache's entries, one `id:base64` per line,
    /// newest first (default: `CERTLESS_SHARED_CACHE_KEY_FILE`, or the keys in
    /// `CERTLESS_SHARED_CACHE_KEY`).
    pub fn shared_cache_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.shared_cache.key_file = Some(path.into());
        self
    }

    /// A PEM file of the CAs that sign the shared cache's TLS certificate, instead of the
    /// system's (default: `CERTLESS_SHARED_CACHE_CA_FILE`).
    pub fn shared_cache_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.shared_cache.ca_file = Some(path.into());
        self
    }

    /// How long one read of the shared cache may take before it counts as a miss (default 50 ms).
    pub fn shared_cache_read_budget(mut self, budget: Duration) -> Self {
        self.shared_cache.read_budget = Some(budget);
        self
    }

    /// How long a fetch waits for another machine that holds the farm's lease before fetching
    /// itself (default 5 s).
    pub fn shared_cache_lease_wait(mut self, wait: Duration) -> Self {
        self.shared_cache.lease_wait = Some(wait);
        self
    }
}
