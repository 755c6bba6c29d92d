//! Cache hits in a loop, for profilers (`valgrind --tool=callgrind`) and a quick
//! min-of-rounds latency when the machine is busy.
//! `cargo run --release -p certless --example hits -- 1000000`

mod support;

use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let emulator = Emulator::start_blocking(EmulatorConfig::default(), StartOptions::default())
        .expect("emulator");
    let credential = support::demo_credential(&emulator);
    let scope = ["https://contoso.sharepoint.com/.default"];
    credential
        .get_token_blocking(&scope, &Default::default())
        .expect("first token");
    let best = support::best_hit_ns(&credential, scope[0], n);
    println!("cached_token: {best:.1} ns per hit (best of 5 rounds of {n})");
}
