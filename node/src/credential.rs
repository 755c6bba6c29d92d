//! `NativeCredential`: core's `Credential` for the JS layer. A cache hit is answered
//! synchronously (`cachedTokenInto`, `cachedToken`); anything else runs on certless's runtime
//! and settles a Promise.

use std::sync::{Arc, Mutex};

use certless::{Credential, CredentialSourceKind, TokenRequestOptions};
use napi::bindgen_prelude::{Either, Float64ArraySlice, Object, ToNapiValue, TypeName};
use napi::{Env, JsDeferred};
use napi::{ValueType, sys};
use napi_derive::napi;

use crate::config::credential_options;
use crate::error::ErrorInfo;
use crate::runtime::TokenRequest;

/// An access token in @azure/core-auth's shape (times in milliseconds since the epoch).
#[napi(object)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// When it expires, in milliseconds since the epoch.
    pub expires_on_timestamp: f64,
    /// When to refresh it proactively, in milliseconds since the epoch, when Entra said.
    pub refresh_after_timestamp: Option<f64>,
    /// `Bearer` (typed as @azure/core-auth's union).
    #[napi(ts_type = "'Bearer' | 'pop'")]
    pub token_type: String,
    /// The credential source that produced it (`SignedAssertionFromManagedIdentity`).
    pub source: String,
}

/// The bearer token on its way to JS, copied once, straight from core's buffer into a V8
/// string: a JWT is ASCII, which V8 takes byte for byte (Latin-1) without decoding UTF-8.
pub struct TokenString(certless::Secret);

impl TypeName for TokenString {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for TokenString {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let token = val.0.expose();
        if !token.is_ascii() {
            // SAFETY: forwarded unchanged from napi's own call of this function.
            return unsafe { <&str>::to_napi_value(env, token) };
        }
        let mut value = std::ptr::null_mut();
        // SAFETY: `env` is the live environment of this call, the pointer and length describe
        // `token`, which outlives the call, and V8 copies the bytes before returning.
        let status = unsafe {
            sys::napi_create_string_latin1(
                env,
                token.as_ptr().cast(),
                token.len() as isize,
                &mut value,
            )
        };
        if status == sys::Status::napi_ok {
            Ok(value)
        } else {
            Err(napi::Error::new(
                napi::Status::from(status),
                "cannot create the token string",
            ))
        }
    }
}

/// What the shared cache did since the credential was made, and its breaker's state now. Counts
/// are numbers (exact below 2^53).
#[napi(object)]
pub struct SharedCacheStats {
    /// Where Redis is: its address (a server, Sentinel's or a cluster's), never a user or password.
    pub target: String,
    /// The circuit breaker: `closed` (Redis answers), `open` (not asked until the cool-down ends;
    /// tokens still come from Entra) or `half_open` (one probe is out).
    #[napi(ts_type = "'closed' | 'open' | 'half_open'")]
    pub state: String,
    /// Reads that found a usable entry.
    pub hit: f64,
    /// Reads that found none.
    pub miss: f64,
    /// Entries that did not open (tampered with, or sealed under another key with the same id).
    pub rejected: f64,
    /// Entries sealed under a key id this process does not have.
    pub unknown_key: f64,
    /// Commands that failed.
    pub error: f64,
    /// Reads not answered within the read budget.
    pub over_budget: f64,
    /// Commands not sent because the breaker was open.
    pub skipped: f64,
    /// Entries and lease releases written.
    pub write: f64,
    /// Writes that failed.
    pub write_failure: f64,
    /// Commands refused because Redis is full.
    pub full: f64,
    /// Leases this process took (it fetched for the farm).
    pub lease_won: f64,
    /// Fetches that waited for another machine's lease.
    pub lease_wait: f64,
    /// Waits that reached their bound (the process then fetched for itself).
    pub lease_timeout: f64,
    /// How many times the breaker opened.
    pub breaker_opened: f64,
}

impl From<&certless::shared_cache::SharedCacheStats> for SharedCacheStats {
    fn from(s: &certless::shared_cache::SharedCacheStats) -> Self {
        // Counts as f64: exact below 2^53, which no counter reaches.
        let n = |name: &str| s.counter(name).unwrap_or(0) as f64;
        SharedCacheStats {
            target: s.target.clone(),
            state: s.state.as_str().to_string(),
            hit: n("hit"),
            miss: n("miss"),
            rejected: n("rejected"),
            unknown_key: n("unknown_key"),
            error: n("error"),
            over_budget: n("over_budget"),
            skipped: n("skipped"),
            write: n("write"),
            write_failure: n("write_failure"),
            full: n("full"),
            lease_won: n("lease_won"),
            lease_wait: n("lease_wait"),
            lease_timeout: n("lease_timeout"),
            breaker_opened: n("breaker_opened"),
        }
    }
}

