//! HTTP plumbing shared by both legs: the two clients (managed-identity endpoints never go
//! through a proxy; Entra honours HTTPS_PROXY/NO_PROXY), bounded response bodies, and transport
//! failures turned into errors that name the leg.
//!
//! `client` builds the clients, `proxy` holds the proxy rules, `send` sends one request and reads
//! its bounded answer (`response`), `transport` turns a failure into the leg's error, `pinned`
//! trusts one pinned server certificate, `stats` counts what went upstream.

mod client;
mod pinned;
mod proxy;
mod response;
mod send;
pub mod stats;
mod transport;

pub use client::Timeouts;
pub(crate) use client::{Clients, EntraClient, HttpClients, broker_client};
pub(crate) use pinned::{PinnedServerCertificate, Thumbprint};
pub(crate) use proxy::ProxySettings;
pub(crate) use response::Response;
pub(crate) use send::send;
