//! Azure Key Vault's certificate reads, as the Key Vault certificate source needs them: the certificate's current
//! version (`GET {vault}/certificates/{name}`, a given one with `/{version}`) and the secret behind a version, which
//! holds the PFX (base64, `application/x-pkcs12`) or PEM with the private key (`GET {vault}/secrets/{name}/{version}`).
//!
//! A vault lives at `{http_url}/keyvault/{name}` and accepts only a bearer token this emulator issued to a managed
//! identity of its tenant for `https://vault.azure.net` (401 with Key Vault's `WWW-Authenticate` challenge otherwise);
//! an identity that is not among the vault's readers gets 403 in the vault's permission model's words (an access
//! policy's `AccessDenied` or RBAC's `ForbiddenByRbac`). Errors are Key Vault's JSON:
//! `{"error":{"code","message","innererror":{"code"}}}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client_certificate::{ClientCertificateOptions, IssuedClientCertificate};
use crate::config::{KeyVault, PermissionModel, VaultCertificate, VaultCertificateVersion};
use crate::error::EmulatorError;
use crate::state::Shared;
use crate::wire::{bearer_token, json_response, param, query_pairs, set_header};

/// The audience of tokens Key Vault accepts (global cloud).
pub const KEY_VAULT_RESOURCE: &str = "https://vault.azure.net";

/// The vault [`RunningEmulator::add_key_vault_certificate`](crate::RunningEmulator::add_key_vault_certificate) uses
/// when none is named.
pub const DEFAULT_KEY_VAULT_NAME: &str = "certless-demo-kv";

/// The certificate name it uses when none is given.
pub const DEFAULT_KEY_VAULT_CERTIFICATE_NAME: &str = "certless-demo-cert";

/// What to put in a vault (`POST /_emulator/key-vault/certificates`): a new version of a certificate, made like
/// [`ClientCertificateOptions`] and registered on the app unless asked not to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVaultCertificateOptions {
    /// The vault (created if it does not exist); default [`DEFAULT_KEY_VAULT_NAME`].
    #[serde(default)]
    pub vault: Option<String>,
    /// The certificate's name; default [`DEFAULT_KEY_VAULT_CERTIFICATE_NAME`].
    #[serde(default)]
    pub name: Option<String>,
    /// Keep it as PEM (`application/x-pem-file`) rather than PFX.
    #[serde(default)]
    pub pem: bool,
    /// A key Key Vault will not hand out (the secret then holds the certificate alone).
    #[serde(default)]
    pub not_exportable: bool,
    /// The new version is disabled.
    #[serde(default)]
    pub disabled: bool,
    /// The app registration, validity and registration of the certificate, as for a client certificate.
    #[serde(default, flatten)]
    pub certificate: ClientCertificateOptions,
}

/// A certificate version put in a vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVaultCertificateIssued {
    /// The vault's URL, for `KeyVaultUrl`.
    pub vault_url: String,
    /// The certificate's name, for `KeyVaultCertificateName`.
    pub name: String,
    /// The new version.
    pub version: String,
    /// The certificate and its key.
    pub certificate: IssuedClientCertificate,
}

impl Shared {
    pub(crate) fn key_vault_url(&self, name: &str) -> String {
        format!("{}/keyvault/{name}", self.http_url())
    }

    /// Makes a certificate (registered on the app unless asked not to) and adds it to a vault as its newest version.
    pub(crate) fn add_key_vault_certificate(
        &self,
        options: &KeyVaultCertificateOptions,
    ) -> Result<KeyVaultCertificateIssued, EmulatorError> {
        let vault = options
            .vault
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_VAULT_NAME.into());
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_VAULT_CERTIFICATE_NAME.into());
        let ok_name =
            |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok_name(&vault) || !ok_name(&name) {
            return Err(EmulatorError::Config(format!(
                "vault '{vault}' and certificate '{name}' must be letters, digits and dashes"
            )));
        }
        let mut certificate_options = options.certificate.clone();
        certificate_options.password = String::new();
        let issued = self.issue_client_certificate(&certificate_options)?;
        let (content_type, value) = if options.not_exportable {
            ("application/x-pem-file", issued.certificate_pem.clone())
        } else if options.pem {
            (
                "application/x-pem-file",
                format!("{}{}", issued.private_key_pem, issued.certificate_pem),
            )
        } else {
            ("application/x-pkcs12", issued.pfx_base64.clone())
        };
        let version = uuid::Uuid::new_v4().simple().to_string();
        let entry = VaultCertificateVersion {
            version: version.clone(),
            content_type: content_type.into(),
            value,
            certificate_pem: issued.certificate_pem.clone(),
            enabled: !options.disabled,
            exportable: !options.not_exportable,
            created: self.clock.now(),
        };
        self.update_registry(|r| {
            let vault_entry = match r
                .key_vaults
                .iter()
                .position(|v| v.name.eq_ignore_ascii_case(&vault))
            {
                Some(i) => &mut r.key_vaults[i],
                None => {
                    r.key_vaults.push(KeyVault {
                        name: vault.clone(),
                        tenant_id: None,
                        permission_model: PermissionModel::default(),
                        readers: None,
                        certificates: Vec::new(),
                    });
                    r.key_vaults.last_mut().expect("just pushed")
                }
            };
            match vault_entry
                .certificates
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&name))
            {
                Some(c) => c.versions.push(entry),
                None => vault_entry.certificates.push(VaultCertificate {
                    name: name.clone(),
                    versions: vec![entry],
                }),
            }
        });
        Ok(KeyVaultCertificateIssued {
            vault_url: self.key_vault_url(&vault),
            name,
            version,
            certificate: issued,
        })
    }
}

