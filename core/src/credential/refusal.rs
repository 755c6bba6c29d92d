//! Explaining why the credential list produced no token: which certificate Entra refused and
//! why, why a managed identity's federation was refused (system-assigned, another tenant), and
//! one error for the failures of all the entries.

use crate::certificate::ClientCertificate;
use crate::error::{Error, ErrorCode};

/// Entra's answers about a client certificate: signature or key not accepted (700027), key
/// assertion outside its time range (700024), not for this app (700021) or endpoint (700023).
const CERTIFICATE_AADSTS: &[u32] = &[700027, 700024, 700021, 700023];

/// When Entra finds no federated credential for the managed identity and the identity's own
/// token says why — a system-assigned identity (its `xms_mirid` is the host's resource, not a
/// user-assigned identity), whose object id changes with the host and which Microsoft documents
/// as unsupported, or an identity of another tenant — the error says so first, with that fix, as
/// `certless doctor` would.
pub(super) fn explain_federation_refusal(
    error: Error,
    assertion: &crate::managed_identity::ManagedIdentityToken,
    tenant: &str,
) -> Error {
    let Some(code) = error.aadsts_codes().first().copied() else {
        return error;
    };
    let no_match = crate::entra::aadsts::NO_MATCHING_FIC.contains(&code);
    if !no_match && code != crate::entra::aadsts::CROSS_TENANT {
        return error;
    }
    let Ok(claims) = crate::token::jwt::decode_claims(assertion.token.expose()) else {
        return error;
    };
    let user_assigned = "/providers/microsoft.managedidentity/userassignedidentities/";
    match (&claims.xms_mirid, &claims.tid) {
        (Some(mirid), _) if no_match && !mirid.to_ascii_lowercase().contains(user_assigned) => {
            let subject = claims.sub.as_deref().unwrap_or_default();
            error
                .with_message_prefix(&format!(
                    "the managed identity is system-assigned (the identity of {}), and Entra \
                     accepts no federated credential of the app for it (AADSTS{code}): ",
                    crate::support::echo::echo(&host_resource(mirid))
                ))
                .with_remedy(format!(
                    "Either no credential names its object id {} — a system-assigned identity \
                     gets a new one when it is disabled and enabled again or the machine is \
                     recreated (`certless doctor --graph` compares them) — or Entra refuses \
                     system-assigned identities, as Microsoft's page on this feature says. The \
                     lasting fix for both: create a user-assigned managed identity, assign it to \
                     this host, add a federated credential for it on the app, and set \
                     ManagedIdentityClientId to its client id (`certless doctor` prints the \
                     federated credential to create).",
                    crate::support::echo::echo(subject)
                ))
        }
        (_, Some(tid))
            if tid.len() == 36 && tenant.len() == 36 && !tid.eq_ignore_ascii_case(tenant) =>
        {
            error
                .with_message_prefix(&format!(
                    "the managed identity is in tenant {}, the app registration in tenant {tenant} \
                 (AADSTS{code}): ",
                    crate::support::echo::echo(tid)
                ))
                .with_remedy(
                    "Use a user-assigned identity from the app's own tenant (or move the app): a \
                 federated credential trusts identities of its own tenant.",
                )
        }
        _ => name_the_field(error, code, &claims),
    }
}

/// For a refusal that names the field no federated credential matches, the remedy gives the
/// exact value the credential needs, from the assertion itself (the doctor compares the app's
/// credentials field by field).
fn name_the_field(error: Error, code: u32, claims: &crate::token::jwt::Claims) -> Error {
    let value = |v: &Option<String>| {
        crate::support::echo::echo(v.as_deref().unwrap_or_default()).to_string()
    };
    let (sub, iss, aud) = (value(&claims.sub), value(&claims.iss), value(&claims.aud));
    let remedy = match code {
        7002138 => format!(
            "A federated credential's subject differs from this identity's object id '{sub}' only \
             in case, and Entra compares subjects case-sensitively: set it to exactly '{sub}'."
        ),
        700213 | 7002137 => format!(
            "No federated credential names this identity's object id '{sub}' (its Object \
             (principal) ID, not its Client ID): add one, or correct the subject of the one meant \
             for it (`certless doctor --graph` names it)."
        ),
        700211 => format!(
            "No federated credential trusts the issuer '{iss}': set the credential's issuer to \
             exactly that (no trailing slash, not the sts.windows.net form, this tenant and \
             cloud)."
        ),
        700212 | 7002121 => format!(
            "No federated credential accepts the audience '{aud}': set the credential's audience \
             to exactly that (each cloud has its own: docs/protocol.md §5), or TokenExchangeUrl \
             to the one the credential names."
        ),
        _ => return error,
    };
    error.with_remedy(remedy)
}

/// `virtualMachines/web-01` of an ARM id `/subscriptions/.../virtualMachines/web-01`.
fn host_resource(resource_id: &str) -> String {
    let parts: Vec<&str> = resource_id
        .trim_end_matches('/')
        .rsplit('/')
        .take(2)
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// Whether Entra's answer is about the certificate (its signature, its validity, its claims).
pub(super) fn refuses_certificate(error: &Error) -> bool {
    error
        .aadsts_codes()
        .iter()
        .any(|c| CERTIFICATE_AADSTS.contains(c))
}

/// Which certificate Entra refused, and whether it is still valid.
pub(super) fn explain_certificate_refusal(
    error: Error,
    certificate: &ClientCertificate,
    now: i64,
) -> Error {
    let context = certificate.context(now);
    // 700027's usual remedy is about managed-identity tokens; here it is about which
    // certificate the app registration holds.
    let remedy = match error.remedy() {
        Some(r) if !error.aadsts_codes().contains(&700027) => format!("{context} {r}"),
        _ => context,
    };
    error.with_remedy(remedy)
}

/// One failure is reported as itself; several as one error whose causes list each source's
/// failure, carrying the leg, status, AADSTS codes and ids of the most telling one.
pub(super) fn chain_error(mut failures: Vec<Error>) -> Error {
    if failures.len() == 1 {
        return failures.remove(0);
    }
    let unavailable = !failures.is_empty() && failures.iter().all(Error::is_unavailable);
    let summary =
        Error::new(ErrorCode::AllCredentialSourcesFailed, "no source").with_causes(failures);
    let primary = summary.primary().clone();
    let mut error = Error::new(
        ErrorCode::AllCredentialSourcesFailed,
        format!(
            "all {} credential sources failed; first: {}",
            summary.causes().len(),
            primary.message()
        ),
    )
    .with_leg(primary.leg())
    .with_aadsts_codes(primary.aadsts_codes().to_vec())
    .with_oauth_error(primary.oauth_error().map(str::to_string))
    .with_ids(
        primary.trace_id().map(str::to_string),
        primary.correlation_id().map(str::to_string),
    )
    .with_retry_after(primary.retry_after())
    .with_causes(summary.causes().to_vec());
    if let Some(status) = primary.http_status() {
        error = error.with_http_status(status);
    }
    if let Some(remedy) = primary.remedy() {
        error = error.with_remedy(remedy.to_string());
    }
    if unavailable {
        error = error.with_unavailable();
    }
    error
}
