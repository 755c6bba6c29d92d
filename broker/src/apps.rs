//! The apps a broker serves: one credential per configuration (`--config`, repeatable, or the
//! environment), and how a request's selector picks one.
//!
//! The SDKs' selectors name a *managed identity* (`client_id`, `object_id`/`principal_id`,
//! `mi_res_id`); a broker serves *apps*. `client_id` picks the app with that client id, or
//! else the one app whose managed identity has it; `object_id`/`principal_id` and `mi_res_id`
//! pick the one app whose managed identity is configured by that id. No selector means the
//! first configured app. Anything else — no match, or an identity shared by several apps — is
//! refused with an error that lists what is configured.

use certless::broker::wire::AppSelector;
use certless::{Credential, CredentialBuilder, Error, ErrorCode, ManagedIdentityId};

/// One app registration the broker serves.
pub(crate) struct App {
    pub(crate) credential: Credential,
    /// Lower case, as core keeps it.
    pub(crate) client_id: String,
    /// Where it was configured, for messages.
    pub(crate) origin: String,
}

/// The apps, in the order they were configured: the first is the default.
pub(crate) struct Apps {
    list: Vec<App>,
}

impl Apps {
    /// One credential per `--config` file, or one from the environment. A broker never asks
    /// a broker: `CERTLESS_BROKER` in its own environment is ignored.
    /// `--shared-cache` and its key file apply to every app.
    pub(crate) fn load(config: &crate::Config) -> Result<Apps, Error> {
        let configs = &config.configs;
        let builders: Vec<(CredentialBuilder, String)> = if configs.is_empty() {
            vec![(
                CredentialBuilder::from_env()?,
                "the environment".to_string(),
            )]
        } else {
            configs
                .iter()
                .map(|path| {
                    CredentialBuilder::from_config_file(path)
                        .map(|b| (b, format!("--config {}", path.display())))
                })
                .collect::<Result<_, _>>()?
        };
        let builders = builders
            .into_iter()
            .map(|(mut builder, origin)| {
                if let Some(url) = &config.shared_cache {
                    builder = builder.shared_cache(url.clone());
                }
                if let Some(path) = &config.shared_cache_key_file {
                    builder = builder.shared_cache_key_file(path);
                }
                (builder, origin)
            })
            .collect();
        Apps::from_builders(builders)
    }

    /// One app per builder (with where it was configured, for messages); a client id
    /// configured twice is refused.
    pub(crate) fn from_builders(builders: Vec<(CredentialBuilder, String)>) -> Result<Apps, Error> {
        let mut list: Vec<App> = Vec::new();
        for (builder, origin) in builders {
            let credential = builder.without_broker().build()?;
            let client_id = credential.client_id().to_ascii_lowercase();
            if let Some(first) = list.iter().find(|a| a.client_id == client_id) {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!(
                        "{origin} configures app {client_id}, which {} configures already",
                        first.origin
                    ),
                )
                .with_remedy("Give each app registration one configuration file."));
            }
            list.push(App {
                credential,
                client_id,
                origin,
            });
        }
        Ok(Apps { list })
    }

    pub(crate) fn all(&self) -> &[App] {
        &self.list
    }

    /// The app a request's selector names.
    pub(crate) fn select(&self, selector: AppSelector<'_>) -> Result<&App, Error> {
        let by_identity = |wanted: &dyn Fn(&ManagedIdentityId) -> bool| -> Vec<&App> {
            self.list
                .iter()
                .filter(|a| a.credential.managed_identity_id().is_some_and(wanted))
                .collect()
        };
        let (what, value, found) = match selector {
            AppSelector::Default => return Ok(&self.list[0]),
            AppSelector::ClientId(id) => {
                if let Some(app) = self
                    .list
                    .iter()
                    .find(|a| a.client_id.eq_ignore_ascii_case(id))
                {
                    return Ok(app);
                }
                let found =
                    by_identity(&|mi| matches!(mi, ManagedIdentityId::ClientId(c) if same(c, id)));
                ("client_id", id, found)
            }
            AppSelector::ObjectId(id) => (
                "object_id",
                id,
                by_identity(&|mi| matches!(mi, ManagedIdentityId::ObjectId(o) if same(o, id))),
            ),
            AppSelector::ResourceId(id) => (
                "mi_res_id",
                id,
                by_identity(&|mi| matches!(mi, ManagedIdentityId::ResourceId(r) if same(r, id))),
            ),
        };
        match found.as_slice() {
            [app] => Ok(app),
            [] => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "this broker serves no app for {what}={}; it serves {}",
                    shown(value),
                    self.describe()
                ),
            )
            .with_remedy(
                "Ask for one of the configured apps by its client id (client_id=, or the SDK's \
                 managed-identity client id option), or ask with no selector for the first one; \
                 to serve another app, add its configuration to the broker (--config).",
            )),
            several => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{what}={} is the managed identity of {} apps of this broker ({})",
                    shown(value),
                    several.len(),
                    several
                        .iter()
                        .map(|a| a.client_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_remedy("Ask for the app itself: client_id=<the app's client id>.")),
        }
    }

    /// `app 1111… (default), app 2222…`
    pub(crate) fn describe(&self) -> String {
        self.list
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 0 {
                    format!("app {} (the default)", a.client_id)
                } else {
                    format!("app {}", a.client_id)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A selector value as a message shows it: at most 120 characters, control characters escaped.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(120)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// Ids compare without regard to case, as Azure's do.
fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}
