//! What every managed-identity source has in common: choosing the identity a request means, checking the resource,
//! issuing the token, and the shape of `expires_on`. Each source (IMDS, App Service, and later Arc, Service Fabric,
//! Cloud Shell, Azure ML) is one file that maps its own parameters and error shapes onto this.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock;
use crate::config::{ManagedIdentityInfo, Registry};
use crate::error::EmulatorError;
use crate::state::{Endpoint, Shared};
use crate::tokens::{Validity, managed_identity_claims};

/// The JSON shape of `expires_on` in a managed-identity response (docs/protocol.md §2, Responses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiresOnFormat {
    /// `"1700000000"`: epoch seconds in a string, as IMDS and App Service 2019-08-01 send it.
    #[default]
    NumberString,
    /// `1700000000`
    Number,
    /// `"1/16/2020 5:24:12 AM +00:00"`, as App Service's older API version sent it.
    DateString,
    /// `"2020-01-16T05:24:12Z"`
    Iso8601,
}

impl ExpiresOnFormat {
    pub(crate) fn render(self, epoch: i64) -> Value {
        match self {
            ExpiresOnFormat::NumberString => json!(epoch.to_string()),
            ExpiresOnFormat::Number => json!(epoch),
            ExpiresOnFormat::DateString => json!(clock::dotnet_date_string(epoch)),
            ExpiresOnFormat::Iso8601 => json!(clock::iso8601(epoch)),
        }
    }
}

/// How a request names a user-assigned identity; each source spells the parameters its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named after the ids Azure documents
pub(crate) enum Selector {
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SelectionError {
    /// More than one selector parameter was given.
    Conflicting,
    /// A selector named no identity on this host.
    NotFound,
    /// No selector, no system-assigned identity, and several user-assigned ones.
    Ambiguous,
    /// The host has no managed identity at all.
    NoIdentity,
}

/// Picks the identity: by selector (ids compared without regard to case, as the real endpoints do); without one,
/// the system-assigned identity, else the only user-assigned one.
pub(crate) fn select_identity(
    registry: &Registry,
    selectors: &[Selector],
) -> Result<ManagedIdentityInfo, SelectionError> {
    let system = registry.system_assigned_info();
    let users = registry.user_assigned_info();
    match selectors {
        [] => match (system, users.as_slice()) {
            (Some(sa), _) => Ok(sa),
            (None, [only]) => Ok(only.clone()),
            (None, []) => Err(SelectionError::NoIdentity),
            (None, _) => Err(SelectionError::Ambiguous),
        },
        [selector] => system
            .into_iter()
            .chain(users)
            .find(|mi| match selector {
                Selector::ClientId(id) => mi.client_id.eq_ignore_ascii_case(id),
                Selector::ObjectId(id) => mi.object_id.eq_ignore_ascii_case(id),
                Selector::ResourceId(id) => mi.resource_id.eq_ignore_ascii_case(id),
            })
            .ok_or(SelectionError::NotFound),
        _ => Err(SelectionError::Conflicting),
    }
}

/// A token issued to a managed identity.
pub(crate) struct IssuedToken {
    pub access_token: String,
    pub validity: Validity,
    pub lifetime_secs: u64,
    /// The resource as the client asked for it (without `/.default`); also the token's `aud`.
    pub resource: String,
}

pub(crate) enum IssueError {
    /// The resource is not in the registry: Entra's AADSTS500011 behind the endpoint.
    UnknownResource {
        resource: String,
        tenant: String,
    },
    Internal(EmulatorError),
}

/// Checks the resource and signs the token. Clients may pass the resource with or without `/.default`.
pub(crate) fn issue_token(
    shared: &Shared,
    registry: &Registry,
    mi: &ManagedIdentityInfo,
    requested_resource: &str,
) -> Result<IssuedToken, IssueError> {
    let resource = requested_resource
        .strip_suffix("/.default")
        .unwrap_or(requested_resource)
        .to_string();
    if registry.find_resource(&resource).is_none() {
        return Err(IssueError::UnknownResource {
            resource,
            tenant: mi.tenant_id.clone(),
        });
    }
    let lifetime_secs = registry.mi_token_lifetime_secs;
    let validity = Validity::starting(shared.clock.now(), lifetime_secs);
    let claims = managed_identity_claims(mi, &resource, validity);
    let access_token = shared.key.sign(&claims).map_err(IssueError::Internal)?;
    log::info!(
        "managed identity: issued a token to {} for resource '{resource}', valid {lifetime_secs}s",
        mi.client_id
    );
    Ok(IssuedToken {
        access_token,
        validity,
        lifetime_secs,
        resource,
    })
}

/// Only managed-identity endpoints have an `expires_on` to shape.
pub(crate) fn check_expires_on_endpoint(endpoint: Endpoint) -> Result<(), String> {
    match endpoint {
        Endpoint::Imds
        | Endpoint::AppService
        | Endpoint::CloudShell
        | Endpoint::AzureArc
        | Endpoint::ServiceFabric => Ok(()),
        other => Err(format!(
            "{other:?} has no expires_on; use imds or app_service"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID, UserAssignedIdentity,
    };

    #[test]
    fn selection_rules() {
        let mut r = Registry::default();
        let ua = &r.user_assigned_info()[0];
        assert_eq!(
            select_identity(&r, &[]).map(|m| m.client_id),
            Ok(DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID.to_string())
        );
        let by_upper = Selector::ClientId(DEFAULT_USER_ASSIGNED_CLIENT_ID.to_uppercase());
        assert_eq!(
            select_identity(&r, &[by_upper]).map(|m| m.object_id),
            Ok(ua.object_id.clone())
        );
        let by_res = Selector::ResourceId(ua.resource_id.to_uppercase());
        assert_eq!(
            select_identity(&r, &[by_res]).map(|m| m.client_id),
            Ok(ua.client_id.clone())
        );
        assert_eq!(
            select_identity(&r, &[Selector::ObjectId("nope".into())]),
            Err(SelectionError::NotFound)
        );
        assert_eq!(
            select_identity(
                &r,
                &[
                    Selector::ObjectId("a".into()),
                    Selector::ClientId("b".into())
                ]
            ),
            Err(SelectionError::Conflicting)
        );

        r.system_assigned = None;
        assert_eq!(
            select_identity(&r, &[]).map(|m| m.client_id),
            Ok(ua.client_id.clone())
        );
        r.user_assigned.push(UserAssignedIdentity {
            name: "second".into(),
            client_id: "c2".into(),
            object_id: "o2".into(),
            tenant_id: None,
        });
        assert_eq!(select_identity(&r, &[]), Err(SelectionError::Ambiguous));
        r.user_assigned.clear();
        assert_eq!(select_identity(&r, &[]), Err(SelectionError::NoIdentity));
    }

    #[test]
    fn expires_on_shapes() {
        assert_eq!(
            ExpiresOnFormat::NumberString.render(1_579_152_252),
            json!("1579152252")
        );
        assert_eq!(
            ExpiresOnFormat::Number.render(1_579_152_252),
            json!(1_579_152_252)
        );
        assert_eq!(
            ExpiresOnFormat::DateString.render(1_579_152_252),
            json!("1/16/2020 5:24:12 AM +00:00")
        );
        assert_eq!(
            ExpiresOnFormat::Iso8601.render(1_579_152_252),
            json!("2020-01-16T05:24:12Z")
        );
    }
}
