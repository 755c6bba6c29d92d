//! The cost of a cache hit as the cache grows: one credential holding 1, 10, 100 and 1,000
//! cached (tenant, scope) pairs, best of 5 rounds of hits on one of them.
//! `cargo run --release -p certless --example cache_growth -- [hits_per_round]`

mod support;

use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let sizes = [1usize, 10, 100, 1000];
    let mut config = EmulatorConfig::default();
    let resources: Vec<String> = (0..*sizes.last().unwrap_or(&1))
        .map(|i| format!("https://api{i}.contoso.com"))
        .collect();
    config.registry.resources.extend(resources.iter().cloned());
    let emulator = Emulator::start_blocking(config, StartOptions::default()).expect("emulator");
    let credential = support::demo_credential(&emulator);
    let scopes: Vec<String> = resources.iter().map(|r| format!("{r}/.default")).collect();
    let mut cached = 0;
    for size in sizes {
        while cached < size {
            credential
                .get_token_blocking(&[scopes[cached].as_str()], &Default::default())
                .expect("token");
            cached += 1;
        }
        // The first scope cached: a linear scan would find it first, the worst case for a
        // hash table; the last one cached: the worst case for a scan.
        for (which, scope) in [("first", &scopes[0]), ("last", &scopes[size - 1])] {
            let best = support::best_hit_ns(&credential, scope, n);
            println!("{size:>5} cached: hit on the {which:<5} {best:>7.1} ns (best of 5 x {n})");
        }
    }
}
