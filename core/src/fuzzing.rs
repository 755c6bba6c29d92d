//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz), built only with the `fuzzing`
//! feature. Thin wrappers over the crate-internal parsers that see outside input, so the targets
//! exercise exactly the code a credential runs; not part of the API, and no behaviour of their own.

use std::path::Path;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::certificate::ClientCertificate;
use crate::entra::cloud::AuthorityHost;
use crate::entra::exchange::TokenEndpoint;
use crate::error::{Error, Result};
use crate::http::Response;
use crate::managed_identity::response::{ErrorDetails, parse_token};
use crate::managed_identity::{
    ManagedIdentityClient, ManagedIdentityId, ManagedIdentitySource, ManagedIdentityToken,
    SourceSelection,
};
use crate::support::env::MapEnv;
use crate::support::secret::Secret;
use crate::{CredentialBuilder, entra::aadsts, token::lifetime};

/// The longest a token is believed to live; every expiry certless computes stays within it.
pub const MAX_LIFETIME_SECS: i64 = lifetime::MAX_LIFETIME_SECS;

/// The app and tenant the wrappers' endpoints are set up for.
pub const CLIENT_ID: &str = "00000000-0000-0000-0000-00000000c11e";
pub const TENANT_ID: &str = "00000000-0000-0000-0000-0000000000a1";

/// An HTTP answer; header values that HTTP could not carry are left out, as reqwest would.
fn response(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }
    Response {
        status,
        headers: map,
        body: body.to_vec(),
    }
}

/// A managed-identity endpoint's 200 body, as every source reads it.
pub fn managed_identity_token(body: &[u8], now: i64) -> Result<ManagedIdentityToken> {
    parse_token(body, now, "fuzzed managed-identity endpoint")
}

/// What a managed-identity error body said, in any of its shapes.
#[derive(Debug)]
pub struct ErrorBody {
    pub error: Option<String>,
    pub description: Option<String>,
    pub correlation_id: Option<String>,
    pub summary: Option<String>,
}

pub fn managed_identity_error_body(body: &[u8]) -> ErrorBody {
    let details = ErrorDetails::parse(body);
    ErrorBody {
        summary: details.summary(),
        error: details.error,
        description: details.description,
        correlation_id: details.correlation_id,
    }
}

/// The error `source` makes of a non-200 answer (message, remedy, ids, Retry-After, proxy
/// evidence). The source's endpoint is configured from a fixed environment.
pub fn managed_identity_error(
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    status: u16,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<Error> {
    let env = MapEnv::new()
        .with_var(
            "IDENTITY_ENDPOINT",
            "https://127.0.0.1:2377/metadata/identity/oauth2/token",
        )
        .with_var("IDENTITY_HEADER", "fuzz-identity-header")
        .with_var(
            "IDENTITY_SERVER_THUMBPRINT",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        )
        .with_var("MSI_ENDPOINT", "http://127.0.0.1:8081/msi/token")
        .with_var("MSI_SECRET", "fuzz-msi-secret");
    let selection = SourceSelection {
        source,
        reason: "fuzzing".into(),
    };
    let client = ManagedIdentityClient::new(selection, &env, id)?;
    let answer = response(status, headers, body);
    Ok(client.error_for(&answer, &format!("{source} endpoint (fuzzed)")))
}

/// The Azure Arc agent's 401 challenge: the key it points at, read from `key_directory` after
/// every check.
pub fn arc_key_from_challenge(www_authenticate: &[u8], key_directory: &Path) -> Result<Secret> {
    let challenge = response(401, &[("www-authenticate", www_authenticate)], b"");
    crate::managed_identity::azure_arc::key_from_challenge(&challenge, key_directory)
}

/// An access token as Entra's 200 body gave it.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: Secret,
    pub token_type: String,
    pub expires_on: i64,
    pub refresh_on: Option<i64>,
}

pub fn entra_token(body: &[u8], now: i64) -> Result<IssuedToken> {
    crate::entra::exchange::parse_issued(body, now, "fuzzed Entra token endpoint").map(|t| {
        IssuedToken {
            token: t.token,
            token_type: t.token_type.to_string(),
            expires_on: t.expires_on,
            refresh_on: t.refresh_on,
        }
    })
}

