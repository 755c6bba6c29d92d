//! The JSON that .NET configuration accepts is JSON plus `//` and `/* */` comments and trailing
//! commas (System.Text.Json with comments skipped and trailing commas allowed). [`strip`] turns
//! it into strict JSON for serde_json by blanking them out: each byte of a comment, and each
//! trailing comma, becomes a space, line breaks are kept, so every line, column and byte offset
//! serde_json reports is the same as in the user's file.
//!
//! Only what .NET allows is removed: a comma directly after `{`, `[` or another comma is left for
//! the parser to refuse, as .NET refuses it; `//` and `/*` inside a string are text.

use std::fmt;

/// A `/*` without its `*/`, at a 1-based line and column (in characters).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UnclosedComment {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for UnclosedComment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "has a comment opened at line {}, column {} that is never closed (no */ follows)",
            self.line, self.column
        )
    }
}

/// `text` with its comments and trailing commas replaced by spaces.
pub(super) fn strip(text: &str) -> Result<String, UnclosedComment> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut in_string = false;
    // The last byte that was neither space nor comment, and a comma that may turn out trailing.
    let mut last = 0u8;
    let mut pending_comma: Option<usize> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                // The escaped character is skipped, so `\"` does not end the string. Only ASCII
                // bytes are looked at, and no byte of a multi-byte character is ASCII.
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match (c, bytes.get(i + 1)) {
            (b'/', Some(b'/')) => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| *b == b'\n' || *b == b'\r')
                    .map_or(bytes.len(), |n| i + n);
                blank(&mut out[i..end]);
                i = end;
            }
            (b'/', Some(b'*')) => {
                let Some(n) = find(&bytes[i + 2..], b"*/") else {
                    return Err(position(text, i));
                };
                let end = i + 2 + n + 2;
                blank(&mut out[i..end]);
                i = end;
            }
            (b' ' | b'\t' | b'\r' | b'\n', _) => i += 1,
            (b',', _) => {
                pending_comma = (!matches!(last, b'{' | b'[' | b',' | 0)).then_some(i);
                last = c;
                i += 1;
            }
            (b'}' | b']', _) => {
                if let Some(comma) = pending_comma.take() {
                    out[comma] = b' ';
                }
                last = c;
                i += 1;
            }
            _ => {
                pending_comma = None;
                in_string = c == b'"';
                last = c;
                i += 1;
            }
        }
    }
    // Only whole characters were replaced, each byte by an ASCII space.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn blank(bytes: &mut [u8]) {
    for b in bytes.iter_mut().filter(|b| **b != b'\n' && **b != b'\r') {
        *b = b' ';
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn position(text: &str, offset: usize) -> UnclosedComment {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    UnclosedComment {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// A key that appears twice in one object, compared as .NET configuration compares keys
/// (case-insensitively): .NET refuses such a file ("A duplicate key ... was found",
/// docs/protocol.md §6), where a JSON parser would silently keep the last one.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DuplicateKey {
    /// The key's configuration path, `:`-separated with array indexes (`AzureAd:TenantId`,
    /// `AzureAd:ClientCredentials:0:SourceType`), spelled as at its second appearance.
    pub path: String,
    /// 1-based line and column (in characters) of each appearance.
    pub first: (usize, usize),
    pub second: (usize, usize),
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "has the key '{}' twice: at line {}, column {} and at line {}, column {} \
             (keys are case-insensitive)",
            crate::support::echo::echo(&self.path),
            self.first.0,
            self.first.1,
            self.second.0,
            self.second.1
        )
    }
}

