//! Naming a certificate in a store (location, store name, thumbprint / distinguished name /
//! subject) and choosing among the candidates a platform found, the same on every platform.

use std::fmt;

use crate::error::{Error, ErrorCode, Leg, Result};
use crate::support::clock::to_iso8601;
use crate::support::echo::echo;

/// `CurrentUser` or `LocalMachine`, as in .NET's `StoreLocation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreLocation {
    /// The account the process runs as.
    CurrentUser,
    /// The machine (IIS application pools read certificates here).
    LocalMachine,
}

/// A store: where it lives and its name (`My`, `Root`, ...), as Id.Web's `CertificateStorePath`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorePath {
    /// Whose store.
    pub location: StoreLocation,
    /// The store's name as .NET's `StoreName` spells it (`My`, `TrustedPeople`, ...).
    pub name: String,
}

/// .NET's `StoreName` values and the Windows system-store name each opens.
const STORE_NAMES: [(&str, &str); 8] = [
    ("AddressBook", "AddressBook"),
    ("AuthRoot", "AuthRoot"),
    ("CertificateAuthority", "CA"),
    ("Disallowed", "Disallowed"),
    ("My", "My"),
    ("Root", "Root"),
    ("TrustedPeople", "TrustedPeople"),
    ("TrustedPublisher", "TrustedPublisher"),
];

impl StorePath {
    /// `CurrentUser/My`: Id.Web's default.
    pub fn current_user_my() -> Self {
        StorePath {
            location: StoreLocation::CurrentUser,
            name: "My".into(),
        }
    }

    /// `Location/Name` as Id.Web reads `CertificateStorePath` (case-insensitive); a backslash is
    /// taken too, as Windows tools write it (`LocalMachine\My`).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "CertificateStorePath '{}' is not <location>/<store name>",
                    echo(text)
                ),
            )
            .with_remedy(format!(
                "Use CurrentUser/My or LocalMachine/My (locations: CurrentUser, LocalMachine; \
                 store names: {}).",
                STORE_NAMES.map(|(n, _)| n).join(", ")
            ))
        };
        let (location, name) = text.trim().split_once(['/', '\\']).ok_or_else(bad)?;
        let location = match location.trim() {
            l if l.eq_ignore_ascii_case("CurrentUser") => StoreLocation::CurrentUser,
            l if l.eq_ignore_ascii_case("LocalMachine") => StoreLocation::LocalMachine,
            _ => return Err(bad()),
        };
        let (name, _) = STORE_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(bad)?;
        Ok(StorePath {
            location,
            name: (*name).to_string(),
        })
    }

    /// The name Windows' system stores use (`CertificateAuthority` is `CA`).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) fn system_store_name(&self) -> &'static str {
        STORE_NAMES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or("My", |(_, w)| w)
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match self.location {
            StoreLocation::CurrentUser => "CurrentUser",
            StoreLocation::LocalMachine => "LocalMachine",
        };
        write!(f, "{location}/{}", self.name)
    }
}

/// How the certificate is named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreFind {
    /// The SHA-1 thumbprint, 40 hex digits (spaces, colons and the invisible marks Windows'
    /// certificate dialog copies along are ignored).
    Thumbprint(String),
    /// The whole subject distinguished name (`CN=app, O=Contoso`), compared without regard to
    /// case, spacing or the order of its parts.
    DistinguishedName(String),
    /// Text the subject contains (`app.contoso.com`), without regard to case.
    SubjectName(String),
}

