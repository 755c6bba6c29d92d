//! The app's federated credentials, read back and held against the managed-identity token in
//! hand: which one matches, and for each near miss which field differs and how, with the `az`
//! command that fixes it (docs/protocol.md §1, "What a FIC must match").
//!
//! The list comes from `az ad app federated-credential list --id <app>` (a JSON array), from
//! Microsoft Graph's list (`{"value": [...]}`), or from `az ... show` (one object). Entra compares
//! issuer, subject and audience exactly and case-sensitively, accepts wrong values when a
//! credential is created, and allows an app at most [`MAX_CREDENTIALS`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::entra::cloud::Cloud;
use crate::error::{Error, ErrorCode, Result};

/// How many federated credentials Entra lets one app hold.
pub(crate) const MAX_CREDENTIALS: usize = 20;

/// One federated credential of an app, as `az` and Graph list it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct FederatedCredential {
    /// Its name (unique in the app, immutable).
    pub name: String,
    /// The issuer it trusts.
    pub issuer: String,
    /// The subject it trusts; none for a credential that matches claims by expression instead.
    #[serde(default)]
    pub subject: Option<String>,
    /// The audiences it accepts.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Graph's id of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Reads a list of federated credentials from JSON text: `az`'s array, Graph's `{"value": [...]}`,
/// or a single credential. `origin` names where it came from, for errors.
pub(crate) fn parse_list(text: &str, origin: &str) -> Result<Vec<FederatedCredential>> {
    let invalid = |what: String| {
        Error::config(ErrorCode::InvalidArgument, format!("the {origin} {what}")).with_remedy(
            "Pass what `az ad app federated-credential list --id <app-client-id>` prints, or the \
             JSON of Microsoft Graph's GET /applications(appId='<app-client-id>')/\
             federatedIdentityCredentials.",
        )
    };
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| invalid(format!("is not JSON ({e})")))?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("value") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(invalid("has a 'value' that is not a list".into())),
            None if map.contains_key("issuer") => vec![Value::Object(map)],
            None => {
                return Err(invalid(
                    "is neither a list of federated credentials nor Graph's {\"value\": [...]}"
                        .into(),
                ));
            }
        },
        _ => return Err(invalid("is not a list of federated credentials".into())),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<FederatedCredential>(item).map_err(|e| {
                invalid(format!(
                    "has an entry (number {}) that is not one ({e})",
                    i + 1
                ))
            })
        })
        .collect()
}

/// What the managed-identity token presents, and what the configuration says about where it goes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Presented {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    /// The app registration's client id (for the commands).
    pub app: String,
    /// The cloud of the configured authority, when it is a known one.
    pub cloud: Option<&'static Cloud>,
    /// The token came from a system-assigned identity.
    pub system_assigned: bool,
}

/// How one field of a credential differs from the token's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Difference {
    Same,
    /// Only a trailing slash.
    TrailingSlash,
    /// Only letter case.
    Case,
    /// The issuer names another tenant of the same cloud.
    OtherTenant,
    /// The issuer's host or the audience belongs to another cloud.
    OtherCloud(&'static Cloud),
    /// The issuer is Entra's v1 form (`https://sts.windows.net/{tenant}/`).
    V1Issuer,
    /// The subject is another principal's object id.
    OtherPrincipal,
    /// The credential matches by expression and has no subject.
    NoSubject,
    Other,
}

/// One credential held against the token.
#[derive(Clone, Debug)]
struct Fit<'a> {
    credential: &'a FederatedCredential,
    issuer: Difference,
    subject: Difference,
    audience: Difference,
}

impl Fit<'_> {
    fn distance(&self) -> usize {
        self.differences().count()
    }

    fn differences(&self) -> impl Iterator<Item = Difference> {
        [self.issuer, self.subject, self.audience]
            .into_iter()
            .filter(|d| *d != Difference::Same)
    }

    /// Meant for this identity but wrong: one field off, or only fields whose difference has a
    /// known cause (a slash, case, another tenant, cloud or principal). A credential for another
    /// workload (a GitHub repository, say) is not a near miss.
    fn is_near(&self) -> bool {
        let unexplained = self
            .differences()
            .filter(|d| matches!(d, Difference::Other | Difference::NoSubject))
            .count();
        self.distance() == 1 || (self.distance() > 1 && unexplained == 0)
    }
}

/// One finding about the list: how it stands, a short name, what was seen, and the command that
/// fixes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub name: &'static str,
    pub detail: String,
    pub fix: Option<String>,
}

