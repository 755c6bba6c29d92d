//! The thundering herd: N concurrent callers on a cold credential, against the emulator.
//! Prints the upstream request counts (the target is 1 + 1) and the callers' latency.
//! `cargo run --release -p certless --example herd -- 256`

mod support;

use std::time::{Duration, Instant};

use certless_emulator::{Emulator, EmulatorConfig, Endpoint, Fault, StartOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let callers: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    let emulator = Emulator::start(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port: None,
            state_dir: None,
        },
    )
    .await
    .expect("emulator");
    // A realistic 20 ms per leg, so that the herd really arrives while the fetch is in flight.
    for endpoint in [Endpoint::Imds, Endpoint::EntraToken] {
        emulator.set_fault(
            endpoint,
            Fault {
                delay: Some(Duration::from_millis(20)),
                ..Default::default()
            },
        );
    }
    let credential = support::demo_credential(&emulator);
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let c = credential.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                c.get_token(&["https://contoso.sharepoint.com/.default"])
                    .await
                    .map(|_| t.elapsed())
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(callers);
    for task in tasks {
        latencies.push(task.await.expect("task").expect("token"));
    }
    let wall = started.elapsed();
    latencies.sort();
    let counters = emulator.counters();
    println!("callers: {callers}");
    println!(
        "upstream requests: managed identity {}, Entra {} (target 1 + 1)",
        counters.imds, counters.entra_token
    );
    println!(
        "caller latency: median {:?}, p99 {:?}, max {:?}; all {callers} served in {wall:?}",
        latencies[callers / 2],
        latencies[callers * 99 / 100],
        latencies[callers - 1]
    );
    if counters.imds != 1 || counters.entra_token != 1 {
        std::process::exit(1);
    }
}
