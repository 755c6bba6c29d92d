//! App-only tokens take one scope, `{resource}/.default` (docs/protocol.md §1). Callers pass what the
//! Azure SDKs pass: one or more scopes, sometimes a bare resource.

use std::borrow::Cow;

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

const DEFAULT_SUFFIX: &str = "/.default";

/// Turns the caller's scopes into the one scope string sent to Entra.
/// `https://graph.microsoft.com` and `https://graph.microsoft.com/.default` are the same request;
/// a delegated permission (`.../User.Read`) or a second resource is an error that says what to send.
/// Borrows when the caller already sent the one normalized scope (the hot path allocates nothing).
pub fn normalize_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Cow<'_, str>> {
    if let [only] = scopes {
        let scope = only.as_ref();
        if scope.len() > DEFAULT_SUFFIX.len()
            && scope.ends_with(DEFAULT_SUFFIX)
            && scope.len() <= 2048
            && scope.is_ascii()
            && !scope
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Ok(Cow::Borrowed(scope));
        }
    }
    let mut resource: Option<&str> = None;
    for raw in scopes {
        let scope = raw.as_ref().trim();
        let this = resource_of(scope)?;
        match resource {
            None => resource = Some(this),
            Some(r) if r.eq_ignore_ascii_case(this) => {}
            Some(r) => {
                return Err(Error::config(
                    ErrorCode::InvalidScope,
                    format!(
                        "the scopes name two resources, '{}' and '{}'",
                        echo(r),
                        echo(this)
                    ),
                )
                .with_remedy("Request one resource per token: call get_token once per resource."));
            }
        }
    }
    let resource = resource.ok_or_else(|| {
        Error::config(ErrorCode::InvalidScope, "no scope was given").with_remedy(
            "Pass the resource's scope, e.g. https://graph.microsoft.com/.default \
                or https://<tenant>.sharepoint.com/.default.",
        )
    })?;
    Ok(Cow::Owned(format!("{resource}{DEFAULT_SUFFIX}")))
}

/// The resource of one scope, checked.
fn resource_of(scope: &str) -> Result<&str> {
    if scope.is_empty() {
        return Err(Error::config(ErrorCode::InvalidScope, "a scope is empty")
            .with_remedy("Pass the resource's scope, e.g. https://graph.microsoft.com/.default."));
    }
    if scope.len() > 2048 || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config(
            ErrorCode::InvalidScope,
            "a scope contains spaces or control characters, or is too long",
        )
        .with_remedy(
            "Pass one scope per list item, e.g. [\"https://graph.microsoft.com/.default\"].",
        ));
    }
    if let Some(resource) = scope.strip_suffix(DEFAULT_SUFFIX) {
        if resource.is_empty() {
            return Err(Error::config(
                ErrorCode::InvalidScope,
                "the scope '/.default' has no resource",
            ));
        }
        return Ok(resource);
    }
    let bare = scope.trim_end_matches('/');
    if is_bare_resource(bare) {
        // The scope it becomes must pass the same length check when given back.
        if bare.len() + DEFAULT_SUFFIX.len() > 2048 {
            return Err(Error::config(
                ErrorCode::InvalidScope,
                "a scope is too long once '/.default' is added",
            )
            .with_remedy("Pass the resource's scope, e.g. https://graph.microsoft.com/.default."));
        }
        return Ok(bare);
    }
    let suggestion = scope
        .rfind('/')
        .filter(|i| *i > scope.find("://").map_or(0, |p| p + 2))
        .map(|i| format!("{}{DEFAULT_SUFFIX}", &scope[..i]));
    let mut e = Error::config(
        ErrorCode::InvalidScope,
        format!(
            "'{}' is a delegated permission; an app-only token is requested with \
                '<resource>/.default'",
            echo(scope)
        ),
    );
    e = match suggestion {
        Some(s) => e.with_remedy(format!(
            "Request '{}'; the app's application permissions (app \
            roles) decide what the token allows.",
            echo(&s)
        )),
        None => e.with_remedy("Request '<resource>/.default'."),
    };
    Err(e)
}

/// `https://host`, `api://name-or-guid`, or a bare GUID (an app id used as resource).
fn is_bare_resource(s: &str) -> bool {
    match s.split_once("://") {
        Some((_, rest)) => !rest.is_empty() && !rest.contains('/'),
        None => s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scopes_and_bare_resources() {
        assert_eq!(
            normalize_scopes(&["https://graph.microsoft.com/.default"]).unwrap(),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            normalize_scopes(&["https://graph.microsoft.com"]).unwrap(),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            normalize_scopes(&["https://contoso.sharepoint.com/"]).unwrap(),
            "https://contoso.sharepoint.com/.default"
        );
        assert_eq!(
            normalize_scopes(&["api://AzureADTokenExchange"]).unwrap(),
            "api://AzureADTokenExchange/.default"
        );
        assert_eq!(
            normalize_scopes(&[
                "https://graph.microsoft.com/.default",
                "https://graph.microsoft.com"
            ])
            .unwrap(),
            "https://graph.microsoft.com/.default"
        );
    }

    #[test]
    fn mistakes_say_what_to_send() {
        let e = normalize_scopes(&["https://graph.microsoft.com/User.Read"]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidScope);
        assert!(
            e.to_string()
                .contains("https://graph.microsoft.com/.default"),
            "{e}"
        );
        let e = normalize_scopes(&[
            "https://graph.microsoft.com/.default",
            "https://contoso.sharepoint.com/.default",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("two resources"), "{e}");
        let none: [&str; 0] = [];
        assert_eq!(
            normalize_scopes(&none).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            normalize_scopes(&[""]).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            normalize_scopes(&["a b"]).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            normalize_scopes(&["/.default"]).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
    }

    /// Found by the `scopes` fuzz target: a bare resource near the length limit became a scope
    /// over it, which normalisation then refused when given back.
    #[test]
    fn a_normalised_scope_is_within_the_limit_it_is_checked_against() {
        let resource = |len: usize| format!("https://{}", "a".repeat(len - "https://".len()));
        let longest = resource(2048 - "/.default".len());
        let scope = normalize_scopes(&[&longest]).unwrap().into_owned();
        assert_eq!(scope.len(), 2048);
        assert_eq!(normalize_scopes(&[&scope]).unwrap(), scope);
        let e = normalize_scopes(&[resource(2048 - "/.default".len() + 1)]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidScope);
        assert!(e.to_string().contains("too long"), "{e}");
    }
}
