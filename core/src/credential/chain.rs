//! The ordered credential list (Id.Web's `ClientCredentials`) in front of Entra's token
//! endpoint: each entry proves the app's identity its own way — a managed-identity token, a
//! federated token file, a certificate-signed assertion, a client secret — and the first entry
//! that yields a token wins. One fetch through it has an overall deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::certificate::key_vault::KeyVaultCertificate;
use crate::certificate::{CertificateCredential, ClientCertificate};
use crate::config::{CertificateSource, CredentialSource, CredentialSourceKind, ValidatedOptions};
use crate::credential::assertion_file::AssertionFile;
use crate::entra::cloud::AuthorityHost;
use crate::entra::exchange::{ClientAuth, IssuedToken, TokenEndpoint};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::stats::UpstreamCounters;
use crate::http::{Clients, PinnedServerCertificate};
use crate::managed_identity::assertion::{ASSERTION_REJECTED_AADSTS, ManagedIdentityAssertion};
use crate::managed_identity::{
    ManagedIdentityClient, ManagedIdentityId, SourceSelection, select_source,
};
use crate::retry::{RetryPolicy, with_retries};
use crate::support::clock::Clock;
use crate::support::secret::Secret;
use crate::token::AccessToken;

/// Entra's answers about a client certificate: signature or key not accepted (700027), key
/// assertion outside its time range (700024), not for this app (700021) or endpoint (700023).
const CERTIFICATE_AADSTS: &[u32] = &[700027, 700024, 700021, 700023];

pub(crate) struct Chain {
    entries: Vec<ChainEntry>,
    endpoint: TokenEndpoint,
    authority: AuthorityHost,
    client_id: String,
    exchange_retry: RetryPolicy,
    deadline: Duration,
    counters: Arc<UpstreamCounters>,
}

enum ChainEntry {
    ManagedIdentity(Arc<ManagedIdentityAssertion>),
    ClientSecret(Secret),
    AssertionFile(AssertionFile),
    Certificate {
        kind: CredentialSourceKind,
        certificate: CertificateCredential,
    },
    KeyVault(Arc<KeyVaultCertificate>),
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
            ChainEntry::KeyVault(_) => CredentialSourceKind::KeyVault,
            ChainEntry::Certificate { kind, .. } | ChainEntry::Unavailable { kind, .. } => *kind,
        }
    }

    /// Builds the entry for one configured source. A source that cannot work here (no
    /// managed-identity endpoint, an unreadable certificate, ...) becomes `Unavailable`: the
    /// others may still produce tokens.
    fn new(
        source: &CredentialSource,
        o: &ValidatedOptions,
        selection: &mut Option<Result<SourceSelection>>,
        counters: &Arc<UpstreamCounters>,
    ) -> ChainEntry {
        let kind = source.kind();
        match source {
            CredentialSource::ManagedIdentity {
                id,
                token_exchange_audience,
            } => {
                let selection = selection
                    .get_or_insert_with(|| select_source(o.env.as_ref(), o.managed_identity_source))
                    .clone();
                let audience = token_exchange_audience
                    .clone()
                    .unwrap_or_else(|| o.default_audience.clone());
                let client = selection
                    .and_then(|s| ManagedIdentityClient::new(s, o.env.as_ref(), id.clone()));
                match client {
                    Ok(client) => {
                        log::info!(
                            "certless: {kind}: {id} managed identity via {} ({}), audience \
                             {audience}",
                            client.selection().source,
                            client.selection().reason
                        );
                        ChainEntry::ManagedIdentity(Arc::new(ManagedIdentityAssertion::new(
                            client,
                            audience,
                            o.assertion_margin,
                            o.retries.managed_identity,
                            Arc::clone(counters),
                        )))
                    }
                    Err(error) => ChainEntry::Unavailable { kind, error },
                }
            }
            CredentialSource::ClientSecret { secret } => ChainEntry::ClientSecret(secret.clone()),
            CredentialSource::SignedAssertionFile { path: Some(path) } => {
                log::info!("certless: {kind}: federated token file {}", path.display());
                ChainEntry::AssertionFile(AssertionFile::new(path.clone(), o.assertion_margin))
            }
            CredentialSource::SignedAssertionFile { path: None } => ChainEntry::Unavailable {
                kind,
                error: Error::config(
                    ErrorCode::MissingConfig,
                    "the SignedAssertionFilePath credential has no file",
                ),
            },
            CredentialSource::Certificate {
                source:
                    CertificateSource::KeyVault {
                        reference,
                        managed_identity,
                    },
                ..
            } => {
                // The vault is read with the identity the entry names, else the one the
                // credential list presents to Entra, else the host's own.
                let id = managed_identity.clone().unwrap_or_else(|| {
                    o.sources
                        .iter()
                        .find_map(|s| match s {
                            CredentialSource::ManagedIdentity { id, .. } => Some(id.clone()),
                            _ => None,
                        })
                        .unwrap_or(ManagedIdentityId::SystemAssigned)
                });
                let client = selection
                    .get_or_insert_with(|| select_source(o.env.as_ref(), o.managed_identity_source))
                    .clone()
                    .and_then(|s| ManagedIdentityClient::new(s, o.env.as_ref(), id.clone()));
                match client {
                    Ok(client) => {
                        log::info!(
                            "certless: {kind}: {reference:?}, read as the {id} managed identity \
                             via {}",
                            client.selection().source
                        );
                        ChainEntry::KeyVault(Arc::new(KeyVaultCertificate::new(
                            reference.clone(),
                            &o.authority,
                            client,
                            o.retries.managed_identity,
                            o.retries.exchange,
                            o.send_certificate_chain,
                        )))
                    }
                    Err(error) => ChainEntry::Unavailable { kind, error },
                }
            }
            CredentialSource::Certificate { source, password } => {
                let loaded = CertificateCredential::load(
                    source.clone(),
                    password.clone(),
                    o.send_certificate_chain,
                    Arc::clone(&o.env),
                    o.clock.now_unix(),
                );
                match loaded {
                    Ok(certificate) => ChainEntry::Certificate { kind, certificate },
                    Err(error) => ChainEntry::Unavailable { kind, error },
                }
            }
            CredentialSource::Unsupported { kind } => ChainEntry::Unavailable {
                kind: *kind,
                error: Error::config(
                    ErrorCode::UnsupportedCredentialSource,
                    format!(
                        "the {kind} credential source exists only inside a .NET application (an \
                         object or provider given in code), so certless cannot use it"
                    ),
                )
                .with_remedy(
                    "Use a Path, KeyVault or certificate-store entry for a certificate, or put a \
                     SignedAssertionFromManagedIdentity entry first in ClientCredentials; this \
                     entry is skipped.",
                ),
            },
        }
    }
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

