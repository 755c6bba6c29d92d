//! OpenTelemetry: metrics and spans of token requests, exported over OTLP/HTTP when the standard
//! `OTEL_EXPORTER_OTLP_*` settings ask for it (docs/telemetry.md). Off by default; when off,
//! every recording point costs one relaxed atomic load.
//!
//! The metrics MSAL.NET users already chart keep MSAL's names, units and tag keys (meter
//! `MicrosoftIdentityClient_Common_Meter`); what MSAL does not show is under `certless.*`.

use std::time::Duration;

/// The name of the host that loaded certless, reported as the `Platform` tag of the MSAL-named
/// metrics and as a resource attribute: `rust` unless a binding says otherwise (`python`,
/// `node`, `dotnet`, `c`, `broker`). Call it before the first credential is built.
pub fn set_host(host: &'static str) {
    let _ = host;
}

/// Exports everything recorded so far and waits at most `timeout` for the collector to take
/// it. Returns `true` when there was nothing to send or everything was sent (or telemetry is
/// off), `false` when the collector did not take it in time. Hosts call it before they exit.
pub fn flush(timeout: Duration) -> bool {
    let _ = timeout;
    true
}

/// Whether OTLP export is on in this process, and where it goes (for the doctor and logs).
pub fn status() -> Option<String> {
    None
}
