//! A federated token in a file, used as the client assertion: AKS workload identity's
//! `AZURE_FEDERATED_TOKEN_FILE`, Id.Web's `SignedAssertionFilePath`. kubelet rotates the file at
//! 80% of the token's lifetime (docs/protocol.md §2), so it is re-read at least every 5 minutes, and
//! whenever the token in hand is within the assertion margin of its expiry.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;
use crate::support::secret::Secret;
use crate::token::jwt::decode_claims;

/// Re-read at least this often (the Azure SDKs cache the file for at most 10 minutes).
const REREAD_SECS: i64 = 300;

#[derive(Debug)]
pub(crate) struct AssertionFile {
    path: PathBuf,
    margin: i64,
    current: Mutex<Option<Held>>,
}

#[derive(Debug, Clone)]
struct Held {
    read_at: i64,
    token: Secret,
    expires_on: Option<i64>,
}

impl AssertionFile {
    pub(crate) fn new(path: PathBuf, margin: i64) -> Self {
        AssertionFile {
            path,
            margin,
            current: Mutex::new(None),
        }
    }

    /// The assertion to send at `now`, re-reading the file when due.
    pub(crate) fn assertion(&self, now: i64) -> Result<Secret> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = current.as_ref() {
            let fresh = now - held.read_at < REREAD_SECS;
            let lasting = held.expires_on.is_none_or(|exp| exp - now > self.margin);
            if fresh && lasting {
                return Ok(held.token.clone());
            }
        }
        let held = self.read(now)?;
        let token = held.token.clone();
        *current = Some(held);
        Ok(token)
    }

    fn read(&self, now: i64) -> Result<Held> {
        let path = echo_path(&self.path);
        let unusable = |what: String| {
            Error::new(ErrorCode::AssertionFileUnusable, format!("the federated token file \
                {path} {what}"))
                .with_leg(Leg::Config)
                .with_remedy(
                    "On AKS, check that the pod has the azure.workload.identity/use label and its service account the client-id annotation \
                     (the webhook then mounts the token and sets AZURE_FEDERATED_TOKEN_FILE); elsewhere, check the path and that this process may read it.",
                )
        };
        let bytes = bounded_file::read(&self.path, bounded_file::FEDERATED_TOKEN_FILE)
            .map_err(|e| unusable(e.to_string()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| unusable("does not hold a JWT (it is not text)".to_string()))?;
        let token = text.trim();
        let claims =
            decode_claims(token).map_err(|_| unusable("does not hold a JWT".to_string()))?;
        if let Some(exp) = claims.exp {
            if exp <= now {
                return Err(unusable(format!(
                    "holds a token that expired {}s ago: the file is no longer being rotated",
                    now - exp
                )));
            }
            if exp - now <= self.margin {
                log::warn!(
                    "certless: the federated token in {path} has only {}s left; is it still \
                        being rotated?",
                    exp - now
                );
            }
        }
        log::debug!("certless: read the federated token file {path}");
        Ok(Held {
            read_at: now,
            token: Secret::new(token),
            expires_on: claims.exp,
        })
    }
}
