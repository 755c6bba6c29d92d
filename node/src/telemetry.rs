//! `certless::telemetry` for Node: the host's name, set when the addon loads, and the flush the
//! JS layer calls (`flushTelemetry`, and on `process.on('exit')`). What is recorded and where it
//! goes is core's (docs/telemetry.md).

use std::time::Duration;

use napi_derive::napi;

/// Names the host before any credential is built: `Platform` "node" on MSAL's metrics and
/// `certless.host` on the resource. Runs when the addon is loaded.
#[napi_derive::module_init]
fn name_the_host() {
    certless::telemetry::set_host("node");
}

/// Exports the telemetry recorded so far and waits at most `timeoutMs` for the collector,
/// blocking the calling thread: true when everything was sent, or nothing needed sending
/// (telemetry off). `index.js` checks the argument.
#[napi(catch_unwind)]
pub fn flush_telemetry(timeout_ms: u32) -> bool {
    certless::telemetry::flush(Duration::from_millis(u64::from(timeout_ms)))
}
