//! The credential: the ordered list of client-credential sources in front of Entra's token
//! endpoint, with a token cache.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::cloud::AuthorityHost;
use crate::config::{CredentialBuilder, CredentialSource, CredentialSourceKind, ValidatedOptions};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::exchange::{ClientAuth, TokenEndpoint};
use crate::http;
use crate::managed_identity::{ManagedIdentityClient, ManagedIdentityToken, SourceSelection, select_source};
use crate::scope::normalize_scopes;
use crate::secret::Secret;

/// A managed-identity token is reused as an assertion only while it has more than this left:
/// an assertion that expires on the way to Entra is AADSTS700024 (PROTOCOL.md §3).
pub const ASSERTION_SAFETY_MARGIN_SECS: i64 = 300;

/// An access token and what is known about it.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token. `Debug` prints no part of it.
    pub token: Secret,
    /// `Bearer`, almost always.
    pub token_type: Arc<str>,
    /// Expiry, Unix seconds.
    pub expires_on: i64,
    /// When to refresh proactively (Unix seconds), when Entra said (`refresh_in`).
    pub refresh_on: Option<i64>,
    /// Which entry of the credential list produced it.
    pub source: CredentialSourceKind,
}

/// Options of one token request, beyond the scopes.
#[derive(Clone, Debug, Default)]
pub struct TokenRequestOptions {
    /// Claims from a Continuous Access Evaluation challenge; bypasses the cache.
    pub claims: Option<String>,
    /// Another tenant than the configured one (multi-tenant apps).
    pub tenant_id: Option<String>,
    /// Ignore the cache for this call.
    pub force_refresh: bool,
}

/// Gets Entra access tokens for one app registration. Cheap to clone (an `Arc`); share one per
/// app registration across the process: it is `Send + Sync` and caches tokens.
#[derive(Clone)]
pub struct Credential {
    inner: Arc<Inner>,
}

struct Inner {
    tenant_id: String,
    client_id: String,
    authority: AuthorityHost,
    origin: String,
    chain: Vec<ChainEntry>,
    endpoint: TokenEndpoint,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
}

enum ChainEntry {
    ManagedIdentity(ManagedIdentityAssertion),
    /// A source that cannot produce a token here; its error is reported when the chain reaches it.
    Unavailable { kind: CredentialSourceKind, error: Error },
}

impl ChainEntry {
    fn kind(&self) -> CredentialSourceKind {
        match self {
            ChainEntry::ManagedIdentity(_) => CredentialSourceKind::SignedAssertionFromManagedIdentity,
            ChainEntry::Unavailable { kind, .. } => *kind,
        }
    }
}

/// A managed-identity token used as client assertion, reused while it has life left.
struct ManagedIdentityAssertion {
    client: ManagedIdentityClient,
    audience: String,
    current: Mutex<Option<ManagedIdentityToken>>,
}

impl ManagedIdentityAssertion {
    async fn assertion(&self, now: i64) -> Result<Secret> {
        if let Some(t) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if t.expires_on - now > ASSERTION_SAFETY_MARGIN_SECS {
                return Ok(t.token.clone());
            }
        }
        let fresh = self.client.fetch(&self.audience, now).await?;
        let left = fresh.expires_on - now;
        if left <= 0 {
            return Err(Error::new(
                ErrorCode::ManagedIdentityInvalidResponse,
                format!("the managed-identity endpoint returned a token that expired {}s ago by this machine's clock", -left),
            )
            .with_leg(Leg::ManagedIdentity)
            .with_remedy("This machine's clock is probably wrong: synchronise it (NTP)."));
        }
        if left <= ASSERTION_SAFETY_MARGIN_SECS {
            log::warn!("certless: the managed-identity endpoint returned a token with only {left}s left; using it once");
        }
        let token = fresh.token.clone();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        Ok(token)
    }
}

impl Credential {
    pub fn builder() -> CredentialBuilder {
        CredentialBuilder::new()
    }

