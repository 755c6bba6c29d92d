//! The registry the emulator serves (tenants, managed identities, app registrations, resources) and its JSON file
//! format.
//!
//! File format rules: unknown fields are errors; omitted lists are empty, except `resources`, which defaults to the
//! built-in list; omitted scalars take the built-in values (the `DEFAULT_*` constants below).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;

/// Tenant of the built-in registry.
pub const DEFAULT_TENANT_ID: &str = "4f6c1d2a-8b3e-4e71-9a5d-0c2b7e9f3a81";
/// A second known tenant of the built-in registry, for cross-tenant tests (it holds nothing).
pub const DEFAULT_OTHER_TENANT_ID: &str = "9b2e7c41-3f5a-4d8e-b6c2-71a0d4e8f5b3";
/// Subscription that the emulated host and the user-assigned identities live in.
pub const DEFAULT_SUBSCRIPTION_ID: &str = "c3a1f7e2-6d4b-4a9c-8e1f-5b2d0a7c9e64";
/// The resource group of the built-in identities' ARM ids.
pub const DEFAULT_RESOURCE_GROUP: &str = "certless-demo-rg";
/// The emulated host (its system-assigned identity's `xms_mirid` is this VM's resource id).
pub const DEFAULT_VM_NAME: &str = "certless-demo-vm";

/// The built-in user-assigned identity's name.
pub const DEFAULT_USER_ASSIGNED_NAME: &str = "certless-demo-mi";
/// The built-in user-assigned identity's client id.
pub const DEFAULT_USER_ASSIGNED_CLIENT_ID: &str = "8d4f2a6b-1c3e-4f7a-9b5d-2e6c8a0f4b17";
/// The built-in user-assigned identity's object (principal) id.
pub const DEFAULT_USER_ASSIGNED_OBJECT_ID: &str = "e2b7c9d1-4a6f-4e3b-8c5a-9d1f3b7e2a60";

/// The built-in system-assigned identity's client id.
pub const DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID: &str = "5a9e3c7f-2b1d-4c8e-a6f4-0d3b9e1c7a25";
/// The built-in system-assigned identity's object (principal) id.
pub const DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID: &str = "b1d8f4a2-7e3c-4b9a-8f6d-3c5e1a9b7d42";

/// The built-in app registration's display name.
pub const DEFAULT_APP_NAME: &str = "certless-demo-app";
/// The built-in app registration's client id.
pub const DEFAULT_APP_CLIENT_ID: &str = "0f3e8b5c-9a2d-4e6f-b1c7-4d8a2e6f0b93";
/// Object id of the demo app's service principal (the `oid`/`sub` of the app tokens it gets).
pub const DEFAULT_APP_SERVICE_PRINCIPAL_ID: &str = "6c2a9e4f-1b7d-4a3e-9c5b-8e0f2d4a6c71";
/// The name of the built-in app's federated credential (trusting the user-assigned identity).
pub const DEFAULT_FIC_NAME: &str = "certless-demo-mi-fic";

/// The value App Service puts in `IDENTITY_HEADER`; clients echo it in `X-IDENTITY-HEADER`.
pub const DEFAULT_APP_SERVICE_SECRET: &str = "a7e3c1f9-5b2d-4e8a-9f6c-1d4b7e0a3c58";

/// The token-exchange audiences (docs/protocol.md §1 and §5).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The US Government cloud's token-exchange audience.
pub const TOKEN_EXCHANGE_AUDIENCE_USGOV: &str = "api://AzureADTokenExchangeUSGov";
/// The China cloud's token-exchange audience.
pub const TOKEN_EXCHANGE_AUDIENCE_CHINA: &str = "api://AzureADTokenExchangeChina";

/// The built-in SharePoint resource.
pub const DEFAULT_SHAREPOINT_RESOURCE: &str = "https://contoso.sharepoint.com";
/// Microsoft Graph.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Azure Resource Manager.
pub const ARM_RESOURCE: &str = "https://management.azure.com";

/// IMDS hands out tokens that live about a day.
pub const DEFAULT_MI_TOKEN_LIFETIME_SECS: u64 = 86_399;
/// Entra's app tokens: `expires_in: 3599`.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECS: u64 = 3_599;
/// Tolerance for the assertion's `nbf`/`exp` (the five minutes Microsoft.IdentityModel uses by default).
pub const DEFAULT_ASSERTION_CLOCK_SKEW_SECS: u64 = 300;

