//! The certless C ABI: Microsoft Entra access tokens from a managed identity through a federated
//! identity credential, for C, C++, .NET (P/Invoke) and anything else that can call C.
//!
//! This crate is glue only: it converts arguments, maps errors and bridges the async core to
//! blocking calls and completion callbacks. Every piece of token logic lives in the `certless`
//! crate. The conventions follow rustls-ffi's "API Conventions":
//!
//! * opaque handles (`certless_credential`, `certless_token`, `certless_error`, ...), created by a
//!   function of this library and released with the matching `certless_<type>_free`;
//!   `certless_<type>_free(NULL)` does nothing;
//! * functions are named `certless_<type>_<verb>` and take the receiver, then the inputs, then
//!   the outputs (`*_out`); an output is written only when the function succeeds, and an
//!   `error_out` only when it fails;
//! * every pointer is checked for NULL and every string for UTF-8; a bad argument is answered
//!   with `CERTLESS_INVALID_ARGUMENT` and an error object that names the argument;
//! * no panic crosses the boundary: a panic is caught and reported as `CERTLESS_INTERNAL`.
//!
//! The header `include/certless.h` is generated from these sources by `scripts/gen-header.sh`.

#![allow(non_camel_case_types)]

mod boundary;
mod credential;
mod diagnose;
mod error;
mod log;
mod options;
mod resource;
mod runtime;
mod shared_cache;
mod telemetry;
mod token;

use std::ffi::{CStr, c_char};

pub use credential::*;
pub use diagnose::*;
pub use error::*;
pub use log::*;
pub use options::*;
pub use resource::*;
pub use runtime::*;
pub use shared_cache::*;
pub use telemetry::*;
pub use token::*;

// The header's `CERTLESS_VERSION` string macro is built from these three (cbindgen.toml trailer).

/// The major part of `CERTLESS_VERSION`, the version of certless this header was generated for.
pub const CERTLESS_VERSION_MAJOR: u32 = 0;
/// The minor part of `CERTLESS_VERSION`.
pub const CERTLESS_VERSION_MINOR: u32 = 1;
/// The patch part of `CERTLESS_VERSION`.
pub const CERTLESS_VERSION_PATCH: u32 = 0;

static VERSION_C: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The version of the loaded certless library ("0.1.0"), a static NUL-terminated string: never
/// free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn certless_version() -> *const c_char {
    VERSION_C.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's version macros are literals (cbindgen copies literals only): they must follow
    /// the workspace version. scripts/gen-header.sh regenerates the header, CI diffs it.
    #[test]
    fn version_macros_match_cargo_toml() {
        let header =
            format!("{CERTLESS_VERSION_MAJOR}.{CERTLESS_VERSION_MINOR}.{CERTLESS_VERSION_PATCH}");
        assert_eq!(header, env!("CARGO_PKG_VERSION"));
        assert_eq!(header, certless::VERSION);
        assert_eq!(
            CERTLESS_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            CERTLESS_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            CERTLESS_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: the version is a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(certless_version()) };
        assert_eq!(v.to_str().unwrap(), header);
    }
}
