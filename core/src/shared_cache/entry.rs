//! What one shared-cache entry is: its cache key (the associated data of the seal) and the Redis
//! keys derived from it, and the token inside, as JSON before it is sealed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::support::secret::Secret;
use crate::token::{AccessToken, CredentialSourceKind};

/// The version of the key and entry formats, in every Redis key: a format change starts a new
/// key space instead of misreading the old one.
const FORMAT: &str = "v1";

/// Everything that tells two tokens apart. Two machines share an entry only when all of it is
/// equal: the cloud (login host), tenant, app, scope, CAE claims (empty: certless never shares a
/// token asked for with claims) and the credential list.
pub(crate) struct CacheKey {
    /// The associated data of the seal: the whole key, so an entry cannot be moved.
    pub(crate) bound: String,
    /// Where the entry lives in Redis.
    pub(crate) entry: String,
    /// The lease of one fetch per farm.
    pub(crate) lease: String,
}

impl CacheKey {
    pub(crate) fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        scope: &str,
        claims: &str,
        kinds: &str,
    ) -> Self {
        let bound = format!(
            "certless-shared-cache-{FORMAT}\n{authority}\n{}\n{}\n{scope}\n{claims}\n{kinds}",
            tenant.to_ascii_lowercase(),
            client_id.to_ascii_lowercase()
        );
        // The scope and tenant are hashed into the name: key names stay short, and a reader of
        // Redis's key list learns which apps use the cache, not what they call.
        let digest = ring::digest::digest(&ring::digest::SHA256, bound.as_bytes());
        let hex: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let entry = format!("certless:{FORMAT}:{}:{hex}", client_id.to_ascii_lowercase());
        let lease = format!("{entry}:lease");
        CacheKey {
            bound,
            entry,
            lease,
        }
    }
}

/// A token as it is sealed. `fetched_at` lets every machine schedule its refresh from the moment
/// the token was obtained, so that a farm agrees on when a token is due.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    token_type: String,
    expires_on: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_on: Option<i64>,
    source: String,
    fetched_at: i64,
}

/// A token read from the shared cache, with when it was fetched.
pub(crate) struct Shared {
    pub(crate) token: AccessToken,
    pub(crate) fetched_at: i64,
}

pub(crate) fn encode(token: &AccessToken, fetched_at: i64) -> Vec<u8> {
    let stored = Stored {
        access_token: token.token.expose().to_string(),
        token_type: token.token_type.to_string(),
        expires_on: token.expires_on,
        refresh_on: token.refresh_on,
        source: token.source.as_str().to_string(),
        fetched_at,
    };
    serde_json::to_vec(&stored).unwrap_or_default()
}

/// The token of an opened entry; `None` when its JSON is not what [`encode`] writes (an entry of
/// a future format sealed under a shared key).
pub(crate) fn decode(plain: &[u8]) -> Option<Shared> {
    let stored: Stored = serde_json::from_slice(plain).ok()?;
    let source = CredentialSourceKind::parse(&stored.source)?;
    if stored.access_token.is_empty() || stored.fetched_at > stored.expires_on {
        return None;
    }
    Some(Shared {
        token: AccessToken {
            token: Secret::new(stored.access_token),
            token_type: Arc::from(stored.token_type),
            expires_on: stored.expires_on,
            refresh_on: stored.refresh_on,
            source,
        },
        fetched_at: stored.fetched_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_key_tells_entries_apart() {
        let base = ["https://login.microsoftonline.com", "t", "c", "s", "", "MI"];
        let key = |p: [&str; 6]| CacheKey::new(p[0], p[1], p[2], p[3], p[4], p[5]).entry;
        let first = key(base);
        for i in 0..base.len() {
            let mut other = base;
            other[i] = "other";
            assert_ne!(key(other), first, "part {i}");
        }
        let mut upper = base;
        upper[1] = "T";
        assert_eq!(key(upper), first, "tenant ids are case-insensitive");
        assert!(first.starts_with("certless:v1:c:"), "{first}");
        assert!(!first.contains("/.default"));
    }

    #[test]
    fn a_token_survives_the_round_trip() {
        let token = AccessToken {
            token: Secret::new("eyJ.token"),
            token_type: Arc::from("Bearer"),
            expires_on: 2_000,
            refresh_on: Some(1_500),
            source: CredentialSourceKind::SignedAssertionFromManagedIdentity,
        };
        let back = decode(&encode(&token, 1_000)).unwrap();
        assert_eq!(back.token.token.expose(), "eyJ.token");
        assert_eq!(
            (
                back.token.expires_on,
                back.token.refresh_on,
                back.fetched_at
            ),
            (2_000, Some(1_500), 1_000)
        );
        assert_eq!(back.token.source, token.source);
        assert!(decode(b"{}").is_none());
        assert!(decode(b"not json").is_none());
    }
}