/// The Entra v2.0 issuer of a tenant; also the issuer of managed-identity tokens and so the issuer a FIC trusting a
/// managed identity must name (docs/protocol.md §1).
pub fn entra_issuer(tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant_id}/v2.0")
}

/// Everything the emulator knows: the directory (tenants, identities, apps, resources) and token options.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default = "d_tenant")]
    /// The directory's tenant id.
    pub tenant_id: String,
    /// Further tenants that exist (requests to them are not answered with "tenant not found").
    #[serde(default)]
    pub other_tenants: Vec<String>,
    #[serde(default = "d_subscription")]
    /// The subscription of the identities' ARM ids.
    pub subscription_id: String,
    #[serde(default = "d_resource_group")]
    /// The resource group of the identities' ARM ids.
    pub resource_group: String,
    #[serde(default = "d_vm")]
    /// The VM whose system-assigned identity IMDS serves.
    pub vm_name: String,
    /// The host's system-assigned identity, if it has one.
    #[serde(default)]
    pub system_assigned: Option<SystemAssignedIdentity>,
    #[serde(default)]
    /// User-assigned identities the host may use.
    pub user_assigned: Vec<UserAssignedIdentity>,
    #[serde(default)]
    /// App registrations, with their federated credentials, secrets and certificates.
    pub apps: Vec<AppRegistration>,
    /// Resources (application ID URIs) tokens can be requested for.
    #[serde(default = "d_resources")]
    pub resources: Vec<String>,
    #[serde(default = "d_mi_lifetime")]
    /// How long managed-identity tokens live.
    pub mi_token_lifetime_secs: u64,
    #[serde(default = "d_access_lifetime")]
    /// How long Entra's access tokens live (`expires_in`).
    pub access_token_lifetime_secs: u64,
    /// When set, Entra's success response carries `refresh_in` with this value.
    #[serde(default)]
    pub refresh_in_secs: Option<u64>,
    #[serde(default = "d_skew")]
    /// How far outside its lifetime an assertion is still accepted (Entra allows 5 minutes).
    pub assertion_clock_skew_secs: u64,
    #[serde(default = "d_app_service_secret")]
    /// The App Service `IDENTITY_HEADER` secret.
    pub app_service_secret: String,
    /// Issuers outside Entra whose signing key the emulator holds, as Entra would fetch an
    /// OIDC issuer's keys: a Kubernetes cluster's service-account issuer (AKS workload
    /// identity), GitHub Actions. Tokens for them come from `mint_federated_token`.
    #[serde(default = "d_external_issuers")]
    pub external_issuers: Vec<String>,
    /// Key Vaults and the certificates in them.
    #[serde(default)]
    pub key_vaults: Vec<KeyVault>,
}

/// How a vault decides who may read it: the words its 403 uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionModel {
    /// Access policies (`AccessDenied`: "does not have secrets get permission").
    #[default]
    AccessPolicy,
    /// Azure RBAC (`ForbiddenByRbac`: "Caller is not authorized to perform action").
    Rbac,
}

/// A Key Vault.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVault {
    /// Its name: it is served at `{http_url}/keyvault/{name}`.
    pub name: String,
    /// Its tenant; defaults to the registry's `tenant_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// How its 403 is worded.
    #[serde(default)]
    pub permission_model: PermissionModel,
    /// Object ids of the identities that may read it; `None`: every identity of its tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<Vec<String>>,
    /// Its certificates.
    #[serde(default)]
    pub certificates: Vec<VaultCertificate>,
}

/// A certificate in a vault, with every version (the last is the current one).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultCertificate {
    /// Its name.
    pub name: String,
    /// Its versions, oldest first.
    pub versions: Vec<VaultCertificateVersion>,
}

/// One version of a vault certificate.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultCertificateVersion {
    /// The version id.
    pub version: String,
    /// `application/x-pkcs12` or `application/x-pem-file`.
    pub content_type: String,
    /// The secret's value: the PFX in base64, or the PEM text.
    pub value: String,
    /// The certificate (PEM), for the certificate's own answer.
    pub certificate_pem: String,
    /// Whether it may be read.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether its private key is in the secret.
    #[serde(default = "yes")]
    pub exportable: bool,
    /// When it was created (Unix seconds).
    #[serde(default)]
    pub created: i64,
}