/// Key Vault's error JSON.
fn error(status: StatusCode, code: &str, message: &str, inner: Option<&str>) -> Response {
    let mut body = json!({ "error": { "code": code, "message": message } });
    if let Some(inner) = inner {
        body["error"]["innererror"] = json!({ "code": inner });
    }
    json_response(status, body.to_string())
}

/// An injected fault's answer, in Key Vault's shape.
pub(crate) fn fault_response(status: StatusCode) -> Response {
    let code = match status.as_u16() {
        429 => "Throttled",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        _ => "InternalServerError",
    };
    error(status, code, "Injected by the certless emulator.", None)
}

/// What a request reads, for the permission it needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Certificate,
    Secret,
}

/// The path of a Key Vault read: vault, object name and, when the URL names one, the version.
#[derive(serde::Deserialize)]
pub(crate) struct ObjectPath {
    vault: String,
    name: String,
    version: Option<String>,
}

/// `GET /certificates/{name}[/{version}]`.
pub(crate) async fn certificate(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<ObjectPath>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve(&shared, &path, Read::Certificate, &headers, &uri)
}

/// `GET /secrets/{name}[/{version}]`.
pub(crate) async fn secret(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<ObjectPath>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve(&shared, &path, Read::Secret, &headers, &uri)
}

fn serve(
    shared: &Shared,
    path: &ObjectPath,
    read: Read,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let (vault_name, name, version) = (&path.vault, &path.name, path.version.as_deref());
    let registry = shared.registry();
    let Some(vault) = registry
        .key_vaults
        .iter()
        .find(|v| v.name.eq_ignore_ascii_case(vault_name))
    else {
        // A vault that does not exist has no host name: the client could not have reached it.
        return error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            &format!("No vault named '{vault_name}'."),
            None,
        );
    };
    let tenant = vault
        .tenant_id
        .clone()
        .unwrap_or_else(|| registry.tenant_id.clone());
    let claims = match authenticate(shared, &tenant, headers) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    if param(&query_pairs(uri), "api-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request URI contains an invalid api-version.",
            None,
        );
    }
    let oid = claims
        .get("oid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let allowed = match &vault.readers {
        None => true,
        Some(readers) => readers.iter().any(|r| r.eq_ignore_ascii_case(oid)),
    };
    if !allowed {
        return forbidden(
            vault,
            &claims,
            name,
            read,
            &registry.subscription_id,
            &registry.resource_group,
        );
    }
    let base = shared.key_vault_url(&vault.name);
    let Some(certificate) = vault
        .certificates
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
    else {
        return not_found(read, name, version);
    };
    let chosen = match version {
        Some(v) => certificate.versions.iter().find(|e| e.version == v),
        None => certificate.versions.last(),
    };
    let Some(entry) = chosen else {
        return not_found(read, name, version);
    };
    let attributes = attributes(entry);
    let body = match read {
        Read::Certificate => {
            let der = crate::client_certificate::certificate_der(&entry.certificate_pem)
                .unwrap_or_default();
            let sha1 =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
            json!({
                "id": format!("{base}/certificates/{}/{}", certificate.name, entry.version),
                "kid": format!("{base}/keys/{}/{}", certificate.name, entry.version),
                "sid": format!("{base}/secrets/{}/{}", certificate.name, entry.version),
                "x5t": URL_SAFE_NO_PAD.encode(sha1.as_ref()),
                "cer": STANDARD.encode(&der),
                "attributes": attributes,
                "policy": {
                    "id": format!("{base}/certificates/{}/policy", certificate.name),
                    "key_props": { "exportable": entry.exportable, "kty": "RSA", "key_size": 2048, "reuse_key": false },
                    "secret_props": { "contentType": entry.content_type },
                    "issuer": { "name": "Self" },
                },
            })
        }
        Read::Secret => {
            if !entry.enabled {
                return error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "Operation get is not allowed on a disabled secret.",
                    Some("SecretDisabled"),
                );
            }
            json!({
                "value": entry.value,
                "contentType": entry.content_type,
                "id": format!("{base}/secrets/{}/{}", certificate.name, entry.version),
                "kid": format!("{base}/keys/{}/{}", certificate.name, entry.version),
                "managed": true,
                "attributes": attributes,
            })
        }
    };
    json_response(StatusCode::OK, body.to_string())
}

