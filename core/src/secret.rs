//! A string that must never be shown: access tokens, assertions, client secrets.

use std::fmt;
use std::sync::Arc;

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
        Secret(value.into())
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

/// Text that came from a server and is about to go into an error message or a log line.
/// A hostile or buggy server could echo a token back at us, so anything shaped like a JWT
/// (three base64url segments starting with `eyJ`) is cut out, control characters are dropped
/// and the length is capped.
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
