//! The registry the emulator serves: its fields, the built-in directory, lookups (tenant, app,
//! resource, identities as clients see them) and the checks serde cannot make.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::app::{AppRegistration, FederatedCredential, normalize_resource};
use super::defaults::*;
use super::identity::{
    IdentityKind, ManagedIdentityInfo, SystemAssignedIdentity, UserAssignedIdentity,
};
use super::key_vault::KeyVault;
use crate::error::EmulatorError;

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
    /// The `Server` header of every IMDS answer.
    #[serde(default = "d_imds_server")]
    pub imds_server: String,
    /// Whether IMDS serves `/metadata/identity/getPlatformMetadata` (platforms with the newer credential
    /// endpoint); otherwise it answers 404 there.
    #[serde(default)]
    pub imds_platform_metadata: bool,
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
                object_id: Some(DEFAULT_APP_OBJECT_ID.into()),
            }],
            resources: d_resources(),
            mi_token_lifetime_secs: d_mi_lifetime(),
            access_token_lifetime_secs: d_access_lifetime(),
            refresh_in_secs: None,
            assertion_clock_skew_secs: d_skew(),
            app_service_secret: d_app_service_secret(),
            key_vaults: Vec::new(),
            imds_server: d_imds_server(),
            imds_platform_metadata: false,
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
        if axum::http::HeaderValue::from_str(&self.imds_server).is_err() {
            return bad("`imds_server` is not a valid header value".into());
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
        let mut object_ids = HashSet::new();
        for app in &self.apps {
            // Graph finds an application by its object id alone.
            if !object_ids.insert(app.application_object_id().to_ascii_lowercase()) {
                return bad(format!(
                    "app '{}' has the object id '{}' of another app",
                    app.client_id,
                    app.application_object_id()
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ARM_RESOURCE;

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
    fn application_object_ids_are_unique() {
        let mut r = Registry::default();
        let mut second = r.apps[0].clone();
        second.client_id = "1a2b3c4d-0000-4000-8000-000000000001".into();
        r.apps.push(second.clone());
        assert!(r.validate().is_err(), "the same object_id twice");
        r.apps[1].object_id = None;
        assert!(r.validate().is_ok());
        assert_ne!(
            r.apps[1].application_object_id(),
            r.apps[0].application_object_id()
        );
    }

    #[test]
    fn debug_hides_client_secrets() {
        let mut r = Registry::default();
        r.apps[0].client_secrets.push("super-secret-value".into());
        let text = format!("{r:?}");
        assert!(!text.contains("super-secret-value"), "{text}");
    }
}
