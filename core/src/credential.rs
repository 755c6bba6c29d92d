//! The credential: the ordered list of client-credential sources in front of Entra's token
//! endpoint, behind the token cache.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::assertion_file::AssertionFile;
use crate::cache::{Lookup, Slot, TokenCache};
use crate::certificate::CertificateCredential;
use crate::clock::Clock;
use crate::cloud::AuthorityHost;
use crate::config::{CredentialBuilder, CredentialSource, CredentialSourceKind, ValidatedOptions};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::exchange::{ClientAuth, IssuedToken, TokenEndpoint};
use crate::http::{Clients, HttpClients, ProxySettings};
use crate::managed_identity::assertion::{ASSERTION_REJECTED_AADSTS, ManagedIdentityAssertion};
use crate::managed_identity::{
    ManagedIdentityClient, ManagedIdentityId, ManagedIdentityToken, SourceSelection, select_source,
};
use crate::retry::{RetryPolicy, with_retries};
use crate::runtime::{self, PendingToken};
use crate::scope::normalize_scopes;
use crate::secret::Secret;
pub use crate::token::{AccessToken, TokenRequestOptions};

/// Entra's answers about a client certificate: signature or key not accepted (700027), key
/// assertion outside its time range (700024), not for this app (700021) or endpoint (700023).
const CERTIFICATE_AADSTS: &[u32] = &[700027, 700024, 700021, 700023];

/// Gets Entra access tokens for one app registration. Cheap to clone (an `Arc`); share one per
/// app registration across the process: it is `Send + Sync`, caches tokens, and any number of
/// concurrent callers for one resource cause one request per leg.
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
    http: HttpClients,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
    exchange_retry: RetryPolicy,
    deadline: Duration,
}

/// Where a fetch is, so that the deadline's error can name what it was still waiting for.
#[derive(Default)]
struct Waiting {
    /// Index of the credential-list entry being tried.
    entry: AtomicUsize,
    /// 0: the entry's assertion (its managed-identity endpoint); 1: Entra.
    at_entra: AtomicBool,
}

impl Waiting {
    fn entry(&self, index: usize) {
        self.entry.store(index, Ordering::Relaxed);
        self.at_entra.store(false, Ordering::Relaxed);
    }

    fn entra(&self) {
        self.at_entra.store(true, Ordering::Relaxed);
    }
}

enum ChainEntry {
    ManagedIdentity(Arc<ManagedIdentityAssertion>),
    ClientSecret(Secret),
    AssertionFile(AssertionFile),
    Certificate {
        kind: CredentialSourceKind,
        certificate: CertificateCredential,
    },
    /// A source that cannot produce a token here; its error is reported when the chain reaches it.
    Unavailable {
        kind: CredentialSourceKind,
        error: Error,
    },
}

impl ChainEntry {
    fn kind(&self) -> CredentialSourceKind {
        match self {
            ChainEntry::ManagedIdentity(_) => {
                CredentialSourceKind::SignedAssertionFromManagedIdentity
            }
            ChainEntry::ClientSecret(_) => CredentialSourceKind::ClientSecret,
            ChainEntry::AssertionFile(_) => CredentialSourceKind::SignedAssertionFilePath,
            ChainEntry::Certificate { kind, .. } | ChainEntry::Unavailable { kind, .. } => *kind,
        }
    }
}