impl fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVault")
            .field("name", &self.name)
            .field("permission_model", &self.permission_model)
            .field("readers", &self.readers)
            .field(
                "certificates",
                &self
                    .certificates
                    .iter()
                    .map(|c| (&c.name, c.versions.len()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

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

fn d_tenant() -> String {
    DEFAULT_TENANT_ID.into()
}
fn d_subscription() -> String {
    DEFAULT_SUBSCRIPTION_ID.into()
}
fn d_resource_group() -> String {
    DEFAULT_RESOURCE_GROUP.into()
}
fn d_vm() -> String {
    DEFAULT_VM_NAME.into()
}
fn d_mi_lifetime() -> u64 {
    DEFAULT_MI_TOKEN_LIFETIME_SECS
}
fn d_access_lifetime() -> u64 {
    DEFAULT_ACCESS_TOKEN_LIFETIME_SECS
}
fn d_skew() -> u64 {
    DEFAULT_ASSERTION_CLOCK_SKEW_SECS
}
fn d_app_service_secret() -> String {
    DEFAULT_APP_SERVICE_SECRET.into()
}
fn yes() -> bool {
    true
}
/// The built-in external issuer: an AKS cluster's OIDC issuer URL.
pub const DEFAULT_KUBERNETES_ISSUER: &str =
    "https://oidc.aks.certless.invalid/4f6c1d2a-8b3e-4e71-9a5d-0c2b7e9f3a81/";

fn d_external_issuers() -> Vec<String> {
    vec![DEFAULT_KUBERNETES_ISSUER.to_string()]
}

fn d_resources() -> Vec<String> {
    [
        GRAPH_RESOURCE,
        DEFAULT_SHAREPOINT_RESOURCE,
        ARM_RESOURCE,
        "https://management.core.windows.net",
        "https://vault.azure.net",
        "https://storage.azure.com",
        TOKEN_EXCHANGE_AUDIENCE,
        TOKEN_EXCHANGE_AUDIENCE_USGOV,
        TOKEN_EXCHANGE_AUDIENCE_CHINA,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

impl Default for Registry {
    /// The built-in directory: one user-assigned identity (`certless-demo-mi`), one system-assigned identity, and
    /// one app (`certless-demo-app`) whose FIC trusts the user-assigned identity.
    fn default() -> Self {
        Registry {
            tenant_id: d_tenant(),
            other_tenants: vec![DEFAULT_OTHER_TENANT_ID.into()],
            external_issuers: d_external_issuers(),
            subscription_id: d_subscription(),
            resource_group: d_resource_group(),
            vm_name: d_vm(),
            system_assigned: Some(SystemAssignedIdentity {
                client_id: DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID.into(),
                object_id: DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID.into(),
            }),
            user_assigned: vec![UserAssignedIdentity {
                name: DEFAULT_USER_ASSIGNED_NAME.into(),
                client_id: DEFAULT_USER_ASSIGNED_CLIENT_ID.into(),
                object_id: DEFAULT_USER_ASSIGNED_OBJECT_ID.into(),
                tenant_id: None,
            }],
            apps: vec![AppRegistration {
                client_id: DEFAULT_APP_CLIENT_ID.into(),
                display_name: DEFAULT_APP_NAME.into(),
                tenant_id: None,
                enabled: true,
                allow_system_assigned_fic: false,
                federated_credentials: vec![FederatedCredential {
                    name: DEFAULT_FIC_NAME.into(),
                    issuer: entra_issuer(DEFAULT_TENANT_ID),
                    subject: DEFAULT_USER_ASSIGNED_OBJECT_ID.into(),
                    audiences: vec![TOKEN_EXCHANGE_AUDIENCE.into()],
                }],
                client_secrets: Vec::new(),
                certificates: Vec::new(),
                app_roles: BTreeMap::from([
                    (
                        DEFAULT_SHAREPOINT_RESOURCE.to_string(),
                        vec!["Sites.Selected".to_string()],
                    ),
                    (
                        GRAPH_RESOURCE.to_string(),
                        vec!["User.Read.All".to_string()],
                    ),
                ]),
                service_principal_id: Some(DEFAULT_APP_SERVICE_PRINCIPAL_ID.into()),
            }],
            resources: d_resources(),
            mi_token_lifetime_secs: d_mi_lifetime(),
            access_token_lifetime_secs: d_access_lifetime(),
            refresh_in_secs: None,
            assertion_clock_skew_secs: d_skew(),
            app_service_secret: d_app_service_secret(),
            key_vaults: Vec::new(),
        }
    }
}

// Debug by hand so client secrets never reach a log or a panic message.
impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("tenant_id", &self.tenant_id)
            .field("other_tenants", &self.other_tenants)
            .field("system_assigned", &self.system_assigned)
            .field("user_assigned", &self.user_assigned)
            .field("apps", &self.apps)
            .field("resources", &self.resources)
            .field("key_vaults", &self.key_vaults)
            .finish_non_exhaustive()
    }
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
            .finish_non_exhaustive()
    }
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

impl Registry {
    /// Every tenant the emulator answers for.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.tenant_id.as_str())
            .chain(self.other_tenants.iter().map(String::as_str))
    }

    pub(crate) fn find_tenant(&self, tenant: &str) -> Option<&str> {
        // Tenant ids are GUIDs, which Entra compares without regard to case.
        self.tenants().find(|t| t.eq_ignore_ascii_case(tenant))
    }

    /// The system-assigned identity, as clients see it.
    pub fn system_assigned_info(&self) -> Option<ManagedIdentityInfo> {
        self.system_assigned.as_ref().map(|sa| ManagedIdentityInfo {
            kind: IdentityKind::SystemAssigned,
            name: None,
            client_id: sa.client_id.clone(),
            object_id: sa.object_id.clone(),
            resource_id: format!(
                "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Compute/virtualMachines/{}",
                self.subscription_id, self.resource_group, self.vm_name
            ),
            tenant_id: self.tenant_id.clone(),
        })
    }

    /// The user-assigned identities, as clients see them.
    pub fn user_assigned_info(&self) -> Vec<ManagedIdentityInfo> {
        self.user_assigned
            .iter()
            .map(|ua| ManagedIdentityInfo {
                kind: IdentityKind::UserAssigned,
                name: Some(ua.name.clone()),
                client_id: ua.client_id.clone(),
                object_id: ua.object_id.clone(),
                resource_id: format!(
                    "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
                    self.subscription_id, self.resource_group, ua.name
                ),
                tenant_id: ua.tenant_id.clone().unwrap_or_else(|| self.tenant_id.clone()),
            })
            .collect()
    }

    /// Finds an app registration by client id in the tenant that was addressed.
    pub(crate) fn find_app(&self, tenant: &str, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|a| {
            a.client_id.eq_ignore_ascii_case(client_id)
                && a.tenant_id
                    .as_deref()
                    .unwrap_or(&self.tenant_id)
                    .eq_ignore_ascii_case(tenant)
        })
    }

    /// Finds a resource by the identifier a client asked for. Entra does not care about the case of an application
    /// ID URI nor about one trailing slash (`https://management.azure.com/` is a common spelling).
    pub(crate) fn find_resource(&self, requested: &str) -> Option<&str> {
        let want = normalize_resource(requested);
        self.resources
            .iter()
            .find(|r| normalize_resource(r) == want)
            .map(String::as_str)
    }

    /// Checks what serde cannot: identifiers present and unique, references resolvable.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |m: String| Err(EmulatorError::Config(m));
        if self.tenant_id.trim().is_empty() {
            return bad("`tenant_id` is empty".into());
        }
        if self.system_assigned.is_none() && self.user_assigned.is_empty() {
            return bad(
                "no managed identity: set `system_assigned` or add one to `user_assigned`".into(),
            );
        }
        let mut names = HashSet::new();
        let mut mi_ids = HashSet::new();
        if let Some(sa) = &self.system_assigned {
            mi_ids.insert(sa.client_id.to_ascii_lowercase());
        }
        for ua in &self.user_assigned {
            if ua.name.trim().is_empty()
                || ua.client_id.trim().is_empty()
                || ua.object_id.trim().is_empty()
            {
                return bad(
                    "a `user_assigned` entry has an empty name, client_id or object_id".into(),
                );
            }
            if !names.insert(ua.name.to_ascii_lowercase()) {
                return bad(format!(
                    "two user-assigned identities are named '{}'",
                    ua.name
                ));
            }
            if !mi_ids.insert(ua.client_id.to_ascii_lowercase()) {
                return bad(format!(
                    "managed identity client id '{}' is used twice",
                    ua.client_id
                ));
            }
        }
        let mut app_ids = HashSet::new();
        for app in &self.apps {
            let tenant = app.tenant_id.as_deref().unwrap_or(&self.tenant_id);
            if app.client_id.trim().is_empty() {
                return bad("an app has an empty `client_id`".into());
            }
            if self.find_tenant(tenant).is_none() {
                return bad(format!(
                    "app '{}' is in tenant '{tenant}', which is neither `tenant_id` nor in \
                        `other_tenants`",
                    app.client_id
                ));
            }
            if !app_ids.insert((
                tenant.to_ascii_lowercase(),
                app.client_id.to_ascii_lowercase(),
            )) {
                return bad(format!(
                    "app '{}' is registered twice in tenant '{tenant}'",
                    app.client_id
                ));
            }
            for pem in &app.certificates {
                if let Err(e) = crate::client_certificate::certificate_der(pem) {
                    return bad(format!(
                        "a certificate of app '{}' is unusable: {e}",
                        app.client_id
                    ));
                }
            }
            for fic in &app.federated_credentials {
                if fic.audiences.is_empty() {
                    return bad(format!(
                        "federated credential '{}' of app '{}' has no audience",
                        fic.name, app.client_id
                    ));
                }
            }
            for resource in app.app_roles.keys() {
                if self.find_resource(resource).is_none() {
                    return bad(format!(
                        "app '{}' has app_roles for '{resource}', which is not in `resources`",
                        app.client_id
                    ));
                }
            }
        }
        Ok(())
    }
}

