//! Microsoft.Identity.Web configuration, used unchanged (docs/protocol.md §6): a whole
//! `appsettings.json` or its `AzureAd` section; keys case-insensitive as in .NET configuration;
//! `ClientCredentials` tried in order, `"Skip": true` entries left out.
//!
//! Keys that Id.Web defines but that do not matter for app-only tokens (`CallbackPath`, ...) are
//! accepted and ignored; a key nobody defines is an error, because it is most often a typo of
//! one that matters (`TennantId`).

mod entry;
mod json;

use serde_json::{Map, Value};

use super::{CredentialBuilder, CredentialSource};
use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;
use crate::support::secret::Secret;
use entry::credential_entry;
pub(super) use json::edit_distance;
use json::{boolean, check_keys, find, join, lookup, parse_json, string};

/// Keys of the `AzureAd` section that certless ignores: Id.Web's `MicrosoftIdentityOptions` and
/// the OpenID Connect options it inherits, which concern web sign-in, not app-only tokens.
const IGNORED_SECTION_KEYS: &[&str] = &[
    "Domain",
    "CallbackPath",
    "SignedOutCallbackPath",
    "SignUpSignInPolicyId",
    "ResetPasswordPolicyId",
    "EditProfilePolicyId",
    "DefaultUserFlow",
    "ClientCapabilities",
    "AzureRegion",
    "WithSpaAuthCode",
    "AllowWebApiToBeAuthorizedByACL",
    "Audience",
    "Audiences",
    "AppHomeTenantId",
    "LegacyCacheCompatibilityEnabled",
    "ResetPasswordPath",
    "ErrorPath",
    "UserAssignedManagedIdentityClientId",
    "ExtraQueryParameters",
    "TokenDecryptionCredentials",
    "TokenDecryptionCertificates",
    "ResponseType",
    "ResponseMode",
    "SaveTokens",
    "UsePkce",
    "Scope",
    "Scopes",
    "RedirectUri",
    "SignedOutRedirectUri",
    "RemoteSignOutPath",
    "MetadataAddress",
    "RequireHttpsMetadata",
    "GetClaimsFromUserInfoEndpoint",
    "MapInboundClaims",
    "ClockSkew",
    "TokenValidationParameters",
    "ClientCertificates",
    "ClientSecret",
    "DisableClientCertificateRevocationCheck",
    "EnablePiiLogging",
    "ClientCredentialsUsingManagedIdentity",
    "ResetPasswordCallbackPath",
];

const USED_SECTION_KEYS: &[&str] = &[
    "Instance",
    "TenantId",
    "ClientId",
    "Authority",
    "ClientCredentials",
    "SendX5C",
    // certless's own (docs/shared-cache.md); .NET's configuration binding ignores it.
    "SharedCache",
];

/// Keys of the `SharedCache` object.
const SHARED_CACHE_KEYS: &[&str] = &["Redis", "KeyFile", "CaFile"];

pub(super) fn parse(json: &str, origin: &str) -> Result<CredentialBuilder> {
    let root = parse_json(json, origin)?;
    let root = root.as_object().ok_or_else(|| {
        Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} is not a JSON object"),
        )
    })?;
    let (section, path) = azure_ad_section(root, origin)?;
    check_keys(section, path, &[USED_SECTION_KEYS, IGNORED_SECTION_KEYS])?;

    let mut builder = CredentialBuilder {
        origin: origin.to_string(),
        ..CredentialBuilder::default()
    };
    let instance = string(section, "Instance", path)?;
    builder.tenant_id = string(section, "TenantId", path)?;
    builder.client_id = string(section, "ClientId", path)?;
    if let Some(authority) = string(section, "Authority", path)? {
        let (host, tenant) = split_authority(&authority)?;
        if instance.is_none() {
            builder.authority_host = Some(host.to_string());
        }
        if builder.tenant_id.is_none() {
            builder.tenant_id = Some(tenant.to_string());
        }
    }
    if instance.is_some() {
        builder.authority_host = instance;
    }
    builder.sources = credential_sources(section, path)?;
    builder.send_certificate_chain = boolean(section, "SendX5C", path)?.unwrap_or(false);
    shared_cache(section, path, &mut builder)?;
    Ok(builder)
}

