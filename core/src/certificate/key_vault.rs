//! A certificate kept in Azure Key Vault (Id.Web `KeyVault`: `KeyVaultUrl`,
//! `KeyVaultCertificateName`), read with a managed-identity token for the vault's audience
//! (docs/protocol.md §8): the certificate's current version first
//! (`GET {vault}/certificates/{name}`), then the secret behind that version, which holds the PFX
//! or PEM with the private key (`GET {vault}/secrets/{name}/{version}`).
//!
//! The certificate in hand is used until Key Vault has a newer version: the version is looked
//! up again an hour after the last look, and at once after Entra refused an assertion signed
//! with it. While Key Vault cannot be reached, a certificate in hand that is still valid keeps
//! being used.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use url::Url;

use super::client_certificate::ClientCertificate;
use super::load::unusable;
use crate::cache::singleflight::SingleFlight;
use crate::entra::cloud::{AuthorityHost, Cloud};
use crate::error::{Error, ErrorCode, Leg, Result};
use crate::http::{Clients, Response};
use crate::managed_identity::{ManagedIdentityClient, ManagedIdentityToken};
use crate::retry::{RetryPolicy, with_retries};
use crate::support::clock::Clock;
use crate::support::echo::echo;
use crate::support::secret::{Secret, scrub_server_text};
use crate::token::jwt::decode_claims;

/// The Key Vault REST API version certless speaks.
const API_VERSION: &str = "7.4";

/// How long a version looked up in Key Vault is trusted to be the current one.
const RECHECK_SECS: i64 = 3600;

/// After a failed look-up with a certificate in hand, how long until the next try.
const RECHECK_AFTER_FAILURE_SECS: i64 = 300;

/// A vault token is reused while it has more than this left.
const TOKEN_MARGIN_SECS: i64 = 300;

/// Where a Key Vault certificate is, as configured.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyVaultReference {
    /// The vault's URL (`https://<name>.vault.azure.net`), without a trailing slash.
    pub vault_url: String,
    /// The certificate's name in the vault.
    pub name: String,
}

impl fmt::Debug for KeyVaultReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/certificates/{}", self.vault_url, self.name)
    }
}

impl KeyVaultReference {
    /// Checks the URL (https, or http on a loopback address for the emulator) and the name
    /// (Key Vault allows 1 to 127 letters, digits and dashes).
    pub fn new(vault_url: &str, name: &str) -> Result<Self> {
        let shown = echo(vault_url.trim());
        let bad_url = |why: &str| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!("KeyVaultUrl '{shown}' {why}"),
            )
            .with_remedy(
                "Use the vault's URI from the portal (Key Vault → Overview → Vault URI), e.g. \
                 https://contoso-kv.vault.azure.net/.",
            )
        };
        let url = Url::parse(vault_url.trim()).map_err(|_| bad_url("is not a URL"))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad_url("is not https")),
        }
        if host.is_empty() || url.query().is_some() || !url.username().is_empty() {
            return Err(bad_url(
                "must be https://<vault host>, without a query or user",
            ));
        }
        let name = name.trim();
        if name.is_empty()
            || name.len() > 127
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "KeyVaultCertificateName '{}' is not a Key Vault certificate name (1 to 127 \
                     letters, digits and dashes)",
                    echo(name)
                ),
            )
            .with_remedy("Use the certificate's name as Key Vault lists it under Certificates."));
        }
        Ok(KeyVaultReference {
            vault_url: url.as_str().trim_end_matches('/').to_string(),
            name: name.to_string(),
        })
    }

    /// The vault's name: the first label of its host (the last path segment for the emulator's
    /// loopback vaults).
    pub(crate) fn vault_name(&self) -> String {
        let url = Url::parse(&self.vault_url).ok();
        let host = url.as_ref().and_then(Url::host_str).unwrap_or_default();
        match url.as_ref().and_then(|u| u.path_segments()?.next_back()) {
            Some(last) if !last.is_empty() && !host.contains(".vault.") => last.to_string(),
            _ => host.split('.').next().unwrap_or_default().to_string(),
        }
    }

    /// The audience of a token Key Vault accepts (docs/protocol.md §8): the vault's own cloud,
    /// known from its host; for any other host, the cloud of the authority.
    pub(crate) fn resource(&self, authority: &AuthorityHost) -> &'static str {
        let host = Url::parse(&self.vault_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        Cloud::with_key_vault_host(&host)
            .unwrap_or_else(|| authority.cloud())
            .key_vault
    }

    fn describe(&self) -> String {
        format!(
            "certificate '{}' in Key Vault {}",
            self.name,
            echo(&self.vault_url)
        )
    }
}