    /// A Microsoft.Identity.Web configuration (whole `appsettings.json` or its `AzureAd` section).
    pub fn from_config_json(json: &str) -> Result<Self> {
        CredentialBuilder::from_config_json(json)?.build()
    }

    pub fn from_config_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        CredentialBuilder::from_config_file(path)?.build()
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, ... (see [`crate::env::vars`]).
    pub fn from_env() -> Result<Self> {
        CredentialBuilder::from_env()?.build()
    }

    pub(crate) fn from_options(o: ValidatedOptions) -> Result<Self> {
        let mi_http = http::managed_identity_client(o.timeouts)?;
        let entra_http = http::entra_client(o.timeouts, &o.ca_files)?;
        let mut chain = Vec::with_capacity(o.sources.len());
        let mut selection: Option<Result<SourceSelection>> = None;
        for source in &o.sources {
            let kind = source.kind();
            let entry = match source {
                CredentialSource::ManagedIdentity { id, token_exchange_audience } => {
                    let selection = selection.get_or_insert_with(|| select_source(o.env.as_ref(), o.managed_identity_source)).clone();
                    let audience = token_exchange_audience.clone().unwrap_or_else(|| o.default_audience.clone());
                    match selection.and_then(|s| ManagedIdentityClient::new(s, o.env.as_ref(), id.clone(), mi_http.clone())) {
                        Ok(client) => {
                            log::info!(
                                "certless: {kind}: {} managed identity via {} ({}), audience {audience}",
                                id,
                                client.selection().source,
                                client.selection().reason
                            );
                            ChainEntry::ManagedIdentity(ManagedIdentityAssertion { client, audience, current: Mutex::new(None) })
                        }
                        Err(error) => ChainEntry::Unavailable { kind, error },
                    }
                }
                CredentialSource::Unsupported { kind } => ChainEntry::Unavailable {
                    kind: *kind,
                    error: Error::config(ErrorCode::UnsupportedCredentialSource, format!("the {kind} credential source is not supported by certless yet"))
                        .with_remedy("Put a SignedAssertionFromManagedIdentity entry first in ClientCredentials; this entry is skipped."),
                },
            };
            chain.push(entry);
        }
        if chain.iter().all(|e| matches!(e, ChainEntry::Unavailable { .. })) {
            let errors: Vec<Error> = chain
                .into_iter()
                .filter_map(|e| match e {
                    ChainEntry::Unavailable { kind, error } => Some(error.with_credential_source(kind.as_str())),
                    ChainEntry::ManagedIdentity(_) => None,
                })
                .collect();
            return Err(chain_error(errors));
        }
        let endpoint = TokenEndpoint::new(entra_http, o.authority.clone(), o.client_id.clone());
        Ok(Credential {
            inner: Arc::new(Inner {
                tenant_id: o.tenant_id,
                client_id: o.client_id,
                authority: o.authority,
                origin: o.origin,
                chain,
                endpoint,
                cache: TokenCache::default(),
                clock: o.clock,
            }),
        })
    }

    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    pub fn authority_host(&self) -> &str {
        self.inner.authority.as_str()
    }

    /// An access token for `scopes` (one resource: `https://x/.default` or the bare resource).
    pub async fn get_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<AccessToken> {
        self.get_token_with(scopes, &TokenRequestOptions::default()).await
    }

    pub async fn get_token_with<S: AsRef<str>>(&self, scopes: &[S], options: &TokenRequestOptions) -> Result<AccessToken> {
        let scope = normalize_scopes(scopes)?;
        let tenant = self.request_tenant(options)?;
        let now = self.inner.clock.now_unix();
        let bypass = options.force_refresh || options.claims.is_some();
        if !bypass {
            if let Some(token) = self.inner.cache.get(tenant, &scope, now) {
                return Ok(token);
            }
        }
        let token = self.acquire(tenant, &scope, options.claims.as_deref(), now).await?;
        if options.claims.is_none() {
            self.inner.cache.insert(tenant, &scope, token.clone());
        }
        Ok(token)
    }