impl CredentialBuilder {
    /// Validates everything and builds the credential (reading certificate files now, so that a
    /// mistake shows at once rather than on the first request).
    pub fn build(self) -> Result<Credential> {
        Credential::from_options(self.validate()?)
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
        let mut chain = Vec::with_capacity(o.sources.len());
        let mut selection: Option<Result<SourceSelection>> = None;
        for source in &o.sources {
            let kind = source.kind();
            let entry = match source {
                CredentialSource::ManagedIdentity { id, token_exchange_audience } => {
                    let selection = selection.get_or_insert_with(|| select_source(o.env.as_ref(), o.managed_identity_source)).clone();
                    let audience = token_exchange_audience.clone().unwrap_or_else(|| o.default_audience.clone());
                    match selection.and_then(|s| ManagedIdentityClient::new(s, o.env.as_ref(), id.clone())) {
                        Ok(client) => {
                            log::info!(
                                "certless: {kind}: {id} managed identity via {} ({}), audience {audience}",
                                client.selection().source,
                                client.selection().reason
                            );
                            ChainEntry::ManagedIdentity(Arc::new(ManagedIdentityAssertion::new(
                                client,
                                audience,
                                o.assertion_margin,
                                o.retries.managed_identity,
                            )))
                        }
                        Err(error) => ChainEntry::Unavailable { kind, error },
                    }
                }
                CredentialSource::ClientSecret { secret } => ChainEntry::ClientSecret(secret.clone()),
                CredentialSource::SignedAssertionFile { path } => match path {
                    Some(path) => {
                        log::info!("certless: {kind}: federated token file {}", path.display());
                        ChainEntry::AssertionFile(AssertionFile::new(path.clone(), o.assertion_margin))
                    }
                    None => ChainEntry::Unavailable {
                        kind,
                        error: Error::config(ErrorCode::MissingConfig, "the SignedAssertionFilePath credential has no file"),
                    },
                },
                CredentialSource::Certificate { source, password } => {
                    match CertificateCredential::load(source.clone(), password.clone(), o.send_certificate_chain) {
                        Ok(certificate) => ChainEntry::Certificate { kind, certificate },
                        Err(error) => ChainEntry::Unavailable { kind, error },
                    }
                }
                CredentialSource::Unsupported { kind } => ChainEntry::Unavailable {
                    kind: *kind,
                    error: Error::config(ErrorCode::UnsupportedCredentialSource, format!("the {kind} credential source is not supported on this platform yet"))
                        .with_remedy("Use a Path entry (CertificateDiskPath: the exported .pfx) for a certificate, or put a SignedAssertionFromManagedIdentity entry first in ClientCredentials; this entry is skipped."),
                },
            };
            chain.push(entry);
        }
        if chain
            .iter()
            .all(|e| matches!(e, ChainEntry::Unavailable { .. }))
        {
            let errors: Vec<Error> = chain
                .into_iter()
                .filter_map(|e| match e {
                    ChainEntry::Unavailable { kind, error } => {
                        Some(error.with_credential_source(kind.as_str()))
                    }
                    _ => None,
                })
                .collect();
            return Err(chain_error(errors));
        }
        let pin = chain.iter().find_map(|e| match e {
            ChainEntry::ManagedIdentity(mi) => mi.client.pinned_certificate().cloned(),
            _ => None,
        });
        let http = HttpClients::new(
            o.timeouts,
            o.ca_files.clone(),
            ProxySettings::from_env(o.env.as_ref()),
            pin,
        )?;
        Ok(Credential {
            inner: Arc::new(Inner {
                endpoint: TokenEndpoint::new(o.authority.clone(), o.client_id.clone()),
                tenant_id: o.tenant_id,
                client_id: o.client_id,
                authority: o.authority,
                origin: o.origin,
                chain,
                http,
                cache: TokenCache::new(o.expiry_margin),
                clock: o.clock,
                exchange_retry: o.retries.exchange,
                deadline: o.deadline,
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

    /// The entries of the credential list, in order.
    pub fn sources(&self) -> Vec<CredentialSourceKind> {
        self.inner.chain.iter().map(ChainEntry::kind).collect()
    }

    /// Where the first managed-identity entry gets its tokens, and why that source was chosen.
    pub fn managed_identity_source(&self) -> Option<&SourceSelection> {
        self.first_managed_identity()
            .map(|mi| mi.client.selection())
    }

    /// The managed-identity token the first managed-identity entry presents as its assertion
    /// (reused while it has more than the assertion margin left), for diagnostics: decode it
    /// with [`crate::jwt::decode_claims`] to see what a federated credential must match.
    pub async fn managed_identity_assertion(&self) -> Result<ManagedIdentityToken> {
        let mi = self.first_managed_identity().ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                "the credential list has no usable SignedAssertionFromManagedIdentity entry",
            )
        })?;
        mi.assertion(
            self.inner.http.get()?.managed_identity,
            Arc::clone(&self.inner.clock),
        )
        .await
        .map(|fetched| fetched.token)
    }

    /// The first managed-identity entry's identity and token audience (for diagnostics).
    pub(crate) fn managed_identity_target(&self) -> Option<(ManagedIdentityId, String)> {
        self.first_managed_identity()
            .map(|mi| (mi.client.id().clone(), mi.audience.clone()))
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// GETs the tenant's OpenID configuration: proves Entra and the tenant are reachable, and its
    /// `Date` header tells this machine's clock skew.
    pub(crate) async fn probe_authority(&self) -> Result<crate::http::Response> {
        let url = format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            self.inner.authority.as_str(),
            self.inner.tenant_id
        );
        let http = self.inner.http.get()?;
        crate::http::send(
            http.entra.get(&url),
            Leg::Exchange,
            &format!("Entra OpenID configuration {url}"),
        )
        .await
    }

    fn first_managed_identity(&self) -> Option<&Arc<ManagedIdentityAssertion>> {
        self.inner.chain.iter().find_map(|e| match e {
            ChainEntry::ManagedIdentity(mi) => Some(mi),
            _ => None,
        })
    }

    /// An access token for `scopes` (one resource: `https://x/.default` or the bare resource).
    pub async fn get_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<AccessToken> {
        self.get_token_with(scopes, &TokenRequestOptions::default())
            .await
    }

    pub async fn get_token_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let tenant = self.request_tenant(options)?;
        let tenant = tenant.as_ref();
        let use_cache = !options.force_refresh && options.claims.is_none();
        if use_cache {
            if let Some(token) = self.exact_hit(tenant, scopes) {
                return Ok(token);
            }
        }
        let scope = normalize_scopes(scopes)?;
        if use_cache {
            if let Some(token) = self.cache_hit(tenant, &scope) {
                return Ok(token);
            }
        }
        let now = self.inner.clock.now_unix();
        let slot = self.inner.cache.slot(tenant, &scope, now);
        if let Some(claims) = &options.claims {
            // A CAE challenge asks for a token with these claims, now: not shared with others.
            return Inner::fetch_into(Arc::clone(&self.inner), slot, Some(claims.clone())).await;
        }
        if !options.force_refresh {
            if let Some(error) = slot.blocked(now) {
                return Err(error);
            }
        }
        let inner = Arc::clone(&self.inner);
        let target = Arc::clone(&slot);
        let force = options.force_refresh;
        slot.flight
            .run(move || async move {
                // A caller that arrives just as a fetch finished takes its token.
                if !force {
                    if let Some(token) = target.current(inner.clock.now_unix()) {
                        return Ok(token);
                    }
                }
                Inner::fetch_into(inner, target, None).await
            })
            .await
    }

    /// The cached token for `scopes` if one may be handed out; never waits on the network.
    /// When the token is due for its proactive refresh, one refresh is started in the background.
    pub fn cached_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<Option<AccessToken>> {
        self.cached_token_with(scopes, &TokenRequestOptions::default())
    }

    /// [`cached_token`](Self::cached_token) for a request with options: another tenant's
    /// cache, and never a cached token when the request must bypass the cache (`claims`,
    /// `force_refresh`).
    pub fn cached_token_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<Option<AccessToken>> {
        if options.force_refresh || options.claims.is_some() {
            return Ok(None);
        }
        let tenant = self.request_tenant(options)?;
        let tenant = tenant.as_ref();
        if let Some(token) = self.exact_hit(tenant, scopes) {
            return Ok(Some(token));
        }
        let scope = normalize_scopes(scopes)?;
        Ok(self.cache_hit(tenant, &scope))
    }

    /// The hot path: one scope, spelled exactly as a cached one. Cache keys are normalized
    /// scopes, so a string equal to one needs no validation.
    fn exact_hit<S: AsRef<str>>(&self, tenant: &str, scopes: &[S]) -> Option<AccessToken> {
        match scopes {
            [only] => self.cache_hit(tenant, only.as_ref()),
            _ => None,
        }
    }

    fn cache_hit(&self, tenant: &str, scope: &str) -> Option<AccessToken> {
        match self
            .inner
            .cache
            .lookup(tenant, scope, self.inner.clock.now_unix())
        {
            Lookup::Fresh(token) => Some(token),
            Lookup::RefreshDue(token, slot) => {
                self.refresh_in_background(slot);
                Some(token)
            }
            Lookup::Miss => None,
        }
    }

    fn refresh_in_background(&self, slot: Arc<Slot>) {
        let inner = Arc::clone(&self.inner);
        let target = Arc::clone(&slot);
        log::debug!("certless: refreshing a token in the background");
        if let Err(e) = slot
            .flight
            .start(move || Inner::fetch_into(inner, target, None))
        {
            log::warn!("certless: could not start a background refresh: {e}");
        }
    }

    /// [`get_token_with`](Credential::get_token_with) for callers without an async runtime:
    /// a cached token is returned at once, without entering any runtime; otherwise the calling
    /// thread waits while the request runs on the certless runtime.
    pub fn get_token_blocking<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        if let Some(token) = self.cached_token_with(scopes, options)? {
            return Ok(token);
        }
        let credential = self.clone();
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        let options = options.clone();
        runtime::block_on(async move { credential.get_token_with(&scopes, &options).await })?
    }

