//! Microsoft.Identity.Web configuration, used unchanged (docs/protocol.md §6): a whole
//! `appsettings.json` or its `AzureAd` section; keys case-insensitive as in .NET configuration;
//! `ClientCredentials` tried in order, `"Skip": true` entries left out.
//!
//! Keys that Id.Web defines but that do not matter for app-only tokens (`CallbackPath`, ...) are
//! accepted and ignored; a key nobody defines is an error, because it is most often a typo of
//! one that matters (`TennantId`).

use serde_json::{Map, Value};

use super::{
    CertificateSource, CredentialBuilder, CredentialSource, CredentialSourceKind,
    KeyVaultReference, StoreFind, StorePath, jsonc,
};
use crate::error::{Error, ErrorCode, Result};
use crate::managed_identity::ManagedIdentityId;
use crate::support::echo::echo;
use crate::support::secret::Secret;

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
];

/// Keys of a `ClientCredentials` entry (Id.Web's `CredentialDescription`), plus certless's
/// `ManagedIdentityObjectId` / `ManagedIdentityResourceId` for identities picked another way.
const CREDENTIAL_KEYS: &[&str] = &[
    "SourceType",
    "Skip",
    "ManagedIdentityClientId",
    "ManagedIdentityObjectId",
    "ManagedIdentityResourceId",
    "TokenExchangeUrl",
    "TokenExchangeAuthority",
    "KeyVaultUrl",
    "KeyVaultCertificateName",
    "CertificateStorePath",
    "CertificateDistinguishedName",
    "CertificateThumbprint",
    "CertificateDiskPath",
    "CertificatePassword",
    "Base64EncodedValue",
    "ClientSecret",
    "SignedAssertionFileDiskPath",
    "CustomSignedAssertionProviderName",
    "CustomSignedAssertionProviderData",
    "DecryptKeysAuthenticationOptions",
    "Container",
    "ReferenceOrValue",
    "Certificate",
    "CertificateSubjectName",
];

pub(super) fn parse(json: &str, origin: &str) -> Result<CredentialBuilder> {
    let root = parse_json(json, origin)?;
    let root = root.as_object().ok_or_else(|| {
        Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} is not a JSON object"),
        )
    })?;
    let (section, path) = match lookup(root, "AzureAd", "")? {
        Some(section) => {
            let obj = section.as_object().ok_or_else(|| {
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!("AzureAd in the {origin} is not an object"),
                )
            })?;
            (obj, "AzureAd")
        }
        None if USED_SECTION_KEYS.iter().any(|k| find(root, k).is_some()) => (root, ""),
        None => {
            return Err(Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "the {origin} has no \
                AzureAd section"
                ),
            )
            .with_remedy(
                "Pass a Microsoft.Identity.Web appsettings.json (with an \
                    \"AzureAd\" section) or that section alone.",
            ));
        }
    };
    check_keys(section, path, &[USED_SECTION_KEYS, IGNORED_SECTION_KEYS])?;

    let mut builder = CredentialBuilder {
        origin: origin.to_string(),
        ..CredentialBuilder::default()
    };
    let instance = string(section, "Instance", path)?;
    builder.tenant_id = string(section, "TenantId", path)?;
    builder.client_id = string(section, "ClientId", path)?;
    if let Some(authority) = string(section, "Authority", path)? {
        // `https://login.microsoftonline.com/{tenant}[/v2.0]`: fills what Instance/TenantId left unset.
        let trimmed = authority.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/v2.0").unwrap_or(trimmed);
        let (host, tenant) = trimmed
            .rsplit_once('/')
            .filter(|(h, _)| h.contains("://"))
            .ok_or_else(|| {
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!(
                        "Authority '{}' is not https://<login host>/<tenant>",
                        echo(&authority)
                    ),
                )
            })?;
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
                builder.sources.push(source);
            }
        }
    }
    // Id.Web's older shapes: a section-level ClientSecret, and a ClientCertificates list.
    if let Some(list) = lookup(section, "ClientCertificates", path)? {
        for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
            let entry_path = format!("{}[{i}]", join(path, "ClientCertificates"));
            if let Some(source) = credential_entry(entry, &entry_path)? {
                builder.sources.push(source);
            }
        }
    }
    if let Some(secret) = string(section, "ClientSecret", path)? {
        builder.sources.push(CredentialSource::ClientSecret {
            secret: Secret::from(secret),
        });
    }
    builder.send_certificate_chain = boolean(section, "SendX5C", path)?.unwrap_or(false);
    Ok(builder)
}

