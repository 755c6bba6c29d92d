//! `diagnose`: walks the flow leg by leg — configuration, managed-identity endpoint, what a
//! matching federated credential needs, the exchange, the token — and says what it did, what it
//! saw, and on failure the cause and the fix in the report's first line. The answer to "it
//! worked for a week, then it stopped: why?", from the machine that fails, in seconds.
//!
//! It never shows a raw token, signature or secret: only decoded claims.

// This file holds the walk: the order of the legs, how a leg's checks make its status, and how
// the findings make the headline. Each leg has its own file, named as in the report's `leg`
// field; `report` is what they find.
mod certificates;
mod config;
pub(crate) mod credentials;
mod exchange;
mod federated_credential;
mod graph;
mod managed_identity;
mod platform;
mod readback;
mod report;
mod settings;
mod shared_cache;
mod token;

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Instant;

pub use credentials::FederatedCredential;
pub use report::{CertificateReport, Check, ErrorSummary, LegReport, MatchingFic, Report, Status};
pub use settings::{DiagnoseSettings, GraphAccess};

use crate::config::CredentialBuilder;
use crate::error::{Error, ErrorCode, Result};
use crate::token::jwt::Claims;

/// The scope `diagnose` asks for when none is given.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Diagnoses the credential `builder` describes by getting a token for `scope`.
///
/// Each leg is tried once, without retries, so that the answer comes in seconds and shows what
/// the endpoints say right now; only a connection dropped mid-answer is tried a second time, as
/// the token flow would (and the report says so).
pub async fn diagnose(builder: CredentialBuilder, scope: &str) -> Report {
    let settings = DiagnoseSettings {
        scope: Some(scope.to_string()),
        ..Default::default()
    };
    diagnose_with(builder, &settings).await
}

/// [`diagnose`] with settings: the scope, and where to read the app's federated credentials back
/// from (a file, JSON, or Microsoft Graph), to name the credential that matches or the one that
/// nearly does and what differs.
pub async fn diagnose_with(builder: CredentialBuilder, settings: &DiagnoseSettings) -> Report {
    let mut doctor = Doctor::default();
    if let Err(e) = settings.check() {
        doctor.configuration_unusable(leg("config", "configuration"), &e);
        return doctor.finish();
    }
    doctor
        .run(builder.retries(crate::retry::Retries::none()), settings)
        .await;
    doctor.finish()
}

/// The report for a configuration that could not even be read (a missing file, malformed
/// JSON, an unknown key): the same shape as any other, so every host shows it the same way.
pub fn unusable_configuration(error: &Error) -> Report {
    let mut doctor = Doctor::default();
    doctor.configuration_unusable(leg("config", "configuration"), error);
    doctor.finish()
}

/// What the legs taught us, to explain a failure further down.
#[derive(Default)]
struct Facts {
    client_id: String,
    tenant_id: String,
    claims: Option<Claims>,
    system_assigned: bool,
    foreign_tenant: Option<String>,
    /// This machine minus Entra, seconds.
    skew: Option<i64>,
    cloud_audience: String,
    /// The first blocking finding of the app's federated credentials read back: cause, fix.
    credential_finding: Option<(String, String)>,
    /// The credential read back that matches the managed-identity token.
    matching_credential: Option<String>,
}

/// The findings so far; each leg's file adds its own `impl Doctor` block.
#[derive(Default)]
struct Doctor {
    legs: Vec<LegReport>,
    /// The first-line cause and its fix.
    cause: Option<(String, String)>,
    warnings: Vec<String>,
    fic: Option<MatchingFic>,
    error: Option<ErrorSummary>,
    ok_summary: Option<String>,
    facts: Facts,
    certificates: Vec<CertificateReport>,
}

fn check(status: Status, name: &str, detail: impl Into<String>) -> Check {
    Check {
        status,
        name: name.to_string(),
        detail: detail.into(),
        fix: None,
    }
}

fn leg(leg: &'static str, title: &'static str) -> LegReport {
    LegReport {
        leg,
        title,
        status: Status::Ok,
        latency_ms: None,
        checks: Vec::new(),
    }
}