impl AppRegistration {
    pub(crate) fn service_principal_id(&self) -> String {
        self.service_principal_id
            .clone()
            .unwrap_or_else(|| derived_guid(&self.client_id))
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
fn derived_guid(seed: &str) -> String {
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

/// Configuration of an emulator: today, its registry. The JSON file is the registry's JSON (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmulatorConfig {
    /// The directory the emulator serves.
    pub registry: Registry,
}

impl EmulatorConfig {
    /// A configuration from JSON (the `--config` file's format).
    pub fn from_json_str(s: &str) -> Result<Self, EmulatorError> {
        let registry: Registry =
            serde_json::from_str(s).map_err(|e| EmulatorError::Config(e.to_string()))?;
        registry.validate()?;
        Ok(EmulatorConfig { registry })
    }

    /// A configuration from a JSON file.
    pub fn from_file(path: &Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text).map_err(|e| match e {
            EmulatorError::Config(m) => EmulatorError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The configuration as the JSON file format (pretty-printed).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.registry).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_registry_is_valid_and_round_trips() {
        let cfg = EmulatorConfig::default();
        cfg.registry.validate().expect("built-in registry is valid");
        let back = EmulatorConfig::from_json_str(&cfg.to_json_string()).expect("round trip");
        assert_eq!(back, cfg);
    }

    #[test]
    fn unknown_field_is_named_in_the_error() {
        let err =
            EmulatorConfig::from_json_str(r#"{"tenant_id":"t","user_assigned":[],"bogus":1}"#)
                .expect_err("unknown field must fail");
        let text = err.to_string();
        assert!(text.contains("unknown field `bogus`"), "{text}");
    }

    #[test]
    fn nested_unknown_field_fails_too() {
        let err = EmulatorConfig::from_json_str(
            r#"{"user_assigned":[{"name":"a","client_id":"c","object_id":"o","colour":"red"}]}"#,
        )
        .expect_err("unknown nested field must fail");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn registry_without_identity_is_rejected() {
        let err = EmulatorConfig::from_json_str("{}").expect_err("no identity");
        assert!(err.to_string().contains("no managed identity"), "{err}");
    }

    #[test]
    fn resources_match_without_case_or_trailing_slash() {
        let r = Registry::default();
        assert_eq!(
            r.find_resource("https://MANAGEMENT.azure.com/"),
            Some(ARM_RESOURCE)
        );
        assert_eq!(r.find_resource("https://example.com"), None);
    }

    #[test]
    fn derived_guid_is_stable_and_guid_shaped() {
        let g = derived_guid("abc");
        assert_eq!(g, derived_guid("abc"));
        assert_ne!(g, derived_guid("abd"));
        assert_eq!(g.len(), 36);
        assert_eq!(g.as_bytes()[14], b'4');
    }

    #[test]
    fn debug_hides_client_secrets() {
        let mut r = Registry::default();
        r.apps[0].client_secrets.push("super-secret-value".into());
        let text = format!("{r:?}");
        assert!(!text.contains("super-secret-value"), "{text}");
    }
}