/// How a finding stands; the first `Blocking` one is the doctor's headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    Fine,
    Info,
    Warning,
    Blocking,
}

/// What holding the list against the token found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Comparison {
    /// The name of the credential that matches, when one does.
    pub matching: Option<String>,
    pub findings: Vec<Finding>,
}

/// Holds `credentials` against `presented`. `resolves` says, for a subject that is another
/// principal's object id, whether that principal still exists (known only from Graph).
pub(crate) fn compare(
    credentials: &[FederatedCredential],
    presented: &Presented,
    resolves: &HashMap<String, bool>,
) -> Comparison {
    let mut out = Comparison::default();
    let fits: Vec<Fit<'_>> = credentials.iter().map(|c| fit(c, presented)).collect();
    let count = credentials.len();
    out.findings.push(Finding {
        severity: Severity::Info,
        name: "credentials",
        detail: format!(
            "app {} has {count} federated credential(s) (at most {MAX_CREDENTIALS})",
            presented.app
        ),
        fix: None,
    });
    out.findings.extend(duplicates(credentials, &presented.app));
    for fit in &fits {
        if let Some(finding) = audience_of_another_cloud(fit, presented) {
            out.findings.push(finding);
        }
    }
    if let Some(found) = fits.iter().find(|f| f.distance() == 0) {
        out.matching = Some(found.credential.name.clone());
        out.findings.push(Finding {
            severity: Severity::Fine,
            name: "matching credential",
            detail: format!(
                "'{}' has this token's issuer, subject and audience",
                found.credential.name
            ),
            fix: None,
        });
        if count >= MAX_CREDENTIALS - 2 {
            out.findings.push(full(presented, count, Severity::Warning));
        }
        return out;
    }
    let candidates: Vec<&Fit<'_>> = fits.iter().filter(|f| f.is_near()).collect();
    let nearest = candidates.iter().map(|f| f.distance()).min();
    let mut near: Vec<&Fit<'_>> = candidates
        .into_iter()
        .filter(|f| Some(f.distance()) == nearest)
        .collect();
    // A subject whose principal is gone is the likeliest to have been this identity's; one that
    // still exists belongs to another identity.
    near.sort_by_key(|f| {
        let subject = f.credential.subject.as_deref().unwrap_or_default();
        match resolves.get(&subject.to_ascii_lowercase()) {
            Some(false) => 0,
            None => 1,
            Some(true) => 2,
        }
    });
    // With no room left, the fix that adds a credential has to make room first.
    if count >= MAX_CREDENTIALS && near.iter().all(|f| !is_fixed_in_place(f, resolves)) {
        out.findings
            .push(full(presented, count, Severity::Blocking));
    }
    if near.is_empty() {
        out.findings.push(Finding {
            severity: Severity::Blocking,
            name: "no match",
            detail: if count == 0 {
                format!("app {} has no federated credential", presented.app)
            } else {
                format!(
                    "none of app {}'s {count} federated credential(s) is close to this token \
                     (issuer '{}', subject '{}', audience '{}')",
                    presented.app, presented.issuer, presented.subject, presented.audience
                )
            },
            fix: Some(create_command(presented)),
        });
    }
    if let Some(finding) = undecided(&near, presented, resolves) {
        out.findings.push(finding);
    }
    // A credential whose principal still exists is another identity's, not a mistake.
    let (others, near): (Vec<&Fit<'_>>, Vec<&Fit<'_>>) = near
        .into_iter()
        .partition(|f| belongs_to_another(f, resolves));
    if near.is_empty() && !others.is_empty() {
        out.findings.push(Finding {
            severity: Severity::Blocking,
            name: "no match",
            detail: format!(
                "no federated credential of app {} names this host's identity {}: the ones with \
                 its issuer and audience name other identities, which still exist",
                presented.app, presented.subject
            ),
            fix: Some(create_command(presented)),
        });
    }
    for fit in near {
        out.findings.push(near_miss(fit, presented, resolves));
    }
    for fit in others {
        out.findings.push(Finding {
            severity: Severity::Info,
            name: "another identity's",
            detail: format!(
                "federated credential '{}' names {}, another identity that still exists",
                fit.credential.name,
                fit.credential.subject.as_deref().unwrap_or_default()
            ),
            fix: None,
        });
    }
    out
}