/// A certificate read from Key Vault, and which version it is.
pub(crate) struct Loaded {
    pub certificate: Arc<ClientCertificate>,
    pub version: String,
}

/// The Key Vault entry of the credential list.
pub(crate) struct KeyVaultCertificate {
    reference: KeyVaultReference,
    resource: &'static str,
    client: ManagedIdentityClient,
    managed_identity_retry: RetryPolicy,
    retry: RetryPolicy,
    pub send_x5c: bool,
    current: Mutex<Option<Arc<Loaded>>>,
    /// When the version in hand was last confirmed as the current one (Unix seconds).
    checked_at: AtomicI64,
    vault_token: Mutex<Option<ManagedIdentityToken>>,
    flight: SingleFlight<Arc<Loaded>>,
}

impl fmt::Debug for KeyVaultCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultCertificate")
            .field("reference", &self.reference)
            .field("identity", self.client.id())
            .finish_non_exhaustive()
    }
}

/// Which of the two reads failed: they need different permissions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Certificate,
    Secret,
}

impl KeyVaultCertificate {
    pub(crate) fn new(
        reference: KeyVaultReference,
        authority: &AuthorityHost,
        client: ManagedIdentityClient,
        managed_identity_retry: RetryPolicy,
        retry: RetryPolicy,
        send_x5c: bool,
    ) -> Self {
        KeyVaultCertificate {
            resource: reference.resource(authority),
            reference,
            client,
            managed_identity_retry,
            retry,
            send_x5c,
            current: Mutex::new(None),
            checked_at: AtomicI64::new(i64::MIN),
            vault_token: Mutex::new(None),
            flight: SingleFlight::named("key_vault_certificate"),
        }
    }

    fn in_hand(&self) -> Option<Arc<Loaded>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The certificate to sign with now: the one in hand while its version was confirmed less
    /// than an hour ago, else the vault's current version.
    pub(crate) async fn certificate(
        self: &Arc<Self>,
        http: &Clients,
        clock: &Arc<dyn Clock>,
    ) -> Result<Arc<Loaded>> {
        let now = clock.now_unix();
        if let Some(loaded) = self.in_hand() {
            let fresh = now.saturating_sub(self.checked_at.load(Ordering::Acquire)) < RECHECK_SECS;
            if fresh && now <= loaded.certificate.not_after {
                return Ok(loaded);
            }
        }
        let this = Arc::clone(self);
        let http = http.clone();
        let clock = Arc::clone(clock);
        self.flight
            .run(move || async move { this.refresh(&http, &clock).await })
            .await
    }

    /// Entra refused an assertion signed with `version`: look the version up again before the
    /// next one.
    pub(crate) fn rejected(&self, version: &str) {
        if self.in_hand().is_some_and(|l| l.version == version) {
            log::info!(
                "certless: Entra refused the {}; looking for a newer version",
                self.reference.describe()
            );
            self.checked_at.store(i64::MIN, Ordering::Release);
        }
    }

