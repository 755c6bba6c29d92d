//! What a diagnosis is asked to do beyond walking the flow: the scope, and where to read the app's
//! federated credentials back from (a file, inline JSON, or Microsoft Graph with a token the
//! operator supplies). Every host passes the same settings: as arguments in Rust, the CLI's
//! flags, or this type's JSON (C, .NET, Python and Node), whose unknown keys are refused.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, ErrorCode, Result};

/// How `diagnose` runs. The default asks for Microsoft Graph's default scope and reads no
/// federated credentials back.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseSettings {
    /// The scope to get a token for (default [`super::DEFAULT_SCOPE`]).
    #[serde(default)]
    pub scope: Option<String>,
    /// A file with the app's federated credentials: what `az ad app federated-credential list
    /// --id <app>` prints, or Graph's list.
    #[serde(default)]
    pub federated_credentials_file: Option<PathBuf>,
    /// The same list, as JSON (an array, or Graph's `{"value": [...]}`).
    #[serde(default)]
    pub federated_credentials: Option<serde_json::Value>,
    /// Read the list from Microsoft Graph.
    #[serde(default)]
    pub graph: Option<GraphAccess>,
}

/// Where the Microsoft Graph token comes from: exactly one of an environment variable and a
/// command. It needs read access to the app (a user who can read it, or an app with
/// `Application.Read.All`); it is used for the doctor's reads and never stored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphAccess {
    /// The name of an environment variable that holds the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// A command that prints the token, or the JSON `az account get-access-token` prints
    /// (e.g. `az account get-access-token --resource-type ms-graph`). Run by the shell.
    #[serde(default)]
    pub token_command: Option<String>,
    /// Microsoft Graph's URL; default: the configured cloud's (`https://graph.microsoft.com`).
    /// https, or http on a loopback address (the emulator).
    #[serde(default)]
    pub url: Option<String>,
}

impl DiagnoseSettings {
    /// Settings from JSON (the bindings' form): an object with the fields above; `null` or an
    /// empty text means the defaults.
    pub fn from_json(json: &str) -> Result<Self> {
        let json = json.trim();
        if json.is_empty() || json == "null" {
            return Ok(Self::default());
        }
        let settings: Self = serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("the diagnose settings are not valid: {e}"),
            )
            .with_remedy(
                "Pass a JSON object with any of: scope, federated_credentials_file, \
                 federated_credentials, graph ({token_env | token_command, url}).",
            )
        })?;
        settings.check()?;
        Ok(settings)
    }

    /// Refuses settings that contradict themselves.
    pub fn check(&self) -> Result<()> {
        let invalid = |what: &str| Error::new(ErrorCode::InvalidArgument, what.to_string());
        let sources = [
            self.federated_credentials_file.is_some(),
            self.federated_credentials.is_some(),
            self.graph.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(invalid(
                "give the federated credentials one way: a file, inline JSON, or Microsoft Graph",
            ));
        }
        if let Some(graph) = &self.graph {
            match (&graph.token_env, &graph.token_command) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        "Microsoft Graph needs exactly one token source: token_env or \
                         token_command",
                    )
                    .with_remedy(
                        "For example token_command: az account get-access-token \
                         --resource-type ms-graph",
                    ));
                }
                (Some(name), None) if name.trim().is_empty() => {
                    return Err(invalid("graph.token_env names no variable"));
                }
                (None, Some(command)) if command.trim().is_empty() => {
                    return Err(invalid("graph.token_command is empty"));
                }
                _ => {}
            }
        }
        if matches!(&self.scope, Some(s) if s.trim().is_empty()) {
            return Err(invalid("the scope is empty"));
        }
        Ok(())
    }

    /// The scope to ask for.
    pub fn scope(&self) -> &str {
        self.scope.as_deref().unwrap_or(super::DEFAULT_SCOPE)
    }

    /// Whether the app's federated credentials are to be read back.
    pub(crate) fn reads_credentials(&self) -> bool {
        self.federated_credentials_file.is_some()
            || self.federated_credentials.is_some()
            || self.graph.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_settings_are_read_and_checked() {
        let s = DiagnoseSettings::from_json(
            r#"{"scope":"https://x/.default","graph":{"token_env":"GRAPH_TOKEN","url":"http://127.0.0.1:1"}}"#,
        )
        .unwrap();
        assert_eq!(s.scope(), "https://x/.default");
        assert_eq!(s.graph.unwrap().token_env.as_deref(), Some("GRAPH_TOKEN"));
        assert_eq!(
            DiagnoseSettings::from_json("null").unwrap().scope(),
            super::super::DEFAULT_SCOPE
        );
        for (bad, says) in [
            (r#"{"scop":"x"}"#, "unknown field `scop`"),
            (r#"{"graph":{}}"#, "exactly one token source"),
            (
                r#"{"graph":{"token_env":"A","token_command":"b"}}"#,
                "exactly one token source",
            ),
            (
                r#"{"graph":{"token_env":"A","tokn":1}}"#,
                "unknown field `tokn`",
            ),
            (
                r#"{"federated_credentials":[],"federated_credentials_file":"f"}"#,
                "one way",
            ),
            (r#"{"scope":" "}"#, "scope is empty"),
            ("[1", "not valid"),
        ] {
            let e = DiagnoseSettings::from_json(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}");
            assert!(e.message().contains(says), "{bad}: {e}");
        }
    }
}
