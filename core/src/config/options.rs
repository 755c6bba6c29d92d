//! The options every host fills in its own idiom — Python keyword arguments, a JavaScript
//! object, a C options handle, .NET properties — defined once, here, with their validation. An
//! option added to [`OPTIONS`] reaches every host with the same rules and the same error text.
//! [`CredentialOptions::build`] (next to `Credential`) validates and builds.
//!
//! Names are matched without regard to case or underscores, so `tenant_id` (Python, C),
//! `tenantId` (JavaScript) and `TenantId` (.NET) are one option. A duration option also takes
//! milliseconds under its name plus `_ms` (`connectTimeoutMs`), the JavaScript convention.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{CredentialBuilder, idweb::edit_distance};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::Timeouts;
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::support::echo::echo;
use crate::support::env::{Environment, MapEnv};

/// The kind of value an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionKind {
    /// Text.
    Text,
    /// A file path.
    Path,
    /// A duration in seconds (or milliseconds under the `_ms` name).
    Seconds,
    /// True or false.
    Flag,
}

/// One option every host accepts.
#[derive(Clone, Copy, Debug)]
pub struct OptionInfo {
    /// The canonical (snake_case) name.
    pub name: &'static str,
    /// What it takes.
    pub kind: OptionKind,
    /// One line for the host's documentation.
    pub doc: &'static str,
}

const fn option(name: &'static str, kind: OptionKind, doc: &'static str) -> OptionInfo {
    OptionInfo { name, kind, doc }
}

/// Every option, in the order hosts document them. `environment` entries are set one by one
/// with [`CredentialOptions::set_environment_variable`].
pub const OPTIONS: &[OptionInfo] = &[
    option(
        "tenant_id",
        OptionKind::Text,
        "The app registration's directory (tenant): a GUID or a verified domain.",
    ),
    option(
        "client_id",
        OptionKind::Text,
        "The app registration's Application (client) ID.",
    ),
    option(
        "authority_host",
        OptionKind::Text,
        "The cloud's login host (default https://login.microsoftonline.com).",
    ),
    option(
        "managed_identity_client_id",
        OptionKind::Text,
        "A user-assigned managed identity by client id (at most one of the three; none: \
         system-assigned).",
    ),
    option(
        "managed_identity_object_id",
        OptionKind::Text,
        "A user-assigned managed identity by object (principal) id.",
    ),
    option(
        "managed_identity_resource_id",
        OptionKind::Text,
        "A user-assigned managed identity by ARM resource id.",
    ),
    option(
        "managed_identity_source",
        OptionKind::Text,
        "Use this managed-identity source (imds, app_service, service_fabric, azure_arc, \
         cloud_shell, azure_ml) instead of detecting it.",
    ),
    option(
        "token_exchange_audience",
        OptionKind::Text,
        "The managed-identity token's audience (default api://AzureADTokenExchange, or the \
         cloud's).",
    ),
    option(
        "connect_timeout",
        OptionKind::Seconds,
        "Time to establish a connection (default 5 s).",
    ),
    option(
        "request_timeout",
        OptionKind::Seconds,
        "Time for one HTTP request (default 30 s).",
    ),
    option(
        "deadline",
        OptionKind::Seconds,
        "Time for one token request, retries included (default 120 s, or \
         CERTLESS_REQUEST_DEADLINE).",
    ),
    option(
        "ca_file",
        OptionKind::Path,
        "A PEM file of extra CA certificates to trust for Entra.",
    ),
    option(
        "shared_cache",
        OptionKind::Text,
        "Share tokens with every machine on this Redis (redis://, rediss:// for TLS, \
         redis+sentinel://host1,host2/MASTER, redis+cluster://host1,host2), or off (default \
         CERTLESS_SHARED_CACHE; docs/shared-cache.md).",
    ),
    option(
        "shared_cache_key_file",
        OptionKind::Path,
        "The file of the keys that seal the shared cache's entries (default \
         CERTLESS_SHARED_CACHE_KEY_FILE).",
    ),
    option(
        "shared_cache_ca_file",
        OptionKind::Path,
        "A PEM file of the CAs that sign the shared cache's TLS certificate (default the \
         system's).",
    ),
    option(
        "config_json",
        OptionKind::Text,
        "Start from this Microsoft.Identity.Web configuration (appsettings.json or its AzureAd \
         section).",
    ),
    option(
        "config_file",
        OptionKind::Path,
        "Start from this Microsoft.Identity.Web configuration file.",
    ),
    option(
        "from_env",
        OptionKind::Flag,
        "Start from the environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...).",
    ),
];

