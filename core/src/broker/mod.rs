//! The certless broker (`certless serve`, the `certless-broker` crate): one process per machine
//! that holds the credentials and serves their tokens to local processes over App Service's
//! managed-identity protocol (docs/protocol.md §7): `GET {endpoint}?api-version=2019-08-01&resource=R`
//! with the secret in `X-IDENTITY-HEADER`. Every Azure SDK's `ManagedIdentityCredential` speaks
//! it, so `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` pointed at the broker give them the app's token.
//!
//! Core holds the two things both ends need: [`wire`], the format the broker and its clients
//! share, and `client`, how a [`crate::Credential`] finds and asks a broker when
//! `CERTLESS_BROKER` names one. The server itself is the `certless-broker` crate.

mod client;
pub mod wire;

pub use client::BrokerAddress;
pub(crate) use client::{BrokerClient, BrokerSettings, SecretLocation};
pub use wire::{
    API_VERSION, SECRET_HEADER, TOKEN_PATH, error_body, error_status, is_loopback_host, token_body,
};
