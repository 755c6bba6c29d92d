//! The vocabulary every layer shares: an access token and the options of one request. A leaf:
//! the cache, the single-flight and the credential all use it, and it uses none of them.

use std::sync::Arc;

use crate::config::CredentialSourceKind;
use crate::secret::Secret;

/// An access token and what is known about it.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token. `Debug` prints no part of it.
    pub token: Secret,
    /// `Bearer`, almost always.
    pub token_type: Arc<str>,
    /// Expiry, Unix seconds.
    pub expires_on: i64,
    /// When to refresh proactively (Unix seconds), when Entra said (`refresh_in`).
    pub refresh_on: Option<i64>,
    /// Which entry of the credential list produced it.
    pub source: CredentialSourceKind,
}

/// Options of one token request, beyond the scopes.
#[derive(Clone, Debug, Default)]
pub struct TokenRequestOptions {
    /// Claims from a Continuous Access Evaluation challenge: the cache is bypassed and the new
    /// token replaces the cached one.
    pub claims: Option<String>,
    /// Another tenant than the configured one (multi-tenant apps).
    pub tenant_id: Option<String>,
    /// Fetch a new token even if a cached one is valid (it then replaces the cached one).
    pub force_refresh: bool,
}
