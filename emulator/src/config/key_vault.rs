//! Key Vaults in the registry: the vaults, how each decides who may read it, and the
//! certificate versions in them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::defaults::yes;

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
