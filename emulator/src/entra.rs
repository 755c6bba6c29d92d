//! Entra's token endpoint, `POST /{tenant}/oauth2/v2.0/token`, for the client-credentials grant with a client
//! assertion (the FIC exchange, docs/protocol.md §1) or a client secret.
//!
//! Checks run in the order Entra's answers suggest: tenant, method, grant type, client, scope and resource, then the
//! credential. For an assertion: its shape, whether any FIC trusts its issuer, its signature, its time range, then
//! the subject and audience, then the identity kind and tenant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::config::{AppRegistration, Registry, entra_issuer};
use crate::entra_error::{AadError, RequestIds};
use crate::fic::{self, FicMismatch};
use crate::state::Shared;
use crate::tokens::{AppToken, SignatureProblem, Validity, app_token_claims, peek_claims};
use crate::wire::{form_pairs, is_form, json_response, ordered_json, param};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Marks `xms_mirid` of a user-assigned identity; anything else is the host's system-assigned identity.
const USER_ASSIGNED_MARKER: &str = "/providers/microsoft.managedidentity/userassignedidentities/";

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    conn: Option<axum::Extension<crate::server::ConnInfo>>,
    body: Bytes,
) -> Response {
    let base = match &conn {
        Some(c) => crate::wire::base_url(&headers, &uri, c.scheme, c.port),
        None => String::new(),
    };
    let ids = RequestIds::from_headers(&headers);
    let registry = shared.registry();
    let form = if is_form(&headers) {
        form_pairs(&body)
    } else {
        Vec::new()
    };
    let request = TokenRequest {
        tenant: &tenant,
        method: &method,
        form: &form,
        base: &base,
    };
    match exchange(&shared, &registry, &request) {
        Ok(body) => {
            let mut response = json_response(StatusCode::OK, body);
            ids.stamp(&mut response);
            response
        }
        Err(e) => {
            log::info!(
                "entra: token request for tenant '{tenant}' refused: AADSTS{}",
                e.code
            );
            e.respond(&ids, shared.clock.now())
        }
    }
}

/// An injected fault's answer, in Entra's shape.
pub(crate) fn fault_response(status: StatusCode, headers: &HeaderMap, now: i64) -> Response {
    AadError::injected(status).respond(&RequestIds::from_headers(headers), now)
}

struct TokenRequest<'a> {
    tenant: &'a str,
    method: &'a Method,
    form: &'a [(String, String)],
    /// `scheme://host:port` this request came to.
    base: &'a str,
}

impl TokenRequest<'_> {
    /// The audiences a certificate assertion may name: this token endpoint, by the tenant as the client spelled it
    /// or by its id, in v2.0 and v1 form.
    fn token_endpoints(&self, tenant_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        for tenant in [self.tenant, tenant_id] {
            for path in ["oauth2/v2.0/token", "oauth2/token", "v2.0"] {
                out.push(format!("{}/{tenant}/{path}", self.base));
            }
        }
        out
    }
}

/// How the client proved who it is; becomes `appidacr`/`azpacr`.
enum ClientAuth {
    Secret,
    Assertion,
    Certificate,
}

