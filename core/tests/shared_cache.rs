//! The shared cache on a real `redis-server` (started by each test on a free loopback port): a
//! farm of credentials — each one a machine with its own in-process cache and its own Redis
//! connection — against the emulator.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certless::clock::{Clock, ManualClock};
use certless::shared_cache::{BreakerState, generate_key};
use certless::{Credential, CredentialBuilder, ManagedIdentityId};
use certless_emulator::redis_server::RedisServer;
use certless_emulator::{Endpoint, Fault, MiSourceKind, RunningEmulator};
use common::farm::{everyone_asks, key_file, machine_at, stats, total, wait_for};
use common::{SHAREPOINT, builder, emulator};

const GRAPH: &str = "https://graph.microsoft.com/.default";

fn machine(emu: &RunningEmulator, redis: &RedisServer, keys: &Path) -> CredentialBuilder {
    machine_at(emu, &redis.url(), redis.ca_file(), keys)
}

fn farm(emu: &RunningEmulator, redis: &RedisServer, keys: &Path, n: usize) -> Vec<Credential> {
    (0..n)
        .map(|_| machine(emu, redis, keys).build().expect("builds"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_farm_costs_one_entra_request_per_scope() {
    let emu = emulator().await;
    let redis = RedisServer::start("farm");
    let keys = key_file("farm", None);
    // A managed-identity endpoint as slow as a real one cold: every machine asks while the first
    // fetch is still under way.
    emu.set_fault(
        Endpoint::Imds,
        Fault {
            delay: Some(Duration::from_millis(300)),
            ..Fault::default()
        },
    );
    let machines = farm(&emu, &redis, &keys, 8);
    let tokens = everyone_asks(&machines, SHAREPOINT, 8).await;
    let first = tokens[0].token.expose().to_string();
    assert!(
        tokens.iter().all(|t| t.token.expose() == first),
        "one token for the farm"
    );
    let c = emu.counters();
    assert_eq!((c.imds, c.entra_token), (1, 1), "one fetch for 8 machines");
    assert_eq!(total(&machines, |s| s.leases_won), 1);
    assert_eq!(total(&machines, |s| s.hits), 7, "the other 7 read it");
    assert!(total(&machines, |s| s.lease_waits) >= 1);
    assert_eq!(total(&machines, |s| s.lease_timeouts), 0);
    // A second scope: one more exchange (the managed-identity token is reused by the machine
    // that fetches, and never shared).
    everyone_asks(&machines, GRAPH, 4).await;
    let c = emu.counters();
    assert_eq!(c.entra_token, 2);
    assert!(c.imds <= 2, "{}", c.imds);
    // What is in Redis: two entries, sealed; neither token nor its claims in the clear.
    let keys_in_redis = redis.entry_keys();
    assert_eq!(keys_in_redis.len(), 2, "{keys_in_redis:?}");
    for key in &keys_in_redis {
        let raw = redis.cli(&["--raw", "GET", key]);
        assert!(!raw.contains(&first) && !raw.contains("eyJ"), "sealed");
        let ttl: i64 = redis.cli(&["TTL", key]).parse().expect("a TTL");
        assert!(
            (3000..=3600).contains(&ttl),
            "the entry lives until the token expires: {ttl}"
        );
    }
    // A machine that starts later is served from Redis: no request at all.
    emu.reset_counters();
    let late = machine(&emu, &redis, &keys).build().unwrap();
    assert_eq!(
        late.get_token(&[SHAREPOINT]).await.unwrap().token.expose(),
        first
    );
    assert_eq!(emu.counters().entra_token + emu.counters().imds, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_do_not_open_are_misses_and_counted() {
    let emu = emulator().await;
    let redis = RedisServer::start("tamper");
    let keys = key_file("tamper", None);
    let first = machine(&emu, &redis, &keys).build().unwrap();
    first.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 1).await;
    let key = redis.entry_keys().remove(0);

    // Tampered: bytes of the ciphertext changed.
    redis.cli(&["SETRANGE", &key, "40", "tampered"]);
    let victim = machine(&emu, &redis, &keys).build().unwrap();
    emu.reset_counters();
    victim.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        emu.counters().entra_token,
        1,
        "the tampered entry was not used"
    );
    assert!(stats(&victim).rejected >= 1);
    // The victim's fetch replaced it with a good entry, which the next machine reads.
    wait_for(|| redis.cli(&["STRLEN", &key]).parse::<usize>().unwrap_or(0) > 100).await;
    let reader = machine(&emu, &redis, &keys).build().unwrap();
    emu.reset_counters();
    reader.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(emu.counters().entra_token, 0);
    assert_eq!(stats(&reader).rejected, 0);

    // Not ours at all (another program's value under the key).
    redis.cli(&["SET", &key, "hello"]);
    let other = machine(&emu, &redis, &keys).build().unwrap();
    emu.reset_counters();
    other.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(emu.counters().entra_token, 1);
    assert!(stats(&other).rejected >= 1);

    // A value far larger than any entry (a megabyte of another program's data): rejected, and
    // read no further than the 64 KiB bound. Redis's own count of the bytes it sent says how much
    // went out: two reads (before the lease and after winning it), 128 KiB, where reading the
    // whole value would have been 2 MiB.
    redis.cli(&["SETRANGE", &key, &(1024 * 1024 - 1).to_string(), "x"]);
    let sent = || {
        redis
            .cli(&["INFO", "stats"])
            .lines()
            .find_map(|l| l.strip_prefix("total_net_output_bytes:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .expect("INFO stats has total_net_output_bytes")
    };
    let big = machine(&emu, &redis, &keys).build().unwrap();
    emu.reset_counters();
    let before = sent();
    big.get_token(&[SHAREPOINT]).await.unwrap();
    let during = sent() - before;
    assert_eq!(emu.counters().entra_token, 1, "the huge value was not used");
    assert!(stats(&big).rejected >= 1);
    assert!(
        during < 200 * 1024,
        "Redis sent {during} bytes for two reads of a 1 MiB value"
    );

    // A key of another farm: the entry is not readable; the machine fetches for itself.
    let stranger_key = generate_key("stranger").unwrap();
    let stranger = machine(&emu, &redis, &key_file("stranger", Some(&stranger_key)))
        .build()
        .unwrap();
    emu.reset_counters();
    stranger.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(emu.counters().entra_token, 1);
    assert!(stats(&stranger).unknown_key >= 1);
    assert_eq!(stats(&stranger).rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_copied_under_another_key_does_not_open() {
    let emu = emulator().await;
    let redis = RedisServer::start("moved");
    let keys = key_file("moved", None);
    let a = machine(&emu, &redis, &keys).build().unwrap();
    a.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 1).await;
    let sharepoint_key = redis.entry_keys().remove(0);
    // Learn where the Graph entry of this app lives, then put SharePoint's sealed entry there.
    a.get_token(&[GRAPH]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 2).await;
    let graph_key = redis
        .entry_keys()
        .into_iter()
        .find(|k| *k != sharepoint_key)
        .unwrap();
    redis.cli(&["COPY", &sharepoint_key, &graph_key, "REPLACE"]);
    let b = machine(&emu, &redis, &keys).build().unwrap();
    emu.reset_counters();
    let graph = b.get_token(&[GRAPH]).await.unwrap();
    assert_eq!(
        emu.counters().entra_token,
        1,
        "fetched, not taken from the moved entry"
    );
    assert!(stats(&b).rejected >= 1);
    let sharepoint = a.get_token(&[SHAREPOINT]).await.unwrap();
    assert_ne!(graph.token.expose(), sharepoint.token.expose());
}

/// One multi-tenant app in two tenants (its registration in the second holding a federated
/// credential for an identity of that tenant): each tenant's token has its own entry, and one
/// tenant's entry put under the other's key does not open there — a miss, counted, and a token
/// of the right tenant fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_of_another_tenant_does_not_open() {
    use certless_emulator::{DEFAULT_OTHER_TENANT_ID, UserAssignedIdentity, entra_issuer};
    const OTHER_MI_CLIENT: &str = "5b8e0f7a-3c2d-4e1f-9a6b-7c8d9e0f1a2b";
    const OTHER_MI_OBJECT: &str = "6c9f1a8b-4d3e-4f2a-8b7c-8d9e0f1a2b3c";
    let mut config = certless_emulator::EmulatorConfig::default();
    let registry = &mut config.registry;
    registry.user_assigned.push(UserAssignedIdentity {
        name: "mi-other-tenant".into(),
        client_id: OTHER_MI_CLIENT.into(),
        object_id: OTHER_MI_OBJECT.into(),
        tenant_id: Some(DEFAULT_OTHER_TENANT_ID.into()),
    });
    let mut there = registry.apps[0].clone();
    there.tenant_id = Some(DEFAULT_OTHER_TENANT_ID.into());
    there.object_id = Some("7d0a2b9c-5e4f-4a3b-9c8d-9e0f1a2b3c4d".into());
    there.service_principal_id = Some("8e1b3c0d-6f5a-4b4c-8d9e-0f1a2b3c4d5e".into());
    there.federated_credentials[0].issuer = entra_issuer(DEFAULT_OTHER_TENANT_ID);
    there.federated_credentials[0].subject = OTHER_MI_OBJECT.into();
    there.federated_credentials.truncate(1);
    registry.apps.push(there);
    let emu = common::emulator_with(config).await;
    let redis = RedisServer::start("tenants");
    let keys = key_file("tenants", None);
    let in_other_tenant = || {
        builder(&emu, MiSourceKind::Imds)
            .tenant_id(DEFAULT_OTHER_TENANT_ID)
            .managed_identity(ManagedIdentityId::ClientId(OTHER_MI_CLIENT.into()))
            .shared_cache(redis.url())
            .shared_cache_key_file(&keys)
            .shared_cache_read_budget(Duration::from_secs(1))
            .build()
            .unwrap()
    };

    let home = machine(&emu, &redis, &keys).build().unwrap();
    let home_token = home.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 1).await;
    let home_key = redis.entry_keys().remove(0);
    let away_token = in_other_tenant().get_token(&[SHAREPOINT]).await.unwrap();
    assert_ne!(home_token.token.expose(), away_token.token.expose());
    wait_for(|| redis.entry_keys().len() == 2).await;
    let away_key = redis
        .entry_keys()
        .into_iter()
        .find(|k| *k != home_key)
        .unwrap();

    // The home tenant's entry under the other tenant's key.
    redis.cli(&["COPY", &home_key, &away_key, "REPLACE"]);
    let reader = in_other_tenant();
    emu.reset_counters();
    let read = reader.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        emu.counters().entra_token,
        1,
        "fetched, not the moved entry"
    );
    assert!(stats(&reader).rejected >= 1);
    assert_ne!(read.token.expose(), home_token.token.expose());
    let tid = |t: &certless::AccessToken| {
        use base64::Engine as _;
        let payload = t.token.expose().split('.').nth(1).unwrap().to_string();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&json).unwrap()["tid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(tid(&read), DEFAULT_OTHER_TENANT_ID);
    assert_eq!(tid(&home_token), emu.tenant_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_is_a_miss_for_every_caller_and_the_farm_rejoins() {
    let mut config = certless_emulator::EmulatorConfig::default();
    config
        .registry
        .resources
        .extend((0..8).map(|i| format!("https://r{i}.example")));
    let emu = common::emulator_with(config).await;
    let mut redis = RedisServer::start("outage");
    let keys = key_file("outage", None);
    let machines = farm(&emu, &redis, &keys, 4);
    everyone_asks(&machines, SHAREPOINT, 4).await;
    assert_eq!(emu.counters().entra_token, 1);

    redis.kill();
    // New machines while Redis is gone: every caller is served; each machine fetches its own.
    let newcomers = farm(&emu, &redis, &keys, 4);
    emu.reset_counters();
    everyone_asks(&newcomers, SHAREPOINT, 8).await;
    assert_eq!(
        emu.counters().entra_token,
        4,
        "one per machine, none failed"
    );
    // Then many more requests for scopes nobody has: the breaker opens, nobody waits on Redis.
    for i in 0..6 {
        everyone_asks(
            &newcomers[..1],
            &format!("https://r{i}.example/.default"),
            1,
        )
        .await;
    }
    let s = stats(&newcomers[0]);
    assert_ne!(s.state, BreakerState::Closed, "{s:?}");
    assert!(
        s.skipped >= 1 && s.errors >= 3 && s.breaker_opened == 1,
        "{s:?}"
    );
    // The machines that were served before the outage still answer from memory.
    for m in &machines {
        m.get_token(&[SHAREPOINT]).await.unwrap();
    }

    redis.restart();
    // After its breaker's cooldown (at most 30 s) each machine's probe reconnects.
    for (i, m) in newcomers.iter().enumerate() {
        let mut n = 0;
        while stats(m).state != BreakerState::Closed {
            n += 1;
            assert!(n < 200, "machine {i} did not rejoin: {:?}", stats(m));
            let fresh = certless::TokenRequestOptions {
                force_refresh: true,
                ..Default::default()
            };
            m.get_token_with(&[SHAREPOINT], &fresh)
                .await
                .expect("served while probing");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The farm shares again: what one fetches, the others read.
    let scope = "https://r7.example/.default";
    let entries = redis.entry_keys().len();
    newcomers[0].get_token(&[scope]).await.unwrap();
    let before = emu.counters().entra_token;
    wait_for(|| redis.entry_keys().len() > entries).await;
    everyone_asks(&newcomers[1..], scope, 2).await;
    assert_eq!(
        emu.counters().entra_token,
        before,
        "read from Redis, not fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_redis_is_a_miss_and_counted() {
    let emu = emulator().await;
    let redis = RedisServer::start("full");
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    let keys = key_file("full", None);
    let machines = farm(&emu, &redis, &keys, 3);
    for m in &machines {
        m.get_token(&[SHAREPOINT]).await.expect("served");
    }
    wait_for(|| total(&machines, |s| s.full) >= 3).await;
    assert_eq!(emu.counters().entra_token, 3, "nothing could be shared");
    assert!(
        machines
            .iter()
            .all(|m| stats(m).state == BreakerState::Closed)
    );
    assert!(redis.entry_keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_password_and_rotation() {
    let emu = emulator().await;
    let password = "p@ss:word/with-odd-chars";
    let redis = RedisServer::start_with("tls", Some(password), true);
    let old = generate_key("old").unwrap();
    let new = generate_key("new").unwrap();
    let old_keys = key_file("tls-old", Some(&old));
    let rotated = key_file("tls-rotated", Some(&format!("{new}\n{old}\n")));
    let a = machine(&emu, &redis, &old_keys).build().unwrap();
    let token = a.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 1).await;
    // A machine given the new key first still reads what the old key sealed.
    let b = machine(&emu, &redis, &rotated).build().unwrap();
    emu.reset_counters();
    assert_eq!(
        b.get_token(&[SHAREPOINT]).await.unwrap().token.expose(),
        token.token.expose()
    );
    assert_eq!(emu.counters().entra_token, 0);
    // What it seals, a machine without the new key cannot read (a miss, and it fetches).
    b.get_token(&[GRAPH]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 2).await;
    emu.reset_counters();
    a.get_token(&[GRAPH]).await.unwrap();
    assert_eq!(emu.counters().entra_token, 1);
    assert!(stats(&a).unknown_key >= 1);
    // The password is in no message, stat or Debug output.
    let shown = format!("{:?} {:?} {a:?}", stats(&a), stats(&b));
    assert!(
        !shown.contains("p@ss") && !shown.contains("p%40ss"),
        "{shown}"
    );
    assert!(stats(&a).target.starts_with("rediss://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_miss_not_an_error() {
    let emu = emulator().await;
    let redis = RedisServer::start_with("auth", Some("right-password"), false);
    let keys = key_file("auth", None);
    let wrong = redis.url().replace("right-password", "wrong-password");
    let mi = emu.default_user_assigned();
    let c = builder(&emu, MiSourceKind::Imds)
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id))
        .shared_cache(wrong)
        .shared_cache_key_file(&keys)
        .build()
        .unwrap();
    c.get_token(&[SHAREPOINT])
        .await
        .expect("served without the shared cache");
    wait_for(|| stats(&c).errors >= 1).await;
    assert!(!format!("{:?}", stats(&c)).contains("wrong-password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_farm_refreshes_each_token_once_before_it_is_due() {
    let emu = emulator().await;
    let redis = RedisServer::start("refresh");
    let keys = key_file("refresh", None);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let machines: Vec<Credential> = (0..4)
        .map(|_| {
            machine(&emu, &redis, &keys)
                .clock(Arc::clone(&clock) as Arc<dyn Clock>)
                .build()
                .unwrap()
        })
        .collect();
    let first = everyone_asks(&machines, SHAREPOINT, 2).await[0].clone();
    assert_eq!(emu.counters().entra_token, 1);
    // Into the refresh window (5 minutes before expiry, 10% jitter): each machine's hit starts
    // its background refresh; one takes the lease, the others leave it to that one.
    clock.advance(Duration::from_secs(3600 - 240));
    emu.reset_counters();
    for m in &machines {
        let hit = m.cached_token(&[SHAREPOINT]).unwrap().expect("still valid");
        assert_eq!(hit.token.expose(), first.token.expose());
    }
    for m in &machines {
        m.settle().await;
    }
    assert_eq!(emu.counters().entra_token, 1, "one refresh for the farm");
    // The others take the farm's new token at their next claim (10 s later).
    clock.advance(Duration::from_secs(11));
    for m in &machines {
        m.cached_token(&[SHAREPOINT]).unwrap();
        m.settle().await;
    }
    assert_eq!(emu.counters().entra_token, 1);
    let tokens: Vec<String> = machines
        .iter()
        .map(|m| {
            m.cached_token(&[SHAREPOINT])
                .unwrap()
                .unwrap()
                .token
                .expose()
                .to_string()
        })
        .collect();
    assert!(
        tokens
            .iter()
            .all(|t| t == &tokens[0] && t != first.token.expose()),
        "all renewed"
    );
}

#[test]
fn the_setting_is_checked_like_every_other() {
    let emu_env: Vec<(String, String)> = vec![
        ("AZURE_TENANT_ID".into(), "contoso.onmicrosoft.com".into()),
        (
            "AZURE_CLIENT_ID".into(),
            "00000000-0000-0000-0000-000000000001".into(),
        ),
        (
            "CERTLESS_SHARED_CACHE".into(),
            "redis://:pw-in-url@127.0.0.1:1".into(),
        ),
    ];
    let env = Arc::new(certless::env::MapEnv::new().with_vars(emu_env.clone()));
    let e = Credential::builder()
        .tenant_id("contoso.onmicrosoft.com")
        .client_id("00000000-0000-0000-0000-000000000001")
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .environment(env)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("no key"), "{e}");
    assert!(
        e.remedy()
            .unwrap_or("")
            .contains("certless shared-cache-key")
    );
    assert!(!format!("{e:?}").contains("pw-in-url"));
    // The JSON form, with an unknown key spelled like a known one.
    let json = r#"{"AzureAd":{"TenantId":"contoso.onmicrosoft.com","ClientId":"00000000-0000-0000-0000-000000000001",
        "SharedCache":{"Redis":"redis://127.0.0.1:1","KeyFiel":"k"}}}"#;
    let e = Credential::from_config_json(json).unwrap_err();
    assert!(e.to_string().contains("KeyFiel"), "{e}");
}

/// The doctor's report for `machine`: the whole, and its shared_cache leg's status and JSON.
async fn doctor_leg(
    machine: CredentialBuilder,
) -> (
    certless::diagnose::Report,
    certless::diagnose::Status,
    String,
) {
    let report = certless::diagnose::diagnose(machine, SHAREPOINT).await;
    let leg = report
        .legs
        .iter()
        .find(|l| l.leg == "shared_cache")
        .expect("a shared_cache leg");
    let (status, text) = (leg.status, serde_json::to_string(leg).unwrap());
    (report, status, text)
}

/// The ACL docs/shared-cache.md recommends is enough for the farm and the doctor, and a user
/// without the read's right is named by the doctor with that ACL as its fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_is_enough_and_a_narrower_one_is_named() {
    let emu = emulator().await;
    let redis = RedisServer::start("acl");
    let keys = key_file("acl", None);
    let documented = "~certless:* +getrange +get +set +del +eval +ping";
    let user = |name: &str, rules: &str| {
        let mut args = vec!["ACL", "SETUSER", name, "on", ">farm-password"];
        args.extend(rules.split(' '));
        assert_eq!(redis.cli(&args), "OK");
        let port = redis.url().rsplit(':').next().unwrap().to_string();
        format!("redis://{name}:farm-password@127.0.0.1:{port}")
    };
    let farm_url = user("farm", documented);
    let first = machine_at(&emu, &farm_url, None, &keys).build().unwrap();
    let token = first.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| redis.entry_keys().len() == 1).await;
    let second = machine_at(&emu, &farm_url, None, &keys).build().unwrap();
    emu.reset_counters();
    assert_eq!(
        second.get_token(&[SHAREPOINT]).await.unwrap().token,
        token.token
    );
    assert_eq!(
        emu.counters().entra_token,
        0,
        "read from Redis as the ACL user"
    );
    assert_eq!(stats(&second).errors, 0);
    let (_, status, text) = doctor_leg(machine_at(&emu, &farm_url, None, &keys)).await;
    assert_eq!(status, certless::diagnose::Status::Ok, "{text}");

    // Without GETRANGE: every read fails (a miss, and tokens still come), and the doctor says so.
    let narrow_url = user("narrow", "~certless:* +get +set +del +eval +ping");
    let narrow = machine_at(&emu, &narrow_url, None, &keys).build().unwrap();
    narrow.get_token(&[SHAREPOINT]).await.unwrap();
    assert!(stats(&narrow).errors >= 1);
    let (report, status, text) = doctor_leg(machine_at(&emu, &narrow_url, None, &keys)).await;
    assert!(report.ok, "{}", report.headline);
    assert_eq!(status, certless::diagnose::Status::Warn, "{text}");
    assert!(text.contains(documented), "the fix gives the ACL: {text}");
    assert!(!text.contains("farm-password"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_checks_the_shared_cache_and_never_fails_for_it() {
    let emu = emulator().await;
    let mut redis = RedisServer::start("doctor");
    let keys = key_file("doctor", None);
    let report = certless::diagnose::diagnose(machine(&emu, &redis, &keys), SHAREPOINT).await;
    assert!(report.ok, "{}", report.headline);
    let leg = |r: &certless::diagnose::Report| {
        r.legs
            .iter()
            .find(|l| l.leg == "shared_cache")
            .cloned()
            .expect("a shared_cache leg")
    };
    let shared = leg(&report);
    let text = serde_json::to_string(&shared).unwrap();
    assert_eq!(shared.status, certless::diagnose::Status::Ok, "{text}");
    assert!(
        text.contains("PING answered") && text.contains("read back, opened"),
        "{text}"
    );
    assert!(
        redis.entry_keys().iter().all(|k| !k.contains("doctor")),
        "the check cleans up"
    );

    redis.kill();
    let report = certless::diagnose::diagnose(machine(&emu, &redis, &keys), SHAREPOINT).await;
    assert!(
        report.ok,
        "a token without the shared cache: {}",
        report.headline
    );
    let shared = leg(&report);
    let text = serde_json::to_string(&shared).unwrap();
    assert_eq!(shared.status, certless::diagnose::Status::Warn, "{text}");
    assert!(
        text.contains("connection refused") && text.contains("each machine fetches"),
        "{text}"
    );
}
