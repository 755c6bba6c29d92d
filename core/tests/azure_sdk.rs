//! A certless credential in a real Azure SDK for Rust client (feature `azure-core`): the
//! `azure_storage_blob` client against Azurite, Microsoft's Storage emulator, with its OAuth check on
//! (`--oauth basic`: a bearer token over HTTPS whose issuer is Entra's `sts.windows.net/{tenant}/`,
//! whose audience is `https://storage.azure.com` and whose `nbf`/`exp` hold now). The tokens come from
//! the certless emulator's managed identity and Entra exchange, both on loopback.
//!
//! Azurite is an npm package: the test fails, saying how to install it, when it is not found.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use azure_core::credentials::{TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RequestContent, StatusCode, Transport, Url};
use azure_storage_blob::{
    BlobClient, BlobClientOptions, BlobContainerClient, BlobContainerClientOptions,
};
use certless::{ErrorCode, Leg};
use certless_emulator::MiSourceKind;
use common::{credential, emulator, scratch_dir};

/// Azurite's built-in storage account; with an IP address as host, the account is the path's first segment.
const ACCOUNT: &str = "devstoreaccount1";

/// The scope the Blob Storage client asks for.
const STORAGE: &str = "https://storage.azure.com/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_client_creates_uploads_and_reads_with_one_token_from_the_exchange() {
    let emu = emulator().await;
    let azurite = Azurite::start("blob");
    let credential = credential(&emu, MiSourceKind::Imds);
    let container = BlobContainerClient::new(
        azurite.url("reports"),
        Some(Arc::new(credential.clone())),
        Some(BlobContainerClientOptions {
            client_options: azurite.client_options(),
            ..Default::default()
        }),
    )
    .expect("the container client");

    container
        .create(None)
        .await
        .expect("the container is created");
    let blob = container.blob_client("hello.txt");
    blob.upload(RequestContent::from(b"hello from certless".to_vec()), None)
        .await
        .expect("the blob is uploaded");
    let read = blob.download(None).await.expect("the blob is read");
    let body = read.body.collect().await.expect("its body");
    assert_eq!(&body[..], b"hello from certless");
    // Three calls (and more requests) to Azurite, one token: one managed-identity request, one
    // exchange.
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 1), "{c:?}");

    // Another client has its own SDK token cache, so it asks the credential again: certless's
    // cache answers, with no request to the emulator.
    let other = BlobClient::new(
        azurite.url("reports/hello.txt"),
        Some(Arc::new(credential.clone())),
        Some(BlobClientOptions {
            client_options: azurite.client_options(),
            ..Default::default()
        }),
    )
    .expect("the blob client");
    assert!(other.exists().await.expect("the blob is looked up"));
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 1), "{c:?}");

    // Azurite does check: without a token the same read is refused.
    let anonymous = BlobClient::new(
        azurite.url("reports/hello.txt"),
        None,
        Some(BlobClientOptions {
            client_options: azurite.client_options(),
            ..Default::default()
        }),
    )
    .expect("the blob client");
    let refused = anonymous.download(None).await.map(|_| ()).unwrap_err();
    assert_eq!(
        refused.http_status(),
        Some(StatusCode::Forbidden),
        "{refused:?}"
    );
    // And it reads the token: one of the same app for another resource (Graph) is refused.
    let wrong_audience = BlobClient::new(
        azurite.url("reports/hello.txt"),
        Some(Arc::new(ForGraph(credential.clone()))),
        Some(BlobClientOptions {
            client_options: azurite.client_options(),
            ..Default::default()
        }),
    )
    .expect("the blob client");
    let refused = wrong_audience.download(None).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(
            refused.http_status(),
            Some(StatusCode::Unauthorized | StatusCode::Forbidden)
        ),
        "{refused:?}"
    );
}

/// The credential's tokens for Microsoft Graph, whatever the SDK asks for.
#[derive(Debug)]
struct ForGraph(certless::Credential);

#[async_trait::async_trait]
impl TokenCredential for ForGraph {
    async fn get_token(
        &self,
        _scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        TokenCredential::get_token(&self.0, &["https://graph.microsoft.com/.default"], options)
            .await
    }
}

#[tokio::test]
async fn the_sdk_gets_certless_s_cached_token_with_its_expiry() {
    let emu = emulator().await;
    let credential = credential(&emu, MiSourceKind::Imds);
    let ours = credential.get_token(&[STORAGE]).await.expect("a token");
    let sdk = TokenCredential::get_token(
        &credential,
        &[STORAGE],
        Some(TokenRequestOptions::default()),
    )
    .await
    .expect("the SDK's token");
    assert_eq!(sdk.token.secret(), ours.token.expose());
    assert_eq!(sdk.expires_on.unix_timestamp(), ours.expires_on);
    assert_eq!(emu.counters().entra_token, 1, "the second was a cache hit");
    assert!(!format!("{sdk:?}").contains(ours.token.expose()));
}

