//! Asking the selected managed-identity endpoint for a token: the request loop that drives a
//! source, and what its answers mean.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{self, PinnedServerCertificate, Response};
use crate::support::env::Environment;

use super::identity::ManagedIdentityId;
use super::response::{self, ManagedIdentityToken};
use super::select::{self, SourceSelection};
use super::source::Source;

/// Asks one managed-identity endpoint for tokens.
pub(crate) struct ManagedIdentityClient {
    selection: SourceSelection,
    source: Box<dyn Source>,
    id: ManagedIdentityId,
}

impl fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("source", &self.selection.source)
            .field("endpoint", &self.source.endpoint())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityClient {
    pub(crate) fn new(
        selection: SourceSelection,
        env: &dyn Environment,
        id: ManagedIdentityId,
    ) -> Result<Self> {
        let source = select::build(selection.source, env, id.clone())?;
        Ok(ManagedIdentityClient {
            selection,
            source,
            id,
        })
    }

    pub(crate) fn selection(&self) -> &SourceSelection {
        &self.selection
    }

    /// The token URL of the source.
    pub(crate) fn endpoint(&self) -> &str {
        self.source.endpoint()
    }

    pub(crate) fn id(&self) -> &ManagedIdentityId {
        &self.id
    }

    /// The server certificate the endpoint must present, when it is pinned (Service Fabric).
    pub(crate) fn pinned_certificate(&self) -> Option<&Arc<PinnedServerCertificate>> {
        self.source.pinned_certificate()
    }

    /// One token for `resource` (an audience such as `api://AzureADTokenExchange`, without
    /// `/.default`). `now` is Unix seconds, to anchor relative expiry values.
    pub(crate) async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: &str,
        now: i64,
    ) -> Result<ManagedIdentityToken> {
        let source = &self.source;
        let target = format!("{} endpoint {}", source.kind(), source.endpoint());
        log::debug!(
            "certless: requesting a managed-identity token from {target} for {resource} ({})",
            self.id
        );
        let unreachable = |e: Error| {
            let e = source.explain_unreachable(e);
            if e.remedy().is_none() {
                e.with_remedy(source.unreachable_remedy())
            } else {
                e
            }
        };
        let send = |request| http::send(request, Leg::ManagedIdentity, &target);
        let mut response = send(source.request(http, resource))
            .await
            .map_err(unreachable)?;
        if let Some(answer) = source.answer_challenge(http, resource, &response) {
            response = send(answer?).await.map_err(unreachable)?;
        }
        if response.status == 200 {
            source.check_answer(&response.body)?;
        }
        if response.status != 200 {
            return Err(self.error_for(&response, &target));
        }
        let token =
            response::parse_token(&response.body, now, &target).map_err(
                |e| match proxy_evidence(&response) {
                    Some(evidence) => proxy_error(e, &evidence),
                    None => e,
                },
            )?;
        log::debug!(
            "certless: managed-identity token from {target} expires at {}",
            token.expires_on
        );
        Ok(token)
    }

    pub(crate) fn error_for(&self, response: &Response, target: &str) -> Error {
        let details = response::ErrorDetails::parse(&response.body);
        let remedy = self.source.remedy(response.status, &details);
        let mut message = format!("{target} answered HTTP {}", response.status);
        if let Some(text) = details.summary() {
            message.push_str(": ");
            message.push_str(&text);
        }
        let mut error = Error::new(ErrorCode::ManagedIdentityRejected, message)
            .with_leg(Leg::ManagedIdentity)
            .with_http_status(response.status)
            .with_oauth_error(details.error.clone())
            .with_ids(
                None,
                details.correlation_id.clone().or_else(|| {
                    response
                        .header("x-ms-request-id")
                        .map(crate::support::secret::scrub_server_text)
                }),
            )
            .with_retry_after(response.retry_after());
        if let Some(r) = remedy {
            error = error.with_remedy(r);
        }
        let error = self
            .source
            .explain_rejection(error, response.status, &details);
        match proxy_evidence(response) {
            Some(evidence) => proxy_error(error, &evidence),
            None => error,
        }
    }
}

/// Signs that an HTTP proxy, not the managed-identity endpoint, answered: certless never sends
/// these requests through a proxy, so one that answers is intercepting the link-local or
/// loopback address (docs/protocol.md §3).
fn proxy_evidence(response: &Response) -> Option<String> {
    if response.status == 407 {
        return Some("HTTP 407 Proxy Authentication Required".to_string());
    }
    for name in ["via", "proxy-agent", "x-squid-error", "x-cache"] {
        if let Some(value) = response.header(name) {
            return Some(format!(
                "the answer carries '{name}: {}'",
                crate::support::secret::scrub_server_text(value)
            ));
        }
    }
    let html = response
        .header("content-type")
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    html.then(|| "the answer is an HTML page".to_string())
}

pub(crate) const PROXY_REMEDY: &str = "A proxy intercepts requests to the managed-identity \
    endpoint: exempt 169.254.169.254 (and localhost) from the proxy — NO_PROXY for explicit \
    proxies, the bypass list of a transparent one; IMDS must never be reached through a proxy.";

fn proxy_error(error: Error, evidence: &str) -> Error {
    let message = format!(
        "{} — a proxy seems to have answered instead of the endpoint ({evidence})",
        error.message()
    );
    let mut proxied = Error::new(error.code(), message)
        .with_leg(Leg::ManagedIdentity)
        .with_oauth_error(error.oauth_error().map(str::to_string))
        .with_remedy(PROXY_REMEDY);
    if let Some(status) = error.http_status() {
        proxied = proxied.with_http_status(status);
    }
    proxied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed_identity::select_source;
    use crate::support::env::MapEnv;

    /// Found by fuzzing (`entra_error`; the same code path here): a request id header went into
    /// the error as sent, token and all, where the body's text is scrubbed.
    #[test]
    fn header_ids_are_scrubbed_like_the_body() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let selection = select_source(&MapEnv::new(), None).unwrap();
        let client = ManagedIdentityClient::new(
            selection,
            &MapEnv::new(),
            ManagedIdentityId::SystemAssigned,
        )
        .unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-ms-request-id",
            format!("5d3a2c1b echo {token}").parse().unwrap(),
        );
        let response = Response {
            status: 500,
            headers,
            body: Vec::new(),
        };
        let e = client.error_for(&response, "IMDS endpoint x");
        assert!(!e.to_string().contains(token), "{e}");
        assert!(e.correlation_id().unwrap().starts_with("5d3a2c1b"), "{e}");
    }
}
