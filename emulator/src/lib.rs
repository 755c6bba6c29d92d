//! A local, faithful emulator of Azure's managed-identity endpoints (IMDS, App Service, ...) and Entra's token endpoint,
//! with real federated-identity-credential matching, real RS256 tokens, fault injection and a skewable clock.
//!
//! It listens on 127.0.0.1 only. Every endpoint is served on the HTTP listener and, when asked for, on an HTTPS
//! listener whose CA certificate is written to `ca.pem` (MSAL-based SDKs insist on an https authority).
//!
//! # Emulated endpoints
//!
//! | endpoint | wire |
//! |---|---|
//! | IMDS | `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=\|object_id=\|msi_res_id=]`, header `Metadata: true` |
//! | App Service | `GET /msi/token?api-version=2019-08-01&resource=R[&client_id=\|principal_id=\|object_id=\|mi_res_id=]`, header `X-IDENTITY-HEADER` (also `2017-09-01` with `secret` and `clientid`) |
//! | Service Fabric | `GET /servicefabric/metadata/identity/oauth2/token?api-version=2019-07-01-preview&resource=R`, header `secret`, HTTPS listener only; its certificate's SHA-1 is `server_thumbprint` |
//! | Azure Arc | `GET /arc/metadata/identity/oauth2/token?api-version=2020-06-01&resource=R`, header `Metadata: true`: 401 with `WWW-Authenticate: Basic realm=<key file>`, then the request again with `Authorization: Basic <file contents>` (see the `arc` module) |
//! | Cloud Shell | `POST /oauth2/token` with the form `resource=R`, header `Metadata: true` |
//! | Entra token | `POST /{tenant}/oauth2/v2.0/token`, client credentials with `client_assertion` or `client_secret` |
//! | OpenID configuration | `GET /{tenant}/v2.0/.well-known/openid-configuration` |
//! | keys | `GET /{tenant}/discovery/v2.0/keys` (also `common`) |
//! | instance discovery | `GET /common/discovery/instance` |
//! | Key Vault | `GET /keyvault/{vault}/certificates/{name}[/{version}]`, `GET /keyvault/{vault}/secrets/{name}[/{version}]` with `api-version`, a bearer token this emulator issued to a managed identity of the vault's tenant for `https://vault.azure.net` (see the `key_vault` module) |
//! | SharePoint Online | `GET /sharepoint/{host}/sites/{site}/_api/web`, `GET .../_api/web/lists/getbytitle('{list}')/items[(N)]` (`{"value":[...]}`, or `{"d":{"results":[...]}}` for `Accept: application/json;odata=verbose`), `POST .../items` with the item's fields as JSON (201). A bearer token this emulator issued for `https://{host}`; `Sites.Selected` needs a site grant (see the `sharepoint` module for the 401, claims challenge and 403 answers) |
//! | Microsoft Graph site permissions | `GET /v1.0/sites/{host}:/sites/{site}` (the site and its `id`), `GET`/`POST /v1.0/sites/{site-id}/permissions` with `{"roles":["write"],"grantedToIdentities":[{"application":{"id":"..","displayName":".."}}]}` (201). No token needed |
//!
//! # Admin surface
//!
//! Everything [`RunningEmulator`] can do is also reachable over HTTP under `/_emulator/` on the same listeners, for
//! tests in other languages that start the emulator as a separate process. Admin requests are neither counted nor
//! recorded. Bad input is answered 400 with `{"error": "..."}`.
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /_emulator/info` | | [`EmulatorInfo`] |
//! | `GET /_emulator/counters`, `POST /_emulator/counters/reset` | | [`Counters`] |
//! | `GET /_emulator/requests`, `DELETE /_emulator/requests` | | list of [`RecordedRequest`] |
//! | `GET`/`POST`/`DELETE /_emulator/faults` | `{"endpoint":"imds","status":429,"retry_after":5,"delay_ms":100,"body":"malformed"\|"empty"\|"echo_credentials"\|{"custom":".."},"remaining":2,"drop_connection":false,"reset_mid_body":false,"tls_close_without_notify":false,"bom":false,"header_flood":150}` | active faults |
//! | `GET`/`POST /_emulator/time-offset` | `{"secs":-600}` | `{"secs":-600}` |
//! | `GET`/`POST /_emulator/https-http2` | `{"enabled":false}` | `{"enabled":false}`: whether new HTTPS connections are offered HTTP/2 (default) or HTTP/1.1 only |
//! | `GET`/`POST`/`DELETE /_emulator/expires-on-format` | `{"endpoint":"imds","format":"date_string"}` | formats set, by endpoint |
//! | `GET`/`PUT /_emulator/registry` | the configuration file's JSON | the registry |
//! | `POST /_emulator/verify` | `{"token":".."}` | `{"valid":true,"claims":{..}}` or `{"valid":false,"error":".."}` |
//! | `POST /_emulator/federated-token` | `{"issuer":"..","subject":"..","audience":"api://AzureADTokenExchange","lifetime_secs":3600}` | `{"token":".."}`: a token of an `external_issuers` entry (a Kubernetes service-account token) |
//! | `POST /_emulator/client-certificate` | [`ClientCertificateOptions`] (all optional) | [`IssuedClientCertificate`]: an RSA certificate, its key (PEM) and a PFX, registered on the app |
//! | `POST /_emulator/key-vault/certificates` | [`KeyVaultCertificateOptions`] (all optional) | [`KeyVaultCertificateIssued`]: a new version of a vault certificate (the vault is made if needed), registered on the app |
//! | `GET`/`POST`/`DELETE /_emulator/sharepoint/grants` | [`SiteGrant`]: `{"site":"contoso.sharepoint.com/sites/crm","app_id":"..","roles":["read"\|"write"\|"owner"\|"fullcontrol"]}` | every grant (POST replaces the app's grant on that site; DELETE removes all) |
//! | `POST /_emulator/sharepoint/revoke` | | `{"revoked_at":1765000000,"revoked_tokens":2}`: SharePoint answers every token presented so far, and any issued before `revoked_at`, with a claims challenge (Continuous Access Evaluation) |
//! | `POST /_emulator/shutdown` | | `{"ok":true}`, then the emulator stops |
//!
//! Endpoint names are `imds`, `app_service`, `service_fabric`, `cloud_shell`, `azure_arc`, `entra_token`, `openid_metadata`, `jwks`, `instance_discovery`, `key_vault`, `sharepoint`, `graph`;
//! `expires_on` formats are `number_string` (default), `number`, `date_string`, `iso8601`.
//!
//! Faults met on real networks, and how to make them here:
//!
//! | fault | body |
//! |---|---|
//! | a gateway answering 401 with the request's secret header (or the form's `client_assertion` / `client_secret`) quoted back | `{"status":401,"body":"echo_credentials"}` |
//! | a JSON body after a UTF-8 byte order mark | `{"bom":true}` |
//! | a gateway adding a cookie per backend, 150 `Set-Cookie` headers in one answer | `{"header_flood":150}` |
//! | a TLS-terminating proxy speaking HTTP/1.0: the answer ends where the connection ends, with no `close_notify` | `{"tls_close_without_notify":true}` |
//!
//! # Entra's answers
//!
//! Checked in this order, answered with Entra's error JSON and `x-ms-request-id` (the trace id); a GUID
//! `client-request-id` becomes the correlation id and is echoed.
//!
//! | failure | status | `error` | AADSTS |
//! |---|---|---|---|
//! | tenant unknown | 400 | `invalid_request` | 90002 |
//! | not POST | 400 | `invalid_request` | 900561 |
//! | `grant_type` / `client_id` / `scope` / `client_assertion_type` missing | 400 | `invalid_request` | 900144 |
//! | grant type not `client_credentials` | 400 | `unsupported_grant_type` | 70003 |
//! | app not in the tenant | 400 | `unauthorized_client` | 700016 |
//! | app disabled | 400 | `unauthorized_client` | 7000112 |
//! | scope not `{resource}/.default` | 400 | `invalid_scope` | 1002012 |
//! | scopes of several resources | 400 | `invalid_scope` | 70011 |
//! | resource unknown | 400 | `invalid_resource` | 500011 |
//! | no credential | 401 | `invalid_client` | 7000218 |
//! | wrong client secret | 401 | `invalid_client` | 7000215 |
//! | wrong `client_assertion_type` | 400 | `invalid_request` | 90011 |
//! | assertion not a JWT | 400 | `invalid_request` | 50027 |
//! | assertion not RS256 | 400 | `invalid_request` | 5002730 |
//! | app has no FIC at all | 400 | `invalid_request` | 70021 (echoes issuer, subject, audience) |
//! | no FIC with the assertion's issuer | 401 | `invalid_client` | 700211 |
//! | signature: key unknown, or does not verify | 401 | `invalid_client` | 700027 |
//! | `exp` past or `nbf` future (tolerance `assertion_clock_skew_secs`) | 401 | `invalid_client` | 700024 |
//! | no FIC with that subject / only case differs | 401 | `invalid_client` | 700213 / 7002138 |
//! | no FIC with that issuer, subject and audience | 401 | `invalid_client` | 700212 |
//! | system-assigned identity, app without `allow_system_assigned_fic` | 400 | `invalid_request` | 70021 |
//! | identity of another tenant | 401 | `invalid_client` | 700236 |
//! | certificate assertion (`iss` = the client id): no registered certificate with its `x5t#S256`/`x5t`, a bad signature, or a certificate outside its validity | 401 | `invalid_client` | 700027 |
//! | certificate assertion: `iss`/`sub` not the client id / `aud` not this token endpoint | 401 | `invalid_client` | 700021 / 700023 |
//! | certificate assertion: `exp` past or `nbf` future | 401 | `invalid_client` | 700024 |
//!
//! # Configuration
//!
//! [`EmulatorConfig`] reads the JSON of a [`Registry`] (unknown fields are errors). [`EmulatorConfig::default`] is
//! the built-in directory whose ids are the `DEFAULT_*` constants: tenant [`DEFAULT_TENANT_ID`], user-assigned
//! identity `certless-demo-mi`, a system-assigned identity, and app `certless-demo-app` whose FIC trusts
//! `certless-demo-mi` and which holds `Sites.Selected` on [`DEFAULT_SHAREPOINT_RESOURCE`] and `User.Read.All` on
//! [`GRAPH_RESOURCE`].
//!
//! ```no_run
//! use certless_emulator::{Emulator, EmulatorConfig, MiSourceKind, StartOptions};
//! let emu = Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default())?;
//! for (name, value) in emu.client_env(MiSourceKind::Imds) {
//!     println!("{name}={value}");
//! }
//! # Ok::<(), certless_emulator::EmulatorError>(())
//! ```

