//! certless: Microsoft Entra access tokens with no certificate and no secret.
//!
//! An app registration trusts a managed identity through a federated identity credential (FIC).
//! certless asks the host's managed-identity endpoint for a token with audience
//! `api://AzureADTokenExchange`, presents it to Entra as the client assertion, and returns the
//! access token — cached, and with errors that name the failing leg and how to fix it.
//!
//! ```no_run
//! # async fn run() -> Result<(), certless::Error> {
//! let credential = certless::Credential::from_config_file("appsettings.json")?;
//! let token = credential.get_token(&["https://contoso.sharepoint.com/.default"]).await?;
//! println!("expires at {}", token.expires_on);
//! # Ok(()) }
//! ```

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