fn is_certificate_kind(kind: CredentialSourceKind) -> bool {
    use CredentialSourceKind as K;
    matches!(
        kind,
        K::Path
            | K::Base64Encoded
            | K::KeyVault
            | K::StoreWithThumbprint
            | K::StoreWithDistinguishedName
            | K::StoreWithSubjectName
    )
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
        let mut selection = None;
        let counters = Arc::new(UpstreamCounters::default());
        let entries: Vec<ChainEntry> = o
            .sources
            .iter()
            .map(|source| ChainEntry::new(source, o, &mut selection, &counters))
            .collect();
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

/// When Entra finds no federated credential for the managed identity and the identity's own
/// token says why — a system-assigned identity (its `xms_mirid` is the host's resource, not a
/// user-assigned identity), which Entra never accepts, or an identity of another tenant — the
/// error says so first, with that fix, as `certless doctor` would.
fn explain_federation_refusal(
    error: Error,
    assertion: &crate::managed_identity::ManagedIdentityToken,
    tenant: &str,
) -> Error {
    let Some(code) = error.aadsts_codes().first().copied() else {
        return error;
    };
    let no_match = crate::entra::aadsts::NO_MATCHING_FIC.contains(&code);
    if !no_match && code != crate::entra::aadsts::CROSS_TENANT {
        return error;
    }
    let Ok(claims) = crate::token::jwt::decode_claims(assertion.token.expose()) else {
        return error;
    };
    let user_assigned = "/providers/microsoft.managedidentity/userassignedidentities/";
    match (&claims.xms_mirid, &claims.tid) {
        (Some(mirid), _) if no_match && !mirid.to_ascii_lowercase().contains(user_assigned) => {
            error
                .with_message_prefix(&format!(
                    "the managed identity is system-assigned (the identity of {}), and Entra \
                     accepts only user-assigned identities as an app's federated credential \
                     (AADSTS{code}): ",
                    crate::support::echo::echo(&host_resource(mirid))
                ))
                .with_remedy(
                    "Create a user-assigned managed identity, assign it to this host, add a \
                     federated credential for it on the app, and set ManagedIdentityClientId to \
                     its client id (`certless doctor` prints the federated credential to create).",
                )
        }
        (_, Some(tid))
            if tid.len() == 36 && tenant.len() == 36 && !tid.eq_ignore_ascii_case(tenant) =>
        {
            error
                .with_message_prefix(&format!(
                    "the managed identity is in tenant {}, the app registration in tenant {tenant} \
                 (AADSTS{code}): ",
                    crate::support::echo::echo(tid)
                ))
                .with_remedy(
                    "Use a user-assigned identity from the app's own tenant (or move the app): a \
                 federated credential trusts identities of its own tenant.",
                )
        }
        _ => error,
    }
}

/// `virtualMachines/web-01` of an ARM id `/subscriptions/.../virtualMachines/web-01`.
fn host_resource(resource_id: &str) -> String {
    let parts: Vec<&str> = resource_id
        .trim_end_matches('/')
        .rsplit('/')
        .take(2)
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// Whether Entra's answer is about the certificate (its signature, its validity, its claims).
fn refuses_certificate(error: &Error) -> bool {
    error
        .aadsts_codes()
        .iter()
        .any(|c| CERTIFICATE_AADSTS.contains(c))
}

/// Which certificate Entra refused, and whether it is still valid.
fn explain_certificate_refusal(error: Error, certificate: &ClientCertificate, now: i64) -> Error {
    let context = certificate.context(now);
    // 700027's usual remedy is about managed-identity tokens; here it is about which
    // certificate the app registration holds.
    let remedy = match error.remedy() {
        Some(r) if !error.aadsts_codes().contains(&700027) => format!("{context} {r}"),
        _ => context,
    };
    error.with_remedy(remedy)
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
