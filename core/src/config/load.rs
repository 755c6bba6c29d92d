//! A builder from a Microsoft.Identity.Web configuration (JSON text or an `appsettings.json` file,
//! [`super::idweb`]) or from environment variables ([`super::from_env`]).

use std::path::Path;
use std::sync::Arc;

use super::builder::CredentialBuilder;
use super::{encoding, from_env, idweb};
use crate::error::{Error, ErrorCode, Result};
use crate::support::bounded_file;
use crate::support::echo::echo_path;
use crate::support::env::{Environment, process_env};

impl CredentialBuilder {
    /// A Microsoft.Identity.Web configuration: a whole `appsettings.json` or its `AzureAd` section.
    /// As in .NET, `//` and `/* */` comments and trailing commas are allowed (and a leading byte
    /// order mark, from a host that decoded a file without removing it).
    pub fn from_config_json(json: &str) -> Result<Self> {
        let origin = "configuration JSON";
        if json.len() as u64 > bounded_file::CONFIG_FILE.bytes {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "the {origin} is larger than the {} limit for a configuration ({} bytes)",
                    bounded_file::CONFIG_FILE,
                    json.len()
                ),
            )
            .with_remedy(
                "Pass the Microsoft.Identity.Web configuration (its AzureAd section is enough).",
            ));
        }
        idweb::parse(json.strip_prefix('\u{feff}').unwrap_or(json), origin)
    }

    /// [`from_config_json`](Self::from_config_json) from a file, in the encoding its byte order
    /// mark says (UTF-8, UTF-16 or UTF-32; UTF-8 without one), as .NET reads it. The file must be
    /// a regular file of at most 1 MiB.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = format!("configuration file {}", echo_path(path));
        let text = read_text_file(path, &origin)?;
        idweb::parse(&text, &origin)
    }

    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST` and
    /// `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` / `_OBJECT_ID` / `_RESOURCE_ID` from the process.
    pub fn from_env() -> Result<Self> {
        from_env::parse(process_env())
    }

    /// [`from_env`](Self::from_env) from a given environment (tests, hosts with their own settings).
    pub fn from_environment(env: Arc<dyn Environment>) -> Result<Self> {
        from_env::parse(env)
    }
}

/// The text of a JSON file someone named (`origin` says what it is, for errors): a regular file of
/// at most 1 MiB, in the encoding its byte order mark says (UTF-8, UTF-16 or UTF-32; UTF-8
/// without one), as .NET reads it. PowerShell 5's `>` writes UTF-16, so `az ... > list.json`
/// files arrive that way too.
pub(crate) fn read_text_file(path: &Path, origin: &str) -> Result<String> {
    let bytes = bounded_file::read(path, bounded_file::CONFIG_FILE).map_err(|e| {
        let error = Error::config(ErrorCode::ConfigFileUnreadable, format!("the {origin} {e}"));
        match e {
            bounded_file::FileError::Io(_) => error
                .with_remedy("Check the path and that this process's account may read the file."),
            _ => error.with_remedy("Give the path of the file itself."),
        }
    })?;
    encoding::decode(&bytes).map_err(|e| {
        Error::config(ErrorCode::InvalidConfig, format!("the {origin} {e}")).with_remedy(e.remedy())
    })
}
