//! Printing for people: errors, decoded claims (never raw tokens unless asked), times.
//!
//! Everything goes through [`outln!`]/[`out!`]/[`errln!`] instead of `println!`: SIGPIPE stays
//! ignored in this process (a connection reset must not kill it), so a reader that went away
//! (`certless token ... | head -c1`) shows up as EPIPE, and `println!` would panic on it.

use std::io::{self, Write};
use std::process::ExitCode;

#[cfg(feature = "emulator")]
use serde_json::Value;

/// `println!` to standard output; ends the process quietly when the reader has gone away.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::to_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to standard output; ends the process quietly when the reader has gone away.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::to_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (standard error may be closed too).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::to_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

pub(crate) fn to_stdout(text: std::fmt::Arguments) {
    let written = io::stdout().lock().write_fmt(text);
    match written {
        Ok(()) => {}
        // The reader is done (`| head`): like any Unix tool, stop without a word.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            to_stderr(format_args!(
                "certless: cannot write to standard output: {e}\n"
            ));
            std::process::exit(1)
        }
    }
}

pub(crate) fn to_stderr(text: std::fmt::Arguments) {
    let _ = io::stderr().lock().write_fmt(text);
}

/// Prints an error the way every certless command does, and the exit code for it.
pub(crate) fn fail(e: &certless::Error) -> ExitCode {
    errln!("certless: {e}");
    ExitCode::from(2)
}

/// `2026-11-22T02:33:17Z`
pub(crate) fn iso8601(unix: i64) -> String {
    certless::clock::to_iso8601(unix)
}

/// Prints the named claims of a decoded token, one per line, times made readable.
#[cfg(feature = "emulator")]
pub(crate) fn print_claims(claims: &serde_json::Map<String, Value>, names: &[&str], indent: &str) {
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
        outln!("{indent}{name:<10} {shown}");
    }
}
