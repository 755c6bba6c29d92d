//! The certless Node addon: glue between the certless core and the `certless` npm package.
//!
//! Every token decision is made in core. This crate converts arguments, turns core results into
//! plain JS objects (the JS layer in `index.js` raises the `Error` subclasses), and bridges core's
//! async work to a Promise: requests run on certless's own runtime
//! ([`certless::Credential::get_token_callback`]) and the event loop only sees the result.
//! The files mirror core's modules: `config.rs`, `credential.rs`, `diagnose.rs`, `error.rs`, `resource.rs`,
//! `runtime.rs`, `telemetry.rs`.

mod config;
mod credential;
mod diagnose;
mod error;
mod resource;
mod runtime;
mod telemetry;

pub use credential::{AccessToken, NativeCredential, TokenString, source_kinds};
pub use diagnose::{DiagnoseTarget, Diagnosis, diagnose};
pub use error::ErrorInfo;
pub use resource::explain_refusal;
pub use runtime::TokenRequest;
pub use telemetry::flush_telemetry;

/// The certless version this addon was built from.
#[napi_derive::napi]
pub const VERSION: &str = certless::VERSION;

/// Core's error codes by name (`ExchangeRejected: 302`, ...): what `index.js`'s `ErrorCode` table
/// must equal, and a test compares them.
#[napi_derive::napi]
pub fn error_codes() -> std::collections::HashMap<String, u32> {
    certless::ErrorCode::ALL
        .iter()
        .map(|code| (format!("{code:?}"), code.as_u32()))
        .collect()
}
