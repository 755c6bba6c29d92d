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
    certless::clock::to_iso8601(unix)
}

/// Prints the named claims of a decoded token, one per line, times made readable.
pub fn print_claims(claims: &serde_json::Map<String, Value>, names: &[&str], indent: &str) {
    for name in names {
        let Some(value) = claims.get(*name) else {
            continue;
        };
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
