//! The credential: the façade every host calls. It answers from the token cache, and fetches
//! through the ordered credential list ([`chain`]) once per (tenant, scope) for any number of
//! concurrent callers.

pub(crate) mod assertion_file;
mod chain;
pub(crate) mod pending;
mod refusal;
mod sources;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::broker::{BrokerAddress, BrokerClient};
use crate::cache::{CacheEntry, Lookup, Slot, TokenCache};
use crate::config::{CredentialBuilder, CredentialSourceKind, ValidatedOptions};
use crate::entra::cloud::AuthorityHost;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::stats::UpstreamStats;
use crate::http::{HttpClients, ProxySettings};
use crate::managed_identity::assertion::ManagedIdentityAssertion;
use crate::managed_identity::{ManagedIdentityId, ManagedIdentityToken, SourceSelection};
use crate::shared_cache::{Mode, Outcome, SharedCache, SharedCacheStats};
use crate::support::clock::Clock;
use crate::support::runtime;
use crate::telemetry::{self, RefreshReason};
use crate::token::scope::normalize_scopes;
pub use crate::token::{AccessToken, TokenRequestOptions};
pub(crate) use chain::CertificateFinding;
use chain::Chain;
use pending::PendingToken;

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
    /// The credential sources of this process; `None` when only a broker is asked.
    chain: Option<Chain>,
    /// A broker asked first (`CERTLESS_BROKER`).
    broker: Option<BrokerClient>,
    http: HttpClients,
    cache: TokenCache,
    /// The second level behind `cache`, shared by a farm (docs/shared-cache.md).
    shared: Option<SharedCache>,
    clock: Arc<dyn Clock>,
}

/// Why a fetch runs, which decides how the shared cache takes part.
#[derive(Clone)]
enum Fetch {
    /// A caller found nothing usable.
    Caller,
    /// A caller asked for a new token (`force_refresh`).
    Forced,
    /// A CAE challenge's claims: never shared.
    Claims(String),
    /// The proactive refresh of a token still in hand.
    Background,
}

impl CredentialBuilder {
    /// Validates everything and builds the credential (reading certificate files now, so that a
    /// mistake shows at once rather than on the first request).
    pub fn build(self) -> Result<Credential> {
        Credential::from_options(self.validate()?)
    }
}

impl crate::config::CredentialOptions {
    /// Validates everything and builds the credential.
    pub fn build(&self) -> Result<Credential> {
        self.builder()?.build()
    }
}

/// What a request that missed the cache learned, for its telemetry.
struct Miss {
    reason: RefreshReason,
    slot: Option<Arc<Slot>>,
}

/// Whether a request still has to look the cache up, or its caller has just seen it miss.
#[derive(Clone, Copy)]
enum CacheLookup {
    First,
    AlreadyMissed,
}

impl Credential {
    /// A builder, for a credential configured in code.
    pub fn builder() -> CredentialBuilder {
        CredentialBuilder::new()
    }

    /// A Microsoft.Identity.Web configuration (whole `appsettings.json` or its `AzureAd` section).
    pub fn from_config_json(json: &str) -> Result<Self> {
        CredentialBuilder::from_config_json(json)?.build()
    }

    /// [`from_config_json`](Self::from_config_json) from a file, read as .NET reads `appsettings.json`.
    pub fn from_config_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        CredentialBuilder::from_config_file(path)?.build()
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, ... (see [`crate::support::env::vars`]).
    pub fn from_env() -> Result<Self> {
        CredentialBuilder::from_env()?.build()
    }

