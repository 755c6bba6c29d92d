//! AKS workload identity: the federated token in AZURE_FEDERATED_TOKEN_FILE is the assertion.
//! It is re-read at least every five minutes and whenever the token in hand nears its expiry.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certless::clock::ManualClock;
use certless::env::MapEnv;
use certless::{Credential, CredentialBuilder, CredentialSourceKind, ErrorCode, Leg, Retries};
use certless_emulator::{DEFAULT_KUBERNETES_ISSUER, RunningEmulator};
use common::*;

const SUBJECT: &str = "system:serviceaccount:payments:api";

struct Pod {
    emu: RunningEmulator,
    file: PathBuf,
    clock: Arc<ManualClock>,
    credential: Credential,
}

impl Pod {
    /// An app whose only federated credential trusts the cluster's service account, and a pod
    /// environment as the workload-identity webhook makes it.
    async fn new() -> Pod {
        let emu = emulator().await;
        emu.update_registry(|r| {
            let fic = &mut r.apps[0].federated_credentials[0];
            fic.issuer = DEFAULT_KUBERNETES_ISSUER.to_string();
            fic.subject = SUBJECT.to_string();
        });
        let dir = std::env::temp_dir().join(format!(
            "certless-wi-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("azure-identity-token");
        write_token(&emu, &file, SUBJECT, 3600);
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let env = MapEnv::new()
            .with_var("AZURE_TENANT_ID", emu.tenant_id())
            .with_var("AZURE_CLIENT_ID", emu.default_app_client_id())
            .with_var("AZURE_AUTHORITY_HOST", emu.authority_host())
            .with_var("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())
            // No managed-identity endpoint in this pod.
            .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        let credential = CredentialBuilder::from_environment(Arc::new(env))
            .unwrap()
            .clock(clock.clone())
            .retries(Retries::none())
            .build()
            .unwrap();
        Pod {
            emu,
            file,
            clock,
            credential,
        }
    }

    fn write(&self, subject: &str, lifetime_secs: i64) {
        write_token(&self.emu, &self.file, subject, lifetime_secs);
    }
}

/// As kubelet does: write aside, then rename over.
fn write_token(emu: &RunningEmulator, file: &std::path::Path, subject: &str, lifetime_secs: i64) {
    let token = emu
        .mint_federated_token(
            DEFAULT_KUBERNETES_ISSUER,
            subject,
            "api://AzureADTokenExchange",
            lifetime_secs,
        )
        .unwrap();
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, token).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn the_token_file_is_the_assertion() {
    let pod = Pod::new().await;
    assert_eq!(
        pod.credential.sources()[0],
        CredentialSourceKind::SignedAssertionFilePath
    );
    let token = pod.credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(token.source, CredentialSourceKind::SignedAssertionFilePath);
    assert_eq!(
        pod.emu.verify_access_token(token.token.expose()).unwrap()["aud"],
        "https://contoso.sharepoint.com"
    );
    let c = pod.emu.counters();
    assert_eq!(
        (c.imds, c.entra_token),
        (0, 1),
        "no managed-identity endpoint involved"
    );
}

#[tokio::test]
async fn the_file_is_reread_after_five_minutes() {
    let pod = Pod::new().await;
    pod.credential.get_token(&[SHAREPOINT]).await.unwrap();
    // kubelet rotates the file; a token for another service account makes the re-read visible.
    pod.write("system:serviceaccount:payments:other", 3600);
    pod.credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .expect("within 5 minutes the token in hand is used");
    pod.clock.advance(Duration::from_secs(301));
    let e = pod
        .credential
        .get_token(&["https://management.azure.com/.default"])
        .await
        .unwrap_err();
    assert!(
        e.aadsts_codes().contains(&700213),
        "the file was re-read: {e}"
    );
}

#[tokio::test]
async fn the_file_is_reread_when_the_token_in_hand_nears_expiry() {
    let pod = Pod::new().await;
    pod.write(SUBJECT, 400);
    pod.credential.get_token(&[SHAREPOINT]).await.unwrap();
    pod.write("system:serviceaccount:payments:other", 3600);
    // 150 s later the token in hand has 250 s left, inside the 300 s margin: read again.
    pod.clock.advance(Duration::from_secs(150));
    let e = pod
        .credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    assert!(e.aadsts_codes().contains(&700213), "{e}");
}

#[tokio::test]
async fn a_missing_or_broken_file_is_a_clear_configuration_error() {
    let pod = Pod::new().await;
    std::fs::remove_file(&pod.file).unwrap();
    let e = pod.credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    // The chain also tried the (absent) managed identity; the file's failure is the telling one.
    let file_error = e
        .causes()
        .iter()
        .find(|c| c.code() == ErrorCode::AssertionFileUnusable)
        .unwrap_or(&e);
    assert_eq!(file_error.code(), ErrorCode::AssertionFileUnusable, "{e}");
    assert_eq!(file_error.leg(), Leg::Config);
    assert!(
        file_error
            .to_string()
            .contains(&pod.file.display().to_string())
            && file_error
                .to_string()
                .contains("azure.workload.identity/use"),
        "{e}"
    );

    std::fs::write(&pod.file, "not a token").unwrap();
    let e = pod
        .credential
        .get_token(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not hold a JWT"), "{e}");
    assert!(
        !e.to_string().contains("not a token"),
        "file contents are never echoed: {e}"
    );

    pod.write(SUBJECT, -60);
    let e = pod
        .credential
        .get_token(&["https://management.azure.com/.default"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}

#[test]
fn the_file_path_comes_from_configuration_or_the_environment() {
    let json = r#"{"AzureAd":{"TenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","ClientId":"11111111-2222-3333-4444-555555555555",
        "ClientCredentials":[{"SourceType":"SignedAssertionFilePath"}]}}"#;
    let e = CredentialBuilder::from_config_json(json)
        .unwrap()
        .environment(Arc::new(MapEnv::new()))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"), "{e}");
    let ok = CredentialBuilder::from_config_json(json)
        .unwrap()
        .environment(Arc::new(MapEnv::new().with_var(
            "AZURE_FEDERATED_TOKEN_FILE",
            "/var/run/secrets/azure/tokens/azure-identity-token",
        )))
        .build()
        .unwrap();
    assert_eq!(
        ok.sources(),
        [CredentialSourceKind::SignedAssertionFilePath]
    );
}
