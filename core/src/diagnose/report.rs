//! What `diagnose` found: a headline (the cause and the fix, in one line), then each leg with
//! its checks — for people as text with OK / WARN / FAIL marks, for machines as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// How a check, or a whole leg, went. In JSON: `"ok"`, `"info"`, `"warn"`, `"fail"`, `"skip"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// What was seen, neither good nor bad.
    Info,
    /// Not a failure, but worth fixing: a likely cause of one, now or later.
    Warn,
    /// Makes the flow fail; `fix` says what to do, when it is known.
    Fail,
    /// Not tried: it does not apply to this configuration.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "OK  ",
            Status::Info => "    ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One observation.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// How it went.
    pub status: Status,
    /// What was checked (`tenant`, `subject`, `clock`, ...).
    pub name: String,
    /// What was seen.
    pub detail: String,
    /// What to do about a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One leg of the flow and what was seen there.
#[derive(Clone, Debug, Serialize)]
pub struct LegReport {
    /// `config`, `managed_identity`, `federated_credential`, `exchange`, `token`.
    pub leg: &'static str,
    /// The leg named for people.
    pub title: &'static str,
    /// Its worst check's status (`Skip` when every check was skipped).
    pub status: Status,
    /// How long the leg's request took, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u128>,
    /// What was seen, in order.
    pub checks: Vec<Check>,
}

/// The federated credential that would match the managed-identity token.
#[derive(Clone, Debug, Serialize)]
pub struct MatchingFic {
    /// A name for it (`certless-` and the start of the subject).
    pub name: String,
    /// The managed-identity token's `iss`.
    pub issuer: String,
    /// The managed-identity token's `sub`: the identity's object id.
    pub subject: String,
    /// The managed-identity token's `aud`.
    pub audiences: Vec<String>,
    /// `az ad app federated-credential create ...`
    pub az_command: String,
}

/// The error of the failing leg, in the fields every binding exposes.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorSummary {
    /// The error's stable numeric code.
    pub code: u32,
    /// The leg that failed: `config`, `managed_identity`, `exchange`, ...
    pub leg: &'static str,
    /// What went wrong.
    pub message: String,
    /// The HTTP status the endpoint answered with, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The AADSTS codes of Entra's answer.
    pub aadsts_codes: Vec<u32>,
    /// Entra's trace id, for a support ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Entra's correlation id, for a support ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl From<&crate::Error> for ErrorSummary {
    fn from(e: &crate::Error) -> Self {
        let p = e.primary();
        ErrorSummary {
            code: e.code().as_u32(),
            leg: e.leg().as_str(),
            message: p.message().to_string(),
            http_status: p.http_status(),
            aadsts_codes: p.aadsts_codes().to_vec(),
            trace_id: p.trace_id().map(str::to_string),
            correlation_id: p.correlation_id().map(str::to_string),
        }
    }
}

/// A certificate of the credential list, loaded without being used.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateReport {
    /// The entry's `SourceType` (`Path`, `KeyVault`, `StoreWithThumbprint`, ...).
    pub source: String,
    /// `ok`; `warn` when it expires within 30 days; `fail` when it has expired or cannot be
    /// loaded.
    pub status: Status,
    /// Its subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its SHA-1 thumbprint, as the portal shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// The end of its validity (ISO-8601, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Whole days until then (negative once expired), rounded toward zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// What was found, in one sentence.
    pub detail: String,
    /// What to do about a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The whole diagnosis.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// A token was obtained.
    pub ok: bool,
    /// One line: `OK: ...`, or `FAIL: <cause> Fix: <fix>`.
    pub headline: String,
    /// Why it fails, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// How to fix the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Each leg that was walked, in order.
    pub legs: Vec<LegReport>,
    /// The federated credential the app needs, once the managed-identity token was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching_federated_credential: Option<MatchingFic>,
    /// The error that ended the walk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSummary>,
    /// The certificates of the credential list, the most urgent first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateReport>,
}

impl Report {
    /// The report for machines: every field, as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            format!("{{\"ok\":false,\"headline\":\"cannot render the report: {e}\"}}")
        })
    }

    /// The report for people. Its first line is the headline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headline);
        for leg in &self.legs {
            let latency = leg
                .latency_ms
                .map(|ms| format!("  {ms} ms"))
                .unwrap_or_default();
            let _ = writeln!(out, "\n{} {}{latency}", leg.status.mark(), leg.title);
            for check in &leg.checks {
                let _ = writeln!(
                    out,
                    "  {} {:<22} {}",
                    check.status.mark(),
                    check.name,
                    check.detail
                );
                if let Some(fix) = &check.fix {
                    let _ = writeln!(out, "       {:<22} fix: {fix}", "");
                }
            }
        }
        if let Some(fic) = &self.matching_federated_credential {
            let _ = writeln!(
                out,
                "\nThe federated credential that matches this managed identity:"
            );
            let _ = writeln!(out, "  issuer    {}", fic.issuer);
            let _ = writeln!(out, "  subject   {}", fic.subject);
            let _ = writeln!(out, "  audience  {}", fic.audiences.join(", "));
            let _ = writeln!(out, "  create it with:\n    {}", fic.az_command);
        }
        if let Some(e) = &self.error {
            if e.trace_id.is_some() || e.correlation_id.is_some() {
                let _ = writeln!(
                    out,
                    "\nFor a support ticket: trace id {}, correlation id {}",
                    e.trace_id.as_deref().unwrap_or("-"),
                    e.correlation_id.as_deref().unwrap_or("-")
                );
            }
        }
        out
    }
}