    pub(crate) fn from_options(o: ValidatedOptions) -> Result<Self> {
        crate::telemetry::init();
        let chain = match (&o.broker, o.sources.is_empty()) {
            (Some(_), true) => None,
            _ => Some(Chain::new(&o)?),
        };
        let http = HttpClients::new(
            o.timeouts,
            o.ca_files.clone(),
            ProxySettings::from_env(o.env.as_ref()),
            chain.as_ref().and_then(Chain::pinned_certificate),
        )?;
        let client_id = (!o.client_id.is_empty()).then(|| o.client_id.clone());
        let broker = o
            .broker
            .clone()
            .map(|settings| BrokerClient::new(settings, client_id, o.deadline));
        if let Some(broker) = &broker {
            log::info!(
                "certless: tokens come from the certless broker at {}{}",
                broker.address(),
                if broker.falls_back() {
                    " (or this process, when it cannot be reached)"
                } else {
                    ""
                }
            );
        }
        let shared = match (&o.shared_cache, &chain) {
            (Some(settings), Some(chain)) => {
                let kinds: Vec<&str> = chain.kinds().iter().map(|k| k.as_str()).collect();
                let shared = SharedCache::new(
                    settings,
                    o.authority.as_str(),
                    &o.client_id,
                    kinds.join(","),
                )?;
                log::info!(
                    "certless: tokens are shared with the farm through {} (key {})",
                    shared.target(),
                    settings.keys.sealing_id()
                );
                Some(shared)
            }
            _ => None,
        };
        let credential = Credential {
            inner: Arc::new(Inner {
                tenant_id: o.tenant_id,
                client_id: o.client_id,
                authority: o.authority,
                origin: o.origin,
                chain,
                broker,
                http,
                cache: TokenCache::new(o.expiry_margin),
                shared,
                clock: o.clock,
            }),
        };
        if credential.inner.shared.is_some() {
            let inner = Arc::downgrade(&credential.inner);
            crate::telemetry::observe_shared_cache(move || {
                let stats = inner.upgrade()?.shared.as_ref()?.stats();
                Some(crate::telemetry::ObservedCache {
                    state: stats.state.as_str(),
                    counters: stats.all_counters().to_vec(),
                    target: stats.target,
                })
            });
        }
        Ok(credential)
    }

    /// The app registration's tenant; empty when a broker decides (no tenant configured here).
    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    /// The app registration's client id; empty when a broker decides (no client id configured
    /// here).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The certless broker this credential asks for tokens, when one is configured.
    pub fn broker(&self) -> Option<&BrokerAddress> {
        self.inner.broker.as_ref().map(BrokerClient::address)
    }

    /// The requests sent upstream so far (managed-identity endpoint and Entra), by outcome;
    /// for hosts that export metrics. Requests to a broker are not counted.
    pub fn upstream_stats(&self) -> UpstreamStats {
        self.inner
            .chain
            .as_ref()
            .map(Chain::upstream_stats)
            .unwrap_or_default()
    }

    /// The shared cache checked past its breaker (for the doctor), when it is on.
    pub(crate) async fn shared_cache_checkup(&self) -> Option<crate::shared_cache::Checkup> {
        match &self.inner.shared {
            Some(shared) => Some(shared.checkup().await),
            None => None,
        }
    }

    /// The shared cache's counters and state, when it is on; for metrics and the doctor.
    pub fn shared_cache_stats(&self) -> Option<SharedCacheStats> {
        self.inner.shared.as_ref().map(SharedCache::stats)
    }

    /// What the cache holds, one entry per (tenant, scope); for hosts that export metrics.
    pub fn cache_entries(&self) -> Vec<CacheEntry> {
        self.inner.cache.slots().iter().map(|s| s.info()).collect()
    }

    /// Starts a background refresh of every cached token whose proactive refresh is due and
    /// that was used (hit or fetched by a caller) at or after `used_since` (Unix seconds), as a
    /// cache hit would: so that a long-running host (the broker) keeps its tokens fresh when no
    /// caller asks. Returns how many refreshes were started; never waits.
    pub fn refresh_due(&self, used_since: i64) -> usize {
        let now = self.inner.clock.now_unix();
        let mut started = 0;
        for slot in self.inner.cache.slots() {
            if slot.info().last_used >= used_since && slot.claim_due_refresh(now) {
                self.refresh_in_background(slot);
                started += 1;
            }
        }
        started
    }

    /// The login host, without a trailing slash.
    pub fn authority_host(&self) -> &str {
        self.inner.authority.as_str()
    }

    /// The entries of the credential list, in order (none when only a broker is asked).
    pub fn sources(&self) -> Vec<CredentialSourceKind> {
        self.inner
            .chain
            .as_ref()
            .map(Chain::kinds)
            .unwrap_or_default()
    }

    /// Where the first managed-identity entry gets its tokens, and why that source was chosen.
    pub fn managed_identity_source(&self) -> Option<&SourceSelection> {
        self.first_managed_identity()
            .map(|mi| mi.client.selection())
    }

    /// The managed-identity token the first managed-identity entry presents as its assertion
    /// (reused while it has more than the assertion margin left), for diagnostics: decode it
    /// with [`crate::token::jwt::decode_claims`] to see what a federated credential must match.
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

