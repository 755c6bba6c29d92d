//! Azure Arc-enabled servers (docs/protocol.md §2): the agent answers the first request 401 with
//! `WWW-Authenticate: Basic realm=<key file>`; the file's contents, readable only by the `himds`
//! group (Administrators on Windows), go back as `Authorization: Basic <contents>`.
//!
//! The challenge comes from whatever listens on the endpoint, so it is not trusted: the header
//! must split into exactly `Basic realm` and a path; only the path's file name is kept, and it
//! is looked up in the agent's fixed directory; it must end in `.key`; it must be a regular file
//! of at most 4096 bytes, checked before it is read (the fixes of CVE-2024-35255 across
//! Microsoft's SDKs).

use std::path::{Path, PathBuf};

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use super::source::{Source, selector};
use super::variables;
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::Response;
use crate::support::bounded_file::{self, FileError};
use crate::support::echo::echo_path;
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:40342/metadata/identity/oauth2/token";
const API_VERSION: &str = "2020-06-01";

const UNREACHABLE_REMEDY: &str = "The Azure Arc agent (himds) did not answer: check that it runs \
    (azcmagent show) and that the machine is connected.";

const ARC_AGENT_LINUX: &str = "/opt/azcmagent/bin/himds";

fn agent_path(env: &dyn Environment) -> PathBuf {
    if cfg!(windows) {
        let program_files = env
            .var("ProgramFiles")
            .unwrap_or_else(|| r"C:\Program Files".to_string());
        Path::new(&program_files)
            .join("AzureConnectedMachineAgent")
            .join("himds.exe")
    } else {
        PathBuf::from(ARC_AGENT_LINUX)
    }
}

/// Detected by the agent's variables, or by the agent being installed.
pub(super) fn detect(env: &dyn Environment) -> Option<String> {
    if env.var(vars::IDENTITY_ENDPOINT).is_some() && env.var(vars::IMDS_ENDPOINT).is_some() {
        return Some("IDENTITY_ENDPOINT and IMDS_ENDPOINT are set".into());
    }
    let agent = agent_path(env);
    env.file_exists(&agent)
        .then(|| format!("the Azure Arc agent is installed ({})", agent.display()))
}

pub(super) struct AzureArc {
    endpoint: String,
    /// The agent's fixed key-file directory: only file names come from the challenge.
    key_directory: PathBuf,
    id: ManagedIdentityId,
}

impl AzureArc {
    pub(super) fn new(env: &dyn Environment, id: ManagedIdentityId) -> Result<Self> {
        // The agent sets IMDS_ENDPOINT beside IDENTITY_ENDPOINT; certless does not use its
        // value, but a broken one says the environment is not the agent's.
        if let Some(imds) = env.var(vars::IMDS_ENDPOINT) {
            variables::check_endpoint(vars::IMDS_ENDPOINT, &imds)?;
        }
        let endpoint = match env.var(vars::IDENTITY_ENDPOINT) {
            Some(_) => variables::endpoint_url(env, vars::IDENTITY_ENDPOINT)?,
            None => DEFAULT_ENDPOINT.to_string(),
        };
        Ok(AzureArc {
            endpoint,
            key_directory: key_directory(env),
            id,
        })
    }

    fn token_request(
        &self,
        http: &reqwest::Client,
        resource: &str,
        key: Option<&Secret>,
    ) -> reqwest::RequestBuilder {
        let mut query: Vec<(&str, &str)> =
            vec![("api-version", API_VERSION), ("resource", resource)];
        // Arc serves only the system-assigned identity; a requested one is sent, and the answer
        // must name it (checked by `check_answer`), or the request fails closed.
        query.extend(selector(&self.id, ["client_id", "object_id", "msi_res_id"]));
        let request = http
            .get(&self.endpoint)
            .query(&query)
            .header("Metadata", "true");
        match key {
            Some(key) => request.header("Authorization", format!("Basic {}", key.expose())),
            None => request,
        }
    }
}

impl Source for AzureArc {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AzureArc
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder {
        self.token_request(http, resource, None)
    }

    fn answer_challenge(
        &self,
        http: &reqwest::Client,
        resource: &str,
        response: &Response,
    ) -> Option<Result<reqwest::RequestBuilder>> {
        (response.status == 401).then(|| {
            let key = key_from_challenge(response, &self.key_directory)?;
            Ok(self.token_request(http, resource, Some(&key)))
        })
    }

    fn check_answer(&self, body: &[u8]) -> Result<()> {
        check_identity(body, &self.id)
    }

    fn unreachable_remedy(&self) -> &'static str {
        UNREACHABLE_REMEDY
    }

    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String> {
        remedy(status, details)
    }
}

/// The agent's fixed key directory. Test builds may point it elsewhere.
fn key_directory(env: &dyn Environment) -> PathBuf {
    #[cfg(feature = "test-hooks")]
    if let Some(dir) = env.var("CERTLESS_TEST_ARC_KEY_DIR") {
        return PathBuf::from(dir);
    }
    if cfg!(windows) {
        let program_data = env
            .var("ProgramData")
            .unwrap_or_else(|| r"C:\ProgramData".to_string());
        Path::new(&program_data)
            .join("AzureConnectedMachineAgent")
            .join("Tokens")
    } else {
        let _ = env;
        PathBuf::from("/var/opt/azcmagent/tokens")
    }
}

