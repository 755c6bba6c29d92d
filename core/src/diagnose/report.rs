//! What `diagnose` found: a headline (the cause and the fix, in one line), then each leg with
//! its checks — for people as text with OK / WARN / FAIL marks, for machines as JSON.

use std::fmt::Write as _;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warn,
    Fail,
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
    pub status: Status,
    pub name: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One leg of the flow and what was seen there.
#[derive(Clone, Debug, Serialize)]
pub struct LegReport {
    /// `config`, `managed_identity`, `federated_credential`, `exchange`, `token`.
    pub leg: &'static str,
    pub title: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u128>,
    pub checks: Vec<Check>,
}

/// The federated credential that would match the managed-identity token.
#[derive(Clone, Debug, Serialize)]
pub struct MatchingFic {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    /// `az ad app federated-credential create ...`
    pub az_command: String,
}

/// The error of the failing leg, in the fields every binding exposes.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorSummary {
    pub code: u32,
    pub leg: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub aadsts_codes: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
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

/// The whole diagnosis.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// A token was obtained.
    pub ok: bool,
    /// One line: `OK: ...`, or `FAIL: <cause> Fix: <fix>`.
    pub headline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub legs: Vec<LegReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching_federated_credential: Option<MatchingFic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSummary>,
}

impl Report {
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
