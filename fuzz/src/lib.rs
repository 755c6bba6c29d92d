//! What every fuzz target shares: the fixed clock, a readable input format for HTTP answers and
//! key/value lists (so the seed corpora are real responses and files), and the checks run on
//! every error: rendering it never panics, and it never repeats a secret or a token of the input.

use certless::Error;

/// The fuzzers' "now" (2023-11-14T22:13:20Z): seed corpora use times around it.
pub const NOW: i64 = 1_700_000_000;

/// An HTTP answer written as text: a first line, `Name: value` header lines, a blank line, the
/// body. Without a blank line, everything after the first line is the body.
pub struct HttpInput<'a> {
    pub first_line: &'a str,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let line = &data[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &data[i + 1..])
        }
        None => (data, &[]),
    }
}

pub fn split_http(data: &[u8]) -> HttpInput<'_> {
    let (first, mut rest) = split_line(data);
    let first_line = std::str::from_utf8(first).unwrap_or_default();
    let mut headers = Vec::new();
    let after_first = rest;
    loop {
        if rest.is_empty() {
            // No blank line: no headers after all, the rest is the body.
            return HttpInput {
                first_line,
                headers: Vec::new(),
                body: after_first,
            };
        }
        let (line, next) = split_line(rest);
        rest = next;
        if line.is_empty() {
            return HttpInput {
                first_line,
                headers,
                body: rest,
            };
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&line[..colon]) else {
            continue;
        };
        let value = &line[colon + 1..];
        let start = value.iter().position(|b| *b != b' ').unwrap_or(value.len());
        headers.push((name.trim(), &value[start..]));
    }
}

/// `NAME=VALUE` lines (LF-separated; a CR stays in the value, as it would in a real variable).
pub fn key_values(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .split('\n')
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

/// Substrings that look like JWTs: from `eyJ`, a run of base64url characters and dots with at
/// least two dots, 24 characters or more. A server might echo a token back; errors must not.
pub fn token_shaped(text: &str) -> Vec<&str> {
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("eyJ") {
        let tail = &rest[pos..];
        let end = tail.find(|c: char| !is_part(c)).unwrap_or(tail.len());
        let run = &tail[..end];
        if run.len() >= 24 && run.matches('.').count() >= 2 {
            found.push(run);
        }
        rest = &tail[end.max(3)..];
    }
    found
}

/// A value that is a secret in the input, worth checking for: long enough not to appear by
/// chance, present exactly once (so no other, non-secret field can have carried it), and not part
/// of a word certless prints on its own: a secret `AssertionFromManagedIdenti` is "shown" by every
/// `Debug` of a credential whose source is `SignedAssertionFromManagedIdentity`, whether or not
/// the secret is there (found by `config_env`, whose disguised run then failed earlier and
/// printed no source).
pub fn is_checkable_secret(value: &str, input: &str) -> bool {
    value.trim().len() >= 8
        && input.matches(value).count() == 1
        && !printed_vocabulary().any(|word| word.contains(value))
}

/// Words certless prints whatever the input: the credential source kinds' names.
fn printed_vocabulary() -> impl Iterator<Item = &'static str> {
    certless::CredentialSourceKind::ALL
        .into_iter()
        .map(certless::CredentialSourceKind::as_str)
}

/// The same text with every ASCII letter and digit of a secret changed (so it keeps its length,
/// its spaces and its punctuation): run the parser on both, and whatever shows a secret in the
/// first run but not in the second shows it because it is the secret.
pub fn disguise(input: &str, secrets: &[&str]) -> String {
    let mut out = input.to_string();
    for secret in secrets {
        let other: String = secret
            .chars()
            .map(|c| match c {
                'x' => 'y',
                '7' => '8',
                c if c.is_ascii_alphabetic() => 'x',
                c if c.is_ascii_digit() => '7',
                c => c,
            })
            .collect();
        out = out.replace(secret, &other);
    }
    out
}

/// Everything an error shows a host.
pub fn rendered(error: &Error) -> String {
    format!("{error}\n{error:?}")
}

/// The secrets that `shown_without` (what the disguised run showed) does not show anyway: fixed
/// text such as "Did you mean 'ClientSecret'?" may happen to contain a short secret.
pub fn telling<'a>(secrets: &[&'a str], shown_without: &str) -> Vec<&'a str> {
    secrets
        .iter()
        .copied()
        .filter(|s| !shown_without.contains(s))
        .collect()
}

/// Renders the error every way a host sees it (Display, Debug, each field), so that none of it
/// panics, and checks that no forbidden string (secrets, tokens of the input) is in any of it.
pub fn check_error(error: &Error, forbidden: &[&str]) {
    let mut shown = vec![
        format!("{error}"),
        format!("{error:?}"),
        format!("{error:#}"),
    ];
    shown.push(error.message().to_string());
    shown.extend(error.remedy().map(str::to_string));
    shown.extend(error.oauth_error().map(str::to_string));
    shown.extend(error.trace_id().map(str::to_string));
    shown.extend(error.correlation_id().map(str::to_string));
    shown.extend(error.credential_source().map(str::to_string));
    shown.push(format!("{}", error.primary()));
    let _ = (
        error.code().as_u32(),
        error.leg().as_str(),
        error.http_status(),
        error.aadsts_codes(),
        error.retry_after(),
        error.is_unavailable(),
        error.causes().len(),
    );
    if let Some(r) = error.retry_after() {
        assert!(
            r <= 3600,
            "Retry-After of {r} s is more than the hour it is capped at"
        );
    }
    for secret in forbidden {
        for text in &shown {
            assert!(
                !text.contains(secret),
                "the error repeats a secret or token of the input ({secret:?}): {text}"
            );
        }
    }
}
