//! Azure Instance Metadata Service (PROTOCOL.md §2):
//! `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`
//! with `Metadata: true`; user-assigned by `client_id`, `object_id` or `msi_res_id`.

use super::ManagedIdentityId;
use super::response::ErrorDetails;
use super::variables;
use crate::env::{Environment, vars};
use crate::error::Result;

const DEFAULT_HOST: &str = "http://169.254.169.254";
const PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";

pub(super) const UNREACHABLE_REMEDY: &str = "No IMDS answered: this is not an Azure VM, the VM has no managed identity, or a firewall or proxy blocks 169.254.169.254. \
To run without Azure, start `certless emulator` and set the variables it prints.";

/// The token URL; `AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces the host (AAD Pod Identity, the
/// emulator).
pub(super) fn endpoint(env: &dyn Environment) -> Result<String> {
    let host = match env.var(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST) {
        Some(host) => variables::check_endpoint(vars::AZURE_POD_IDENTITY_AUTHORITY_HOST, &host)?,
        None => DEFAULT_HOST.to_string(),
    };
    Ok(format!("{}{PATH}", host.trim_end_matches('/')))
}

pub(super) fn request(
    http: &reqwest::Client,
    endpoint: &str,
    resource: &str,
    id: &ManagedIdentityId,
) -> reqwest::RequestBuilder {
    let mut query: Vec<(&str, &str)> = vec![("api-version", API_VERSION), ("resource", resource)];
    match id {
        ManagedIdentityId::SystemAssigned => {}
        ManagedIdentityId::ClientId(v) => query.push(("client_id", v)),
        ManagedIdentityId::ObjectId(v) => query.push(("object_id", v)),
        ManagedIdentityId::ResourceId(v) => query.push(("msi_res_id", v)),
    }
    http.get(endpoint).query(&query).header("Metadata", "true")
}

/// Docker Desktop answers IMDS's address itself, with a 403 that says "unreachable": there is
/// no managed identity on this host.
pub(super) fn is_docker_desktop(
    source: super::ManagedIdentitySource,
    status: u16,
    details: &ErrorDetails,
) -> bool {
    source == super::ManagedIdentitySource::Imds
        && status == 403
        && details.text_lowercase().contains("unreachable")
}

/// What IMDS's error statuses mean and how to fix them (Microsoft's IMDS error table).
pub(super) fn remedy(
    status: u16,
    details: &ErrorDetails,
    id: &ManagedIdentityId,
) -> Option<String> {
    let text = details.text_lowercase();
    Some(match status {
        400 if text.contains("identity not found") => format!(
            "The {id} managed identity is not assigned to this VM: check the id, or assign it (az vm identity assign --identities <resource id>)."
        ),
        400 if text.contains("multiple user assigned") => {
            "This VM has several user-assigned identities: name one (ManagedIdentityClientId in ClientCredentials, or CERTLESS_MANAGED_IDENTITY_CLIENT_ID).".to_string()
        }
        400 if text.contains("metadata") => {
            "IMDS refused the request for lack of the Metadata header: something between certless and IMDS (a proxy?) removed it.".to_string()
        }
        400 => "IMDS refused the request: check the resource (token exchange audience) and the identity id.".to_string(),
        403 if text.contains("unreachable") => {
            "This answer comes from Docker Desktop, not Azure: there is no IMDS here. Run on an Azure VM, or use `certless emulator` locally.".to_string()
        }
        404 => "IMDS does not know this identity yet: a newly assigned identity takes a few minutes to propagate; retry later.".to_string(),
        410 => "IMDS is being updated (this lasts up to 70 seconds): retry shortly.".to_string(),
        429 => "IMDS is throttling this VM: too many token requests; certless caches tokens, so look for other processes asking for tokens.".to_string(),
        500..=599 => "IMDS had an internal error: retry with backoff; if it persists, restart the VM's guest agent.".to_string(),
        _ => return None,
    })
}
