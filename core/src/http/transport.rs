//! Transport failures as errors of their leg: which error codes a leg reports, an answer refused
//! for its shape (a head too large, a TLS close without `close_notify`) told from a network
//! failure, and the message that says where we tried to go and what broke.

use super::response::{MAX_HEADER_LIST_BYTES, MAX_RESPONSE_HEADERS};
use crate::error::{Error, ErrorCode, Leg};

/// The error codes a leg reports for an unreachable endpoint, a timeout and an answer it refuses.
#[derive(Clone, Copy)]
pub(super) struct LegCodes {
    pub(super) unreachable: ErrorCode,
    pub(super) timeout: ErrorCode,
    pub(super) invalid: ErrorCode,
}

impl LegCodes {
    pub(super) fn of(leg: Leg) -> LegCodes {
        let (unreachable, timeout, invalid) = match leg {
            Leg::ManagedIdentity => (
                ErrorCode::ManagedIdentityUnreachable,
                ErrorCode::ManagedIdentityTimeout,
                ErrorCode::ManagedIdentityInvalidResponse,
            ),
            Leg::KeyVault => (
                ErrorCode::KeyVaultUnreachable,
                ErrorCode::KeyVaultUnreachable,
                ErrorCode::KeyVaultInvalidResponse,
            ),
            _ => (
                ErrorCode::ExchangeUnreachable,
                ErrorCode::ExchangeTimeout,
                ErrorCode::ExchangeInvalidResponse,
            ),
        };
        LegCodes {
            unreachable,
            timeout,
            invalid,
        }
    }
}

/// A transport failure of a request to `target` on `leg` as an `*Unreachable` / `*Timeout`
/// error (or `*InvalidResponse`, for an answer refused for its shape).
pub(super) fn transport_error(e: &reqwest::Error, leg: Leg, target: &str) -> Error {
    let codes = LegCodes::of(leg);
    if refused(e) == Some(Refused::NoCloseNotify) {
        return Error::new(
            codes.invalid,
            format!(
                "{target} closed the TLS connection without close_notify before its answer \
                was known to be complete, so the answer was refused (it could have been cut \
                short)"
            ),
        )
        .with_leg(leg)
        .with_remedy(
            "The endpoint was reached: what answers there (often a TLS-terminating proxy or \
            load balancer sending HTTP/1.0 answers without Content-Length) ends connections \
            uncleanly. Have it send Content-Length (or chunked answers) and close TLS with \
            close_notify, or bypass it (NO_PROXY).",
        );
    }
    if refused(e) == Some(Refused::HeadTooLarge) {
        return Error::new(
            codes.invalid,
            format!(
                "{target} sent a response whose head is too large (more than \
                {MAX_RESPONSE_HEADERS} header fields, or headers of more than \
                {MAX_HEADER_LIST_BYTES} bytes)"
            ),
        )
        .with_leg(leg)
        .with_remedy(
            "Something between certless and the endpoint (a gateway, a proxy) adds headers \
            without bound: check what answers at that address and what it adds.",
        );
    }
    let (code, what) = if e.is_timeout() {
        (codes.timeout, "did not answer in time")
    } else if e.is_connect() {
        (codes.unreachable, "could not be reached")
    } else {
        (codes.unreachable, "dropped the connection")
    };
    let error = Error::new(
        code,
        format!("{target} {what} ({})", describe_transport_error(e)),
    )
    .with_leg(leg);
    match (e.is_connect(), e.is_timeout()) {
        (true, false) => error.with_connect_failed().with_in_connect(),
        (true, true) => error.with_in_connect(),
        _ => error,
    }
}

/// What a transport failure was, when it was not the network: an answer refused for its shape.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// hyper refused the response because its head (status line and headers) is over the limits
    /// the clients set (`client.rs`): a message that arrived whole, not a connection that broke.
    HeadTooLarge,
    /// The peer closed TLS without `close_notify`: for an answer whose end is the connection's
    /// end (HTTP/1.0 without `Content-Length`), a truncation cannot be told from the end, so
    /// rustls refuses it. The peer is reachable; it closes uncleanly.
    NoCloseNotify,
}

fn refused(e: &reqwest::Error) -> Option<Refused> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = refused_by_text(&s.to_string()) {
            return Some(r);
        }
        source = s.source();
    }
    None
}

/// hyper's `Parse(TooLarge)`, h2's refusal of an oversized header list, and rustls's
/// `UnexpectedEof` for a close without `close_notify`, as their messages say them.
fn refused_by_text(text: &str) -> Option<Refused> {
    if text.contains("message head is too large") || text.contains("header list size") {
        Some(Refused::HeadTooLarge)
    } else if text.contains("close_notify") {
        Some(Refused::NoCloseNotify)
    } else {
        None
    }
}

/// reqwest's own message plus its innermost cause (the useful part: "connection refused",
/// "invalid peer certificate: UnknownIssuer", ...), without the URL (it may carry a query).
fn describe_transport_error(e: &reqwest::Error) -> String {
    let mut innermost = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_refused_for_their_shape_are_told_from_network_failures() {
        assert_eq!(
            refused_by_text("message head is too large"),
            Some(Refused::HeadTooLarge)
        );
        assert_eq!(
            refused_by_text(
                "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof"
            ),
            Some(Refused::NoCloseNotify)
        );
        assert_eq!(refused_by_text("connection reset by peer"), None);
        assert_eq!(refused_by_text("Connection refused (os error 111)"), None);
    }
}
