//! The answers the broker writes: JSON that no cache between it and its client may keep, and
//! error answers in the wire format (`certless::broker::wire::error_body`).

use bytes::Bytes;
use certless::broker::wire;
use certless::{Error, ErrorCode};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

pub(crate) type Body = Full<Bytes>;

pub(crate) fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // Tokens must not be kept by anything between the broker and its client.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub(crate) fn error_response(error: &Error, status: u16) -> Response<Body> {
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        wire::error_body(error, status),
    )
}

/// An error answer for a request the broker refuses before any token logic.
pub(crate) fn problem(status: StatusCode, message: String, remedy: &'static str) -> Response<Body> {
    let code = if status == StatusCode::FORBIDDEN {
        ErrorCode::ManagedIdentityRejected
    } else {
        ErrorCode::InvalidArgument
    };
    error_response(
        &Error::new(code, message).with_remedy(remedy),
        status.as_u16(),
    )
}