/// Durations an option may take: a positive time of at most an hour.
const MAX_SECONDS: f64 = 3600.0;

/// A value given for an option, in whatever form the host has it.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// Text (also accepted for numbers and flags: `"30"`, `"true"`).
    Text(String),
    /// A number.
    Number(f64),
    /// A flag.
    Flag(bool),
    /// A value of a kind no option takes (a list, an object), described for the error message
    /// (`"a list"`): the error then says what the option takes instead.
    Other(String),
}

/// The options of a credential, set by name. Build it with [`CredentialOptions::build`].
#[derive(Clone, Default, PartialEq)]
pub struct CredentialOptions {
    text: BTreeMap<&'static str, String>,
    seconds: BTreeMap<&'static str, Duration>,
    from_env: bool,
    environment: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for CredentialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The JSON configuration may hold a client secret: names only.
        f.debug_struct("CredentialOptions")
            .field("text", &self.text.keys().collect::<Vec<_>>())
            .field("seconds", &self.seconds)
            .field("from_env", &self.from_env)
            .field(
                "environment",
                &self
                    .environment
                    .as_ref()
                    .map(|e| e.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// A name folded for matching: lowercase, without `_` and `-`.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `canonical` (snake_case) spelled in the idiom of `given`: `tenantId` for a camelCase name
/// (JavaScript), `TenantId` for a PascalCase one (.NET), `tenant_id` otherwise (Python, C).
fn spell_like(given: &str, canonical: &str) -> String {
    let snake = given.contains(['_', '-']) || !given.chars().any(char::is_uppercase);
    if snake {
        return canonical.to_string();
    }
    let pascal = given.chars().next().is_some_and(char::is_uppercase);
    let mut out = String::with_capacity(canonical.len());
    for (i, word) in canonical.split('_').enumerate() {
        let mut chars = word.chars();
        match chars.next() {
            Some(first) if i > 0 || pascal => {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// The option `name` stands for, and whether it was given in milliseconds.
fn lookup(name: &str) -> Result<(&'static OptionInfo, bool)> {
    let wanted = fold(name);
    // Every spelling an option answers to: its name, and its name plus `_ms` for a duration.
    let names = OPTIONS.iter().flat_map(|info| {
        let ms = (info.kind == OptionKind::Seconds).then_some((info, true));
        std::iter::once((info, false)).chain(ms)
    });
    let display = |info: &OptionInfo, in_ms: bool| {
        if in_ms {
            format!("{}_ms", info.name)
        } else {
            info.name.to_string()
        }
    };
    for (info, in_ms) in names.clone() {
        if fold(&display(info, in_ms)) == wanted {
            return Ok((info, in_ms));
        }
    }
    let suggestion = names
        .filter(|_| name.len() <= 64)
        .map(|(info, in_ms)| {
            let known = display(info, in_ms);
            (edit_distance(&fold(&known), &wanted), known)
        })
        .filter(|(d, _)| *d <= 3)
        .min();
    let error = Error::new(
        ErrorCode::UnknownConfigKey,
        format!("unknown option '{}'", echo(name)),
    )
    .with_leg(Leg::Config);
    Err(match suggestion {
        Some((_, known)) => {
            error.with_remedy(format!("Did you mean '{}'?", spell_like(name, &known)))
        }
        None => {
            let names: Vec<String> = OPTIONS.iter().map(|o| spell_like(name, o.name)).collect();
            error.with_remedy(format!("The options are: {}.", names.join(", ")))
        }
    })
}

fn invalid(message: String, remedy: &'static str) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
        .with_leg(Leg::Config)
        .with_remedy(remedy)
}

impl CredentialOptions {
    /// No option set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets option `name` (any case, with or without underscores) to `value`. A wrong name, or
    /// a value of the wrong kind, is an error that says which and what was expected; nothing
    /// is changed then.
    pub fn set(&mut self, name: &str, value: OptionValue) -> Result<()> {
        let (info, in_ms) = lookup(name)?;
        let canonical = if in_ms {
            format!("{}_ms", info.name)
        } else {
            info.name.to_string()
        };
        let given = spell_like(name, &canonical);
        match info.kind {
            OptionKind::Text | OptionKind::Path => match value {
                OptionValue::Text(text) => {
                    self.text.insert(info.name, text);
                }
                other => {
                    return Err(invalid(
                        format!("{given} takes text, not {}", describe(&other)),
                        "Pass a string.",
                    ));
                }
            },
            OptionKind::Seconds => {
                let number = match value {
                    OptionValue::Number(n) => n,
                    OptionValue::Text(t) => t.trim().parse::<f64>().map_err(|_| {
                        invalid(
                            format!("{given} takes a number, not '{}'", echo(&t)),
                            "Pass a number of seconds (milliseconds for an option named ..._ms).",
                        )
                    })?,
                    other => {
                        return Err(invalid(
                            format!("{given} takes a number, not {}", describe(&other)),
                            "Pass a number of seconds (milliseconds for an option named ..._ms).",
                        ));
                    }
                };
                let secs = if in_ms { number / 1000.0 } else { number };
                if !(secs > 0.0 && secs <= MAX_SECONDS) {
                    let unit = if in_ms { "ms" } else { "s" };
                    return Err(invalid(
                        format!(
                            "{given} is {number} {unit}; it must be more than 0 and at most one \
                                hour"
                        ),
                        "Pass a positive duration of at most 3600 seconds.",
                    ));
                }
                self.seconds
                    .insert(info.name, Duration::from_secs_f64(secs));
            }
            OptionKind::Flag => {
                self.from_env = match value {
                    OptionValue::Flag(b) => b,
                    OptionValue::Text(t) if t.trim().eq_ignore_ascii_case("true") => true,
                    OptionValue::Text(t) if t.trim().eq_ignore_ascii_case("false") => false,
                    other => {
                        return Err(invalid(
                            format!("{given} takes true or false, not {}", describe(&other)),
                            "Pass a boolean.",
                        ));
                    }
                };
            }
        }
        Ok(())
    }

    /// Clears option `name` (as if it had never been set).
    pub fn unset(&mut self, name: &str) -> Result<()> {
        let (info, _) = lookup(name)?;
        self.text.remove(info.name);
        self.seconds.remove(info.name);
        if info.kind == OptionKind::Flag {
            self.from_env = false;
        }
        Ok(())
    }

    /// Adds an environment variable to the environment the credential reads (managed-identity
    /// detection, `from_env`) instead of the process's. Once one is added, the process's
    /// environment is not read at all.
    pub fn set_environment_variable(&mut self, name: &str, value: &str) -> Result<()> {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(invalid(
                format!("'{}' is not an environment variable name", echo(name)),
                "Pass a name without '=' or NUL.",
            ));
        }
        self.environment
            .get_or_insert_with(BTreeMap::new)
            .insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// An empty environment: the credential then reads no variable of the process's.
    pub fn isolate_environment(&mut self) {
        self.environment.get_or_insert_with(BTreeMap::new);
    }

    /// The builder these options describe: a configuration (`config_json`, `config_file` or
    /// `from_env`, at most one) with the other options applied on top, or the options alone.
    pub fn builder(&self) -> Result<CredentialBuilder> {
        let text = |name: &str| self.text.get(name).cloned();
        let environment = self
            .environment
            .as_ref()
            .map(|vars| Arc::new(MapEnv::new().with_vars(vars.clone())) as Arc<dyn Environment>);
        let identities: Vec<ManagedIdentityId> = [
            text("managed_identity_client_id").map(ManagedIdentityId::ClientId),
            text("managed_identity_object_id").map(ManagedIdentityId::ObjectId),
            text("managed_identity_resource_id").map(ManagedIdentityId::ResourceId),
        ]
        .into_iter()
        .flatten()
        .collect();
        if identities.len() > 1 {
            return Err(invalid(
                "managed_identity_client_id, managed_identity_object_id and \
                 managed_identity_resource_id name the same thing: give at most one"
                    .to_string(),
                "Keep the one you know; the client id is the usual choice.",
            ));
        }
        let bases = [
            text("config_json").is_some(),
            text("config_file").is_some(),
            self.from_env,
        ];
        if bases.iter().filter(|b| **b).count() > 1 {
            return Err(invalid(
                "config_json, config_file and from_env each say where the configuration comes \
                 from: give at most one"
                    .to_string(),
                "Keep one; set other options beside it to override its values.",
            ));
        }
        let mut builder = if let Some(json) = text("config_json") {
            CredentialBuilder::from_config_json(&json)?
        } else if let Some(path) = text("config_file") {
            CredentialBuilder::from_config_file(path)?
        } else if self.from_env {
            match &environment {
                Some(env) => CredentialBuilder::from_environment(Arc::clone(env))?,
                None => CredentialBuilder::from_env()?,
            }
        } else {
            let id = identities
                .first()
                .cloned()
                .unwrap_or(ManagedIdentityId::SystemAssigned);
            CredentialBuilder::new().managed_identity(id)
        };
        let from_config = bases.iter().any(|b| *b);
        if from_config && !identities.is_empty() {
            return Err(invalid(
                "the managed identity comes from the configuration here, not from the \
                 managed_identity_* options"
                    .to_string(),
                "Set ManagedIdentityClientId in the configuration (or \
                 CERTLESS_MANAGED_IDENTITY_CLIENT_ID in the environment) instead.",
            ));
        }
        if let Some(v) = text("tenant_id") {
            builder = builder.tenant_id(v);
        }
        if let Some(v) = text("client_id") {
            builder = builder.client_id(v);
        }
        if let Some(v) = text("authority_host") {
            builder = builder.authority_host(v);
        }
        if let Some(v) = text("managed_identity_source") {
            builder = builder.managed_identity_source(ManagedIdentitySource::parse(&v)?);
        }
        if let Some(v) = text("token_exchange_audience") {
            builder = builder.token_exchange_audience(v);
        }
        let (connect, request) = (
            self.seconds.get("connect_timeout"),
            self.seconds.get("request_timeout"),
        );
        if connect.is_some() || request.is_some() {
            let defaults = Timeouts::default();
            builder = builder.timeouts(Timeouts {
                connect: connect.copied().unwrap_or(defaults.connect),
                request: request.copied().unwrap_or(defaults.request),
            });
        }
        if let Some(deadline) = self.seconds.get("deadline") {
            builder = builder.deadline(*deadline);
        }
        if let Some(path) = text("ca_file") {
            builder = builder.ca_file(PathBuf::from(path));
        }
        if let Some(url) = text("shared_cache") {
            builder = builder.shared_cache(url);
        }
        if let Some(path) = text("shared_cache_key_file") {
            builder = builder.shared_cache_key_file(PathBuf::from(path));
        }
        if let Some(path) = text("shared_cache_ca_file") {
            builder = builder.shared_cache_ca_file(PathBuf::from(path));
        }
        if let Some(env) = environment {
            builder = builder.environment(env);
        }
        Ok(builder)
    }
}

fn describe(value: &OptionValue) -> String {
    match value {
        OptionValue::Text(t) => format!("the text '{}'", echo(t)),
        OptionValue::Number(n) => format!("the number {n}"),
        OptionValue::Flag(b) => format!("the flag {b}"),
        OptionValue::Other(what) => what.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.to_string())
    }

    #[test]
    fn names_match_in_every_host_idiom() {
        for name in [
            "tenant_id",
            "tenantId",
            "TenantId",
            "TENANT_ID",
            "tenant-id",
        ] {
            let mut o = CredentialOptions::new();
            o.set(name, text("t")).unwrap();
            assert_eq!(
                o.text.get("tenant_id").map(String::as_str),
                Some("t"),
                "{name}"
            );
        }
        let mut o = CredentialOptions::new();
        o.set("connectTimeoutMs", OptionValue::Number(1500.0))
            .unwrap();
        o.set("request_timeout", OptionValue::Number(2.5)).unwrap();
        o.set("deadline", text("90")).unwrap();
        assert_eq!(o.seconds["connect_timeout"], Duration::from_millis(1500));
        assert_eq!(o.seconds["request_timeout"], Duration::from_millis(2500));
        assert_eq!(o.seconds["deadline"], Duration::from_secs(90));
    }

    #[test]
    fn wrong_names_and_values_say_what_was_expected() {
        let mut o = CredentialOptions::new();
        let e = o.set("tennant_id", text("t")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownConfigKey);
        assert_eq!(e.remedy(), Some("Did you mean 'tenant_id'?"));
        let e = o.set("colour", text("t")).unwrap_err();
        assert!(e.remedy().unwrap().contains("deadline"), "{e}");
        for (name, value) in [
            ("connect_timeout", OptionValue::Number(0.0)),
            ("connect_timeout", OptionValue::Number(-1.0)),
            ("connect_timeout", OptionValue::Number(f64::NAN)),
            ("deadline", OptionValue::Number(86_400.0)),
            ("connect_timeout_ms", OptionValue::Number(0.5e7)),
            ("deadline", text("soon")),
            ("deadline", OptionValue::Flag(true)),
            ("tenant_id", OptionValue::Number(3.0)),
            ("from_env", text("yes")),
        ] {
            let e = o.set(name, value.clone()).unwrap_err();
            assert_eq!(
                e.code(),
                ErrorCode::InvalidArgument,
                "{name} {value:?}: {e}"
            );
            assert!(e.message().contains(name.trim_end_matches("_ms")), "{e}");
        }
        assert_eq!(o, CredentialOptions::new(), "nothing was changed");
    }

    #[test]
    fn errors_spell_names_in_the_callers_idiom() {
        let mut o = CredentialOptions::new();
        let did_you_mean = |o: &mut CredentialOptions, name: &str| {
            o.set(name, text("t"))
                .unwrap_err()
                .remedy()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            did_you_mean(&mut o, "tennantId"),
            "Did you mean 'tenantId'?"
        );
        assert_eq!(
            did_you_mean(&mut o, "TennantId"),
            "Did you mean 'TenantId'?"
        );
        assert_eq!(
            did_you_mean(&mut o, "tennant_id"),
            "Did you mean 'tenant_id'?"
        );
        // A duration's milliseconds spelling is suggested too.
        assert_eq!(
            did_you_mean(&mut o, "conectTimeoutMs"),
            "Did you mean 'connectTimeoutMs'?"
        );
        assert_eq!(did_you_mean(&mut o, "deadlin"), "Did you mean 'deadline'?");
        let e = o
            .set("connectTimeoutMs", OptionValue::Number(0.0))
            .unwrap_err();
        assert!(e.message().starts_with("connectTimeoutMs is 0 ms"), "{e}");
        let e = o
            .set("RequestTimeout", OptionValue::Number(7200.0))
            .unwrap_err();
        assert!(e.message().starts_with("RequestTimeout is 7200 s"), "{e}");
    }

    #[test]
    fn a_value_no_option_takes_gets_what_the_option_takes() {
        let mut o = CredentialOptions::new();
        let other = || OptionValue::Other("a list".to_string());
        let e = o.set("tenant_id", other()).unwrap_err();
        assert_eq!(e.message(), "tenant_id takes text, not a list");
        let e = o.set("deadlineMs", other()).unwrap_err();
        assert_eq!(e.message(), "deadlineMs takes a number, not a list");
        let e = o.set("from_env", other()).unwrap_err();
        assert_eq!(e.message(), "from_env takes true or false, not a list");
        // The name is checked first.
        let e = o.set("tenant", other()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownConfigKey);
        assert_eq!(o, CredentialOptions::new());
    }

    #[test]
    fn combinations_are_checked() {
        let mut o = CredentialOptions::new();
        o.set("managed_identity_client_id", text("a")).unwrap();
        o.set("managed_identity_object_id", text("b")).unwrap();
        assert!(o.builder().unwrap_err().message().contains("at most one"));
        let mut o = CredentialOptions::new();
        o.set("config_json", text("{}")).unwrap();
        o.set("from_env", OptionValue::Flag(true)).unwrap();
        assert!(o.builder().unwrap_err().message().contains("at most one"));
        o.unset("from_env").unwrap();
        o.set("managed_identity_client_id", text("a")).unwrap();
        let json = r#"{"TenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","ClientId":"11111111-2222-3333-4444-555555555555","ClientCredentials":[{"SourceType":"SignedAssertionFromManagedIdentity"}]}"#;
        o.set("config_json", text(json)).unwrap();
        assert!(o.builder().unwrap_err().message().contains("configuration"));
    }

    #[test]
    fn debug_shows_names_only() {
        let mut o = CredentialOptions::new();
        o.set("config_json", text(r#"{"ClientSecret":"hunter2"}"#))
            .unwrap();
        o.set_environment_variable("AZURE_CLIENT_SECRET", "hunter2")
            .unwrap();
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("config_json"), "{shown}");
    }
}