    /// Starts a token request on the certless runtime and returns at once. `callback` runs
    /// exactly once, on a runtime worker thread, with the token or the error (including
    /// [`ErrorCode::Cancelled`] after [`PendingToken::cancel`]).
    pub fn get_token_callback<F>(
        &self,
        scopes: Vec<String>,
        options: TokenRequestOptions,
        callback: F,
    ) -> Result<PendingToken>
    where
        F: FnOnce(Result<AccessToken>) + Send + 'static,
    {
        let credential = self.clone();
        runtime::spawn_with_callback(
            async move { credential.get_token_with(&scopes, &options).await },
            callback,
        )
    }

    /// Waits until no fetch or refresh is in flight (for tests that drive the clock).
    #[doc(hidden)]
    pub async fn settle(&self) {
        for slot in self.inner.cache.slots() {
            slot.flight.settle().await;
        }
    }

    /// The tenant of a request: the configured one, or another checked by the same rule as
    /// the configured TenantId (a GUID or a domain name; `.`, `..`, `common`, ... are refused,
    /// as they would rewrite the token URL or ask for no tenant at all).
    fn request_tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<Cow<'a, str>> {
        match options.tenant_id.as_deref().map(str::trim) {
            None | Some("") => Ok(Cow::Borrowed(&self.inner.tenant_id)),
            Some(t) if t.eq_ignore_ascii_case(&self.inner.tenant_id) => {
                Ok(Cow::Borrowed(&self.inner.tenant_id))
            }
            Some(t) => crate::config::validate_tenant(t, "the request's tenant id")
                .map(Cow::Owned)
                .map_err(|e| {
                    Error::new(ErrorCode::InvalidArgument, e.message().to_string())
                        .with_leg(Leg::Config)
                        .with_remedy(
                            "Pass the tenant's Directory (tenant) ID or a verified domain \
                             (contoso.onmicrosoft.com), or no tenant for the configured one.",
                        )
                }),
        }
    }
}

