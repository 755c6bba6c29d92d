//! The ordered credential list (Id.Web's `ClientCredentials`) in front of Entra's token
//! endpoint: each entry proves the app's identity its own way — a managed-identity token, a
//! federated token file, a certificate-signed assertion, a client secret — and the first entry
//! that yields a token wins. One fetch through it has an overall deadline.
//!
//! This file runs the entries; `sources` builds them from the configuration, `refusal` explains
//! why they produced no token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::refusal::{
    chain_error, explain_certificate_refusal, explain_federation_refusal, refuses_certificate,
};
use super::sources::{ChainEntry, build_entries, is_certificate_kind};
use crate::certificate::ClientCertificate;
use crate::certificate::key_vault::KeyVaultCertificate;
use crate::config::{CredentialSourceKind, ValidatedOptions};
use crate::entra::cloud::AuthorityHost;
use crate::entra::exchange::{ClientAuth, IssuedToken, TokenEndpoint};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::stats::UpstreamCounters;
use crate::http::{Clients, PinnedServerCertificate};
use crate::managed_identity::assertion::{ASSERTION_REJECTED_AADSTS, ManagedIdentityAssertion};
use crate::retry::{RetryPolicy, with_retries};
use crate::support::clock::Clock;
use crate::token::AccessToken;

pub(crate) struct Chain {
    entries: Vec<ChainEntry>,
    endpoint: TokenEndpoint,
    authority: AuthorityHost,
    client_id: String,
    exchange_retry: RetryPolicy,
    deadline: Duration,
    counters: Arc<UpstreamCounters>,
}

/// What one certificate entry holds (see [`Chain::inspect_certificates`]).
pub(crate) struct CertificateFinding {
    pub kind: CredentialSourceKind,
    pub certificate: Result<Arc<ClientCertificate>>,
    /// Where it came from, when that says more than the kind (a Key Vault version).
    pub detail: Option<String>,
}

/// One token request as it goes through the entries: where to send, for what, and which leg it
/// is waiting on (for the error when the deadline passes).
struct Request<'a> {
    http: &'a Clients,
    clock: &'a Arc<dyn Clock>,
    tenant: &'a str,
    scope: &'a str,
    claims: Option<&'a str>,
    waiting: Waiting,
}