/// `"SharedCache": "rediss://..."`, or an object with `Redis`, `KeyFile` and `CaFile`.
fn shared_cache(
    section: &Map<String, Value>,
    path: &str,
    builder: &mut CredentialBuilder,
) -> Result<()> {
    let Some(value) = lookup(section, "SharedCache", path)? else {
        return Ok(());
    };
    let path = join(path, "SharedCache");
    let obj = match value {
        Value::String(url) => {
            builder.shared_cache.url = Some(Secret::from(url.trim().to_string()));
            return Ok(());
        }
        Value::Object(obj) => obj,
        other => {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "{path} must be a Redis URL or an object, not {}",
                    json::type_name(other)
                ),
            )
            .with_remedy(
                "Write \"SharedCache\": { \"Redis\": \"rediss://...\", \"KeyFile\": \"...\" }.",
            ));
        }
    };
    check_keys(obj, &path, &[SHARED_CACHE_KEYS])?;
    if let Some(url) = string(obj, "Redis", &path)? {
        builder.shared_cache.url = Some(Secret::from(url));
    }
    builder.shared_cache.key_file = string(obj, "KeyFile", &path)?.map(Into::into);
    builder.shared_cache.ca_file = string(obj, "CaFile", &path)?.map(Into::into);
    Ok(())
}

/// The `AzureAd` section and its path, or the whole file when it is that section alone.
fn azure_ad_section<'a>(
    root: &'a Map<String, Value>,
    origin: &str,
) -> Result<(&'a Map<String, Value>, &'static str)> {
    match lookup(root, "AzureAd", "")? {
        Some(section) => {
            let obj = section.as_object().ok_or_else(|| {
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!("AzureAd in the {origin} is not an object"),
                )
            })?;
            Ok((obj, "AzureAd"))
        }
        None if USED_SECTION_KEYS.iter().any(|k| find(root, k).is_some()) => Ok((root, "")),
        None => Err(Error::config(
            ErrorCode::MissingConfig,
            format!(
                "the {origin} has no \
                AzureAd section"
            ),
        )
        .with_remedy(
            "Pass a Microsoft.Identity.Web appsettings.json (with an \
                    \"AzureAd\" section) or that section alone.",
        )),
    }
}

/// `https://login.microsoftonline.com/{tenant}[/v2.0]` as its login host and tenant, which fill
/// what Instance/TenantId left unset.
fn split_authority(authority: &str) -> Result<(&str, &str)> {
    let trimmed = authority.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v2.0").unwrap_or(trimmed);
    trimmed
        .rsplit_once('/')
        .filter(|(h, _)| h.contains("://"))
        .ok_or_else(|| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "Authority '{}' is not https://<login host>/<tenant>",
                    echo(authority)
                ),
            )
        })
}

