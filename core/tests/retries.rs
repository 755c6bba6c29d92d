//! The retry tables of docs/protocol.md §3, in virtual time: the credential's clock advances itself
//! instead of sleeping, so each test asserts request counts and the elapsed budget exactly,
//! without waiting.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certless::clock::{Clock, ManualClock};
use certless::env::MapEnv;
use certless::{Credential, ErrorCode, ManagedIdentityId, Timeouts};
use certless_emulator::{Endpoint, Fault, MiSourceKind, RunningEmulator};
use common::*;

struct Virtual {
    emu: RunningEmulator,
    clock: Arc<ManualClock>,
    start: SystemTime,
    credential: Credential,
}

impl Virtual {
    async fn new() -> Virtual {
        let emu = emulator().await;
        let start = SystemTime::now();
        let clock = Arc::new(ManualClock::new(start));
        let credential = builder(&emu, MiSourceKind::Imds)
            .clock(clock.clone())
            .timeouts(Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_millis(500),
            })
            .managed_identity(ManagedIdentityId::ClientId(
                emu.default_user_assigned().client_id,
            ))
            .build()
            .unwrap();
        Virtual {
            emu,
            clock,
            start,
            credential,
        }
    }

    fn elapsed(&self) -> Duration {
        certless::clock::Clock::now(self.clock.as_ref())
            .duration_since(self.start)
            .unwrap()
    }

    async fn token(&self) -> Result<certless::AccessToken, certless::Error> {
        self.credential.get_token(&[SHAREPOINT]).await
    }

    fn counts(&self) -> (u64, u64) {
        let c = self.emu.counters();
        (c.imds, c.entra_token)
    }
}

fn status(code: u16, times: Option<u32>) -> Fault {
    Fault {
        status: Some(code),
        remaining: times,
        ..Default::default()
    }
}

#[tokio::test]
async fn imds_410_is_retried_through_a_platform_update() {
    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::Imds, status(410, Some(4)));
    v.token().await.unwrap();
    assert_eq!(v.counts(), (5, 1));
    assert!(
        v.elapsed() >= Duration::from_secs(8),
        "backoff 1+2+4+8 s less jitter: {:?}",
        v.elapsed()
    );
}

#[tokio::test]
async fn imds_410_gives_up_after_its_budget_of_at_least_70_seconds() {
    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::Imds, status(410, None));
    let e = v.token().await.unwrap_err();
    assert_eq!(e.http_status(), Some(410));
    assert!(e.message().contains("attempts"), "{e}");
    let (imds, entra) = v.counts();
    assert_eq!(entra, 0);
    assert!(imds >= 6, "{imds} attempts");
    assert!(
        (Duration::from_secs(60)..=Duration::from_secs(80)).contains(&v.elapsed()),
        "{:?}",
        v.elapsed()
    );
}

#[tokio::test]
async fn imds_5xx_404_and_429_are_retried_a_bounded_number_of_times() {
    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::Imds, status(500, None));
    let e = v.token().await.unwrap_err();
    assert_eq!(e.http_status(), Some(500));
    assert_eq!(v.counts(), (6, 0), "one attempt and five retries");

    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::Imds, status(404, Some(2)));
    v.token().await.unwrap();
    assert_eq!(v.counts(), (3, 1), "an identity still propagating");

    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::Imds,
        Fault {
            status: Some(429),
            retry_after: Some(9),
            remaining: Some(1),
            ..Default::default()
        },
    );
    v.token().await.unwrap();
    assert_eq!(v.counts(), (2, 1));
    assert!(
        v.elapsed() >= Duration::from_secs(9),
        "Retry-After honoured: {:?}",
        v.elapsed()
    );
}

#[tokio::test]
async fn imds_400_401_403_are_never_retried() {
    for code in [400, 401, 403] {
        let v = Virtual::new().await;
        v.emu.set_fault(Endpoint::Imds, status(code, None));
        let e = v.token().await.unwrap_err();
        assert_eq!(e.http_status(), Some(code));
        assert_eq!(v.counts(), (1, 0), "HTTP {code}");
        assert_eq!(v.elapsed(), Duration::ZERO);
    }
}

