//! The emulator's configuration and its JSON file: reading, checking and writing it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::registry::Registry;
use crate::error::EmulatorError;

/// Configuration of an emulator: today, its registry. The JSON file is the registry's JSON (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmulatorConfig {
    /// The directory the emulator serves.
    pub registry: Registry,
}

impl EmulatorConfig {
    /// A configuration from JSON (the `--config` file's format).
    pub fn from_json_str(s: &str) -> Result<Self, EmulatorError> {
        let registry: Registry =
            serde_json::from_str(s).map_err(|e| EmulatorError::Config(e.to_string()))?;
        registry.validate()?;
        Ok(EmulatorConfig { registry })
    }

    /// A configuration from a JSON file.
    pub fn from_file(path: &Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text).map_err(|e| match e {
            EmulatorError::Config(m) => EmulatorError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The configuration as the JSON file format (pretty-printed).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.registry).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_registry_is_valid_and_round_trips() {
        let cfg = EmulatorConfig::default();
        cfg.registry.validate().expect("built-in registry is valid");
        let back = EmulatorConfig::from_json_str(&cfg.to_json_string()).expect("round trip");
        assert_eq!(back, cfg);
    }

    #[test]
    fn unknown_field_is_named_in_the_error() {
        let err =
            EmulatorConfig::from_json_str(r#"{"tenant_id":"t","user_assigned":[],"bogus":1}"#)
                .expect_err("unknown field must fail");
        let text = err.to_string();
        assert!(text.contains("unknown field `bogus`"), "{text}");
    }

    #[test]
    fn nested_unknown_field_fails_too() {
        let err = EmulatorConfig::from_json_str(
            r#"{"user_assigned":[{"name":"a","client_id":"c","object_id":"o","colour":"red"}]}"#,
        )
        .expect_err("unknown nested field must fail");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn registry_without_identity_is_rejected() {
        let err = EmulatorConfig::from_json_str("{}").expect_err("no identity");
        assert!(err.to_string().contains("no managed identity"), "{err}");
    }
}
