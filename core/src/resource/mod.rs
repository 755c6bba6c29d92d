//! Why a resource refused a token certless obtained, and what fixes it.
//!
//! certless's part ends when Entra issues the token; what the resource then does with it is out of
//! its hands. But the usual refusals come from the app's setup in Entra, which is what certless
//! knows about: the token's roles (the application permissions an administrator consented to), its
//! audience, and for SharePoint and Graph's `Sites.Selected` the per-site grant made through
//! Microsoft Graph. [`explain_refusal`] reads the answer and the token's claims (without verifying
//! them: it is our own token, read only to explain) and names what is missing.
//! The wire shapes it relies on are in docs/protocol.md §9.

use crate::error::{Error, ErrorCode};
use crate::support::secret::scrub_server_text;
use crate::token::jwt::decode_claims;

/// SharePoint's host name suffixes (global, US Government, China, Germany).
const SHAREPOINT_SUFFIXES: &[&str] = &[
    ".sharepoint.com",
    ".sharepoint.us",
    ".sharepoint-mil.us",
    ".sharepoint.cn",
    ".sharepoint.de",
];

/// Roles that let an app read every site (so a refusal is not about a missing site grant).
const ALL_SITES_ROLES: &[&str] = &[
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
];

/// The resource a URL names, as far as the explanation needs it.
#[derive(Debug, PartialEq, Eq)]
enum Resource {
    /// SharePoint REST: the host (`contoso.sharepoint.com`) and the site path (`sites/crm`; empty for
    /// the root site).
    SharePoint { host: String, site: String },
    /// Microsoft Graph.
    Graph,
    /// Anything else, by its host.
    Other { host: String },
}

impl Resource {
    /// A SharePoint host in the URL's host or in its path (a proxy or the emulator puts it there),
    /// Graph by its host, else the URL's host.
    fn of(url: &str) -> Resource {
        let parsed = url::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let segments: Vec<String> = parsed
            .as_ref()
            .and_then(|u| u.path_segments())
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        let is_sharepoint = |h: &str| SHAREPOINT_SUFFIXES.iter().any(|s| h.ends_with(s));
        let found = if is_sharepoint(&host) {
            Some((host.clone(), &segments[..]))
        } else {
            segments
                .iter()
                .position(|s| is_sharepoint(&s.to_ascii_lowercase()))
                .map(|i| (segments[i].to_ascii_lowercase(), &segments[i + 1..]))
        };
        if let Some((host, rest)) = found {
            let site = match rest {
                [kind, name, ..] if kind == "sites" || kind == "teams" => format!("{kind}/{name}"),
                _ => String::new(),
            };
            return Resource::SharePoint { host, site };
        }
        if host.starts_with("graph.microsoft.") || host == "microsoftgraph.chinacloudapi.cn" {
            return Resource::Graph;
        }
        Resource::Other { host }
    }

    /// The audiences the resource takes (empty when unknown).
    fn audiences(&self) -> Vec<String> {
        match self {
            Resource::SharePoint { host, .. } => vec![
                format!("https://{host}"),
                format!("00000003-0000-0ff1-ce00-000000000000/{host}"),
            ],
            Resource::Graph => vec![
                "https://graph.microsoft.com".into(),
                "00000003-0000-0000-c000-000000000000".into(),
            ],
            Resource::Other { .. } => Vec::new(),
        }
    }

    fn scope(&self) -> Option<String> {
        match self {
            Resource::SharePoint { host, .. } => Some(format!("https://{host}/.default")),
            Resource::Graph => Some("https://graph.microsoft.com/.default".into()),
            Resource::Other { .. } => None,
        }
    }

    fn name(&self) -> String {
        match self {
            Resource::SharePoint { host, site } if site.is_empty() => {
                format!("SharePoint ({host})")
            }
            Resource::SharePoint { host, site } => format!("SharePoint site {host}/{site}"),
            Resource::Graph => "Microsoft Graph".into(),
            Resource::Other { host } if host.is_empty() => "the resource".into(),
            Resource::Other { host } => host.clone(),
        }
    }
}

