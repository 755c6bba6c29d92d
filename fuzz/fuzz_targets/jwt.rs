//! JWT decoding (`certless::jwt::decode_claims`, used on managed-identity and access tokens to
//! schedule refreshes and explain failures) and the lifetime that follows from a token's `exp`
//! claim and a server's figure. Properties: no panic; an error never repeats a part of the
//! token; `exp` is read as the payload says; a computed expiry in the future is no later than a
//! token can live, and never later than a plausible figure the server gave.
#![no_main]

use certless::fuzzing::{MAX_LIFETIME_SECS, token_expiry};
use certless::jwt::decode_claims;
use certless_fuzz::{NOW, check_error, disguise, rendered, telling};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    match decode_claims(&token) {
        Ok(claims) => {
            if let Some(exp) = claims.all.get("exp").and_then(serde_json::Value::as_i64) {
                assert_eq!(claims.exp, Some(exp));
            }
            let _ = format!("{claims:?}");
        }
        Err(e) => {
            // Its parts, unless the error's fixed text happens to contain them (found by decoding
            // the token with the parts' letters and digits changed).
            let parts: Vec<&str> = token.split('.').filter(|p| p.len() >= 8).collect();
            let shown = match decode_claims(&disguise(&token, &parts)) {
                Err(e) => rendered(&e),
                Ok(_) => String::new(),
            };
            check_error(&e, &telling(&parts, &shown));
        }
    }
    for reported in [
        None,
        Some(NOW + 3600),
        Some(NOW * 1000),
        Some(NOW - 1),
        Some(NOW),
    ] {
        let Some(at) = token_expiry(reported, &token, NOW) else {
            continue;
        };
        if at > NOW {
            assert!(
                at <= NOW + MAX_LIFETIME_SECS,
                "{reported:?} → {} s",
                at - NOW
            );
        }
        if let Some(r) = reported.filter(|r| NOW < *r && *r <= NOW + MAX_LIFETIME_SECS) {
            assert!(at <= r, "a plausible figure {r} was extended to {at}");
        }
    }
});
