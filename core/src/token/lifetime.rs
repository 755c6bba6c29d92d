//! How long a token may be used. Servers' figures are checked against the token's own `exp`
//! claim and against what the platform can issue, because a wrong figure is costly both ways:
//! `expires_in: 999999999` would cache a token for 31 years and keep presenting it after Entra
//! stopped accepting it; `expires_in: 0` would hand out a token that is already dead; an
//! `expires_on` in milliseconds would pin a managed-identity assertion until the process restarts.
//!
//! Where the server's figure and the token's claim disagree, the earlier wins: it is never wrong
//! to refresh early, and both clock errors (ours ahead of the issuer's, or behind) then end in an
//! early refresh rather than a token presented after it died.

use crate::support::clock::to_iso8601;
use crate::token::jwt::decode_claims;

/// The longest an Entra or managed-identity token lives: an hour usually, 24 h for managed-
/// identity tokens, up to about 28 h for Continuous Access Evaluation's long-lived tokens.
pub(crate) const MAX_LIFETIME_SECS: i64 = 28 * 3600;

/// When a token expires, and what was corrected to get there (for a log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expiry {
    pub expires_on: i64,
    pub correction: Option<String>,
}

/// The expiry of `token` (Unix seconds) from the server's figure `reported` (absolute, already
/// anchored at `now` when the server sent a relative one; `what` names it for the log) and the
/// token's `exp` claim when it is a JWT. `None` when neither says anything.
///
/// A figure is plausible when it lies in `(now, now + MAX_LIFETIME_SECS]`. Both plausible: the
/// earlier. One: that one. Neither, but one too far ahead: capped at the maximum. Otherwise the
/// figure as it is (an expired token, which the caller reports as such).
pub(crate) fn expiry(reported: Option<i64>, what: &str, token: &str, now: i64) -> Option<Expiry> {
    let claim = decode_claims(token).ok().and_then(|c| c.exp);
    let plausible = |t: &i64| now < *t && *t <= now.saturating_add(MAX_LIFETIME_SECS);
    let expires_on = match (reported.filter(plausible), claim.filter(plausible)) {
        (Some(r), Some(c)) => r.min(c),
        (Some(r), None) => r,
        (None, Some(c)) => c,
        (None, None) => match (reported, claim) {
            (Some(t), _) | (None, Some(t)) if t > now => now + MAX_LIFETIME_SECS,
            (Some(t), _) => t,
            (None, claim) => claim?,
        },
    };
    let correction = match reported {
        Some(r) if r == expires_on => None,
        _ if claim == Some(expires_on) => Some(format!(
            "{what} ({}) corrected to the token's own exp claim ({})",
            describe(reported, now),
            describe(Some(expires_on), now)
        )),
        _ => Some(format!(
            "{what} ({}) is more than a token can live: capped at {}",
            describe(reported.or(claim), now),
            describe(Some(expires_on), now)
        )),
    };
    Some(Expiry {
        expires_on,
        correction,
    })
}

fn describe(at: Option<i64>, now: i64) -> String {
    match at {
        None => "absent".to_string(),
        Some(t) if (0..=253_402_300_799).contains(&t) => {
            format!("{}, in {} s", to_iso8601(t), t.saturating_sub(now))
        }
        Some(t) => format!("in {} s", t.saturating_sub(now)),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn jwt(exp: i64) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp},"iat":{NOW}}}"#));
        format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln")
    }

    fn at(reported: Option<i64>, token: &str) -> (i64, bool) {
        let e = expiry(reported, "expires_in", token, NOW).unwrap();
        (e.expires_on - NOW, e.correction.is_some())
    }

    #[test]
    fn agreeing_figures_are_taken_as_they_are() {
        assert_eq!(at(Some(NOW + 3599), &jwt(NOW + 3599)), (3599, false));
        assert_eq!(at(Some(NOW + 3599), "opaque"), (3599, false));
        // Our clock 10 minutes behind the issuer's: the server's relative figure is earlier.
        assert_eq!(at(Some(NOW + 3599), &jwt(NOW + 4199)), (3599, false));
    }

    #[test]
    fn implausible_figures_give_way_to_the_claim_or_the_cap() {
        // 31 years.
        assert_eq!(at(Some(NOW + 999_999_999), &jwt(NOW + 3599)), (3599, true));
        assert_eq!(
            at(Some(NOW + 999_999_999), "opaque"),
            (MAX_LIFETIME_SECS, true)
        );
        // Milliseconds read as seconds.
        assert_eq!(at(Some(NOW * 1000), &jwt(NOW + 86_399)), (86_399, true));
        // Zero: the claim, or an expired token the caller refuses.
        assert_eq!(at(Some(NOW), &jwt(NOW + 3599)), (3599, true));
        assert_eq!(at(Some(NOW), "opaque"), (0, false));
        // The claim is later than the server says: the earlier wins.
        assert_eq!(at(Some(NOW + 600), &jwt(NOW + 3600)), (600, false));
        // Nothing reported: the claim.
        assert_eq!(at(None, &jwt(NOW + 3600)), (3600, true));
        assert_eq!(expiry(None, "x", "opaque", NOW), None);
    }

    #[test]
    fn corrections_say_what_was_wrong() {
        let e = expiry(Some(NOW + 999_999_999), "expires_in", &jwt(NOW + 3599), NOW).unwrap();
        let text = e.correction.unwrap();
        assert!(text.contains("expires_in"), "{text}");
        assert!(text.contains("exp claim"), "{text}");
        assert!(text.contains("in 3599 s"), "{text}");
    }
}
