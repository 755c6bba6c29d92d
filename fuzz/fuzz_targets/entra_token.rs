//! Entra's 200 body from the token endpoint. Properties: no panic; an issued token is
//! non-empty, expires after now and no later than a token can live, refreshes before it expires,
//! has a plain token type (it becomes an HTTP header); neither Debug nor an error repeats it.
#![no_main]

use certless::Secret;
use certless::fuzzing::{IssuedToken, MAX_LIFETIME_SECS, entra_token};
use certless_fuzz::{
    NOW, check_error, disguise, is_checkable_secret, rendered, telling, token_shaped,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let access_token = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    match entra_token(data, NOW) {
        Ok(issued) => {
            let value = issued.token.expose();
            assert_eq!(Some(value), access_token.as_deref());
            assert!(!value.is_empty());
            assert!(
                NOW < issued.expires_on && issued.expires_on <= NOW + MAX_LIFETIME_SECS,
                "expires {} s from now",
                issued.expires_on - NOW
            );
            if let Some(refresh) = issued.refresh_on {
                assert!(refresh < issued.expires_on);
            }
            assert!(
                !issued.token_type.is_empty()
                    && issued.token_type.len() <= 32
                    && issued
                        .token_type
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "token type {:?}",
                issued.token_type
            );
            // Debug shows nothing of the token: the same with another token of its length.
            let debug = format!("{issued:?}");
            let other = IssuedToken {
                token: Secret::new(disguise(value, &[value])),
                token_type: issued.token_type.clone(),
                expires_on: issued.expires_on,
                refresh_on: issued.refresh_on,
            };
            assert_eq!(debug, format!("{other:?}"), "Debug depends on the token");
        }
        Err(e) => {
            let mut forbidden = token_shaped(&text);
            // The token itself, unless the error's fixed text happens to contain it (found by
            // running the same body with the token's letters and digits changed).
            if let (Ok(utf8), Some(token)) = (std::str::from_utf8(data), access_token.as_deref())
                && is_checkable_secret(token, utf8)
            {
                let disguised = disguise(utf8, &[token]);
                let shown = match entra_token(disguised.as_bytes(), NOW) {
                    Err(e) => rendered(&e),
                    Ok(_) => String::new(),
                };
                forbidden.extend(telling(&[token], &shown));
            }
            check_error(&e, &forbidden);
        }
    }
});
