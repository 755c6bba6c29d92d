//! The built-in values of the registry: the demo tenant, identities and app, the well-known
//! resources and audiences, token lifetimes, and the serde defaults of omitted fields.

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
/// Object id of the demo app's application object (Graph's `/v1.0/applications/{id}`).
pub const DEFAULT_APP_OBJECT_ID: &str = "3e7b1c9a-5d2f-4a8e-b4c6-9f1a3d5e7b20";
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

/// The `Server` header IMDS answers with (a real one's build number).
pub const DEFAULT_IMDS_SERVER: &str = "IMDS/150.870.65.1854";

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

pub(super) fn d_tenant() -> String {
    DEFAULT_TENANT_ID.into()
}
pub(super) fn d_subscription() -> String {
    DEFAULT_SUBSCRIPTION_ID.into()
}
pub(super) fn d_resource_group() -> String {
    DEFAULT_RESOURCE_GROUP.into()
}
pub(super) fn d_vm() -> String {
    DEFAULT_VM_NAME.into()
}
pub(super) fn d_mi_lifetime() -> u64 {
    DEFAULT_MI_TOKEN_LIFETIME_SECS
}
pub(super) fn d_access_lifetime() -> u64 {
    DEFAULT_ACCESS_TOKEN_LIFETIME_SECS
}
pub(super) fn d_skew() -> u64 {
    DEFAULT_ASSERTION_CLOCK_SKEW_SECS
}
pub(super) fn d_app_service_secret() -> String {
    DEFAULT_APP_SERVICE_SECRET.into()
}
pub(super) fn d_imds_server() -> String {
    DEFAULT_IMDS_SERVER.into()
}
pub(super) fn yes() -> bool {
    true
}
/// The built-in external issuer: an AKS cluster's OIDC issuer URL.
pub const DEFAULT_KUBERNETES_ISSUER: &str =
    "https://oidc.aks.certless.invalid/4f6c1d2a-8b3e-4e71-9a5d-0c2b7e9f3a81/";

pub(super) fn d_external_issuers() -> Vec<String> {
    vec![DEFAULT_KUBERNETES_ISSUER.to_string()]
}

pub(super) fn d_resources() -> Vec<String> {
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
