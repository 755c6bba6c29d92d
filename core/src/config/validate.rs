//! The one validation every builder ends in, wherever its values came from: ids, tenant,
//! audience, deadline, broker settings. A value that is wrong is reported the same way whether it
//! came from a file, the environment or a setter.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::builder::{CredentialBuilder, DEFAULT_DEADLINE_SECS};
use super::source::CredentialSource;
use crate::broker::{BrokerAddress, BrokerSettings, SecretLocation};
use crate::entra::cloud::AuthorityHost;
use crate::error::{Error, ErrorCode, Result};
use crate::http::Timeouts;
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::retry::Retries;
use crate::support::clock::{Clock, SystemClock};
use crate::support::echo::echo;
use crate::support::env::{Environment, process_env, vars};

impl CredentialBuilder {
    pub(crate) fn validate(self) -> Result<ValidatedOptions> {
        let broker = self.broker_settings()?;
        // With a broker and no fallback, this process fetches nothing itself: the broker's
        // configuration decides, and the ids, when set, select among its apps.
        if broker.as_ref().is_some_and(|b| !b.fallback) {
            return self.validate_for_broker(broker);
        }
        let env = self.env.unwrap_or_else(process_env);
        let from = &self.origin;
        let tenant_id = required_tenant(self.tenant_id, from)?;
        let client_id = required_client(self.client_id, from)?;
        let authority = authority(self.authority_host.as_deref())?;
        check_sources(&self.sources, env.as_ref(), from)?;
        let sources = with_federated_token_file(self.sources, env.as_ref());
        let default_audience = match self.token_exchange_audience {
            Some(aud) => validate_audience(&aud)?,
            None => authority.default_exchange_audience().to_string(),
        };
        let ca_files = with_ca_files_from_env(self.ca_files, env.as_ref());
        let shared_cache = super::shared_cache::resolve(&self.shared_cache, env.as_ref())?;
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
            shared_cache,
        })
    }

    fn broker_settings(&self) -> Result<Option<BrokerSettings>> {
        let Some(address) = &self.broker else {
            return Ok(None);
        };
        if matches!(address, BrokerAddress::Http(_))
            && matches!(self.broker_secret, SecretLocation::None)
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
        let authority = authority(self.authority_host.as_deref())?;
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
            // The broker's own configuration decides whether tokens are shared.
            shared_cache: None,
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
    /// The shared token cache, when on.
    pub shared_cache: Option<crate::shared_cache::Settings>,
}

/// The tenant id, which must be set.
fn required_tenant(tenant_id: Option<String>, from: &str) -> Result<String> {
    let tenant_id = tenant_id.ok_or_else(|| {
        Error::config(
            ErrorCode::MissingConfig,
            format!("no tenant id in the {from}"),
        )
        .with_remedy(
            "Set TenantId (appsettings AzureAd section) or AZURE_TENANT_ID to \
                the app registration's Directory (tenant) ID.",
        )
    })?;
    validate_tenant(&tenant_id, "TenantId")
}

/// The client id, which must be set.
fn required_client(client_id: Option<String>, from: &str) -> Result<String> {
    let client_id = client_id.ok_or_else(|| {
        Error::config(
            ErrorCode::MissingConfig,
            format!("no client id in the {from}"),
        )
        .with_remedy(
            "Set ClientId (appsettings AzureAd section) or AZURE_CLIENT_ID to \
                the app registration's Application (client) ID.",
        )
    })?;
    validate_guid(
        &client_id,
        "ClientId",
        "the app registration's Application (client) ID",
    )
}

/// The login host set, else the global cloud's.
fn authority(host: Option<&str>) -> Result<AuthorityHost> {
    match host {
        Some(host) => AuthorityHost::parse(host),
        None => Ok(AuthorityHost::global()),
    }
}

/// At least one source, each complete: a managed identity's id and audience well formed, a
/// federated token file named (or in `AZURE_FEDERATED_TOKEN_FILE`), a client secret not empty.
fn check_sources(sources: &[CredentialSource], env: &dyn Environment, from: &str) -> Result<()> {
    if sources.is_empty() {
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
    for source in sources {
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
    Ok(())
}

/// The sources with a federated token file left unnamed given `AZURE_FEDERATED_TOKEN_FILE`'s.
fn with_federated_token_file(
    sources: Vec<CredentialSource>,
    env: &dyn Environment,
) -> Vec<CredentialSource> {
    sources
        .into_iter()
        .map(|source| match source {
            CredentialSource::SignedAssertionFile { path: None } => {
                CredentialSource::SignedAssertionFile {
                    path: env.var(vars::AZURE_FEDERATED_TOKEN_FILE).map(PathBuf::from),
                }
            }
            other => other,
        })
        .collect()
}

/// The CA files set, then those of `CERTLESS_CA_FILE` and `SSL_CERT_FILE`.
fn with_ca_files_from_env(mut ca_files: Vec<PathBuf>, env: &dyn Environment) -> Vec<PathBuf> {
    for name in [vars::CA_FILE, vars::SSL_CERT_FILE] {
        if let Some(path) = env.var(name) {
            ca_files.push(PathBuf::from(path));
        }
    }
    ca_files
}

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