impl Inner {
    /// Fetches a token through the credential list and records the outcome in `slot`. Runs as
    /// its own task (single-flight), so it completes even if every caller went away.
    async fn fetch_into(
        inner: Arc<Inner>,
        slot: Arc<Slot>,
        claims: Option<String>,
    ) -> Result<AccessToken> {
        let now = inner.clock.now_unix();
        let (tenant, scope) = slot.key();
        let waiting = Waiting::default();
        let acquire = inner.acquire(tenant, scope, claims.as_deref(), &waiting);
        let result = match tokio::time::timeout(inner.deadline, acquire).await {
            Ok(result) => result,
            Err(_) => Err(inner.deadline_passed(&waiting, tenant)),
        };
        let margin = inner.cache.margin();
        match &result {
            Ok(token) => slot.store(token.clone(), inner.clock.now_unix(), margin),
            Err(error) => slot.failed(error, now),
        }
        result
    }

    /// The error for a fetch that ran out of time: which leg of which entry it was waiting on.
    fn deadline_passed(&self, waiting: &Waiting, tenant: &str) -> Error {
        let index = waiting.entry.load(Ordering::Relaxed);
        let entry = self.chain.get(index);
        let (code, leg, what) = match entry {
            Some(ChainEntry::ManagedIdentity(mi)) if !waiting.at_entra.load(Ordering::Relaxed) => (
                ErrorCode::ManagedIdentityTimeout,
                Leg::ManagedIdentity,
                format!(
                    "the {} managed-identity endpoint",
                    mi.client.selection().source
                ),
            ),
            _ => (
                ErrorCode::ExchangeTimeout,
                Leg::Exchange,
                format!(
                    "Entra's token endpoint {}",
                    self.authority.token_endpoint(tenant)
                ),
            ),
        };
        let mut error = Error::new(
            code,
            format!(
                "no token within the {} s deadline: still waiting for {what}",
                self.deadline.as_secs_f64()
            ),
        )
        .with_leg(leg)
        .with_remedy(
            "The endpoint accepted the request but did not answer (or kept failing) for the whole \
             deadline: check its health and the network path to it; if it is merely slow, raise the \
             deadline (the deadline option, or CERTLESS_REQUEST_DEADLINE seconds).",
        );
        if let Some(entry) = entry {
            error = error.with_credential_source(entry.kind().as_str());
        }
        error
    }