/// The names of the credential sources, indexed as `cachedTokenInto` reports them.
#[napi]
pub fn source_kinds() -> Vec<String> {
    CredentialSourceKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}

impl From<certless::AccessToken> for AccessToken {
    fn from(t: certless::AccessToken) -> Self {
        AccessToken {
            token: t.token.expose().to_string(),
            expires_on_timestamp: seconds_to_ms(t.expires_on),
            refresh_after_timestamp: t.refresh_on.map(seconds_to_ms),
            token_type: t.token_type.to_string(),
            source: t.source.as_str().to_string(),
        }
    }
}

fn seconds_to_ms(seconds: i64) -> f64 {
    seconds as f64 * 1000.0
}

/// What a request settles with (the JS layer raises the error). Signatures spell the type out
/// so that the generated declarations do too.
type Outcome = Either<AccessToken, ErrorInfo>;

fn outcome(result: certless::Result<certless::AccessToken>) -> Outcome {
    match result {
        Ok(token) => Either::A(token.into()),
        Err(error) => Either::B(error.into()),
    }
}

/// What a factory returns: the credential, or why there is none.
fn built(result: certless::Result<Credential>) -> Either<NativeCredential, ErrorInfo> {
    match result {
        Ok(inner) => Either::A(NativeCredential { inner }),
        Err(error) => Either::B(error.into()),
    }
}

fn scope_list(scopes: Either<String, Vec<String>>) -> Vec<String> {
    match scopes {
        Either::A(one) => vec![one],
        Either::B(many) => many,
    }
}

type Resolver = Box<dyn FnOnce(Env) -> napi::Result<Outcome> + Send>;

/// The deferred promise of one request, settled exactly once: by core's callback, or here when
/// the request could not even start.
#[derive(Clone)]
struct Settle(Arc<Mutex<Option<JsDeferred<Outcome, Resolver>>>>);

impl Settle {
    fn settle(&self, value: Outcome) {
        if let Some(deferred) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            deferred.resolve(Box::new(move |_env| Ok(value)));
        }
    }
}

/// Gets Entra access tokens for one app registration (core `Credential`).
#[napi]
pub struct NativeCredential {
    inner: Credential,
}

#[napi]
impl NativeCredential {
    /// From the options object of `new Credential(options)`: each property is one of core's
    /// options, by name (`config.rs`).
    #[napi(catch_unwind, ts_args_type = "options: Record<string, unknown>")]
    pub fn from_options(options: Object<'_>) -> napi::Result<Either<NativeCredential, ErrorInfo>> {
        Ok(built(
            credential_options(&options)?.and_then(|options| options.build()),
        ))
    }

    /// From a Microsoft.Identity.Web configuration: a whole `appsettings.json` or its `AzureAd` section.
    #[napi(catch_unwind)]
    pub fn from_config_json(json: String) -> Either<NativeCredential, ErrorInfo> {
        built(Credential::from_config_json(&json))
    }

    /// From a Microsoft.Identity.Web configuration file.
    #[napi(catch_unwind)]
    pub fn from_config_file(path: String) -> Either<NativeCredential, ErrorInfo> {
        built(Credential::from_config_file(path))
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, ... in the process environment.
    #[napi(catch_unwind)]
    pub fn from_env() -> Either<NativeCredential, ErrorInfo> {
        built(Credential::from_env())
    }

    /// The app registration's tenant.
    #[napi(getter)]
    pub fn tenant_id(&self) -> String {
        self.inner.tenant_id().to_string()
    }

    /// The app registration's client id.
    #[napi(getter)]
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_string()
    }

    /// The entries of the credential list, in order (Microsoft.Identity.Web `SourceType` names).
    #[napi(getter)]
    pub fn sources(&self) -> Vec<String> {
        self.inner
            .sources()
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()
    }

    /// The shared cache's target, breaker state and counters, `null` when the credential has
    /// none (docs/shared-cache.md).
    #[napi(catch_unwind)]
    pub fn shared_cache_stats(&self) -> Option<SharedCacheStats> {
        self.inner
            .shared_cache_stats()
            .map(|stats| SharedCacheStats::from(&stats))
    }

