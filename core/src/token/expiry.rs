//! `expires_on` / `expires_in` in every shape the managed-identity endpoints have been seen to
//! send (docs/protocol.md §2): JSON numbers or strings; relative seconds or epoch seconds (MSAL.NET's
//! rule: a number below 978307200, 2001-01-01, is relative); ISO-8601; and App Service's
//! `M/d/yyyy h:mm:ss tt +00:00`.

use serde_json::Value;

use crate::support::clock::{civil_to_unix, parse_hms};

/// 2001-01-01T00:00:00Z: below it a number is a duration, above it an instant.
const RELATIVE_THRESHOLD: i64 = 978_307_200;

/// Interprets an `expires_on` value as Unix seconds. `now` anchors relative values.
pub fn parse_expires_on(value: &Value, now: i64) -> Option<i64> {
    match value {
        Value::Number(n) => number_to_instant(n.as_f64()?, now),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                return number_to_instant(n, now);
            }
            parse_iso8601(s).or_else(|| parse_us_date(s))
        }
        _ => None,
    }
}

/// Interprets an `expires_in` value (always relative seconds) as Unix seconds.
pub fn parse_expires_in(value: &Value, now: i64) -> Option<i64> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (0.0..1e9)
        .contains(&secs)
        .then(|| now.saturating_add(secs as i64))
}

fn number_to_instant(n: f64, now: i64) -> Option<i64> {
    if !(0.0..=1e13).contains(&n) {
        return None;
    }
    let n = n as i64;
    Some(if n < RELATIVE_THRESHOLD {
        now.saturating_add(n)
    } else {
        n
    })
}

/// `2026-11-22T02:33:17Z`, `2026-11-22T02:33:17.123+01:00`, `2026-11-22 02:33:17Z`.
fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
    {
        return None;
    }
    let year = s.get(0..4)?.parse().ok()?;
    let month = s.get(5..7)?.parse().ok()?;
    let day = s.get(8..10)?.parse().ok()?;
    let (hour, minute, second) = parse_hms(s.get(11..19)?)?;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.chars().take_while(char::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = parse_offset(rest.trim())?;
    Some(civil_to_unix(year, month, day, hour, minute, second)? - offset)
}

/// `1/16/2020 5:24:12 AM +00:00` (App Service, 2017-era API versions).
fn parse_us_date(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let date = parts.next()?;
    let time = parts.next()?;
    let ampm = parts.next()?;
    let offset = parts.next().unwrap_or("+00:00");
    if parts.next().is_some() {
        return None;
    }
    let mut d = date.split('/');
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let year: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() {
        return None;
    }
    let mut t = time.split(':');
    let mut hour: u32 = t.next()?.parse().ok()?;
    let minute: u32 = t.next()?.parse().ok()?;
    let second: u32 = t.next()?.parse().ok()?;
    if t.next().is_some() || !(1..=12).contains(&hour) {
        return None;
    }
    match ampm.to_ascii_uppercase().as_str() {
        "AM" if hour == 12 => hour = 0,
        "AM" => {}
        "PM" if hour != 12 => hour += 12,
        "PM" => {}
        _ => return None,
    }
    Some(civil_to_unix(year, month, day, hour, minute, second)? - parse_offset(offset)?)
}

/// `Z`, `+hh:mm`, `-hhmm`, or nothing (UTC) → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s.is_empty() || s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[0..2].parse().ok()?;
    let m: i64 = digits[2..4].parse().ok()?;
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn epoch_seconds_as_number_or_string() {
        assert_eq!(
            parse_expires_on(&json!(1_700_003_600), NOW),
            Some(1_700_003_600)
        );
        assert_eq!(
            parse_expires_on(&json!("1700003600"), NOW),
            Some(1_700_003_600)
        );
        assert_eq!(
            parse_expires_on(&json!(" 1700003600 "), NOW),
            Some(1_700_003_600)
        );
    }

    #[test]
    fn small_numbers_are_relative() {
        assert_eq!(parse_expires_on(&json!(3600), NOW), Some(NOW + 3600));
        assert_eq!(parse_expires_on(&json!("86399"), NOW), Some(NOW + 86399));
        assert_eq!(parse_expires_in(&json!("3599"), NOW), Some(NOW + 3599));
        assert_eq!(parse_expires_in(&json!(3599), NOW), Some(NOW + 3599));
    }

    #[test]
    fn iso8601_with_offsets_and_fractions() {
        // 2020-01-16T05:24:12Z = 1579152252
        assert_eq!(
            parse_expires_on(&json!("2020-01-16T05:24:12Z"), NOW),
            Some(1_579_152_252)
        );
        assert_eq!(
            parse_expires_on(&json!("2020-01-16T05:24:12.1234567Z"), NOW),
            Some(1_579_152_252)
        );
        assert_eq!(
            parse_expires_on(&json!("2020-01-16T06:24:12+01:00"), NOW),
            Some(1_579_152_252)
        );
        assert_eq!(
            parse_expires_on(&json!("2020-01-16 05:24:12"), NOW),
            Some(1_579_152_252)
        );
    }

    #[test]
    fn app_service_us_date_strings() {
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 5:24:12 AM +00:00"), NOW),
            Some(1_579_152_252)
        );
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 5:24:12 PM +00:00"), NOW),
            Some(1_579_152_252 + 12 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 12:24:12 AM +00:00"), NOW),
            Some(1_579_152_252 - 5 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 12:24:12 PM +00:00"), NOW),
            Some(1_579_152_252 + 7 * 3600)
        );
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 7:24:12 AM +02:00"), NOW),
            Some(1_579_152_252)
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for v in [
            json!("soon"),
            json!(null),
            json!(true),
            json!(-5),
            json!("13/40/2020 1:00:00 AM +00:00"),
            json!("2020-13-01T00:00:00Z"),
            json!(f64::MAX.to_string()),
            json!({}),
        ] {
            assert_eq!(parse_expires_on(&v, NOW), None, "{v}");
        }
        assert_eq!(parse_expires_in(&json!("-1"), NOW), None);
    }
}