    /// One exchange at Entra's token endpoint, with the exchange leg's retries.
    async fn exchange(
        &self,
        entra: &crate::http::EntraClient,
        tenant: &str,
        scope: &str,
        auth: &ClientAuth,
        claims: Option<&str>,
    ) -> Result<IssuedToken> {
        with_retries(
            &self.exchange_retry,
            self.clock.as_ref(),
            "the token exchange",
            || {
                self.endpoint.request_token(
                    entra,
                    tenant,
                    scope,
                    auth,
                    claims,
                    self.clock.now_unix(),
                )
            },
        )
        .await
    }

    /// The exchange with a managed-identity token as assertion. When Entra condemns the
    /// assertion itself (expired, unverifiable), that token is dropped, and if it was one in
    /// hand rather than one just fetched, the exchange is tried once more with a new one: a
    /// rejected assertion is never sent again.
    async fn exchange_managed_identity(
        &self,
        mi: &Arc<ManagedIdentityAssertion>,
        http: &Clients,
        tenant: &str,
        scope: &str,
        claims: Option<&str>,
        waiting: &Waiting,
    ) -> Result<IssuedToken> {
        let mut retried = false;
        loop {
            let fetched = mi
                .assertion(http.managed_identity.clone(), Arc::clone(&self.clock))
                .await?;
            waiting.entra();
            let auth = ClientAuth::Assertion(fetched.token.token.clone());
            let result = self
                .exchange(&http.entra, tenant, scope, &auth, claims)
                .await;
            match result {
                Err(error)
                    if error
                        .aadsts_codes()
                        .iter()
                        .any(|c| ASSERTION_REJECTED_AADSTS.contains(c)) =>
                {
                    mi.reject(&fetched.token);
                    if fetched.fresh || retried {
                        return Err(error);
                    }
                    log::warn!(
                        "certless: Entra refused the managed-identity token in hand ({}); \
                         trying once more with a new one",
                        error.message()
                    );
                    retried = true;
                }
                other => return other,
            }
        }
    }