    /// The managed identity of the first managed-identity entry (the one presented as the
    /// app's assertion), when the credential list has one.
    pub fn managed_identity_id(&self) -> Option<&ManagedIdentityId> {
        self.first_managed_identity().map(|mi| mi.client.id())
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

    /// The configured authority (for the doctor: its cloud).
    pub(crate) fn authority(&self) -> &AuthorityHost {
        &self.inner.authority
    }

    /// GETs `url` with a bearer token through the client that reaches Entra (its proxy and CA
    /// settings), for the doctor's reads from Microsoft Graph.
    pub(crate) async fn get_with_bearer(
        &self,
        url: &str,
        bearer: &crate::support::secret::Secret,
        target: &str,
    ) -> Result<crate::http::Response> {
        let http = self.inner.http.get()?;
        crate::http::send(
            http.entra.get(url).bearer_auth(bearer.expose()),
            Leg::Resource,
            target,
        )
        .await
    }

    /// GETs `path` (with its query) from IMDS, with its `Metadata` header, when the first
    /// managed-identity entry gets its tokens from IMDS; `None` for any other source. For the
    /// doctor, which reads what the platform advertises without asking for a token.
    pub(crate) async fn probe_imds(&self, path: &str) -> Option<Result<crate::http::Response>> {
        let mi = self.first_managed_identity()?;
        if mi.client.selection().source != crate::managed_identity::ManagedIdentitySource::Imds {
            return None;
        }
        let base = crate::managed_identity::imds_base(mi.client.endpoint());
        let url = format!("{base}{path}");
        let http = match self.inner.http.get() {
            Ok(http) => http,
            Err(e) => return Some(Err(e)),
        };
        Some(
            crate::http::send(
                http.managed_identity.get(&url).header("Metadata", "true"),
                Leg::ManagedIdentity,
                &format!("IMDS {url}"),
            )
            .await,
        )
    }

    /// Each certificate entry's certificate, read without being used (for the doctor).
    pub(crate) async fn inspect_certificates(&self) -> Vec<CertificateFinding> {
        // A broker credential has no certificate entries of its own: the broker's doctor watches them.
        let (Some(chain), Ok(http)) = (&self.inner.chain, self.inner.http.get()) else {
            return Vec::new();
        };
        chain.inspect_certificates(&http, &self.inner.clock).await
    }

    fn first_managed_identity(&self) -> Option<&Arc<ManagedIdentityAssertion>> {
        self.inner.chain.as_ref()?.first_managed_identity()
    }

    /// An access token for `scopes` (one resource: `https://x/.default` or the bare resource).
    pub async fn get_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<AccessToken> {
        self.get_token_with(scopes, &TokenRequestOptions::default())
            .await
    }

    /// [`get_token`](Self::get_token) with options: claims of a CAE challenge, another tenant, a forced refresh.
    pub async fn get_token_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        if let Some(token) = self.cached_token_with(scopes, options)? {
            return Ok(token);
        }
        // Boxed: the miss's future (the single flight, telemetry's scope) is kilobytes, and a
        // cache hit would otherwise pay to lay it out (BENCHMARKS.md, "OpenTelemetry").
        Box::pin(self.get_token_after_miss(scopes, options)).await
    }

