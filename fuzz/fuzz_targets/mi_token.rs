//! A managed-identity endpoint's 200 body (every source: IMDS, App Service, Service Fabric,
//! Azure Arc, Cloud Shell, Azure ML): numbers as strings, `expires_on` in its many shapes, the
//! token's own `exp` claim. Properties: no panic; a token comes out non-empty and never expires
//! later than a token can live; neither its Debug output nor an error repeats the token.
#![no_main]

use certless::fuzzing::{MAX_LIFETIME_SECS, managed_identity_token};
use certless::{ManagedIdentityToken, Secret};
use certless_fuzz::{
    NOW, check_error, disguise, is_checkable_secret, rendered, telling, token_shaped,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let access_token = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    match managed_identity_token(data, NOW) {
        Ok(token) => {
            let value = token.token.expose();
            assert!(!value.is_empty());
            assert_eq!(Some(value), access_token.as_deref());
            assert!(
                token.expires_on <= NOW + MAX_LIFETIME_SECS,
                "expires {} s from now, longer than a token lives",
                token.expires_on - NOW
            );
            // Debug shows nothing of the token: the same with another token of its length.
            let other = ManagedIdentityToken {
                token: Secret::new(disguise(value, &[value])),
                ..token.clone()
            };
            assert_eq!(
                format!("{token:?}"),
                format!("{other:?}"),
                "Debug depends on the token"
            );
        }
        Err(e) => {
            let mut forbidden = token_shaped(&text);
            // The token itself, unless the error's fixed text happens to contain it (found by
            // running the same body with the token's letters and digits changed).
            if let (Ok(utf8), Some(token)) = (std::str::from_utf8(data), access_token.as_deref())
                && is_checkable_secret(token, utf8)
            {
                let disguised = disguise(utf8, &[token]);
                let shown = match managed_identity_token(disguised.as_bytes(), NOW) {
                    Err(e) => rendered(&e),
                    Ok(_) => String::new(),
                };
                forbidden.extend(telling(&[token], &shown));
            }
            check_error(&e, &forbidden);
        }
    }
});