    async fn acquire(
        &self,
        tenant: &str,
        scope: &str,
        claims: Option<&str>,
        waiting: &Waiting,
    ) -> Result<AccessToken> {
        let http = self.http.get()?;
        let mut failures = Vec::new();
        for (index, entry) in self.chain.iter().enumerate() {
            waiting.entry(index);
            if !matches!(entry, ChainEntry::ManagedIdentity(_)) {
                waiting.entra();
            }
            let kind = entry.kind();
            let attempt = match entry {
                ChainEntry::ManagedIdentity(mi) => {
                    self.exchange_managed_identity(mi, &http, tenant, scope, claims, waiting)
                        .await
                }
                ChainEntry::AssertionFile(file) => match file.assertion(self.clock.now_unix()) {
                    Ok(assertion) => {
                        let auth = ClientAuth::Assertion(assertion);
                        self.exchange(&http.entra, tenant, scope, &auth, claims)
                            .await
                    }
                    Err(e) => Err(e),
                },
                ChainEntry::ClientSecret(secret) => {
                    let auth = ClientAuth::Secret(secret.clone());
                    self.exchange(&http.entra, tenant, scope, &auth, claims)
                        .await
                }
                ChainEntry::Certificate { certificate, .. } => {
                    let now = self.clock.now_unix();
                    let endpoint = self.authority.token_endpoint(tenant);
                    match certificate.assertion(&self.client_id, &endpoint, now) {
                        Ok(assertion) => {
                            let auth = ClientAuth::Assertion(assertion);
                            self.exchange(&http.entra, tenant, scope, &auth, claims)
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
                ChainEntry::Unavailable { error, .. } => Err(error.clone()),
            };
            match attempt {
                Ok(issued) => {
                    if failures.is_empty() {
                        log::info!(
                            "certless: token for {scope} from {kind}, expires at {}",
                            issued.expires_on
                        );
                    } else {
                        log::warn!(
                            "certless: {kind} produced the token for {scope} after {} earlier source(s) failed",
                            failures.len()
                        );
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
                    let error = match entry {
                        // Which certificate Entra refused, and whether it is still valid.
                        ChainEntry::Certificate { certificate, .. }
                            if error
                                .aadsts_codes()
                                .iter()
                                .any(|c| CERTIFICATE_AADSTS.contains(c)) =>
                        {
                            let context = certificate.context(self.clock.now_unix());
                            // 700027's usual remedy is about managed-identity tokens; here it is
                            // about which certificate the app registration holds.
                            let remedy = match error.remedy() {
                                Some(r) if !error.aadsts_codes().contains(&700027) => {
                                    format!("{context} {r}")
                                }
                                _ => context,
                            };
                            error.with_remedy(remedy)
                        }
                        _ => error,
                    };
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
    let unavailable = !failures.is_empty() && failures.iter().all(Error::is_unavailable);
    let summary =
        Error::new(ErrorCode::AllCredentialSourcesFailed, "no source").with_causes(failures);
    let primary = summary.primary().clone();
    let mut error = Error::new(
        ErrorCode::AllCredentialSourcesFailed,
        format!(
            "all {} credential sources failed; first: {}",
            summary.causes().len(),
            primary.message()
        ),
    )
    .with_leg(primary.leg())
    .with_aadsts_codes(primary.aadsts_codes().to_vec())
    .with_oauth_error(primary.oauth_error().map(str::to_string))
    .with_ids(
        primary.trace_id().map(str::to_string),
        primary.correlation_id().map(str::to_string),
    )
    .with_retry_after(primary.retry_after())
    .with_causes(summary.causes().to_vec());
    if let Some(status) = primary.http_status() {
        error = error.with_http_status(status);
    }
    if let Some(remedy) = primary.remedy() {
        error = error.with_remedy(remedy.to_string());
    }
    if unavailable {
        error = error.with_unavailable();
    }
    error
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("origin", &self.inner.origin)
            .field("authority", &self.inner.authority.as_str())
            .field("tenant_id", &self.inner.tenant_id)
            .field("client_id", &self.inner.client_id)
            .field("sources", &self.sources())
            .finish_non_exhaustive()
    }
}
