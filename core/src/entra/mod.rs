//! The Entra leg: the token endpoint's exchange of a client assertion for an access token, what
//! its AADSTS codes mean, the authority hosts and exchange audiences per cloud, and reading a
//! JWT's claims.

pub mod aadsts;
pub mod cloud;
pub(crate) mod exchange;
