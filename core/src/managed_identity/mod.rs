//! Managed-identity sources: which one this host has (a pure function of the environment, in
//! MSAL.NET's order, docs/protocol.md §2), how each is asked for a token, and what its answers mean.
//! One file per source.

mod app_service;
pub(crate) mod assertion;
pub(crate) mod azure_arc;
mod azure_ml;
mod client;
mod cloud_shell;
mod identity;
mod imds;
pub(crate) mod response;
mod select;
mod service_fabric;
mod source;
mod variables;

/// The endpoints' expiry formats (shared with Entra's answers; kept at this path for the fuzz
/// targets and other readers of `expires_on`).
pub use crate::token::expiry;
pub(crate) use client::ManagedIdentityClient;
pub use identity::{ManagedIdentityId, ManagedIdentitySource};
pub(crate) use imds::imds_base;
pub use response::ManagedIdentityToken;
pub use select::{SourceSelection, select_source};
