//! What every managed-identity source is: one small type per source (the shape of MSAL.NET's
//! per-source classes), behind this trait, chosen and built in one place
//! ([`super::select`]). The request loop that drives a source — retries aside — is
//! [`super::ManagedIdentityClient::fetch`].

use std::sync::Arc;

use super::identity::{ManagedIdentityId, ManagedIdentitySource};
use super::response::ErrorDetails;
use crate::error::{Error, Result};
use crate::http::{PinnedServerCertificate, Response};

/// One managed-identity source, configured for one identity on one host.
pub(crate) trait Source: Send + Sync {
    /// Which source this is.
    fn kind(&self) -> ManagedIdentitySource;

    /// The token URL, for messages.
    fn endpoint(&self) -> &str;

    /// The request for a token whose audience is `resource`.
    fn request(&self, http: &reqwest::Client, resource: &str) -> reqwest::RequestBuilder;

    /// A source that answers the first request with a challenge (Azure Arc's key file) makes
    /// the second request here; `None` when `response` is not its challenge.
    fn answer_challenge(
        &self,
        _http: &reqwest::Client,
        _resource: &str,
        _response: &Response,
    ) -> Option<Result<reqwest::RequestBuilder>> {
        None
    }

    /// Checks a `200` answer beyond its token (Azure Arc: that it is for the identity asked for).
    fn check_answer(&self, _body: &[u8]) -> Result<()> {
        Ok(())
    }

    /// How to fix the endpoint not answering at all.
    fn unreachable_remedy(&self) -> &'static str;

    /// A transport error made more telling (Service Fabric: the pinned certificate was refused;
    /// IMDS: nothing listens, so there is no managed identity on this host).
    fn explain_unreachable(&self, error: Error) -> Error {
        error
    }

    /// How to fix an error answer, when the source's documentation says.
    fn remedy(&self, status: u16, details: &ErrorDetails) -> Option<String>;

    /// An error answer made more telling: marked final when the source's own retry table says
    /// it will not change, or unavailable when it proves there is no managed identity here.
    fn explain_rejection(&self, error: Error, _status: u16, _details: &ErrorDetails) -> Error {
        error
    }

    /// The server certificate the endpoint must present, when it is pinned (Service Fabric).
    fn pinned_certificate(&self) -> Option<&Arc<PinnedServerCertificate>> {
        None
    }
}

/// The query parameter each source's protocol uses for each kind of user-assigned selector
/// (client id, object id, resource id), `None` for what it cannot select by.
pub(super) fn selector<'a>(
    id: &'a ManagedIdentityId,
    names: [&'a str; 3],
) -> Option<(&'a str, &'a str)> {
    match id {
        ManagedIdentityId::SystemAssigned => None,
        ManagedIdentityId::ClientId(v) => Some((names[0], v)),
        ManagedIdentityId::ObjectId(v) => Some((names[1], v)),
        ManagedIdentityId::ResourceId(v) => Some((names[2], v)),
    }
}
