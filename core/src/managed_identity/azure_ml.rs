//! Azure Machine Learning compute (docs/protocol.md §2): `GET {MSI_ENDPOINT}?api-version=2017-09-01
//! &resource=R&clientid=C` with `secret: {MSI_SECRET}`. The identity is always named by client
//! id: a user-assigned one's, or the compute's own from `DEFAULT_IDENTITY_CLIENT_ID`.

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::Source;
use super::variables;
use crate::error::{Error, ErrorCode, Result};
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

const API_VERSION: &str = "2017-09-01";

const UNREACHABLE_REMEDY: &str = "The Azure ML identity endpoint (MSI_ENDPOINT) did not answer: \
    make sure the compute has a managed identity.";

/// Detected when the platform sets both of its variables (Cloud Shell sets only the first).
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    (env.var(vars::MSI_ENDPOINT).is_some() && env.var(vars::MSI_SECRET).is_some())
        .then(|| "MSI_ENDPOINT and MSI_SECRET are set".into())
}

/// The endpoint, its secret, and the client id to ask for.
pub(super) struct AzureMl {
    endpoint: String,
    secret: Secret,
    client_id: Option<String>,
    id: ManagedIdentityId,
}

impl AzureMl {
    pub(super) fn new(env: &dyn Environment, id: &ManagedIdentityId) -> Result<Self> {
        let endpoint = variables::endpoint_url(env, vars::MSI_ENDPOINT)?;
        let secret = variables::header_secret(env, vars::MSI_SECRET)?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                "Azure ML managed identity needs MSI_SECRET, which is not set",
            )
            .with_remedy(
                "Assign a managed identity to the compute (the platform then sets MSI_ENDPOINT \
                 and MSI_SECRET).",
            )
        })?;
        let client_id = match id {
            ManagedIdentityId::SystemAssigned => env.var(vars::DEFAULT_IDENTITY_CLIENT_ID),
            ManagedIdentityId::ClientId(c) => Some(c.clone()),
            other => {
                return Err(Error::config(
                    ErrorCode::InvalidConfig,
                    format!("Azure ML cannot select a {other} managed identity"),
                )
                .with_remedy(
                    "Azure ML names identities by client id: use ManagedIdentityClientId \
                     (CERTLESS_MANAGED_IDENTITY_CLIENT_ID).",
                ));
            }
        };
        Ok(AzureMl {
            endpoint,
            secret,
            client_id,
            id: id.clone(),
        })
    }
}

impl Source for AzureMl {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AzureMl
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, &str)> =
            vec![("api-version", API_VERSION), ("resource", resource)];
        if let Some(c) = &self.client_id {
            query.push(("clientid", c));
        }
        http.get(&self.endpoint)
            .query(&query)
            .header("secret", self.secret.expose())
    }

    fn unreachable_remedy(&self) -> &'static str {
        UNREACHABLE_REMEDY
    }

    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String> {
        remedy(status, details, &self.id)
    }
}

fn remedy(status: u16, details: &ErrorDetails, id: &ManagedIdentityId) -> Option<String> {
    let text = details.text_lowercase();
    Some(match status {
        400 | 404 if text.contains("not found") || text.contains("identity") => {
            format!(
                "The {id} managed identity is not assigned to this compute: check the client \
                id."
            )
        }
        401 | 403 => "The identity endpoint refused MSI_SECRET: read it from the environment at \
            start, never copy it."
            .to_string(),
        500..=599 => {
            "The Azure ML identity endpoint had an internal error: retry with backoff.".to_string()
        }
        _ => return None,
    })
}
