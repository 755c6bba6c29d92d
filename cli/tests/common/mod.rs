//! What the CLI's test binaries share: the binary under test, the emulator on loopback, and a
//! scratch directory per test.
#![allow(dead_code)]

pub(crate) mod broker;
/// The OTLP receiver, shared with core's telemetry tests.
#[path = "../../../core/tests/common/otlp.rs"]
pub(crate) mod otlp;

use std::path::PathBuf;
use std::process::Command;

use certless_emulator::{Emulator, EmulatorConfig, RunningEmulator, StartOptions};

/// The `certless` binary this package builds.
pub(crate) fn certless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_certless"))
}

/// The emulator over http on a free loopback port.
pub(crate) fn emulator() -> RunningEmulator {
    start(None)
}

/// The emulator over http and https (its own CA) on free loopback ports.
pub(crate) fn emulator_https() -> RunningEmulator {
    start(Some(0))
}

fn start(https_port: Option<u16>) -> RunningEmulator {
    Emulator::start_blocking(
        EmulatorConfig::default(),
        StartOptions {
            http_port: 0,
            https_port,
            state_dir: None,
        },
    )
    .expect("the emulator starts")
}

/// A fresh, empty directory named after the test (and this process) under the temp directory.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certless-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