#[tokio::test]
async fn timeouts_are_retried_but_a_missing_endpoint_is_not() {
    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::Imds,
        Fault {
            delay: Some(Duration::from_secs(2)),
            remaining: Some(1),
            ..Default::default()
        },
    );
    v.token().await.unwrap();
    assert_eq!(v.counts(), (2, 1));

    // Nothing listens: not an Azure host. One attempt, no waiting.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let credential = Credential::builder()
        .tenant_id(v.emu.tenant_id())
        .client_id(v.emu.default_app_client_id())
        .authority_host(v.emu.authority_host())
        .environment(Arc::new(MapEnv::new().with_var(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{port}"),
        )))
        .clock(clock.clone())
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityUnreachable);
    assert!(!e.message().contains("attempts"), "{e}");
}

#[tokio::test]
async fn entra_5xx_and_dropped_connections_are_retried_twice() {
    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::EntraToken, status(503, Some(2)));
    v.token().await.unwrap();
    assert_eq!(v.counts(), (1, 3));

    let v = Virtual::new().await;
    v.emu.set_fault(Endpoint::EntraToken, status(500, None));
    let e = v.token().await.unwrap_err();
    assert_eq!(e.http_status(), Some(500));
    assert!(e.message().contains("after 3 attempts"), "{e}");
    assert_eq!(v.counts(), (1, 3));

    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            drop_connection: true,
            remaining: Some(1),
            ..Default::default()
        },
    );
    v.token().await.unwrap();
    assert_eq!(v.counts(), (1, 2));
}

#[tokio::test]
async fn entra_429_waits_a_short_retry_after_and_returns_a_long_one() {
    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            status: Some(429),
            retry_after: Some(5),
            remaining: Some(1),
            ..Default::default()
        },
    );
    v.token().await.unwrap();
    assert_eq!(v.counts(), (1, 2));
    assert!(v.elapsed() >= Duration::from_secs(5));

    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            status: Some(429),
            retry_after: Some(120),
            ..Default::default()
        },
    );
    let e = v.token().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(120));
    assert_eq!(
        v.counts(),
        (1, 1),
        "a long Retry-After goes back to the callers, who are held back by the cache"
    );
}

