//! `explainRefusal`: core's explanation of a resource's refusal of a token
//! (`certless::resource::explain_refusal`), as the error record `index.js` turns into a
//! `CertlessError` — returned, not thrown.

use napi_derive::napi;

use crate::error::ErrorInfo;

/// Why a resource (SharePoint, Microsoft Graph, ...) refused a token certless obtained: an error
/// record with code 700 and leg `resource` whose reason names the resource and what the token
/// carried (never the token) and whose remedy says what is missing and how to add it.
#[napi(catch_unwind)]
pub fn explain_refusal(
    url: String,
    status: u32,
    www_authenticate: Option<String>,
    body: Option<String>,
    token: Option<String>,
) -> napi::Result<ErrorInfo> {
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| napi::Error::from_reason(format!("{status} is not an HTTP status")))?;
    Ok(certless::resource::explain_refusal(
        &url,
        status,
        www_authenticate.as_deref(),
        body.as_deref().unwrap_or_default(),
        token.as_deref(),
    )
    .into())
}
