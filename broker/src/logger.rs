//! The broker's log: one line per event on standard error (with syslog priority prefixes when
//! journald reads it, which adds its own timestamps), or appended to `--log-file` (a Windows
//! service has no standard error). certless never logs a token or a secret, and neither does the
//! broker: what a request is refused for, never what it carried.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

enum Sink {
    Stderr { journald: bool },
    File(Mutex<File>),
}

struct Logger {
    level: LevelFilter,
    sink: Sink,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match &self.sink {
            Sink::Stderr { journald: true } => {
                let priority = match record.level() {
                    Level::Error => 3,
                    Level::Warn => 4,
                    Level::Info => 6,
                    Level::Debug | Level::Trace => 7,
                };
                let _ = writeln!(std::io::stderr().lock(), "<{priority}>{}", record.args());
            }
            Sink::Stderr { journald: false } => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{} {:5} {}",
                    now(),
                    record.level(),
                    record.args()
                );
            }
            Sink::File(file) => {
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(file, "{} {:5} {}", now(), record.level(), record.args());
            }
        }
    }

    fn flush(&self) {
        if let Sink::File(file) = &self.sink {
            let _ = file.lock().unwrap_or_else(|e| e.into_inner()).flush();
        }
    }
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    certless::clock::to_iso8601(secs)
}

/// Installs the broker's logger for the whole process: `level` is error, warn, info (default)
/// or debug; the log goes to `file`, else to standard error. Fails when a logger is installed
/// already.
pub fn install(level: &str, file: Option<&Path>) -> Result<(), crate::Error> {
    let level = match level.to_ascii_lowercase().as_str() {
        "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        other => {
            return Err(crate::Error::from(format!(
                "--log-level must be error, warn, info or debug, not '{other}'"
            )));
        }
    };
    let sink = match file {
        Some(path) => Sink::File(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?,
        )),
        None => Sink::Stderr {
            journald: std::env::var_os("JOURNAL_STREAM").is_some(),
        },
    };
    // Installed once per process, for its whole life.
    log::set_logger(Box::leak(Box::new(Logger { level, sink })))
        .map_err(|_| crate::Error::from("a logger is already installed".to_string()))?;
    log::set_max_level(level);
    Ok(())
}