/// Sends a leg's request and records how long it took. A connection the server dropped or reset
/// while answering (one that was never made is not this) is tried once more, as the token flow
/// retries it, so one such drop is not the diagnosis; the leg says so.
async fn send<T, F, Fut>(report: &mut LegReport, request: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let result = match request().await {
        Err(e) if dropped_mid_answer(&e) => {
            report.checks.push(check(
                Status::Warn,
                "connection",
                format!(
                    "{}; tried once more, as the token flow does",
                    e.primary().message()
                ),
            ));
            request().await
        }
        other => other,
    };
    report.latency_ms = Some(started.elapsed().as_millis());
    result
}

fn dropped_mid_answer(error: &Error) -> bool {
    let e = error.primary();
    matches!(
        e.code(),
        ErrorCode::ManagedIdentityUnreachable | ErrorCode::ExchangeUnreachable
    ) && !e.in_connect()
}

impl Doctor {
    async fn run(&mut self, builder: CredentialBuilder, settings: &DiagnoseSettings) {
        let Some(credential) = self.configuration(builder) else {
            return;
        };
        self.certificates(&credential).await;
        self.platform(&credential).await;
        self.shared_cache(&credential).await;
        let ControlFlow::Continue(claims) = self.managed_identity(&credential).await else {
            return;
        };
        if let Some(claims) = claims {
            self.federated_credential(&credential, claims).await;
        }
        self.federated_credentials(&credential, settings).await;
        self.exchange(&credential, settings.scope()).await;
    }

    /// Adds a finished leg: its status is its worst check's, and its warnings join the report's.
    fn push(&mut self, mut leg: LegReport) {
        leg.status = if leg.checks.iter().any(|c| c.status == Status::Fail) {
            Status::Fail
        } else if leg.checks.iter().any(|c| c.status == Status::Warn) {
            Status::Warn
        } else if !leg.checks.is_empty() && leg.checks.iter().all(|c| c.status == Status::Skip) {
            Status::Skip
        } else {
            Status::Ok
        };
        for c in leg.checks.iter().filter(|c| c.status == Status::Warn) {
            self.warnings.push(format!("{}: {}", c.name, c.detail));
        }
        self.legs.push(leg);
    }

    /// Ends the walk at a failed leg: `error` is the report's error, `cause` and `fix` its
    /// headline.
    fn fail(
        &mut self,
        mut report: LegReport,
        name: &str,
        error: &Error,
        cause: String,
        fix: String,
    ) {
        let mut c = check(Status::Fail, name, error.primary().message().to_string());
        c.fix = Some(fix.clone());
        report.checks.push(c);
        self.push(report);
        self.error = Some(ErrorSummary::from(error));
        self.cause = Some((cause, fix));
    }

    /// The most urgent certificate finding of `status`, as a cause and its fix.
    fn certificate_finding(&self, status: Status) -> Option<(String, String)> {
        self.certificates
            .iter()
            .find(|c| c.status == status)
            .map(|c| (c.detail.clone(), c.fix.clone().unwrap_or_default()))
    }

    fn finish(mut self) -> Report {
        let ok = self.ok_summary.is_some() && self.cause.is_none();
        // A certificate that expires soon is the first warning: it is the next outage.
        if let Some((detail, _)) = self.certificate_finding(Status::Warn) {
            if let Some(i) = self.warnings.iter().position(|w| w.ends_with(&detail)) {
                let first = self.warnings.remove(i);
                self.warnings.insert(0, first);
            }
        }
        let alarm = self.certificate_finding(Status::Fail);
        let headline = match (&self.ok_summary, &self.cause) {
            (Some(summary), None) => match &alarm {
                Some((cause, fix)) => format!("ERROR: {cause}. Fix: {fix} ({summary})"),
                None if self.warnings.is_empty() => format!("OK: {summary}"),
                None => format!(
                    "OK with {} warning(s): {summary}; first warning: {}",
                    self.warnings.len(),
                    self.warnings[0]
                ),
            },
            (_, Some((cause, fix))) => format!("FAIL: {cause}. Fix: {fix}"),
            (None, None) => "FAIL: no token was obtained".to_string(),
        };
        let (cause, fix) = match self.cause {
            Some((c, f)) => (Some(c), Some(f)),
            None => (None, None),
        };
        Report {
            ok,
            headline,
            cause,
            fix,
            legs: self.legs,
            matching_federated_credential: self.fic,
            error: self.error,
            certificates: self.certificates,
        }
    }
}
