//! Azure Instance Metadata Service (docs/protocol.md §2):
//! `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`
//! with `Metadata: true`; user-assigned by `client_id`, `object_id` or `msi_res_id`.

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::{Source, selector};
use super::variables;
use crate::error::{Error, Result};
use crate::support::env::{Environment, vars};

const DEFAULT_HOST: &str = "http://169.254.169.254";
const PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";

const UNREACHABLE_REMEDY: &str = "No IMDS answered: this is not an Azure VM, the VM has no managed identity, or a firewall or proxy blocks 169.254.169.254. \
To run without Azure, start `certless emulator` and set the variables it prints.";

/// IMDS is the source when no other is detected; `AZURE_POD_IDENTITY_AUTHORITY_HOST` moves it.
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    Some(
        if env.var(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST).is_some() {
            "AZURE_POD_IDENTITY_AUTHORITY_HOST is set".into()
        } else {
            "no other managed-identity environment found: the default, IMDS at 169.254.169.254"
                .into()
        },
    )
}

/// IMDS's base URL (`http://169.254.169.254`) from its token URL, for its other paths.
pub(crate) fn imds_base(token_url: &str) -> &str {
    token_url.strip_suffix(PATH).unwrap_or(token_url)
}

pub(super) struct Imds {
    endpoint: String,
    id: ManagedIdentityId,
}

impl Imds {
    /// The token URL; `AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces the host (AAD Pod Identity,
    /// the emulator).
    pub(super) fn new(env: &dyn Environment, id: ManagedIdentityId) -> Result<Self> {
        let host = match env.var(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST) {
            Some(host) => {
                variables::check_endpoint(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST, &host)?
            }
            None => DEFAULT_HOST.to_string(),
        };
        Ok(Imds {
            endpoint: format!("{}{PATH}", host.trim_end_matches('/')),
            id,
        })
    }
}

impl Source for Imds {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::Imds
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, &str)> =
            vec![("api-version", API_VERSION), ("resource", resource)];
        query.extend(selector(&self.id, ["client_id", "object_id", "msi_res_id"]));
        http.get(&self.endpoint)
            .query(&query)
            .header("Metadata", "true")
    }

    fn unreachable_remedy(&self) -> &'static str {
        UNREACHABLE_REMEDY
    }

    /// Nothing at IMDS's address accepts connections: this host has no managed identity (not an
    /// Azure VM). Waiting will not change that, and a chain of credentials should move on to
    /// its next one (docs/protocol.md §2).
    fn explain_unreachable(&self, error: Error) -> Error {
        if error.in_connect() {
            error.with_unavailable().with_permanent()
        } else {
            error
        }
    }

    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String> {
        remedy(status, details, &self.id)
    }

    /// Docker Desktop answers IMDS's address itself, with a 403 that says "unreachable": there
    /// is no managed identity on this host.
    fn explain_rejection(&self, error: Error, status: u16, details: &ErrorDetails) -> Error {
        if status == 403 && details.text_lowercase().contains("unreachable") {
            error.with_unavailable().with_permanent()
        } else {
            error
        }
    }
}

/// What IMDS's error statuses mean and how to fix them (Microsoft's IMDS error table).
fn remedy(status: u16, details: &ErrorDetails, id: &ManagedIdentityId) -> Option<String> {
    let text = details.text_lowercase();
    Some(match status {
        400 if text.contains("identity not found") => format!(
            "The {id} managed identity is not assigned to this VM: check the id, or assign it \
                (az vm identity assign --identities <resource id>)."
        ),
        400 if text.contains("multiple user assigned") => {
            "This VM has several user-assigned identities: name one (ManagedIdentityClientId in \
                ClientCredentials, or CERTLESS_MANAGED_IDENTITY_CLIENT_ID)."
                .to_string()
        }
        400 if text.contains("metadata") => {
            "IMDS refused the request for lack of the Metadata header: something between \
                certless and IMDS (a proxy?) removed it."
                .to_string()
        }
        400 => "IMDS refused the request: check the resource (token exchange audience) and the \
            identity id."
            .to_string(),
        403 if text.contains("unreachable") => {
            "This answer comes from Docker Desktop, not Azure: there is no IMDS here. Run on an \
                Azure VM, or use `certless emulator` locally."
                .to_string()
        }
        404 => "IMDS does not know this identity yet: a newly assigned identity takes a few \
            minutes to propagate; retry later."
            .to_string(),
        410 => "IMDS is being updated (this lasts up to 70 seconds): retry shortly.".to_string(),
        429 => "IMDS is throttling this VM: too many token requests; certless caches tokens, so \
            look for other processes asking for tokens."
            .to_string(),
        500..=599 => "IMDS had an internal error: retry with backoff; if it persists, restart \
            the VM's guest agent."
            .to_string(),
        _ => return None,
    })
}
