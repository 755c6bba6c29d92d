//! The platform leg: what the managed-identity endpoint advertises about itself, read without
//! asking for a token, so that a saved report shows the platform as it was (docs/protocol.md §2,
//! "What IMDS advertises"). Only IMDS advertises anything: its `Server` header, the API versions
//! it answers (`/metadata/versions`), and whether it has the newer credential endpoint
//! (`/metadata/identity/getPlatformMetadata`, the first step of Microsoft's "managed identity v2").

use serde_json::Value;

use super::{Doctor, Status, check, leg};
use crate::credential::Credential;
use crate::support::echo::echo;

/// The API version Microsoft's libraries send to the platform-metadata endpoint.
const PLATFORM_METADATA_API_VERSION: &str = "2025-05-01";

impl Doctor {
    pub(super) async fn platform(&mut self, credential: &Credential) {
        let mut report = leg("platform", "what the managed-identity endpoint advertises");
        let Some(versions) = credential.probe_imds("/metadata/versions").await else {
            return;
        };
        match versions {
            Ok(response) => {
                let server = response.header("server").map(|s| echo(s).to_string());
                report.checks.push(check(
                    Status::Info,
                    "server",
                    server.unwrap_or_else(|| "no Server header".into()),
                ));
                let listed = serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .and_then(|v| v.get("apiVersions").cloned())
                    .and_then(|v| v.as_array().cloned());
                match (response.status, listed) {
                    (200, Some(list)) => {
                        let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                        let newest = list.iter().max().copied().unwrap_or("none");
                        report.checks.push(check(
                            Status::Info,
                            "API versions",
                            format!("{} listed, newest {}", list.len(), echo(newest)),
                        ));
                    }
                    (status, _) => report.checks.push(check(
                        Status::Info,
                        "API versions",
                        format!("/metadata/versions answered HTTP {status} without a list"),
                    )),
                }
            }
            Err(e) => {
                report.checks.push(check(
                    Status::Info,
                    "server",
                    format!("IMDS did not answer /metadata/versions: {}", e.message()),
                ));
                self.push(report);
                return;
            }
        }
        let path = format!(
            "/metadata/identity/getPlatformMetadata?api-version={PLATFORM_METADATA_API_VERSION}"
        );
        let detail = match credential.probe_imds(&path).await {
            Some(Ok(r)) if r.status == 200 => {
                "present (this host offers the newer certificate-based managed identity)"
                    .to_string()
            }
            Some(Ok(r)) if r.status == 404 => "absent (HTTP 404)".to_string(),
            Some(Ok(r)) => format!("answered HTTP {}", r.status),
            Some(Err(e)) => format!("no answer: {}", e.message()),
            None => return,
        };
        report
            .checks
            .push(check(Status::Info, "credential endpoint", detail));
        self.push(report);
    }
}
