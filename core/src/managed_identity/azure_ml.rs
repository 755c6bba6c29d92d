//! Azure Machine Learning compute (PROTOCOL.md §2): `GET {MSI_ENDPOINT}?api-version=2017-09-01
//! &resource=R&clientid=C` with `secret: {MSI_SECRET}`. The identity is always named by client
//! id: a user-assigned one's, or the compute's own from `DEFAULT_IDENTITY_CLIENT_ID`.

use super::ManagedIdentityId;
use super::response::ErrorDetails;
use super::variables;
use crate::env::{Environment, vars};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;

const API_VERSION: &str = "2017-09-01";

pub(super) const UNREACHABLE_REMEDY: &str = "The Azure ML identity endpoint (MSI_ENDPOINT) did not answer: make sure the compute has a managed identity.";

/// The endpoint, its secret, and the client id to ask for.
pub(super) fn endpoint(
    env: &dyn Environment,
    id: &ManagedIdentityId,
) -> Result<(String, Secret, Option<String>)> {
    let endpoint = variables::endpoint_url(env, vars::MSI_ENDPOINT)?;
    let secret = variables::header_secret(env, vars::MSI_SECRET)?.ok_or_else(|| {
        Error::config(ErrorCode::MissingConfig, "Azure ML managed identity needs MSI_SECRET, which is not set")
            .with_remedy("Assign a managed identity to the compute (the platform then sets MSI_ENDPOINT and MSI_SECRET).")
    })?;
    let client_id = match id {
        ManagedIdentityId::SystemAssigned => env.var(vars::DEFAULT_IDENTITY_CLIENT_ID),
        ManagedIdentityId::ClientId(c) => Some(c.clone()),
        other => {
            return Err(Error::config(ErrorCode::InvalidConfig, format!("Azure ML cannot select a {other} managed identity"))
                .with_remedy("Azure ML names identities by client id: use ManagedIdentityClientId (CERTLESS_MANAGED_IDENTITY_CLIENT_ID)."));
        }
    };
    Ok((endpoint, secret, client_id))
}

pub(super) fn request(
    http: &reqwest::Client,
    endpoint: &str,
    resource: &str,
    client_id: Option<&str>,
    secret: &Secret,
) -> reqwest::RequestBuilder {
    let mut query: Vec<(&str, &str)> = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some(c) = client_id {
        query.push(("clientid", c));
    }
    http.get(endpoint)
        .query(&query)
        .header("secret", secret.expose())
}

pub(super) fn remedy(
    status: u16,
    details: &ErrorDetails,
    id: &ManagedIdentityId,
) -> Option<String> {
    let text = details.text_lowercase();
    Some(match status {
        400 | 404 if text.contains("not found") || text.contains("identity") => {
            format!("The {id} managed identity is not assigned to this compute: check the client id.")
        }
        401 | 403 => "The identity endpoint refused MSI_SECRET: read it from the environment at start, never copy it.".to_string(),
        500..=599 => "The Azure ML identity endpoint had an internal error: retry with backoff.".to_string(),
        _ => return None,
    })
}
