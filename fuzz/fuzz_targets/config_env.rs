//! Configuration from environment variables, through the public
//! `CredentialBuilder::from_environment` with a `MapEnv` built from `NAME=VALUE` lines, then
//! `build` with the same environment (source detection, endpoint variables, proxies).
//! Variables that name files read at build time are left out: reading arbitrary paths is not
//! what this target is about. Properties: no panic; secret values (client secret, identity
//! headers, certificate password, proxy URLs that may carry credentials) never show in an error
//! or in Debug output.
#![no_main]

use std::sync::Arc;

use certless::CredentialBuilder;
use certless::env::MapEnv;
use certless_fuzz::{check_error, disguise, is_checkable_secret, key_values, rendered, telling};
use libfuzzer_sys::fuzz_target;

const READS_FILES: [&str; 3] = [
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "CERTLESS_CA_FILE",
    "SSL_CERT_FILE",
];

const SECRETS: [&str; 10] = [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "IDENTITY_HEADER",
    "MSI_SECRET",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
];

/// What a host would see: the error, or the Debug output of the builder and the credential.
fn outcome(input: &str) -> (Option<certless::Error>, String) {
    let vars: Vec<(String, String)> = key_values(input.as_bytes())
        .into_iter()
        .filter(|(name, _)| !READS_FILES.contains(&name.as_str()))
        .collect();
    let env = Arc::new(MapEnv::new().with_vars(vars));
    let builder = match CredentialBuilder::from_environment(env.clone()) {
        Ok(builder) => builder,
        Err(e) => return (Some(e), String::new()),
    };
    let debug = format!("{builder:?}");
    match builder.environment(env).build() {
        Err(e) => (Some(e), debug),
        Ok(credential) => {
            let _ = (credential.sources(), credential.managed_identity_source());
            (None, format!("{debug}\n{credential:?}"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (error, debug) = outcome(&input);
    let vars = key_values(input.as_bytes());
    let secrets: Vec<&str> = vars
        .iter()
        .filter(|(name, _)| SECRETS.contains(&name.as_str()))
        .map(|(_, value)| value.as_str())
        .filter(|value| is_checkable_secret(value, &input))
        .collect();
    if secrets.is_empty() {
        if let Some(e) = &error {
            check_error(e, &[]);
        }
        return;
    }
    let (error_without, debug_without) = outcome(&disguise(&input, &secrets));
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