/// The JSON as .NET configuration reads it (comments, trailing commas), with syntax errors placed
/// at the line and column of the user's text.
fn parse_json(json: &str, origin: &str) -> Result<Value> {
    let strict = jsonc::strip(json).map_err(|e| {
        Error::config(ErrorCode::InvalidConfig, format!("the {origin} {e}"))
            .with_remedy("Close the comment with */, or remove the stray /*.")
    })?;
    let value = serde_json::from_str(&strict).map_err(|e| {
        // serde_json ends its message with " at line L column C"; the place is said our way.
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        let place = match e.line() {
            0 => String::new(),
            line => format!(
                " at line {line}, column {}",
                jsonc::char_column(json, line, e.column())
            ),
        };
        Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} is not valid JSON{place}: {message}"),
        )
        .with_remedy(
            "Fix the JSON there: keys and strings in double quotes, a comma between entries. \
             Comments and trailing commas are fine, as in .NET.",
        )
    })?;
    if let Some(duplicate) = jsonc::duplicate_key(json, &strict) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} {duplicate}"),
        )
        .with_remedy(
            "Keep one of them: .NET's JSON configuration refuses a file with a key twice, and \
             which one a parser keeps is not something to rely on.",
        ));
    }
    Ok(value)
}

fn credential_entry(entry: &Value, path: &str) -> Result<Option<CredentialSource>> {
    let obj = entry.as_object().ok_or_else(|| {
        Error::config(ErrorCode::InvalidConfig, format!("{path} is not an object"))
    })?;
    check_keys(obj, path, &[CREDENTIAL_KEYS])?;
    if boolean(obj, "Skip", path)?.unwrap_or(false) {
        return Ok(None);
    }
    let source_type = string(obj, "SourceType", path)?.ok_or_else(|| {
        Error::config(
            ErrorCode::MissingConfig,
            format!("{path} has no SourceType"),
        )
        .with_remedy(
            "Add \"SourceType\": \"SignedAssertionFromManagedIdentity\" (or another \
                Microsoft.Identity.Web source type).",
        )
    })?;
    let kind = CredentialSourceKind::parse(&source_type).ok_or_else(|| {
        let known: Vec<&str> = CredentialSourceKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        Error::config(
            ErrorCode::UnsupportedCredentialSource,
            format!("{path} has an unknown SourceType '{}'", echo(&source_type)),
        )
        .with_remedy(format!("Use one of: {}.", known.join(", ")))
    })?;
    if kind == CredentialSourceKind::ClientSecret {
        let secret = string(obj, "ClientSecret", path)?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "{path} is a ClientSecret entry \
                without a ClientSecret value"
                ),
            )
            .with_remedy(
                "Add \"ClientSecret\": \"<the secret's value>\" (better: keep it \
                    out of the file, in AZURE_CLIENT_SECRET).",
            )
        })?;
        return Ok(Some(CredentialSource::ClientSecret {
            secret: Secret::from(secret),
        }));
    }
    if kind == CredentialSourceKind::SignedAssertionFilePath {
        let path = string(obj, "SignedAssertionFileDiskPath", path)?.map(std::path::PathBuf::from);
        return Ok(Some(CredentialSource::SignedAssertionFile { path }));
    }
    let password = string(obj, "CertificatePassword", path)?.map(Secret::from);
    if kind == CredentialSourceKind::Path {
        let file = string(obj, "CertificateDiskPath", path)?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!(
                    "{path} is a Path entry without \
                CertificateDiskPath"
                ),
            )
            .with_remedy(
                "Add \"CertificateDiskPath\": \"<path to the .pfx or .pem>\" (and \
                    CertificatePassword if the PFX has one).",
            )
        })?;
        return Ok(Some(CredentialSource::Certificate {
            source: CertificateSource::File(file.into()),
            password,
        }));
    }
    if kind == CredentialSourceKind::Base64Encoded {
        let value = string(obj, "Base64EncodedValue", path)?.ok_or_else(|| {
            Error::config(
                ErrorCode::MissingConfig,
                format!("{path} is a Base64Encoded entry without Base64EncodedValue"),
            )
            .with_remedy("Add \"Base64EncodedValue\": \"<base64 of the .pfx>\".")
        })?;
        return Ok(Some(CredentialSource::Certificate {
            source: CertificateSource::Base64(Secret::from(value)),
            password,
        }));
    }
    let ids = [
        string(obj, "ManagedIdentityClientId", path)?.map(ManagedIdentityId::ClientId),
        string(obj, "ManagedIdentityObjectId", path)?.map(ManagedIdentityId::ObjectId),
        string(obj, "ManagedIdentityResourceId", path)?.map(ManagedIdentityId::ResourceId),
    ];
    let mut ids = ids.into_iter().flatten();
    let named = ids.next();
    if ids.next().is_some() {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{path} names the managed \
            identity more than once"
            ),
        )
        .with_remedy(
            "Keep one of ManagedIdentityClientId, ManagedIdentityObjectId, \
                ManagedIdentityResourceId.",
        ));
    }
    // Id.Web's generic pair: the container (vault URL, store path) and what is in it.
    let container = string(obj, "Container", path)?;
    let reference = string(obj, "ReferenceOrValue", path)?;
    let required = |key: &str, fallback: Option<String>, example: &str| -> Result<String> {
        match string(obj, key, path)?.or(fallback) {
            Some(value) => Ok(value),
            None => Err(Error::config(
                ErrorCode::MissingConfig,
                format!("{path} is a {kind} entry without {key}"),
            )
            .with_remedy(format!("Add \"{key}\": \"{example}\"."))),
        }
    };
    let store = || -> Result<StorePath> {
        match string(obj, "CertificateStorePath", path)?.or(container.clone()) {
            Some(text) => StorePath::parse(&text),
            None => Ok(StorePath::current_user_my()),
        }
    };
    let store_entry = |find: StoreFind| -> Result<Option<CredentialSource>> {
        Ok(Some(CredentialSource::Certificate {
            source: CertificateSource::Store {
                store: store()?,
                find,
            },
            password: None,
        }))
    };
    match kind {
        CredentialSourceKind::SignedAssertionFromManagedIdentity => {}
        CredentialSourceKind::KeyVault => {
            let url = required(
                "KeyVaultUrl",
                container.clone(),
                "https://<vault>.vault.azure.net",
            )?;
            let name = required(
                "KeyVaultCertificateName",
                reference.clone(),
                "<certificate name>",
            )?;
            return Ok(Some(CredentialSource::Certificate {
                source: CertificateSource::KeyVault {
                    reference: KeyVaultReference::new(&url, &name)?,
                    managed_identity: named,
                },
                password: None,
            }));
        }
        CredentialSourceKind::StoreWithThumbprint => {
            let thumbprint = required(
                "CertificateThumbprint",
                reference.clone(),
                "<40 hex digits>",
            )?;
            return store_entry(StoreFind::thumbprint(&thumbprint)?);
        }
        CredentialSourceKind::StoreWithDistinguishedName => {
            let name = required(
                "CertificateDistinguishedName",
                reference.clone(),
                "CN=<subject>",
            )?;
            return store_entry(StoreFind::DistinguishedName(name));
        }
        CredentialSourceKind::StoreWithSubjectName => {
            let name = required("CertificateSubjectName", reference.clone(), "<subject>")?;
            return store_entry(StoreFind::SubjectName(name));
        }
        _ => return Ok(Some(CredentialSource::Unsupported { kind })),
    }
    let id = named.unwrap_or(ManagedIdentityId::SystemAssigned);
    let token_exchange_audience = string(obj, "TokenExchangeUrl", path)?;
    Ok(Some(CredentialSource::ManagedIdentity {
        id,
        token_exchange_audience,
    }))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}:{key}")
    }
}