mod admin;
mod app_service;
mod appsettings;
mod arc;
mod client_certificate;
mod clock;
mod cloud_shell;
mod config;
mod control;
mod discovery;
mod entra;
mod entra_error;
mod error;
mod faults;
mod fic;
mod imds;
mod key_vault;
mod managed_identity;
mod router;
mod server;
mod service_fabric;
mod sharepoint;
mod site_access;
mod state;
mod tls;
mod tokens;
mod wire;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::watch;

pub use appsettings::identity_template_appsettings;
pub use client_certificate::{ClientCertificateOptions, IssuedClientCertificate};
pub use config::{
    ARM_RESOURCE, AppRegistration, DEFAULT_ACCESS_TOKEN_LIFETIME_SECS, DEFAULT_APP_CLIENT_ID,
    DEFAULT_APP_NAME, DEFAULT_APP_SERVICE_PRINCIPAL_ID, DEFAULT_APP_SERVICE_SECRET,
    DEFAULT_ASSERTION_CLOCK_SKEW_SECS, DEFAULT_FIC_NAME, DEFAULT_KUBERNETES_ISSUER,
    DEFAULT_MI_TOKEN_LIFETIME_SECS, DEFAULT_OTHER_TENANT_ID, DEFAULT_RESOURCE_GROUP,
    DEFAULT_SHAREPOINT_RESOURCE, DEFAULT_SUBSCRIPTION_ID, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID,
    DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID, DEFAULT_TENANT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID,
    DEFAULT_USER_ASSIGNED_NAME, DEFAULT_USER_ASSIGNED_OBJECT_ID, DEFAULT_VM_NAME, EmulatorConfig,
    FederatedCredential, GRAPH_RESOURCE, IdentityKind, KeyVault, ManagedIdentityInfo,
    PermissionModel, Registry, SystemAssignedIdentity, TOKEN_EXCHANGE_AUDIENCE,
    TOKEN_EXCHANGE_AUDIENCE_CHINA, TOKEN_EXCHANGE_AUDIENCE_USGOV, UserAssignedIdentity,
    VaultCertificate, VaultCertificateVersion, entra_issuer,
};
pub use control::{EmulatorInfo, MiSourceKind};
pub use error::EmulatorError;
pub use faults::{Fault, FaultBody};
pub use key_vault::{
    DEFAULT_KEY_VAULT_CERTIFICATE_NAME, DEFAULT_KEY_VAULT_NAME, KEY_VAULT_RESOURCE,
    KeyVaultCertificateIssued, KeyVaultCertificateOptions,
};
pub use managed_identity::ExpiresOnFormat;
pub use sharepoint::SHAREPOINT_APP_ID;
pub use site_access::{SiteGrant, SiteRole};
pub use state::{Counters, Endpoint, RecordedRequest};

