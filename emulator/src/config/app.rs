//! App registrations in the registry: their federated credentials, secrets, certificates and
//! app roles, and how a resource identifier is compared.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::defaults::yes;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// An app registration.
pub struct AppRegistration {
    /// Its application (client) id.
    pub client_id: String,
    #[serde(default)]
    /// Its display name.
    pub display_name: String,
    /// Defaults to the registry's `tenant_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default = "yes")]
    /// A disabled app gets AADSTS7000112.
    pub enabled: bool,
    /// Entra documents only user-assigned identities as FIC subjects; set this to accept a system-assigned one.
    #[serde(default)]
    pub allow_system_assigned_fic: bool,
    #[serde(default)]
    /// The identities it trusts.
    pub federated_credentials: Vec<FederatedCredential>,
    #[serde(default)]
    /// Its client secrets (values).
    pub client_secrets: Vec<String>,
    /// Certificates (PEM, the public part) whose keys may sign the app's client assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Application permissions granted to the app, by resource: they become the `roles` claim.
    #[serde(default)]
    pub app_roles: BTreeMap<String, Vec<String>>,
    /// Object id of the app's service principal; derived from `client_id` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_id: Option<String>,
    /// Object id of the application object (Graph's `/applications/{id}`); derived from `client_id` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A federated identity credential: the token it accepts as an assertion.
pub struct FederatedCredential {
    #[serde(default)]
    /// Its name.
    pub name: String,
    /// The issuer the assertion must have, exactly.
    pub issuer: String,
    /// The subject the assertion must have, exactly (case-sensitive).
    pub subject: String,
    /// The audiences it accepts (one, in practice).
    pub audiences: Vec<String>,
}

impl fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("display_name", &self.display_name)
            .field("tenant_id", &self.tenant_id)
            .field("enabled", &self.enabled)
            .field("allow_system_assigned_fic", &self.allow_system_assigned_fic)
            .field("federated_credentials", &self.federated_credentials)
            .field(
                "client_secrets",
                &format_args!("<{} redacted>", self.client_secrets.len()),
            )
            .field("app_roles", &self.app_roles)
            .field("object_id", &self.object_id)
            .finish_non_exhaustive()
    }
}

impl AppRegistration {
    pub(crate) fn service_principal_id(&self) -> String {
        self.service_principal_id
            .clone()
            .unwrap_or_else(|| derived_guid(&self.client_id))
    }

    /// The application object's id: `object_id`, or one derived from `client_id` (not the service principal's).
    pub fn application_object_id(&self) -> String {
        self.object_id
            .clone()
            .unwrap_or_else(|| derived_guid(&format!("application:{}", self.client_id)))
    }

    /// Graph's id of one of the app's federated credentials: stable for the app and the credential's name.
    pub(crate) fn federated_credential_id(&self, fic: &FederatedCredential) -> String {
        derived_guid(&format!(
            "federatedIdentityCredential:{}:{}",
            self.client_id.to_ascii_lowercase(),
            fic.name
        ))
    }

    /// Roles granted on a resource, matched like `Registry::find_resource`.
    pub(crate) fn roles_for(&self, resource: &str) -> Vec<String> {
        let want = normalize_resource(resource);
        self.app_roles
            .iter()
            .filter(|(r, _)| normalize_resource(r) == want)
            .flat_map(|(_, roles)| roles.iter().cloned())
            .collect()
    }
}

pub(crate) fn normalize_resource(r: &str) -> String {
    r.strip_suffix('/').unwrap_or(r).to_ascii_lowercase()
}

/// A stable GUID-shaped id derived from a seed (FNV-1a), for ids the configuration leaves out.
pub(crate) fn derived_guid(seed: &str) -> String {
    let fnv = |salt: u64| {
        seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0), fnv(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_guid_is_stable_and_guid_shaped() {
        let g = derived_guid("abc");
        assert_eq!(g, derived_guid("abc"));
        assert_ne!(g, derived_guid("abd"));
        assert_eq!(g.len(), 36);
        assert_eq!(g.as_bytes()[14], b'4');
    }
}