    async fn refresh(&self, http: &Clients, clock: &Arc<dyn Clock>) -> Result<Arc<Loaded>> {
        let in_hand = self.in_hand();
        match self.read(http, clock.as_ref(), in_hand.as_deref()).await {
            Ok(loaded) => {
                self.checked_at.store(clock.now_unix(), Ordering::Release);
                if in_hand
                    .as_ref()
                    .is_none_or(|old| old.version != loaded.version)
                {
                    log::info!(
                        "certless: {} version {}: {}",
                        self.reference.describe(),
                        loaded.version,
                        loaded.certificate.describe()
                    );
                    *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Arc::clone(&loaded));
                }
                Ok(loaded)
            }
            Err(error) => match in_hand {
                Some(old) if clock.now_unix() <= old.certificate.not_after => {
                    log::warn!(
                        "certless: cannot look up the {} ({error}); signing with version {} in \
                         hand",
                        self.reference.describe(),
                        old.version
                    );
                    let retry_at = clock.now_unix() - RECHECK_SECS + RECHECK_AFTER_FAILURE_SECS;
                    self.checked_at.store(retry_at, Ordering::Release);
                    Ok(old)
                }
                _ => Err(error),
            },
        }
    }

    /// The vault's current version: the one in hand when it has not changed, else read anew.
    async fn read(
        &self,
        http: &Clients,
        clock: &dyn Clock,
        in_hand: Option<&Loaded>,
    ) -> Result<Arc<Loaded>> {
        let name = &self.reference.name;
        let metadata = self
            .get(
                http,
                clock,
                &format!("certificates/{name}"),
                Read::Certificate,
            )
            .await?;
        let version = current_version(&metadata).ok_or_else(|| {
            self.invalid("its certificate has no secret id (sid) naming the current version")
        })?;
        if let Some(loaded) = in_hand.filter(|l| l.version == version) {
            return Ok(Arc::new(Loaded {
                certificate: Arc::clone(&loaded.certificate),
                version,
            }));
        }
        let attributes = &metadata["attributes"];
        if attributes["enabled"] == Value::Bool(false) {
            return Err(self
                .error(
                    ErrorCode::KeyVaultCertificateNotFound,
                    format!("its current version {version} is disabled"),
                )
                .with_remedy(
                    "Enable the certificate's current version in Key Vault, or create a new \
                     version.",
                ));
        }
        if metadata["policy"]["key_props"]["exportable"] == Value::Bool(false) {
            return Err(self
                .invalid("its private key is not exportable, so it cannot be read to sign with")
                .with_remedy(
                    "Create a version whose policy makes the key exportable (Key Vault → the \
                     certificate → Issuance Policy → Advanced Policy Configuration → Exportable \
                     private key: Yes), or keep the certificate in a Path or certificate-store \
                     entry.",
                ));
        }
        let secret = self
            .get(
                http,
                clock,
                &format!("secrets/{name}/{version}"),
                Read::Secret,
            )
            .await?;
        let value = secret["value"]
            .as_str()
            .ok_or_else(|| self.invalid("the certificate's secret has no value"))?;
        let content_type = secret["contentType"].as_str().unwrap_or_default();
        let origin = format!("{} (version {version})", self.reference.describe());
        let certificate = if content_type.eq_ignore_ascii_case("application/x-pem-file") {
            ClientCertificate::parse(value.as_bytes(), None, &origin)
        } else {
            let der = STANDARD.decode(value.trim()).map_err(|_| {
                unusable(&origin, "is not base64 (contentType application/x-pkcs12)")
            })?;
            let empty = Secret::from("");
            ClientCertificate::from_pkcs12(&der, Some(&empty), &origin)
        }
        .map_err(|e| e.with_leg(Leg::KeyVault))?;
        Ok(Arc::new(Loaded {
            certificate: Arc::new(certificate),
            version,
        }))
    }

    /// A managed-identity token for the vault, reused while it lasts.
    async fn vault_token(&self, http: &Clients, clock: &dyn Clock) -> Result<Secret> {
        let now = clock.now_unix();
        if let Some(token) = self
            .vault_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|t| t.expires_on - now > TOKEN_MARGIN_SECS)
        {
            return Ok(token.token.clone());
        }
        let what = format!(
            "the {} managed-identity request for Key Vault",
            self.client.selection().source
        );
        let token = with_retries(&self.managed_identity_retry, clock, &what, || {
            self.client
                .fetch(&http.managed_identity, self.resource, clock.now_unix())
        })
        .await
        .map_err(|e| {
            e.with_message_prefix(&format!(
                "no managed-identity token for Key Vault ({}): ",
                self.resource
            ))
        })?;
        let secret = token.token.clone();
        *self.vault_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(secret)
    }

    /// One GET of the Key Vault REST API, with the Key Vault leg's retries.
    async fn get(
        &self,
        http: &Clients,
        clock: &dyn Clock,
        path: &str,
        read: Read,
    ) -> Result<Value> {
        let url = format!(
            "{}/{path}?api-version={API_VERSION}",
            self.reference.vault_url
        );
        let target = format!("Key Vault {}", echo(&self.reference.vault_url));
        with_retries(&self.retry, clock, "the Key Vault request", || async {
            let token = self.vault_token(http, clock).await?;
            let request = http.entra.get(&url).bearer_auth(token.expose());
            let response = http.entra.send_on(request, Leg::KeyVault, &target).await?;
            if response.status == 200 {
                return serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or_else(|| self.invalid("its answer is not a JSON object"));
            }
            if response.status == 401 {
                // A refused token is not used again.
                *self.vault_token.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            Err(self.rejection(&response, read, &token))
        })
        .await
    }

    fn error(&self, code: ErrorCode, what: impl fmt::Display) -> Error {
        Error::new(code, format!("the {}: {what}", self.reference.describe()))
            .with_leg(Leg::KeyVault)
    }

    fn invalid(&self, what: &str) -> Error {
        self.error(ErrorCode::KeyVaultInvalidResponse, what)
    }

    /// The error for a Key Vault answer other than 200 (docs/protocol.md §8): its code and inner
    /// code say what is missing, the token's claims say for whom.
    fn rejection(&self, response: &Response, read: Read, token: &Secret) -> Error {
        let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let code = body["error"]["code"].as_str().map(scrub_server_text);
        let inner = body["error"]["innererror"]["code"]
            .as_str()
            .map(scrub_server_text);
        let said = body["error"]["message"]
            .as_str()
            .map(scrub_server_text)
            .unwrap_or_default();
        let codes = [code.as_deref(), inner.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        let what = match read {
            Read::Certificate => "reading the certificate",
            Read::Secret => "reading the certificate's secret (its private key)",
        };
        let mut message = format!("HTTP {} while {what}", response.status);
        if !codes.is_empty() {
            message.push_str(&format!(" ({codes})"));
        }
        if !said.is_empty() {
            message.push_str(&format!(": {said}"));
        }
        let claims = decode_claims(token.expose()).unwrap_or_default();
        let identity = match (
            &claims.oid,
            &claims.all.get("appid").and_then(Value::as_str),
        ) {
            (Some(oid), Some(appid)) => format!("object id {oid}, client id {appid}"),
            (Some(oid), None) => format!("object id {oid}"),
            _ => "the managed identity".to_string(),
        };
        let object_id = claims.oid.clone().unwrap_or_else(|| "<object id>".into());
        let vault = self.reference.vault_name();
        let (code, remedy) = match response.status {
            401 => (
                ErrorCode::KeyVaultAccessDenied,
                self.unauthorized(response, &claims),
            ),
            403 => (
                ErrorCode::KeyVaultAccessDenied,
                match inner.as_deref() {
                    Some("ForbiddenByFirewall") => format!(
                        "The vault's firewall refuses this host: add its network (or its outbound \
                         IP) under Key Vault {vault} → Networking, or reach the vault through a \
                         private endpoint."
                    ),
                    Some("ForbiddenByRbac") => format!(
                        "The vault uses Azure RBAC: give the managed identity ({identity}) the \
                         role 'Key Vault Certificate User' on the vault or the certificate: az \
                         role assignment create --role \"Key Vault Certificate User\" \
                         --assignee-object-id {object_id} --assignee-principal-type \
                         ServicePrincipal --scope $(az keyvault show --name {vault} --query id -o \
                         tsv)"
                    ),
                    _ if said.to_ascii_lowercase().contains("disabled") => {
                        "The certificate's current version is disabled: enable it in Key Vault, \
                         or create a new version."
                            .to_string()
                    }
                    _ => format!(
                        "The vault uses access policies: give the managed identity ({identity}) \
                         Get on Certificates and Get on Secrets: az keyvault set-policy --name \
                         {vault} --object-id {object_id} --certificate-permissions get \
                         --secret-permissions get (with Azure RBAC instead: the role 'Key Vault \
                         Certificate User')."
                    ),
                },
            ),
            404 => (
                ErrorCode::KeyVaultCertificateNotFound,
                format!(
                    "Check KeyVaultCertificateName ('{}'): it must name a certificate (not a \
                     key or a secret) in vault {vault}; az keyvault certificate list --vault-name \
                     {vault} lists them. A deleted certificate can be recovered while soft-deleted.",
                    self.reference.name
                ),
            ),
            _ => (
                ErrorCode::KeyVaultRejected,
                "Key Vault failed or is throttling: certless retries 429 and 5xx answers; if it \
                 persists, check the vault's health (Azure status, the vault's metrics)."
                    .to_string(),
            ),
        };
        self.error(code, message)
            .with_http_status(response.status)
            .with_oauth_error(inner.or(code_text(&body)))
            .with_retry_after(response.retry_after())
            .with_ids(
                None,
                response.header("x-ms-request-id").map(scrub_server_text),
            )
            .with_remedy(remedy)
    }

    /// Why a 401: the vault's challenge names the tenant and audience it wants.
    fn unauthorized(&self, response: &Response, claims: &crate::token::jwt::Claims) -> String {
        let challenge = response
            .header("www-authenticate")
            .map(parse_challenge)
            .unwrap_or_default();
        let wanted_tenant = challenge
            .iter()
            .find(|(k, _)| k == "authorization" || k == "authorization_uri")
            .and_then(|(_, v)| {
                v.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .map(str::to_string)
            });
        let wanted_resource = challenge
            .iter()
            .find(|(k, _)| k == "resource" || k == "scope")
            .map(|(_, v)| v.trim_end_matches("/.default").to_string());
        if let (Some(want), Some(have)) = (&wanted_tenant, &claims.tid) {
            if !want.eq_ignore_ascii_case(have) {
                return format!(
                    "The vault belongs to tenant {want}, the managed identity to tenant {have}: a \
                     vault accepts identities of its own tenant only. Use a vault of the \
                     identity's tenant, or an identity of the vault's."
                );
            }
        }
        if let (Some(want), Some(have)) = (&wanted_resource, &claims.aud) {
            if want.trim_end_matches('/') != have.trim_end_matches('/') {
                return format!(
                    "The vault wants a token for {want}, certless asked for {have} (from the \
                     vault's URL and the authority's cloud): check that KeyVaultUrl and Instance \
                     are of the same cloud."
                );
            }
        }
        "Key Vault did not accept the managed identity's token: check the host's clock (NTP) \
         and that the vault and the identity are in the same tenant."
            .to_string()
    }
}

fn code_text(body: &Value) -> Option<String> {
    body["error"]["code"].as_str().map(scrub_server_text)
}

/// The version the certificate's secret id names (`.../secrets/<name>/<version>`): the secret
/// is read from the configured vault by name and version, never from a URL the answer gave.
fn current_version(metadata: &Value) -> Option<String> {
    let sid = metadata["sid"].as_str()?;
    let version = sid.trim_end_matches('/').rsplit('/').next()?;
    (!version.is_empty() && version.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| version.to_string())
}

/// `Bearer authorization="...", resource="..."` as (lower-case key, value) pairs.
fn parse_challenge(header: &str) -> Vec<(String, String)> {
    let rest = header.trim();
    let rest = rest
        .strip_prefix("Bearer")
        .or_else(|| rest.strip_prefix("bearer"))
        .unwrap_or(rest);
    rest.split(',')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                scrub_server_text(v.trim().trim_matches('"')),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_checked_and_know_their_cloud() {
        let global = AuthorityHost::global();
        let r = KeyVaultReference::new("https://contoso-kv.vault.azure.net/", "app-cert").unwrap();
        assert_eq!(r.vault_url, "https://contoso-kv.vault.azure.net");
        assert_eq!(r.vault_name(), "contoso-kv");
        assert_eq!(r.resource(&global), "https://vault.azure.net");
        let gov = KeyVaultReference::new("https://kv.vault.usgovcloudapi.net", "c").unwrap();
        assert_eq!(gov.resource(&global), "https://vault.usgovcloudapi.net");
        let china = AuthorityHost::parse("https://login.chinacloudapi.cn").unwrap();
        let local = KeyVaultReference::new("http://127.0.0.1:8080/keyvault/demo", "c").unwrap();
        assert_eq!(local.vault_name(), "demo");
        assert_eq!(local.resource(&china), "https://vault.azure.cn");
        for (url, name) in [
            ("http://kv.vault.azure.net", "c"),
            ("https://kv.vault.azure.net", "bad/name"),
            ("https://kv.vault.azure.net", ""),
            ("not a url", "c"),
        ] {
            let e = KeyVaultReference::new(url, name).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{url} {name}: {e}");
        }
    }

    #[test]
    fn challenges_and_versions_are_read() {
        let c = parse_challenge(
            "Bearer authorization=\"https://login.windows.net/72f988bf\", \
             resource=\"https://vault.azure.net\"",
        );
        assert_eq!(
            c[0],
            (
                "authorization".into(),
                "https://login.windows.net/72f988bf".into()
            )
        );
        assert_eq!(c[1], ("resource".into(), "https://vault.azure.net".into()));
        let sid = serde_json::json!({"sid": "https://kv.vault.azure.net/secrets/app/0123abcd"});
        assert_eq!(current_version(&sid).as_deref(), Some("0123abcd"));
        let odd = serde_json::json!({"sid": "https://kv.vault.azure.net/secrets/app/../x?y"});
        assert_eq!(current_version(&odd), None);
    }
}
