//! Configuration from environment variables, the way the Azure SDKs read them
//! (docs/protocol.md §6), plus certless's own for picking a user-assigned managed identity.

use std::sync::Arc;

use super::{CredentialBuilder, CredentialSource};
use crate::broker::{BrokerAddress, SecretLocation};
use crate::error::{Error, ErrorCode, Result};
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::support::echo::echo;
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

pub(super) fn parse(env: Arc<dyn Environment>) -> Result<CredentialBuilder> {
    let selectors = [
        (
            vars::MI_CLIENT_ID,
            env.var(vars::MI_CLIENT_ID).map(ManagedIdentityId::ClientId),
        ),
        (
            vars::MI_OBJECT_ID,
            env.var(vars::MI_OBJECT_ID).map(ManagedIdentityId::ObjectId),
        ),
        (
            vars::MI_RESOURCE_ID,
            env.var(vars::MI_RESOURCE_ID)
                .map(ManagedIdentityId::ResourceId),
        ),
    ];
    let set: Vec<&str> = selectors
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(n, _)| *n)
        .collect();
    if set.len() > 1 {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} are all set; the managed identity must be named once",
                set.join(" and ")
            ),
        )
        .with_remedy(
            "Keep one of CERTLESS_MANAGED_IDENTITY_CLIENT_ID, _OBJECT_ID or _RESOURCE_ID.",
        ));
    }
    let id = selectors
        .into_iter()
        .find_map(|(_, v)| v)
        .unwrap_or(ManagedIdentityId::SystemAssigned);
    let mut builder = CredentialBuilder {
        tenant_id: env.var(vars::AZURE_TENANT_ID),
        client_id: env.var(vars::AZURE_CLIENT_ID),
        authority_host: env.var(vars::AZURE_AUTHORITY_HOST),
        token_exchange_audience: env.var(vars::TOKEN_EXCHANGE_AUDIENCE),
        origin: "environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...)".to_string(),
        ..CredentialBuilder::default()
    };
    // AKS workload identity: the webhook mounts the token and sets AZURE_FEDERATED_TOKEN_FILE.
    if env.var(vars::AZURE_FEDERATED_TOKEN_FILE).is_some() {
        builder
            .sources
            .push(CredentialSource::SignedAssertionFile { path: None });
    }
    builder.sources.push(CredentialSource::ManagedIdentity {
        id,
        token_exchange_audience: None,
    });
    // The Azure SDK's variables; fallbacks after the managed identity, the certificate first
    // (SharePoint accepts its tokens; it refuses secret-based ones).
    if let Some(path) = env.var(vars::AZURE_CLIENT_CERTIFICATE_PATH) {
        builder.sources.push(CredentialSource::Certificate {
            source: super::CertificateSource::File(path.into()),
            password: env
                .var(vars::AZURE_CLIENT_CERTIFICATE_PASSWORD)
                .map(Secret::from),
        });
    }
    if let Some(send) = env.var(vars::AZURE_CLIENT_SEND_CERTIFICATE_CHAIN) {
        builder.send_certificate_chain =
            matches!(send.trim().to_ascii_lowercase().as_str(), "1" | "true");
    }
    if let Some(secret) = env.var(vars::AZURE_CLIENT_SECRET) {
        builder.sources.push(CredentialSource::ClientSecret {
            secret: Secret::from(secret),
        });
    }
    if let Some(source) = env.var(vars::MI_SOURCE) {
        builder.managed_identity_source = Some(ManagedIdentitySource::parse_setting(
            &source,
            vars::MI_SOURCE,
        )?);
    }
    if let Some(address) = env.var(vars::BROKER) {
        broker(&mut builder, env.as_ref(), &address)?;
    }
    builder.env = Some(env);
    Ok(builder)
}

/// `CERTLESS_BROKER` and its secret and fallback settings.
fn broker(builder: &mut CredentialBuilder, env: &dyn Environment, address: &str) -> Result<()> {
    builder.broker = Some(BrokerAddress::parse(address, vars::BROKER)?);
    builder.broker_setting = vars::BROKER;
    match (
        env.var(vars::BROKER_SECRET_FILE),
        env.var(vars::BROKER_SECRET),
    ) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "{} and {} are both set",
                    vars::BROKER_SECRET_FILE,
                    vars::BROKER_SECRET
                ),
            )
            .with_remedy(format!(
                "Keep {} (the file the broker writes its secret to); it survives a restart of \
                 the broker, a copied value does not.",
                vars::BROKER_SECRET_FILE
            )));
        }
        (Some(path), None) => builder.broker_secret = SecretLocation::File(path.into()),
        (None, Some(value)) => {
            if reqwest::header::HeaderValue::from_str(&value).is_err() {
                return Err(Error::config(
                    ErrorCode::InvalidConfig,
                    format!("{} cannot be sent as a header", vars::BROKER_SECRET),
                )
                .with_remedy(
                    "Copy the secret without line breaks, or use CERTLESS_BROKER_SECRET_FILE.",
                ));
            }
            builder.broker_secret = SecretLocation::Value(Secret::from(value));
        }
        (None, None) => {}
    }
    if let Some(fallback) = env.var(vars::BROKER_FALLBACK) {
        builder.broker_fallback = match fallback.trim().to_ascii_lowercase().as_str() {
            "local" => true,
            "none" => false,
            _ => {
                return Err(Error::config(
                    ErrorCode::InvalidConfig,
                    format!(
                        "{} is '{}'; it takes local or none",
                        vars::BROKER_FALLBACK,
                        echo(&fallback)
                    ),
                )
                .with_remedy(
                    "Set it to local to fetch tokens in this process when the broker cannot be \
                     reached, or unset it to fail naming the broker.",
                ));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::env::MapEnv;

    #[test]
    fn reads_the_azure_sdk_variables() {
        let env = MapEnv::new()
            .with_var("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
            .with_var("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
            .with_var("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us")
            .with_var(
                "CERTLESS_MANAGED_IDENTITY_OBJECT_ID",
                "aaaaaaaa-2222-3333-4444-555555555555",
            );
        let b = parse(Arc::new(env)).unwrap();
        assert_eq!(
            b.sources,
            vec![CredentialSource::ManagedIdentity {
                id: ManagedIdentityId::ObjectId("aaaaaaaa-2222-3333-4444-555555555555".into()),
                token_exchange_audience: None
            }]
        );
        let o = b.validate().unwrap();
        assert_eq!(o.default_audience, "api://AzureADTokenExchangeUSGov");
    }

    #[test]
    fn two_selectors_are_refused() {
        let env = MapEnv::new()
            .with_var("CERTLESS_MANAGED_IDENTITY_CLIENT_ID", "a")
            .with_var("CERTLESS_MANAGED_IDENTITY_RESOURCE_ID", "b");
        let e = parse(Arc::new(env)).unwrap_err();
        assert!(
            e.to_string().contains(
                "CERTLESS_MANAGED_IDENTITY_CLIENT_ID and CERTLESS_MANAGED_IDENTITY_RESOURCE_ID"
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_tenant_names_the_variable() {
        let e = parse(Arc::new(
            MapEnv::new().with_var("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
        ))
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("AZURE_TENANT_ID"), "{e}");
    }
}
