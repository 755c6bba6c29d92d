//! The configuration leg: what was read, whom it names, and which managed-identity source this
//! machine offers — before anything goes on the wire.

use super::{Doctor, LegReport, Status, check, leg};
use crate::config::CredentialBuilder;
use crate::credential::Credential;
use crate::error::Error;
use crate::managed_identity::{ManagedIdentityId, select_source};
use crate::support::env::process_env;

impl Doctor {
    /// The credential the configuration describes, or `None` when the walk ends here.
    pub(super) fn configuration(&mut self, builder: CredentialBuilder) -> Option<Credential> {
        let env = builder.env.clone().unwrap_or_else(process_env);
        let mut report = leg("config", "configuration");
        report
            .checks
            .push(check(Status::Info, "read from", builder.origin.clone()));
        let options = match builder.validate() {
            Ok(o) => o,
            Err(e) => {
                self.configuration_unusable(report, &e);
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
        if let Some(broker) = &options.broker {
            // The walk below checks this process's own sources; tokens come from the broker.
            report.checks.push(check(
                Status::Info,
                "broker",
                format!(
                    "{} ({}){}: tokens come from it; `certless doctor` on the broker's host, \
                     with its configuration, walks its legs",
                    broker.address,
                    broker.setting,
                    if broker.fallback {
                        ", or this process when it cannot be reached"
                    } else {
                        ""
                    }
                ),
            ));
        }
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
                    c.fix = Some(
                        "ClientId is the app registration's Application (client) ID; \
                         ManagedIdentityClientId is the managed identity's Client ID (Azure \
                         portal → Managed Identities → the identity → Overview)."
                            .into(),
                    );
                    self.cause = Some((
                        "ManagedIdentityClientId and ClientId are the same id: one of them is \
                         wrong"
                            .into(),
                        c.fix.clone().unwrap_or_default(),
                    ));
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
                report.checks.push(check(
                    Status::Info,
                    "proxy",
                    format!(
                        "{name} is set: Entra requests honour it; managed-identity requests \
                         never use a proxy"
                    ),
                ));
            }
        }
        if self.cause.is_some() {
            self.push(report);
            return None;
        }
        match Credential::from_options(options) {
            Ok(credential) => {
                // Read when the credential was built (docs/telemetry.md).
                if let Some(status) = crate::telemetry::status() {
                    report.checks.push(check(Status::Info, "telemetry", status));
                }
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

    /// Ends the walk at a configuration that cannot be read or is not valid: its error says
    /// what is wrong and how to fix it.
    pub(super) fn configuration_unusable(&mut self, report: LegReport, error: &Error) {
        let fix = error
            .remedy()
            .unwrap_or("Correct the configuration.")
            .to_string();
        let cause = format!("the configuration is not usable: {}", error.message());
        self.fail(report, "configuration", error, cause, fix);
    }
}
