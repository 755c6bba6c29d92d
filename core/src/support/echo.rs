//! Echoing a value someone supplied (a configuration value, an environment variable, a path)
//! into an error message or a log line. The value is shown, because seeing it is how a user spots
//! the mistake, but bounded and inert: it is cut after [`MAX_CHARS`] characters (a 10 MB value
//! must not make a 10 MB error), and characters a terminal or a log viewer would act on instead
//! of printing (ANSI escapes, NUL, line breaks) or that reorder the text around them (bidi
//! controls such as U+202E) are written as escapes.
//!
//! Never echo a secret with this: secrets are not echoed at all.

use std::fmt::{self, Write};
use std::path::Path;

/// How many characters of a value are shown.
pub(crate) const MAX_CHARS: usize = 120;

/// `value`, bounded and with unsafe characters escaped; quote it yourself (`'{}'`).
pub(crate) fn echo(value: &str) -> Echo<'_> {
    Echo(value)
}

/// A path, as [`echo`] shows a value (lossily for a path that is not Unicode).
pub(crate) fn echo_path(path: &Path) -> String {
    echo(&path.to_string_lossy()).to_string()
}

pub(crate) struct Echo<'a>(&'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, c) in self.0.chars().enumerate() {
            if shown == MAX_CHARS {
                return write!(f, "… ({} bytes in all)", self.0.len());
            }
            write_char(f, c)?;
        }
        Ok(())
    }
}

fn write_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        '\0' => f.write_str("\\0"),
        c if is_unsafe(c) => write!(f, "\\u{{{:x}}}", u32::from(c)),
        c => f.write_char(c),
    }
}

/// Control characters, and the invisible formatting characters that change how the text
/// around them is displayed (bidi embeddings, overrides and isolates, directional marks,
/// zero-width characters, line and paragraph separators, the BOM).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{61c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_values_are_unchanged() {
        for v in [
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            r"C:\certs\app.pfx",
            "contoso.onmicrosoft.com",
            "🔑 ключ",
        ] {
            assert_eq!(echo(v).to_string(), v);
        }
    }

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(
            echo("\u{1b}[2Ja\u{202e}b\u{0}\r\n\u{7f}\u{2066}\u{feff}").to_string(),
            "\\u{1b}[2Ja\\u{202e}b\\0\\r\\n\\u{7f}\\u{2066}\\u{feff}"
        );
    }

    #[test]
    fn long_values_are_cut_and_say_their_size() {
        let long = "é".repeat(10_000);
        let shown = echo(&long).to_string();
        assert!(shown.starts_with(&"é".repeat(MAX_CHARS)), "{shown}");
        assert!(shown.ends_with("… (20000 bytes in all)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), MAX_CHARS);
        let exact = "x".repeat(MAX_CHARS);
        assert_eq!(echo(&exact).to_string(), exact);
    }
}
