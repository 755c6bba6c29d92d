//! Runs an emulator until `POST /_emulator/shutdown` (or the process is killed), printing its
//! `GET /_emulator/info` document as one JSON line on stdout first. Handy for tests in other languages until the
//! `certless emulator` command is at hand:
//!
//! ```text
//! cargo run -p certless-emulator --example serve -- [--https] [--http-port N] [--https-port N]
//!     [--state-dir DIR] [--config FILE]
//! ```

use std::path::PathBuf;
use std::time::Duration;

use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = StartOptions::default();
    let mut config = EmulatorConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--https" => opts.https_port = Some(opts.https_port.unwrap_or(0)),
            "--http-port" => opts.http_port = value()?.parse()?,
            "--https-port" => opts.https_port = Some(value()?.parse()?),
            "--state-dir" => opts.state_dir = Some(PathBuf::from(value()?)),
            "--config" => config = EmulatorConfig::from_file(&PathBuf::from(value()?))?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let emulator = Emulator::start_blocking(config, opts)?;
    println!("{}", serde_json::to_string(&emulator.info())?);
    while !emulator.is_shut_down() {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