/// Where a fetch is, so that the deadline's error can name what it was still waiting for.
#[derive(Default)]
struct Waiting {
    /// Index of the credential-list entry being tried.
    entry: AtomicUsize,
    /// false: the entry's assertion (its managed-identity endpoint); true: Entra.
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

impl Chain {
    /// The entries of the configured sources, in order; an error when none of them can work.
    pub(super) fn new(o: &ValidatedOptions) -> Result<Chain> {
        let counters = Arc::new(UpstreamCounters::default());
        let entries = build_entries(o, &counters);
        if entries
            .iter()
            .all(|e| matches!(e, ChainEntry::Unavailable { .. }))
        {
            let errors: Vec<Error> = entries
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
        Ok(Chain {
            entries,
            endpoint: TokenEndpoint::new(o.authority.clone(), o.client_id.clone()),
            authority: o.authority.clone(),
            client_id: o.client_id.clone(),
            exchange_retry: o.retries.exchange,
            deadline: o.deadline,
            counters,
        })
    }

    /// Each certificate entry's certificate, without using it (a Key Vault certificate is read
    /// now), or why the entry has none: what the doctor reports about fallbacks.
    pub(super) async fn inspect_certificates(
        &self,
        http: &Clients,
        clock: &Arc<dyn Clock>,
    ) -> Vec<CertificateFinding> {
        let mut findings = Vec::new();
        for entry in &self.entries {
            let kind = entry.kind();
            let (certificate, detail) = match entry {
                ChainEntry::Certificate { certificate, .. } => {
                    (Ok(certificate.certificate()), None)
                }
                ChainEntry::KeyVault(vault) => match vault.certificate(http, clock).await {
                    Ok(loaded) => (
                        Ok(Arc::clone(&loaded.certificate)),
                        Some(format!("Key Vault version {}", loaded.version)),
                    ),
                    Err(e) => (Err(e), None),
                },
                ChainEntry::Unavailable { error, .. } if is_certificate_kind(kind) => {
                    (Err(error.clone()), None)
                }
                _ => continue,
            };
            findings.push(CertificateFinding {
                kind,
                certificate,
                detail,
            });
        }
        findings
    }

    /// The requests sent upstream so far, by leg and outcome.
    pub(super) fn upstream_stats(&self) -> crate::http::stats::UpstreamStats {
        self.counters.snapshot()
    }

    /// The kinds of the entries, in order.
    pub(super) fn kinds(&self) -> Vec<CredentialSourceKind> {
        self.entries.iter().map(ChainEntry::kind).collect()
    }

    /// The first managed-identity entry.
    pub(super) fn first_managed_identity(&self) -> Option<&Arc<ManagedIdentityAssertion>> {
        self.entries.iter().find_map(|e| match e {
            ChainEntry::ManagedIdentity(mi) => Some(mi),
            _ => None,
        })
    }

    /// The server certificate the managed-identity endpoint must present, when it is pinned.
    pub(super) fn pinned_certificate(&self) -> Option<Arc<PinnedServerCertificate>> {
        self.first_managed_identity()
            .and_then(|mi| mi.client.pinned_certificate().cloned())
    }

    /// A token for `scope` in `tenant` from the first entry that yields one, within the
    /// deadline.
    pub(super) async fn acquire(
        &self,
        http: &Clients,
        clock: &Arc<dyn Clock>,
        tenant: &str,
        scope: &str,
        claims: Option<&str>,
    ) -> Result<AccessToken> {
        let request = Request {
            http,
            clock,
            tenant,
            scope,
            claims,
            waiting: Waiting::default(),
        };
        match tokio::time::timeout(self.deadline, self.try_entries(&request)).await {
            Ok(result) => result,
            Err(_) => Err(self.deadline_passed(&request.waiting, tenant)),
        }
    }

    async fn try_entries(&self, request: &Request<'_>) -> Result<AccessToken> {
        let Request {
            clock,
            tenant,
            scope,
            waiting,
            ..
        } = request;
        let mut failures = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            waiting.entry(index);
            if !matches!(entry, ChainEntry::ManagedIdentity(_)) {
                waiting.entra();
            }
            let kind = entry.kind();
            let exchange = |auth: ClientAuth| async move { self.exchange(request, &auth).await };
            let attempt = match entry {
                ChainEntry::ManagedIdentity(mi) => {
                    self.exchange_managed_identity(mi, request).await
                }
                ChainEntry::AssertionFile(file) => match file.assertion(clock.now_unix()) {
                    Ok(assertion) => exchange(ClientAuth::Assertion(assertion)).await,
                    Err(e) => Err(e),
                },
                ChainEntry::ClientSecret(secret) => {
                    exchange(ClientAuth::Secret(secret.clone())).await
                }
                ChainEntry::Certificate { certificate, .. } => {
                    let endpoint = self.authority.token_endpoint(tenant);
                    match certificate.assertion(&self.client_id, &endpoint, clock.now_unix()) {
                        Ok(assertion) => exchange(ClientAuth::Assertion(assertion)).await,
                        Err(e) => Err(e),
                    }
                }
                ChainEntry::KeyVault(vault) => self.exchange_key_vault(vault, request).await,
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
                            "certless: {kind} produced the token for {scope} after {} earlier \
                             source(s) failed",
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
                        ChainEntry::Certificate { certificate, .. }
                            if refuses_certificate(&error) =>
                        {
                            certificate.rejected(clock.now_unix());
                            explain_certificate_refusal(
                                error,
                                &certificate.certificate(),
                                clock.now_unix(),
                            )
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

    /// One exchange at Entra's token endpoint, with the exchange leg's retries.
    async fn exchange(&self, request: &Request<'_>, auth: &ClientAuth) -> Result<IssuedToken> {
        let Request {
            http,
            clock,
            tenant,
            scope,
            claims,
            ..
        } = *request;
        with_retries(
            &self.exchange_retry,
            clock.as_ref(),
            "the token exchange",
            || async {
                let attempt = self
                    .endpoint
                    .request_token(&http.entra, tenant, scope, auth, claims, clock.now_unix())
                    .await;
                self.counters.exchange.record(&attempt);
                crate::telemetry::record_upstream(crate::telemetry::Upstream::Entra, &attempt);
                attempt
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
        request: &Request<'_>,
    ) -> Result<IssuedToken> {
        let Request {
            http,
            clock,
            tenant,
            waiting,
            ..
        } = request;
        let mut retried = false;
        loop {
            let fetched = mi
                .assertion(http.managed_identity.clone(), Arc::clone(clock))
                .await?;
            waiting.entra();
            crate::telemetry::record_assertion_age(&fetched.token.token, clock.now_unix());
            let auth = ClientAuth::Assertion(fetched.token.token.clone());
            let result = self.exchange(request, &auth).await;
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
                Err(error) => {
                    return Err(explain_federation_refusal(error, &fetched.token, tenant));
                }
                ok => return ok,
            }
        }
    }

    /// The exchange with an assertion signed by the Key Vault certificate. When Entra refuses
    /// it and the vault has a newer version by now (the certificate was rotated, and the app
    /// registration already holds only the new one), the exchange is tried once more with it.
    async fn exchange_key_vault(
        &self,
        vault: &Arc<KeyVaultCertificate>,
        request: &Request<'_>,
    ) -> Result<IssuedToken> {
        let Request {
            http,
            clock,
            tenant,
            ..
        } = request;
        let endpoint = self.authority.token_endpoint(tenant);
        // The version Entra refused, and its explained error.
        let mut refused: Option<(String, Error)> = None;
        loop {
            let loaded = match vault.certificate(http, clock).await {
                Ok(loaded) => loaded,
                Err(e) => return Err(refused.map_or(e, |(_, refusal)| refusal)),
            };
            let retry = refused.is_some();
            if let Some((version, refusal)) = refused.take() {
                if version == loaded.version {
                    return Err(refusal);
                }
                log::info!(
                    "certless: Key Vault has version {} now; trying it",
                    loaded.version
                );
            }
            let now = clock.now_unix();
            if let Some(warning) = loaded.certificate.expiry_warning(now) {
                log::warn!("certless: the Key Vault certificate {warning}");
            }
            let assertion = loaded.certificate.sign_assertion(
                &self.client_id,
                &endpoint,
                vault.send_x5c,
                now,
            )?;
            let auth = ClientAuth::Assertion(assertion);
            let result = self.exchange(request, &auth).await;
            match result {
                Err(error) if refuses_certificate(&error) => {
                    let error =
                        explain_certificate_refusal(error, &loaded.certificate, clock.now_unix());
                    if retry {
                        return Err(error);
                    }
                    vault.rejected(&loaded.version);
                    refused = Some((loaded.version.clone(), error));
                }
                other => return other,
            }
        }
    }

    /// The error for a fetch that ran out of time: which leg of which entry it was waiting on.
    fn deadline_passed(&self, waiting: &Waiting, tenant: &str) -> Error {
        let index = waiting.entry.load(Ordering::Relaxed);
        let entry = self.entries.get(index);
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
}
