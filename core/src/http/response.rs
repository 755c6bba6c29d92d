//! What an answer from an upstream may be: the bounds on its head and body, and what is read
//! from it (status, headers, body, `Retry-After`).

use reqwest::header::HeaderMap;

/// Responses larger than this are hostile or broken; a token response is a few KB.
pub(super) const MAX_BODY: usize = 256 * 1024;
pub(super) const MAX_BODY_SHOWN: &str = "256 KiB";

/// How many header fields a response may carry. hyper's default, 100, is less than what a
/// cookie-setting gateway or a TLS-inspecting proxy sends in front of a healthy endpoint
/// (docs/protocol.md §3); past this, the answer is refused as one that is too large.
pub(super) const MAX_RESPONSE_HEADERS: usize = 1000;

/// The same bound for HTTP/2, in bytes of header list (hyper's default is 16 KiB).
pub(super) const MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;

/// A UTF-8 byte order mark, which some endpoints put before their JSON.
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds, at most an hour: delay-seconds, or an HTTP date measured from
    /// the response's own `Date` (so that this machine's clock skew does not matter) or, without
    /// one, from now.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        let value = self.header("retry-after")?.trim();
        let seconds = match value.parse::<u64>() {
            Ok(s) => s,
            Err(_) => {
                let at = crate::support::clock::parse_http_date(value)?;
                let base = self
                    .header("date")
                    .and_then(crate::support::clock::parse_http_date)
                    .unwrap_or_else(|| {
                        crate::support::clock::unix_seconds(std::time::SystemTime::now())
                    });
                u64::try_from(at - base).unwrap_or(0)
            }
        };
        Some(seconds.min(3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&'static str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Response {
            status: 429,
            headers: map,
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(response(&[("retry-after", "120")]).retry_after(), Some(120));
        assert_eq!(
            response(&[("retry-after", "86400")]).retry_after(),
            Some(3600)
        );
        // A date is measured from the response's own Date: skew-free.
        let dated = response(&[
            ("retry-after", "Wed, 21 Oct 2015 07:30:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(dated.retry_after(), Some(120));
        let past = response(&[
            ("retry-after", "Wed, 21 Oct 2015 07:20:00 GMT"),
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(past.retry_after(), Some(0));
        assert_eq!(response(&[("retry-after", "soon")]).retry_after(), None);
        assert_eq!(response(&[]).retry_after(), None);
    }
}