/// What the token said about itself.
#[derive(Default)]
struct TokenFacts {
    readable: bool,
    roles: Vec<String>,
    app_id: Option<String>,
    audience: Option<String>,
    tenant: Option<String>,
    expires: Option<i64>,
    client_secret: bool,
}

impl TokenFacts {
    fn of(token: Option<&str>) -> TokenFacts {
        let Some(Ok(claims)) = token.map(|t| decode_claims(t.trim())) else {
            return TokenFacts::default();
        };
        let text = |name: &str| {
            claims
                .all
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        TokenFacts {
            readable: true,
            roles: claims
                .all
                .get("roles")
                .and_then(|r| r.as_array())
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            app_id: text("appid").or_else(|| text("azp")),
            audience: claims.aud.clone(),
            tenant: claims.tid.clone(),
            expires: claims.exp,
            client_secret: text("appidacr").as_deref() == Some("1")
                || text("azpacr").as_deref() == Some("1"),
        }
    }

    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// What the message says the token carried: never the token itself.
    fn describe(&self) -> String {
        if !self.readable {
            return "the token's claims were not available".into();
        }
        let roles = if self.roles.is_empty() {
            "no roles".to_string()
        } else {
            format!("roles {}", self.roles.join(", "))
        };
        format!(
            "the token (app {}, tenant {}) has audience {} and {roles}",
            self.app_id.as_deref().unwrap_or("?"),
            self.tenant.as_deref().unwrap_or("?"),
            self.audience.as_deref().unwrap_or("?"),
        )
    }
}

/// The parameters of a `WWW-Authenticate: Bearer k="v", k=v, ...` challenge, names lowercased.
fn challenge_params(header: &str) -> Vec<(String, String)> {
    let rest = header.trim();
    let rest = match rest.split_once(char::is_whitespace) {
        Some((scheme, rest)) if !scheme.contains('=') => rest,
        _ => rest,
    };
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if name.is_empty() && chars.peek().is_none() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let value: String = if chars.next_if_eq(&'"').is_some() {
            let mut v = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => v.extend(chars.next()),
                    c => v.push(c),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
        };
        params.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    params
}

/// What the server said in its body, in a few words: SharePoint's and Graph's `error.message`,
/// or `error_description`; made safe by [`safe_text`].
fn server_text(body: &str, token: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let text = value["error"]["message"]["value"]
        .as_str()
        .or_else(|| value["error"]["message"].as_str())
        .or_else(|| value["error_description"].as_str())?;
    let text = safe_text(text, token);
    (!text.is_empty()).then_some(text)
}

/// Server text without credentials: the token that was sent (whatever its shape), the word after
/// `Bearer`, and anything shaped like a JWT (`scrub_server_text`) are cut out.
fn safe_text(text: &str, token: Option<&str>) -> String {
    let mut text = text.to_string();
    if let Some(token) = token.map(str::trim).filter(|t| t.len() >= 8) {
        text = text.replace(token, "<token>");
    }
    let mut out = String::with_capacity(text.len());
    let mut words = text.split(' ').peekable();
    while let Some(word) = words.next() {
        out.push_str(word);
        if word.eq_ignore_ascii_case("bearer") && words.peek().is_some() {
            words.next();
            out.push_str(" <redacted>");
        }
        if words.peek().is_some() {
            out.push(' ');
        }
    }
    scrub_server_text(&out)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The explanation of a resource's refusal of a token certless obtained: an error of code
/// [`ErrorCode::ResourceRefused`] (leg `resource`, the answer's status) whose message says which
/// resource (and SharePoint site) refused and what the token carried — its roles, audience, app and
/// tenant, never the token — and whose remedy says what is missing and how to add it.
///
/// `url` is the request's URL, `status` the answer's status (401 or 403, usually), `www_authenticate`
/// its `WWW-Authenticate` header, `body` its body and `token` the bearer token that was sent (read,
/// never verified, never repeated). Any of them may be missing or malformed: the explanation then
/// says less.
pub fn explain_refusal(
    url: &str,
    status: u16,
    www_authenticate: Option<&str>,
    body: &str,
    token: Option<&str>,
) -> Error {
    let resource = Resource::of(url);
    let facts = TokenFacts::of(token);
    let challenge = www_authenticate.map(challenge_params).unwrap_or_default();
    let param = |name: &str| {
        challenge
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let oauth_error = param("error").map(|e| safe_text(e, token));
    let said = server_text(body, token)
        .map(|t| format!(" It said: \"{t}\"."))
        .unwrap_or_default();
    let name = resource.name();
    let carried = facts.describe();
    let refusal = classify(&resource, &facts, status, oauth_error.as_deref(), &said);
    let (message, remedy) = match refusal {
        Refusal::ClaimsChallenge => (
            format!(
                "{name} answered 401 with a claims challenge (Continuous Access Evaluation): the \
                 token was revoked, or no longer meets a policy, before it expired; {carried}."
            ),
            "Ask Entra for a new token with the challenge's `claims` (certless: \
             TokenRequestOptions.claims, which bypasses the cache) and retry the request once; \
             CertlessAuthenticationHandler does this by itself. A second challenge means the \
             policy refuses the app, not the token."
                .to_string(),
        ),
        Refusal::WrongAudience => (
            format!(
                "{name} answered {status}: the token is for another resource; {carried}, but \
                 {name} takes tokens for {}.{said}",
                resource.audiences()[0]
            ),
            format!(
                "Ask for a token with the scope {} (one resource per token: a Graph token does not \
                 open SharePoint's REST API, and the reverse).",
                resource.scope().unwrap_or_default()
            ),
        ),
        Refusal::Expired => (
            format!("{name} answered 401: the token has expired; {carried}.{said}"),
            "Get a token for each request from the credential (it refreshes before expiry) rather \
             than keeping one."
                .to_string(),
        ),
        Refusal::ClientSecret => (
            format!(
                "{name} answered 401: SharePoint refuses app-only tokens obtained with a client \
                 secret; {carried}.{said}"
            ),
            "Authenticate the app with a federated credential (certless's managed-identity \
             assertion) or a certificate instead of a client secret."
                .to_string(),
        ),
        Refusal::Unauthorized => (
            format!(
                "{name} answered 401: it did not accept the token{}; {carried}.{said}",
                oauth_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            format!(
                "Check that the token's tenant is the resource's ({}) and that it is sent as \
                 `Authorization: Bearer <token>` to the host it was asked for.",
                param("realm")
                    .filter(|r| !r.is_empty())
                    .map(|r| format!("the challenge names {}", safe_text(r, token)))
                    .unwrap_or_else(|| "see the challenge's realm".into())
            ),
        ),
        Refusal::NoRoles => (
            format!(
                "{name} answered {status}: the token carries no application permission (no roles \
                 claim); {carried}.{said}"
            ),
            format!(
                "Give the app an application permission on {} and have an administrator consent: \
                 Entra admin center > App registrations > the app ({}) > API permissions > Add a \
                 permission > {} > Application permissions ({}), then \"Grant admin consent\". \
                 Tokens issued before the consent keep their old roles until they expire.",
                match resource {
                    Resource::SharePoint { .. } => "SharePoint",
                    Resource::Graph => "Microsoft Graph",
                    Resource::Other { .. } => "the resource",
                },
                facts.app_id.as_deref().unwrap_or("its client id"),
                match resource {
                    Resource::SharePoint { .. } => "SharePoint",
                    Resource::Graph => "Microsoft Graph",
                    Resource::Other { .. } => "the resource's API",
                },
                match resource {
                    Resource::SharePoint { .. } | Resource::Graph => "Sites.Selected, say",
                    Resource::Other { .. } => "the one it needs",
                },
            ),
        ),
        Refusal::NoSiteGrant => sites_selected(&resource, &facts, &carried, &said),
        Refusal::Other => (
            format!("{name} answered {status}: it refused the token; {carried}.{said}"),
            "The app lacks a permission this request needs on that resource: compare the token's \
             roles with what the resource's documentation asks for, and have an administrator \
             grant and consent to it."
                .to_string(),
        ),
    };
    Error::new(ErrorCode::ResourceRefused, message)
        .with_remedy(remedy)
        .with_http_status(status)
        .with_oauth_error(oauth_error)
}

/// The kinds of refusal, each with its own explanation.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// 401 `insufficient_claims`: Continuous Access Evaluation revoked the token.
    ClaimsChallenge,
    /// The token is for another resource.
    WrongAudience,
    /// 401, and the token's `exp` has passed.
    Expired,
    /// SharePoint's 401 for an app-only token obtained with a client secret.
    ClientSecret,
    /// Any other 401.
    Unauthorized,
    /// The token has no roles: no application permission was consented to.
    NoRoles,
    /// 403 to a `Sites.Selected` app (and no role that covers every site): no grant on the site.
    NoSiteGrant,
    /// Anything else.
    Other,
}

/// Which refusal this is, first match wins (docs/protocol.md §9).
fn classify(
    resource: &Resource,
    facts: &TokenFacts,
    status: u16,
    oauth_error: Option<&str>,
    said: &str,
) -> Refusal {
    let audiences = resource.audiences();
    let audience_fits = |aud: &str| {
        audiences.iter().any(|want| {
            aud.trim_end_matches('/').eq_ignore_ascii_case(want) || aud.starts_with(want.as_str())
        })
    };
    let sharepoint = matches!(resource, Resource::SharePoint { .. });
    if status == 401 && oauth_error == Some("insufficient_claims") {
        Refusal::ClaimsChallenge
    } else if facts.readable
        && !audiences.is_empty()
        && !facts.audience.as_deref().is_some_and(audience_fits)
    {
        Refusal::WrongAudience
    } else if status == 401 && facts.expires.is_some_and(|exp| exp <= now_unix()) {
        Refusal::Expired
    } else if status == 401
        && sharepoint
        && (facts.client_secret || said.contains("Unsupported app only token"))
    {
        Refusal::ClientSecret
    } else if status == 401 {
        Refusal::Unauthorized
    } else if facts.readable && facts.roles.is_empty() {
        Refusal::NoRoles
    } else if status == 403
        && facts.has("Sites.Selected")
        && !ALL_SITES_ROLES.iter().any(|r| facts.has(r))
        && !matches!(resource, Resource::Other { .. })
    {
        Refusal::NoSiteGrant
    } else {
        Refusal::Other
    }
}

/// A `Sites.Selected` app without a (sufficient) grant on the site.
fn sites_selected(
    resource: &Resource,
    facts: &TokenFacts,
    carried: &str,
    said: &str,
) -> (String, String) {
    let (host, site) = match resource {
        Resource::SharePoint { host, site } => (host.as_str(), site.as_str()),
        _ => ("{hostname}", "sites/{site}"),
    };
    let site_display = if site.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{site}")
    };
    let app = facts.app_id.as_deref().unwrap_or("{app-client-id}");
    let site_ref = if site.is_empty() {
        host.to_string()
    } else {
        format!("{host}:/{site}")
    };
    let message = format!(
        "{} answered 403: the app has Sites.Selected but no grant on site {site_display} (or a \
         grant whose role does not allow this operation); {carried}.{said}",
        resource.name()
    );
    let remedy = format!(
        "Sites.Selected opens only the sites granted to the app one by one, through Microsoft \
         Graph. An administrator whose token has Sites.FullControl.All on Graph grants it: (1) GET \
         https://graph.microsoft.com/v1.0/sites/{site_ref} and take its \"id\"; (2) POST \
         https://graph.microsoft.com/v1.0/sites/{{site-id}}/permissions with the body \
         {{\"roles\":[\"read\"],\"grantedToIdentities\":[{{\"application\":{{\"id\":\"{app}\",\
         \"displayName\":\"<app name>\"}}}}]}} (\"write\" to add or change items as well). With \
         the Azure CLI: az rest --method post --url \
         https://graph.microsoft.com/v1.0/sites/{{site-id}}/permissions --body '<that JSON>'; with \
         PnP PowerShell: Grant-PnPAzureADAppSitePermission -AppId {app} -DisplayName '<app name>' \
         -Site https://{site_display} -Permissions Read. The grant applies to the next request; \
         the token need not change."
    );
    (message, remedy)
}

#[cfg(test)]
mod tests;
