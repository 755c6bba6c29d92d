//! A local, faithful emulator of Azure's managed-identity endpoints (IMDS, App Service, ...) and Entra's token endpoint,
//! with real federated-identity-credential matching, real RS256 tokens, fault injection and a skewable clock.
//!
//! It listens on 127.0.0.1 only. Every endpoint is served on the HTTP listener and, when asked for, on an HTTPS
//! listener whose CA certificate is written to `ca.pem` (MSAL-based SDKs insist on an https authority).
//!
//! # In your tests
//!
//! Start one per test (free ports, the built-in directory below), point the code under test at it
//! with [`RunningEmulator::client_env`] (the variables an Azure VM or App Service would set), and
//! read what it was asked ([`RunningEmulator::counters`], [`RunningEmulator::requests`]). It stops
//! when the last handle is dropped. [`Emulator::start`] runs it on the caller's tokio runtime;
//! [`Emulator::start_blocking`] on a runtime of its own, for tests without one. With certless, a
//! credential reads those variables from a `certless::env::MapEnv` (certless's crate docs show
//! it); here a test speaks the two legs of the flow itself:
//!
//! ```
//! use certless_emulator::{Emulator, EmulatorConfig, Endpoint, Fault, MiSourceKind, StartOptions};
//! use serde_json::Value;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let _ = rustls::crypto::ring::default_provider().install_default();
//! let emu = Emulator::start(EmulatorConfig::default(), StartOptions::default()).await?;
//! let env: std::collections::HashMap<String, String> =
//!     emu.client_env(MiSourceKind::Imds).into_iter().collect();
//! let http = reqwest::Client::new();
//!
//! // (1) IMDS: the managed identity's token for the exchange.
//! let imds_host = &env["AZURE_POD_IDENTITY_AUTHORITY_HOST"];
//! let imds = format!("{imds_host}/metadata/identity/oauth2/token");
//! let query = [
//!     ("api-version", "2018-02-01"),
//!     ("resource", "api://AzureADTokenExchange"),
//!     ("client_id", env["CERTLESS_MANAGED_IDENTITY_CLIENT_ID"].as_str()),
//! ];
//! let ask_imds = || http.get(&imds).query(&query).header("Metadata", "true").send();
//! let mi: Value = ask_imds().await?.json().await?;
//!
//! // (2) Entra: the app's token, with the managed identity's as the client assertion.
//! let form = [
//!     ("grant_type", "client_credentials"),
//!     ("client_id", env["AZURE_CLIENT_ID"].as_str()),
//!     ("scope", "https://graph.microsoft.com/.default"),
//!     ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
//!     ("client_assertion", mi["access_token"].as_str().unwrap_or_default()),
//! ];
//! let (authority, tenant) = (&env["AZURE_AUTHORITY_HOST"], &env["AZURE_TENANT_ID"]);
//! let entra = format!("{authority}/{tenant}/oauth2/v2.0/token");
//! let token: Value = http.post(&entra).form(&form).send().await?.json().await?;
//! let claims = emu.verify_access_token(token["access_token"].as_str().unwrap_or_default())?;
//! assert_eq!(claims["appid"], env["AZURE_CLIENT_ID"].as_str());
//! assert_eq!((emu.counters().imds, emu.counters().entra_token), (1, 1));
//!
//! // Faults: the next IMDS request is answered 503 with Retry-After.
//! emu.set_fault(Endpoint::Imds, Fault::http_status(503).retry_after(2).times(1));
//! assert_eq!(ask_imds().await?.status(), 503);
//! # Ok(()) }
//! ```
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
//! | Microsoft Graph directory | `GET /v1.0/applications(appId='{appId}')/federatedIdentityCredentials`, `GET /v1.0/applications/{object-id}/federatedIdentityCredentials`, `GET /v1.0/servicePrincipals/{id}`, `GET /v1.0/directoryObjects/{id}`, with a Graph bearer token that may read applications (see "Microsoft Graph's directory" below) |
//! | IMDS metadata | `GET /metadata/versions` (`{"apiVersions":[..]}`), `GET /metadata/identity/getPlatformMetadata?api-version=..` (also all lowercase; 404 unless `imds_platform_metadata`), header `Metadata: true`. Every IMDS answer carries `Server: {imds_server}` |
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
//! | `POST /_emulator/graph-token` | `{"tenant_id":"..","roles":[".."],"scp":"..","expires_in_secs":3600}` (all optional; default: the registry's tenant, `scp` `Application.Read.All User.Read`, 3600 s; `roles` alone make an app-only token, `"scp":""` none) | what `az account get-access-token --resource-type ms-graph` prints: `{"accessToken":"..","expiresOn":"2026-12-07 03:30:00.000000","expires_on":1765078200,"subscription":"..","tenant":"..","tokenType":"Bearer"}` |
//! | `POST /_emulator/sharepoint/revoke` | | `{"revoked_at":1765000000,"revoked_tokens":2}`: SharePoint answers every token presented so far, and any issued before `revoked_at`, with a claims challenge (Continuous Access Evaluation) |
//! | `POST /_emulator/shutdown` | | `{"ok":true}`, then the emulator stops |
//!
//! Endpoint names are `imds`, `app_service`, `service_fabric`, `cloud_shell`, `azure_arc`, `entra_token`, `openid_metadata`, `jwks`, `instance_discovery`, `key_vault`, `sharepoint`, `graph`, `imds_metadata`;
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
//! # Microsoft Graph's directory
//!
//! What a doctor needs to check a federated credential: the app's credentials as Graph lists them
//! (`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#applications('{objectId}')/federatedIdentityCredentials",
//! "value":[{"id","name","issuer","subject","description":null,"audiences"}]}`), and whether a subject names an
//! object that exists: `servicePrincipals/{id}` resolves the managed identities (`servicePrincipalType`
//! `ManagedIdentity`, `appId` its client id, `alternativeNames` `["isExplicit=False"|"isExplicit=True", resource id]`)
//! and the apps' service principals (`Application`); `directoryObjects/{id}` also the application objects. All of it
//! is read from the registry as it is now. An app's object id is `object_id`, or one derived from its client id.
//!
//! | failure | status | `error.code` |
//! |---|---|---|
//! | no bearer token, a signature that does not verify, expired or not yet valid, audience not Graph (`https://graph.microsoft.com` or `00000003-0000-0000-c000-000000000000`, trailing slash or not) | 401, with `WWW-Authenticate: Bearer ..` | `InvalidAuthenticationToken` |
//! | neither a delegated `scp` nor `roles` holding `Application.Read.All`, `Application.ReadWrite.All`, `Application.ReadWrite.OwnedBy`, `Directory.Read.All` or `Directory.ReadWrite.All` | 403 | `Authorization_RequestDenied` |
//! | no such object in the token's tenant (`tid`) | 404 | `Request_ResourceNotFound` |
//!
//! An app-only token with a role comes from the token endpoint when the app's `app_roles`, keyed by the resource
//! as the registry's `resources` spell it, grant one: `"app_roles": {"https://graph.microsoft.com":
//! ["Application.Read.All"]}`; a delegated token comes from `POST /_emulator/graph-token`.
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
//! [`GRAPH_RESOURCE`]. Optional fields added since: `imds_server` (IMDS's `Server` header, default
//! [`DEFAULT_IMDS_SERVER`]), `imds_platform_metadata` (serve `getPlatformMetadata`, default `false`) and, per app,
//! `object_id` (its application object's id; derived from `client_id` when left out, see
//! [`AppRegistration::application_object_id`]).
//!
//! ```
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
mod graph_auth;
mod graph_directory;
mod imds;
mod imds_metadata;
mod key_vault;
mod managed_identity;
pub mod redis_ha;
pub mod redis_server;
mod router;
mod running;
mod server;
mod service_fabric;
mod sharepoint;
mod site_access;
mod start;
mod state;
mod tls;
mod tokens;
mod wire;