    /// [`get_token_with`](Self::get_token_with) for a caller that has just seen
    /// [`cached_token_with`](Self::cached_token_with) miss: the cache is not looked up again (a
    /// token another caller stored in between is still found, by the single flight).
    pub async fn get_token_after_miss<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let started = telemetry::request_started();
        let parent = telemetry::parse_traceparent(options.traceparent.as_deref())?;
        let mut miss = Miss {
            reason: RefreshReason::NoCachedAccessToken,
            slot: None,
        };
        let result =
            telemetry::with_parent(parent, self.fetch_after_miss(scopes, options, &mut miss)).await;
        if started.is_some() {
            let shared = miss.slot.is_some_and(|s| s.served_by_shared_cache());
            telemetry::record_request(started, &result, miss.reason, shared);
        }
        result
    }

    /// [`get_token_after_miss`](Self::get_token_after_miss) less its telemetry, which `miss`
    /// tells why the cache could not answer and which slot it fetched into.
    async fn fetch_after_miss<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
        miss: &mut Miss,
    ) -> Result<AccessToken> {
        let tenant = self.request_tenant(options)?;
        let tenant = tenant.as_ref();
        let scope = normalize_scopes(scopes)?;
        let now = self.inner.clock.now_unix();
        let slot = self.inner.cache.slot(tenant, &scope, now);
        miss.reason = if options.claims.is_some() || options.force_refresh {
            RefreshReason::ForceRefreshOrClaims
        } else if slot.held().is_some() {
            RefreshReason::Expired
        } else {
            RefreshReason::NoCachedAccessToken
        };
        miss.slot = Some(Arc::clone(&slot));
        if let Some(claims) = &options.claims {
            // A CAE challenge asks for a token with these claims, now: not shared with others.
            let fetch = Fetch::Claims(claims.clone());
            return Inner::fetch_into(Arc::clone(&self.inner), slot, fetch).await;
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
                let fetch = if force { Fetch::Forced } else { Fetch::Caller };
                Inner::fetch_into(inner, target, fetch).await
            })
            .await
    }

    /// The cached token for `scopes` if one may be handed out; never waits on the network.
    /// When the token is due for its proactive refresh, one refresh is started in the background.
    pub fn cached_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<Option<AccessToken>> {
        self.lookup(&self.inner.tenant_id, scopes)
    }

    /// [`cached_token`](Self::cached_token) for a request with options: another tenant's
    /// cache, and never a cached token when the request must bypass the cache (`claims`,
    /// `force_refresh`).
    pub fn cached_token_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<Option<AccessToken>> {
        if options.traceparent.is_some() {
            telemetry::parse_traceparent(options.traceparent.as_deref())?;
        }
        if options.force_refresh || options.claims.is_some() {
            return Ok(None);
        }
        let tenant = self.request_tenant(options)?;
        self.lookup(tenant.as_ref(), scopes)
    }

    /// The cache's answer for `scopes` in `tenant`, counted when it is a hit (telemetry).
    #[inline(always)]
    fn lookup<S: AsRef<str>>(&self, tenant: &str, scopes: &[S]) -> Result<Option<AccessToken>> {
        let started = telemetry::request_started();
        let hit = match self.exact_hit(tenant, scopes) {
            Some(token) => Some(token),
            None => self.cache_hit(tenant, &normalize_scopes(scopes)?),
        };
        if hit.is_some() {
            telemetry::record_cache_hit(started);
        }
        Ok(hit)
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
            .start(move || Inner::fetch_into(inner, target, Fetch::Background))
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
        self.get_token_blocking_after_miss(scopes, options)
    }

    /// [`get_token_blocking`](Self::get_token_blocking) for a caller that has just seen
    /// [`cached_token_with`](Self::cached_token_with) miss: no second lookup.
    pub fn get_token_blocking_after_miss<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let credential = self.clone();
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        let options = options.clone();
        runtime::block_on(async move { credential.get_token_after_miss(&scopes, &options).await })?
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
        self.spawn_request(scopes, options, CacheLookup::First, callback)
    }

    /// [`get_token_callback`](Self::get_token_callback) for a caller that has just seen
    /// [`cached_token_with`](Self::cached_token_with) miss: no second lookup.
    pub fn get_token_callback_after_miss<F>(
        &self,
        scopes: Vec<String>,
        options: TokenRequestOptions,
        callback: F,
    ) -> Result<PendingToken>
    where
        F: FnOnce(Result<AccessToken>) + Send + 'static,
    {
        self.spawn_request(scopes, options, CacheLookup::AlreadyMissed, callback)
    }

    fn spawn_request<F>(
        &self,
        scopes: Vec<String>,
        options: TokenRequestOptions,
        lookup: CacheLookup,
        callback: F,
    ) -> Result<PendingToken>
    where
        F: FnOnce(Result<AccessToken>) + Send + 'static,
    {
        let credential = self.clone();
        let request = async move {
            match lookup {
                CacheLookup::First => credential.get_token_with(&scopes, &options).await,
                CacheLookup::AlreadyMissed => {
                    credential.get_token_after_miss(&scopes, &options).await
                }
            }
        };
        pending::spawn_with_callback(request, callback)
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
    /// A background refresh does not count as a use of the token (see [`Slot::store`]).
    async fn fetch_into(inner: Arc<Inner>, slot: Arc<Slot>, fetch: Fetch) -> Result<AccessToken> {
        let background = matches!(fetch, Fetch::Background);
        let Some(trace) = telemetry::FetchTrace::start(background) else {
            return Inner::fetch_into_untraced(inner, slot, fetch).await;
        };
        let reason = match fetch {
            Fetch::Background => RefreshReason::ProactivelyRefreshed,
            Fetch::Forced | Fetch::Claims(_) => RefreshReason::ForceRefreshOrClaims,
            Fetch::Caller if slot.held().is_some() => RefreshReason::Expired,
            Fetch::Caller => RefreshReason::NoCachedAccessToken,
        };
        let result = trace
            .run(Inner::fetch_into_untraced(inner, slot, fetch))
            .await;
        trace.finish(&result, reason);
        result
    }

    /// [`fetch_into`](Self::fetch_into) less its span.
    async fn fetch_into_untraced(
        inner: Arc<Inner>,
        slot: Arc<Slot>,
        fetch: Fetch,
    ) -> Result<AccessToken> {
        let now = inner.clock.now_unix();
        let acquire = inner.acquire_shared(&slot, &fetch);
        // A service that failed the last fetch is probed, not retried: the failure hold already
        // spaces the attempts (src/hold.rs).
        let result = if slot.in_outage() {
            crate::retry::probe(acquire).await
        } else {
            acquire.await
        };
        let margin = inner.cache.margin();
        match result {
            Ok(Outcome::Token { token, fetched_at }) => {
                if matches!(fetch, Fetch::Background) {
                    if let Some(held) = slot.held() {
                        telemetry::record_refresh_lead(held.expires_on - inner.clock.now_unix());
                    }
                }
                slot.set_from_shared_cache(telemetry::in_shared_cache_fetch());
                slot.store(token.clone(), fetched_at, margin);
                if !matches!(fetch, Fetch::Background) {
                    slot.touch(inner.clock.now_unix());
                }
                Ok(token)
            }
            // Another machine is refreshing it: the token in hand stays, and the next claim of
            // the refresh (in 10 s) finds the farm's new one.
            Ok(Outcome::Deferred) => match slot.current(inner.clock.now_unix()) {
                Some(token) => Ok(token),
                None => Box::pin(Inner::fetch_into(Arc::clone(&inner), slot, Fetch::Caller)).await,
            },
            Err(error) => {
                slot.failed(&error, now);
                Err(error)
            }
        }
    }

    /// [`acquire`](Self::acquire) through the shared cache, when it is on: an entry another
    /// machine fetched, or one fetch for the farm.
    async fn acquire_shared(&self, slot: &Slot, fetch: &Fetch) -> Result<Outcome> {
        let (tenant, scope) = slot.key();
        let clock = Arc::clone(&self.clock);
        let now = move || clock.now_unix();
        let (shared, mode) = match (&self.shared, fetch) {
            (Some(shared), Fetch::Caller) => (shared, Mode::Share),
            (Some(shared), Fetch::Forced) => (shared, Mode::Replace),
            (Some(shared), Fetch::Background) => (shared, Mode::Refresh),
            (_, Fetch::Claims(claims)) => {
                let token = self.acquire(tenant, scope, Some(claims)).await?;
                return Ok(Outcome::Token {
                    token,
                    fetched_at: now(),
                });
            }
            (None, _) => {
                let token = self.acquire(tenant, scope, None).await?;
                return Ok(Outcome::Token {
                    token,
                    fetched_at: now(),
                });
            }
        };
        let margin = self.cache.margin();
        // A refresh takes only another token than the one in hand (another machine's refresh),
        // one that lives at least as long.
        let held = slot.held().filter(|_| mode == Mode::Refresh);
        let accept = move |token: &AccessToken, fetched_at: i64, now: i64| {
            now < crate::cache::usable_until(token, fetched_at, margin)
                && held
                    .as_ref()
                    .is_none_or(|h| token.token != h.token && token.expires_on >= h.expires_on)
        };
        shared
            .fetch(tenant, scope, mode, &now, &accept, || {
                self.acquire(tenant, scope, None)
            })
            .await
    }

    /// A token from the broker, or from this process's credential sources when there is no
    /// broker (or it cannot be reached and the fallback is on).
    async fn acquire(
        &self,
        tenant: &str,
        scope: &str,
        claims: Option<&str>,
    ) -> Result<AccessToken> {
        if let Some(broker) = &self.broker {
            let clock = Arc::clone(&self.clock);
            let asked = broker
                .acquire(tenant, scope, claims, move || clock.now_unix())
                .await;
            match asked {
                Err(e) if e.connect_failed() && self.chain.is_some() => log::warn!(
                    "certless: the broker at {} cannot be reached; fetching the token in this \
                     process (CERTLESS_BROKER_FALLBACK=local)",
                    broker.address()
                ),
                other => return other,
            }
        }
        let Some(chain) = &self.chain else {
            return Err(Error::internal(
                "a credential with neither a broker nor sources",
            ));
        };
        let http = self.http.get()?;
        chain
            .acquire(&http, &self.clock, tenant, scope, claims)
            .await
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("origin", &self.inner.origin)
            .field("authority", &self.inner.authority.as_str())
            .field("tenant_id", &self.inner.tenant_id)
            .field("client_id", &self.inner.client_id)
            .field("sources", &self.sources())
            .field("broker", &self.broker())
            .finish_non_exhaustive()
    }
}
