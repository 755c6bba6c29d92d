//! The one place that knows every source: which one this host has (a pure function of the
//! environment, in MSAL.NET's order, docs/protocol.md §2) and how each is built.

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::source::Source;
use super::{app_service, azure_arc, azure_ml, cloud_shell, imds, service_fabric};
use crate::error::{Error, Result};
use crate::support::echo::echo;
use crate::support::env::{Environment, vars};

/// The source a host has, and why certless thinks so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSelection {
    /// The source.
    pub source: ManagedIdentitySource,
    /// Which settings decided it, for logs and `certless doctor`.
    pub reason: String,
}

/// Whether a source's environment is present, and why it is thought so.
type Detector = fn(&dyn Environment) -> Option<String>;

/// Picks the managed-identity source from the environment, in MSAL.NET's order
/// (docs/protocol.md §2), unless one is forced (argument, then `CERTLESS_MANAGED_IDENTITY_SOURCE`).
pub fn select_source(
    env: &dyn Environment,
    forced: Option<ManagedIdentitySource>,
) -> Result<SourceSelection> {
    if let Some(source) = forced {
        return Ok(SourceSelection {
            source,
            reason: "set explicitly in the configuration".into(),
        });
    }
    if let Some(value) = env.var(vars::MI_SOURCE) {
        let source = ManagedIdentitySource::parse_setting(&value, vars::MI_SOURCE)?;
        return Ok(SourceSelection {
            source,
            reason: format!("{}={}", vars::MI_SOURCE, echo(&value)),
        });
    }
    // MSAL.NET's order (docs/protocol.md §2): the first source whose environment is present.
    let detectors: [(ManagedIdentitySource, Detector); 6] = [
        (ManagedIdentitySource::ServiceFabric, service_fabric::detect),
        (ManagedIdentitySource::AppService, app_service::detect),
        (ManagedIdentitySource::AzureMl, azure_ml::detect),
        (ManagedIdentitySource::CloudShell, cloud_shell::detect),
        (ManagedIdentitySource::AzureArc, azure_arc::detect),
        (ManagedIdentitySource::Imds, imds::detect),
    ];
    detectors
        .into_iter()
        .find_map(|(source, detect)| detect(env).map(|reason| SourceSelection { source, reason }))
        .ok_or_else(|| Error::internal("IMDS is always a candidate managed-identity source"))
}

/// The source `kind` for identity `id`, with what it needs from the environment — checked now,
/// so that a mistake shows when the credential is built.
pub(crate) fn build(
    kind: ManagedIdentitySource,
    env: &dyn Environment,
    id: ManagedIdentityId,
) -> Result<Box<dyn Source>> {
    Ok(match kind {
        ManagedIdentitySource::Imds => Box::new(imds::Imds::new(env, id)?),
        ManagedIdentitySource::AppService => Box::new(app_service::AppService::new(env, id)?),
        ManagedIdentitySource::ServiceFabric => {
            Box::new(service_fabric::ServiceFabric::new(env, &id)?)
        }
        ManagedIdentitySource::AzureArc => Box::new(azure_arc::AzureArc::new(env, id)?),
        ManagedIdentitySource::CloudShell => Box::new(cloud_shell::CloudShell::new(env, &id)?),
        ManagedIdentitySource::AzureMl => Box::new(azure_ml::AzureMl::new(env, &id)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::support::env::MapEnv;

    fn select(env: MapEnv) -> ManagedIdentitySource {
        select_source(&env, None).unwrap().source
    }

    #[test]
    fn selection_follows_msal_order() {
        assert_eq!(select(MapEnv::new()), ManagedIdentitySource::Imds);
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "http://x")
                    .with_var("IDENTITY_HEADER", "h")
            ),
            ManagedIdentitySource::AppService
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "https://x")
                    .with_var("IDENTITY_HEADER", "h")
                    .with_var("IDENTITY_SERVER_THUMBPRINT", "ab")
            ),
            ManagedIdentitySource::ServiceFabric
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("MSI_ENDPOINT", "http://x")
                    .with_var("MSI_SECRET", "s")
            ),
            ManagedIdentitySource::AzureMl
        );
        assert_eq!(
            select(MapEnv::new().with_var("MSI_ENDPOINT", "http://x")),
            ManagedIdentitySource::CloudShell
        );
        assert_eq!(
            select(
                MapEnv::new()
                    .with_var("IDENTITY_ENDPOINT", "http://x")
                    .with_var("IMDS_ENDPOINT", "http://y")
            ),
            ManagedIdentitySource::AzureArc
        );
        if !cfg!(windows) {
            assert_eq!(
                select(MapEnv::new().with_file("/opt/azcmagent/bin/himds")),
                ManagedIdentitySource::AzureArc
            );
        }
        // IDENTITY_ENDPOINT alone is not App Service.
        assert_eq!(
            select(MapEnv::new().with_var("IDENTITY_ENDPOINT", "http://x")),
            ManagedIdentitySource::Imds
        );
    }

    #[test]
    fn selection_can_be_forced_and_says_why() {
        let env = MapEnv::new()
            .with_var("IDENTITY_ENDPOINT", "http://x")
            .with_var("IDENTITY_HEADER", "h")
            .with_var(vars::MI_SOURCE, "IMDS");
        let s = select_source(&env, None).unwrap();
        assert_eq!(s.source, ManagedIdentitySource::Imds);
        assert!(s.reason.contains("CERTLESS_MANAGED_IDENTITY_SOURCE"));
        assert_eq!(
            select_source(&env, Some(ManagedIdentitySource::AppService))
                .unwrap()
                .source,
            ManagedIdentitySource::AppService
        );
        let bad = select_source(&MapEnv::new().with_var(vars::MI_SOURCE, "vm"), None).unwrap_err();
        assert_eq!(bad.code(), ErrorCode::InvalidConfig);
        assert!(bad.to_string().contains("app_service"), "{bad}");
    }
}
