//! Scope normalisation (`certless::normalize_scopes`): what callers and the Azure SDKs pass as
//! scopes, one per input line. Properties: no panic; a result is one `<resource>/.default`
//! scope without spaces or control characters; normalising it again gives it back; each scope
//! alone normalises to the same resource (ASCII case aside); errors are scope errors.
#![no_main]

use certless::{ErrorCode, normalize_scopes};
use certless_fuzz::check_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scopes: Vec<&str> = text.split('\n').take(16).collect();
    match normalize_scopes(&scopes) {
        Ok(scope) => {
            assert!(
                scope.len() > "/.default".len() && scope.ends_with("/.default"),
                "{scope:?}"
            );
            assert!(
                !scope.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{scope:?}"
            );
            assert_eq!(normalize_scopes(&[&*scope]).ok().as_deref(), Some(&*scope));
            for one in &scopes {
                let alone = [*one];
                let alone =
                    normalize_scopes(&alone).expect("a scope accepted in a list is accepted alone");
                assert!(alone.eq_ignore_ascii_case(&scope), "{alone:?} vs {scope:?}");
            }
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidScope);
            check_error(&e, &[]);
        }
    }
});