/// The error Entra's non-200 answer becomes.
pub fn entra_error(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Error {
    let endpoint = TokenEndpoint::new(AuthorityHost::global(), CLIENT_ID.to_string());
    endpoint.error_for(
        &response(status, headers, body),
        TENANT_ID,
        "fuzz-correlation-id".to_string(),
    )
}

/// `Retry-After` in seconds, given that header and an optional `Date`.
pub fn retry_after(value: &[u8], date: Option<&[u8]>) -> Option<u64> {
    let mut headers = vec![("retry-after", value)];
    headers.extend(date.map(|d| ("date", d)));
    response(503, &headers, b"").retry_after()
}

/// When a token expires, from the server's figure and the token's own `exp` claim.
pub fn token_expiry(reported: Option<i64>, token: &str, now: i64) -> Option<i64> {
    lifetime::expiry(reported, "fuzzed figure", token, now).map(|e| e.expires_on)
}

/// AADSTS codes quoted in a description.
pub fn aadsts_codes_in_text(text: &str) -> Vec<u32> {
    aadsts::codes_in_text(text)
}

/// The checks `build` runs on a configuration before it touches anything.
pub fn validate(builder: CredentialBuilder) -> Result<()> {
    builder.validate().map(drop)
}

/// A client certificate as a PFX or PEM file (or `Base64EncodedValue`) holds it.
pub struct Certificate(ClientCertificate);

impl Certificate {
    pub fn parse(bytes: &[u8], password: Option<&str>) -> Result<Self> {
        let password = password.map(Secret::from);
        ClientCertificate::parse(bytes, password.as_ref(), "(fuzzed)").map(Certificate)
    }

    /// "CN=..., thumbprint ..., valid ...".
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// The SHA-1 thumbprint, uppercase hex.
    pub fn thumbprint(&self) -> String {
        self.0.thumbprint()
    }

    /// A client assertion signed with the certificate's key.
    pub fn sign_assertion(&self, audience: &str, send_x5c: bool, now: i64) -> Result<Secret> {
        self.0.sign_assertion(CLIENT_ID, audience, send_x5c, now)
    }
}

/// What the doctor found in a list of federated credentials.
pub struct CredentialFindings {
    /// The credential that matches the fixed token, if one does.
    pub matching: Option<String>,
    /// Each finding: whether it blocks the exchange, and the command that fixes it.
    pub findings: Vec<(bool, Option<String>)>,
}

/// The doctor's read-back: a list of federated credentials as `az` or Graph prints it, held
/// against a fixed managed-identity token of app [`CLIENT_ID`] in tenant [`TENANT_ID`] (public
/// cloud, issuer [`FIC_ISSUER`], subject [`FIC_SUBJECT`], audience `api://AzureADTokenExchange`).
/// `gone` subjects are ones Graph said no longer exist.
pub fn federated_credentials(text: &str, gone: &[String]) -> Result<CredentialFindings> {
    use crate::diagnose::credentials::{Presented, Severity, compare, parse_list};
    let list = parse_list(text, "fuzzed list")?;
    let presented = Presented {
        issuer: FIC_ISSUER.into(),
        subject: FIC_SUBJECT.into(),
        audience: crate::entra::cloud::GLOBAL_EXCHANGE_AUDIENCE.into(),
        app: CLIENT_ID.into(),
        cloud: Some(crate::entra::cloud::Cloud::public()),
        system_assigned: true,
    };
    let resolves = gone
        .iter()
        .map(|s| (s.to_ascii_lowercase(), false))
        .collect();
    let comparison = compare(&list, &presented, &resolves);
    Ok(CredentialFindings {
        matching: comparison.matching,
        findings: comparison
            .findings
            .into_iter()
            .map(|f| (f.severity == Severity::Blocking, f.fix))
            .collect(),
    })
}

/// The issuer of [`federated_credentials`]' token.
pub const FIC_ISSUER: &str =
    "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000a1/v2.0";
/// The subject of [`federated_credentials`]' token.
pub const FIC_SUBJECT: &str = "9b21c0de-7f1e-4c55-8a4e-2f9d5c3b1a07";

/// The key [`shared_cache_open`] opens with (and [`shared_cache_seal`] seals with).
const SHARED_CACHE_KEY: &str = "fuzz:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The cache key every fuzzed entry is bound to.
const SHARED_CACHE_BOUND: &[u8] = b"certless-shared-cache-v1 fuzz";

fn shared_cache_keys() -> crate::shared_cache::SealKeys {
    crate::shared_cache::SealKeys::parse(SHARED_CACHE_KEY, "fuzz").expect("the fuzz key parses")
}

/// Bytes read from Redis, opened as the shared cache opens an entry; the plaintext when it opens.
pub fn shared_cache_open(sealed: &[u8]) -> Option<Vec<u8>> {
    shared_cache_keys().open(SHARED_CACHE_BOUND, sealed).ok()
}

/// `plain` sealed as the shared cache seals an entry.
pub fn shared_cache_seal(plain: &[u8]) -> Vec<u8> {
    shared_cache_keys()
        .seal(SHARED_CACHE_BOUND, plain)
        .expect("sealing works")
}

/// An opened entry's plaintext decoded as the shared cache decodes it: the token's expiry and
/// when it was fetched.
pub fn shared_cache_decode(plain: &[u8]) -> Option<(i64, i64)> {
    crate::shared_cache::entry::decode(plain).map(|s| (s.token.expires_on, s.fetched_at))
}
