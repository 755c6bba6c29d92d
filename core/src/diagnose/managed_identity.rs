//! The managed-identity leg: ask the endpoint for a token, as the flow would, and show the claims
//! a federated credential is matched against.

use std::ops::ControlFlow;

use serde_json::Value;

use super::{Doctor, Status, check, leg, send};
use crate::credential::Credential;
use crate::managed_identity::ManagedIdentityId;
use crate::support::clock::to_iso8601;
use crate::token::jwt::{Claims, decode_claims};

impl Doctor {
    /// The managed-identity leg. It breaks the walk when the endpoint fails, and hands on the
    /// token's claims when there are some to match a federated credential against.
    pub(super) async fn managed_identity(
        &mut self,
        credential: &Credential,
    ) -> ControlFlow<(), Option<Claims>> {
        let mut report = leg("managed_identity", "managed-identity endpoint");
        let Some((id, audience)) = credential.managed_identity_target() else {
            report.checks.push(check(
                Status::Skip,
                "managed identity",
                "the credential list has no usable managed-identity entry",
            ));
            self.push(report);
            return ControlFlow::Continue(None);
        };
        if let Some(sel) = credential.managed_identity_source() {
            report.checks.push(check(
                Status::Info,
                "source",
                format!("{} ({})", sel.source, sel.reason),
            ));
        }
        let result = send(&mut report, || credential.managed_identity_assertion()).await;
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
                            " If {value} is the identity's Object (principal) ID rather than its \
                             Client ID, use ManagedIdentityObjectId (or \
                             CERTLESS_MANAGED_IDENTITY_OBJECT_ID) instead."
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
                return ControlFlow::Break(());
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
                return ControlFlow::Continue(None);
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
        ControlFlow::Continue(Some(claims))
    }
}
