//! Azure Cloud Shell (PROTOCOL.md §2): `POST {MSI_ENDPOINT}` with a form `resource=R` and
//! `Metadata: true`. It serves the signed-in user's identity only: no user-assigned selector.

use super::ManagedIdentityId;
use super::response::ErrorDetails;
use crate::env::{Environment, vars};
use crate::error::{Error, ErrorCode, Result};

pub(super) const UNREACHABLE_REMEDY: &str = "The Cloud Shell identity endpoint (MSI_ENDPOINT) did not answer: restart the Cloud Shell session.";

pub(super) fn endpoint(env: &dyn Environment, id: &ManagedIdentityId) -> Result<String> {
    if id.is_user_assigned() {
        return Err(Error::config(ErrorCode::InvalidConfig, format!("Cloud Shell cannot select a {id} managed identity"))
            .with_remedy("Cloud Shell serves only the signed-in user's identity: remove ManagedIdentityClientId / CERTLESS_MANAGED_IDENTITY_*."));
    }
    super::variables::endpoint_url(env, vars::MSI_ENDPOINT)
}

pub(super) fn request(
    http: &reqwest::Client,
    endpoint: &str,
    resource: &str,
) -> reqwest::RequestBuilder {
    http.post(endpoint)
        .header("Metadata", "true")
        .form(&[("resource", resource)])
}

pub(super) fn remedy(status: u16, _details: &ErrorDetails) -> Option<String> {
    match status {
        400 => Some("Cloud Shell refused the request: check the resource (token exchange audience).".to_string()),
        500..=599 => Some("The Cloud Shell identity endpoint had an internal error: retry, or restart the session.".to_string()),
        _ => None,
    }
}