/// The key the challenge points at, after every safety check.
pub(crate) fn key_from_challenge(response: &Response, directory: &Path) -> Result<Secret> {
    let refused = |why: String| {
        Error::new(
            ErrorCode::ManagedIdentityInvalidResponse,
            format!(
                "the Azure Arc challenge \
            was refused: {why}"
            ),
        )
        .with_leg(Leg::ManagedIdentity)
        .with_http_status(response.status)
        .with_remedy(
            "Only the Azure Arc agent may answer on its endpoint; something else is \
                listening there, or IDENTITY_ENDPOINT points elsewhere.",
        )
    };
    let header = response
        .header("www-authenticate")
        .ok_or_else(|| refused("the 401 has no WWW-Authenticate header".into()))?;
    let parts: Vec<&str> = header.split('=').collect();
    let [scheme, path] = parts.as_slice() else {
        return Err(refused(
            "WWW-Authenticate is not exactly 'Basic realm=<path>'".into(),
        ));
    };
    if *scheme != "Basic realm" || path.trim().is_empty() {
        return Err(refused(
            "WWW-Authenticate is not exactly 'Basic realm=<path>'".into(),
        ));
    }
    // Only the file name counts: the directory is the agent's own, never the server's say.
    let name = path.trim().rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = name.strip_suffix(".key").unwrap_or_default();
    if stem.is_empty() || stem.starts_with('.') || name.contains("..") {
        return Err(refused(format!(
            "the key file '{}' is not a '<name>.key' file",
            crate::support::secret::scrub_server_text(name)
        )));
    }
    let file = directory.join(name);
    let shown = echo_path(&file);
    let bytes = bounded_file::read(&file, bounded_file::ARC_KEY_FILE).map_err(|e| {
        let FileError::Io(io) = &e else {
            return refused(format!("the key file {shown} {e}"));
        };
        let mut error = Error::new(
            ErrorCode::ManagedIdentityKeyFileUnreadable,
            format!("cannot read the Azure Arc key file {shown} ({io})"),
        )
        .with_leg(Leg::ManagedIdentity);
        if e.is_permission_denied() {
            error = error.with_remedy(if cfg!(windows) {
                "Run as a member of Administrators or of the \"Hybrid agent extension \
                    applications\" group, which may read the Arc agent's key files."
            } else {
                "Add this process's user to the himds group (sudo usermod -aG himds <user>, then \
                    restart the process): only that group may read the Arc agent's key files."
            });
        }
        error
    })?;
    // The key goes back in a header: anything a header cannot carry is not the agent's key.
    let key = std::str::from_utf8(&bytes)
        .ok()
        .map(str::trim)
        .filter(|k| reqwest::header::HeaderValue::from_str(k).is_ok())
        .ok_or_else(|| {
            refused(format!(
                "the key file {shown} holds characters an Azure Arc key never has"
            ))
        })?;
    Ok(Secret::from(key.to_string()))
}

/// Fail closed when a user-assigned identity was asked for and the answer does not name it.
fn check_identity(body: &[u8], id: &ManagedIdentityId) -> Result<()> {
    let ManagedIdentityId::ClientId(wanted) = id else {
        if id.is_user_assigned() {
            return Err(mismatch(
                id,
                "the answer cannot confirm an object or resource id",
            ));
        }
        return Ok(());
    };
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match json.get("client_id").and_then(serde_json::Value::as_str) {
        Some(got) if got.eq_ignore_ascii_case(wanted) => Ok(()),
        Some(got) => Err(mismatch(
            id,
            &format!(
                "it answered for client id {}",
                crate::support::secret::scrub_server_text(got)
            ),
        )),
        None => Err(mismatch(id, "the answer names no client id")),
    }
}

fn mismatch(id: &ManagedIdentityId, what: &str) -> Error {
    Error::new(
        ErrorCode::ManagedIdentityWrongIdentity,
        format!(
            "Azure Arc was asked for the \
        {id} managed identity, but {what}"
        ),
    )
    .with_leg(Leg::ManagedIdentity)
    .with_remedy(
        "Azure Arc machines have only their system-assigned identity: remove \
            ManagedIdentityClientId, and trust that identity in the federated credential.",
    )
}

fn remedy(status: u16, _details: &ErrorDetails) -> Option<String> {
    match status {
        400 => Some(
            "The Arc agent refused the request: check the resource (token exchange \
            audience)."
                .to_string(),
        ),
        401 => Some(
            "The Arc agent refused the key: the key file changed between challenge and \
            answer; retry."
                .to_string(),
        ),
        500..=599 => Some(
            "The Arc agent had an internal error: retry; if it persists, restart \
            it (azcmagent)."
                .to_string(),
        ),
        _ => None,
    }
}
