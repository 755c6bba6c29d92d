//! Jitter: spreading retries and refreshes of many processes that failed or started together.
//! Not for anything secret. Tests replace the source with a seeded sequence for their thread, so
//! that a schedule can be checked over many seeds and a failing seed reproduced.

use std::sync::atomic::{AtomicU64, Ordering};

/// 0..=99, well spread.
pub(crate) fn percent() -> u32 {
    (next_u64() % 100) as u32
}

fn next_u64() -> u64 {
    #[cfg(test)]
    if let Some(value) = seeded::next() {
        return value;
    }
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    mix(seed)
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
pub(crate) mod seeded {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// From now on this thread's jitter is the splitmix64 sequence of `seed`.
    pub(crate) fn set(seed: u64) {
        STATE.with(|s| s.set(Some(seed)));
    }

    pub(super) fn next() -> Option<u64> {
        STATE.with(|s| {
            let state = s.get()?.wrapping_add(super::GOLDEN_GAMMA);
            s.set(Some(state));
            Some(super::mix(state))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_cover_the_range_and_seeds_repeat() {
        let mut seen = [false; 100];
        for _ in 0..10_000 {
            seen[super::percent() as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        super::seeded::set(7);
        let a: Vec<u32> = (0..20).map(|_| super::percent()).collect();
        super::seeded::set(7);
        let b: Vec<u32> = (0..20).map(|_| super::percent()).collect();
        assert_eq!(a, b);
    }
}
