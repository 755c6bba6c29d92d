//! A managed-identity token used as the client assertion of the token exchange: reused while it
//! has more than a margin left, fetched once for any number of concurrent exchanges, dropped as
//! soon as Entra says it is no good, and never asked for while the endpoint's `Retry-After` holds.

use std::sync::{Arc, Mutex};

use crate::cache::hold::{Hold, HoldRule};
use crate::cache::singleflight::SingleFlight;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::stats::UpstreamCounters;
use crate::managed_identity::{ManagedIdentityClient, ManagedIdentityToken};
use crate::retry::{RetryPolicy, with_retries};
use crate::support::clock::Clock;

/// Entra's answers that condemn the assertion itself, not the app's set-up: outside its valid
/// time range (700024), signature not verifiable (700027), not a valid JWT (50027). A new
/// managed-identity token may well be accepted; the same one never will.
pub(crate) const ASSERTION_REJECTED_AADSTS: &[u32] = &[700024, 700027, 50027];

pub(crate) struct ManagedIdentityAssertion {
    pub client: ManagedIdentityClient,
    pub audience: String,
    /// Reused only with more than this many seconds left (AADSTS700024 otherwise).
    margin: i64,
    retry: RetryPolicy,
    /// The credential's upstream counters: every request to the endpoint is counted.
    counters: Arc<UpstreamCounters>,
    current: Mutex<Option<ManagedIdentityToken>>,
    /// The endpoint's Retry-After, shared by every scope of the credential: while it lasts
    /// nothing is sent to the endpoint ([`hold`](crate::cache::hold); outages are held by the cache slots above).
    hold: Hold,
    flight: SingleFlight<Fetched>,
}

/// A token, and whether it was fetched for this request (rather than reused).
#[derive(Clone, Debug)]
pub(crate) struct Fetched {
    pub token: ManagedIdentityToken,
    pub fresh: bool,
}

impl ManagedIdentityAssertion {
    pub(crate) fn new(
        client: ManagedIdentityClient,
        audience: String,
        margin: i64,
        retry: RetryPolicy,
        counters: Arc<UpstreamCounters>,
    ) -> Self {
        ManagedIdentityAssertion {
            client,
            audience,
            margin,
            retry,
            counters,
            current: Mutex::new(None),
            hold: Hold::new(HoldRule::RETRY_AFTER_ONLY),
            flight: SingleFlight::named("assertion"),
        }
    }

    fn reusable(&self, now: i64) -> Option<ManagedIdentityToken> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|t| t.expires_on - now > self.margin)
            .cloned()
    }

    /// Entra refused `token` as an assertion: forget it, so that the next exchange presents a
    /// new one.
    pub(crate) fn reject(&self, token: &ManagedIdentityToken) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current
            .as_ref()
            .is_some_and(|t| t.token.expose() == token.token.expose())
        {
            log::info!("certless: dropping the managed-identity token Entra refused as assertion");
            *current = None;
        }
    }

    /// The assertion to present now: the one in hand while it lasts, else a new one.
    pub(crate) async fn assertion(
        self: &Arc<Self>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Fetched> {
        let now = clock.now_unix();
        if let Some(token) = self.reusable(now) {
            return Ok(Fetched {
                token,
                fresh: false,
            });
        }
        if let Some((error, left)) = self.hold.held(now) {
            return Err(error.with_retry_after(Some(left)));
        }
        let this = Arc::clone(self);
        self.flight
            .run(move || async move {
                if let Some(token) = this.reusable(clock.now_unix()) {
                    return Ok(Fetched {
                        token,
                        fresh: false,
                    });
                }
                let fetched = this.fetch(&http, clock.as_ref()).await;
                match &fetched {
                    Ok(_) => this.hold.succeeded(),
                    Err(error) => {
                        this.hold.failed(error, clock.now_unix());
                    }
                }
                fetched.map(|token| Fetched { token, fresh: true })
            })
            .await
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        clock: &dyn Clock,
    ) -> Result<ManagedIdentityToken> {
        let source = self.client.selection().source;
        let what = format!("the {source} managed-identity request");
        crate::telemetry::annotate("certless.managed_identity.source", source.as_str());
        let fresh = with_retries(&self.retry, clock, &what, || async {
            let attempt = self
                .client
                .fetch(http, &self.audience, clock.now_unix())
                .await;
            self.counters.managed_identity.record(&attempt);
            crate::telemetry::record_upstream(
                crate::telemetry::Upstream::ManagedIdentity(source.as_str()),
                &attempt,
            );
            attempt
        })
        .await?;
        let left = fresh.expires_on - clock.now_unix();
        if left <= 0 {
            return Err(Error::new(
                ErrorCode::ManagedIdentityInvalidResponse,
                format!(
                    "the managed-identity endpoint returned a token that expired {}s ago by this \
                     machine's clock",
                    -left
                ),
            )
            .with_leg(Leg::ManagedIdentity)
            .with_remedy("This machine's clock is probably wrong: synchronise it (NTP)."));
        }
        if left <= self.margin {
            log::warn!(
                "certless: the managed-identity endpoint returned a token with only {left}s left; \
                 using it once"
            );
        }
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }
}
