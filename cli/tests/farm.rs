//! A farm on one machine: 8 `certless serve` brokers sharing one real `redis-server` (started
//! here), as 8 machines of a web farm would, with client processes (`certless token` through
//! `CERTLESS_BROKER`) spread across them.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use certless_emulator::redis_server::RedisServer;
use certless_emulator::{Emulator, EmulatorConfig, Endpoint, Fault, RunningEmulator, StartOptions};

mod common;
use common::broker::*;
use common::*;

const SCOPES: [&str; 2] = [
    "https://graph.microsoft.com/.default",
    "https://contoso.sharepoint.com/.default",
];

/// The emulator, knowing `extra` resources beyond its defaults.
fn emulator_knowing(extra: usize) -> RunningEmulator {
    let mut config = EmulatorConfig::default();
    config
        .registry
        .resources
        .extend((0..extra).map(|i| format!("https://r{i}.example")));
    Emulator::start_blocking(
        config,
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .expect("the emulator starts")
}

fn key_file(dir: &std::path::Path) -> PathBuf {
    let out = certless().arg("shared-cache-key").output().unwrap();
    assert!(out.status.success());
    let path = dir.join("shared-cache.key");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// `n` brokers sharing `redis`. The read budget is raised from its 50 ms: 8 brokers, 64 client
/// processes and the emulator on a test machine's 2 cores do not always answer within it, and
/// this test counts requests exactly.
fn brokers(emu: &RunningEmulator, redis: &RedisServer, name: &str, n: usize) -> Vec<Broker> {
    let dir = scratch_dir(name);
    let keys = key_file(&dir);
    let url = redis.url();
    (0..n)
        .map(|i| {
            let own = dir.join(format!("broker-{i}"));
            std::fs::create_dir_all(&own).unwrap();
            Broker::start_with_env(
                emu,
                &own,
                "127.0.0.1:0",
                &[
                    "--shared-cache",
                    &url,
                    "--shared-cache-key-file",
                    keys.to_str().unwrap(),
                ],
                &[("CERTLESS_SHARED_CACHE_READ_BUDGET_MS", "1000")],
            )
        })
        .collect()
}

/// A client process asking `broker` for `scope`, as a certless host does.
fn client(broker: &Broker, scope: &str) -> Command {
    let mut command = certless();
    command
        .args(["token", "--json", "--scope", scope])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "CERTLESS_BROKER",
            format!("http://127.0.0.1:{}", broker.port),
        )
        .env("CERTLESS_BROKER_SECRET", &broker.secret);
    command
}

/// Each broker's shared-cache counter `outcome` (from its /metrics).
fn shared_counter(broker: &Broker, outcome: &str) -> u64 {
    let metrics = broker.raw(&request(
        "/metrics",
        &format!("X-IDENTITY-HEADER: {}\r\n", broker.secret),
    ));
    let needle = format!("outcome=\"{outcome}\"}} ");
    metrics
        .body
        .lines()
        .filter(|l| l.starts_with("certless_shared_cache_operations_total") && l.contains(&needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn shared_up(broker: &Broker) -> bool {
    let metrics = broker.raw(&request(
        "/metrics",
        &format!("X-IDENTITY-HEADER: {}\r\n", broker.secret),
    ));
    metrics
        .body
        .lines()
        .any(|l| l.starts_with("certless_shared_cache_up{") && l.ends_with(" 1"))
}

#[test]
fn eight_cold_brokers_and_64_client_processes_cost_one_entra_request_per_scope() {
    let emu = emulator_knowing(0);
    let redis = RedisServer::start("farm8");
    let farm = brokers(&emu, &redis, "farm8", 8);
    // A managed-identity endpoint as slow as a real one cold: every broker is asked while the
    // first fetch of each scope is still under way.
    emu.set_fault(Endpoint::Imds, Fault::delayed(Duration::from_millis(300)));
    emu.reset_counters();
    let children: Vec<_> = (0..64)
        .map(|i| {
            // Every broker gets 8 clients, 4 for each scope.
            client(
                &farm[i % farm.len()],
                SCOPES[(i / farm.len()) % SCOPES.len()],
            )
            .output_async()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "client {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["accessToken"].as_str().unwrap().starts_with("eyJ"));
    }
    let counters = emu.counters();
    assert_eq!(
        counters.entra_token, 2,
        "one Entra request per scope for the whole farm"
    );
    let holders = farm
        .iter()
        .filter(|b| shared_counter(b, "lease_won") > 0)
        .count() as u64;
    assert!((1..=2).contains(&holders));
    assert_eq!(
        counters.managed_identity(),
        holders,
        "managed-identity requests only from the brokers that held a lease"
    );
    let hits: u64 = farm.iter().map(|b| shared_counter(b, "hit")).sum();
    assert_eq!(
        hits,
        2 * 8 - 2,
        "every other broker read each scope from Redis"
    );
}

#[test]
fn redis_killed_under_load_fails_no_caller_and_the_brokers_rejoin() {
    const SCOPE_COUNT: usize = 60;
    const PROBES: usize = 200;
    let emu = emulator_knowing(SCOPE_COUNT + 1 + PROBES);
    let mut redis = RedisServer::start("farm-outage");
    let farm = brokers(&emu, &redis, "farm-outage", 4);
    // Every request asks for a scope no broker has yet: each is a shared-cache read, a lease
    // and a write, so Redis is in every request's path when it dies.
    let started = Instant::now();
    let answers: Vec<(usize, u16, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let farm = &farm;
                s.spawn(move || {
                    let mut seen = Vec::new();
                    for i in (w..SCOPE_COUNT).step_by(4) {
                        let resource = format!("https://r{i}.example");
                        for broker in farm {
                            let a = broker.get_token(&resource, "");
                            seen.push((i, a.status, a.body));
                        }
                        std::thread::sleep(Duration::from_millis(40));
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        redis.kill();
        std::thread::sleep(Duration::from_millis(400));
        redis.restart();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(answers.len(), SCOPE_COUNT * farm.len());
    let errors: u64 = farm.iter().map(|b| shared_counter(b, "error")).sum();
    assert!(errors > 0, "Redis was in the path when it died");
    assert!(started.elapsed() < Duration::from_secs(60));

    // Back: each broker's breaker probes, reconnects, and the farm shares again.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut probe = SCOPE_COUNT + 1;
    for (i, broker) in farm.iter().enumerate() {
        while !shared_up(broker) {
            assert!(
                Instant::now() < deadline && probe < SCOPE_COUNT + 1 + PROBES,
                "broker {i} did not rejoin"
            );
            // A miss lets the breaker's probe through once its cooldown is over (a scope in
            // the broker's memory never reaches Redis): a scope it does not have, each time.
            let _ = broker.get_token(&format!("https://r{probe}.example"), "");
            probe += 1;
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    emu.reset_counters();
    let last = format!("https://r{SCOPE_COUNT}.example");
    let first = farm[0].get_token(&last, "");
    assert_eq!(first.status, 200);
    std::thread::sleep(Duration::from_millis(200));
    for broker in &farm[1..] {
        assert_eq!(broker.get_token(&last, "").status, 200);
    }
    assert_eq!(
        emu.counters().entra_token,
        1,
        "rejoined: one fetch for the farm"
    );
}

/// `Command::output`, started now and collected later.
trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}
