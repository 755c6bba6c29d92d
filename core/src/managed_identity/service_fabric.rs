//! Service Fabric (docs/protocol.md §2): `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview
//! &resource=R` with `secret: {IDENTITY_HEADER}`, over HTTPS to a local endpoint whose
//! certificate no public CA vouches for. Trust is one fact: the SHA-1 of the certificate the
//! endpoint presents must be `IDENTITY_SERVER_THUMBPRINT`, compared in constant time. Chains,
//! names and dates are not consulted; the pin replaces them. Never through a proxy.
//!
//! The identity is the one the application manifest binds to the service: the endpoint takes
//! no selector, so none is sent.

use std::sync::Arc;

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::Source;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{PinnedServerCertificate, Thumbprint};
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

const API_VERSION: &str = "2019-07-01-preview";

const UNREACHABLE_REMEDY: &str = "The Service Fabric identity endpoint (IDENTITY_ENDPOINT) did \
    not answer: make sure the application has a managed identity in its manifest and runs on a \
    cluster with the managed identity token service enabled.";

/// Detected when the platform sets all three of its variables (App Service sets the first two).
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    let has = |name: &str| env.var(name).is_some();
    (has(vars::IDENTITY_ENDPOINT)
        && has(vars::IDENTITY_HEADER)
        && has(vars::IDENTITY_SERVER_THUMBPRINT))
    .then(|| "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set".into())
}

/// The endpoint, its secret and the pin.
pub(super) struct ServiceFabric {
    endpoint: String,
    secret: Secret,
    pin: Arc<PinnedServerCertificate>,
}

impl ServiceFabric {
    pub(super) fn new(env: &dyn Environment, id: &ManagedIdentityId) -> Result<Self> {
        let missing = |name: &str| {
            Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "Service Fabric managed identity \
                needs {name}, which is not set"
                ),
            )
            .with_remedy(
                "Give the application a managed identity in its manifest; Service \
                Fabric then sets IDENTITY_ENDPOINT, IDENTITY_HEADER and \
                IDENTITY_SERVER_THUMBPRINT for each service.",
            )
        };
        let endpoint = super::variables::endpoint_url(env, vars::IDENTITY_ENDPOINT)?;
        if !endpoint.to_ascii_lowercase().starts_with("https://") {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "IDENTITY_ENDPOINT '{}' is not https, but IDENTITY_SERVER_THUMBPRINT says \
                this is Service Fabric, whose identity endpoint is always https",
                    crate::support::echo::echo(&endpoint)
                ),
            )
            .with_remedy(
                "Use the IDENTITY_ENDPOINT Service Fabric sets; if this is App Service, \
            unset IDENTITY_SERVER_THUMBPRINT.",
            ));
        }
        let secret = super::variables::header_secret(env, vars::IDENTITY_HEADER)?
            .ok_or_else(|| missing(vars::IDENTITY_HEADER))?;
        let raw = env
            .var(vars::IDENTITY_SERVER_THUMBPRINT)
            .ok_or_else(|| missing(vars::IDENTITY_SERVER_THUMBPRINT))?;
        let pinned = Thumbprint::parse(&raw).ok_or_else(|| {
            Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "IDENTITY_SERVER_THUMBPRINT '{}' is not 40 hex digits (the SHA-1 of the identity \
                    endpoint's certificate)",
                crate::support::echo::echo(&raw)
            ),
        )
        .with_remedy("Use the value Service Fabric sets; never copy it by hand from another node \
            or an older deployment.")
        })?;
        if id.is_user_assigned() {
            log::info!(
                "certless: Service Fabric hands out the identity the application manifest binds \
                    to the service; the configured {id} is not sent"
            );
        }
        Ok(ServiceFabric {
            endpoint,
            secret,
            pin: Arc::new(PinnedServerCertificate::new(pinned)),
        })
    }
}

