//! Reading an app's federated credentials from Microsoft Graph for the doctor, with a token the
//! operator supplies (docs/protocol.md §10): `GET /v1.0/applications(appId='{app}')/
//! federatedIdentityCredentials`, then `GET /v1.0/directoryObjects/{id}` for each subject that
//! names another principal, to learn whether it still exists. Reads only; the token is held for
//! the walk and dropped.

use std::collections::HashMap;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::credentials::{FederatedCredential, parse_list};
use super::settings::GraphAccess;
use crate::credential::Credential;
use crate::entra::cloud::is_loopback;
use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;
use crate::support::secret::{Secret, scrub_server_text};
use crate::token::jwt::decode_claims;

/// How long a token command may run (`az` takes seconds; a login prompt would take forever).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Subjects resolved per walk at most (an app holds at most 20 credentials).
const MAX_LOOKUPS: usize = 20;

/// Roles or scopes that let a token write applications: worth a word, as reading is enough.
const WRITE_PERMISSIONS: &[&str] = &[
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.ReadWrite.All",
];

/// What Graph gave: the list, where it came from, and a note on the token when it could do more
/// than read.
pub(crate) struct GraphList {
    pub credentials: Vec<FederatedCredential>,
    pub url: String,
    pub token_note: Option<String>,
}

/// The token from the environment variable or the command `access` names.
pub(crate) async fn token(access: &GraphAccess) -> Result<Secret> {
    let text = match (&access.token_env, &access.token_command) {
        (Some(name), _) => std::env::var(name).map_err(|_| {
            graph_error(format!(
                "the environment variable {name} holds no Microsoft Graph token"
            ))
            .with_remedy(
                "Set it, for example from: az account get-access-token --resource-type \
                     ms-graph --query accessToken -o tsv",
            )
        })?,
        (None, Some(command)) => {
            let command = command.clone();
            tokio::task::spawn_blocking(move || run(&command))
                .await
                .map_err(|e| graph_error(format!("the token command did not finish: {e}")))??
        }
        (None, None) => {
            return Err(graph_error(
                "no Microsoft Graph token source was given".into(),
            ));
        }
    };
    let token = token_from_output(&text).ok_or_else(|| {
        graph_error("the Microsoft Graph token source printed no token".into()).with_remedy(
            "It must print the token, or the JSON of az account get-access-token (its \
             accessToken is used).",
        )
    })?;
    Ok(Secret::new(token))
}

/// The token in a command's output: `az account get-access-token`'s JSON (`accessToken`), or the
/// text itself.
fn token_from_output(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches('\u{feff}');
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).ok()?;
        return value
            .get("accessToken")
            .or_else(|| value.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    let text = text.strip_prefix("Bearer ").unwrap_or(text).trim();
    (!text.is_empty() && !text.contains(char::is_whitespace)).then(|| text.to_string())
}

/// Runs `command` through the shell and returns what it printed; its error output (never its
/// output, which may hold the token) goes into the error when it fails.
fn run(command: &str) -> Result<String> {
    let mut child = shell(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| graph_error(format!("the token command could not start: {e}")))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(1024 * 1024).read_to_string(&mut out);
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(64 * 1024).read_to_string(&mut err);
        }
        (out, err)
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(graph_error(format!(
                    "the token command ran for more than {}s and was stopped",
                    COMMAND_TIMEOUT.as_secs()
                ))
                .with_remedy("Is it waiting for a login? Run it by hand first (az login)."));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(graph_error(format!("the token command failed: {e}"))),
        }
    };
    let (out, err) = reader.join().unwrap_or_default();
    if !status.success() {
        let said = scrub_server_text(err.trim());
        let said: String = said.chars().take(600).collect();
        return Err(graph_error(format!(
            "the token command failed ({status}): {}",
            if said.is_empty() { "it said nothing on its error output".to_string() } else { said }
        ))
        .with_remedy("Run it by hand: az login first, then az account get-access-token --resource-type ms-graph."));
    }
    Ok(out)
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(command);
    c
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut c = Command::new("cmd.exe");
    c.arg("/C").arg(command);
    c
}

