//! Expiry and back-off figures servers send: `expires_on` (epoch or relative seconds, as number
//! or string, ISO-8601, App Service's `M/d/yyyy h:mm:ss AM +00:00`), `expires_in`, and
//! `Retry-After` (seconds or an HTTP date, measured from the answer's `Date`). The input is
//! taken both as a string value and, when it parses, as a JSON value; for Retry-After, its
//! first line is the header and the second the `Date`. Properties: no panic; figures stay within
//! bounds (expires_in ahead of now by less than 10⁹ s, expires_on within years 1970..=9999 or
//! 10¹³ s, Retry-After at most an hour); an instant read round-trips through certless's own
//! ISO-8601 formatting.
#![no_main]

use certless::clock::to_iso8601;
use certless::fuzzing::retry_after;
use certless::managed_identity::expiry::{parse_expires_in, parse_expires_on};
use certless_fuzz::NOW;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 9999-12-31T23:59:59Z.
const LAST_INSTANT: i64 = 253_402_300_799;

fn check(value: &Value) {
    if let Some(at) = parse_expires_in(value, NOW) {
        assert!(
            (NOW..NOW + 1_000_000_000).contains(&at),
            "expires_in {value} → {at}"
        );
    }
    if let Some(at) = parse_expires_on(value, NOW) {
        // A time zone offset may move 1970-01-01 a day back; numbers reach 10^13.
        assert!(
            (-86_400..=LAST_INSTANT.max(10_000_000_000_000)).contains(&at),
            "expires_on {value} → {at}"
        );
        if (0..=LAST_INSTANT).contains(&at) {
            let formatted = Value::String(to_iso8601(at));
            assert_eq!(
                parse_expires_on(&formatted, NOW),
                Some(at),
                "{formatted} does not read back"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&Value::String(text.to_string()));
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        check(&value);
    }
    let (value, date) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    for date in [date, None] {
        if let Some(seconds) = retry_after(value, date) {
            assert!(seconds <= 3600, "Retry-After {seconds} s");
        }
    }
});