impl StoreFind {
    /// A thumbprint as configured: the hex digits, upper case; an error for anything else.
    pub fn thumbprint(text: &str) -> Result<Self> {
        let digits: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '\u{200e}' | '\u{200f}'))
            .filter(|c| !c.is_control() && !matches!(c, '\u{feff}' | '\u{202a}'..='\u{202e}'))
            .collect();
        if digits.len() != 40 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "CertificateThumbprint '{}' is not a SHA-1 thumbprint (40 hex digits)",
                    echo(text)
                ),
            )
            .with_remedy(
                "Copy the thumbprint from the certificate (certlm.msc → the certificate → \
                 Details → Thumbprint, or Get-ChildItem Cert:\\LocalMachine\\My).",
            ));
        }
        Ok(StoreFind::Thumbprint(digits.to_ascii_uppercase()))
    }

    pub(super) fn describe(&self) -> String {
        match self {
            StoreFind::Thumbprint(t) => format!("thumbprint {t}"),
            StoreFind::DistinguishedName(dn) => format!("distinguished name '{}'", echo(dn)),
            StoreFind::SubjectName(s) => format!("a subject containing '{}'", echo(s)),
        }
    }

    fn matches(&self, candidate: &Candidate) -> bool {
        match self {
            StoreFind::Thumbprint(t) => candidate.thumbprint == *t,
            StoreFind::DistinguishedName(dn) => same_name(&parse_name(dn), &candidate.subject),
            StoreFind::SubjectName(text) => {
                let text = text.to_lowercase();
                let rendered = render_name(&candidate.subject).to_lowercase();
                let forward: Vec<_> = candidate.subject.iter().rev().cloned().collect();
                rendered.contains(&text) || render_name(&forward).to_lowercase().contains(&text)
            }
        }
    }
}

/// A certificate of the store, as much as choosing needs.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub thumbprint: String,
    /// The subject's attributes, most specific first (`CN` before `O`), as Windows and .NET show
    /// a name.
    pub subject: Vec<(String, String)>,
    pub not_before: i64,
    pub not_after: i64,
}

impl Candidate {
    /// `None` for bytes that are not an X.509 certificate.
    pub(crate) fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let mut subject = Vec::new();
        for rdn in cert.subject().iter_rdn() {
            for attribute in rdn.iter() {
                let value = attribute
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|_| format!("#{}", hex_upper(attribute.attr_value().data)));
                subject.push((attribute_name(&attribute.attr_type().to_id_string()), value));
            }
        }
        subject.reverse();
        Some(Candidate {
            thumbprint: hex_upper(
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
            ),
            subject,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "{} (thumbprint {}, valid {} to {})",
            render_name(&self.subject),
            self.thumbprint,
            to_iso8601(self.not_before),
            to_iso8601(self.not_after)
        )
    }
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The short names Windows and .NET give the usual name attributes.
fn attribute_name(oid: &str) -> String {
    let name = match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "S",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => return format!("OID.{other}"),
    };
    name.to_string()
}

/// `CN=app, O=Contoso`, as .NET's `X500DistinguishedName.Name` shows it.
pub(super) fn render_name(parts: &[(String, String)]) -> String {
    parts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A configured distinguished name as (attribute, value) pairs: split on `,`, `;` and `+`
/// outside quotes, attribute names in their usual short form.
fn parse_name(text: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => current.extend(chars.next()),
            ',' | ';' | '+' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
        .iter()
        .filter_map(|part| {
            let (key, value) = part.split_once('=')?;
            let key = match key.trim().to_ascii_uppercase().as_str() {
                "ST" => "S".to_string(),
                "EMAIL" | "EMAILADDRESS" => "E".to_string(),
                "GIVENNAME" => "G".to_string(),
                "SURNAME" => "SN".to_string(),
                "TITLE" => "T".to_string(),
                k => k.to_string(),
            };
            Some((key, value.trim().to_string()))
        })
        .collect()
}

/// The same name, in .NET's order (most specific first) or the certificate's.
fn same_name(wanted: &[(String, String)], subject: &[(String, String)]) -> bool {
    let equal = |a: &[(String, String)], b: &mut dyn Iterator<Item = &(String, String)>| {
        let b: Vec<_> = b.collect();
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && va.to_lowercase() == vb.to_lowercase())
    };
    !wanted.is_empty()
        && (equal(wanted, &mut subject.iter()) || equal(wanted, &mut subject.iter().rev()))
}

