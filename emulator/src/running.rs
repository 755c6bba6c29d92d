//! A running emulator: the handle tests and the CLI hold, with the addresses to point clients at
//! and every control the admin surface offers (faults, clock, counters, registry, Key Vault,
//! SharePoint grants), and shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::appsettings::identity_template_appsettings;
use crate::client_certificate::{ClientCertificateOptions, IssuedClientCertificate};
use crate::config::{ManagedIdentityInfo, Registry};
use crate::control::{self, EmulatorInfo, MiSourceKind};
use crate::error::EmulatorError;
use crate::faults::Fault;
use crate::key_vault::{KeyVaultCertificateIssued, KeyVaultCertificateOptions};
use crate::managed_identity::{ExpiresOnFormat, check_expires_on_endpoint};
use crate::site_access::SiteGrant;
use crate::state::{Counters, Endpoint, RecordedRequest, Shared, lock};

struct Inner {
    shared: Arc<Shared>,
    owned_state_dir: Option<PathBuf>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(dir) = &self.owned_state_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A running emulator. Clones share it; dropping the last clone (or calling [`RunningEmulator::shutdown`]) stops
/// the listeners within moments.
#[derive(Clone)]
pub struct RunningEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("http_url", &self.inner.shared.addresses.http_url)
            .field("https_url", &self.inner.shared.addresses.https_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The handle of an emulator whose listeners run; `owned_state_dir` is removed at shutdown.
    pub(crate) fn new(shared: Arc<Shared>, owned_state_dir: Option<PathBuf>) -> RunningEmulator {
        RunningEmulator {
            inner: Arc::new(Inner {
                shared,
                owned_state_dir,
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn http_url(&self) -> String {
        self.shared().http_url()
    }

    /// `https://127.0.0.1:PORT` when HTTPS is on; its certificate covers 127.0.0.1 and localhost.
    pub fn https_url(&self) -> Option<String> {
        self.shared().addresses.https_url.clone()
    }

    /// The CA certificate (PEM) clients must trust for the HTTPS listener.
    /// Where the Azure Arc endpoint writes its challenge key files (certless's tests point
    /// their test-build key directory here).
    pub fn arc_key_directory(&self) -> PathBuf {
        self.shared().arc.dir.clone()
    }

    /// Real Azure Arc has only the machine's system-assigned identity and ignores a requested
    /// user-assigned one (the default here too); `true` makes it honour the request.
    pub fn set_arc_honours_selectors(&self, honour: bool) {
        self.shared()
            .arc
            .honour_selectors
            .store(honour, std::sync::atomic::Ordering::Release);
    }

    /// Where the https listener's CA certificate was written, when it runs.
    pub fn ca_pem_path(&self) -> Option<PathBuf> {
        self.shared().addresses.ca_pem_path.clone()
    }

    /// Value for `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    pub fn imds_host(&self) -> String {
        self.http_url()
    }

    /// Value for `IDENTITY_ENDPOINT`: `{http_url}/msi/token`.
    pub fn app_service_endpoint(&self) -> String {
        self.shared().app_service_endpoint()
    }

    /// Value for `IDENTITY_HEADER`.
    pub fn app_service_secret(&self) -> String {
        self.shared().registry().app_service_secret
    }

    /// Value for `AZURE_AUTHORITY_HOST` over plain HTTP.
    pub fn authority_host(&self) -> String {
        self.http_url()
    }

    /// Value for `AZURE_AUTHORITY_HOST` over HTTPS (what MSAL-based SDKs require), when HTTPS is on.
    pub fn authority_host_https(&self) -> Option<String> {
        self.https_url()
    }

    /// The directory's tenant id.
    pub fn tenant_id(&self) -> String {
        self.shared().registry().tenant_id
    }

    /// Client id of the first app in the registry (the built-in `certless-demo-app`); empty if there is none.
    pub fn default_app_client_id(&self) -> String {
        self.shared().default_app_client_id()
    }

    /// The first user-assigned identity (the built-in `certless-demo-mi`); empty fields if the registry has none.
    pub fn default_user_assigned(&self) -> ManagedIdentityInfo {
        self.shared()
            .default_user_assigned()
            .unwrap_or_else(control::no_identity)
    }

    /// [`identity_template_appsettings`] filled in for this emulator: its authority, tenant and
    /// default app, with its default user-assigned identity as the credential.
    pub fn identity_template_appsettings(&self) -> String {
        identity_template_appsettings(
            &self.authority_host(),
            &self.tenant_id(),
            &self.default_app_client_id(),
            &self.default_user_assigned().client_id,
        )
    }

    /// The host's system-assigned identity, if it has one.
    pub fn system_assigned(&self) -> Option<ManagedIdentityInfo> {
        self.shared().registry().system_assigned_info()
    }

    /// Environment for a client process: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST` (the HTTPS
    /// listener when on, else HTTP), `CERTLESS_MANAGED_IDENTITY_CLIENT_ID`, and `AZURE_POD_IDENTITY_AUTHORITY_HOST`
    /// (IMDS) or `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service).
    pub fn client_env(&self, source: MiSourceKind) -> Vec<(String, String)> {
        self.shared().client_env(source)
    }

    /// Everything `GET /_emulator/info` reports.
    pub fn info(&self) -> EmulatorInfo {
        self.shared().info()
    }

    /// Requests per endpoint so far.
    pub fn counters(&self) -> Counters {
        lock(&self.shared().counters).clone()
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        *lock(&self.shared().counters) = Counters::default();
    }

    /// Requests seen so far (the last 1000), credentials redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared().journal.all()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared().journal.clear();
    }

    /// Replaces the endpoint's fault.
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared().faults.set(endpoint, fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared().faults.clear();
    }

    /// Whether the HTTPS listener offers HTTP/2 (ALPN) to new connections: on by default, as Entra does; off, it
    /// speaks HTTP/1.1 only, as many TLS-inspecting proxies do. Open connections keep their protocol.
    pub fn set_https_http2(&self, enabled: bool) {
        self.shared().https_http2.store(enabled, Ordering::Relaxed);
    }

    /// Skews the emulator's clock by `secs` (negative: the past) for everything it issues and checks.
    pub fn set_time_offset(&self, secs: i64) {
        self.shared().clock.set_offset(secs);
    }

    /// Shape of `expires_on` for a managed-identity endpoint (`Endpoint::Imds` or `Endpoint::AppService`).
    pub fn set_expires_on_format(
        &self,
        endpoint: Endpoint,
        format: ExpiresOnFormat,
    ) -> Result<(), EmulatorError> {
        check_expires_on_endpoint(endpoint).map_err(EmulatorError::Config)?;
        lock(&self.shared().expires_on).insert(endpoint, format);
        Ok(())
    }

    /// Back to each endpoint's own `expires_on` shape.
    pub fn reset_expires_on_formats(&self) {
        lock(&self.shared().expires_on).clear();
    }

    /// A snapshot of the registry.
    pub fn registry(&self) -> Registry {
        self.shared().registry()
    }

    /// Changes the registry in place (e.g. a FIC's subject); takes effect for the next request. Not validated, so
    /// tests can seed broken setups.
    /// Makes an RSA client certificate (PEM, and a PFX with the given password) and adds it to an app registration's
    /// certificates, so that assertions its key signs authenticate the app.
    pub fn issue_client_certificate(
        &self,
        options: &ClientCertificateOptions,
    ) -> Result<IssuedClientCertificate, EmulatorError> {
        self.inner.shared.issue_client_certificate(options)
    }

    /// Puts a new version of a certificate in a Key Vault (creating the vault if needed): made and registered on the
    /// app as [`issue_client_certificate`](Self::issue_client_certificate) does.
    pub fn add_key_vault_certificate(
        &self,
        options: &KeyVaultCertificateOptions,
    ) -> Result<KeyVaultCertificateIssued, EmulatorError> {
        self.inner.shared.add_key_vault_certificate(options)
    }

    /// The URL of the vault named `name` (`{http_url}/keyvault/{name}`), for `KeyVaultUrl`.
    pub fn key_vault_url(&self, name: &str) -> String {
        self.shared().key_vault_url(name)
    }

    /// The SharePoint stand-in's URL for a site given as `{host}/sites/{name}`:
    /// `{http_url}/sharepoint/{host}/sites/{name}`, to which a client appends `/_api/...`.
    pub fn sharepoint_site_url(&self, site: &str) -> String {
        self.shared().sharepoint_site_url(site)
    }

    /// Grants an app a role on a site, as Graph's `POST /v1.0/sites/{site-id}/permissions` does for an app with
    /// `Sites.Selected`; replaces the app's earlier grant on that site. Returns the grant with its permission id.
    pub fn grant_site(&self, grant: SiteGrant) -> Result<SiteGrant, EmulatorError> {
        self.shared()
            .site_access
            .grant(grant)
            .map_err(EmulatorError::Config)
    }

    /// Every site grant.
    pub fn site_grants(&self) -> Vec<SiteGrant> {
        self.shared().site_access.grants()
    }

    /// Removes every site grant.
    pub fn clear_site_grants(&self) {
        self.shared().site_access.clear_grants();
    }

    /// Continuous Access Evaluation: SharePoint refuses every token presented so far, and every token issued
    /// before now, with a claims challenge. Returns the revocation time (Unix seconds, the emulator's clock).
    pub fn revoke_sharepoint_tokens(&self) -> i64 {
        let now = self.shared().clock.now();
        self.shared().site_access.revoke(now);
        now
    }

    /// Changes the directory in place (identities, apps, federated credentials) while it runs.
    pub fn update_registry(&self, f: impl FnOnce(&mut Registry)) {
        self.shared().update_registry(f);
    }

    /// Verifies a token this emulator issued (signature, `exp`, `nbf` against its clock); returns its claims.
    pub fn verify_access_token(&self, jwt: &str) -> Result<Value, EmulatorError> {
        self.shared().verify_access_token(jwt)
    }

    /// Mints a token of an external issuer the registry lists (`external_issuers`), as a
    /// Kubernetes cluster writes into `AZURE_FEDERATED_TOKEN_FILE`; negative lifetimes make
    /// expired tokens.
    pub fn mint_federated_token(
        &self,
        issuer: &str,
        subject: &str,
        audience: &str,
        lifetime_secs: i64,
    ) -> Result<String, EmulatorError> {
        self.shared()
            .mint_federated_token(issuer, subject, audience, lifetime_secs)
    }

    /// Stops the listeners and open connections (all clones are affected). Returns at once.
    pub fn shutdown(&self) {
        self.shared().shutdown.send_replace(true);
    }

    /// Whether the emulator has been shut down (by a handle or by `POST /_emulator/shutdown`).
    pub fn is_shut_down(&self) -> bool {
        *self.shared().shutdown.borrow()
    }

    /// Resolves when the emulator is shut down, e.g. by `POST /_emulator/shutdown` (for a CLI that runs until then).
    pub async fn wait_for_shutdown(&self) {
        let mut rx = self.shared().shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}
