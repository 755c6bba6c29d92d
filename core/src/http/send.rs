//! Sending one request and reading its answer within bounds: the body is read in chunks up to
//! its limit, and a UTF-8 byte order mark before the JSON is dropped.

use super::response::{MAX_BODY, MAX_BODY_SHOWN, Response, UTF8_BOM};
use super::transport::{LegCodes, transport_error};
use crate::error::{Error, Leg, Result};

/// Sends a request and reads a bounded body. Transport failures become `*Unreachable` /
/// `*Timeout` errors of `leg` whose message says where we tried to go.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    leg: Leg,
    target: &str,
) -> Result<Response> {
    let transport = |e: reqwest::Error| transport_error(&e, leg, target);
    let (client, request) = request.build_split();
    let mut request = request.map_err(transport)?;
    let trace = crate::telemetry::http_started(leg, &mut request);
    let result = read(client.execute(request), leg, target).await;
    let answer = match &result {
        Ok(r) => Ok((r.status, r.body.as_slice())),
        Err(e) => Err(e),
    };
    crate::telemetry::http_ended(trace, answer);
    result
}

/// Reads the answer of a request sent.
async fn read(
    sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    leg: Leg,
    target: &str,
) -> Result<Response> {
    let transport = |e: reqwest::Error| transport_error(&e, leg, target);
    let mut response = sent.await.map_err(transport)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let too_large = || too_large(leg, target, status);
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    drop_byte_order_mark(&mut body);
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The error for an answer over [`MAX_BODY`].
fn too_large(leg: Leg, target: &str, status: u16) -> Error {
    Error::new(
        LegCodes::of(leg).invalid,
        format!(
            "{target} sent a response too large: more than {MAX_BODY_SHOWN}, where a token \
             response is a few KB"
        ),
    )
    .with_leg(leg)
    .with_http_status(status)
    .with_remedy(
        "Something other than the endpoint answered (a proxy or captive portal?), or the endpoint \
         is broken: check what listens at that address.",
    )
}

/// A UTF-8 byte order mark is not part of the JSON that follows it (RFC 8259 lets a parser
/// ignore it, and some endpoints and proxies send one: docs/protocol.md §3): every parser sees
/// the body without it.
fn drop_byte_order_mark(body: &mut Vec<u8>) {
    if body.starts_with(UTF8_BOM) {
        body.drain(..UTF8_BOM.len());
    }
}
