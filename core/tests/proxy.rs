//! Proxies: Entra requests honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY; managed-identity
//! requests never go through a proxy (docs/protocol.md §3). A tiny forward proxy on loopback
//! records what passes through it.

mod common;

use std::sync::{Arc, Mutex};

use certless::ManagedIdentityId;
use certless::env::MapEnv;
use certless_emulator::MiSourceKind;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A forward HTTP proxy for absolute-form requests; records each request line it forwards.
async fn counting_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let _ = forward(client, log).await;
            });
        }
    });
    (url, seen)
}

async fn forward(mut client: TcpStream, log: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let first = head.lines().next().unwrap_or_default().to_string();
    log.lock().unwrap().push(first.clone());
    // "POST http://127.0.0.1:1234/path HTTP/1.1" → connect to 127.0.0.1:1234, send "POST /path HTTP/1.1".
    let mut parts = first.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let rest = target.strip_prefix("http://").unwrap_or(target);
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut upstream = TcpStream::connect(authority).await?;
    let forwarded = head.replacen(&first, &format!("{method} {path} {version}"), 1);
    upstream.write_all(forwarded.as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

#[tokio::test]
async fn entra_goes_through_the_proxy_and_managed_identity_never_does() {
    let emu = emulator().await;
    let (proxy, seen) = counting_proxy().await;
    let mi = emu.default_user_assigned().client_id;

    let env = MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::Imds))
        .with_var("HTTP_PROXY", proxy.clone());
    let credential = builder(&emu, MiSourceKind::Imds)
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::ClientId(mi.clone()))
        .build()
        .unwrap();
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let lines = seen.lock().unwrap().clone();
    assert_eq!(
        lines.len(),
        1,
        "only the exchange went through the proxy: {lines:?}"
    );
    assert!(
        lines[0].starts_with(&format!(
            "POST {}/{}/oauth2/v2.0/token",
            emu.authority_host(),
            emu.tenant_id()
        )),
        "{lines:?}"
    );
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 1));

    // NO_PROXY exempts the authority.
    seen.lock().unwrap().clear();
    let env = MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::Imds))
        .with_var("http_proxy", proxy.clone())
        .with_var("NO_PROXY", "localhost,127.0.0.1");
    let credential = builder(&emu, MiSourceKind::Imds)
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::ClientId(mi))
        .build()
        .unwrap();
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert!(seen.lock().unwrap().is_empty(), "NO_PROXY was ignored");
    assert_eq!(emu.counters().entra_token, 2);
}

#[tokio::test]
async fn a_broken_proxy_setting_is_a_clear_error_without_its_value() {
    let emu = emulator().await;
    let env = MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::Imds))
        .with_var("HTTPS_PROXY", "http://user:s3cret@[not a host");
    let e = builder(&emu, MiSourceKind::Imds)
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("HTTPS_PROXY is not a proxy URL"),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[tokio::test]
async fn service_fabric_https_endpoint_never_goes_through_a_proxy() {
    let emu = emulator_https().await;
    let (proxy, seen) = counting_proxy().await;
    let env = MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::ServiceFabric))
        .with_var("HTTPS_PROXY", proxy.clone())
        .with_var("HTTP_PROXY", proxy.clone())
        .with_var("ALL_PROXY", proxy);
    let credential = builder(&emu, MiSourceKind::ServiceFabric)
        .environment(Arc::new(env))
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("servicefabric") && !l.starts_with("CONNECT")),
        "the Service Fabric request went through the proxy: {lines:?}"
    );
    assert_eq!(lines.len(), 1, "the exchange did: {lines:?}");
    let c = emu.counters();
    assert_eq!((c.service_fabric, c.entra_token), (1, 1));
}
