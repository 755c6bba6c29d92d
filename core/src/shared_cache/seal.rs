//! The keys that seal shared-cache entries, and the seal: AES-256-GCM with a random 96-bit nonce,
//! the entry's cache key as associated data, and the key's id in the clear so that a reader knows
//! which of its keys to try (docs/shared-cache.md, "Keys and rotation").
//!
//! Sealed layout: `CL1` · id length (1 byte) · id · nonce (12 bytes) · ciphertext · tag (16 bytes).
//! An entry moved to another cache key (another tenant, scope or app), sealed under a key this
//! process does not have, or changed by one bit does not open, and is a miss.

use std::fmt;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

const MAGIC: &[u8; 3] = b"CL1";
const KEY_LEN: usize = 32;
const MAX_ID_LEN: usize = 32;

/// One key: its id (written into every entry it seals) and the AES-256-GCM key.
struct SealKey {
    id: String,
    key: LessSafeKey,
}

/// The configured keys, newest first: the first seals, any of them opens. `Debug` shows the ids only.
pub(crate) struct SealKeys {
    keys: Vec<SealKey>,
    random: SystemRandom,
}

/// Why an entry did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// Not a sealed entry at all (another program's value under our key, or truncated).
    Malformed,
    /// Sealed under a key id this process does not have (rotated out, or another farm's).
    UnknownKey,
    /// The key id is known but authentication failed: tampered, moved to another cache key, or a
    /// different key under a reused id.
    Rejected,
}

