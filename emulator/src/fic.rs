//! Federated identity credential matching: does an app trust this assertion's issuer, subject and audience?
//!
//! Entra compares all three exactly and case-sensitively (docs/protocol.md §1; Entra's August 2024 breaking change made
//! subjects case-sensitive). When nothing matches it names the first claim no record accepts: the issuer
//! (AADSTS700211), then the subject (700213, or 7002138 when only the case differs), then the audience (700212).
//! An app with no federated credentials at all gets the generic AADSTS70021, which echoes all three claims.

use crate::config::FederatedCredential;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FicMismatch {
    /// The app has no federated credentials.
    NoCredentials,
    Issuer,
    Subject,
    /// A credential's subject equals the assertion's only when case is ignored.
    SubjectCase,
    Audience,
}

/// The credential that accepts the assertion, or what does not match.
pub(crate) fn match_credential<'a>(
    credentials: &'a [FederatedCredential],
    issuer: &str,
    subject: &str,
    audiences: &[String],
) -> Result<&'a FederatedCredential, FicMismatch> {
    if credentials.is_empty() {
        return Err(FicMismatch::NoCredentials);
    }
    let by_issuer: Vec<&FederatedCredential> =
        credentials.iter().filter(|c| c.issuer == issuer).collect();
    if by_issuer.is_empty() {
        return Err(FicMismatch::Issuer);
    }
    let by_subject: Vec<&FederatedCredential> = by_issuer
        .iter()
        .copied()
        .filter(|c| c.subject == subject)
        .collect();
    if by_subject.is_empty() {
        return Err(
            if by_issuer
                .iter()
                .any(|c| c.subject.eq_ignore_ascii_case(subject))
            {
                FicMismatch::SubjectCase
            } else {
                FicMismatch::Subject
            },
        );
    }
    by_subject
        .into_iter()
        .find(|c| c.audiences.iter().any(|a| audiences.contains(a)))
        .ok_or(FicMismatch::Audience)
}

/// Only the issuer is needed to know whether any credential could apply (Entra checks it before fetching keys).
pub(crate) fn issuer_is_trusted(credentials: &[FederatedCredential], issuer: &str) -> bool {
    credentials.iter().any(|c| c.issuer == issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fic(issuer: &str, subject: &str, audience: &str) -> FederatedCredential {
        FederatedCredential {
            name: "f".into(),
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: vec![audience.into()],
        }
    }

    const ISS: &str = "https://login.microsoftonline.com/t/v2.0";
    const AUD: &str = "api://AzureADTokenExchange";

    fn auds() -> Vec<String> {
        vec![AUD.to_string()]
    }

    #[test]
    fn exact_match_wins() {
        let creds = [fic("other", "s", AUD), fic(ISS, "s", AUD)];
        assert_eq!(
            match_credential(&creds, ISS, "s", &auds()).map(|c| c.issuer.as_str()),
            Ok(ISS)
        );
    }

    #[test]
    fn names_the_first_claim_that_fails() {
        assert_eq!(
            match_credential(&[], ISS, "s", &auds()),
            Err(FicMismatch::NoCredentials)
        );
        let creds = [fic(&format!("{ISS}/"), "s", AUD)];
        assert_eq!(
            match_credential(&creds, ISS, "s", &auds()),
            Err(FicMismatch::Issuer)
        );
        let creds = [fic(ISS, "abc", AUD)];
        assert_eq!(
            match_credential(&creds, ISS, "abd", &auds()),
            Err(FicMismatch::Subject)
        );
        assert_eq!(
            match_credential(&creds, ISS, "ABC", &auds()),
            Err(FicMismatch::SubjectCase)
        );
        assert_eq!(
            match_credential(
                &creds,
                ISS,
                "abc",
                &["api://azureadtokenexchange".to_string()]
            ),
            Err(FicMismatch::Audience)
        );
    }

    #[test]
    fn audience_and_subject_must_be_on_the_same_record() {
        let creds = [fic(ISS, "a", "aud-1"), fic(ISS, "b", AUD)];
        assert_eq!(
            match_credential(&creds, ISS, "a", &auds()),
            Err(FicMismatch::Audience)
        );
    }
}
