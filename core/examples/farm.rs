//! The shared cache in numbers (BENCHMARKS.md, "Issue 23"): the in-process hit with the shared
//! cache on, a hit in Redis over loopback, and a cold scale-out of simulated machines with and
//! without the shared cache. Starts the emulator and Debian's redis-server on loopback.
//! `cargo run --release -p certless --example farm -- [MACHINES]` (default 32)

mod support;

use std::time::{Duration, Instant};

use certless::Credential;
use certless_emulator::redis_server::RedisServer;
use certless_emulator::{Emulator, EmulatorConfig, Endpoint, Fault, RunningEmulator, StartOptions};

const L2_SCOPES: usize = 1000;

fn machine(emu: &RunningEmulator, shared: Option<(&str, &std::path::Path)>) -> Credential {
    let mut builder = support::demo_builder(emu);
    if let Some((url, keys)) = shared {
        builder = builder
            .shared_cache(url.to_string())
            .shared_cache_key_file(keys)
            .shared_cache_read_budget(Duration::from_secs(1));
    }
    builder.build().expect("the credential builds")
}

fn scope(i: usize) -> String {
    format!("https://r{i}.example/.default")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let machines: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    let mut config = EmulatorConfig::default();
    config
        .registry
        .resources
        .extend((0..L2_SCOPES + 2).map(|i| format!("https://r{i}.example")));
    let emu = Emulator::start_blocking(config, StartOptions::default()).expect("emulator");
    let redis = RedisServer::start("bench");
    let dir = std::env::temp_dir().join(format!("certless-farm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let keys = dir.join("shared-cache.key");
    std::fs::write(
        &keys,
        certless::shared_cache::generate_key("bench").expect("a key"),
    )
    .expect("the key file");
    let url = redis.url();
    let shared = Some((url.as_str(), keys.as_path()));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");

    // 1. The in-process hit, with the shared cache on: it never touches Redis.
    let credential = machine(&emu, shared);
    let sharepoint = "https://contoso.sharepoint.com/.default";
    runtime
        .block_on(credential.get_token(&[sharepoint]))
        .expect("a token");
    let hit = support::best_hit_ns(&credential, sharepoint, 3_000_000);
    println!("in-process hit, shared cache on: {hit:.1} ns (best of 5 rounds of 3,000,000)");

    // 2. A hit in Redis: another machine fetched each scope; this one has none in memory.
    let writer = machine(&emu, shared);
    runtime.block_on(async {
        for i in 0..L2_SCOPES {
            writer.get_token(&[scope(i)]).await.expect("a token");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    let reader = machine(&emu, shared);
    let before = emu.counters().entra_token;
    let mut took: Vec<Duration> = runtime.block_on(async {
        reader.get_token(&[sharepoint]).await.expect("warm"); // the connection is up
        let mut took = Vec::with_capacity(L2_SCOPES);
        for i in 0..L2_SCOPES {
            let started = Instant::now();
            reader.get_token(&[scope(i)]).await.expect("a token");
            took.push(started.elapsed());
        }
        took
    });
    took.sort();
    assert_eq!(
        emu.counters().entra_token,
        before,
        "every one came from Redis"
    );
    println!(
        "shared-cache hit over loopback (in-process miss, GET, open): p50 {:.3} ms, p99 {:.3} ms \
         ({L2_SCOPES} scopes)",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99))
    );

    // 3. A cold scale-out: `machines` processes start at once and each asks for one token. The
    // managed-identity endpoint answers in 150 ms and Entra in 80 ms, as they do cold.
    emu.set_fault(Endpoint::Imds, Fault::delayed(Duration::from_millis(150)));
    emu.set_fault(
        Endpoint::EntraToken,
        Fault::delayed(Duration::from_millis(80)),
    );
    println!("cold scale-out of {machines} machines (IMDS 150 ms, Entra 80 ms):");
    for (label, with, target) in [
        ("without the shared cache", None, scope(L2_SCOPES)),
        ("with the shared cache   ", shared, scope(L2_SCOPES + 1)),
    ] {
        let farm: Vec<Credential> = (0..machines).map(|_| machine(&emu, with)).collect();
        emu.reset_counters();
        let mut ttft: Vec<Duration> = runtime.block_on(async {
            std::thread::sleep(Duration::from_millis(300)); // every connection is up
            let tasks: Vec<_> = farm
                .iter()
                .map(|m| {
                    let m = m.clone();
                    let target = target.clone();
                    tokio::spawn(async move {
                        let started = Instant::now();
                        m.get_token(&[target]).await.expect("a token");
                        started.elapsed()
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("joined"));
            }
            out
        });
        ttft.sort();
        let c = emu.counters();
        println!(
            "  {label}: {:>3} Entra and {:>3} managed-identity requests; time to first token \
             p50 {:.0} ms, max {:.0} ms",
            c.entra_token,
            c.managed_identity(),
            ms(percentile(&ttft, 0.5)),
            ms(*ttft.last().expect("one at least"))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
