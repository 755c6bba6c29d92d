//! `diagnose`: walks the flow leg by leg — configuration, managed-identity endpoint, what a
//! matching federated credential needs, the exchange, the token — and says what it did, what it
//! saw, and on failure the cause and the fix in the report's first line. The answer to "it
//! worked for a week, then it stopped: why?", from the machine that fails, in seconds.
//!
//! It never shows a raw token, signature or secret: only decoded claims.

mod report;

use std::time::Instant;

use serde_json::Value;

pub use report::{Check, ErrorSummary, LegReport, MatchingFic, Report, Status};

use crate::clock::to_iso8601;
use crate::config::CredentialBuilder;
use crate::credential::{Credential, TokenRequestOptions};
use crate::env::process_env;
use crate::error::{Error, ErrorCode};
use crate::jwt::{Claims, decode_claims};
use crate::managed_identity::expiry::{civil_to_unix, parse_hms};
use crate::managed_identity::{ManagedIdentityId, select_source};

/// The scope `diagnose` asks for when none is given.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Beyond this, a clock difference with Entra is reported (Entra tolerates about 5 minutes).
const SKEW_WARN_SECS: i64 = 60;

/// Diagnoses the credential `builder` describes by getting a token for `scope`.
///
/// Each leg is tried once, without retries, so that the answer comes in seconds and shows what
/// the endpoints say right now; only a connection dropped mid-answer is tried a second time, as
/// the token flow would (and the report says so).
pub async fn diagnose(builder: CredentialBuilder, scope: &str) -> Report {
    let mut doctor = Doctor::default();
    doctor
        .run(builder.retries(crate::retry::Retries::none()), scope)
        .await;
    doctor.finish()
}

/// The report for a configuration that could not even be read (a missing file, malformed
/// JSON, an unknown key): the same shape as any other, so every host shows it the same way.
pub fn unusable_configuration(error: &Error) -> Report {
    let mut doctor = Doctor::default();
    let fix = error
        .remedy()
        .unwrap_or("Correct the configuration.")
        .to_string();
    let cause = format!("the configuration is not usable: {}", error.message());
    doctor.fail(
        leg("config", "configuration"),
        "configuration",
        error,
        cause,
        fix,
    );
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
}

#[derive(Default)]
struct Doctor {
    legs: Vec<LegReport>,
    cause: Option<(String, String)>,
    warnings: Vec<String>,
    fic: Option<MatchingFic>,
    error: Option<ErrorSummary>,
    ok_summary: Option<String>,
    facts: Facts,
}

fn check(status: Status, name: &str, detail: impl Into<String>) -> Check {
    Check {
        status,
        name: name.to_string(),
        detail: detail.into(),
        fix: None,
    }
}

/// A connection the server dropped or reset while answering (one that was never made is not
/// this): the token flow retries it, so one such drop is not the diagnosis.
fn dropped_mid_answer(error: &Error) -> bool {
    let e = error.primary();
    matches!(
        e.code(),
        ErrorCode::ManagedIdentityUnreachable | ErrorCode::ExchangeUnreachable
    ) && !e.in_connect()
}