fn exchange(
    shared: &Shared,
    registry: &Registry,
    req: &TokenRequest<'_>,
) -> Result<String, AadError> {
    let tenant = registry
        .find_tenant(req.tenant)
        .ok_or_else(|| AadError::tenant_not_found(req.tenant))?
        .to_string();
    if req.method != Method::POST {
        return Err(AadError::post_only(req.method.as_str()));
    }
    let form = req.form;
    let grant_type = non_empty(param(form, "grant_type"))
        .ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(AadError::unsupported_grant_type(grant_type));
    }
    let client_id = non_empty(param(form, "client_id"))
        .ok_or_else(|| AadError::missing_parameter("client_id"))?;
    let app = registry
        .find_app(&tenant, client_id)
        .ok_or_else(|| AadError::app_not_found(client_id, &tenant))?;
    if !app.enabled {
        return Err(AadError::app_disabled(&app.client_id, &app.display_name));
    }
    let scope =
        non_empty(param(form, "scope")).ok_or_else(|| AadError::missing_parameter("scope"))?;
    let resource = resource_of_scope(scope)?;
    if registry.find_resource(&resource).is_none() {
        return Err(AadError::resource_not_found(&resource, &tenant));
    }

    let auth = match (
        non_empty(param(form, "client_assertion")),
        non_empty(param(form, "client_secret")),
    ) {
        (Some(assertion), _) => {
            match non_empty(param(form, "client_assertion_type")) {
                None => return Err(AadError::missing_parameter("client_assertion_type")),
                Some(t) if t != JWT_BEARER => return Err(AadError::unexpected_assertion_type()),
                Some(_) => {}
            }
            let unverified = peek_claims(assertion).ok_or_else(AadError::malformed_jwt)?;
            if claim_str(&unverified, "iss") == Some(app.client_id.as_str()) {
                // Signed by the app itself: one of its certificates.
                crate::client_certificate::verify_assertion(
                    app,
                    assertion,
                    &unverified,
                    &req.token_endpoints(&tenant),
                    shared.clock.now(),
                    i64::try_from(registry.assertion_clock_skew_secs).unwrap_or(i64::MAX),
                )?;
                ClientAuth::Certificate
            } else {
                check_assertion(shared, registry, app, &tenant, &unverified, assertion)?;
                ClientAuth::Assertion
            }
        }
        (None, Some(secret)) => {
            if !app.client_secrets.iter().any(|s| s == secret) {
                return Err(AadError::invalid_client_secret(&app.client_id));
            }
            ClientAuth::Secret
        }
        (None, None) => return Err(AadError::no_client_credential()),
    };

    let lifetime = registry.access_token_lifetime_secs;
    let sp_id = app.service_principal_id();
    let claims = app_token_claims(&AppToken {
        tenant_id: &tenant,
        app_client_id: &app.client_id,
        app_display_name: &app.display_name,
        service_principal_id: &sp_id,
        audience: &resource,
        roles: app.roles_for(&resource),
        acr: match auth {
            ClientAuth::Secret => "1",
            ClientAuth::Assertion | ClientAuth::Certificate => "2",
        },
        validity: Validity::starting(shared.clock.now(), lifetime),
    });
    let access_token = shared.key.sign(&claims).map_err(|e| {
        log::error!("entra: cannot sign: {e}");
        AadError::injected(StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    log::info!(
        "entra: issued an app token to {} for '{resource}' ({}), valid {lifetime}s",
        app.client_id,
        match auth {
            ClientAuth::Secret => "client secret",
            ClientAuth::Assertion => "federated assertion",
            ClientAuth::Certificate => "client certificate",
        }
    );

    let mut fields = vec![
        ("token_type", Value::from("Bearer")),
        ("expires_in", Value::from(lifetime)),
        ("ext_expires_in", Value::from(lifetime)),
    ];
    if let Some(refresh_in) = registry.refresh_in_secs {
        fields.push(("refresh_in", Value::from(refresh_in)));
    }
    fields.push(("access_token", Value::from(access_token)));
    Ok(ordered_json(&fields))
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

/// The resource of a client-credentials scope: every scope is `{resource}/.default` of one resource
/// (docs/protocol.md §1). Returns the resource as the client spelled it; that becomes the token's `aud`.
fn resource_of_scope(scope: &str) -> Result<String, AadError> {
    let mut resource: Option<&str> = None;
    for s in scope.split_whitespace() {
        let r = s
            .strip_suffix("/.default")
            .ok_or_else(|| AadError::scope_not_default(s))?;
        match resource {
            None => resource = Some(r),
            Some(first)
                if crate::config::normalize_resource(first)
                    == crate::config::normalize_resource(r) => {}
            Some(_) => return Err(AadError::scopes_incompatible(scope)),
        }
    }
    resource
        .map(str::to_string)
        .ok_or_else(|| AadError::missing_parameter("scope"))
}

fn check_assertion(
    shared: &Shared,
    registry: &Registry,
    app: &AppRegistration,
    tenant: &str,
    unverified: &Map<String, Value>,
    assertion: &str,
) -> Result<(), AadError> {
    let issuer = claim_str(unverified, "iss").ok_or_else(AadError::malformed_jwt)?;
    let subject = claim_str(unverified, "sub").unwrap_or_default();
    let audiences = audiences(unverified);
    log::info!(
        "entra: assertion for app {} presents iss='{issuer}' sub='{subject}' aud={audiences:?}",
        app.client_id
    );
    let credentials = &app.federated_credentials;
    if credentials.is_empty() {
        return Err(AadError::no_matching_fic(
            issuer,
            subject,
            &audiences.join(","),
        ));
    }
    if !fic::issuer_is_trusted(credentials, issuer) {
        return Err(AadError::fic_issuer_mismatch(issuer));
    }

    // Signature: the emulator holds the keys of the Entra issuers of its own tenants, and no others.
    let entra_issued = registry.tenants().any(|t| entra_issuer(t) == issuer);
    let ours = entra_issued || registry.external_issuers.iter().any(|i| i == issuer);
    let claims = if ours {
        shared
            .key
            .verify_signature(assertion)
            .map_err(|p| match p {
                SignatureProblem::Malformed => AadError::malformed_jwt(),
                SignatureProblem::UnsupportedAlgorithm(_) => {
                    AadError::unsupported_signing_algorithm()
                }
                SignatureProblem::KeyNotFound(kid) => {
                    AadError::invalid_signature("The key was not found.", &kid)
                }
                SignatureProblem::BadSignature(kid) => AadError::invalid_signature(
                    "Key was found, but use of the key to verify the signature failed.",
                    &kid,
                ),
            })?
    } else {
        let kid = jsonwebtoken::decode_header(assertion)
            .ok()
            .and_then(|h| h.kid.or(h.x5t))
            .unwrap_or_default();
        return Err(AadError::invalid_signature("The key was not found.", &kid));
    };

    check_time_range(shared, registry, &claims)?;

    match fic::match_credential(credentials, issuer, subject, &audiences) {
        Ok(_) => {}
        Err(FicMismatch::NoCredentials) => {
            return Err(AadError::no_matching_fic(
                issuer,
                subject,
                &audiences.join(","),
            ));
        }
        Err(FicMismatch::Issuer) => return Err(AadError::fic_issuer_mismatch(issuer)),
        Err(FicMismatch::Subject) => return Err(AadError::fic_subject_mismatch(subject)),
        Err(FicMismatch::SubjectCase) => return Err(AadError::fic_subject_case_mismatch(subject)),
        Err(FicMismatch::Audience) => {
            return Err(AadError::fic_audience_mismatch(&audiences.join(",")));
        }
    }

    if !entra_issued {
        // A workload's own issuer (Kubernetes, GitHub): the managed-identity rules below do not apply.
        return Ok(());
    }
    // docs/protocol.md §1: only user-assigned identities are documented as FIC subjects; `xms_mirid` tells which.
    let mirid = claim_str(&claims, "xms_mirid")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !mirid.contains(USER_ASSIGNED_MARKER) && !app.allow_system_assigned_fic {
        log::info!(
            "entra: assertion is from a system-assigned identity; app {} does not accept that",
            app.client_id
        );
        return Err(AadError::no_matching_fic(
            issuer,
            subject,
            &audiences.join(","),
        ));
    }

    let token_tenant = claim_str(&claims, "tid").unwrap_or_default();
    if !token_tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::cross_tenant_assertion(issuer));
    }
    Ok(())
}

/// `nbf`/`exp` against the emulator's clock, with the configured tolerance.
fn check_time_range(
    shared: &Shared,
    registry: &Registry,
    claims: &Map<String, Value>,
) -> Result<(), AadError> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(AadError::malformed_jwt)?;
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    let now_nanos = shared.clock.now_nanos();
    let now = i64::try_from(now_nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let skew = i64::try_from(registry.assertion_clock_skew_secs).unwrap_or(i64::MAX);
    let expired = now > exp.saturating_add(skew);
    let early = nbf.is_some_and(|nbf| now.saturating_add(skew) < nbf);
    if expired || early {
        return Err(AadError::assertion_time_range(now_nanos, nbf, exp));
    }
    Ok(())
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// `aud` may be one string or an array of strings.
fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_rules() {
        assert_eq!(
            resource_of_scope("https://graph.microsoft.com/.default"),
            Ok("https://graph.microsoft.com".into())
        );
        assert_eq!(
            resource_of_scope("https://management.azure.com//.default"),
            Ok("https://management.azure.com/".into())
        );
        assert_eq!(
            resource_of_scope("https://a/.default https://A/.default"),
            Ok("https://a".into())
        );
        assert_eq!(
            resource_of_scope("openid").map_err(|e| e.code),
            Err(1002012)
        );
        assert_eq!(
            resource_of_scope("https://a/.default https://b/.default").map_err(|e| e.code),
            Err(70011)
        );
        assert_eq!(resource_of_scope("   ").map_err(|e| e.code), Err(900144));
    }
}
