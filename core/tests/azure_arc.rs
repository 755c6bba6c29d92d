//! Azure Arc: the 401 challenge, the key file, `Authorization: Basic`, and every key-file
//! safety check against hostile challenges. The key directory can be pointed at the emulator's
//! only in test builds (`--features test-hooks`).
#![cfg(feature = "test-hooks")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use certless::env::MapEnv;
use certless::{Credential, ErrorCode, ManagedIdentityId, ManagedIdentitySource, Retries};
use certless_emulator::{Endpoint, MiSourceKind, RunningEmulator};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn arc_env(emu: &RunningEmulator, key_dir: &Path) -> MapEnv {
    MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::AzureArc))
        .with_var("CERTLESS_TEST_ARC_KEY_DIR", key_dir.display().to_string())
}

fn arc_credential(emu: &RunningEmulator, env: MapEnv, id: ManagedIdentityId) -> Credential {
    builder(emu, MiSourceKind::AzureArc)
        .environment(Arc::new(env))
        .retries(Retries::none())
        .managed_identity(id)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_challenge_key_file_and_basic_authorization() {
    let emu = emulator().await;
    let credential = arc_credential(
        &emu,
        arc_env(&emu, &emu.arc_key_directory()),
        ManagedIdentityId::SystemAssigned,
    );
    let selection = credential.managed_identity_source().unwrap();
    assert_eq!(selection.source, ManagedIdentitySource::AzureArc);
    assert!(
        selection.reason.contains("IMDS_ENDPOINT"),
        "{}",
        selection.reason
    );
    let assertion = credential.managed_identity_assertion().await.unwrap();
    let claims = certless::jwt::decode_claims(assertion.token.expose()).unwrap();
    assert_eq!(claims.aud.as_deref(), Some("api://AzureADTokenExchange"));

    let arc: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::AzureArc))
        .collect();
    assert_eq!(arc.len(), 2, "challenge, then the answer");
    for r in &arc {
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/arc/metadata/identity/oauth2/token");
        assert!(
            r.query
                .contains(&("api-version".into(), "2020-06-01".into()))
        );
        assert!(
            r.query
                .contains(&("resource".into(), "api://AzureADTokenExchange".into()))
        );
        assert!(r.headers.contains(&("metadata".into(), "true".into())));
    }
    assert_eq!(arc[0].status, Some(401));
    assert!(!arc[0].headers.iter().any(|(k, _)| k == "authorization"));
    assert!(
        arc[1]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.starts_with("<redacted"))
    );
    assert_eq!(arc[1].status, Some(200));
}

#[tokio::test]
async fn a_user_assigned_identity_fails_closed_unless_arc_confirms_it() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    let env = || arc_env(&emu, &emu.arc_key_directory());
    // Real Arc ignores the selector and answers for the machine's own identity.
    let credential = arc_credential(
        &emu,
        env(),
        ManagedIdentityId::ClientId(mi.client_id.clone()),
    );
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityWrongIdentity, "{e}");
    assert!(e.remedy().unwrap().contains("system-assigned"), "{e}");
    assert_eq!(emu.counters().entra_token, 0, "nothing was sent to Entra");

    emu.set_arc_honours_selectors(true);
    let credential = arc_credential(&emu, env(), ManagedIdentityId::ClientId(mi.client_id));
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    // An object id cannot be confirmed from Arc's answer: refused even when honoured.
    let credential = arc_credential(&emu, env(), ManagedIdentityId::ObjectId(mi.object_id));
    assert_eq!(
        credential
            .managed_identity_assertion()
            .await
            .unwrap_err()
            .code(),
        ErrorCode::ManagedIdentityWrongIdentity
    );
}

/// A fake agent that answers every request 401 with `challenge`, and notes any Authorization.
async fn hostile_agent(challenge: String) -> (String, Arc<Mutex<bool>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/metadata/identity/oauth2/token",
        listener.local_addr().unwrap()
    );
    let authorized = Arc::new(Mutex::new(false));
    let seen = authorized.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            if String::from_utf8_lossy(&buf[..n])
                .to_ascii_lowercase()
                .contains("\r\nauthorization:")
            {
                *seen.lock().unwrap() = true;
            }
            let answer = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: \
                    0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, authorized)
}

async fn against(challenge: &str, key_dir: &Path) -> (certless::Error, bool) {
    let emu = emulator().await;
    let (url, authorized) = hostile_agent(challenge.to_string()).await;
    let env = MapEnv::new()
        .with_var("IDENTITY_ENDPOINT", url)
        .with_var("IMDS_ENDPOINT", "http://127.0.0.1:9")
        .with_var("CERTLESS_TEST_ARC_KEY_DIR", key_dir.display().to_string());
    let credential = arc_credential(&emu, env, ManagedIdentityId::SystemAssigned);
    let e = credential.managed_identity_assertion().await.unwrap_err();
    let sent = *authorized.lock().unwrap();
    (e, sent)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certless-arc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn hostile_challenges_are_refused_and_nothing_is_sent() {
    let key_dir = scratch("keys");
    let outside = scratch("outside");
    std::fs::write(outside.join("evil.key"), "stolen-secret").unwrap();
    std::fs::write(key_dir.join("big.key"), vec![b'k'; 5000]).unwrap();
    std::fs::write(key_dir.join("notes.txt"), "x").unwrap();

    let cases: Vec<(String, &str)> = vec![
        // Path traversal: only the file name counts, and it must be a .key file.
        (
            format!("Basic realm={}/../../../etc/passwd", key_dir.display()),
            "not a '<name>.key' file",
        ),
        // A file outside the agent's directory: looked up in the directory, where it is not.
        (
            format!("Basic realm={}", outside.join("evil.key").display()),
            "cannot read the Azure Arc key file",
        ),
        // Wrong extension.
        (
            format!("Basic realm={}", key_dir.join("notes.txt").display()),
            "not a '<name>.key' file",
        ),
        // Larger than a key may be, refused before reading.
        (
            format!("Basic realm={}", key_dir.join("big.key").display()),
            "larger than the 4 KiB limit",
        ),
        // Not exactly `Basic realm=<path>`.
        (
            format!("Bearer realm={}", key_dir.join("big.key").display()),
            "not exactly 'Basic realm=<path>'",
        ),
        (
            format!("Basic realm={}=x", key_dir.join("big.key").display()),
            "not exactly 'Basic realm=<path>'",
        ),
        (
            "Basic realm=".to_string(),
            "not exactly 'Basic realm=<path>'",
        ),
    ];
    for (challenge, expected) in cases {
        let (e, sent) = against(&challenge, &key_dir).await;
        assert!(e.to_string().contains(expected), "{challenge}: {e}");
        assert!(!sent, "{challenge}: a key was sent");
        assert!(!e.to_string().contains("stolen-secret"));
    }
    let (e, _) = against(
        &format!("Basic realm={}", outside.join("evil.key").display()),
        &key_dir,
    )
    .await;
    assert_eq!(e.code(), ErrorCode::ManagedIdentityKeyFileUnreadable);
    assert!(
        e.to_string()
            .contains(&key_dir.join("evil.key").display().to_string()),
        "looked up in the agent's directory: {e}"
    );
    std::fs::remove_dir_all(&key_dir).ok();
    std::fs::remove_dir_all(&outside).ok();
}
