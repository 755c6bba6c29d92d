//! The token leg: what the access token Entra issued says about whether the API will take it
//! (its audience, the app's permissions, how the app proved itself), with SharePoint's own rules.

use serde_json::Value;

use super::{Doctor, Status, check, leg};
use crate::support::clock::to_iso8601;
use crate::token::AccessToken;
use crate::token::jwt::decode_claims;

impl Doctor {
    pub(super) fn token(&mut self, token: &AccessToken, scope: &str) {
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
                "none: the app holds no application permission on this resource, so the API will \
                 refuse the token (401/403)",
            );
            c.fix = Some(
                "Grant the app an application permission (app role) on the resource, and admin \
                 consent."
                    .into(),
            );
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
                report.checks.push(check(
                    Status::Ok,
                    "SharePoint audience",
                    "the token is for this SharePoint tenant (Graph tokens are refused by \
                     SharePoint REST)",
                ));
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
                    "the token comes from a client secret: SharePoint REST refuses app-only \
                     tokens from secrets",
                );
                c.fix = Some(
                    "Use the federated credential (managed identity) or a certificate.".into(),
                );
                report.checks.push(c);
            }
            if roles.iter().any(|r| r == "Sites.Selected") {
                report.checks.push(check(
                    Status::Info,
                    "Sites.Selected",
                    "the app also needs a permission on each site (Graph: POST \
                     /sites/{site-id}/permissions) before SharePoint answers",
                ));
            }
        }
        self.push(report);
    }
}
