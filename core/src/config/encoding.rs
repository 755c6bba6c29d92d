//! A configuration file's bytes to text, the way .NET's configuration reads appsettings.json:
//! the encoding comes from the byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), and a file
//! without one is UTF-8. Where .NET would quietly turn bytes it cannot decode into U+FFFD, this
//! says which byte of the file is wrong, so the user can find it.

use std::fmt;

/// Why the bytes are not text. `Display` continues a sentence that starts with the file:
/// "... is not valid UTF-8 at byte 26 (...)".
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DecodeError {
    encoding: &'static str,
    offset: usize,
    what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.encoding.is_empty() {
            write!(f, "has a NUL byte at byte {}: {}", self.offset, self.what)
        } else {
            write!(
                f,
                "is not valid {} at byte {} ({})",
                self.encoding, self.offset, self.what
            )
        }
    }
}

impl DecodeError {
    pub(super) fn remedy(&self) -> &'static str {
        "Save the file as UTF-8 (what Visual Studio and VS Code write) or as UTF-16 with a byte \
         order mark; a file saved in a legacy code page such as Windows-1252 is not UTF-8."
    }
}

/// The text of `bytes`, without its byte order mark.
pub(super) fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    // UTF-32 LE's mark starts with UTF-16 LE's, so it is tested first.
    match bytes {
        [0xEF, 0xBB, 0xBF, body @ ..] => utf8(body, 3, "UTF-8"),
        [0xFF, 0xFE, 0x00, 0x00, body @ ..] => utf32(body, 4, "UTF-32 LE", u32::from_le_bytes),
        [0x00, 0x00, 0xFE, 0xFF, body @ ..] => utf32(body, 4, "UTF-32 BE", u32::from_be_bytes),
        [0xFF, 0xFE, body @ ..] => utf16(body, 2, "UTF-16 LE", u16::from_le_bytes),
        [0xFE, 0xFF, body @ ..] => utf16(body, 2, "UTF-16 BE", u16::from_be_bytes),
        body => {
            let text = utf8(body, 0, "UTF-8")?;
            // JSON never holds a raw NUL; a file full of them is UTF-16 or UTF-32 whose byte
            // order mark was not written, which .NET cannot read either.
            match text.find('\0') {
                Some(offset) => Err(DecodeError {
                    encoding: "",
                    offset,
                    what: "it looks like UTF-16 or UTF-32 saved without a byte order mark",
                }),
                None => Ok(text),
            }
        }
    }
}

fn utf8(body: &[u8], start: usize, encoding: &'static str) -> Result<String, DecodeError> {
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(DecodeError {
            encoding,
            offset: start + e.valid_up_to(),
            what: match e.error_len() {
                Some(_) => "a byte sequence that is no character",
                None => "the file ends in the middle of a character",
            },
        }),
    }
}

fn utf16(
    body: &[u8],
    start: usize,
    encoding: &'static str,
    unit: fn([u8; 2]) -> u16,
) -> Result<String, DecodeError> {
    let whole = body.len() - body.len() % 2;
    let units = body[..whole].chunks_exact(2).map(|p| unit([p[0], p[1]]));
    let mut text = String::with_capacity(whole / 2);
    let mut position = 0;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                text.push(c);
                position += c.len_utf16();
            }
            Err(_) => {
                return Err(DecodeError {
                    encoding,
                    offset: start + 2 * position,
                    what: "a lone surrogate",
                });
            }
        }
    }
    if whole != body.len() {
        return Err(DecodeError {
            encoding,
            offset: start + whole,
            what: "the file ends in the middle of a character",
        });
    }
    Ok(text)
}

fn utf32(
    body: &[u8],
    start: usize,
    encoding: &'static str,
    unit: fn([u8; 4]) -> u32,
) -> Result<String, DecodeError> {
    let mut text = String::with_capacity(body.len() / 4);
    for (i, chunk) in body.chunks(4).enumerate() {
        let offset = start + 4 * i;
        let &[a, b, c, d] = chunk else {
            return Err(DecodeError {
                encoding,
                offset,
                what: "the file ends in the middle of a character",
            });
        };
        let c = char::from_u32(unit([a, b, c, d])).ok_or(DecodeError {
            encoding,
            offset,
            what: "a value that is no character",
        })?;
        text.push(c);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\"k\": \"é🔑\"}\r\n";

    fn with(mark: &[u8], body: impl IntoIterator<Item = u8>) -> Vec<u8> {
        mark.iter().copied().chain(body).collect()
    }

    #[test]
    fn every_byte_order_mark_is_honoured() {
        let le16 = TEXT.encode_utf16().flat_map(u16::to_le_bytes);
        let be16 = TEXT.encode_utf16().flat_map(u16::to_be_bytes);
        let le32 = TEXT.chars().flat_map(|c| u32::from(c).to_le_bytes());
        let be32 = TEXT.chars().flat_map(|c| u32::from(c).to_be_bytes());
        for bytes in [
            TEXT.as_bytes().to_vec(),
            with(&[0xEF, 0xBB, 0xBF], TEXT.bytes()),
            with(&[0xFF, 0xFE], le16),
            with(&[0xFE, 0xFF], be16),
            with(&[0xFF, 0xFE, 0, 0], le32),
            with(&[0, 0, 0xFE, 0xFF], be32),
        ] {
            assert_eq!(decode(&bytes).unwrap(), TEXT, "{bytes:?}");
        }
        assert_eq!(decode(b"").unwrap(), "");
        assert_eq!(decode(&[0xEF, 0xBB, 0xBF]).unwrap(), "");
    }

    #[test]
    fn undecodable_bytes_are_placed() {
        let e = decode(b"{\"a\": \"\xff\"}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "is not valid UTF-8 at byte 7 (a byte sequence that is no character)"
        );
        let e = decode(b"\xEF\xBB\xBF{\"a\": \"\xC3").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(e.to_string().contains("ends in the middle"), "{e}");
        // UTF-16: an odd length, a lone high and a lone low surrogate.
        assert_eq!(decode(&[0xFF, 0xFE, b'{', 0, b'}']).unwrap_err().offset, 4);
        let e = decode(&[0xFF, 0xFE, b'{', 0, 0x00, 0xD8, b'}', 0]).unwrap_err();
        assert_eq!((e.encoding, e.offset), ("UTF-16 LE", 4));
        assert_eq!(
            decode(&[0xFE, 0xFF, 0, b'{', 0xDC, 0x00])
                .unwrap_err()
                .offset,
            4
        );
        // UTF-32: beyond U+10FFFF, a surrogate, a cut character.
        assert_eq!(
            decode(&[0xFF, 0xFE, 0, 0, b'{', 0, 0, 0, 0, 0, 0x11, 0])
                .unwrap_err()
                .offset,
            8
        );
        assert_eq!(
            decode(&[0, 0, 0xFE, 0xFF, 0, 0, 0xD8, 0])
                .unwrap_err()
                .offset,
            4
        );
        assert_eq!(decode(&[0, 0, 0xFE, 0xFF, 0, 0, 0]).unwrap_err().offset, 4);
        let e = decode(&[b'{', 0, b'}', 0]).unwrap_err();
        assert!(e.to_string().contains("without a byte order mark"), "{e}");
    }
}
