//! Small HTTP helpers shared by the endpoints: tolerant parsing of hostile input and JSON answers.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::Value;

/// Query parameters in order, percent-decoded; invalid UTF-8 becomes U+FFFD rather than an error.
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_pairs(q.as_bytes()))
        .unwrap_or_default()
}

/// `application/x-www-form-urlencoded` pairs in order; never fails.
pub(crate) fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The first value of a parameter. Duplicates are ignored, like most OAuth servers' first-wins parsing.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A header value as text, if present and visible ASCII.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case); `None` without one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = header_str(headers, "authorization")?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    header_str(headers, header::CONTENT_TYPE.as_str())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false)
}

/// A JSON answer with the content type the Azure services send.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A JSON object with its fields in the given order (the services' own order; `serde_json::Map` would sort them).
pub(crate) fn ordered_json(fields: &[(&str, Value)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Adds a header if the value is a valid header value (values echoed from clients may not be).
pub(crate) fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// The base URL a client reached this listener by (scheme + Host), falling back to 127.0.0.1. Only loopback
/// spellings are echoed, so discovery documents never point anywhere else.
pub(crate) fn base_url(headers: &HeaderMap, uri: &Uri, scheme: &str, port: u16) -> String {
    let host = header_str(headers, header::HOST.as_str())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let loopback = ["127.0.0.1:", "localhost:", "[::1]:"]
        .iter()
        .any(|p| host.strip_prefix(p) == Some(port.to_string().as_str()));
    if loopback {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://127.0.0.1:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hostile_forms_without_failing() {
        let pairs = form_pairs(b"a=1&&=&b=%ZZ&c=%FF%FE&a=2&scope=x%2F.default+y");
        assert_eq!(param(&pairs, "a"), Some("1"));
        assert_eq!(param(&pairs, "b"), Some("%ZZ"));
        assert_eq!(param(&pairs, "c"), Some("\u{FFFD}\u{FFFD}"));
        assert_eq!(param(&pairs, "scope"), Some("x/.default y"));
    }

    #[test]
    fn ordered_json_keeps_order_and_escapes() {
        let text = ordered_json(&[("b", Value::from("x\"y")), ("a", Value::from(1))]);
        assert_eq!(text, r#"{"b":"x\"y","a":1}"#);
    }

    #[test]
    fn base_url_only_echoes_loopback_hosts() {
        let mut h = HeaderMap::new();
        let uri: Uri = "/x".parse().expect("uri");
        h.insert(header::HOST, HeaderValue::from_static("localhost:8080"));
        assert_eq!(base_url(&h, &uri, "https", 8080), "https://localhost:8080");
        h.insert(header::HOST, HeaderValue::from_static("evil.example:8080"));
        assert_eq!(base_url(&h, &uri, "http", 8080), "http://127.0.0.1:8080");
    }
}