/// The section's credential sources in order: `ClientCredentials`, then Id.Web's older shapes,
/// a `ClientCertificates` list and a section-level `ClientSecret`.
fn credential_sources(section: &Map<String, Value>, path: &str) -> Result<Vec<CredentialSource>> {
    let mut sources = Vec::new();
    if let Some(list) = lookup(section, "ClientCredentials", path)? {
        let entries = list.as_array().ok_or_else(|| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!("{} must be a list", join(path, "ClientCredentials")),
            )
        })?;
        for (i, entry) in entries.iter().enumerate() {
            let entry_path = format!("{}[{i}]", join(path, "ClientCredentials"));
            if let Some(source) = credential_entry(entry, &entry_path)? {
                sources.push(source);
            }
        }
    }
    if let Some(list) = lookup(section, "ClientCertificates", path)? {
        for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
            let entry_path = format!("{}[{i}]", join(path, "ClientCertificates"));
            if let Some(source) = credential_entry(entry, &entry_path)? {
                sources.push(source);
            }
        }
    }
    if let Some(secret) = string(section, "ClientSecret", path)? {
        sources.push(CredentialSource::ClientSecret {
            secret: Secret::from(secret),
        });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CertificateSource, CredentialSourceKind, KeyVaultReference};
    use crate::managed_identity::ManagedIdentityId;

    const SEED: &str = r#"{ "AzureAd": { "Instance": "https://login.microsoftonline.com/", "TenantId": "YOUR_TENANT_ID",
      "ClientId": "YOUR_CLIENT_ID", "ClientCredentials": [
        { "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "USER_ASSIGNED_MSI_CLIENT_ID" },
        { "SourceType": "KeyVault", "KeyVaultUrl": "https://your-keyvault.vault.azure.net", "KeyVaultCertificateName": "your-cert-name" } ] } }"#;

    #[test]
    fn a_wrong_flag_never_echoes_what_it_holds() {
        let e = parse(
            r#"{"AzureAd":{"TenantId":"t","SendX5C":{"ClientSecret":"hunter2"}}}"#,
            "x",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("object"), "{e}");
        let e = parse(r#"{"AzureAd":{"SendX5C":"hunter2-is-a-long-secret"}}"#, "x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn seed_configuration_parses_in_order() {
        let b = parse(SEED, "test").unwrap();
        assert_eq!(b.tenant_id.as_deref(), Some("YOUR_TENANT_ID"));
        assert_eq!(
            b.authority_host.as_deref(),
            Some("https://login.microsoftonline.com/")
        );
        assert_eq!(
            b.sources,
            vec![
                CredentialSource::ManagedIdentity {
                    id: ManagedIdentityId::ClientId("USER_ASSIGNED_MSI_CLIENT_ID".into()),
                    token_exchange_audience: None
                },
                CredentialSource::Certificate {
                    source: CertificateSource::KeyVault {
                        reference: KeyVaultReference::new(
                            "https://your-keyvault.vault.azure.net",
                            "your-cert-name"
                        )
                        .unwrap(),
                        managed_identity: None,
                    },
                    password: None,
                },
            ]
        );
        // The placeholders are caught at validation, with a message that says so.
        let e = b.validate().unwrap_err();
        assert!(e.to_string().contains("placeholder"), "{e}");
    }

    #[test]
    fn keys_are_case_insensitive_and_section_optional() {
        let b = parse(r#"{"tenantid":"t.example","CLIENTID":"c","clientcredentials":[{"sourcetype":"signedassertionfrommanagedidentity","skip":"false"}]}"#, "x").unwrap();
        assert_eq!(b.client_id.as_deref(), Some("c"));
        assert_eq!(b.sources.len(), 1);
        let b = parse(r#"{"Logging":{"LogLevel":{}},"AllowedHosts":"*","azuread":{"TenantId":"t","ClientId":"c","CallbackPath":"/signin-oidc"}}"#, "x").unwrap();
        assert_eq!(b.tenant_id.as_deref(), Some("t"));
    }

    #[test]
    fn skip_removes_entries() {
        let b = parse(r#"{"AzureAd":{"ClientCredentials":[{"SourceType":"ClientSecret","ClientSecret":"s","Skip":true},{"SourceType":"SignedAssertionFromManagedIdentity"}]}}"#, "x").unwrap();
        assert_eq!(b.sources.len(), 1);
        assert_eq!(
            b.sources[0].kind(),
            CredentialSourceKind::SignedAssertionFromManagedIdentity
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse(r#"{"AzureAd":{"TennantId":"t"}}"#, "x").unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownConfigKey);
        assert!(
            e.to_string().contains("AzureAd:TennantId")
                && e.to_string().contains("Did you mean 'TenantId'"),
            "{e}"
        );
        let e = parse(
            r#"{"AzureAd":{"ClientCredentials":[{"SourceType":"MagicBeans"}]}}"#,
            "x",
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnsupportedCredentialSource);
        assert!(
            e.to_string().contains("MagicBeans")
                && e.to_string().contains("SignedAssertionFromManagedIdentity"),
            "{e}"
        );
        let e = parse(r#"{"AzureAd":{"TenantId":"a","tenantId":"b"}}"#, "x").unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        assert_eq!(
            parse("{not json", "x").unwrap_err().code(),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            parse("[]", "x").unwrap_err().code(),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            parse(r#"{"Logging":{}}"#, "x").unwrap_err().code(),
            ErrorCode::MissingConfig
        );
        let e = parse(r#"{"AzureAd":{"ClientId":5}}"#, "x").unwrap_err();
        assert!(
            e.to_string().contains("AzureAd:ClientId must be a string"),
            "{e}"
        );
        let e = parse(r#"{"AzureAd":{"ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":"a","ManagedIdentityObjectId":"b"}]}}"#, "x").unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
    }

    #[test]
    fn authority_fills_instance_and_tenant() {
        let b = parse(r#"{"AzureAd":{"Authority":"https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0","ClientId":"c"}}"#, "x").unwrap();
        assert_eq!(
            b.authority_host.as_deref(),
            Some("https://login.microsoftonline.us")
        );
        assert_eq!(b.tenant_id.as_deref(), Some("contoso.onmicrosoft.us"));
    }
}
