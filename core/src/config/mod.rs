//! Building a [`Credential`]: from a Microsoft.Identity.Web configuration ([`idweb`]), from
//! environment variables ([`from_env`]), or with the typed [`CredentialBuilder`]. All three end
//! in the same validation, so a value that is wrong is reported the same way wherever it came from.

mod encoding;
mod from_env;
mod idweb;
mod jsonc;
mod options;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::broker::{BrokerAddress, BrokerSecret, BrokerSettings};
pub use crate::certificate::{
    CertificateSource, KeyVaultReference, StoreFind, StoreLocation, StorePath,
};
use crate::entra::cloud::AuthorityHost;
use crate::error::{Error, ErrorCode, Result};
use crate::http::Timeouts;
use crate::http::retry::Retries;
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::support::bounded_file;
use crate::support::clock::{Clock, SystemClock};
use crate::support::echo::{echo, echo_path};
use crate::support::env::{Environment, process_env, vars};
use crate::support::secret::Secret;
pub use crate::token::CredentialSourceKind;
pub use options::{CredentialOptions, OPTIONS, OptionInfo, OptionKind, OptionValue};

/// One entry of the ordered credential list (Id.Web's `ClientCredentials`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// A managed-identity token, presented to Entra as the client assertion.
    ManagedIdentity {
        /// Which managed identity.
        id: ManagedIdentityId,
        /// The managed-identity token's audience (Id.Web `TokenExchangeUrl`); default per cloud.
        token_exchange_audience: Option<String>,
    },
    /// A client secret (the app registration's). Entra issues the token with `appidacr` 1,
    /// which SharePoint REST refuses; prefer the managed identity and keep this as a fallback.
    ClientSecret {
        /// The secret's value.
        secret: Secret,
    },
    /// A federated token in a file (AKS workload identity), re-read as it rotates; `None` means
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    SignedAssertionFile {
        /// The file.
        path: Option<PathBuf>,
    },
    /// A certificate whose key signs a client assertion (Id.Web `Path`, `Base64Encoded`,
    /// `KeyVault` and the certificate-store types).
    Certificate {
        /// Where the certificate comes from.
        source: CertificateSource,
        /// The PFX's (or encrypted PEM key's) password.
        password: Option<Secret>,
    },
    /// A kind that exists only inside a .NET program (a certificate object or an assertion
    /// provider given in code); reported when the chain reaches it.
    Unsupported {
        /// Which kind.
        kind: CredentialSourceKind,
    },
}

impl CredentialSource {
    /// The Id.Web `SourceType` of this entry.
    pub fn kind(&self) -> CredentialSourceKind {
        match self {
            CredentialSource::ManagedIdentity { .. } => {
                CredentialSourceKind::SignedAssertionFromManagedIdentity
            }
            CredentialSource::ClientSecret { .. } => CredentialSourceKind::ClientSecret,
            CredentialSource::SignedAssertionFile { .. } => {
                CredentialSourceKind::SignedAssertionFilePath
            }
            CredentialSource::Certificate { source, .. } => match source {
                CertificateSource::File(_) => CredentialSourceKind::Path,
                CertificateSource::Base64(_) => CredentialSourceKind::Base64Encoded,
                CertificateSource::KeyVault { .. } => CredentialSourceKind::KeyVault,
                CertificateSource::Store { find, .. } => match find {
                    StoreFind::Thumbprint(_) => CredentialSourceKind::StoreWithThumbprint,
                    StoreFind::DistinguishedName(_) => {
                        CredentialSourceKind::StoreWithDistinguishedName
                    }
                    StoreFind::SubjectName(_) => CredentialSourceKind::StoreWithSubjectName,
                },
            },
            CredentialSource::Unsupported { kind } => *kind,
        }
    }
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
    pub(crate) broker_secret: BrokerSecret,
    pub(crate) broker_fallback: bool,
    /// Where the broker was named (`CERTLESS_BROKER`, or the builder), for messages.
    pub(crate) broker_setting: &'static str,
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
            broker_secret: BrokerSecret::None,
            broker_fallback: false,
            broker_setting: "the broker option",
        }
    }
}

impl CredentialBuilder {
    /// An empty builder: set the tenant, the client id and at least one credential source.
    pub fn new() -> Self {
        Self::default()
    }

