//! The exchange leg: the managed-identity token presented to Entra as the app's client assertion,
//! and, when Entra refuses it, the cause — from the AADSTS code and what the earlier legs saw.

use super::federated_credential::{SKEW_WARN_SECS, SYNCHRONISE_CLOCK, describe_skew};
use super::{Doctor, Status, check, leg, send};
use crate::credential::Credential;
use crate::error::Error;
use crate::support::clock::to_iso8601;
use crate::token::TokenRequestOptions;

use crate::entra::aadsts::NO_MATCHING_FIC;

/// The lasting fix for a system-assigned identity.
const SWITCH_TO_USER_ASSIGNED: &str = "For a lasting fix, use a user-assigned identity: its object \
    id survives the machine, and one credential serves a whole farm (the identity-kind check of \
    this report has the commands).";

impl Doctor {
    pub(super) async fn exchange(&mut self, credential: &Credential, scope: &str) {
        let mut report = leg("exchange", "Entra token exchange");
        report.checks.push(check(Status::Info, "scope", scope));
        let options = TokenRequestOptions {
            force_refresh: true,
            ..Default::default()
        };
        let scopes = [scope];
        let result = send(&mut report, || credential.get_token_with(&scopes, &options)).await;
        let token = match result {
            Ok(t) => t,
            Err(e) => {
                let p = e.primary().clone();
                for code in p.aadsts_codes() {
                    if let Some(info) = crate::entra::aadsts::lookup(*code) {
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
        if let Some((cause, _)) = &self.facts.credential_finding {
            // Entra accepted what the list read back says it should not: the list is stale.
            report.checks.push(check(
                Status::Warn,
                "credentials read back",
                format!(
                    "Entra accepted the token, yet the list read back says: {cause} — it is not \
                     the app's current list"
                ),
            ));
        }
        self.push(report);
        self.token(&token, scope);
        let through = self
            .facts
            .matching_credential
            .as_ref()
            .map(|name| format!(" through federated credential '{name}'"))
            .unwrap_or_default();
        self.ok_summary = Some(format!(
            "token obtained for {scope} from {}{through}, expires {}",
            token.source,
            to_iso8601(token.expires_on)
        ));
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
        let create = self
            .fic
            .as_ref()
            .map(|fic| format!(" Create it with: {}", fic.az_command))
            .unwrap_or_default();
        // Entra refused a certificate the certificates leg already found unusable.
        if [700027, 700024].contains(&code) {
            if let Some(finding) = self.certificate_finding(super::Status::Fail) {
                return finding;
            }
        }
        // The list read back names the credential and the field: the most precise cause.
        if NO_MATCHING_FIC.contains(&code) {
            if let Some((cause, fix)) = &f.credential_finding {
                return (format!("{cause} (AADSTS{code})"), fix.clone());
            }
        }
        if f.system_assigned && NO_MATCHING_FIC.contains(&code) {
            return match &f.matching_credential {
                // A credential matches, and Entra still refuses: the identity's kind is the cause.
                Some(name) => (
                    format!(
                        "federated credential '{name}' matches this system-assigned identity, \
                         yet Entra refuses it (AADSTS{code}): Entra documents only user-assigned \
                         identities as an app's federated credential"
                    ),
                    SWITCH_TO_USER_ASSIGNED.into(),
                ),
                None => (
                    format!(
                        "no federated credential on app {app} matches this system-assigned \
                         identity (object id '{sub}') (AADSTS{code})"
                    ),
                    format!(
                        "Compare the credentials' subjects with '{sub}' (certless doctor \
                         --federated-credentials or --graph does it): a system-assigned \
                         identity's object id changes when it is disabled and enabled again or \
                         the machine is recreated. {SWITCH_TO_USER_ASSIGNED}{create}"
                    ),
                ),
            };
        }
        if let Some(tid) = &f.foreign_tenant {
            if code == 700236 || NO_MATCHING_FIC.contains(&code) {
                return (
                    format!(
                        "the managed identity is in tenant {tid} but the app registration is in \
                         tenant {} (AADSTS{code})",
                        f.tenant_id
                    ),
                    "Use a user-assigned identity from the app's own tenant (or move the app): a \
                     federated credential trusts identities of its own tenant."
                        .into(),
                );
            }
        }
        let skew = f.skew.unwrap_or_default();
        match code {
            7002138 => (
                format!(
                    "the app's federated credential subject differs only in case from the \
                     managed identity's object id '{sub}'; Entra compares it case-sensitively \
                     (AADSTS7002138)"
                ),
                format!(
                    "Set the federated credential's subject to exactly '{sub}' (lowercase, as in \
                     the token).{create}"
                ),
            ),
            700213 | 7002137 => (
                format!(
                    "no federated credential on app {app} has subject '{sub}', the managed \
                     identity's object id (AADSTS{code})"
                ),
                format!(
                    "Set the federated credential's subject to exactly '{sub}' — the identity's \
                     Object (principal) ID, not its Client ID.{create}"
                ),
            ),
            700211 => (
                format!("no federated credential on app {app} has issuer '{iss}' (AADSTS700211)"),
                format!(
                    "Set the federated credential's issuer to exactly '{iss}': no trailing slash, \
                     not the sts.windows.net form.{create}"
                ),
            ),
            700212 | 7002121 => (
                format!("no federated credential on app {app} has audience '{aud}' (AADSTS{code})"),
                format!(
                    "Set the federated credential's audience to exactly '{aud}' \
                     (api://AzureADTokenExchangeUSGov / ...China are only for those \
                     clouds).{create}"
                ),
            ),
            70021 => (
                format!(
                    "no federated credential on app {app} matches the managed identity (issuer \
                     '{iss}', subject '{sub}', audience '{aud}') (AADSTS70021)"
                ),
                format!(
                    "Add a federated credential with exactly these values to the app \
                     registration.{create}"
                ),
            ),
            700024 if skew.abs() > SKEW_WARN_SECS => (
                format!(
                    "the assertion had expired when Entra received it (AADSTS700024): {}",
                    describe_skew(skew)
                ),
                SYNCHRONISE_CLOCK.into(),
            ),
            700024 => (
                "the assertion had expired when Entra received it (AADSTS700024), though the \
                 clocks agree: the managed-identity token was too old"
                    .into(),
                "Make sure nothing caches managed-identity tokens in front of certless; certless \
                 sends them only with 5 minutes of life left."
                    .into(),
            ),
            700016 => (
                format!(
                    "Entra has no app {app} in tenant {} (AADSTS700016)",
                    f.tenant_id
                ),
                crate::entra::aadsts::lookup(700016)
                    .map(|i| i.remedy.to_string())
                    .unwrap_or_default(),
            ),
            _ => {
                let meaning = crate::entra::aadsts::lookup(code)
                    .map(|i| format!("{} (AADSTS{code})", i.meaning.trim_end_matches('.')));
                (
                    meaning.unwrap_or_else(|| format!("the exchange failed: {}", e.message())),
                    e.remedy()
                        .unwrap_or("See the exchange leg below.")
                        .to_string(),
                )
            }
        }
    }
}
