//! Upstream requests per minute when tokens are short-lived: threads calling `get_token` in a
//! loop on many scopes, against the emulator issuing tokens of a given lifetime.
//! `cargo run --release -p certless --example short_lived -- [lifetime_s] [run_s] [threads] [scopes]`
//! (defaults 130 300 8 20: the case that once sent 10,290 Entra requests in 5 minutes).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (lifetime, run_secs, threads, scope_count) =
        (arg(1, 130), arg(2, 300), arg(3, 8), arg(4, 20));
    let mut config = EmulatorConfig::default();
    config.registry.access_token_lifetime_secs = lifetime;
    let resources: Vec<String> = (0..scope_count)
        .map(|i| format!("https://api{i}.contoso.com"))
        .collect();
    config.registry.resources.extend(resources.iter().cloned());
    let emulator = Emulator::start_blocking(config, StartOptions::default()).expect("emulator");
    let credential = support::demo_credential(&emulator);
    let scopes: Arc<Vec<String>> =
        Arc::new(resources.iter().map(|r| format!("{r}/.default")).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (credential, scopes, stop, calls) = (
                credential.clone(),
                scopes.clone(),
                stop.clone(),
                calls.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for scope in scopes.iter() {
                        credential
                            .get_token_blocking(&[scope.as_str()], &Default::default())
                            .expect("token");
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(run_secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let c = emulator.counters();
    println!(
        "{threads} threads x {scope_count} scopes, tokens living {lifetime} s, {:.1} min: \
         {} calls",
        minutes,
        calls.load(Ordering::Relaxed)
    );
    println!(
        "upstream: Entra {} ({:.1}/min, {:.2} per scope per minute), managed identity {}",
        c.entra_token,
        c.entra_token as f64 / minutes,
        c.entra_token as f64 / minutes / scope_count as f64,
        c.imds
    );
}
