//! A managed-identity endpoint's error answer, written as `<source> <status> [client|object|
//! resource]`, header lines, a blank line and the body: each source's error shapes
//! (`{"error","error_description"}`, App Service's `{"statusCode","message"}`, Service Fabric's
//! `{"error":{"code","message"}}`, plain text, HTML from a proxy), its remedies, Retry-After and
//! the proxy evidence in headers. Properties: no panic; the parsed fields are scrubbed (no
//! control characters, bounded); the error carries the status and never repeats a token-shaped
//! part of the body or headers.
#![no_main]

use certless::fuzzing::{managed_identity_error, managed_identity_error_body};
use certless::{ManagedIdentityId, ManagedIdentitySource};
use certless_fuzz::{check_error, split_http, token_shaped};
use libfuzzer_sys::fuzz_target;

fn check_scrubbed(field: &Option<String>, forbidden: &[&str]) {
    let Some(text) = field else { return };
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.len() <= 600 + '…'.len_utf8(), "{} bytes", text.len());
    for token in forbidden {
        assert!(!text.contains(token), "{text:?} repeats a token");
    }
}

fuzz_target!(|data: &[u8]| {
    let http = split_http(data);
    let mut words = http.first_line.split_whitespace();
    let source = words
        .next()
        .and_then(|w| ManagedIdentitySource::parse(w).ok())
        .unwrap_or(ManagedIdentitySource::Imds);
    let status = words
        .next()
        .and_then(|w| w.parse::<u16>().ok())
        .filter(|s| (100..=999).contains(s))
        .unwrap_or(400);
    let id = match words.next() {
        Some("client") => ManagedIdentityId::ClientId("11111111-2222-3333-4444-555555555555".into()),
        Some("object") => ManagedIdentityId::ObjectId("aaaaaaaa-2222-3333-4444-555555555555".into()),
        Some("resource") => ManagedIdentityId::ResourceId(
            "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"
                .into(),
        ),
        _ => ManagedIdentityId::SystemAssigned,
    };
    let body_text = String::from_utf8_lossy(http.body);
    let header_texts: Vec<String> = http
        .headers
        .iter()
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    let mut forbidden = token_shaped(&body_text);
    for value in &header_texts {
        forbidden.extend(token_shaped(value));
    }

    let body = managed_identity_error_body(http.body);
    for field in [&body.error, &body.description, &body.correlation_id] {
        check_scrubbed(field, &forbidden);
    }

    match managed_identity_error(source, id, status, &http.headers, http.body) {
        Ok(error) => {
            assert_eq!(error.http_status(), Some(status));
            check_error(&error, &forbidden);
        }
        // A source that cannot serve the identity asked for (Cloud Shell, user-assigned).
        Err(e) => check_error(&e, &forbidden),
    }
});
