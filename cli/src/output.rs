//! Printing for people: errors, decoded claims (never raw tokens unless asked), times.

use std::process::ExitCode;

use serde_json::Value;

/// Prints an error the way every certless command does, and the exit code for it.
pub fn fail(e: &certless::Error) -> ExitCode {
    eprintln!("certless: {e}");
    ExitCode::from(2)
}

/// `2026-11-22T02:33:17Z`
pub fn iso8601(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Prints the named claims of a decoded token, one per line, times made readable.
pub fn print_claims(claims: &serde_json::Map<String, Value>, names: &[&str], indent: &str) {
    for name in names {
        let Some(value) = claims.get(*name) else { continue };
        let shown = match (name, value) {
            (&("iat" | "nbf" | "exp"), Value::Number(n)) => {
                let secs = n.as_i64().unwrap_or_default();
                format!("{secs} ({})", iso8601(secs))
            }
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        println!("{indent}{name:<10} {shown}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601(1_579_152_252), "2020-01-16T05:24:12Z");
        assert_eq!(super::iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
