//! The emulator's clock (skewable for clock-skew and expired-assertion tests) and the timestamp shapes the real
//! services put on the wire.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall clock plus an offset the tests set. Everything time-related the emulator does (the `iat`/`nbf`/`exp` it
/// issues, the assertion validity check, `Date` headers, error timestamps) reads this clock.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    pub(crate) fn set_offset(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }

    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch, skewed.
    pub(crate) fn now(&self) -> i64 {
        self.now_nanos().div_euclid(1_000_000_000) as i64
    }

    /// Nanoseconds since the Unix epoch, skewed.
    pub(crate) fn now_nanos(&self) -> i128 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        real + i128::from(self.offset()) * 1_000_000_000
    }
}

/// A UTC calendar time, from seconds since the epoch (clamped at the epoch: the emulator never issues earlier times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub weekday: u32, // 0 = Sunday
}

impl Utc {
    pub(crate) fn from_epoch(secs: i64) -> Self {
        let secs = secs.max(0);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4).rem_euclid(7)) as u32,
        }
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Entra's error timestamp: `2026-11-22 02:33:17Z`.
pub(crate) fn entra_timestamp(secs: i64) -> String {
    let t = Utc::from_epoch(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The Azure CLI's `expiresOn` (`az account get-access-token`): `2026-12-07 03:30:00.000000`. The CLI prints local
/// time; the emulator's clock is UTC.
pub(crate) fn az_cli_time(secs: i64) -> String {
    let t = Utc::from_epoch(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// .NET round-trip style with seven fraction digits, as in AADSTS700024's text:
/// `2024-10-02T22:05:03.6755165Z`.
pub(crate) fn dotnet_round_trip(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let ticks = (nanos.rem_euclid(1_000_000_000) / 100) as u32;
    let t = Utc::from_epoch(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, ticks
    )
}

/// ISO 8601 in UTC without fraction: `2020-01-16T05:24:12Z`.
pub(crate) fn iso8601(secs: i64) -> String {
    let t = Utc::from_epoch(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The .NET `DateTimeOffset` general format some managed-identity endpoints have sent:
/// `1/16/2020 5:24:12 AM +00:00` (docs/protocol.md §2, Responses).
pub(crate) fn dotnet_date_string(secs: i64) -> String {
    let t = Utc::from_epoch(secs);
    let (h12, ampm) = match t.hour {
        0 => (12, "AM"),
        1..=11 => (t.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {} +00:00",
        t.month, t.day, t.year, h12, t.minute, t.second, ampm
    )
}

/// RFC 9110 IMF-fixdate for the `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Utc::from_epoch(secs);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday as usize % 7],
        t.day,
        MONTHS[(t.month as usize + 11) % 12],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 1994-11-06T08:49:37Z, the RFC's own example.
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        // 2020-01-16T05:24:12Z, docs/protocol.md's date-string example.
        assert_eq!(
            dotnet_date_string(1_579_152_252),
            "1/16/2020 5:24:12 AM +00:00"
        );
        assert_eq!(iso8601(1_579_152_252), "2020-01-16T05:24:12Z");
        assert_eq!(entra_timestamp(1_579_152_252), "2020-01-16 05:24:12Z");
        assert_eq!(az_cli_time(1_579_152_252), "2020-01-16 05:24:12.000000");
        assert_eq!(
            dotnet_date_string(1_579_132_800 + 13 * 3600),
            "1/16/2020 1:00:00 PM +00:00"
        );
        assert_eq!(
            dotnet_round_trip(1_579_152_252_123_456_789),
            "2020-01-16T05:24:12.1234567Z"
        );
        // Leap day.
        assert_eq!(iso8601(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn offset_moves_the_clock() {
        let c = Clock::default();
        let before = c.now();
        c.set_offset(-600);
        let after = c.now();
        assert!((before - 600 - after).abs() <= 1, "{before} {after}");
    }
}
