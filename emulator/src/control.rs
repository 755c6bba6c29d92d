//! Operations that both the Rust handle (`RunningEmulator`) and the HTTP admin surface offer, written once here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{IdentityKind, ManagedIdentityInfo};
use crate::error::EmulatorError;
use crate::state::Shared;

/// Which managed-identity source a client should be pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MiSourceKind {
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` points IMDS clients here.
    Imds,
    /// `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, as App Service sets them.
    AppService,
    /// `MSI_ENDPOINT` alone, as Cloud Shell sets it.
    CloudShell,
    /// `MSI_ENDPOINT` + `MSI_SECRET`, as Azure ML sets them (the `2017-09-01` dialect).
    AzureMl,
    /// `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, as the Azure Arc agent sets them.
    AzureArc,
    /// `IDENTITY_ENDPOINT` (https) + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT`, as Service Fabric sets them.
    /// Needs the HTTPS listener (`StartOptions::https_port`).
    ServiceFabric,
}

/// What a client needs to know about a running emulator (`GET /_emulator/info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatorInfo {
    /// The http listener's base URL.
    pub http_url: String,
    /// The https listener's base URL, when it runs.
    pub https_url: Option<String>,
    /// Where its CA certificate was written, when the https listener runs.
    pub ca_pem_path: Option<String>,
    /// The directory's tenant.
    pub tenant_id: String,
    /// The built-in app's client id.
    pub default_app_client_id: String,
    /// The first user-assigned identity.
    pub default_user_assigned: Option<ManagedIdentityInfo>,
    /// The system-assigned identity.
    pub system_assigned: Option<ManagedIdentityInfo>,
    /// What `AZURE_POD_IDENTITY_AUTHORITY_HOST` should be for IMDS.
    pub imds_host: String,
    /// What `IDENTITY_ENDPOINT` should be for App Service.
    pub app_service_endpoint: String,
    /// What `IDENTITY_HEADER` should be for App Service.
    pub app_service_secret: String,
    /// Entra's authority host over http.
    pub authority_host: String,
    /// Entra's authority host over https, when it runs.
    pub authority_host_https: Option<String>,
    /// SHA-1 of the HTTPS listener's certificate (Service Fabric's `IDENTITY_SERVER_THUMBPRINT`).
    pub server_thumbprint: Option<String>,
    /// The built-in SharePoint site on the http listener,
    /// `{http_url}/sharepoint/contoso.sharepoint.com/sites/crm`: append `/_api/...`. Other sites
    /// are `{http_url}/sharepoint/{host}/sites/{name}`.
    #[serde(default)]
    pub sharepoint_site_url: String,
    /// How far the emulator's clock is skewed (seconds).
    pub time_offset_secs: i64,
    /// `client_env` for each source, keyed `imds` / `app_service`.
    pub env: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl Shared {
    pub(crate) fn http_url(&self) -> String {
        self.addresses.http_url.clone()
    }

    pub(crate) fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.addresses.http_url)
    }

    pub(crate) fn default_user_assigned(&self) -> Option<ManagedIdentityInfo> {
        self.registry().user_assigned_info().into_iter().next()
    }

    pub(crate) fn default_app_client_id(&self) -> String {
        self.registry()
            .apps
            .first()
            .map(|a| a.client_id.clone())
            .unwrap_or_default()
    }

    /// The environment a client process needs to use this emulator as its Azure.
    pub(crate) fn client_env(&self, source: MiSourceKind) -> Vec<(String, String)> {
        let registry = self.registry();
        let authority = self
            .addresses
            .https_url
            .clone()
            .unwrap_or_else(|| self.http_url());
        let mi_client_id = self
            .default_user_assigned()
            .map(|m| m.client_id)
            .unwrap_or_default();
        let mut env = vec![
            ("AZURE_TENANT_ID".to_string(), registry.tenant_id.clone()),
            ("AZURE_CLIENT_ID".to_string(), self.default_app_client_id()),
            ("AZURE_AUTHORITY_HOST".to_string(), authority),
            (
                "CERTLESS_MANAGED_IDENTITY_CLIENT_ID".to_string(),
                mi_client_id,
            ),
        ];
        match source {
            MiSourceKind::Imds => {
                env.push((
                    "AZURE_POD_IDENTITY_AUTHORITY_HOST".to_string(),
                    self.http_url(),
                ));
            }
            MiSourceKind::AppService => {
                env.push(("IDENTITY_ENDPOINT".to_string(), self.app_service_endpoint()));
                env.push((
                    "IDENTITY_HEADER".to_string(),
                    registry.app_service_secret.clone(),
                ));
            }
            MiSourceKind::CloudShell => {
                env.push((
                    "MSI_ENDPOINT".to_string(),
                    format!("{}/oauth2/token", self.http_url()),
                ));
            }
            MiSourceKind::AzureArc => {
                env.push((
                    "IDENTITY_ENDPOINT".to_string(),
                    format!("{}/arc/metadata/identity/oauth2/token", self.http_url()),
                ));
                env.push((
                    "IMDS_ENDPOINT".to_string(),
                    format!("{}/arc", self.http_url()),
                ));
            }
            MiSourceKind::ServiceFabric => {
                let base = self
                    .addresses
                    .https_url
                    .clone()
                    .unwrap_or_else(|| self.http_url());
                env.push((
                    "IDENTITY_ENDPOINT".to_string(),
                    format!("{base}/servicefabric/metadata/identity/oauth2/token"),
                ));
                env.push((
                    "IDENTITY_HEADER".to_string(),
                    registry.app_service_secret.clone(),
                ));
                env.push((
                    "IDENTITY_SERVER_THUMBPRINT".to_string(),
                    self.addresses.server_thumbprint.clone().unwrap_or_default(),
                ));
            }
            MiSourceKind::AzureMl => {
                env.push(("MSI_ENDPOINT".to_string(), self.app_service_endpoint()));
                env.push((
                    "MSI_SECRET".to_string(),
                    registry.app_service_secret.clone(),
                ));
            }
        }
        env
    }

    /// A token from an external issuer the registry lists (a Kubernetes service-account token,
    /// say), for a federated credential that trusts that issuer.
    pub(crate) fn mint_federated_token(
        &self,
        issuer: &str,
        subject: &str,
        audience: &str,
        lifetime_secs: i64,
    ) -> Result<String, EmulatorError> {
        if !self.registry().external_issuers.iter().any(|i| i == issuer) {
            return Err(EmulatorError::Config(format!(
                "'{issuer}' is not one of the registry's external_issuers"
            )));
        }
        let now = self.clock.now();
        let claims = serde_json::json!({
            "iss": issuer, "sub": subject, "aud": [audience],
            "iat": now, "nbf": now, "exp": now + lifetime_secs,
            "jti": crate::tokens::random_id(),
        });
        self.key.sign(&claims)
    }

    /// Makes a client certificate and (unless asked not to) adds it to an app registration.
    pub(crate) fn issue_client_certificate(
        &self,
        options: &crate::client_certificate::ClientCertificateOptions,
    ) -> Result<crate::client_certificate::IssuedClientCertificate, EmulatorError> {
        let client_id = match &options.client_id {
            Some(c) => c.clone(),
            None => self.default_app_client_id(),
        };
        let registry = self.registry();
        let app = registry
            .apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(&client_id))
            .ok_or_else(|| EmulatorError::Config(format!("no app registration '{client_id}'")))?;
        let now = self.clock.now();
        let issued = crate::client_certificate::issue(
            if app.display_name.trim().is_empty() {
                "certless client"
            } else {
                &app.display_name
            },
            options.not_before.unwrap_or(now - 3600),
            options.not_after.unwrap_or(now + 365 * 86_400),
            &options.password,
            options.legacy_pfx,
        )?;
        if !options.unregistered {
            let pem = issued.certificate_pem.clone();
            self.update_registry(|r| {
                if let Some(app) = r
                    .apps
                    .iter_mut()
                    .find(|a| a.client_id.eq_ignore_ascii_case(&client_id))
                {
                    app.certificates.push(pem);
                }
            });
        }
        Ok(issued)
    }

    /// Checks a token the emulator issued: its signature, and `exp`/`nbf` against the emulator's clock.
    pub(crate) fn verify_access_token(&self, jwt: &str) -> Result<Value, EmulatorError> {
        let claims = self
            .key
            .verify_signature(jwt)
            .map_err(|p| EmulatorError::TokenRejected(format!("signature not accepted: {p:?}")))?;
        let now = self.clock.now();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| EmulatorError::TokenRejected("no numeric exp claim".into()))?;
        if now >= exp {
            return Err(EmulatorError::TokenRejected(format!(
                "expired at {exp}, now is {now}"
            )));
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
            if now < nbf {
                return Err(EmulatorError::TokenRejected(format!(
                    "not valid before {nbf}, now is {now}"
                )));
            }
        }
        Ok(Value::Object(claims))
    }

    pub(crate) fn info(&self) -> EmulatorInfo {
        let registry = self.registry();
        EmulatorInfo {
            http_url: self.http_url(),
            https_url: self.addresses.https_url.clone(),
            ca_pem_path: self
                .addresses
                .ca_pem_path
                .as_ref()
                .map(|p| p.display().to_string()),
            tenant_id: registry.tenant_id.clone(),
            default_app_client_id: self.default_app_client_id(),
            default_user_assigned: self.default_user_assigned(),
            system_assigned: registry.system_assigned_info(),
            imds_host: self.http_url(),
            app_service_endpoint: self.app_service_endpoint(),
            app_service_secret: registry.app_service_secret.clone(),
            authority_host: self.http_url(),
            authority_host_https: self.addresses.https_url.clone(),
            server_thumbprint: self.addresses.server_thumbprint.clone(),
            sharepoint_site_url: self.sharepoint_site_url(crate::sharepoint::DEFAULT_SITE),
            time_offset_secs: self.clock.offset(),
            env: [
                ("imds".to_string(), self.client_env(MiSourceKind::Imds)),
                (
                    "app_service".to_string(),
                    self.client_env(MiSourceKind::AppService),
                ),
            ]
            .into_iter()
            .collect(),
        }
    }
}

/// Placeholder identity for a registry that has none of that kind (possible after `update_registry`).
pub(crate) fn no_identity() -> ManagedIdentityInfo {
    ManagedIdentityInfo {
        kind: IdentityKind::UserAssigned,
        name: None,
        client_id: String::new(),
        object_id: String::new(),
        resource_id: String::new(),
        tenant_id: String::new(),
    }
}
