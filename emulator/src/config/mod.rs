//! The registry the emulator serves (tenants, managed identities, app registrations, resources) and its JSON file
//! format.
//!
//! File format rules: unknown fields are errors; omitted lists are empty, except `resources`, which defaults to the
//! built-in list; omitted scalars take the built-in values (the `DEFAULT_*` constants of `defaults`).
//!
//! `registry` holds the registry and its checks, `defaults` the built-in values, `identity`,
//! `app` and `key_vault` the entries it lists, `file` the configuration read from JSON.

mod app;
mod defaults;
mod file;
mod identity;
mod key_vault;
mod registry;

pub use app::{AppRegistration, FederatedCredential};
pub(crate) use app::{derived_guid, normalize_resource};
pub use defaults::{
    ARM_RESOURCE, DEFAULT_ACCESS_TOKEN_LIFETIME_SECS, DEFAULT_APP_CLIENT_ID, DEFAULT_APP_NAME,
    DEFAULT_APP_OBJECT_ID, DEFAULT_APP_SERVICE_PRINCIPAL_ID, DEFAULT_APP_SERVICE_SECRET,
    DEFAULT_ASSERTION_CLOCK_SKEW_SECS, DEFAULT_FIC_NAME, DEFAULT_IMDS_SERVER,
    DEFAULT_KUBERNETES_ISSUER, DEFAULT_MI_TOKEN_LIFETIME_SECS, DEFAULT_OTHER_TENANT_ID,
    DEFAULT_RESOURCE_GROUP, DEFAULT_SHAREPOINT_RESOURCE, DEFAULT_SUBSCRIPTION_ID,
    DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USER_ASSIGNED_CLIENT_ID, DEFAULT_USER_ASSIGNED_NAME, DEFAULT_USER_ASSIGNED_OBJECT_ID,
    DEFAULT_VM_NAME, GRAPH_RESOURCE, TOKEN_EXCHANGE_AUDIENCE, TOKEN_EXCHANGE_AUDIENCE_CHINA,
    TOKEN_EXCHANGE_AUDIENCE_USGOV, entra_issuer,
};
pub use file::EmulatorConfig;
pub use identity::{
    IdentityKind, ManagedIdentityInfo, SystemAssignedIdentity, UserAssignedIdentity,
};
pub use key_vault::{KeyVault, PermissionModel, VaultCertificate, VaultCertificateVersion};
pub use registry::Registry;