/// The first key that appears twice in one object of `strict`, which must be valid JSON: the
/// output of [`strip`] for the user's `text`, which serde_json accepted. Places are said in
/// `text` (a blanked comment may have held multi-byte characters).
pub(super) fn duplicate_key(text: &str, strict: &str) -> Option<DuplicateKey> {
    enum Frame {
        /// An object: its keys (lowercased) with where each was, and the path of the open one.
        Object(std::collections::HashMap<String, usize>, Option<String>),
        /// An array and the index of its current element.
        Array(usize),
    }
    let bytes = strict.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let path = |stack: &[Frame], last: &str| {
        let mut parts: Vec<String> = stack
            .iter()
            .filter_map(|f| match f {
                Frame::Object(_, key) => key.clone(),
                Frame::Array(i) => Some(i.to_string()),
            })
            .collect();
        parts.push(last.to_string());
        parts.join(":")
    };
    let place = |offset: usize| {
        let at = position(text, offset);
        (at.line, at.column)
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object(Default::default(), None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
                // The element or member just closed belonged to its parent; the parent's
                // current key stays until the next key replaces it.
            }
            b',' => {
                if let Some(Frame::Array(n)) = stack.last_mut() {
                    *n += 1;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let raw = &strict[start..=i.min(bytes.len() - 1)];
                // A string followed by `:` is a key.
                let after = strict[i + 1..].trim_start();
                if after.starts_with(':') {
                    let key: String = serde_json::from_str(raw).unwrap_or_default();
                    let lower = key.to_lowercase();
                    let Some(Frame::Object(keys, _)) = stack.last() else {
                        i += 1;
                        continue;
                    };
                    if let Some(&first) = keys.get(&lower) {
                        let parents = &stack[..stack.len() - 1];
                        return Some(DuplicateKey {
                            path: path(parents, &key),
                            first: place(first),
                            second: place(start),
                        });
                    }
                    if let Some(Frame::Object(keys, current)) = stack.last_mut() {
                        keys.insert(lower, start);
                        *current = Some(key);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// serde_json counts columns in bytes; people count characters. `column` is serde_json's
/// (1-based, bytes) on `line` (1-based) of `text`.
pub(super) fn char_column(text: &str, line: usize, column: usize) -> usize {
    let Some(line_text) = text.split('\n').nth(line.saturating_sub(1)) else {
        return column;
    };
    let mut cut = column.saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(cut) {
        cut -= 1;
    }
    line_text[..cut].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> Option<DuplicateKey> {
        let stripped = strip(text).unwrap();
        serde_json::from_str::<serde_json::Value>(&stripped).unwrap();
        duplicate_key(text, &stripped)
    }

    #[test]
    fn a_key_twice_is_found_with_its_path_and_both_places() {
        let found = duplicate(
            "{\n  \"AzureAd\": {\n    \"TenantId\": \"a\",\n    // the second one\n    \"TenantId\": \"b\"\n  }\n}",
        )
        .unwrap();
        assert_eq!(found.path, "AzureAd:TenantId");
        assert_eq!((found.first, found.second), ((3, 5), (5, 5)));
        // Keys are case-insensitive, as in .NET configuration.
        let found = duplicate(r#"{"AzureAd":{"TenantId":"a","tenantid":"b"}}"#).unwrap();
        assert_eq!(found.path, "AzureAd:tenantid");
        // In an array element, by its index; a whole section twice counts too.
        let found = duplicate(
            r#"{"AzureAd":{"ClientCredentials":[{"SourceType":"ClientSecret"},{"SourceType":"A","sourceType":"B"}]}}"#,
        )
        .unwrap();
        assert_eq!(found.path, "AzureAd:ClientCredentials:1:sourceType");
        let found = duplicate(r#"{"AzureAd":{"a":1},"Logging":{},"azuread":{"b":2}}"#).unwrap();
        assert_eq!(found.path, "azuread");
        assert_eq!(found.first, (1, 2));
        assert!(
            found
                .to_string()
                .contains("at line 1, column 2 and at line 1, column 33"),
            "{found}"
        );
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        assert_eq!(
            duplicate(
                r#"{"A":{"k":1,"s":"k:"},"B":{"k":[{"k":1},{"k":2}]},"C":"\"k\":","k":{"\"":1,"'":2}}"#
            ),
            None
        );
    }

    fn strict(text: &str) -> serde_json::Value {
        let stripped = strip(text).unwrap();
        assert_eq!(stripped.len(), text.len(), "offsets must not move");
        serde_json::from_str(&stripped).unwrap_or_else(|e| panic!("{e}: {stripped}"))
    }

    #[test]
    fn comments_and_trailing_commas_go() {
        let v = strict(
            "// head\r\n{ /* a\r\n block */ \"a\": [1, 2, ], // tail\r\n \"b\": {\"c\": \
                1,},\r\n}/**/",
        );
        assert_eq!(v, serde_json::json!({"a": [1, 2], "b": {"c": 1}}));
        // A comment between the trailing comma and the bracket.
        assert_eq!(strict("[1, /* x */\n]"), serde_json::json!([1]));
        // A comment at the very end, without a line break.
        assert_eq!(strict("{} // end"), serde_json::json!({}));
        // Non-ASCII text in comments is blanked byte for byte.
        assert_eq!(strict("{/* ключ 🔑 */}"), serde_json::json!({}));
    }

    #[test]
    fn strings_are_left_alone() {
        let v = strict(
            r#"{"url": "https://x//y", "c": "/* no */", "q": "a\"//b", "e": "\\", "f": "x,]"}"#,
        );
        assert_eq!(v["url"], "https://x//y");
        assert_eq!(v["c"], "/* no */");
        assert_eq!(v["q"], "a\"//b");
        assert_eq!(v["e"], "\\");
        assert_eq!(v["f"], "x,]");
    }

    #[test]
    fn only_dotnets_trailing_commas_are_removed() {
        for bad in ["[1,,]", "{,}", "[,]", "{\"a\": 1,,}"] {
            let stripped = strip(bad).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&stripped).is_err(),
                "{bad} must stay invalid"
            );
        }
    }

    #[test]
    fn an_unclosed_comment_is_placed() {
        assert_eq!(
            strip("{\r\n  \"é\": 1 /* open\r\n}").unwrap_err(),
            UnclosedComment {
                line: 2,
                column: 10
            }
        );
        assert_eq!(
            strip("/*/").unwrap_err(),
            UnclosedComment { line: 1, column: 1 }
        );
        // Inside a string, `/*` opens nothing.
        assert!(strip("\"/*\"").is_ok());
    }

    #[test]
    fn serde_columns_become_character_columns() {
        let text = "{\n\"é€\": 1 2}";
        let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        assert_eq!(e.line(), 2);
        assert_eq!(char_column(text, e.line(), e.column()), 9);
        assert_eq!(char_column("ab", 1, 2), 2);
        assert_eq!(char_column("ab", 5, 7), 7);
    }
}