    /// The cached token for `scopes` if one is still valid; never touches the network.
    pub fn cached_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<Option<AccessToken>> {
        let scope = normalize_scopes(scopes)?;
        Ok(self.inner.cache.get(&self.inner.tenant_id, &scope, self.inner.clock.now_unix()))
    }

    fn request_tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str> {
        match options.tenant_id.as_deref().map(str::trim) {
            None | Some("") => Ok(&self.inner.tenant_id),
            Some(t) if t.eq_ignore_ascii_case(&self.inner.tenant_id) => Ok(&self.inner.tenant_id),
            Some(t) if t.len() <= 253 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') => Ok(t),
            Some(t) => Err(Error::config(ErrorCode::InvalidArgument, format!("tenant id '{}' is not a GUID or domain", crate::secret::scrub_server_text(t)))),
        }
    }

    async fn acquire(&self, tenant: &str, scope: &str, claims: Option<&str>, now: i64) -> Result<AccessToken> {
        let mut failures = Vec::new();
        for entry in &self.inner.chain {
            let kind = entry.kind();
            let attempt = match entry {
                ChainEntry::ManagedIdentity(mi) => match mi.assertion(now).await {
                    Ok(assertion) => self.inner.endpoint.request_token(tenant, scope, ClientAuth::Assertion(&assertion), claims, now).await,
                    Err(e) => Err(e),
                },
                ChainEntry::Unavailable { error, .. } => Err(error.clone()),
            };
            match attempt {
                Ok(issued) => {
                    if !failures.is_empty() {
                        log::warn!("certless: {kind} produced the token for {scope} after {} earlier source(s) failed", failures.len());
                    } else {
                        log::info!("certless: token for {scope} from {kind}, expires at {}", issued.expires_on);
                    }
                    return Ok(AccessToken {
                        token: issued.token,
                        token_type: issued.token_type,
                        expires_on: issued.expires_on,
                        refresh_on: issued.refresh_on,
                        source: kind,
                    });
                }
                Err(error) => {
                    log::warn!("certless: {kind} failed: {error}");
                    failures.push(error.with_credential_source(kind.as_str()));
                }
            }
        }
        Err(chain_error(failures))
    }
}

/// One failure is reported as itself; several as one error whose causes list each source's
/// failure, carrying the leg, status, AADSTS codes and ids of the most telling one.
fn chain_error(mut failures: Vec<Error>) -> Error {
    if failures.len() == 1 {
        return failures.remove(0);
    }
    let summary = Error::new(ErrorCode::AllCredentialSourcesFailed, "no source").with_causes(failures);
    let primary = summary.primary().clone();
    let mut error = Error::new(
        ErrorCode::AllCredentialSourcesFailed,
        format!("all {} credential sources failed; first: {}", summary.causes().len(), primary.message()),
    )
    .with_leg(primary.leg())
    .with_aadsts_codes(primary.aadsts_codes().to_vec())
    .with_oauth_error(primary.oauth_error().map(str::to_string))
    .with_ids(primary.trace_id().map(str::to_string), primary.correlation_id().map(str::to_string))
    .with_causes(summary.causes().to_vec());
    if let Some(status) = primary.http_status() {
        error = error.with_http_status(status);
    }
    if let Some(remedy) = primary.remedy() {
        error = error.with_remedy(remedy.to_string());
    }
    error
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<CredentialSourceKind> = self.inner.chain.iter().map(ChainEntry::kind).collect();
        f.debug_struct("Credential")
            .field("origin", &self.inner.origin)
            .field("authority", &self.inner.authority.as_str())
            .field("tenant_id", &self.inner.tenant_id)
            .field("client_id", &self.inner.client_id)
            .field("sources", &sources)
            .finish_non_exhaustive()
    }
}
