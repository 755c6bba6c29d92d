//! Fault injection: make an endpoint answer with a chosen status, `Retry-After`, delay, broken body, a dropped
//! connection, or a connection reset in the middle of the body, for the next N requests or until cleared. This is
//! how tests exercise the retry rules of docs/protocol.md §3 against a real socket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::state::{Endpoint, lock};

/// What an endpoint does instead of (or on top of) its normal answer.
///
/// The parts combine: `delay` is waited first; then `drop_connection` closes the socket without an answer; else
/// `status` replaces the endpoint's answer with an error of that status in the endpoint's own error shape; `body`
/// replaces the body of whatever answer is sent (so `body` alone breaks a 200); `retry_after` adds `Retry-After`;
/// last, `reset_mid_body` sends the answer's head and half its body, then resets the connection (TCP RST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// Answer with this status, in the endpoint's error shape.
    pub status: Option<u16>,
    /// Add `Retry-After` with these seconds.
    pub retry_after: Option<u64>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Replace the body of the answer.
    pub body: Option<FaultBody>,
    /// Apply to the next N requests, then stop; `None` = until cleared.
    pub remaining: Option<u32>,
    /// Close the connection without answering.
    pub drop_connection: bool,
    /// Send the head and half the body, then reset the connection (SO_LINGER 0, then close): what a client sees
    /// when a load balancer or the endpoint's host dies mid-response. Over TLS the client is then left with a
    /// socket it can no longer write its close alert to.
    pub reset_mid_body: bool,
    /// Send the answer with its end marked only by the end of the connection (no `Content-Length`,
    /// `Connection: close`), then drop the connection without TLS's `close_notify`: what a TLS-terminating
    /// proxy or load balancer that speaks HTTP/1.0 does. The client cannot know the answer was complete.
    pub tls_close_without_notify: bool,
    /// Put a UTF-8 byte order mark before the answer's body (valid JSON still follows it).
    pub bom: bool,
    /// Add this many `Set-Cookie` headers, as a cookie-setting gateway in front does.
    pub header_flood: Option<u32>,
}

/// A replacement body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultBody {
    /// Truncated JSON, as from a connection cut mid-body or a broken proxy.
    Malformed,
    /// Zero bytes.
    Empty,
    /// Exactly this text.
    Custom(String),
    /// A JSON error whose description quotes the request's credentials back: every secret header
    /// (`X-IDENTITY-HEADER`, `secret`, `Authorization`) and the form's `client_assertion` and
    /// `client_secret`, as a gateway or a proxy that repeats the rejected request does.
    EchoCredentials,
}

/// The headers and form fields [`FaultBody::EchoCredentials`] quotes back.
const ECHOED_HEADERS: [&str; 3] = ["x-identity-header", "secret", "authorization"];
const ECHOED_FIELDS: [&str; 2] = ["client_assertion", "client_secret"];

/// The body of [`FaultBody::EchoCredentials`] for this request.
pub(crate) fn echo_credentials(headers: &axum::http::HeaderMap, form: &[u8]) -> String {
    let mut quoted = Vec::new();
    for name in ECHOED_HEADERS {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            quoted.push(format!("header {name} '{v}'"));
        }
    }
    for (name, value) in url::form_urlencoded::parse(form) {
        if ECHOED_FIELDS.contains(&name.as_ref()) {
            quoted.push(format!("field {name} '{value}'"));
        }
    }
    serde_json::json!({
        "error": "unauthorized",
        "error_description": format!("rejected credentials: {}", quoted.join(", ")),
    })
    .to_string()
}

impl Fault {
    /// Answer with this HTTP status (in the endpoint's error shape).
    pub fn http_status(status: u16) -> Self {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Answer normally, but only after this delay.
    pub fn delayed(delay: Duration) -> Self {
        Fault {
            delay: Some(delay),
            ..Fault::default()
        }
    }

    /// Close the connection without answering.
    pub fn dropped_connection() -> Self {
        Fault {
            drop_connection: true,
            ..Fault::default()
        }
    }

    /// Answer normally, but reset the connection halfway through the body.
    pub fn reset_mid_body() -> Self {
        Fault {
            reset_mid_body: true,
            ..Fault::default()
        }
    }

    /// Answer normally, then close the connection without TLS's `close_notify` (see the field).
    pub fn tls_close_without_notify() -> Self {
        Fault {
            tls_close_without_notify: true,
            ..Fault::default()
        }
    }

    /// Answer normally but with this body.
    pub fn broken_body(body: FaultBody) -> Self {
        Fault {
            body: Some(body),
            ..Fault::default()
        }
    }

    /// With `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// With a delay before the answer.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Answer normally, with a UTF-8 byte order mark before the body.
    pub fn bom() -> Self {
        Fault {
            bom: true,
            ..Fault::default()
        }
    }

    /// Answer normally, with `n` more `Set-Cookie` headers.
    pub fn header_flood(n: u32) -> Self {
        Fault {
            header_flood: Some(n),
            ..Fault::default()
        }
    }

    /// With this body.
    pub fn with_body(mut self, body: FaultBody) -> Self {
        self.body = Some(body);
        self
    }

    /// Apply to the next `n` requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

/// The admin surface's JSON for a fault (`POST /_emulator/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    pub endpoint: Endpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<FaultBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    #[serde(default)]
    pub drop_connection: bool,
    #[serde(default)]
    pub reset_mid_body: bool,
    #[serde(default)]
    pub tls_close_without_notify: bool,
    #[serde(default)]
    pub bom: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_flood: Option<u32>,
}

impl FaultSpec {
    pub(crate) fn into_fault(self) -> Result<(Endpoint, Fault), String> {
        if let Some(s) = self.status {
            if StatusCode::from_u16(s).is_err() || s < 200 {
                return Err(format!("status {s} is not a final HTTP status"));
            }
        }
        Ok((
            self.endpoint,
            Fault {
                status: self.status,
                retry_after: self.retry_after,
                delay: self.delay_ms.map(Duration::from_millis),
                body: self.body,
                remaining: self.remaining,
                drop_connection: self.drop_connection,
                reset_mid_body: self.reset_mid_body,
                tls_close_without_notify: self.tls_close_without_notify,
                bom: self.bom,
                header_flood: self.header_flood,
            },
        ))
    }

