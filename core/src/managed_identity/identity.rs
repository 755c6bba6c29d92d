//! The vocabulary of this leg: which managed identity to ask for, and which kind of endpoint
//! (source) a host has.

use std::fmt;

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

/// Which managed identity to ask for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ManagedIdentityId {
    /// The host's system-assigned identity (or the only user-assigned one, on IMDS).
    SystemAssigned,
    /// A user-assigned identity by its client (application) id.
    ClientId(String),
    /// A user-assigned identity by its object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its ARM resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    /// Whether this names a user-assigned identity.
    pub fn is_user_assigned(&self) -> bool {
        !matches!(self, ManagedIdentityId::SystemAssigned)
    }
}

impl fmt::Display for ManagedIdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentityId::SystemAssigned => f.write_str("system-assigned"),
            // Configuration values, shown in errors.
            ManagedIdentityId::ClientId(id) => write!(f, "user-assigned (client id {})", echo(id)),
            ManagedIdentityId::ObjectId(id) => write!(f, "user-assigned (object id {})", echo(id)),
            ManagedIdentityId::ResourceId(id) => {
                write!(f, "user-assigned (resource id {})", echo(id))
            }
        }
    }
}

/// Where a host's managed-identity tokens come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// Azure Instance Metadata Service (VMs, VM scale sets, AKS nodes).
    Imds,
    /// App Service, Functions, Container Apps.
    AppService,
    /// Service Fabric.
    ServiceFabric,
    /// Azure Arc-enabled servers.
    AzureArc,
    /// Azure Cloud Shell.
    CloudShell,
    /// Azure Machine Learning compute.
    AzureMl,
}

impl ManagedIdentitySource {
    /// Every source, in no particular order.
    pub const ALL: [ManagedIdentitySource; 6] = [
        ManagedIdentitySource::Imds,
        ManagedIdentitySource::AppService,
        ManagedIdentitySource::ServiceFabric,
        ManagedIdentitySource::AzureArc,
        ManagedIdentitySource::CloudShell,
        ManagedIdentitySource::AzureMl,
    ];

    /// Stable machine name (also what `CERTLESS_MANAGED_IDENTITY_SOURCE` takes).
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedIdentitySource::Imds => "imds",
            ManagedIdentitySource::AppService => "app_service",
            ManagedIdentitySource::ServiceFabric => "service_fabric",
            ManagedIdentitySource::AzureArc => "azure_arc",
            ManagedIdentitySource::CloudShell => "cloud_shell",
            ManagedIdentitySource::AzureMl => "azure_ml",
        }
    }

    /// How the source is named for people.
    pub fn describe(self) -> &'static str {
        match self {
            ManagedIdentitySource::Imds => "IMDS",
            ManagedIdentitySource::AppService => "App Service",
            ManagedIdentitySource::ServiceFabric => "Service Fabric",
            ManagedIdentitySource::AzureArc => "Azure Arc",
            ManagedIdentitySource::CloudShell => "Cloud Shell",
            ManagedIdentitySource::AzureMl => "Azure ML",
        }
    }

    /// A source from its machine name (`app_service`, `AppService`, `imds`, ...).
    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_setting(value, "managed-identity source")
    }

    /// [`parse`](Self::parse) of the value of `setting` (a variable's name), named in the error.
    pub(crate) fn parse_setting(value: &str, setting: &str) -> Result<Self> {
        let norm: String = value
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        ManagedIdentitySource::ALL
            .into_iter()
            .find(|s| s.as_str().replace('_', "") == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = ManagedIdentitySource::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!(
                        "{setting} '{}' is not a managed-identity source",
                        echo(value)
                    ),
                )
                .with_remedy(format!("Use one of: {}.", names.join(", ")))
            })
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