#[tokio::test]
async fn entra_refusals_are_never_retried() {
    let v = Virtual::new().await;
    v.emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].subject = "00000000-1111-2222-3333-444444444444".into()
    });
    let e = v.token().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExchangeRejected);
    assert_eq!(v.counts(), (1, 1));
    assert_eq!(v.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn service_fabric_retries_its_transient_answers_only() {
    let emu = emulator_https().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let credential = builder(&emu, MiSourceKind::ServiceFabric)
        .clock(clock.clone())
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    emu.set_fault(Endpoint::ServiceFabric, status(503, Some(2)));
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    let c = emu.counters();
    assert_eq!((c.service_fabric, c.entra_token), (3, 1));

    // A stale IDENTITY_HEADER: 404 ManagedIdentityNotFound, in {"error":{"code","message"}}.
    let env = MapEnv::new()
        .with_vars(emu.client_env(MiSourceKind::ServiceFabric))
        .with_var("IDENTITY_HEADER", "stale");
    let credential = builder(&emu, MiSourceKind::ServiceFabric)
        .environment(Arc::new(env))
        .clock(clock)
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    emu.reset_counters();
    let e = credential.get_token(&[SHAREPOINT]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ManagedIdentityRejected);
    assert_eq!(e.http_status(), Some(404));
    assert_eq!(e.oauth_error(), Some("ManagedIdentityNotFound"));
    assert!(
        e.remedy().unwrap().contains("application manifest"),
        "{:?}",
        e.remedy()
    );
    // Unlike IMDS, Service Fabric's 404 is a setup error: not retried.
    assert_eq!(emu.counters().service_fabric, 1);
}

#[tokio::test]
async fn a_long_retry_after_from_the_managed_identity_endpoint_holds_every_scope_back() {
    for status in [429, 503] {
        let v = Virtual::new().await;
        v.emu.set_fault(
            Endpoint::Imds,
            Fault {
                status: Some(status),
                retry_after: Some(120),
                ..Default::default()
            },
        );
        let (scope, other) = match status {
            429 => (
                "https://vault.azure.net/.default",
                "https://storage.azure.com/.default",
            ),
            _ => (
                "https://management.azure.com/.default",
                "https://graph.microsoft.com/.default",
            ),
        };
        let e = v.credential.get_token(&[scope]).await.unwrap_err();
        assert_eq!(e.retry_after(), Some(120), "{e}");
        assert!(e.message().contains("Retry-After"), "{e}");
        assert_eq!(
            v.counts(),
            (1, 0),
            "HTTP {status}: one request, then back to the caller"
        );
        // Another scope needs the same managed-identity token: nothing is sent before 120 s.
        v.clock.advance(Duration::from_secs(100));
        let e = v.credential.get_token(&[other]).await.unwrap_err();
        assert_eq!(e.retry_after(), Some(20), "{e}: what is left of it");
        assert_eq!(v.counts(), (1, 0), "HTTP {status}: held back");
        v.emu.clear_faults();
        v.clock.advance(Duration::from_secs(21));
        v.credential.get_token(&[other]).await.unwrap();
        assert_eq!(
            v.counts(),
            (2, 1),
            "HTTP {status}: sent once Retry-After passed"
        );
    }
}

#[tokio::test]
async fn entra_503_with_a_long_retry_after_is_not_sent_again_early() {
    let v = Virtual::new().await;
    v.emu.set_fault(
        Endpoint::EntraToken,
        Fault {
            status: Some(503),
            retry_after: Some(120),
            ..Default::default()
        },
    );
    let e = v.token().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(120));
    assert_eq!(v.counts(), (1, 1));
    assert_eq!(v.elapsed(), Duration::ZERO);
    // The cache answers the callers with that error until Retry-After has passed.
    v.clock.advance(Duration::from_secs(119));
    v.token().await.unwrap_err();
    assert_eq!(v.counts(), (1, 1));
    v.emu.clear_faults();
    v.clock.advance(Duration::from_secs(1));
    v.token().await.unwrap();
    assert_eq!(v.counts(), (1, 2));
}

/// Entra down for 100 s once the cached token is no longer handed out, and a caller asking in a
/// loop: the failure hold answers most calls with the last error, and each hold ends in one probe,
/// so the outage costs at most 10 Entra requests (the bound; 35 before the hold). The
/// first request after Entra is back succeeds.
#[tokio::test]
async fn an_entra_outage_with_a_caller_in_a_loop_costs_a_handful_of_requests() {
    let v = Virtual::new().await;
    v.emu
        .update_registry(|r| r.access_token_lifetime_secs = 120);
    let first = v.token().await.unwrap();
    let past_expiry = first.expires_on - v.clock.now_unix() + 1;
    v.clock.advance(Duration::from_secs(past_expiry as u64));
    v.emu.set_fault(Endpoint::EntraToken, status(503, None));
    v.emu.reset_counters();

    let outage_start = v.elapsed();
    let mut calls = 0u32;
    while v.elapsed() - outage_start < Duration::from_secs(100) {
        let e = v.token().await.unwrap_err();
        assert_eq!(e.http_status(), Some(503), "{e}");
        calls += 1;
        v.clock.advance(Duration::from_millis(100));
    }
    let (_, entra) = v.counts();
    println!("a 100 s Entra outage, {calls} calls in a loop: {entra} Entra requests");
    assert!(entra <= 10, "{entra} Entra requests in 100 s");
    assert!(
        entra >= 4,
        "the hold is bounded: each hold ends in a probe ({entra})"
    );

    v.emu.clear_faults();
    v.emu.set_time_offset(v.elapsed().as_secs() as i64);
    loop {
        match v.token().await {
            Ok(token) => {
                v.emu.verify_access_token(token.token.expose()).unwrap();
                break;
            }
            Err(e) => {
                assert_eq!(v.counts().1, entra, "held, not sent: {e}");
                v.clock.advance(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(
        v.counts().1,
        entra + 1,
        "the first request after Entra is back succeeds"
    );
}