    pub(crate) fn from_fault(endpoint: Endpoint, f: &Fault) -> Self {
        FaultSpec {
            endpoint,
            status: f.status,
            retry_after: f.retry_after,
            delay_ms: f
                .delay
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            body: f.body.clone(),
            remaining: f.remaining,
            drop_connection: f.drop_connection,
            reset_mid_body: f.reset_mid_body,
            tls_close_without_notify: f.tls_close_without_notify,
            bom: f.bom,
            header_flood: f.header_flood,
        }
    }
}

/// Active faults, one per endpoint.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    faults: Mutex<HashMap<Endpoint, Fault>>,
}

impl FaultTable {
    pub(crate) fn set(&self, endpoint: Endpoint, fault: Fault) {
        let mut map = lock(&self.faults);
        if fault.remaining == Some(0) {
            map.remove(&endpoint);
        } else {
            map.insert(endpoint, fault);
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn list(&self) -> Vec<(Endpoint, Fault)> {
        lock(&self.faults)
            .iter()
            .map(|(e, f)| (*e, f.clone()))
            .collect()
    }

    /// The fault for this request, counting it against `remaining`.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut map = lock(&self.faults);
        let fault = map.get_mut(&endpoint)?;
        let applied = fault.clone();
        if let Some(n) = fault.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&endpoint);
            }
        }
        Some(applied)
    }
}

/// Puts the fault's body and `Retry-After` on a response.
pub(crate) fn shape_response(mut response: Response, fault: &Fault) -> Response {
    if let Some(body) = &fault.body {
        let text = match body {
            FaultBody::Malformed => r#"{"access_token":"eyJ0eXAiOiJKV1Qi"#.to_string(),
            FaultBody::Empty => String::new(),
            FaultBody::Custom(s) => s.clone(),
            // Made from the request by the router (`echo_credentials`), which sees it.
            FaultBody::EchoCredentials => String::new(),
        };
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        if matches!(body, FaultBody::Empty) {
            headers.remove(header::CONTENT_TYPE);
        } else {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        *response.body_mut() = Body::from(text);
    }
    for i in 0..fault.header_flood.unwrap_or(0) {
        let cookie = format!("gateway-affinity-{i}=0123456789abcdef; Path=/; Secure; HttpOnly");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    if let Some(secs) = fault.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_then_clears() {
        let t = FaultTable::default();
        t.set(Endpoint::Imds, Fault::http_status(429).times(2));
        assert_eq!(t.take(Endpoint::Imds).and_then(|f| f.status), Some(429));
        assert_eq!(t.take(Endpoint::Imds).and_then(|f| f.status), Some(429));
        assert_eq!(t.take(Endpoint::Imds), None);
        assert_eq!(t.take(Endpoint::AppService), None);
    }

    #[test]
    fn unlimited_fault_stays_until_cleared() {
        let t = FaultTable::default();
        t.set(Endpoint::EntraToken, Fault::http_status(503));
        for _ in 0..5 {
            assert!(t.take(Endpoint::EntraToken).is_some());
        }
        t.clear();
        assert!(t.take(Endpoint::EntraToken).is_none());
    }

    #[test]
    fn admin_json_round_trips() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"endpoint":"imds","status":429,"retry_after":5,"delay_ms":100,"body":{"custom":"x"},"remaining":2}"#,
        )
        .expect("parses");
        let (endpoint, fault) = spec.into_fault().expect("valid");
        assert_eq!(endpoint, Endpoint::Imds);
        assert_eq!(fault.delay, Some(Duration::from_millis(100)));
        assert_eq!(fault.body, Some(FaultBody::Custom("x".into())));
        let body: FaultSpec =
            serde_json::from_str(r#"{"endpoint":"entra_token","body":"malformed"}"#)
                .expect("parses");
        assert_eq!(body.body, Some(FaultBody::Malformed));
        let reset: FaultSpec =
            serde_json::from_str(r#"{"endpoint":"service_fabric","reset_mid_body":true}"#)
                .expect("parses");
        let (_, fault) = reset.into_fault().expect("valid");
        assert_eq!(fault, Fault::reset_mid_body());
        assert!(serde_json::from_str::<FaultSpec>(r#"{"endpoint":"imds","stauts":429}"#).is_err());
        let bad = FaultSpec {
            status: Some(99),
            ..body
        };
        assert!(bad.into_fault().is_err());
    }
}