/// The error of a connection that failed because the endpoint's certificate is not the pinned one.
fn refused_certificate(error: Error, pin: &PinnedServerCertificate) -> Error {
    match pin.take_refused() {
        Some(presented) => Error::new(
            ErrorCode::ManagedIdentityUnreachable,
            format!(
                "{} — the endpoint presented certificate {presented}, but \
                    IDENTITY_SERVER_THUMBPRINT is {}",
                error.message(),
                pin.pinned()
            ),
        )
        .with_leg(crate::error::Leg::ManagedIdentity)
        // Not retried: the same certificate will be presented again.
        .with_permanent()
        .with_remedy(
            "certless only talks to the Service Fabric identity endpoint whose \
            certificate matches IDENTITY_SERVER_THUMBPRINT. Use the value Service Fabric set for \
            this process (a stale copy breaks when the cluster rotates its certificate); \
            anything else answering at IDENTITY_ENDPOINT is not the identity endpoint.",
        ),
        None => error,
    }
}

/// Service Fabric's retry table (its documentation): 429 and 5xx are transient; every other
/// answer, 404 included, is a setup error that no retry fixes.
fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

fn remedy(status: u16, details: &ErrorDetails) -> Option<String> {
    let code = details.error.as_deref().unwrap_or_default();
    Some(match (status, code) {
        (_, "SecretHeaderNotFound") | (401 | 403, _) => "The identity endpoint did not accept \
            IDENTITY_HEADER: read it from the environment Service Fabric gives the process; it \
            changes when the service restarts."
            .to_string(),
        (_, "ManagedIdentityNotFound") | (404, _) => "The application has no managed identity, \
            or IDENTITY_HEADER is stale: add the identity to the application manifest and bind \
            it to this service."
            .to_string(),
        (_, "InvalidApiVersion") => "The cluster does not speak api-version 2019-07-01-preview: \
            upgrade the Service Fabric runtime."
            .to_string(),
        (_, "ArgumentNullOrEmpty") | (400, _) => "The endpoint refused the request: check the \
            resource (token exchange audience)."
            .to_string(),
        (429, _) => "The identity endpoint is throttling: too many token requests from this \
            service."
            .to_string(),
        (500..=599, _) => "The identity endpoint had an internal error (often a wrong resource; \
            check for a trailing '/'): retry with backoff."
            .to_string(),
        _ => return None,
    })
}

impl Source for ServiceFabric {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::ServiceFabric
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        http.get(&self.endpoint)
            .query(&[("api-version", API_VERSION), ("resource", resource)])
            .header("secret", self.secret.expose())
    }

    fn unreachable_remedy(&self) -> &'static str {
        UNREACHABLE_REMEDY
    }

    fn explain_unreachable(&self, error: Error) -> Error {
        refused_certificate(error, &self.pin)
    }

    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String> {
        remedy(status, details)
    }

    fn explain_rejection(&self, error: Error, status: u16, _details: &ErrorDetails) -> Error {
        if is_transient(status) {
            error
        } else {
            error.with_permanent()
        }
    }

    fn pinned_certificate(&self) -> Option<&Arc<PinnedServerCertificate>> {
        Some(&self.pin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::env::MapEnv;

    const PIN: &str = "0123456789ABCDEF0123456789abcdef01234567";

    #[test]
    fn settings_insist_on_https_and_a_thumbprint() {
        let env = |endpoint: &str, thumbprint: &str| {
            MapEnv::new()
                .with_var("IDENTITY_ENDPOINT", endpoint)
                .with_var("IDENTITY_HEADER", "h")
                .with_var("IDENTITY_SERVER_THUMBPRINT", thumbprint)
        };
        let sys = ManagedIdentityId::SystemAssigned;
        let settings = ServiceFabric::new;
        let ok = settings(
            &env("https://10.0.0.4:2377/metadata/identity/oauth2/token", PIN),
            &sys,
        )
        .unwrap();
        assert_eq!(ok.pin.pinned(), Thumbprint::parse(PIN).unwrap());
        let e = settings(&env("http://10.0.0.4:2377/token", PIN), &sys)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not https"), "{e}");
        let e = settings(&env("https://10.0.0.4:2377/token", "abc"), &sys)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("IDENTITY_SERVER_THUMBPRINT 'abc' is not 40 hex digits"),
            "{e}"
        );
    }
}