#[tokio::test]
async fn a_refused_exchange_reaches_the_sdk_as_a_credential_error_with_certless_s_message() {
    let emu = emulator().await;
    let mi = emu.default_user_assigned();
    // The federated credential trusts another subject: Entra refuses the exchange.
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = mi.object_id.to_uppercase()
    });
    let credential = credential(&emu, MiSourceKind::Imds);
    // No request gets as far as the storage endpoint: the token comes first.
    let container = BlobContainerClient::new(
        Url::parse(&format!("https://127.0.0.1:9/{ACCOUNT}/reports")).unwrap(),
        Some(Arc::new(credential.clone())),
        Some(BlobContainerClientOptions {
            client_options: client_options(rustls::RootCertStore::empty()),
            ..Default::default()
        }),
    )
    .expect("the container client");
    let e = container.create(None).await.map(|_| ()).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Credential, "{e:?}");
    // The SDK's retry policy wraps what the credential returned ("... will not be retried"): that
    // is the credential's error, certless's whole message (code, leg, Entra's answer, the fix),
    // with the certless error as its source.
    let ours = e
        .downcast_ref::<azure_core::Error>()
        .unwrap_or_else(|| panic!("the credential's error is the source: {e:?}"));
    assert_eq!(*ours.kind(), ErrorKind::Credential);
    let certless = ours
        .downcast_ref::<certless::Error>()
        .unwrap_or_else(|| panic!("certless's error is its source: {ours:?}"));
    assert_eq!(certless.code(), ErrorCode::ExchangeRejected);
    assert_eq!(certless.leg(), Leg::Exchange);
    assert_eq!(ours.to_string(), certless.to_string());
    assert!(ours.to_string().contains("AADSTS7002138"), "{ours}");
}

/// An Azurite Blob service of this test's own: HTTPS on a free loopback port with a certificate
/// from a CA made for it, OAuth on, in memory. Ended when dropped.
struct Azurite {
    child: Child,
    port: u16,
    ca_pem: String,
}

impl Azurite {
    fn start(name: &str) -> Azurite {
        let program = azurite_blob();
        let dir = scratch_dir(&format!("azurite-{name}"));
        let ca_pem = std::fs::read_to_string(certless_emulator::write_loopback_tls_files(&dir))
            .expect("the CA file");
        let mut child = Command::new(&program)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--oauth",
                "basic",
            ])
            .arg("--cert")
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .args(["--inMemoryPersistence", "--disableTelemetry", "--silent"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
        let stdout = child.stdout.take().expect("Azurite's stdout");
        // Azurite prints the port it got; the rest of its output is read (and dropped) until it ends.
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let port = loop {
            match lines_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(port) = line
                        .split_once("listens on https://127.0.0.1:")
                        .and_then(|(_, port)| port.trim().parse().ok())
                    {
                        break port;
                    }
                    seen.push(line);
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("Azurite did not say its port ({e}); it printed: {seen:#?}");
                }
            }
        };
        Azurite {
            child,
            port,
            ca_pem,
        }
    }

    /// The URL of `path` (a container, or container/blob) in Azurite's account.
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("https://127.0.0.1:{}/{ACCOUNT}/{path}", self.port)).unwrap()
    }

    /// SDK client options whose transport trusts this Azurite's CA (and no other).
    fn client_options(&self) -> ClientOptions {
        let mut roots = rustls::RootCertStore::empty();
        let ca = rustls::pki_types::pem::PemObject::from_pem_slice(self.ca_pem.as_bytes())
            .expect("the CA's PEM");
        roots.add(ca).expect("the CA as a root");
        client_options(roots)
    }
}

/// SDK client options whose transport is a reqwest client on ring trusting `roots`: the SDK's own
/// transport is left out (its TLS feature is off here, so certless's reqwest has no crypto provider
/// of its own choosing).
fn client_options(roots: rustls::RootCertStore) -> ClientOptions {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("a reqwest client");
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        ..Default::default()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `azurite-blob`: `CERTLESS_AZURITE` when set, else where scripts/test.sh installs it
/// (`target/azurite` in the workspace), else on `PATH`.
fn azurite_blob() -> PathBuf {
    if let Some(path) = std::env::var_os("CERTLESS_AZURITE") {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let installed = workspace.join("target/azurite/node_modules/.bin/azurite-blob");
    if installed.exists() {
        return installed;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("azurite-blob"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "Azurite is not installed. Install the pinned one (Node.js 20 or later) in the \
             workspace with `mkdir -p target/azurite && cp tests/azurite/package*.json \
             target/azurite/ && npm ci --prefix target/azurite`, as scripts/test.sh does, or \
             set CERTLESS_AZURITE to an azurite-blob program"
        )
    })
}
