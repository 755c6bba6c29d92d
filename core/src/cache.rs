//! The access-token cache: one entry per (tenant, scope). A token is served only while it has
//! more than a margin of life left, so a caller never receives a token that expires in flight.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::credential::AccessToken;

/// A token is not handed out in its last `EXPIRY_MARGIN_SECS` seconds.
pub(crate) const EXPIRY_MARGIN_SECS: i64 = 60;

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<(String, String), AccessToken>>,
}

impl TokenCache {
    pub fn get(&self, tenant: &str, scope: &str, now: i64) -> Option<AccessToken> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&(tenant.to_string(), scope.to_string()))
            .filter(|t| t.expires_on - EXPIRY_MARGIN_SECS > now)
            .cloned()
    }

    pub fn insert(&self, tenant: &str, scope: &str, token: AccessToken) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert((tenant.to_string(), scope.to_string()), token);
    }
}
