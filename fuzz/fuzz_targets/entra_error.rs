//! Entra's error answer from the token endpoint, written as `<status>`, header lines, a blank
//! line and the body: `error`, `error_description` (with its trace lines), `error_codes`, ids,
//! AADSTS codes quoted in the text, Retry-After, and bodies that are not JSON at all.
//! Properties: no panic; the error names the exchange leg, the app, the tenant and the status;
//! every AADSTS code it reports is one the body named; no token-shaped part of the body or the
//! headers is repeated.
#![no_main]

use certless::Leg;
use certless::fuzzing::{CLIENT_ID, TENANT_ID, entra_error};
use certless_fuzz::{check_error, split_http, token_shaped};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let http = split_http(data);
    let status = http
        .first_line
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=999).contains(s))
        .unwrap_or(400);
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

    let error = entra_error(status, &http.headers, http.body);
    assert_eq!(error.leg(), Leg::Exchange);
    assert_eq!(error.http_status(), Some(status));
    let message = error.message();
    assert!(
        message.contains(CLIENT_ID) && message.contains(TENANT_ID),
        "{message}"
    );
    // The description as JSON decodes it (escapes and all), where codes may also be quoted.
    let description = serde_json::from_slice::<serde_json::Value>(http.body)
        .ok()
        .and_then(|v| v.get("error_description")?.as_str().map(str::to_string))
        .unwrap_or_default();
    for code in error.aadsts_codes() {
        let code = code.to_string();
        assert!(
            body_text.contains(&code) || description.contains(&code),
            "AADSTS{code} is not in the body"
        );
    }
    check_error(&error, &forbidden);
});
