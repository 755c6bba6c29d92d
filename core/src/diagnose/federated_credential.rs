//! The federated-credential leg: what a federated credential on the app must match (the
//! managed-identity token's issuer, subject and audience), whether the identity can be trusted
//! at all (user-assigned, same tenant), and whether this machine's clock agrees with Entra's.
//! It also writes the matching federated credential, ready to create.

use serde_json::Value;

use super::{Doctor, MatchingFic, Status, check, leg};
use crate::credential::Credential;
use crate::support::clock::parse_http_date;
use crate::token::jwt::Claims;

/// Beyond this, a clock difference with Entra is reported (Entra tolerates about 5 minutes).
pub(super) const SKEW_WARN_SECS: i64 = 60;

/// The fix for a clock that differs from Entra's by more than [`SKEW_WARN_SECS`].
pub(super) const SYNCHRONISE_CLOCK: &str =
    "Synchronise this machine's clock (NTP; on Windows: w32tm /resync).";

impl Doctor {
    pub(super) async fn federated_credential(&mut self, credential: &Credential, claims: Claims) {
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
                c.fix = Some(
                    "Entra supports only user-assigned managed identities as an app's federated \
                     credential: create a user-assigned identity, assign it to this host, and \
                     name it with ManagedIdentityClientId."
                        .into(),
                );
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
                c.fix = Some(
                    "The managed identity and the app registration must be in the same tenant: \
                     create the identity there."
                        .into(),
                );
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
            c.fix = Some(
                "Set ClientId to the app registration's Application (client) ID; the managed \
                 identity goes in ManagedIdentityClientId."
                    .into(),
            );
            self.cause = Some((
                "ClientId names the managed identity itself, not the app registration that \
                 trusts it"
                    .into(),
                c.fix.clone().unwrap_or_default(),
            ));
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
            Ok(response) => match response.header("date").and_then(parse_http_date) {
                Some(server) => {
                    let skew = now - server;
                    self.facts.skew = Some(skew);
                    let text = describe_skew(skew);
                    if skew.abs() > SKEW_WARN_SECS {
                        let mut c = check(Status::Warn, "clock", text);
                        c.fix = Some(SYNCHRONISE_CLOCK.into());
                        report.checks.push(c);
                    } else {
                        report.checks.push(check(Status::Ok, "clock", text));
                    }
                }
                None => {
                    report
                        .checks
                        .push(check(Status::Info, "clock", "Entra sent no Date header"))
                }
            },
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
}

/// `skew` (this machine minus Entra, seconds) in words.
pub(super) fn describe_skew(skew: i64) -> String {
    match skew {
        0 => "in step with Entra's".to_string(),
        s if s > 0 => format!("this machine's clock is {s}s ahead of Entra's"),
        s => format!("this machine's clock is {}s behind Entra's", -s),
    }
}
