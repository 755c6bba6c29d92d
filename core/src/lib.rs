//! certless: Microsoft Entra access tokens with no certificate and no secret.
//!
//! An app registration can trust a managed identity through a federated identity credential
//! (FIC). certless asks the host's managed-identity endpoint (IMDS on a VM, App Service, Service
//! Fabric, Azure Arc, Cloud Shell, Azure ML) for a token with audience
//! `api://AzureADTokenExchange`, presents it to Entra as the app's client assertion, and returns
//! the app's access token. Tokens are cached and refreshed before they expire, any number of
//! concurrent callers cause one request per leg, and an error names the leg that failed, what the
//! server said and how to fix it.
//!
//! The examples below run as doc tests against [`certless-emulator`], a managed-identity endpoint
//! and Entra on 127.0.0.1 (their hidden lines start it and point the environment at it); the
//! broker's is only compiled, as it needs a running broker. A [`Credential`] is cheap to clone
//! and `Send + Sync`: build one per app registration and share it.
//!
//! [`certless-emulator`]: https://docs.rs/certless-emulator
//!
//! # From the environment
//!
//! `AZURE_TENANT_ID` and `AZURE_CLIENT_ID` name the app registration,
//! `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` (or `_OBJECT_ID`, `_RESOURCE_ID`) a user-assigned identity
//! (unset: the host's system-assigned one), and the managed-identity endpoint is found from the host's own
//! variables, as the Azure SDKs find it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = certless_emulator::Emulator::start(Default::default(), Default::default()).await?;
//! # for (name, value) in emulator.client_env(certless_emulator::MiSourceKind::Imds) {
//! #     // SAFETY: this test's process has one thread; the emulator runs on it as tasks.
//! #     unsafe { std::env::set_var(name, value) };
//! # }
//! let credential = certless::Credential::from_env()?;
//! let token = credential
//!     .get_token(&["https://graph.microsoft.com/.default"])
//!     .await?;
//! // `token.token.expose()` is the bearer token (its `Debug` and `Display` print nothing of it).
//! println!("a {} token until {}", token.token_type, token.expires_on);
//! # assert_eq!(emulator.counters().entra_token, 1);
//! # Ok(()) }
//! ```
//!
//! # From a Microsoft.Identity.Web `appsettings.json`
//!
//! The file an ASP.NET app already has (or its `AzureAd` section), with comments and trailing
//! commas as .NET allows them; `ClientCredentials` lists `SignedAssertionFromManagedIdentity`:
//!
//! ```json
//! {
//!   "AzureAd": {
//!     "Instance": "https://login.microsoftonline.com/",
//!     "TenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
//!     "ClientId": "11111111-2222-3333-4444-555555555555",
//!     "ClientCredentials": [
//!       {
//!         "SourceType": "SignedAssertionFromManagedIdentity",
//!         "ManagedIdentityClientId": "66666666-7777-8888-9999-000000000000"
//!       }
//!     ]
//!   }
//! }
//! ```
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = certless_emulator::Emulator::start(Default::default(), Default::default()).await?;
//! # let dir = std::env::temp_dir().join(format!("certless-doc-idweb-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # std::fs::write(dir.join("appsettings.json"), emulator.identity_template_appsettings())?;
//! # std::env::set_current_dir(&dir)?;
//! # // SAFETY: this test's process has one thread; the emulator runs on it as tasks.
//! # unsafe { std::env::set_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.imds_host()) };
//! let credential = certless::Credential::from_config_file("appsettings.json")?;
//! let token = credential
//!     .get_token(&["https://graph.microsoft.com/.default"])
//!     .await?;
//! # assert_eq!(emulator.counters().entra_token, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! [`Credential::from_config_json`] takes the same text; [`Credential::builder`] configures in
//! code; [`CredentialOptions`] sets options by name, as the other hosts do.
//!
//! # Through the certless broker
//!
//! `certless serve` (crate `certless-broker`) holds a machine's tokens in one process and serves
//! them to its other processes. A credential built from the environment asks it when
//! `CERTLESS_BROKER` is set (`http://127.0.0.1:PORT` with `CERTLESS_BROKER_SECRET_FILE`, or
//! `unix:/path/to/socket`), keeping its own cache in front of it; the tenant and client ids are
//! then optional (a client id picks one of the broker's apps). When the broker cannot be reached
//! the error names it; `CERTLESS_BROKER_FALLBACK=local` (or
//! [`broker_fallback`](CredentialBuilder::broker_fallback)) fetches in the process instead. In
//! code:
//!
//! ```no_run
//! # fn main() -> Result<(), certless::Error> {
//! use certless::broker::BrokerAddress;
//!
//! let credential = certless::Credential::builder()
//!     .broker(BrokerAddress::parse("http://127.0.0.1:8765", "the broker's address")?)
//!     .broker_secret_file("/run/certless/secret")
//!     .build()?;
//! let token = credential.get_token_blocking(
//!     &["https://graph.microsoft.com/.default"],
//!     &Default::default(),
//! )?;
//! # Ok(()) }
//! ```
//!
//! # With the Azure SDK for Rust (feature `azure-core`)
//!
//! With the `azure-core` feature a [`Credential`] is an `azure_core::credentials::TokenCredential`
//! (azure_core 1.x), so any Azure SDK for Rust client takes its tokens from certless. The SDK
//! keeps a token per client and asks again near its expiry; certless's cache sits under it, so
//! every client of one credential shares one token per resource.
//!
//! ```toml
//! [dependencies]
//! certless = { version = "0.1", features = ["azure-core"] }
//! azure_core = "1"
//! azure_storage_blob = "1"
//! ```
//!
//! ```
//! # #[cfg(feature = "azure-core")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = certless_emulator::Emulator::start(Default::default(), Default::default()).await?;
//! # for (name, value) in emulator.client_env(certless_emulator::MiSourceKind::Imds) {
//! #     // SAFETY: this test's process has one thread; the emulator runs on it as tasks.
//! #     unsafe { std::env::set_var(name, value) };
//! # }
//! use std::sync::Arc;
//!
//! use azure_core::credentials::TokenCredential;
//! use azure_core::http::Url;
//! use azure_storage_blob::BlobContainerClient;
//!
//! let credential: Arc<dyn TokenCredential> = Arc::new(certless::Credential::from_env()?);
//! let container = BlobContainerClient::new(
//!     Url::parse("https://contoso.blob.core.windows.net/reports")?,
//!     Some(credential.clone()),
//!     None,
//! )?;
//! // Each call of `container` (create, upload, ...) asks the credential as this does:
//! let token = credential
//!     .get_token(&["https://storage.azure.com/.default"], None)
//!     .await?;
//! # assert_eq!(emulator.counters().entra_token, 1);
//! # Ok(()) }
//! # #[cfg(not(feature = "azure-core"))]
//! # fn main() {}
//! ```
//!
//! A certless error reaches the SDK as an `azure_core::Error` of kind `Credential` whose source is
//! the [`Error`]. The feature needs Rust 1.88 (azure_core's minimum) and brings no HTTP client: the
//! SDK client brings its own.
//!
//! # Without an async runtime
//!
//! [`Credential::get_token_blocking`] answers a cached token at once, without entering any
//! runtime; on a miss the calling thread waits while the request runs on certless's own runtime
//! ([`runtime`]), started on first use.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = certless_emulator::Emulator::start_blocking(Default::default(), Default::default())?;
//! # for (name, value) in emulator.client_env(certless_emulator::MiSourceKind::AppService) {
//! #     // SAFETY: the emulator's threads wait on its sockets and never read the environment.
//! #     unsafe { std::env::set_var(name, value) };
//! # }
//! use certless::{Credential, TokenRequestOptions};
//!
//! let credential = Credential::from_env()?;
//! let scopes = ["https://graph.microsoft.com/.default"];
//! let token = credential.get_token_blocking(&scopes, &TokenRequestOptions::default())?;
//! // The second call is a cache hit: no request, no runtime.
//! let again = credential.get_token_blocking(&scopes, &TokenRequestOptions::default())?;
//! assert_eq!(token.token, again.token);
//! # assert_eq!(emulator.counters().entra_token, 1);
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every failure is one [`Error`]: a stable numeric [`ErrorCode`] (the same number in every
//! binding), the [`Leg`] that failed (configuration, managed-identity endpoint, Key Vault, Entra's
//! exchange, ...), what the server said (HTTP status, OAuth error, AADSTS codes, trace and
//! correlation ids) and, for the common causes, the fix ([`Error::remedy`]). Its `Display` is all
//! of it in one line, with no secret; [`Error::report`] is the same as a serialisable
//! [`ErrorReport`]. Here the app's federated credential trusts a user-assigned identity and the
//! host asks with its system-assigned one:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = certless_emulator::Emulator::start(Default::default(), Default::default()).await?;
//! # for (name, value) in emulator.client_env(certless_emulator::MiSourceKind::Imds) {
//! #     // SAFETY: this test's process has one thread; the emulator runs on it as tasks.
//! #     unsafe { std::env::set_var(name, value) };
//! # }
//! # // SAFETY: as above.
//! # unsafe { std::env::remove_var("CERTLESS_MANAGED_IDENTITY_CLIENT_ID") };
//! use certless::{ErrorCode, Leg};
//!
//! let credential = certless::Credential::from_env()?;
//! let error = credential
//!     .get_token(&["https://graph.microsoft.com/.default"])
//!     .await
//!     .unwrap_err();
//! assert_eq!(error.code(), ErrorCode::ExchangeRejected);
//! assert_eq!(error.code().as_u32(), 302);
//! assert_eq!(error.leg(), Leg::Exchange);
//! assert_eq!(error.http_status(), Some(401));
//! assert_eq!(error.aadsts_codes(), &[700213]); // no federated credential matches
//! // "Create a user-assigned managed identity, ...": Entra refuses system-assigned ones.
//! assert!(error.remedy().is_some_and(|fix| fix.contains("user-assigned")));
//! eprintln!("{error}"); // "Entra token exchange failed: ... [... certless code 302] Fix: ..."
//! # Ok(()) }
//! ```
//!
//! `certless doctor` (the CLI) and [`diagnose`] check each leg in turn when the cause is not clear.
//!
//! # OpenTelemetry
//!
//! With the standard `OTEL_EXPORTER_OTLP_ENDPOINT` set, certless sends metrics under the names
//! MSAL.NET users chart (`MsalSuccess`, `MsalTotalDuration.1A`, ...) and a span per fetch over
//! OTLP/HTTP; off otherwise. A request joins its caller's trace with
//! [`TokenRequestOptions::traceparent`], and a short-lived program calls [`telemetry::flush`]
//! before it exits. The repository's `docs/telemetry.md` lists the instruments, tags and settings.
//!
//! ```no_run
//! # async fn run(credential: certless::Credential) -> Result<(), certless::Error> {
//! let options = certless::TokenRequestOptions {
//!     // The caller's span (its W3C traceparent header).
//!     traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
//!     ..Default::default()
//! };
//! credential
//!     .get_token_with(&["https://graph.microsoft.com/.default"], &options)
//!     .await?;
//! certless::telemetry::flush(std::time::Duration::from_secs(5));
//! # Ok(()) }
//! ```
//!
//! # In your own tests
//!
//! [`CredentialBuilder::from_environment`] reads a given environment instead of the process's, so a
//! test can point a credential at the emulator without touching global state; `certless-emulator`
//! is a dev-dependency like any other (its faults, clock offset and counters are in its own docs).
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use certless::CredentialBuilder;
//! use certless::env::MapEnv;
//! use certless_emulator::{Emulator, MiSourceKind};
//!
//! let emulator = Emulator::start(Default::default(), Default::default()).await?;
//! let env = MapEnv::new().with_vars(emulator.client_env(MiSourceKind::AppService));
//! let credential = CredentialBuilder::from_environment(Arc::new(env))?.build()?;
//! credential
//!     .get_token(&["https://graph.microsoft.com/.default"])
//!     .await?;
//! assert_eq!(emulator.counters().app_service, 1);
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `azure-core` | off | `impl azure_core::credentials::TokenCredential for Credential` (above); needs Rust 1.88 |
//! | `test-hooks` | off | internal: lets certless's own tests point the Azure Arc key directory at the emulator's; not for applications |
//! | `fuzzing` | off | internal: exposes the hidden `fuzzing` module, thin wrappers over internal parsers for the fuzz targets; not a stable API |
//!
//! TLS is rustls with ring: certless installs ring as the process's rustls crypto provider unless
//! the host installed one first.
//!
//! # More
//!
//! Every configuration key and variable, the credential sources and their order, caching and
//! retries, the broker, and the other hosts (C, .NET, Python, Node, the CLI) are documented in the
//! repository's [`docs/`](https://github.com/certless/certless/tree/main/docs).

#[cfg(feature = "azure-core")]
mod azure_sdk;
pub mod broker;
mod cache;
mod certificate;
mod config;
mod credential;
pub mod diagnose;
mod entra;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod managed_identity;
pub mod resource;
pub mod retry;
pub mod shared_cache;
mod support;
pub mod telemetry;
mod token;

// Public module paths the hosts use, wherever the module lives in the tree.
pub use cache::hold;
pub use entra::{aadsts, cloud};
pub use http::stats;
pub use support::{clock, env};
pub use token::jwt;

pub use cache::CacheEntry;
pub use config::{
    ASSERTION_SAFETY_MARGIN_SECS, CredentialOptions, OPTIONS, OptionInfo, OptionKind, OptionValue,
};
pub use config::{
    CertificateSource, CredentialBuilder, CredentialSource, CredentialSourceKind,
    KeyVaultReference, StoreFind, StoreLocation, StorePath,
};
pub use credential::{AccessToken, Credential, TokenRequestOptions};
pub use error::{Error, ErrorCode, ErrorReport, Leg, Result};
pub use http::Timeouts;
pub use managed_identity::{
    ManagedIdentityId, ManagedIdentitySource, ManagedIdentityToken, SourceSelection,
};
pub use retry::{Retries, RetryPolicy};
pub use support::secret::Secret;
pub use token::scope::normalize_scopes;

/// The async runtime certless runs on when the host has none, and a request started on it.
pub mod runtime {
    pub use crate::credential::pending::PendingToken;
    pub use crate::support::runtime::{block_on, handle};
}

/// The certless version (the workspace's `Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// The README (crates.io's page) has an example too: `cargo test --doc` compiles it.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
