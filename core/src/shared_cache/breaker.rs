//! The circuit breaker in front of Redis: after [`TRIP_AFTER`] failures in a row (timeouts,
//! refused or reset connections) certless stops asking for a cooldown, then lets one probe
//! through; a probe that succeeds closes the breaker, one that fails opens it again for twice as
//! long, up to [`MAX_COOLDOWN`]. Callers never wait on an open breaker: it is a miss. Each change
//! of state is one log line, never one per request.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that open the breaker.
pub(crate) const TRIP_AFTER: u32 = 3;
/// The first cooldown; it doubles at each failed probe.
pub(crate) const FIRST_COOLDOWN: Duration = Duration::from_secs(1);
/// The longest cooldown: a failover that ends is noticed within this.
pub(crate) const MAX_COOLDOWN: Duration = Duration::from_secs(30);

/// What a caller may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Closed: ask.
    Ask,
    /// Half open: this caller is the one probe.
    Probe,
    /// Open (or a probe is out): do not ask; it is a miss.
    Skip,
}

/// The breaker's state, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Redis answers.
    Closed,
    /// Redis failed; certless is not asking until the cooldown ends.
    Open,
    /// One probe is out.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

pub(crate) struct Breaker {
    inner: Mutex<Inner>,
    /// Where Redis is, for the log lines (no password).
    target: String,
}

struct Inner {
    failures: u32,
    open_until: Option<Instant>,
    cooldown: Duration,
    probing: bool,
    opened: u64,
}

impl Breaker {
    pub(crate) fn new(target: String) -> Self {
        Breaker {
            inner: Mutex::new(Inner {
                failures: 0,
                open_until: None,
                cooldown: FIRST_COOLDOWN,
                probing: false,
                opened: 0,
            }),
            target,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn permit(&self, now: Instant) -> Permit {
        let mut inner = self.lock();
        match inner.open_until {
            None => Permit::Ask,
            Some(until) if now < until || inner.probing => Permit::Skip,
            Some(_) => {
                inner.probing = true;
                Permit::Probe
            }
        }
    }

    pub(crate) fn succeeded(&self) {
        let mut inner = self.lock();
        let was_open = inner.open_until.is_some();
        inner.failures = 0;
        inner.open_until = None;
        inner.cooldown = FIRST_COOLDOWN;
        inner.probing = false;
        drop(inner);
        if was_open {
            log::info!(
                "certless: the shared cache at {} answers again; tokens are shared again",
                self.target
            );
        }
    }

    /// A failure (`why` is safe to log: no password, no token).
    pub(crate) fn failed(&self, now: Instant, why: &str) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        if inner.probing {
            inner.probing = false;
            inner.cooldown = (inner.cooldown * 2).min(MAX_COOLDOWN);
            inner.open_until = Some(now + inner.cooldown);
            return;
        }
        if inner.open_until.is_none() && inner.failures >= TRIP_AFTER {
            inner.open_until = Some(now + inner.cooldown);
            inner.opened += 1;
            drop(inner);
            log::warn!(
                "certless: the shared cache at {} failed {TRIP_AFTER} times in a row ({why}); each \
                 machine fetches its own tokens until it answers again",
                self.target
            );
        }
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if inner.probing || now >= until => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// How many times the breaker opened.
    pub(crate) fn times_opened(&self) -> u64 {
        self.lock().opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_failures_in_a_row_probes_once_and_closes_on_success() {
        let b = Breaker::new("redis://127.0.0.1:1".into());
        let t = Instant::now();
        assert_eq!(b.permit(t), Permit::Ask);
        b.failed(t, "timeout");
        b.failed(t, "timeout");
        b.succeeded();
        b.failed(t, "timeout");
        b.failed(t, "timeout");
        assert_eq!(
            b.state(t),
            BreakerState::Closed,
            "a success in between resets"
        );
        b.failed(t, "timeout");
        assert_eq!(b.state(t), BreakerState::Open);
        assert_eq!(b.permit(t), Permit::Skip);
        let later = t + FIRST_COOLDOWN;
        assert_eq!(b.permit(later), Permit::Probe);
        assert_eq!(b.permit(later), Permit::Skip, "one probe at a time");
        b.failed(later, "refused");
        assert_eq!(
            b.permit(later + FIRST_COOLDOWN),
            Permit::Skip,
            "cooldown doubled"
        );
        let probe = later + FIRST_COOLDOWN * 2;
        assert_eq!(b.permit(probe), Permit::Probe);
        b.succeeded();
        assert_eq!(b.state(probe), BreakerState::Closed);
        assert_eq!(b.permit(probe), Permit::Ask);
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn the_cooldown_stops_growing() {
        let b = Breaker::new("x".into());
        let mut t = Instant::now();
        for _ in 0..TRIP_AFTER {
            b.failed(t, "x");
        }
        for _ in 0..20 {
            t += MAX_COOLDOWN;
            assert_eq!(b.permit(t), Permit::Probe);
            b.failed(t, "x");
        }
        assert_eq!(b.permit(t + MAX_COOLDOWN), Permit::Probe);
    }
}