fn find<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// The value of `key` (case-insensitive); two keys that differ only in case are an error,
/// because .NET would silently keep the last one.
fn lookup<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a Value>> {
    let mut hits = obj.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
    let first = hits.next();
    if let (Some((a, _)), Some((b, _))) = (first, hits.next()) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} appears twice ('{}' and '{}'); keys are case-insensitive",
                join(path, key),
                echo(a),
                echo(b)
            ),
        ));
    }
    Ok(first.map(|(_, v)| v).filter(|v| !v.is_null()))
}

fn string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match lookup(obj, key, path)? {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be a string, not {}",
                join(path, key),
                type_name(other)
            ),
        )),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>> {
    match lookup(obj, key, path)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        // .NET configuration carries everything as strings.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        // Only short scalars are echoed: an object or array may hold a secret.
        Some(Value::String(s)) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be true or false, not '{}'",
                join(path, key),
                echo(if s.len() <= 16 {
                    s
                } else {
                    "(a longer string)"
                })
            ),
        )),
        Some(other) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be true or false, not {}",
                join(path, key),
                type_name(other)
            ),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&[&str]]) -> Result<()> {
    let known = || allowed.iter().flat_map(|list| list.iter());
    for key in obj.keys() {
        if known().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        // A typo is short; a long key would only make the comparison slow.
        let suggestion = known()
            .filter(|_| key.len() <= 64)
            .map(|k| {
                (
                    edit_distance(&k.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                    *k,
                )
            })
            .filter(|(d, _)| *d <= 3)
            .min();
        let mut error = Error::config(
            ErrorCode::UnknownConfigKey,
            format!(
                "unknown key '{}' in the configuration",
                join(path, &echo(key).to_string())
            ),
        );
        error = match suggestion {
            Some((_, k)) => error.with_remedy(format!("Did you mean '{k}'?")),
            None => error.with_remedy(
                "Remove it; certless reads Microsoft.Identity.Web's keys \
                (Instance, TenantId, ClientId, ClientCredentials).",
            ),
        };
        return Err(error);
    }
    Ok(())
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

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
