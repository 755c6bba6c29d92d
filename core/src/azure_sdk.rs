//! The Azure SDK for Rust's credential interface (feature `azure-core`): a [`Credential`] is an
//! [`azure_core::credentials::TokenCredential`], so any SDK client takes its tokens from certless.
//!
//! Glue only, as in every binding: the SDK's request becomes [`Credential::get_token_with`], its
//! answer an `azure_core` [`AccessToken`](azure_core::credentials::AccessToken), a certless
//! [`Error`] an [`azure_core::Error`] of kind [`ErrorKind::Credential`] that keeps the certless
//! error as its source. The cache, single-flight, holds and retries are core's, under the SDK's own
//! per-client token cache (its bearer-token policy asks again only in the token's last 5 minutes, or
//! after a 401).

use azure_core::credentials::{self, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;

use crate::{Credential, Error, TokenRequestOptions};

/// A certless [`Credential`] as the Azure SDK for Rust's credential (feature `azure-core`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use azure_core::http::{RequestContent, Url};
/// use azure_storage_blob::BlobContainerClient;
///
/// let credential = certless::Credential::from_config_file("appsettings.json")?;
/// let container = BlobContainerClient::new(
///     Url::parse("https://contoso.blob.core.windows.net/reports")?,
///     Some(Arc::new(credential)),
///     None,
/// )?;
/// container.create(None).await?;
/// container
///     .blob_client("hello.txt")
///     .upload(RequestContent::from(b"hello".to_vec()), None)
///     .await?;
/// # Ok(()) }
/// ```
///
/// azure_core 1.x's request options carry no claims and no tenant (only the SDK's call context),
/// so every request is for the credential's own tenant, from its cache. The SDK's token has no
/// refresh time: certless refreshes in the background when Entra's `refresh_in` or its own
/// schedule says; in a token's last 5 minutes the SDK asks on every request, a cache hit here,
/// until that refresh has landed.
#[async_trait::async_trait]
impl TokenCredential for Credential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<credentials::AccessToken> {
        let token = self
            .get_token_with(scopes, &TokenRequestOptions::default())
            .await
            .map_err(credential_error)?;
        let expires_on = OffsetDateTime::from_unix_timestamp(token.expires_on).map_err(|e| {
            azure_core::Error::with_error(
                ErrorKind::DataConversion,
                e,
                format!("the token's expiry ({}) is not a date", token.expires_on),
            )
        })?;
        Ok(credentials::AccessToken::new(
            token.token.expose().to_owned(),
            expires_on,
        ))
    }
}

/// certless's error as the SDK's: its message (code, leg, what the server said, the fix; never a
/// secret) is the SDK error's, and the error itself is the source, for `downcast_ref::<Error>()`.
fn credential_error(error: Error) -> azure_core::Error {
    azure_core::Error::new(ErrorKind::Credential, error)
}
