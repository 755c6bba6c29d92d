//! App Service, Functions and Container Apps (docs/protocol.md §2):
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R` with `X-IDENTITY-HEADER`;
//! user-assigned by `client_id`, `principal_id` or `mi_res_id`.

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::{Source, selector};
use super::variables;
use crate::error::{Error, ErrorCode, Result};
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

const API_VERSION: &str = "2019-08-01";

const UNREACHABLE_REMEDY: &str = "The App Service identity endpoint (IDENTITY_ENDPOINT) did not answer: make sure identity is enabled on the app, \
and that IDENTITY_ENDPOINT and IDENTITY_HEADER are the platform's, not stale copies.";

/// Detected when the platform sets both of its variables (Service Fabric, checked first, sets
/// a third).
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    (env.var(vars::IDENTITY_ENDPOINT).is_some() && env.var(vars::IDENTITY_HEADER).is_some())
        .then(|| "IDENTITY_ENDPOINT and IDENTITY_HEADER are set".into())
}

pub(super) struct AppService {
    endpoint: String,
    secret: Secret,
    id: ManagedIdentityId,
}

impl AppService {
    pub(super) fn new(env: &dyn Environment, id: ManagedIdentityId) -> Result<Self> {
        let missing = |name: &str| {
            Error::config(
                ErrorCode::MissingConfig,
                format!("App Service managed identity needs {name}, which is not set"),
            )
            .with_remedy(
                "Enable the managed identity on the App Service / Function (the platform then \
                 sets IDENTITY_ENDPOINT and IDENTITY_HEADER).",
            )
        };
        let endpoint = env
            .var(vars::IDENTITY_ENDPOINT)
            .ok_or_else(|| missing(vars::IDENTITY_ENDPOINT))?;
        let endpoint = variables::check_endpoint(vars::IDENTITY_ENDPOINT, &endpoint)?;
        let secret = variables::header_secret(env, vars::IDENTITY_HEADER)?
            .ok_or_else(|| missing(vars::IDENTITY_HEADER))?;
        Ok(AppService {
            endpoint,
            secret,
            id,
        })
    }
}

impl Source for AppService {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AppService
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, &str)> =
            vec![("api-version", API_VERSION), ("resource", resource)];
        query.extend(selector(
            &self.id,
            ["client_id", "principal_id", "mi_res_id"],
        ));
        http.get(&self.endpoint)
            .query(&query)
            .header("X-IDENTITY-HEADER", self.secret.expose())
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
        400 | 404 if text.contains("not found") || text.contains("identity") => format!(
            "The {id} managed identity is not assigned to this app: check the id, or add it \
                under Identity → User assigned."
        ),
        401 | 403 => "The identity endpoint refused IDENTITY_HEADER: it changes when the app \
            restarts; read it from the environment at start, never copy it."
            .to_string(),
        429 => "The identity endpoint is throttling: too many token requests from this app."
            .to_string(),
        500..=599 => "The identity endpoint had an internal error: retry with backoff.".to_string(),
        _ => return None,
    })
}