/// Picks, as .NET does for Id.Web, among the certificates valid at `now` that match, the one
/// that became valid last. The error says what the store held instead.
pub(crate) fn choose(
    candidates: &[Candidate],
    find: &StoreFind,
    store: &StorePath,
    now: i64,
) -> Result<usize> {
    let matching: Vec<usize> = (0..candidates.len())
        .filter(|i| find.matches(&candidates[*i]))
        .collect();
    let best = matching
        .iter()
        .copied()
        .filter(|i| candidates[*i].valid_at(now))
        .max_by_key(|i| candidates[*i].not_before);
    if let Some(best) = best {
        return Ok(best);
    }
    let what = find.describe();
    let error = match matching.iter().max_by_key(|i| candidates[**i].not_after) {
        Some(newest) => Error::new(
            ErrorCode::CertificateNotInStore,
            format!(
                "the certificate store {store} has no certificate with {what} that is valid now; \
                 the newest is {}",
                candidates[*newest].describe()
            ),
        )
        .with_remedy(
            "Import the renewed certificate (with its private key) into the store and upload it \
             to the app registration's Certificates & secrets.",
        ),
        None => Error::new(
            ErrorCode::CertificateNotInStore,
            format!(
                "the certificate store {store} has no certificate with {what} ({} certificate(s) \
                 in it)",
                candidates.len()
            ),
        )
        .with_remedy(match find {
            StoreFind::Thumbprint(_) => {
                "Check CertificateThumbprint and CertificateStorePath (the certificate may be in \
                 LocalMachine/My rather than CurrentUser/My, or the other way round)."
            }
            _ => {
                "Check the name and CertificateStorePath; the thumbprint (StoreWithThumbprint) \
                 names one certificate unambiguously."
            }
        }),
    };
    Err(error.with_leg(Leg::Config))
}

pub(crate) fn unavailable(message: String, remedy: &'static str) -> Error {
    Error::config(ErrorCode::CertificateStoreUnavailable, message).with_remedy(remedy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(subject: &[(&str, &str)], not_before: i64, not_after: i64, t: &str) -> Candidate {
        Candidate {
            thumbprint: t.to_string(),
            subject: subject
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            not_before,
            not_after,
        }
    }

    #[test]
    fn store_paths_parse_as_id_web_reads_them() {
        let p = StorePath::parse("localmachine/my").unwrap();
        assert_eq!(p.to_string(), "LocalMachine/My");
        assert_eq!(
            StorePath::parse("CurrentUser\\CertificateAuthority")
                .unwrap()
                .system_store_name(),
            "CA"
        );
        let e = StorePath::parse("LocalMachine/Personal").unwrap_err();
        assert!(e.to_string().contains("TrustedPeople"), "{e}");
        assert!(StorePath::parse("My").is_err());
    }

    #[test]
    fn thumbprints_lose_what_windows_copies_along() {
        let copied = "\u{200e}8f 2a 1c 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00";
        assert_eq!(
            StoreFind::thumbprint(copied).unwrap(),
            StoreFind::Thumbprint("8F2A1C00112233445566778899AABBCCDDEEFF00".into())
        );
        let e = StoreFind::thumbprint("8F2A").unwrap_err();
        assert!(e.to_string().contains("40 hex digits"), "{e}");
    }

    #[test]
    fn the_newest_valid_match_wins_as_in_dotnet() {
        let store = StorePath::current_user_my();
        let app = [("CN", "app.contoso.com"), ("O", "Contoso")];
        let certs = [
            candidate(&app, 100, 1_000, "OLD"),
            candidate(&app, 500, 2_000, "NEW"),
            candidate(&app, 900, 5_000, "FUTURE"),
            candidate(&[("CN", "other")], 600, 2_000, "OTHER"),
        ];
        let by_dn = StoreFind::DistinguishedName("o=contoso;  CN=APP.contoso.com".into());
        assert_eq!(choose(&certs, &by_dn, &store, 700).unwrap(), 1);
        let by_subject = StoreFind::SubjectName("app.CONTOSO".into());
        assert_eq!(choose(&certs, &by_subject, &store, 950).unwrap(), 2);
        let e = choose(&certs, &by_subject, &store, 6_000).unwrap_err();
        assert_eq!(e.code(), ErrorCode::CertificateNotInStore);
        assert!(
            e.to_string().contains(
                "valid now; the newest is CN=app.contoso.com, O=Contoso (thumbprint FUTURE"
            ),
            "{e}"
        );
        let e = choose(&certs, &StoreFind::Thumbprint("NONE".into()), &store, 700).unwrap_err();
        assert!(e.to_string().contains("4 certificate(s) in it"), "{e}");
        let partial = StoreFind::DistinguishedName("CN=app.contoso.com".into());
        assert!(
            choose(&certs, &partial, &store, 700).is_err(),
            "a DN names the whole subject"
        );
    }
}
