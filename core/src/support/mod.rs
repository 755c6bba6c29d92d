//! Small helpers every leg uses and that know nothing about tokens: reading bounded files, time,
//! echoing user input into messages, the environment, jitter, the fallback async runtime, the
//! secret string, and the TLS crypto provider.

pub(crate) mod bounded_file;
pub mod clock;
pub(crate) mod echo;
pub mod env;
pub(crate) mod random;
pub(crate) mod runtime;
pub(crate) mod secret;
pub(crate) mod tls;