impl SealKeys {
    /// Parses keys from text: entries separated by newlines or commas, each `id:base64` or just
    /// `base64` of 32 bytes (its id is then derived from the key); blank lines and `#` comments are
    /// skipped. The first entry seals. `from` names where the text came from, for errors.
    pub(crate) fn parse(text: &str, from: &str) -> Result<Self> {
        let mut keys: Vec<SealKey> = Vec::new();
        let entries = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let key = parse_entry(entry, index + 1, from)?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(key_error(
                    format!("{from}: key id '{}' appears twice", key.id),
                    "Give every key its own id (id:base64); the id is written into each entry.",
                ));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(key_error(
                format!("{from} holds no key"),
                "Write one key per line, id:base64 of 32 random bytes (certless shared-cache-key \
                 prints one).",
            ));
        }
        Ok(SealKeys {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// The id of the key that seals.
    pub(crate) fn sealing_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plaintext`, bound to `aad` (the cache key).
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| Error::internal("the system's random source failed"))?;
        let mut body = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| Error::internal("AES-GCM sealing failed"))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 1 + key.id.len() + NONCE_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens an entry sealed by [`seal`](Self::seal) under any configured key, bound to `aad`.
    pub(crate) fn open(
        &self,
        aad: &[u8],
        sealed: &[u8],
    ) -> std::result::Result<Vec<u8>, OpenFailure> {
        let rest = sealed.strip_prefix(MAGIC).ok_or(OpenFailure::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(OpenFailure::Malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(OpenFailure::Malformed);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let key = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or(OpenFailure::UnknownKey)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenFailure::Malformed)?;
        let mut body = body.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| OpenFailure::Rejected)?;
        Ok(plain.to_vec())
    }

    /// The ids, newest first (safe to show).
    pub(crate) fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }
}

impl fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKeys")
            .field("ids", &self.ids())
            .finish()
    }
}

fn parse_entry(entry: &str, number: usize, from: &str) -> Result<SealKey> {
    let (id, encoded) = match entry.split_once(':') {
        Some((id, encoded)) => (Some(id.trim()), encoded.trim()),
        None => (None, entry),
    };
    let bytes = decode_key(encoded).ok_or_else(|| {
        key_error(
            format!("{from}: key {number} is not base64 of 32 bytes"),
            "Generate a key with `certless shared-cache-key` or `openssl rand -base64 32`.",
        )
    })?;
    let id = match id {
        Some(id) if valid_id(id) => id.to_string(),
        Some(id) => {
            return Err(key_error(
                format!("{from}: key {number} has the id '{}'", echo(id)),
                "Use an id of 1 to 32 letters, digits, '.', '_' or '-' (a date works: 2026-12).",
            ));
        }
        None => derived_id(&bytes),
    };
    let key = UnboundKey::new(&AES_256_GCM, &bytes)
        .map_err(|_| Error::internal("AES-256-GCM refused a 32-byte key"))?;
    Ok(SealKey {
        id,
        key: LessSafeKey::new(key),
    })
}

fn decode_key(encoded: &str) -> Option<Vec<u8>> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .filter(|bytes| bytes.len() == KEY_LEN)
}

fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An id for a key given without one: the first 8 hex digits of its SHA-256, so that every
/// machine holding the same key derives the same id, and the id reveals nothing usable.
fn derived_id(key: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("k{hex}")
}

fn key_error(message: String, remedy: &'static str) -> Error {
    Error::config(ErrorCode::InvalidConfig, message).with_remedy(remedy)
}

/// A new random key, in the `id:base64` form the shared cache's key settings read
/// (`CERTLESS_SHARED_CACHE_KEY`, the key file).
pub fn generate_key(id: &str) -> Result<String> {
    if !valid_id(id) {
        return Err(key_error(
            format!("'{}' cannot be a key id", echo(id)),
            "Use 1 to 32 letters, digits, '.', '_' or '-'.",
        ));
    }
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("the system's random source failed"))?;
    Ok(format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn what_one_key_seals_only_that_key_and_that_cache_key_open() {
        let keys = SealKeys::parse(&format!("2026-12:{A}"), "test").unwrap();
        let sealed = keys.seal(b"tenant-a|scope", b"the token").unwrap();
        assert_eq!(keys.open(b"tenant-a|scope", &sealed).unwrap(), b"the token");
        assert_eq!(
            keys.open(b"tenant-b|scope", &sealed),
            Err(OpenFailure::Rejected),
            "moved to another cache key"
        );
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(keys.open(b"tenant-a|scope", &tampered).is_err(), "byte {i}");
        }
        let other = SealKeys::parse(&format!("2026-12:{B}"), "test").unwrap();
        assert_eq!(
            other.open(b"tenant-a|scope", &sealed),
            Err(OpenFailure::Rejected),
            "another key under the same id"
        );
        let stranger = SealKeys::parse(B, "test").unwrap();
        assert_eq!(
            stranger.open(b"tenant-a|scope", &sealed),
            Err(OpenFailure::UnknownKey)
        );
        assert_eq!(keys.open(b"x", b"CL1"), Err(OpenFailure::Malformed));
        assert_eq!(keys.open(b"x", b"plain text"), Err(OpenFailure::Malformed));
        assert!(
            !sealed.windows(9).any(|w| w == b"the token"),
            "the plaintext is not in the entry"
        );
    }

    #[test]
    fn rotation_opens_with_any_key_and_seals_with_the_first() {
        let old = SealKeys::parse(&format!("old:{A}"), "test").unwrap();
        let sealed_old = old.seal(b"k", b"v").unwrap();
        let rotated =
            SealKeys::parse(&format!("# newest first\nnew:{B}\nold:{A}\n"), "test").unwrap();
        assert_eq!(rotated.open(b"k", &sealed_old).unwrap(), b"v");
        assert_eq!(rotated.sealing_id(), "new");
        let sealed_new = rotated.seal(b"k", b"v").unwrap();
        assert_eq!(
            old.open(b"k", &sealed_new),
            Err(OpenFailure::UnknownKey),
            "a machine not yet given the new key misses, and fetches for itself"
        );
        let inline = SealKeys::parse(&format!("new:{B}, old:{A}"), "test").unwrap();
        assert_eq!(inline.ids(), ["new", "old"]);
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        for (text, says) in [
            ("", "holds no key"),
            ("# only a comment", "holds no key"),
            ("c2hvcnQ=", "not base64 of 32 bytes"),
            ("a:not-base64!!", "not base64 of 32 bytes"),
            (&format!("bad id:{A}") as &str, "has the id"),
            (&format!("a:{A}\na:{B}"), "appears twice"),
        ] {
            let e = SealKeys::parse(text, "CERTLESS_SHARED_CACHE_KEY").unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
            assert!(!e.to_string().contains(A) && !format!("{e:?}").contains(A));
        }
        let keys = SealKeys::parse(A, "test").unwrap();
        assert!(!format!("{keys:?}").contains(A));
        assert_eq!(keys.ids(), [derived_id(&decode_key(A).unwrap())]);
    }

    #[test]
    fn generated_keys_parse() {
        let text = generate_key("2026-12").unwrap();
        let keys = SealKeys::parse(&text, "test").unwrap();
        assert_eq!(keys.sealing_id(), "2026-12");
        assert_ne!(text, generate_key("2026-12").unwrap());
        assert!(generate_key("no spaces").is_err());
    }
}