    /// The cached token for a request (its `claims`, `tenantId` and `traceparent`, as for
    /// `getToken`), `null` when there is none or the request must bypass the cache (core
    /// decides); never waits on the network. An invalid scope or tenant comes back as an
    /// `ErrorInfo`.
    #[napi(catch_unwind)]
    pub fn cached_token(
        &self,
        scopes: Either<String, Vec<String>>,
        claims: Option<String>,
        tenant_id: Option<String>,
        traceparent: Option<String>,
    ) -> Option<Either<AccessToken, ErrorInfo>> {
        match self.lookup(&scopes, claims, tenant_id, traceparent) {
            Ok(hit) => hit.map(|token| Either::A(token.into())),
            Err(error) => Some(Either::B(error.into())),
        }
    }

    /// The cache-hit fast path: `cachedToken` without building an object here. Returns the token
    /// and writes into `out`: `out[0]` expiry (ms), `out[1]` refresh time (ms) or NaN, `out[2]` the
    /// index of the source in `sourceKinds()`, `out[3]` 0 for `Bearer`, 1 for `pop`, -1 for another
    /// type (the caller then uses `cachedToken`). Setting five properties through N-API costs
    /// microseconds; the JS layer builds the object in nanoseconds.
    #[napi(
        catch_unwind,
        ts_args_type = "scopes: string | Array<string>, out: Float64Array, claims?: string, tenantId?: string, traceparent?: string",
        ts_return_type = "string | ErrorInfo | null"
    )]
    pub fn cached_token_into(
        &self,
        scopes: Either<String, Vec<String>>,
        mut out: Float64ArraySlice,
        claims: Option<String>,
        tenant_id: Option<String>,
        traceparent: Option<String>,
    ) -> Option<Either<TokenString, ErrorInfo>> {
        // SAFETY: this runs on the JS thread during the call; nothing else can touch the buffer.
        let out = unsafe { out.as_mut() };
        let Some(slots) = out.get_mut(..4) else {
            return Some(Either::B(
                certless::Error::new(
                    certless::ErrorCode::InvalidArgument,
                    "cachedTokenInto needs a Float64Array(4)",
                )
                .into(),
            ));
        };
        match self.lookup(&scopes, claims, tenant_id, traceparent) {
            Ok(Some(token)) => {
                slots[0] = seconds_to_ms(token.expires_on);
                slots[1] = token.refresh_on.map_or(f64::NAN, seconds_to_ms);
                slots[2] = CredentialSourceKind::ALL
                    .iter()
                    .position(|k| *k == token.source)
                    .map_or(-1.0, |i| i as f64);
                slots[3] = match &*token.token_type {
                    "Bearer" => 0.0,
                    "pop" => 1.0,
                    _ => -1.0,
                };
                Some(Either::A(TokenString(token.token)))
            }
            Ok(None) => None,
            Err(error) => Some(Either::B(error.into())),
        }
    }

    /// Starts a token request on certless's runtime. The promise always resolves: with the token,
    /// or with an `ErrorInfo` (code 500 after `request.cancel()`). `traceparent` (W3C) makes the
    /// request's span a child of the caller's span.
    #[napi(catch_unwind, ts_return_type = "Promise<AccessToken | ErrorInfo>")]
    pub fn get_token<'env>(
        &self,
        env: &'env Env,
        scopes: Either<String, Vec<String>>,
        claims: Option<String>,
        tenant_id: Option<String>,
        request: Option<&TokenRequest>,
        traceparent: Option<String>,
    ) -> napi::Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<Outcome, Resolver>()?;
        let settle = Settle(Arc::new(Mutex::new(Some(deferred))));
        let options = TokenRequestOptions {
            claims,
            tenant_id,
            traceparent,
            ..TokenRequestOptions::default()
        };
        let done = settle.clone();
        match self
            .inner
            .get_token_callback(scope_list(scopes), options, move |result| {
                done.settle(outcome(result))
            }) {
            Ok(pending) => {
                if let Some(request) = request {
                    request.attach(pending);
                }
            }
            Err(error) => settle.settle(Either::B(error.into())),
        }
        Ok(promise)
    }
}

impl NativeCredential {
    /// Core's cache-or-fetch decision: `None` when nothing is cached or the request must bypass
    /// the cache (claims), another tenant's cache when `tenant_id` names one.
    fn lookup(
        &self,
        scopes: &Either<String, Vec<String>>,
        claims: Option<String>,
        tenant_id: Option<String>,
        traceparent: Option<String>,
    ) -> certless::Result<Option<certless::AccessToken>> {
        let options = TokenRequestOptions {
            claims,
            tenant_id,
            traceparent,
            ..TokenRequestOptions::default()
        };
        match scopes {
            Either::A(one) => self.inner.cached_token_with(&[one], &options),
            Either::B(many) => self.inner.cached_token_with(many, &options),
        }
    }
}
