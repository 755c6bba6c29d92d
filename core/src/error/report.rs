//! The error record: every field of an [`Error`] as plain data, the one place the fields are
//! listed. The broker sends it as its error body (these names are the wire's), and every host
//! builds its own idiom from it: Python's exception attributes, Node's error object, the C
//! getters and, through them, .NET's exception. A field added here reaches them all.

use serde::{Deserialize, Serialize};

use super::Error;

/// An [`Error`] as data. Serialized, it is the broker's error body (docs/broker.md); it never
/// holds a token (the error's texts are scrubbed of secrets when the error is made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorReport {
    /// The stable numeric code ([`ErrorCode`](super::ErrorCode)).
    pub code: u32,
    /// The leg that failed ([`Leg::as_str`](super::Leg::as_str)).
    pub leg: String,
    /// What went wrong, without the remedy and the ids ([`Error::message`]).
    #[serde(rename = "message")]
    pub reason: String,
    /// How to fix the common causes, when known.
    pub remedy: Option<String>,
    /// The HTTP status the failing endpoint answered with.
    pub http_status: Option<u16>,
    /// The OAuth `error` field (`invalid_client`, ...), when the server sent one.
    pub oauth_error: Option<String>,
    /// Entra's AADSTS codes.
    pub aadsts_codes: Vec<u32>,
    /// Entra's trace id.
    pub trace_id: Option<String>,
    /// The correlation id sent or returned.
    pub correlation_id: Option<String>,
    /// The credential source that failed (`SignedAssertionFromManagedIdentity`, ...).
    pub credential_source: Option<String>,
    /// Seconds the server asked to wait before trying again.
    pub retry_after: Option<u64>,
    /// This host has no managed identity at all ([`Error::is_unavailable`]).
    pub unavailable: bool,
    /// For a failed credential list: each source's own failure, in order .
    pub causes: Vec<ErrorReport>,
    /// The whole text as [`Error`]'s `Display` writes it: what failed, the ids, the fix and
    /// each cause. Not sent by the broker (a client rebuilds it from the fields).
    #[serde(skip)]
    pub text: String,
}

impl From<&Error> for ErrorReport {
    fn from(error: &Error) -> Self {
        ErrorReport {
            code: error.code().as_u32(),
            leg: error.leg().as_str().to_string(),
            reason: error.message().to_string(),
            remedy: error.remedy().map(str::to_string),
            http_status: error.http_status(),
            oauth_error: error.oauth_error().map(str::to_string),
            aadsts_codes: error.aadsts_codes().to_vec(),
            trace_id: error.trace_id().map(str::to_string),
            correlation_id: error.correlation_id().map(str::to_string),
            credential_source: error.credential_source().map(str::to_string),
            retry_after: error.retry_after(),
            unavailable: error.is_unavailable(),
            causes: error.causes().iter().map(ErrorReport::from).collect(),
            text: error.to_string(),
        }
    }
}

impl Error {
    /// This error as data, for hosts and the wire.
    pub fn report(&self) -> ErrorReport {
        ErrorReport::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn the_record_has_every_field_under_the_wire_names() {
        let cause = Error::new(ErrorCode::ExchangeRejected, "refused")
            .with_http_status(400)
            .with_aadsts_codes(vec![70021])
            .with_ids(Some("t-1".into()), Some("c-1".into()))
            .with_credential_source("SignedAssertionFromManagedIdentity");
        let error = Error::new(ErrorCode::AllCredentialSourcesFailed, "every source failed")
            .with_remedy("fix it")
            .with_retry_after(Some(7))
            .with_causes(vec![cause]);
        let report = error.report();
        assert_eq!(report.text, error.to_string());
        let wire = serde_json::to_value(&report).unwrap();
        assert_eq!(wire["code"], ErrorCode::AllCredentialSourcesFailed.as_u32());
        assert_eq!(wire["message"], "every source failed");
        assert_eq!(wire["remedy"], "fix it");
        assert_eq!(wire["retry_after"], 7);
        assert!(wire.get("text").is_none(), "the full text is not sent");
        let inner = &wire["causes"][0];
        assert_eq!(inner["http_status"], 400);
        assert_eq!(inner["aadsts_codes"][0], 70021);
        assert_eq!(inner["trace_id"], "t-1");
        assert_eq!(inner["correlation_id"], "c-1");
        assert_eq!(
            inner["credential_source"],
            "SignedAssertionFromManagedIdentity"
        );
        let back: ErrorReport = serde_json::from_value(wire).unwrap();
        assert_eq!(back.causes[0].reason, "refused");
    }
}
