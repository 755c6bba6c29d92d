//! The federated-credential leg: what a federated credential on the app must match (the
//! managed-identity token's issuer, subject and audience), whether the identity can be trusted
//! at all (user-assigned, same tenant), and whether this machine's clock agrees with Entra's.
//! It also writes the matching federated credential, ready to create.

use serde_json::Value;

use super::credentials::suggested_name;
use super::{Check, Doctor, MatchingFic, Status, check, leg};
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
        report.checks.push(self.identity_kind(&claims, &iss, &aud));
        report.checks.extend(self.tenant(&claims));
        report.checks.extend(self.audience(&aud));
        report.checks.extend(self.identities(&claims));
        report
            .checks
            .push(lifetime(&claims, credential.clock().now_unix()));
        report.checks.push(self.clock(credential).await);
        let name = suggested_name(&sub);
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

    /// User-assigned, system-assigned (with what that means and how to switch), or unknown.
    fn identity_kind(&mut self, claims: &Claims, iss: &str, aud: &str) -> Check {
        let Some(mirid) = &claims.xms_mirid else {
            return check(
                Status::Info,
                "identity kind",
                "unknown (no xms_mirid claim)",
            );
        };
        if mirid
            .to_ascii_lowercase()
            .contains("/providers/microsoft.managedidentity/userassignedidentities/")
        {
            return check(Status::Ok, "identity kind", "user-assigned");
        }
        self.facts.system_assigned = true;
        let host = HostResource::parse(mirid);
        let mut c = check(
            Status::Warn,
            "identity kind",
            format!(
                "system-assigned, the identity of {mirid}. In practice: its object id (the \
                 federated credential's subject) changes when the identity is disabled and \
                 enabled again or the {} is recreated, and each machine has its own, so a farm \
                 needs one of the app's 20 federated credentials per machine. Microsoft's page \
                 on this feature lists only user-assigned identities",
                host.as_ref().map_or("host", |h| h.noun)
            ),
        );
        c.fix = Some(match host {
            Some(host) => host.switch_commands(&self.facts.client_id, iss, aud),
            None => "Create a user-assigned identity (az identity create), assign it to this \
                     host, add a federated credential with its principalId as subject, and set \
                     ManagedIdentityClientId to its clientId."
                .into(),
        });
        c
    }

    /// The identity's tenant against the app's.
    fn tenant(&mut self, claims: &Claims) -> Option<Check> {
        let tid = claims.tid.as_ref()?;
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
            return Some(c);
        }
        Some(check(
            Status::Ok,
            "tenant",
            format!("{tid} (same as the app's)"),
        ))
    }

    /// The token's audience against the configured cloud's exchange audience.
    fn audience(&self, aud: &str) -> Option<Check> {
        if aud.is_empty() || aud == self.facts.cloud_audience {
            return None;
        }
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
        Some(c)
    }

    /// ClientId naming the managed identity itself, the commonest mix-up of the two ids.
    fn identities(&mut self, claims: &Claims) -> Option<Check> {
        let mi_app = claims
            .all
            .get("appid")
            .or_else(|| claims.all.get("azp"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if mi_app.is_empty() || !mi_app.eq_ignore_ascii_case(&self.facts.client_id) {
            return None;
        }
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
        Some(c)
    }

    /// Entra's clock, from the Date header of its OpenID configuration.
    async fn clock(&mut self, credential: &Credential) -> Check {
        let response = match credential.probe_authority().await {
            Ok(response) => response,
            Err(e) => {
                return check(Status::Warn, "Entra reachable", e.message().to_string());
            }
        };
        let Some(server) = response.header("date").and_then(parse_http_date) else {
            return check(Status::Info, "clock", "Entra sent no Date header");
        };
        let skew = credential.clock().now_unix() - server;
        self.facts.skew = Some(skew);
        let text = describe_skew(skew);
        if skew.abs() > SKEW_WARN_SECS {
            let mut c = check(Status::Warn, "clock", text);
            c.fix = Some(SYNCHRONISE_CLOCK.into());
            return c;
        }
        check(Status::Ok, "clock", text)
    }
}

/// The token's remaining life by this machine's clock.
fn lifetime(claims: &Claims, now: i64) -> Check {
    match claims.exp {
        Some(exp) if exp <= now => check(
            Status::Fail,
            "lifetime",
            format!("expired {}s ago by this machine's clock", now - exp),
        ),
        Some(exp) => check(Status::Ok, "lifetime", format!("{}s left", exp - now)),
        None => check(Status::Warn, "lifetime", "no exp claim"),
    }
}

/// The Azure resource a system-assigned identity belongs to, from its `xms_mirid`
/// (`/subscriptions/{s}/resourcegroups/{rg}/providers/{namespace}/{type}/{name}`).
struct HostResource<'a> {
    group: &'a str,
    name: &'a str,
    /// The `az` command group that assigns identities to it; `None` where there is none
    /// (an Azure Arc machine has only its system-assigned identity).
    az: Option<&'static str>,
    noun: &'static str,
}

impl<'a> HostResource<'a> {
    fn parse(mirid: &'a str) -> Option<Self> {
        let parts: Vec<&str> = mirid.trim_matches('/').split('/').collect();
        let at = |key: &str| {
            parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case(key))
                .and_then(|i| parts.get(i + 1).copied())
        };
        let group = at("resourcegroups")?;
        let provider = at("providers")?;
        let kind = parts.get(parts.len().checked_sub(2)?)?.to_ascii_lowercase();
        let name = parts.last()?;
        let (az, noun) = match (provider.to_ascii_lowercase().as_str(), kind.as_str()) {
            ("microsoft.compute", "virtualmachines") => (Some("az vm"), "virtual machine"),
            ("microsoft.compute", "virtualmachinescalesets") => (Some("az vmss"), "scale set"),
            ("microsoft.web", "sites") => (Some("az webapp"), "app"),
            ("microsoft.app", "containerapps") => (Some("az containerapp"), "container app"),
            ("microsoft.hybridcompute", "machines") => (None, "machine"),
            _ => (None, "resource"),
        };
        Some(HostResource {
            group,
            name,
            az,
            noun,
        })
    }

    /// The commands that move this host onto a user-assigned identity.
    fn switch_commands(&self, app: &str, iss: &str, aud: &str) -> String {
        let Some(az) = self.az else {
            return format!(
                "This {} can have only its system-assigned identity: keep the app's federated \
                 credential's subject in step with it (certless doctor --graph shows when it \
                 changes).",
                self.noun
            );
        };
        let identity = format!("{}-certless", self.name);
        let parameters = serde_json::json!({
            "name": identity, "issuer": iss, "subject": "<principalId>", "audiences": [aud],
        });
        format!(
            "Use a user-assigned identity: az identity create -g {group} -n {identity} (note its \
             clientId and principalId); {az} identity assign -g {group} -n {name} --identities \
             {identity}; az ad app federated-credential create --id {app} --parameters \
             '{parameters}'; then set ManagedIdentityClientId to its clientId.",
            group = self.group,
            name = self.name,
        )
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