/// A credential one subject away whose principal Graph says still exists.
fn belongs_to_another(fit: &Fit<'_>, resolves: &HashMap<String, bool>) -> bool {
    fit.distance() == 1
        && fit.subject == Difference::OtherPrincipal
        && fit
            .credential
            .subject
            .as_deref()
            .is_some_and(|s| resolves.get(&s.to_ascii_lowercase()) == Some(&true))
}

/// When several credentials differ only in naming other principals and nothing tells which was
/// this identity's (no Graph to say which principals are gone), one finding names them all
/// rather than picking one at random.
fn undecided(
    near: &[&Fit<'_>],
    presented: &Presented,
    resolves: &HashMap<String, bool>,
) -> Option<Finding> {
    let unknown = |f: &&&Fit<'_>| {
        f.distance() == 1
            && f.subject == Difference::OtherPrincipal
            && f.credential
                .subject
                .as_deref()
                .is_some_and(|s| !resolves.contains_key(&s.to_ascii_lowercase()))
    };
    let candidates: Vec<&&Fit<'_>> = near.iter().filter(unknown).collect();
    if candidates.len() < 2 || !unknown(&near.first()?) {
        return None;
    }
    let names: Vec<String> = candidates
        .iter()
        .map(|f| {
            format!(
                "'{}' ({})",
                f.credential.name,
                f.credential.subject.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let recreated = if presented.system_assigned {
        " — if one of them was this host's, the identity was recreated: a system-assigned \
         identity gets a new object id when it is disabled and enabled again or the machine is \
         recreated"
    } else {
        ""
    };
    Some(Finding {
        severity: Severity::Blocking,
        name: "no match",
        detail: format!(
            "no federated credential of app {} names this host's identity {}: {} trust its \
             issuer and audience but name other principals: {}{recreated} (--graph tells which \
             still exist)",
            presented.app,
            presented.subject,
            candidates.len(),
            names.join(", ")
        ),
        fix: Some(create_command(presented)),
    })
}

/// Whether the fix for a near miss edits that credential (rather than adding another).
fn is_fixed_in_place(fit: &Fit<'_>, resolves: &HashMap<String, bool>) -> bool {
    match fit.subject {
        Difference::OtherPrincipal => fit
            .credential
            .subject
            .as_deref()
            .is_some_and(|s| resolves.get(&s.to_ascii_lowercase()) == Some(&false)),
        Difference::NoSubject | Difference::Other => false,
        _ => true,
    }
}

fn fit<'a>(credential: &'a FederatedCredential, presented: &Presented) -> Fit<'a> {
    Fit {
        credential,
        issuer: issuer_difference(&credential.issuer, &presented.issuer),
        subject: match &credential.subject {
            None => Difference::NoSubject,
            Some(s) if *s == presented.subject => Difference::Same,
            Some(s) if s.eq_ignore_ascii_case(&presented.subject) => Difference::Case,
            Some(s) if is_guid(s) && is_guid(&presented.subject) => Difference::OtherPrincipal,
            Some(_) => Difference::Other,
        },
        audience: audience_difference(&credential.audiences, &presented.audience),
    }
}

fn issuer_difference(theirs: &str, ours: &str) -> Difference {
    if theirs == ours {
        return Difference::Same;
    }
    if theirs.trim_end_matches('/') == ours.trim_end_matches('/') {
        return Difference::TrailingSlash;
    }
    if theirs.eq_ignore_ascii_case(ours) {
        return Difference::Case;
    }
    let (Some((their_host, their_tenant)), Some((our_host, our_tenant))) =
        (issuer_parts(theirs), issuer_parts(ours))
    else {
        return Difference::Other;
    };
    let (their_cloud, our_cloud) = (
        Cloud::with_login_host(&their_host),
        Cloud::with_login_host(&our_host),
    );
    if their_host == "sts.windows.net" && their_tenant.eq_ignore_ascii_case(&our_tenant) {
        return Difference::V1Issuer;
    }
    match (their_cloud, our_cloud) {
        (Some(t), Some(o)) if t != o => Difference::OtherCloud(t),
        _ if !their_tenant.eq_ignore_ascii_case(&our_tenant) && is_guid(&their_tenant) => {
            Difference::OtherTenant
        }
        _ => Difference::Other,
    }
}

/// An issuer URL's host (lowercase) and first path segment (the tenant).
fn issuer_parts(issuer: &str) -> Option<(String, String)> {
    let url = Url::parse(issuer.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let tenant = url.path_segments()?.next()?.to_string();
    Some((host, tenant))
}

fn audience_difference(theirs: &[String], ours: &str) -> Difference {
    if theirs.iter().any(|a| a == ours) {
        Difference::Same
    } else if theirs
        .iter()
        .any(|a| a.trim_end_matches('/') == ours.trim_end_matches('/'))
    {
        Difference::TrailingSlash
    } else if theirs.iter().any(|a| a.eq_ignore_ascii_case(ours)) {
        Difference::Case
    } else if let Some(cloud) = theirs.iter().find_map(|a| Cloud::with_exchange_audience(a)) {
        Difference::OtherCloud(cloud)
    } else {
        Difference::Other
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The finding for a credential one or two fields away from matching.
fn near_miss(fit: &Fit<'_>, presented: &Presented, resolves: &HashMap<String, bool>) -> Finding {
    let c = fit.credential;
    let name = &c.name;
    let mut parts = Vec::new();
    let mut in_place = true;
    match fit.issuer {
        Difference::Same => {}
        Difference::TrailingSlash => parts.push(format!(
            "its issuer '{}' differs from the token's '{}' by a trailing slash",
            c.issuer, presented.issuer
        )),
        Difference::Case => parts.push(format!(
            "its issuer '{}' differs from the token's '{}' in case only",
            c.issuer, presented.issuer
        )),
        Difference::V1Issuer => parts.push(format!(
            "its issuer '{}' is Entra's v1 form; managed-identity tokens carry '{}'",
            c.issuer, presented.issuer
        )),
        Difference::OtherCloud(cloud) => parts.push(format!(
            "its issuer '{}' belongs to the {}, the token's '{}' to {}",
            c.issuer,
            cloud.display_name,
            presented.issuer,
            cloud_of_issuer(&presented.issuer)
        )),
        Difference::OtherTenant => parts.push(format!(
            "its issuer '{}' is another tenant's; this identity's tokens are issued by '{}'",
            c.issuer, presented.issuer
        )),
        _ => parts.push(format!(
            "its issuer '{}' is not the token's '{}'",
            c.issuer, presented.issuer
        )),
    }
    let their_subject = c.subject.clone().unwrap_or_default();
    match fit.subject {
        Difference::Same => {}
        Difference::Case => parts.push(format!(
            "its subject '{their_subject}' differs from this identity's object id '{}' only in \
             case, and Entra compares subjects case-sensitively (AADSTS7002138)",
            presented.subject
        )),
        Difference::OtherPrincipal => {
            in_place = resolves.get(&their_subject.to_ascii_lowercase()) == Some(&false);
            let mut text = format!(
                "it expects subject {their_subject}, but this host's identity is now {}",
                presented.subject
            );
            match resolves.get(&their_subject.to_ascii_lowercase()) {
                Some(false) if presented.system_assigned => text.push_str(&format!(
                    " — {their_subject} no longer exists in the directory: this host's \
                     system-assigned identity was recreated (disabled and enabled again, or the \
                     machine rebuilt), which gives it a new object id"
                )),
                Some(false) => text.push_str(&format!(
                    " — {their_subject} no longer exists in the directory (a deleted identity)"
                )),
                Some(true) => text.push_str(&format!(
                    " — {their_subject} still exists: another identity (another host?) uses \
                     this credential"
                )),
                None if presented.system_assigned => text.push_str(
                    " — if it was this host's, the identity was recreated: a system-assigned \
                     identity gets a new object id when it is disabled and enabled again or the \
                     machine is recreated",
                ),
                None => {}
            }
            parts.push(text);
        }
        Difference::NoSubject => {
            in_place = false;
            parts.push("it matches claims by expression and names no subject".into());
        }
        _ => {
            in_place = false;
            parts.push(format!(
                "its subject '{their_subject}' is not this identity's object id '{}'",
                presented.subject
            ));
        }
    }
    match fit.audience {
        Difference::Same => {}
        Difference::TrailingSlash | Difference::Case => parts.push(format!(
            "its audiences {:?} differ from the token's '{}' in a slash or in case",
            c.audiences, presented.audience
        )),
        Difference::OtherCloud(cloud) => parts.push(format!(
            "its audiences {:?} are the {}'s; the token carries '{}'",
            c.audiences, cloud.display_name, presented.audience
        )),
        _ => parts.push(format!(
            "its audiences {:?} do not include the token's '{}'",
            c.audiences, presented.audience
        )),
    }
    let fix = if in_place {
        update_command(presented, name)
    } else {
        create_command(presented)
    };
    Finding {
        severity: Severity::Blocking,
        name: "near miss",
        detail: format!("federated credential '{name}': {}", parts.join("; ")),
        fix: Some(fix),
    }
}

/// The cloud an issuer URL's host belongs to, in words.
fn cloud_of_issuer(issuer: &str) -> &'static str {
    issuer_parts(issuer)
        .and_then(|(host, _)| Cloud::with_login_host(&host))
        .map_or("a host of no known cloud", |c| c.display_name)
}

/// A credential whose only audience belongs to a cloud other than the configured authority's.
fn audience_of_another_cloud(fit: &Fit<'_>, presented: &Presented) -> Option<Finding> {
    let authority = presented.cloud?;
    let foreign = fit
        .credential
        .audiences
        .iter()
        .find_map(|a| Cloud::with_exchange_audience(a).filter(|c| *c != authority))?;
    if fit.distance() == 0 {
        return None;
    }
    let c = fit.credential;
    let corrected = serde_json::json!({
        "name": c.name,
        "issuer": c.issuer,
        "subject": c.subject,
        "audiences": [authority.exchange_audience],
    });
    Some(Finding {
        severity: Severity::Warning,
        name: "audience of another cloud",
        detail: format!(
            "federated credential '{}' accepts '{}', the {}'s exchange audience, but the app \
             signs in at the {}, whose managed-identity tokens carry '{}'",
            fit.credential.name,
            foreign.exchange_audience,
            foreign.display_name,
            authority.display_name,
            authority.exchange_audience
        ),
        fix: Some(format!(
            "az ad app federated-credential update --id {} --federated-credential-id {} \
             --parameters '{corrected}'",
            presented.app, c.name
        )),
    })
}

fn duplicates(credentials: &[FederatedCredential], app: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, a) in credentials.iter().enumerate() {
        for b in &credentials[i + 1..] {
            let (Some(sa), Some(sb)) = (&a.subject, &b.subject) else {
                continue;
            };
            if a.issuer != b.issuer || !sa.eq_ignore_ascii_case(sb) {
                continue;
            }
            let how = if sa == sb {
                "the same issuer and subject"
            } else {
                "the same issuer, and subjects that differ only in case"
            };
            out.push(Finding {
                severity: Severity::Warning,
                name: "duplicate",
                detail: format!(
                    "federated credentials '{}' and '{}' have {how}",
                    a.name, b.name
                ),
                fix: Some(format!(
                    "az ad app federated-credential delete --id {app} --federated-credential-id {}",
                    b.name
                )),
            });
        }
    }
    out
}

fn full(presented: &Presented, count: usize, severity: Severity) -> Finding {
    let detail = if severity == Severity::Blocking {
        format!(
            "app {} holds {count} federated credentials, the most Entra allows: the one this \
             identity needs cannot be added until one is removed",
            presented.app
        )
    } else {
        format!(
            "app {} holds {count} of the {MAX_CREDENTIALS} federated credentials Entra allows",
            presented.app
        )
    };
    Finding {
        severity,
        name: "credential limit",
        detail,
        fix: Some(format!(
            "az ad app federated-credential delete --id {} --federated-credential-id <the name \
             of one no host uses>, then {}. A farm of system-assigned identities needs one \
             credential per machine; one user-assigned identity shared by the farm needs one in \
             all.",
            presented.app,
            create_command(presented)
        )),
    }
}

/// The parameters of a credential that matches the token, named `name`.
fn parameters(presented: &Presented, name: &str) -> String {
    serde_json::json!({
        "name": name,
        "issuer": presented.issuer,
        "subject": presented.subject,
        "audiences": [presented.audience],
    })
    .to_string()
}

/// The name certless suggests for a new credential: `certless-` and the subject's first 8 characters.
pub(crate) fn suggested_name(subject: &str) -> String {
    format!("certless-{}", subject.chars().take(8).collect::<String>())
}

/// `az ad app federated-credential create` for a credential that matches the token.
pub(crate) fn create_command(presented: &Presented) -> String {
    format!(
        "az ad app federated-credential create --id {} --parameters '{}'",
        presented.app,
        parameters(presented, &suggested_name(&presented.subject))
    )
}

fn update_command(presented: &Presented, name: &str) -> String {
    format!(
        "az ad app federated-credential update --id {} --federated-credential-id {name} \
         --parameters '{}'",
        presented.app,
        parameters(presented, name)
    )
}

#[cfg(test)]
mod tests;
