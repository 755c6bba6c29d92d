//! The host's managed identities in the registry, and an identity as clients see it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// The host's system-assigned identity.
pub struct SystemAssignedIdentity {
    /// Its client id.
    pub client_id: String,
    /// Its object (principal) id.
    pub object_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A user-assigned identity.
pub struct UserAssignedIdentity {
    /// Its ARM name.
    pub name: String,
    /// Its client id.
    pub client_id: String,
    /// Its object (principal) id.
    pub object_id: String,
    /// Defaults to the registry's `tenant_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Which kind of managed identity a token was issued to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// The host's own identity.
    SystemAssigned,
    /// A user-assigned identity.
    UserAssigned,
}

/// A managed identity as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentityInfo {
    /// System- or user-assigned.
    pub kind: IdentityKind,
    /// The user-assigned identity's name; `None` for a system-assigned one.
    pub name: Option<String>,
    /// Its client id.
    pub client_id: String,
    /// The principal (object) id: the `sub`/`oid` of its tokens and the subject of a FIC trusting it.
    pub object_id: String,
    /// The ARM id: what `msi_res_id`/`mi_res_id` select by and what `xms_mirid` carries.
    pub resource_id: String,
    /// Its tenant.
    pub tenant_id: String,
}