/// Graph's base URL: `url` when given (https, or http on loopback), else the cloud's.
pub(crate) fn base_url(access: &GraphAccess, credential: &Credential) -> Result<String> {
    let Some(url) = &access.url else {
        return Ok(credential.authority().cloud().graph.to_string());
    };
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        graph_error(format!(
            "the Microsoft Graph URL '{}' is not a URL ({e})",
            echo(url)
        ))
    })?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        _ => {
            return Err(Error::config(
                ErrorCode::InsecureAuthority,
                format!(
                    "the Microsoft Graph URL '{}' is not https: the token would travel \
                     unencrypted",
                    echo(url)
                ),
            ));
        }
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// The app's federated credentials from Graph.
pub(crate) async fn list(credential: &Credential, base: &str, token: &Secret) -> Result<GraphList> {
    let app = credential.client_id();
    let url = format!("{base}/v1.0/applications(appId='{app}')/federatedIdentityCredentials");
    let response = credential
        .get_with_bearer(&url, token, &format!("Microsoft Graph {url}"))
        .await?;
    if response.status != 200 {
        return Err(refusal(response.status, &response.body, app, &url));
    }
    let text = String::from_utf8_lossy(&response.body);
    let credentials = parse_list(&text, &format!("answer of Microsoft Graph {url}"))?;
    Ok(GraphList {
        credentials,
        url,
        token_note: write_note(token),
    })
}

/// For each subject in `subjects` (object ids of other principals): whether it still exists.
/// A subject Graph answers neither 200 nor 404 for is left out (unknown).
pub(crate) async fn resolve(
    credential: &Credential,
    base: &str,
    token: &Secret,
    subjects: &[String],
) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    for subject in subjects.iter().take(MAX_LOOKUPS) {
        let url = format!("{base}/v1.0/directoryObjects/{subject}");
        let target = format!("Microsoft Graph {url}");
        if let Ok(response) = credential.get_with_bearer(&url, token, &target).await {
            match response.status {
                200 => {
                    out.insert(subject.to_ascii_lowercase(), true);
                }
                404 => {
                    out.insert(subject.to_ascii_lowercase(), false);
                }
                _ => {}
            }
        }
    }
    out
}

/// Graph's refusal, in words that say what to do.
fn refusal(status: u16, body: &[u8], app: &str, url: &str) -> Error {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let (what, remedy) = match status {
        401 => (
            "refused the token (expired, or not for Microsoft Graph)",
            "Get a fresh one: az account get-access-token --resource-type ms-graph.".to_string(),
        ),
        403 => (
            "says the token may not read the app",
            "Use a user who can read the app registration (an owner, or the Application \
             Administrator role), or an app with Application.Read.All; reading is all certless \
             does."
                .to_string(),
        ),
        404 => (
            "has no app with this client id in the token's tenant",
            format!(
                "Check ClientId ({app}) and that the token is for the app's tenant (az login \
                 --tenant <tenant-id>)."
            ),
        ),
        _ => (
            "did not answer with the list",
            "Try again; if it persists, read the list with az ad app federated-credential list \
             and pass it as a file."
                .to_string(),
        ),
    };
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(", {}", echo(&code))
    };
    graph_error(format!(
        "Microsoft Graph {what} (HTTP {status}{code}) at {url}"
    ))
    .with_http_status(status)
    .with_remedy(remedy)
}

/// A note when the token could write applications: reading is all the doctor needs.
fn write_note(token: &Secret) -> Option<String> {
    let claims = decode_claims(token.expose()).ok()?;
    let mut granted: Vec<String> = claims
        .all
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(scp) = claims.all.get("scp").and_then(Value::as_str) {
        granted.extend(scp.split(' ').map(str::to_string));
    }
    let write: Vec<&str> = WRITE_PERMISSIONS
        .iter()
        .copied()
        .filter(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
        .collect();
    (!write.is_empty()).then(|| {
        format!(
            "the Graph token could also change applications ({}); certless only reads, and a \
             token with Application.Read.All is enough",
            write.join(", ")
        )
    })
}

fn graph_error(message: String) -> Error {
    Error::new(ErrorCode::ResourceRefused, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_read_from_az_json_or_plain_text() {
        let az = r#"{"accessToken": "eyJ0eXAi.abc.def", "expiresOn": "2026-12-07 10:00:00.000000",
            "subscription": "s", "tenant": "t", "tokenType": "Bearer"}"#;
        assert_eq!(token_from_output(az).as_deref(), Some("eyJ0eXAi.abc.def"));
        assert_eq!(token_from_output("  eyJ.a.b\n").as_deref(), Some("eyJ.a.b"));
        assert_eq!(
            token_from_output("Bearer eyJ.a.b").as_deref(),
            Some("eyJ.a.b")
        );
        assert_eq!(token_from_output(""), None);
        assert_eq!(token_from_output("ERROR: Please run 'az login'"), None);
        assert_eq!(token_from_output(r#"{"other": 1}"#), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_command_says_what_it_printed_on_stderr_but_never_its_output() {
        let e =
            run("echo secret-output-value; echo 'Please run az login' >&2; exit 3").unwrap_err();
        assert!(e.message().contains("Please run az login"), "{e}");
        assert!(!e.to_string().contains("secret-output-value"), "{e}");
        assert_eq!(run("printf tok").unwrap(), "tok");
    }
}
