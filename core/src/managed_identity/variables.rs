//! The environment variables a platform sets for its managed-identity endpoint, checked when the
//! credential is built. A value that cannot work (an endpoint that is not an http(s) URL, a
//! secret that cannot be sent as a header) is a configuration error naming the variable, not a
//! request that fails, is retried for half a minute as a network failure, and blames the
//! endpoint.

use reqwest::header::HeaderValue;

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;
use crate::support::env::Environment;
use crate::support::secret::Secret;

/// The URL in endpoint variable `name`, which must be set.
pub(super) fn endpoint_url(env: &dyn Environment, name: &str) -> Result<String> {
    let value = env
        .var(name)
        .ok_or_else(|| Error::config(ErrorCode::MissingConfig, format!("{name} is not set")))?;
    check_endpoint(name, &value)
}

/// `value` of endpoint variable `name`, trimmed, if it is an http(s) URL with a host.
pub(super) fn check_endpoint(name: &str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    let problem = match url::Url::parse(trimmed) {
        Err(e) => Some(e.to_string()),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            Some(format!("its scheme is {}", echo(url.scheme())))
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("it has no host".into()),
        Ok(_) => None,
    };
    match problem {
        None => Ok(trimmed.to_string()),
        Some(problem) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{name} '{}' is not an http:// or https:// URL ({problem})",
                echo(value)
            ),
        )
        .with_remedy(format!(
            "{name} is set by the platform to its identity endpoint's URL (for example \
             http://169.254.169.254 or http://localhost:42356/msi/token): use the value it \
             sets, or unset {name} where it does not belong."
        ))),
    }
}

/// The secret in variable `name` (which must be set), if it can be sent as an HTTP header. The
/// value is never shown: only what is wrong with it.
pub(super) fn header_secret(env: &dyn Environment, name: &str) -> Result<Option<Secret>> {
    let Some(value) = env.var(name) else {
        return Ok(None);
    };
    if HeaderValue::from_str(&value).is_ok() {
        return Ok(Some(Secret::from(value)));
    }
    // What a header value cannot hold: ASCII control characters other than tab.
    let (at, bad) = value
        .char_indices()
        .find(|(_, c)| c.is_ascii_control() && *c != '\t')
        .unwrap_or((0, ' '));
    let what = match bad {
        '\r' | '\n' => "a line break",
        _ => "a control character",
    };
    let place = if at + bad.len_utf8() == value.len() {
        "at its end".to_string()
    } else {
        format!(
            "at character {} of {}",
            value[..at].chars().count() + 1,
            value.chars().count()
        )
    };
    Err(Error::config(
        ErrorCode::InvalidConfig,
        format!("{name} cannot be sent as an HTTP header: it has {what} {place}"),
    )
    .with_remedy(format!(
        "Use the value the platform sets for {name}, unchanged: read it from the environment the \
         platform gives the process, never copied by hand (a copy often gains a trailing newline)."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::env::MapEnv;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        for ok in [
            "http://169.254.169.254",
            " https://10.0.0.4:2377/metadata/identity/oauth2/token ",
            "http://localhost:42356/msi/token",
        ] {
            assert_eq!(check_endpoint("X", ok).unwrap(), ok.trim());
        }
        for (bad, why) in [
            ("notaurl", "relative URL without a base"),
            ("ftp://host/", "its scheme is ftp"),
            ("localhost:4141/msi/token", "its scheme is localhost"),
            ("http://", "empty host"),
            ("file:///etc/passwd", "its scheme is file"),
        ] {
            let e = check_endpoint("IDENTITY_ENDPOINT", bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig);
            let text = e.to_string();
            assert!(
                text.contains(&format!("IDENTITY_ENDPOINT '{bad}'")) && text.contains(why),
                "{text}"
            );
        }
    }

    #[test]
    fn a_secret_says_what_is_wrong_and_never_what_it_is() {
        let check = |value: &str| {
            header_secret(
                &MapEnv::new().with_var("IDENTITY_HEADER", value),
                "IDENTITY_HEADER",
            )
        };
        assert!(check("0f6b0a5e-3c1b-4f5a").unwrap().is_some());
        assert!(
            header_secret(&MapEnv::new(), "IDENTITY_HEADER")
                .unwrap()
                .is_none()
        );
        for (value, said) in [
            ("hunter2\n", "a line break at its end"),
            ("hunter2\r\nX: y", "a line break at character 8 of 13"),
            ("hün\u{1}ter2", "a control character at character 4 of 8"),
            ("hunter2\u{7f}", "a control character at its end"),
        ] {
            let e = check(value).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(said), "{text}");
            assert!(!text.contains("hunter") && !text.contains("ter2"), "{text}");
        }
    }
}