    /// A Microsoft.Identity.Web configuration: a whole `appsettings.json` or its `AzureAd` section.
    /// As in .NET, `//` and `/* */` comments and trailing commas are allowed (and a leading byte
    /// order mark, from a host that decoded a file without removing it).
    pub fn from_config_json(json: &str) -> Result<Self> {
        let origin = "configuration JSON";
        if json.len() as u64 > bounded_file::CONFIG_FILE.bytes {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "the {origin} is larger than the {} limit for a configuration ({} bytes)",
                    bounded_file::CONFIG_FILE,
                    json.len()
                ),
            )
            .with_remedy(
                "Pass the Microsoft.Identity.Web configuration (its AzureAd section is enough).",
            ));
        }
        idweb::parse(json.strip_prefix('\u{feff}').unwrap_or(json), origin)
    }

    /// [`from_config_json`](Self::from_config_json) from a file, in the encoding its byte order
    /// mark says (UTF-8, UTF-16 or UTF-32; UTF-8 without one), as .NET reads it. The file must be
    /// a regular file of at most 1 MiB.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = format!("configuration file {}", echo_path(path));
        let bytes = bounded_file::read(path, bounded_file::CONFIG_FILE).map_err(|e| {
            let error = Error::config(ErrorCode::ConfigFileUnreadable, format!("the {origin} {e}"));
            match e {
                bounded_file::FileError::Io(_) => error.with_remedy(
                    "Check the path and that this process's account may read the file.",
                ),
                _ => error.with_remedy("Give the path of the appsettings.json file itself."),
            }
        })?;
        let text = encoding::decode(&bytes).map_err(|e| {
            Error::config(ErrorCode::InvalidConfig, format!("the {origin} {e}"))
                .with_remedy(e.remedy())
        })?;
        idweb::parse(&text, &origin)
    }

    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST` and
    /// `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` / `_OBJECT_ID` / `_RESOURCE_ID` from the process.
    pub fn from_env() -> Result<Self> {
        from_env::parse(process_env())
    }

    /// [`from_env`](Self::from_env) from a given environment (tests, hosts with their own settings).
    pub fn from_environment(env: Arc<dyn Environment>) -> Result<Self> {
        from_env::parse(env)
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
        self.broker_secret = BrokerSecret::Value(secret.into());
        self
    }

    /// The file the broker writes its secret to; read before the first request and again
    /// whenever the broker refuses the secret (it makes a new one each time it starts).
    pub fn broker_secret_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.broker_secret = BrokerSecret::File(path.into());
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

    pub(crate) fn validate(self) -> Result<ValidatedOptions> {
        let broker = self.broker_settings()?;
        // With a broker and no fallback, this process fetches nothing itself: the broker's
        // configuration decides, and the ids, when set, select among its apps.
        if broker.as_ref().is_some_and(|b| !b.fallback) {
            return self.validate_for_broker(broker);
        }
        let env = self.env.unwrap_or_else(process_env);
        let from = &self.origin;
        let tenant_id = self.tenant_id.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!("no tenant id in the {from}"),
            )
            .with_remedy(
                "Set TenantId (appsettings AzureAd section) or AZURE_TENANT_ID to \
                    the app registration's Directory (tenant) ID.",
            )
        })?;
        let tenant_id = validate_tenant(&tenant_id, "TenantId")?;
        let client_id = self.client_id.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!("no client id in the {from}"),
            )
            .with_remedy(
                "Set ClientId (appsettings AzureAd section) or AZURE_CLIENT_ID to \
                    the app registration's Application (client) ID.",
            )
        })?;
        let client_id = validate_guid(
            &client_id,
            "ClientId",
            "the app registration's Application (client) ID",
        )?;
        let authority = match &self.authority_host {
            Some(host) => AuthorityHost::parse(host)?,
            None => AuthorityHost::global(),
        };
        if self.sources.is_empty() {
            return Err(Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "no client credential in \
                the {from}"
                ),
            )
            .with_remedy(
                "Add a ClientCredentials entry {\"SourceType\": \
                    \"SignedAssertionFromManagedIdentity\", \"ManagedIdentityClientId\": \
                    \"<user-assigned MI client id>\"}.",
            ));
        }
        for source in &self.sources {
            match source {
                CredentialSource::ManagedIdentity {
                    id,
                    token_exchange_audience,
                } => {
                    validate_managed_identity_id(id)?;
                    if let Some(aud) = token_exchange_audience {
                        validate_audience(aud)?;
                    }
                }
                CredentialSource::SignedAssertionFile { path: None }
                    if env.var(vars::AZURE_FEDERATED_TOKEN_FILE).is_none() =>
                {
                    return Err(Error::config(
                        ErrorCode::MissingConfig,
                        "the \
                        SignedAssertionFilePath credential has no file",
                    )
                    .with_remedy(
                        "Set SignedAssertionFileDiskPath, or \
                            AZURE_FEDERATED_TOKEN_FILE (on AKS the workload-identity webhook \
                            sets it).",
                    ));
                }
                CredentialSource::ClientSecret { secret } if secret.expose().trim().is_empty() => {
                    return Err(Error::config(
                        ErrorCode::MissingConfig,
                        "the ClientSecret credential has an empty secret",
                    )
                    .with_remedy("Set the secret's value (not its id), or remove the entry."));
                }
                _ => {}
            }
        }
        let sources: Vec<CredentialSource> = self
            .sources
            .into_iter()
            .map(|source| match source {
                CredentialSource::SignedAssertionFile { path: None } => {
                    CredentialSource::SignedAssertionFile {
                        path: env.var(vars::AZURE_FEDERATED_TOKEN_FILE).map(PathBuf::from),
                    }
                }
                other => other,
            })
            .collect();
        let default_audience = match self.token_exchange_audience {
            Some(aud) => validate_audience(&aud)?,
            None => authority.default_exchange_audience().to_string(),
        };
        let mut ca_files = self.ca_files;
        for name in [vars::CA_FILE, vars::SSL_CERT_FILE] {
            if let Some(path) = env.var(name) {
                ca_files.push(PathBuf::from(path));
            }
        }
        Ok(ValidatedOptions {
            tenant_id,
            client_id,
            authority,
            sources,
            managed_identity_source: self.managed_identity_source,
            default_audience,
            timeouts: self.timeouts,
            deadline: validate_deadline(self.deadline, env.as_ref())?,
            expiry_margin: secs(self.expiry_margin),
            assertion_margin: secs(self.assertion_margin),
            retries: self.retries,
            ca_files,
            send_certificate_chain: self.send_certificate_chain,
            env,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            origin: self.origin,
            broker,
        })
    }

    fn broker_settings(&self) -> Result<Option<BrokerSettings>> {
        let Some(address) = &self.broker else {
            return Ok(None);
        };
        if matches!(address, BrokerAddress::Http(_))
            && matches!(self.broker_secret, BrokerSecret::None)
        {
            return Err(Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "{} names a broker on a TCP port, but no secret for it is given",
                    self.broker_setting
                ),
            )
            .with_remedy(format!(
                "Set {} to the file `certless serve` writes its secret to (--secret-file), \
                 or {} to the secret.",
                vars::BROKER_SECRET_FILE,
                vars::BROKER_SECRET
            )));
        }
        Ok(Some(BrokerSettings {
            address: address.clone(),
            secret: self.broker_secret.clone(),
            fallback: self.broker_fallback,
            setting: self.broker_setting,
        }))
    }

    /// A credential that only asks the broker: the ids are optional, the sources unused.
    fn validate_for_broker(self, broker: Option<BrokerSettings>) -> Result<ValidatedOptions> {
        let env = self.env.unwrap_or_else(process_env);
        let tenant_id = match &self.tenant_id {
            Some(t) => validate_tenant(t, "TenantId")?,
            None => String::new(),
        };
        let client_id = match &self.client_id {
            Some(c) => validate_guid(
                c,
                "ClientId",
                "the app registration's Application (client) ID",
            )?,
            None => String::new(),
        };
        let authority = match &self.authority_host {
            Some(host) => AuthorityHost::parse(host)?,
            None => AuthorityHost::global(),
        };
        let default_audience = authority.default_exchange_audience().to_string();
        Ok(ValidatedOptions {
            tenant_id,
            client_id,
            authority,
            sources: Vec::new(),
            managed_identity_source: None,
            default_audience,
            timeouts: self.timeouts,
            deadline: validate_deadline(self.deadline, env.as_ref())?,
            expiry_margin: secs(self.expiry_margin),
            assertion_margin: secs(self.assertion_margin),
            retries: self.retries,
            ca_files: Vec::new(),
            send_certificate_chain: false,
            env,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            origin: self.origin,
            broker,
        })
    }
}

/// A builder that passed validation.
#[derive(Debug)]
pub(crate) struct ValidatedOptions {
    pub tenant_id: String,
    pub client_id: String,
    pub authority: AuthorityHost,
    pub sources: Vec<CredentialSource>,
    pub managed_identity_source: Option<ManagedIdentitySource>,
    pub default_audience: String,
    pub timeouts: Timeouts,
    pub deadline: Duration,
    pub expiry_margin: i64,
    pub assertion_margin: i64,
    pub retries: Retries,
    pub ca_files: Vec<PathBuf>,
    pub send_certificate_chain: bool,
    pub env: Arc<dyn Environment>,
    pub clock: Arc<dyn Clock>,
    pub origin: String,
    /// A broker to ask instead of (or, with its fallback, before) the sources.
    pub broker: Option<BrokerSettings>,
}

/// Default for [`CredentialBuilder::deadline`]: room for IMDS's 70-second platform updates
/// (retried for 80 s) and an exchange after them.
pub(crate) const DEFAULT_DEADLINE_SECS: u64 = 120;

/// The deadline set on the builder, else `CERTLESS_REQUEST_DEADLINE`, else the default; between
/// one second and an hour.
fn validate_deadline(set: Option<Duration>, env: &dyn Environment) -> Result<Duration> {
    let (deadline, from) = match (set, env.var(vars::REQUEST_DEADLINE)) {
        (Some(d), _) => (d, "the deadline option".to_string()),
        (None, Some(value)) => {
            let secs = value.trim().parse::<f64>().ok().filter(|s| s.is_finite());
            let secs = secs.ok_or_else(|| {
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!("{} is not a number of seconds", vars::REQUEST_DEADLINE),
                )
                .with_remedy("Set it to the seconds one token request may take, e.g. 120.")
            })?;
            (
                Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX),
                vars::REQUEST_DEADLINE.to_string(),
            )
        }
        (None, None) => return Ok(Duration::from_secs(DEFAULT_DEADLINE_SECS)),
    };
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&deadline) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{from} is {:.3} s; it must be between 1 s and 3600 s",
                deadline.as_secs_f64()
            ),
        )
        .with_remedy("Use at least a few seconds (more than 80 to ride out IMDS updates)."));
    }
    Ok(deadline)
}

/// Default for [`CredentialBuilder::assertion_margin`]: a managed-identity token is reused as
/// an assertion only while it has more than this left — an assertion that expires on the way
/// to Entra is AADSTS700024 (docs/protocol.md §3).
pub const ASSERTION_SAFETY_MARGIN_SECS: i64 = 300;

/// Default for [`CredentialBuilder::expiry_margin`].
pub(crate) const DEFAULT_EXPIRY_MARGIN_SECS: u64 = 60;

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Values copied from a sample and never filled in.
fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.starts_with("your_")
        || lower.starts_with("your-")
        || lower.starts_with("enter_the_")
        || lower.starts_with("<")
        || lower.contains("xxxxxxxx")
        || lower == "00000000-0000-0000-0000-000000000000"
}

fn placeholder_error(value: &str, key: &str, what: &str) -> Error {
    Error::config(
        ErrorCode::InvalidConfig,
        format!("{key} is still the placeholder '{}'", echo(value)),
    )
    .with_remedy(format!("Replace it with {what}."))
}

fn validate_guid(value: &str, key: &str, what: &str) -> Result<String> {
    let v = value.trim();
    if looks_like_placeholder(v) {
        return Err(placeholder_error(v, key, what));
    }
    if !is_guid(v) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!("{key} '{}' is not a GUID", echo(v)),
        )
        .with_remedy(format!(
            "{key} must be {what}, a GUID like 11111111-2222-3333-4444-555555555555."
        )));
    }
    Ok(v.to_ascii_lowercase())
}

pub(crate) fn validate_tenant(value: &str, key: &str) -> Result<String> {
    let v = value.trim();
    if looks_like_placeholder(v) {
        return Err(placeholder_error(v, key, "the Directory (tenant) ID"));
    }
    if ["common", "organizations", "consumers"]
        .iter()
        .any(|m| v.eq_ignore_ascii_case(m))
    {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{key} '{}' is not a tenant: \
            an app-only token needs a specific tenant",
                echo(v)
            ),
        )
        .with_remedy(
            "Set TenantId to the Directory (tenant) ID or a verified domain \
                (contoso.onmicrosoft.com).",
        ));
    }
    let domain_like = v.contains('.')
        && v.len() <= 253
        && v.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if is_guid(v) || domain_like {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{key} '{}' is neither a GUID nor a \
            domain name",
                echo(v)
            ),
        )
        .with_remedy(
            "Set TenantId to the Directory (tenant) ID or a verified domain \
                (contoso.onmicrosoft.com).",
        ))
    }
}

fn validate_managed_identity_id(id: &ManagedIdentityId) -> Result<()> {
    match id {
        ManagedIdentityId::SystemAssigned => Ok(()),
        ManagedIdentityId::ClientId(v) => validate_guid(
            v,
            "ManagedIdentityClientId",
            "the user-assigned managed identity's Client ID",
        )
        .map(drop),
        ManagedIdentityId::ObjectId(v) => validate_guid(
            v,
            "ManagedIdentityObjectId",
            "the user-assigned managed identity's Object (principal) ID",
        )
        .map(drop),
        ManagedIdentityId::ResourceId(v) => {
            let lower = v.to_ascii_lowercase();
            if lower.starts_with("/subscriptions/")
                && lower.contains("/providers/microsoft.managedidentity/userassignedidentities/")
            {
                Ok(())
            } else {
                Err(Error::config(ErrorCode::InvalidConfig, format!("managed identity resource \
                    id '{}' is not a user-assigned identity's ARM id", echo(v)))
                    .with_remedy("Use \
                        /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>."))
            }
        }
    }
}

fn validate_audience(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "token exchange audience '{}' \
            is empty or has spaces",
                echo(v)
            ),
        )
        .with_remedy(
            "Leave TokenExchangeUrl unset (api://AzureADTokenExchange) unless your \
                cloud documents another.",
        ));
    }
    Ok(v.trim_end_matches("/.default").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const C: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn builder_validates_ids() {
        let ok = CredentialBuilder::new()
            .tenant_id(T)
            .client_id(C)
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap();
        assert_eq!(ok.default_audience, "api://AzureADTokenExchange");
        let e = CredentialBuilder::new()
            .tenant_id("YOUR_TENANT_ID")
            .client_id(C)
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("placeholder"), "{e}");
        let e = CredentialBuilder::new()
            .tenant_id("common")
            .client_id(C)
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("specific tenant"), "{e}");
        let e = CredentialBuilder::new()
            .tenant_id(T)
            .client_id("not-a-guid")
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        let e = CredentialBuilder::new()
            .tenant_id(T)
            .client_id(C)
            .validate()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::MissingConfig);
        let e = CredentialBuilder::new()
            .client_id(C)
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("AZURE_TENANT_ID"), "{e}");
        let e = CredentialBuilder::new()
            .tenant_id(T)
            .client_id(C)
            .managed_identity(ManagedIdentityId::ResourceId(
                "/subscriptions/x/resourceGroups/y".into(),
            ))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("userAssignedIdentities"), "{e}");
        assert!(
            CredentialBuilder::new()
                .tenant_id("contoso.onmicrosoft.com")
                .client_id(C)
                .managed_identity(ManagedIdentityId::SystemAssigned)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn sovereign_authority_changes_the_default_audience() {
        let o = CredentialBuilder::new()
            .tenant_id(T)
            .client_id(C)
            .authority_host("https://login.microsoftonline.us/")
            .managed_identity(ManagedIdentityId::SystemAssigned)
            .validate()
            .unwrap();
        assert_eq!(o.default_audience, "api://AzureADTokenExchangeUSGov");
    }
}
