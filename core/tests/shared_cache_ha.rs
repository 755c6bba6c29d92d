//! The shared cache on a highly available Redis, the real thing on loopback: a master, a replica
//! and three sentinels, and a cluster of three masters (docs/shared-cache.md, "Sentinel and
//! Cluster"). A failover, or a node lost, costs misses and never a failed request.

mod common;

use std::sync::Arc;
use std::time::Duration;

use certless::shared_cache::BreakerState;
use certless::{Credential, ManagedIdentityId, TokenRequestOptions};
use certless_emulator::redis_ha::{MASTER_NAME, RedisCluster, RedisSentinels};
use certless_emulator::{EmulatorConfig, RunningEmulator};
use common::farm::{key_file, machine_at, stats, wait_for};
use common::{SHAREPOINT, emulator_with};

/// An emulator that grants tokens for `https://r0.example` .. `https://r{n-1}.example` too.
async fn emulator_for(n: usize) -> RunningEmulator {
    let mut config = EmulatorConfig::default();
    config
        .registry
        .resources
        .extend((0..n).map(|i| format!("https://r{i}.example")));
    emulator_with(config).await
}

fn scope(i: usize) -> String {
    format!("https://r{i}.example/.default")
}

/// The doctor's shared_cache leg, as JSON text.
async fn doctor_leg(emu: &RunningEmulator, url: &str, keys: &std::path::Path) -> String {
    let report = certless::diagnose::diagnose(machine_at(emu, url, None, keys), SHAREPOINT).await;
    assert!(report.ok, "{}", report.headline);
    let leg = report
        .legs
        .iter()
        .find(|l| l.leg == "shared_cache")
        .expect("a shared_cache leg");
    serde_json::to_string(leg).unwrap()
}

/// Forces refreshes of SharePoint on `m` until one is written to Redis with its breaker closed:
/// its connection then reaches the master of now.
async fn until_it_writes(m: &Credential) {
    let force = TokenRequestOptions {
        force_refresh: true,
        ..Default::default()
    };
    for _ in 0..200 {
        let writes = stats(m).writes;
        m.get_token_with(&[SHAREPOINT], &force)
            .await
            .expect("served while Redis fails over");
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stats(m).writes > writes && stats(m).state == BreakerState::Closed {
            return;
        }
    }
    panic!("never wrote to the new master: {:?}", stats(m));
}