fn tried_again(error: &Error) -> Check {
    check(
        Status::Warn,
        "connection",
        format!(
            "{}; tried once more, as the token flow does",
            error.primary().message()
        ),
    )
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

impl Doctor {
    async fn run(&mut self, builder: CredentialBuilder, scope: &str) {
        let Some(credential) = self.configuration(builder) else {
            return;
        };
        if !self.managed_identity(&credential).await {
            return;
        }
        self.exchange(&credential, scope).await;
    }

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

    fn configuration(&mut self, builder: CredentialBuilder) -> Option<Credential> {
        let env = builder.env.clone().unwrap_or_else(process_env);
        let mut report = leg("config", "configuration");
        report
            .checks
            .push(check(Status::Info, "read from", builder.origin.clone()));
        let options = match builder.validate() {
            Ok(o) => o,
            Err(e) => {
                let fix = e
                    .remedy()
                    .unwrap_or("Correct the configuration.")
                    .to_string();
                self.fail(
                    report,
                    "configuration",
                    &e,
                    format!("the configuration is not usable: {}", e.message()),
                    fix,
                );
                return None;
            }
        };
        report
            .checks
            .push(check(Status::Ok, "tenant", options.tenant_id.clone()));
        report.checks.push(check(
            Status::Ok,
            "app (ClientId)",
            options.client_id.clone(),
        ));
        report
            .checks
            .push(check(Status::Ok, "authority", options.authority.as_str()));
        let kinds: Vec<&str> = options.sources.iter().map(|s| s.kind().as_str()).collect();
        report
            .checks
            .push(check(Status::Ok, "credential list", kinds.join(" → ")));
        self.facts.client_id = options.client_id.clone();
        self.facts.tenant_id = options.tenant_id.clone();
        self.facts.cloud_audience = options.authority.default_exchange_audience().to_string();
        let mi_ids: Vec<&ManagedIdentityId> = options
            .sources
            .iter()
            .filter_map(|s| match s {
                crate::CredentialSource::ManagedIdentity { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        if let Some(id) = mi_ids.first() {
            report
                .checks
                .push(check(Status::Ok, "managed identity", id.to_string()));
            if let ManagedIdentityId::ClientId(mi) = id {
                if mi.eq_ignore_ascii_case(&options.client_id) {
                    let mut c = check(
                        Status::Fail,
                        "identities",
                        "ManagedIdentityClientId is the app registration's ClientId",
                    );
                    c.fix = Some("ClientId is the app registration's Application (client) ID; ManagedIdentityClientId is the managed identity's Client ID (Azure portal → Managed Identities → the identity → Overview).".into());
                    self.cause = Some(("ManagedIdentityClientId and ClientId are the same id: one of them is wrong".into(), c.fix.clone().unwrap_or_default()));
                    report.checks.push(c);
                }
            }
            match select_source(env.as_ref(), options.managed_identity_source) {
                Ok(sel) => report.checks.push(check(
                    Status::Ok,
                    "managed-identity source",
                    format!("{} ({})", sel.source, sel.reason),
                )),
                Err(e) => report.checks.push(check(
                    Status::Fail,
                    "managed-identity source",
                    e.to_string(),
                )),
            }
            report.checks.push(check(
                Status::Info,
                "exchange audience",
                options.default_audience.clone(),
            ));
        }
        for name in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "NO_PROXY",
            "no_proxy",
        ] {
            if env.var(name).is_some() {
                // The value may carry proxy credentials: only its presence is shown.
                report.checks.push(check(Status::Info, "proxy", format!("{name} is set: Entra requests honour it; managed-identity requests never use a proxy")));
            }
        }
        if self.cause.is_some() {
            self.push(report);
            return None;
        }
        match Credential::from_options(options) {
            Ok(credential) => {
                self.push(report);
                Some(credential)
            }
            Err(e) => {
                let fix = e
                    .primary()
                    .remedy()
                    .unwrap_or("Correct the credential list.")
                    .to_string();
                self.fail(
                    report,
                    "credential list",
                    &e,
                    format!(
                        "no credential source can work here: {}",
                        e.primary().message()
                    ),
                    fix,
                );
                None
            }
        }
    }

    /// The managed-identity leg and the federated-credential checks. False when it failed.
    async fn managed_identity(&mut self, credential: &Credential) -> bool {
        let mut report = leg("managed_identity", "managed-identity endpoint");
        let Some((id, audience)) = credential.managed_identity_target() else {
            report.checks.push(check(
                Status::Skip,
                "managed identity",
                "the credential list has no usable managed-identity entry",
            ));
            self.push(report);
            return true;
        };
        if let Some(sel) = credential.managed_identity_source() {
            report.checks.push(check(
                Status::Info,
                "source",
                format!("{} ({})", sel.source, sel.reason),
            ));
        }
        let started = Instant::now();
        let result = match credential.managed_identity_assertion().await {
            Err(e) if dropped_mid_answer(&e) => {
                report.checks.push(tried_again(&e));
                credential.managed_identity_assertion().await
            }
            other => other,
        };
        report.latency_ms = Some(started.elapsed().as_millis());
        let token = match result {
            Ok(t) => t,
            Err(e) => {
                let mut fix = e
                    .remedy()
                    .unwrap_or("Check the managed-identity endpoint.")
                    .to_string();
                if let ManagedIdentityId::ClientId(value) = &id {
                    if e.message()
                        .to_ascii_lowercase()
                        .contains("identity not found")
                    {
                        fix.push_str(&format!(
                            " If {value} is the identity's Object (principal) ID rather than its Client ID, use ManagedIdentityObjectId (or CERTLESS_MANAGED_IDENTITY_OBJECT_ID) instead."
                        ));
                    }
                }
                self.fail(
                    report,
                    "token request",
                    &e,
                    format!("the managed-identity endpoint failed: {}", e.message()),
                    fix,
                );
                return false;
            }
        };
        report.checks.push(check(
            Status::Ok,
            "token",
            format!("for {audience}, expires {}", to_iso8601(token.expires_on)),
        ));
        let claims = match decode_claims(token.token.expose()) {
            Ok(c) => c,
            Err(e) => {
                report.checks.push(check(
                    Status::Warn,
                    "claims",
                    format!("not a JWT ({})", e.message()),
                ));
                self.push(report);
                return true;
            }
        };
        for name in ["iss", "sub", "aud", "oid", "tid", "xms_mirid", "iat", "exp"] {
            if let Some(v) = claims.all.get(name) {
                let shown = match (name, v) {
                    ("iat" | "exp", Value::Number(n)) => {
                        format!("{n} ({})", to_iso8601(n.as_i64().unwrap_or_default()))
                    }
                    (_, Value::String(s)) => s.clone(),
                    (_, other) => other.to_string(),
                };
                report.checks.push(check(Status::Info, name, shown));
            }
        }
        self.push(report);
        self.federated_credential_checks(credential, claims).await;
        true
    }

    async fn federated_credential_checks(&mut self, credential: &Credential, claims: Claims) {
        let mut report = leg(
            "federated_credential",
            "what the federated credential must match",
        );
        let now = credential.clock().now_unix();
        let (iss, sub, aud) = (
            claims.iss.clone().unwrap_or_default(),
            claims.sub.clone().unwrap_or_default(),
            claims.aud.clone().unwrap_or_default(),
        );
        report
            .checks
            .push(check(Status::Info, "issuer", iss.clone()));
        report.checks.push(check(
            Status::Info,
            "subject",
            format!("{sub} (the identity's object id; compared case-sensitively)"),
        ));
        report
            .checks
            .push(check(Status::Info, "audience", aud.clone()));

        match &claims.xms_mirid {
            Some(mirid)
                if mirid
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.managedidentity/userassignedidentities/") =>
            {
                report
                    .checks
                    .push(check(Status::Ok, "identity kind", "user-assigned"));
            }
            Some(mirid) => {
                self.facts.system_assigned = true;
                let mut c = check(
                    Status::Warn,
                    "identity kind",
                    format!("system-assigned ({mirid})"),
                );
                c.fix = Some("Entra supports only user-assigned managed identities as an app's federated credential: create a user-assigned identity, assign it to this host, and name it with ManagedIdentityClientId.".into());
                report.checks.push(c);
            }
            None => report.checks.push(check(
                Status::Info,
                "identity kind",
                "unknown (no xms_mirid claim)",
            )),
        }
        if let Some(tid) = &claims.tid {
            let app_tenant = &self.facts.tenant_id;
            let comparable = app_tenant.len() == 36;
            if comparable && !tid.eq_ignore_ascii_case(app_tenant) {
                self.facts.foreign_tenant = Some(tid.clone());
                let mut c = check(
                    Status::Warn,
                    "tenant",
                    format!("the identity is in tenant {tid}, the app in {app_tenant}"),
                );
                c.fix = Some("The managed identity and the app registration must be in the same tenant: create the identity there.".into());
                report.checks.push(c);
            } else {
                report.checks.push(check(
                    Status::Ok,
                    "tenant",
                    format!("{tid} (same as the app's)"),
                ));
            }
        }
        if !aud.is_empty() && aud != self.facts.cloud_audience {
            let mut c = check(
                Status::Warn,
                "audience",
                format!(
                    "'{aud}', but this cloud's exchange audience is '{}'",
                    self.facts.cloud_audience
                ),
            );
            c.fix = Some(format!(
                "Remove TokenExchangeUrl (or set it to {}) unless your cloud documents another.",
                self.facts.cloud_audience
            ));
            report.checks.push(c);
        }
        let mi_app = claims
            .all
            .get("appid")
            .or_else(|| claims.all.get("azp"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !mi_app.is_empty() && mi_app.eq_ignore_ascii_case(&self.facts.client_id) {
            let mut c = check(
                Status::Fail,
                "identities",
                "ClientId is the managed identity's own client id, not the app registration's",
            );
            c.fix = Some("Set ClientId to the app registration's Application (client) ID; the managed identity goes in ManagedIdentityClientId.".into());
            self.cause = Some(("ClientId names the managed identity itself, not the app registration that trusts it".into(), c.fix.clone().unwrap_or_default()));
            report.checks.push(c);
        }
        match claims.exp {
            Some(exp) if exp <= now => {
                report.checks.push(check(
                    Status::Fail,
                    "lifetime",
                    format!("expired {}s ago by this machine's clock", now - exp),
                ));
            }
            Some(exp) => report.checks.push(check(
                Status::Ok,
                "lifetime",
                format!("{}s left", exp - now),
            )),
            None => report
                .checks
                .push(check(Status::Warn, "lifetime", "no exp claim")),
        }
        // Entra's clock, from the Date header of its OpenID configuration.
        match credential.probe_authority().await {
            Ok(response) => {
                match response.header("date").and_then(parse_http_date) {
                    Some(server) => {
                        let skew = now - server;
                        self.facts.skew = Some(skew);
                        let text = describe_skew(skew);
                        if skew.abs() > SKEW_WARN_SECS {
                            let mut c = check(Status::Warn, "clock", text);
                            c.fix = Some("Synchronise this machine's clock (NTP; on Windows: w32tm /resync).".into());
                            report.checks.push(c);
                        } else {
                            report.checks.push(check(Status::Ok, "clock", text));
                        }
                    }
                    None => report.checks.push(check(
                        Status::Info,
                        "clock",
                        "Entra sent no Date header",
                    )),
                }
            }
            Err(e) => report.checks.push(check(
                Status::Warn,
                "Entra reachable",
                e.message().to_string(),
            )),
        }
        let name = format!("certless-{}", sub.chars().take(8).collect::<String>());
        let parameters =
            serde_json::json!({ "name": name, "issuer": iss, "subject": sub, "audiences": [aud] });
        self.fic = Some(MatchingFic {
            az_command: format!(
                "az ad app federated-credential create --id {} --parameters '{parameters}'",
                self.facts.client_id
            ),
            name,
            issuer: iss,
            subject: sub,
            audiences: vec![aud],
        });
        self.facts.claims = Some(claims);
        self.push(report);
    }

    async fn exchange(&mut self, credential: &Credential, scope: &str) {
        let mut report = leg("exchange", "Entra token exchange");
        report.checks.push(check(Status::Info, "scope", scope));
        let options = TokenRequestOptions {
            force_refresh: true,
            ..Default::default()
        };
        let started = Instant::now();
        let result = match credential.get_token_with(&[scope], &options).await {
            Err(e) if dropped_mid_answer(&e) => {
                report.checks.push(tried_again(&e));
                credential.get_token_with(&[scope], &options).await
            }
            other => other,
        };
        report.latency_ms = Some(started.elapsed().as_millis());
        let token = match result {
            Ok(t) => t,
            Err(e) => {
                let p = e.primary().clone();
                for code in p.aadsts_codes() {
                    if let Some(info) = crate::aadsts::lookup(*code) {
                        report.checks.push(check(
                            Status::Info,
                            &format!("AADSTS{code}"),
                            info.meaning,
                        ));
                    }
                }
                if let Some(t) = p.trace_id() {
                    report.checks.push(check(Status::Info, "trace id", t));
                }
                if let Some(c) = p.correlation_id() {
                    report.checks.push(check(Status::Info, "correlation id", c));
                }
                let (cause, fix) = self.explain(&p);
                if self.cause.is_some() {
                    // An earlier leg already named the cause; keep it.
                    let (c, f) = self.cause.take().unwrap_or_default();
                    self.fail(report, "exchange", &e, c, f);
                } else {
                    self.fail(report, "exchange", &e, cause, fix);
                }
                return;
            }
        };
        report.checks.push(check(
            Status::Ok,
            "token",
            format!("{} from {}", token.token_type, token.source),
        ));
        self.push(report);
        self.token_checks(&token, scope);
        self.ok_summary = Some(format!(
            "token obtained for {scope} from {}, expires {}",
            token.source,
            to_iso8601(token.expires_on)
        ));
    }

    fn token_checks(&mut self, token: &crate::AccessToken, scope: &str) {
        let mut report = leg("token", "the access token");
        let Ok(claims) = decode_claims(token.token.expose()) else {
            report.checks.push(check(
                Status::Info,
                "format",
                "not a JWT (opaque token): nothing to check",
            ));
            self.push(report);
            return;
        };
        let resource = scope.trim_end_matches("/.default");
        let aud = claims.aud.clone().unwrap_or_default();
        let roles: Vec<String> = claims
            .all
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let acr = claims
            .all
            .get("appidacr")
            .or_else(|| claims.all.get("azpacr"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        report.checks.push(check(Status::Info, "aud", aud.clone()));
        report.checks.push(check(
            Status::Info,
            "appidacr",
            format!(
                "{acr} ({})",
                match acr.as_str() {
                    "0" => "public client",
                    "1" => "client secret",
                    "2" => "certificate or assertion",
                    _ => "unknown",
                }
            ),
        ));
        report
            .checks
            .push(check(Status::Info, "expires", to_iso8601(token.expires_on)));
        if roles.is_empty() {
            let mut c = check(
                Status::Warn,
                "roles",
                "none: the app holds no application permission on this resource, so the API will refuse the token (401/403)",
            );
            c.fix = Some("Grant the app an application permission (app role) on the resource, and admin consent.".into());
            report.checks.push(c);
        } else {
            report
                .checks
                .push(check(Status::Ok, "roles", roles.join(", ")));
        }
        let host = resource
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if host.contains(".sharepoint.") || host.contains(".sharepoint-") {
            if aud.trim_end_matches('/').eq_ignore_ascii_case(resource) {
                report.checks.push(check(Status::Ok, "SharePoint audience", "the token is for this SharePoint tenant (Graph tokens are refused by SharePoint REST)"));
            } else {
                let mut c = check(
                    Status::Fail,
                    "SharePoint audience",
                    format!("the token's audience is {aud}, not {resource}"),
                );
                c.fix = Some(format!("Request {resource}/.default."));
                report.checks.push(c);
            }
            if acr == "1" {
                let mut c = check(
                    Status::Fail,
                    "SharePoint credential",
                    "the token comes from a client secret: SharePoint REST refuses app-only tokens from secrets",
                );
                c.fix = Some(
                    "Use the federated credential (managed identity) or a certificate.".into(),
                );
                report.checks.push(c);
            }
            if roles.iter().any(|r| r == "Sites.Selected") {
                report.checks.push(check(Status::Info, "Sites.Selected", "the app also needs a permission on each site (Graph: POST /sites/{site-id}/permissions) before SharePoint answers"));
            }
        }
        self.push(report);
    }

    /// The cause of an exchange failure, from the AADSTS code and what the earlier legs saw.
    fn explain(&self, e: &Error) -> (String, String) {
        let f = &self.facts;
        let claims = f.claims.clone().unwrap_or_default();
        let (iss, sub, aud) = (
            claims.iss.unwrap_or_default(),
            claims.sub.unwrap_or_default(),
            claims.aud.unwrap_or_default(),
        );
        let app = &f.client_id;
        let code = e.aadsts_codes().first().copied().unwrap_or_default();
        let fic_codes = [70021, 700211, 700212, 7002121, 700213, 7002137, 7002138];
        let create = self
            .fic
            .as_ref()
            .map(|fic| format!(" Create it with: {}", fic.az_command))
            .unwrap_or_default();
        if f.system_assigned && fic_codes.contains(&code) {
            return (
                format!("the managed identity is system-assigned, and Entra accepts only user-assigned identities as an app's federated credential (AADSTS{code})"),
                "Create a user-assigned managed identity, assign it to this host, add a federated credential for it on the app, and set ManagedIdentityClientId to its client id.".into(),
            );
        }
        if let Some(tid) = &f.foreign_tenant {
            if code == 700236 || fic_codes.contains(&code) {
                return (
                    format!("the managed identity is in tenant {tid} but the app registration is in tenant {} (AADSTS{code})", f.tenant_id),
                    "Use a user-assigned identity from the app's own tenant (or move the app): a federated credential trusts identities of its own tenant.".into(),
                );
            }
        }
        let skew = f.skew.unwrap_or_default();
        match code {
            7002138 => (
                format!("the app's federated credential subject differs only in case from the managed identity's object id '{sub}'; Entra compares it case-sensitively (AADSTS7002138)"),
                format!("Set the federated credential's subject to exactly '{sub}' (lowercase, as in the token).{create}"),
            ),
            700213 | 7002137 => (
                format!("no federated credential on app {app} has subject '{sub}', the managed identity's object id (AADSTS{code})"),
                format!("Set the federated credential's subject to exactly '{sub}' — the identity's Object (principal) ID, not its Client ID.{create}"),
            ),
            700211 => (
                format!("no federated credential on app {app} has issuer '{iss}' (AADSTS700211)"),
                format!("Set the federated credential's issuer to exactly '{iss}': no trailing slash, not the sts.windows.net form.{create}"),
            ),
            700212 | 7002121 => (
                format!("no federated credential on app {app} has audience '{aud}' (AADSTS{code})"),
                format!(
                    "Set the federated credential's audience to exactly '{aud}' (api://AzureADTokenExchangeUSGov / ...China are only for those clouds).{create}"
                ),
            ),
            70021 => (
                format!("no federated credential on app {app} matches the managed identity (issuer '{iss}', subject '{sub}', audience '{aud}') (AADSTS70021)"),
                format!("Add a federated credential with exactly these values to the app registration.{create}"),
            ),
            700024 if skew.abs() > SKEW_WARN_SECS => (
                format!("the assertion had expired when Entra received it (AADSTS700024): {}", describe_skew(skew)),
                "Synchronise this machine's clock (NTP; on Windows: w32tm /resync).".into(),
            ),
            700024 => (
                "the assertion had expired when Entra received it (AADSTS700024), though the clocks agree: the managed-identity token was too old".into(),
                "Make sure nothing caches managed-identity tokens in front of certless; certless sends them only with 5 minutes of life left.".into(),
            ),
            700016 => (
                format!("Entra has no app {app} in tenant {} (AADSTS700016)", f.tenant_id),
                crate::aadsts::lookup(700016).map(|i| i.remedy.to_string()).unwrap_or_default(),
            ),
            _ => {
                let meaning = crate::aadsts::lookup(code).map(|i| format!("{} (AADSTS{code})", i.meaning.trim_end_matches('.')));
                (
                    meaning.unwrap_or_else(|| format!("the exchange failed: {}", e.message())),
                    e.remedy().unwrap_or("See the exchange leg below.").to_string(),
                )
            }
        }
    }

    fn finish(self) -> Report {
        let ok = self.ok_summary.is_some() && self.cause.is_none();
        let headline = match (&self.ok_summary, &self.cause) {
            (Some(summary), None) if self.warnings.is_empty() => format!("OK: {summary}"),
            (Some(summary), None) => format!(
                "OK with {} warning(s): {summary}; first warning: {}",
                self.warnings.len(),
                self.warnings[0]
            ),
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
        }
    }
}

fn describe_skew(skew: i64) -> String {
    match skew {
        0 => "in step with Entra's".to_string(),
        s if s > 0 => format!("this machine's clock is {s}s ahead of Entra's"),
        s => format!("this machine's clock is {}s behind Entra's", -s),
    }
}

/// `Sun, 22 Nov 2026 03:02:44 GMT` (RFC 9110's IMF-fixdate) → Unix seconds.
fn parse_http_date(value: &str) -> Option<i64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if !zone.eq_ignore_ascii_case("GMT") {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let (h, m, s) = parse_hms(time)?;
    civil_to_unix(year.parse().ok()?, month, day.parse().ok()?, h, m, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Thu, 16 Jan 2020 05:24:12 GMT"),
            Some(1_579_152_252)
        );
        assert_eq!(parse_http_date("Thu, 16 Jan 2020 05:24:12 PST"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
