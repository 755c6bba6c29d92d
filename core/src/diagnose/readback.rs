//! The federated-credentials leg: the app's credentials read back (from a file, inline JSON or
//! Microsoft Graph) and held against the managed-identity token (`credentials`). Its first
//! blocking finding becomes the headline when Entra refuses the exchange.

use std::collections::HashMap;

use super::credentials::{
    Comparison, FederatedCredential, Presented, Severity, compare, parse_list,
};
use super::settings::DiagnoseSettings;
use super::{Doctor, Status, check, graph, leg};
use crate::config::read_text_file;
use crate::credential::Credential;
use crate::error::Result;
use crate::support::echo::echo_path;
use crate::support::secret::Secret;

/// Where the list came from, and Graph's address and token when it came from there.
struct Source {
    credentials: Vec<FederatedCredential>,
    origin: String,
    graph: Option<(String, Secret)>,
    note: Option<String>,
}

impl Doctor {
    pub(super) async fn federated_credentials(
        &mut self,
        credential: &Credential,
        settings: &DiagnoseSettings,
    ) {
        if !settings.reads_credentials() {
            return;
        }
        let mut report = leg("federated_credentials", "the app's federated credentials");
        let source = match read(credential, settings).await {
            Ok(source) => source,
            Err(e) => {
                let mut c = check(Status::Warn, "read back", e.message().to_string());
                c.fix = e.remedy().map(str::to_string);
                report.checks.push(c);
                self.push(report);
                return;
            }
        };
        report
            .checks
            .push(check(Status::Info, "read from", source.origin.clone()));
        if let Some(note) = &source.note {
            report
                .checks
                .push(check(Status::Info, "Graph token", note.clone()));
        }
        let Some(presented) = self.presented(credential) else {
            report.checks.push(check(
                Status::Skip,
                "comparison",
                format!(
                    "{} credential(s) read; no managed-identity token to hold them against",
                    source.credentials.len()
                ),
            ));
            self.push(report);
            return;
        };
        let resolves = match &source.graph {
            Some((base, token)) => {
                let others = other_principals(&source.credentials, &presented);
                graph::resolve(credential, base, token, &others).await
            }
            None => HashMap::new(),
        };
        let comparison = compare(&source.credentials, &presented, &resolves);
        self.record(&mut report, comparison);
        self.push(report);
    }

    /// What the managed-identity token presents, from the claims the earlier legs read.
    fn presented(&self, credential: &Credential) -> Option<Presented> {
        let claims = self.facts.claims.as_ref()?;
        Some(Presented {
            issuer: claims.iss.clone()?,
            subject: claims.sub.clone()?,
            audience: claims.aud.clone()?,
            app: self.facts.client_id.clone(),
            cloud: credential.authority().known_cloud(),
            system_assigned: self.facts.system_assigned,
        })
    }

    /// The findings as checks; the first blocking one is kept for the headline.
    fn record(&mut self, report: &mut super::LegReport, comparison: Comparison) {
        for finding in comparison.findings {
            let status = match finding.severity {
                Severity::Fine => Status::Ok,
                Severity::Info => Status::Info,
                Severity::Warning => Status::Warn,
                Severity::Blocking => Status::Fail,
            };
            if status == Status::Fail && self.facts.credential_finding.is_none() {
                self.facts.credential_finding = Some((
                    finding.detail.clone(),
                    finding.fix.clone().unwrap_or_default(),
                ));
            }
            let mut c = check(status, finding.name, finding.detail);
            c.fix = finding.fix;
            report.checks.push(c);
        }
        self.facts.matching_credential = comparison.matching;
    }
}

/// Reads the list from wherever the settings say.
async fn read(credential: &Credential, settings: &DiagnoseSettings) -> Result<Source> {
    if let Some(path) = &settings.federated_credentials_file {
        let origin = format!("federated-credential file {}", echo_path(path));
        let text = read_text_file(path, &origin)?;
        return Ok(Source {
            credentials: parse_list(&text, &origin)?,
            origin,
            graph: None,
            note: None,
        });
    }
    if let Some(value) = &settings.federated_credentials {
        let origin = "federated credentials passed in".to_string();
        return Ok(Source {
            credentials: parse_list(&value.to_string(), &origin)?,
            origin,
            graph: None,
            note: None,
        });
    }
    let access = settings.graph.clone().unwrap_or_default();
    let base = graph::base_url(&access, credential)?;
    let token = graph::token(&access).await?;
    let list = graph::list(credential, &base, &token).await?;
    Ok(Source {
        credentials: list.credentials,
        origin: format!("Microsoft Graph {}", list.url),
        graph: Some((base, token)),
        note: list.token_note,
    })
}

/// Subjects of credentials that trust this token's issuer but name another principal: the
/// object ids worth looking up.
fn other_principals(credentials: &[FederatedCredential], presented: &Presented) -> Vec<String> {
    let mut out: Vec<String> = credentials
        .iter()
        .filter(|c| c.issuer.trim_end_matches('/') == presented.issuer.trim_end_matches('/'))
        .filter_map(|c| c.subject.clone())
        .filter(|s| !s.eq_ignore_ascii_case(&presented.subject))
        .collect();
    out.sort();
    out.dedup();
    out
}
