//! Azure Cloud Shell (docs/protocol.md §2): `POST {MSI_ENDPOINT}` with a form `resource=R` and
//! `Metadata: true`. It serves the signed-in user's identity only: no user-assigned selector.

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::Source;
use crate::error::{Error, ErrorCode, Result};
use crate::support::env::{Environment, vars};

const UNREACHABLE_REMEDY: &str = "The Cloud Shell identity endpoint (MSI_ENDPOINT) did not \
    answer: restart the Cloud Shell session.";

/// Detected by `MSI_ENDPOINT` alone (Azure ML, checked first, also sets `MSI_SECRET`).
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    env.var(vars::MSI_ENDPOINT)
        .map(|_| "MSI_ENDPOINT is set (without MSI_SECRET)".into())
}

pub(super) struct CloudShell {
    endpoint: String,
}

impl CloudShell {
    pub(super) fn new(env: &dyn Environment, id: &ManagedIdentityId) -> Result<Self> {
        if id.is_user_assigned() {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!("Cloud Shell cannot select a {id} managed identity"),
            )
            .with_remedy(
                "Cloud Shell serves only the signed-in user's identity: remove \
                 ManagedIdentityClientId / CERTLESS_MANAGED_IDENTITY_*.",
            ));
        }
        Ok(CloudShell {
            endpoint: super::variables::endpoint_url(env, vars::MSI_ENDPOINT)?,
        })
    }
}

impl Source for CloudShell {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::CloudShell
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        http.post(&self.endpoint)
            .header("Metadata", "true")
            .form(&[("resource", resource)])
    }

    fn unreachable_remedy(&self) -> &'static str {
        UNREACHABLE_REMEDY
    }

    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String> {
        remedy(status, details)
    }
}

fn remedy(status: u16, _details: &ErrorDetails) -> Option<String> {
    match status {
        400 => Some(
            "Cloud Shell refused the request: check the resource (token exchange \
            audience)."
                .to_string(),
        ),
        500..=599 => Some(
            "The Cloud Shell identity endpoint had an internal error: retry, or \
            restart the session."
                .to_string(),
        ),
        _ => None,
    }
}