fn attributes(entry: &VaultCertificateVersion) -> Value {
    let der =
        crate::client_certificate::certificate_der(&entry.certificate_pem).unwrap_or_default();
    let (nbf, exp) = x509_parser::parse_x509_certificate(&der)
        .map(|(_, c)| {
            (
                c.validity().not_before.timestamp(),
                c.validity().not_after.timestamp(),
            )
        })
        .unwrap_or_default();
    json!({
        "enabled": entry.enabled,
        "nbf": nbf,
        "exp": exp,
        "created": entry.created,
        "updated": entry.created,
        "recoveryLevel": "Recoverable+Purgeable",
    })
}

fn not_found(read: Read, name: &str, version: Option<&str>) -> Response {
    let (code, what) = match read {
        Read::Certificate => ("CertificateNotFound", "certificate"),
        Read::Secret => ("SecretNotFound", "secret"),
    };
    let id = match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_string(),
    };
    error(
        StatusCode::NOT_FOUND,
        code,
        &format!(
            "A {what} with (name/id) {id} was not found in this key vault. If you recently deleted this {what} you \
             may be able to recover it using the correct recovery command. For help resolving this issue, please \
             see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

/// 401 with Key Vault's challenge: the tenant whose tokens it takes, and their audience.
fn unauthorized(tenant: &str, message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "Unauthorized", message, None);
    set_header(
        &mut response,
        "www-authenticate",
        &format!(
            "Bearer authorization=\"https://login.windows.net/{tenant}\", resource=\"{KEY_VAULT_RESOURCE}\""
        ),
    );
    response
}

/// The bearer token's claims, if it is a token this emulator issued for Key Vault to an identity of the vault's tenant.
fn authenticate(
    shared: &Shared,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<Map<String, Value>, Box<Response>> {
    let Some(token) = bearer_token(headers) else {
        return Err(Box::new(unauthorized(
            tenant,
            "AKV10000: Request is missing a Bearer or PoP token.",
        )));
    };
    let claims = shared.key.verify_signature(token).map_err(|_| {
        Box::new(unauthorized(
            tenant,
            "Invalid token: the signature does not verify.",
        ))
    })?;
    let now = shared.clock.now();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now)
    {
        return Err(Box::new(unauthorized(tenant, "Token expired.")));
    }
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if aud.trim_end_matches('/') != KEY_VAULT_RESOURCE {
        return Err(Box::new(unauthorized(
            tenant,
            &format!("AKV10022: Invalid audience. Expected {KEY_VAULT_RESOURCE}, found: {aud}."),
        )));
    }
    let tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !tid.eq_ignore_ascii_case(tenant) {
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(Box::new(unauthorized(
            tenant,
            &format!(
                "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{tenant}/, found: {iss}."
            ),
        )));
    }
    Ok(claims)
}

/// 403 as the vault's permission model words it.
fn forbidden(
    vault: &KeyVault,
    claims: &Map<String, Value>,
    name: &str,
    read: Read,
    subscription: &str,
    resource_group: &str,
) -> Response {
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let caller = format!(
        "appid={};oid={};iss={}",
        text("appid"),
        text("oid"),
        text("iss")
    );
    match vault.permission_model {
        PermissionModel::AccessPolicy => {
            let permission = match read {
                Read::Certificate => "certificates get",
                Read::Secret => "secrets get",
            };
            error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "The user, group or application '{caller}' does not have {permission} permission on key vault \
                     '{};location=westeurope'. For help resolving this issue, please see \
                     https://go.microsoft.com/fwlink/?linkid=2125287",
                    vault.name
                ),
                Some("AccessDenied"),
            )
        }
        PermissionModel::Rbac => {
            let (action, kind) = match read {
                Read::Certificate => (
                    "Microsoft.KeyVault/vaults/certificates/read",
                    "certificates",
                ),
                Read::Secret => (
                    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                    "secrets",
                ),
            };
            error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments \
                     or role definitions were changed recently, please observe propagation time.\r\nCaller: \
                     {caller}\r\nAction: '{action}'\r\nResource: '/subscriptions/{subscription}/resourcegroups/\
                     {resource_group}/providers/microsoft.keyvault/vaults/{}/{kind}/{name}'\r\nAssignment: (not \
                     found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {};location=westeurope\r\n",
                    vault.name.to_ascii_lowercase(),
                    vault.name
                ),
                Some("ForbiddenByRbac"),
            )
        }
    }
}