const MASTER_PASSWORD: &str = "master:pass/word@1";
const SENTINEL_PASSWORD: &str = "sentinel-pass&word=2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_shares_tokens_and_follows_a_failover() {
    let emu = emulator_for(40).await;
    let mut set = tokio::task::spawn_blocking(|| {
        RedisSentinels::start_with(
            "sentinel",
            Some(MASTER_PASSWORD),
            Some(SENTINEL_PASSWORD),
            false,
        )
    })
    .await
    .unwrap();
    let keys = key_file("sentinel", None);
    let url = set.url();
    let a = machine_at(&emu, &url, None, &keys).build().unwrap();
    let b = machine_at(&emu, &url, None, &keys).build().unwrap();

    // Before: what one machine fetches, the other reads from the master the sentinels name.
    let token = a.get_token(&[SHAREPOINT]).await.unwrap();
    let first_master = set.master_port().unwrap();
    wait_for(|| set.master().entry_keys().len() == 1).await;
    emu.reset_counters();
    let read = b.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(read.token.expose(), token.token.expose());
    assert_eq!(emu.counters().entra_token, 0, "read from Redis");
    let leg = doctor_leg(&emu, &url, &keys).await;
    assert!(
        leg.contains(&format!(
            "Redis Sentinel: master '{MASTER_NAME}' at 127.0.0.1:{first_master}"
        )) && leg.contains("read back, opened"),
        "{leg}"
    );
    // A master's name the sentinels do not watch: the doctor says so, and still passes.
    let wrong = url.replace(&format!("/{MASTER_NAME}"), "/no-such-master");
    let leg = doctor_leg(&emu, &wrong, &keys).await;
    assert!(
        leg.contains(r#""status":"warn""#) && leg.contains("master name not found by sentinel"),
        "{leg}"
    );

    // The master dies. Every request is served throughout (from Entra while there is no
    // master), until the sentinels have promoted the replica.
    let old = set.kill_master();
    let set = Arc::new(set);
    let failover = {
        let set = Arc::clone(&set);
        tokio::task::spawn_blocking(move || set.wait_for_new_master(old))
    };
    let mut i = 0;
    while !failover.is_finished() {
        for m in [&a, &b] {
            m.get_token(&[scope(i % 30)])
                .await
                .expect("served while the master is gone");
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    failover.await.unwrap();
    assert!(i > 0);

    // After: each machine asks the sentinels again and reaches the new master; a token written
    // there by one is read by the other.
    until_it_writes(&a).await;
    until_it_writes(&b).await;
    let new_master = set.master_port().unwrap();
    assert_ne!(new_master, old);
    let fresh = scope(39);
    let entries = set.master().entry_keys().len();
    emu.reset_counters();
    let fetched = a.get_token(&[fresh.as_str()]).await.unwrap();
    assert_eq!(emu.counters().entra_token, 1);
    wait_for(|| set.master().entry_keys().len() > entries).await;
    let shared = b.get_token(&[fresh]).await.unwrap();
    assert_eq!(shared.token.expose(), fetched.token.expose());
    assert_eq!(
        emu.counters().entra_token,
        1,
        "b read a's token from the new master"
    );
    let leg = doctor_leg(&emu, &url, &keys).await;
    assert!(leg.contains(&format!("at 127.0.0.1:{new_master}")), "{leg}");
    // Neither password shows anywhere: stats, Debug, the doctor.
    let shown = format!("{:?} {:?} {a:?} {leg}", stats(&a), stats(&b));
    for secret in ["master:pass", "master%3Apass", "sentinel-pass"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_failover_is_followed_too() {
    let emu = emulator_for(1).await;
    let set = tokio::task::spawn_blocking(|| RedisSentinels::start("manual"))
        .await
        .unwrap();
    let keys = key_file("manual", None);
    let url = set.url();
    let a = machine_at(&emu, &url, None, &keys).build().unwrap();
    let b = machine_at(&emu, &url, None, &keys).build().unwrap();
    a.get_token(&[SHAREPOINT]).await.unwrap();
    b.get_token(&[SHAREPOINT]).await.unwrap();
    // The old master stays up and becomes a replica of the new one.
    let old = set.master_port().unwrap();
    let set = Arc::new(set);
    {
        let set = Arc::clone(&set);
        tokio::task::spawn_blocking(move || {
            assert_eq!(
                set.sentinels[0].cli(&["SENTINEL", "FAILOVER", MASTER_NAME]),
                "OK"
            );
            set.wait_for_new_master(old);
            // The sentinels turn the old master into a replica a few seconds later (and close
            // its clients then); until then it still takes writes, as Redis does.
            let demoted = set.servers.iter().find(|s| s.port == old).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !demoted.cli(&["ROLE"]).starts_with("slave") {
                assert!(std::time::Instant::now() < deadline, "not demoted in 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .await
        .unwrap();
    }
    until_it_writes(&a).await;
    until_it_writes(&b).await;
    // What a fetches now is on the new master, and b reads it there.
    let entries = set.master().entry_keys().len();
    emu.reset_counters();
    let fetched = a.get_token(&[scope(0)]).await.unwrap();
    wait_for(|| set.master().entry_keys().len() > entries).await;
    let read = b.get_token(&[scope(0)]).await.unwrap();
    assert_eq!(read.token.expose(), fetched.token.expose());
    assert_eq!(
        emu.counters().entra_token,
        1,
        "b read a's token from the new master"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_over_tls_with_a_private_ca() {
    let emu = emulator_for(0).await;
    let set = tokio::task::spawn_blocking(|| {
        RedisSentinels::start_with("sentinel-tls", Some(MASTER_PASSWORD), None, true)
    })
    .await
    .unwrap();
    let keys = key_file("sentinel-tls", None);
    let url = set.url();
    assert!(url.starts_with("rediss+sentinel://"), "{url}");
    let ca = set.ca_file().unwrap().to_path_buf();
    let a = machine_at(&emu, &url, Some(&ca), &keys).build().unwrap();
    let b = machine_at(&emu, &url, Some(&ca), &keys).build().unwrap();
    let token = a.get_token(&[SHAREPOINT]).await.unwrap();
    wait_for(|| set.master().entry_keys().len() == 1).await;
    emu.reset_counters();
    let read = b.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(read.token.expose(), token.token.expose());
    assert_eq!(emu.counters().entra_token, 0, "read over TLS");
    // Without the CA, the sentinels' certificates are not trusted: a miss, never an error.
    let untrusting = machine_at(&emu, &url, None, &keys).build().unwrap();
    emu.reset_counters();
    untrusting
        .get_token(&[SHAREPOINT])
        .await
        .expect("served without the shared cache");
    assert_eq!(emu.counters().entra_token, 1);
    wait_for(|| stats(&untrusting).errors >= 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_spreads_entries_over_its_nodes_and_outlives_one() {
    let emu = emulator_for(13).await;
    let mut cluster = tokio::task::spawn_blocking(|| RedisCluster::start("cluster"))
        .await
        .unwrap();
    let keys = key_file("cluster", None);
    let url = cluster.url();
    let a = machine_at(&emu, &url, None, &keys).build().unwrap();
    let b = machine_at(&emu, &url, None, &keys).build().unwrap();
    let scopes: Vec<String> = (0..12).map(scope).collect();

    for s in &scopes {
        a.get_token(&[s.as_str()]).await.unwrap();
    }
    let stored = |c: &RedisCluster| c.entry_keys_by_node().iter().map(Vec::len).sum::<usize>();
    wait_for(|| stored(&cluster) == 12).await;
    let by_node = cluster.entry_keys_by_node();
    assert!(
        by_node.iter().filter(|keys| !keys.is_empty()).count() >= 2,
        "spread by hash slot: {by_node:?}"
    );
    // Every lease was released (a script on the node of its key): none is left.
    wait_for(|| {
        cluster.nodes.iter().all(|n| {
            n.cli(&["--scan", "--pattern", "certless:*:lease"])
                .is_empty()
        })
    })
    .await;
    // b learns the cluster's map (and fetches a thirteenth token); then the slot of one entry
    // moves to another node, as a resharding does: b is answered MOVED for it, follows, and
    // reads it there.
    b.get_token(&[scope(12).as_str()]).await.unwrap();
    let (from, key) = (0..3)
        .find_map(|i| by_node[i].first().map(|k| (i, k.clone())))
        .unwrap();
    let to = (from + 1) % 3;
    tokio::task::block_in_place(|| cluster.move_slot_of(&key, to));
    assert!(cluster.entry_keys_by_node()[to].contains(&key));
    emu.reset_counters();
    for s in &scopes {
        b.get_token(&[s.as_str()]).await.unwrap();
    }
    assert_eq!(emu.counters().entra_token, 0, "all read from the cluster");
    let leg = doctor_leg(&emu, &url, &keys).await;
    assert!(
        leg.contains("Redis Cluster of 3 master(s): 127.0.0.1:") && leg.contains("read back"),
        "{leg}"
    );

    // The node holding the most entries is lost: every request is still served, from Entra
    // where its entry is gone (one of its entries may be the thirteenth, not asked for here).
    let by_node = cluster.entry_keys_by_node();
    let lost = (0..3).max_by_key(|i| by_node[*i].len()).unwrap();
    cluster.nodes[lost].kill();
    let c = machine_at(&emu, &url, None, &keys).build().unwrap();
    emu.reset_counters();
    for s in &scopes {
        c.get_token(&[s.as_str()])
            .await
            .expect("served without that node");
    }
    assert!(
        emu.counters().entra_token as usize >= by_node[lost].len() - 1,
        "{:?}",
        emu.counters()
    );
    for s in &scopes {
        a.get_token(&[s.as_str()]).await.expect("from memory");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls_with_a_password() {
    let emu = emulator_for(6).await;
    let cluster = tokio::task::spawn_blocking(|| {
        RedisCluster::start_with("cluster-tls", Some(MASTER_PASSWORD), true)
    })
    .await
    .unwrap();
    let keys = key_file("cluster-tls", None);
    let url = cluster.url();
    assert!(url.starts_with("rediss+cluster://:"), "{url}");
    let ca = cluster.ca_file().unwrap().to_path_buf();
    let a = machine_at(&emu, &url, Some(&ca), &keys).build().unwrap();
    let b = machine_at(&emu, &url, Some(&ca), &keys).build().unwrap();
    let scopes: Vec<String> = (0..6).map(scope).collect();
    for s in &scopes {
        a.get_token(&[s.as_str()]).await.unwrap();
    }
    let stored = || {
        cluster
            .entry_keys_by_node()
            .iter()
            .map(Vec::len)
            .sum::<usize>()
    };
    wait_for(|| stored() == 6).await;
    emu.reset_counters();
    for s in &scopes {
        b.get_token(&[s.as_str()]).await.unwrap();
    }
    assert_eq!(emu.counters().entra_token, 0, "all read over TLS");
    let shown = format!("{:?} {a:?}", stats(&a));
    assert!(!shown.contains("master:pass"), "{shown}");
}

#[test]
fn a_sentinel_address_without_a_master_is_a_config_error() {
    let e = Credential::builder()
        .tenant_id("contoso.onmicrosoft.com")
        .client_id("00000000-0000-0000-0000-000000000001")
        .managed_identity(ManagedIdentityId::SystemAssigned)
        .shared_cache("redis+sentinel://:pw-in-sentinel-url@127.0.0.1:26379,127.0.0.1:26380")
        .build()
        .unwrap_err();
    let text = format!("{e} {:?} {e:?}", e.remedy());
    assert!(text.contains("names no master"), "{text}");
    assert!(
        text.contains("redis+sentinel://[user:password@]host1:26379"),
        "{text}"
    );
    assert!(!text.contains("pw-in-sentinel-url"), "{text}");
}