pub use appsettings::identity_template_appsettings;
pub use client_certificate::{ClientCertificateOptions, IssuedClientCertificate};
pub use config::{
    ARM_RESOURCE, AppRegistration, DEFAULT_ACCESS_TOKEN_LIFETIME_SECS, DEFAULT_APP_CLIENT_ID,
    DEFAULT_APP_NAME, DEFAULT_APP_OBJECT_ID, DEFAULT_APP_SERVICE_PRINCIPAL_ID,
    DEFAULT_APP_SERVICE_SECRET, DEFAULT_ASSERTION_CLOCK_SKEW_SECS, DEFAULT_FIC_NAME,
    DEFAULT_IMDS_SERVER, DEFAULT_KUBERNETES_ISSUER, DEFAULT_MI_TOKEN_LIFETIME_SECS,
    DEFAULT_OTHER_TENANT_ID, DEFAULT_RESOURCE_GROUP, DEFAULT_SHAREPOINT_RESOURCE,
    DEFAULT_SUBSCRIPTION_ID, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID, DEFAULT_USER_ASSIGNED_NAME,
    DEFAULT_USER_ASSIGNED_OBJECT_ID, DEFAULT_VM_NAME, EmulatorConfig, FederatedCredential,
    GRAPH_RESOURCE, IdentityKind, KeyVault, ManagedIdentityInfo, PermissionModel, Registry,
    SystemAssignedIdentity, TOKEN_EXCHANGE_AUDIENCE, TOKEN_EXCHANGE_AUDIENCE_CHINA,
    TOKEN_EXCHANGE_AUDIENCE_USGOV, UserAssignedIdentity, VaultCertificate, VaultCertificateVersion,
    entra_issuer,
};
pub use control::{EmulatorInfo, MiSourceKind};
pub use error::EmulatorError;
pub use faults::{Fault, FaultBody};
pub use key_vault::{
    DEFAULT_KEY_VAULT_CERTIFICATE_NAME, DEFAULT_KEY_VAULT_NAME, KEY_VAULT_RESOURCE,
    KeyVaultCertificateIssued, KeyVaultCertificateOptions,
};
pub use managed_identity::ExpiresOnFormat;
pub use running::RunningEmulator;
pub use sharepoint::SHAREPOINT_APP_ID;
pub use site_access::{SiteGrant, SiteRole};
pub use start::{Emulator, StartOptions};
pub use state::{Counters, Endpoint, RecordedRequest};
pub use tls::write_loopback_tls_files;

// The README (crates.io's page) has an example too: `cargo test --doc` compiles it.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
