//! The options constructor: a JS object mapped onto core's `CredentialBuilder`. Validation of the
//! values (GUIDs, hosts, audiences) is core's; this file only maps names.

use std::time::Duration;

use certless::{
    CredentialBuilder, Error, ErrorCode, ManagedIdentityId, ManagedIdentitySource, Timeouts,
};
use napi_derive::napi;

/// Options of `new Credential(options)`. Omitted values are reported by core with the fix.
#[napi(object)]
pub struct CredentialOptions {
    /// The app registration's directory (tenant): a GUID or a verified domain.
    pub tenant_id: Option<String>,
    /// The app registration's Application (client) ID.
    pub client_id: Option<String>,
    /// The cloud's login host (default `https://login.microsoftonline.com`).
    pub authority_host: Option<String>,
    /// A user-assigned managed identity by client id (at most one of the three; none means system-assigned).
    pub managed_identity_client_id: Option<String>,
    /// A user-assigned managed identity by object (principal) id.
    pub managed_identity_object_id: Option<String>,
    /// A user-assigned managed identity by ARM resource id.
    pub managed_identity_resource_id: Option<String>,
    /// Force `imds` or `app_service` instead of detecting the source from the environment.
    pub managed_identity_source: Option<String>,
    /// The managed-identity token's audience (default `api://AzureADTokenExchange`, or the cloud's).
    pub token_exchange_audience: Option<String>,
    /// Time to establish a connection, in milliseconds (default 5000).
    pub connect_timeout_ms: Option<u32>,
    /// Time for one whole request, in milliseconds (default 30000).
    pub request_timeout_ms: Option<u32>,
    /// A PEM file of extra CA certificates to trust for Entra.
    pub ca_file: Option<String>,
}

impl CredentialOptions {
    pub(crate) fn into_builder(self) -> certless::Result<CredentialBuilder> {
        let mut builder = CredentialBuilder::new();
        if let Some(v) = self.tenant_id {
            builder = builder.tenant_id(v);
        }
        if let Some(v) = self.client_id {
            builder = builder.client_id(v);
        }
        if let Some(v) = self.authority_host {
            builder = builder.authority_host(v);
        }
        let selectors = [
            self.managed_identity_client_id
                .map(ManagedIdentityId::ClientId),
            self.managed_identity_object_id
                .map(ManagedIdentityId::ObjectId),
            self.managed_identity_resource_id
                .map(ManagedIdentityId::ResourceId),
        ];
        let mut ids = selectors.into_iter().flatten();
        let id = ids.next().unwrap_or(ManagedIdentityId::SystemAssigned);
        if ids.next().is_some() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "give at most one of managedIdentityClientId, managedIdentityObjectId and managedIdentityResourceId",
            ));
        }
        builder = builder.managed_identity(id);
        if let Some(v) = self.managed_identity_source {
            builder = builder.managed_identity_source(ManagedIdentitySource::parse(&v)?);
        }
        if let Some(v) = self.token_exchange_audience {
            builder = builder.token_exchange_audience(v);
        }
        if self.connect_timeout_ms.is_some() || self.request_timeout_ms.is_some() {
            let defaults = Timeouts::default();
            let ms = |v: Option<u32>, default: Duration| {
                v.map_or(default, |ms| Duration::from_millis(ms.into()))
            };
            builder = builder.timeouts(Timeouts {
                connect: ms(self.connect_timeout_ms, defaults.connect),
                request: ms(self.request_timeout_ms, defaults.request),
            });
        }
        if let Some(v) = self.ca_file {
            builder = builder.ca_file(v);
        }
        Ok(builder)
    }
}
