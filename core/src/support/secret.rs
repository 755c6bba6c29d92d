//! A string that must never be shown: access tokens, assertions, client secrets, header secrets.
//!
//! Every [`Secret`] is also known to [`scrub_server_text`]: the one step that every piece of text
//! a server sent passes through before it reaches an error, a log line or a report. A server (or a
//! proxy in front of it) that echoes a secret back, e.g. a 401 body repeating the
//! `X-IDENTITY-HEADER` it was sent, has that value cut out there, whatever kind of secret it is.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};

/// A secret string. `Debug` and `Display` print a placeholder, never the value; the only way to
/// the value is [`Secret::expose`], which makes every place that hands a secret out greppable.
///
/// The value sits behind an `Arc` so that handing a cached token to a caller costs a reference
/// count, not a copy of a 1–2 KB JWT.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        let value = value.into();
        known::register(&value);
        Secret(value)
    }

    /// The secret value. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.0.len())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

/// The secrets this process holds, as weak references: a secret is known from the moment it is
/// wrapped (read from the environment, a file or a configuration, or received from a server)
/// until its last copy is dropped, and costs nothing to forget.
mod known {
    use super::*;

    /// Shorter values are not redacted: cutting every `abc` out of a message would hide the
    /// message, and a secret this short protects nothing anyway.
    pub(super) const MIN_LEN: usize = 8;

    static SECRETS: Mutex<Vec<Weak<str>>> = Mutex::new(Vec::new());

    pub(super) fn register(value: &Arc<str>) {
        if value.len() < MIN_LEN {
            return;
        }
        let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        secrets.retain(|w| w.strong_count() > 0);
        secrets.push(Arc::downgrade(value));
    }

    /// The live secrets, longest first (so that a secret containing another is cut whole).
    pub(super) fn live() -> Vec<Arc<str>> {
        let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        let mut live: Vec<Arc<str>> = secrets.iter().filter_map(Weak::upgrade).collect();
        drop(secrets);
        live.sort_by_key(|s| std::cmp::Reverse(s.len()));
        live.dedup();
        live
    }
}

/// `text` with every secret this process holds replaced by `<redacted secret>`.
fn cut_known_secrets(text: String) -> String {
    let mut text = text;
    for secret in known::live() {
        if text.contains(&*secret) {
            text = text.replace(&*secret, "<redacted secret>");
        }
    }
    text
}

/// Text that came from a server and is about to go into an error message or a log line.
/// A hostile or buggy server could echo a secret back at us, so every secret this process holds
/// (see [`Secret::new`]) and anything shaped like a JWT (three base64url segments starting with
/// `eyJ`) is cut out, control characters are dropped and the length is capped.
pub(crate) fn scrub_server_text(text: &str) -> String {
    const MAX: usize = 600;
    // Control characters go before the token check: dropped after it, they could join the
    // pieces of a token that were each too short to be cut out.
    let text: String = text
        .chars()
        .map(|c| {
            if c == '\r' || c == '\n' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    let text = cut_known_secrets(text);
    let mut out = String::with_capacity(text.len().min(MAX));
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("eyJ") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        if tail[..end].matches('.').count() >= 1 && end > 20 {
            out.push_str("<redacted token>");
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    let mut clean = out;
    if clean.len() > MAX {
        let mut cut = MAX;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
        clean.push('…');
    }
    clean.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super-secret"));
        assert!(!format!("{s}").contains("super-secret"));
        assert_eq!(s.expose(), "super-secret-value");
    }

    #[test]
    fn scrub_removes_jwts_and_control_chars() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let text = format!("bad token {jwt}\r\nTrace ID: 1");
        let scrubbed = scrub_server_text(&text);
        assert!(!scrubbed.contains("eyJzdWIi"), "{scrubbed}");
        assert!(scrubbed.contains("<redacted token>"));
        assert!(!scrubbed.contains('\n'));
        assert_eq!(scrub_server_text(&"x".repeat(5000)).chars().count(), 601);
    }

    #[test]
    fn every_secret_held_is_cut_out_of_server_text() {
        let header = Secret::new("6f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f");
        let client_secret = Secret::from("Abc8Q~not.a.jwt-but~secret");
        let text = format!(
            "401: bad X-IDENTITY-HEADER '{}' (client secret {})",
            header.expose(),
            client_secret.expose()
        );
        let scrubbed = scrub_server_text(&text);
        assert_eq!(
            scrubbed,
            "401: bad X-IDENTITY-HEADER '<redacted secret>' (client secret <redacted secret>)"
        );
        // A value too short to be a secret worth the name is left alone.
        let short = Secret::new("abc");
        assert_eq!(scrub_server_text("abcdef"), "abcdef");
        drop(short);
        // Once the last copy is gone, the value is forgotten.
        let gone = header.expose().to_string();
        drop(header);
        assert_eq!(scrub_server_text(&gone), gone);
    }

    /// Found by the `mi_error` fuzz target: control characters inside a token were dropped after
    /// the token check, so its pieces, each too short to be a token, joined into one.
    #[test]
    fn a_token_split_by_control_characters_is_still_cut_out() {
        let token = "eyJhbGciOiJSUzI1NiJ9.c2lnbmF0dXJlc2ln.c2lnbmF0dXJl";
        let split = "eyJhbGciOiJSUzI1NiJ9\u{1}\u{0}.c2lnbmF0dXJlc2ln.c2lnbmF0dXJl";
        let scrubbed = scrub_server_text(&format!("echo {split}"));
        assert!(!scrubbed.contains(token), "{scrubbed}");
        assert_eq!(scrubbed, "echo <redacted token>");
    }
}
