//! Client certificates: PKCS#12 (PFX) and PEM (certificate plus `PRIVATE KEY`,
//! `RSA PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`), as a file or `Base64EncodedValue` holds them.
//! An input starting with a `password=...` line is opened with that password. Properties: no
//! panic; a certificate that loads signs an assertion that decodes to the app, the audience and
//! a ten-minute lifetime, naming the certificate by its thumbprint; an error repeats neither
//! the password nor long base64 runs of the file (key material).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certless::fuzzing::{CLIENT_ID, Certificate};
use certless::jwt::decode_claims;
use certless_fuzz::{NOW, check_error, disguise, rendered, telling};
use libfuzzer_sys::fuzz_target;

const AUDIENCE: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// Runs of 40 or more base64 characters: key material in a PEM file.
fn base64_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .filter(|run| run.len() >= 40)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let (password, file) = match data.strip_prefix(b"password=") {
        Some(rest) => {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let password = String::from_utf8_lossy(&rest[..end]).into_owned();
            (Some(password), rest.get(end + 1..).unwrap_or_default())
        }
        None => (None, data),
    };
    match Certificate::parse(file, password.as_deref()) {
        Ok(certificate) => {
            let _ = certificate.describe();
            let assertion = certificate
                .sign_assertion(AUDIENCE, true, NOW)
                .expect("a loaded certificate signs");
            let claims = decode_claims(assertion.expose()).expect("the assertion is a JWT");
            assert_eq!(claims.iss.as_deref(), Some(CLIENT_ID));
            assert_eq!(claims.sub.as_deref(), Some(CLIENT_ID));
            assert_eq!(claims.aud.as_deref(), Some(AUDIENCE));
            assert_eq!(claims.exp, Some(NOW + 600));
            let header = assertion.expose().split('.').next().unwrap();
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
            let x5t = URL_SAFE_NO_PAD
                .decode(header["x5t"].as_str().unwrap())
                .unwrap();
            let hex: String = x5t.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(hex, certificate.thumbprint());
        }
        Err(e) => {
            let text = String::from_utf8_lossy(file);
            let mut forbidden = base64_runs(&text);
            // The password, unless the error's fixed text happens to contain it (found by
            // opening the file with the password's letters and digits changed).
            if let Some(p) = password
                .as_deref()
                .filter(|p| p.len() >= 6 && !text.contains(*p))
            {
                let shown = match Certificate::parse(file, Some(&disguise(p, &[p]))) {
                    Err(e) => rendered(&e),
                    Ok(_) => String::new(),
                };
                forbidden.extend(telling(&[p], &shown));
            }
            check_error(&e, &forbidden);
        }
    }
});