use state::{Addresses, Journal, Shared, lock};

/// Where and how to listen.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Port of the HTTP listener on 127.0.0.1; 0 picks a free one.
    pub http_port: u16,
    /// `None`: no HTTPS listener. `Some(0)`: HTTPS on a free port.
    pub https_port: Option<u16>,
    /// Where `ca.pem` is written when HTTPS is on; default a fresh temporary directory, removed at shutdown.
    pub state_dir: Option<PathBuf>,
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Starts on 127.0.0.1 (never any other address). Must be called inside a tokio runtime; the listeners run as
    /// tasks of that runtime.
    pub async fn start(
        config: EmulatorConfig,
        opts: StartOptions,
    ) -> Result<RunningEmulator, EmulatorError> {
        config.registry.validate()?;
        let key = tokens::SigningKey::generate()?;

        let http = server::bind_loopback(opts.http_port).await?;
        let http_url = format!("http://127.0.0.1:{}", local_port(&http, opts.http_port)?);

        let mut owned_state_dir = None;
        let dir = match &opts.state_dir {
            Some(d) => d.clone(),
            None => {
                let d = std::env::temp_dir()
                    .join(format!("certless-emulator-{}", uuid::Uuid::new_v4()));
                owned_state_dir = Some(d.clone());
                d
            }
        };
        let arc_dir = dir.join("arc-tokens");
        std::fs::create_dir_all(&arc_dir).map_err(|source| EmulatorError::Io {
            action: "cannot create",
            path: arc_dir.clone(),
            source,
        })?;
        let https_http2 = Arc::new(AtomicBool::new(true));
        let (https, ca_pem_path, server_thumbprint) = match opts.https_port {
            None => (None, None, None),
            Some(port) => {
                let material = tls::generate()?;
                let listener = server::bind_loopback(port).await?;
                let ca_path = dir.join("ca.pem");
                std::fs::write(&ca_path, &material.ca_pem).map_err(|source| EmulatorError::Io {
                    action: "cannot write",
                    path: ca_path.clone(),
                    source,
                })?;
                let tls = server::Https {
                    acceptor: material.acceptor,
                    acceptor_http1: material.acceptor_http1,
                    offer_http2: https_http2.clone(),
                };
                (
                    Some((listener, tls)),
                    Some(ca_path),
                    Some(material.server_thumbprint),
                )
            }
        };
        let https_url = match &https {
            Some((listener, _)) => Some(format!("https://127.0.0.1:{}", local_port(listener, 0)?)),
            None => None,
        };

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            registry: std::sync::RwLock::new(config.registry),
            key,
            clock: clock::Clock::default(),
            counters: Mutex::new(Counters::default()),
            journal: Journal::default(),
            faults: faults::FaultTable::default(),
            expires_on: Mutex::new(Default::default()),
            addresses: Addresses {
                http_url,
                https_url,
                ca_pem_path,
                server_thumbprint,
            },
            arc: arc::ArcState::new(arc_dir),
            site_access: Default::default(),
            sharepoint_lists: Default::default(),
            https_http2,
            shutdown,
        });

        let router = router::build(shared.clone());
        server::spawn_listener(http, None, router.clone(), shutdown_rx.clone());
        if let Some((listener, tls)) = https {
            server::spawn_listener(listener, Some(tls), router, shutdown_rx);
        }
        log::info!(
            "emulator: listening on {}{}",
            shared.addresses.http_url,
            shared
                .addresses
                .https_url
                .as_deref()
                .map(|u| format!(" and {u}"))
                .unwrap_or_default()
        );
        Ok(RunningEmulator {
            inner: Arc::new(Inner {
                shared,
                owned_state_dir,
            }),
        })
    }

    /// For callers without a runtime (the CLI, plain `#[test]`s): runs the emulator on its own multi-thread runtime
    /// on a background thread, which ends when the emulator shuts down.
    pub fn start_blocking(
        config: EmulatorConfig,
        opts: StartOptions,
    ) -> Result<RunningEmulator, EmulatorError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("certless-emulator".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("certless-emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(EmulatorError::Runtime(e.to_string())));
                        return;
                    }
                };
                let started = runtime.block_on(Emulator::start(config, opts));
                let mut stopped = match &started {
                    Ok(emu) => emu.inner.shared.shutdown.subscribe(),
                    Err(_) => {
                        let _ = tx.send(started);
                        return;
                    }
                };
                if tx.send(started).is_err() {
                    return;
                }
                runtime.block_on(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            })
            .map_err(|e| EmulatorError::Runtime(e.to_string()))?;
        rx.recv().map_err(|_| {
            EmulatorError::Runtime("the emulator thread ended before starting".into())
        })?
    }
}

fn local_port(listener: &tokio::net::TcpListener, requested: u16) -> Result<u16, EmulatorError> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| EmulatorError::Bind {
            port: requested,
            source,
        })
}

/// Only managed-identity endpoints have an `expires_on` to shape.
pub(crate) fn check_expires_on_endpoint(endpoint: Endpoint) -> Result<(), String> {
    match endpoint {
        Endpoint::Imds
        | Endpoint::AppService
        | Endpoint::CloudShell
        | Endpoint::AzureArc
        | Endpoint::ServiceFabric => Ok(()),
        other => Err(format!(
            "{other:?} has no expires_on; use imds or app_service"
        )),
    }
}

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
    fn shared(&self) -> &Shared {
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
