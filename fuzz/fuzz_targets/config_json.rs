//! Microsoft.Identity.Web JSON configuration (`appsettings.json` or its `AzureAd` section), through
//! the public `CredentialBuilder::from_config_json`, then the checks `build` runs on it.
//! Properties: no panic; a secret of the file (ClientSecret, CertificatePassword,
//! Base64EncodedValue) never shows in an error or in the builder's Debug output.
#![no_main]

use std::sync::Arc;

use certless::env::MapEnv;
use certless::{CredentialBuilder, Result};
use certless_fuzz::{check_error, disguise, is_checkable_secret, rendered, telling};
use libfuzzer_sys::fuzz_target;

/// String values of the keys that hold secrets, found in the raw text (comments and all).
fn secret_values(text: &str) -> Vec<&str> {
    const KEYS: [&str; 3] = [
        "\"clientsecret\"",
        "\"certificatepassword\"",
        "\"base64encodedvalue\"",
    ];
    let lower = text.to_ascii_lowercase();
    let mut values = Vec::new();
    for key in KEYS {
        for (at, _) in lower.match_indices(key) {
            let rest = text[at + key.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(':') else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some(end) = rest.find('"') else { continue };
            let value = &rest[..end];
            if !value.contains('\\') && is_checkable_secret(value, text) {
                values.push(value);
            }
        }
    }
    values
}

/// What a host would see of this configuration: the error, or the builder and then the error
/// of its validation.
fn outcome(text: &str) -> (Option<certless::Error>, String) {
    match CredentialBuilder::from_config_json(text) {
        Err(e) => (Some(e), String::new()),
        Ok(builder) => {
            let debug = format!("{builder:?}");
            let builder = builder.environment(Arc::new(MapEnv::new()));
            let validated: Result<()> = certless::fuzzing::validate(builder);
            (validated.err(), debug)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (error, debug) = outcome(text);
    let secrets = secret_values(text);
    if secrets.is_empty() {
        if let Some(e) = &error {
            check_error(e, &[]);
        }
        return;
    }
    let (error_without, debug_without) = outcome(&disguise(text, &secrets));
    let shown_without = format!(
        "{}\n{debug_without}",
        error_without.as_ref().map(rendered).unwrap_or_default()
    );
    let secrets = telling(&secrets, &shown_without);
    for secret in &secrets {
        assert!(!debug.contains(secret), "Debug shows a secret: {debug}");
    }
    if let Some(e) = &error {
        check_error(e, &secrets);
    }
});
