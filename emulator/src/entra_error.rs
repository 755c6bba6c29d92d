//! Entra's error answers: the JSON shape (docs/protocol.md §1, step 3), the request/correlation ids, and the AADSTS
//! codes of the client-credentials-with-assertion flow (docs/protocol.md §4) with the status and `error` Entra pairs
//! them with. Status choices follow responses seen from the real service: `invalid_client` problems (credential,
//! assertion signature and time, FIC mismatch) are 401; the rest 400.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::clock;
use crate::wire::{header_str, json_response, set_header};

const WIF_DOC: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/// Trace id (ours) and correlation id (the client's `client-request-id` when it is a GUID, else ours).
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub trace_id: String,
    pub correlation_id: String,
    /// Echoed back verbatim in `client-request-id`.
    pub client_request_id: Option<String>,
}

impl RequestIds {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let client_request_id = header_str(headers, "client-request-id").map(str::to_string);
        let correlation_id = client_request_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        RequestIds {
            trace_id: uuid::Uuid::new_v4().to_string(),
            correlation_id,
            client_request_id,
        }
    }

    /// Headers every Entra answer carries.
    pub(crate) fn stamp(&self, response: &mut Response) {
        set_header(response, "x-ms-request-id", &self.trace_id);
        if let Some(id) = &self.client_request_id {
            set_header(response, "client-request-id", id);
        }
        set_header(response, "cache-control", "no-store, no-cache");
        set_header(response, "pragma", "no-cache");
        set_header(response, "x-ms-ests-server", "2.1.0 - certless-emulator");
    }
}

/// One AADSTS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        AadError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    /// The JSON Entra sends, fields in Entra's order.
    pub(crate) fn body(&self, ids: &RequestIds, now: i64) -> String {
        let timestamp = clock::entra_timestamp(now);
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
            self.code, self.message, ids.trace_id, ids.correlation_id
        );
        crate::wire::ordered_json(&[
            ("error", Value::from(self.error)),
            ("error_description", Value::from(description)),
            ("error_codes", Value::from(vec![self.code])),
            ("timestamp", Value::from(timestamp)),
            ("trace_id", Value::from(ids.trace_id.as_str())),
            ("correlation_id", Value::from(ids.correlation_id.as_str())),
            (
                "error_uri",
                Value::from(format!(
                    "https://login.microsoftonline.com/error?code={}",
                    self.code
                )),
            ),
        ])
    }

    pub(crate) fn respond(&self, ids: &RequestIds, now: i64) -> Response {
        let mut response = json_response(self.status, self.body(ids, now));
        ids.stamp(&mut response);
        response
    }

    pub(crate) fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into \
                 the correct cloud. Check with your subscription administrator, this may happen if there are no \
                 active subscriptions for the tenant."
            ),
        )
    }

    pub(crate) fn post_only(method: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request."
            ),
        )
    }

    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub(crate) fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    pub(crate) fn app_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can \
                 happen if the application has not been installed by the administrator of the tenant or consented \
                 to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub(crate) fn app_disabled(client_id: &str, name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            7000112,
            format!("Application '{client_id}'({name}) is disabled."),
        )
    }

    pub(crate) fn scope_not_default(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value \
                 with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    pub(crate) fn scopes_incompatible(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. One or more scopes in '{scope}' \
                 are not compatible with each other."
            ),
        )
    }

    pub(crate) fn resource_not_found(resource: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            resource_not_found_text(resource, tenant),
        )
    }

    pub(crate) fn no_client_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or \
                'client_secret'.",
        )
    }

    pub(crate) fn invalid_client_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub(crate) fn unexpected_assertion_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90011,
            "Unexpected client assertion type.",
        )
    }

    pub(crate) fn malformed_jwt() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        )
    }

    pub(crate) fn unsupported_signing_algorithm() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            5002730,
            "Invalid JWT token. Unsupported key for the signing algorithm.",
        )
    }

    pub(crate) fn invalid_signature(reason: &str, key_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by \
                 client: '{key_id}']"
            ),
        )
    }

    pub(crate) fn assertion_not_for_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at \
             https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
                .to_string(),
        )
    }

    pub(crate) fn assertion_audience_mismatch() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700023,
            "Client assertion audience claim does not match Realm issuer. Review the documentation at \
             https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
                .to_string(),
        )
    }

    pub(crate) fn assertion_time_range(now_nanos: i128, nbf: Option<i64>, exp: i64) -> Self {
        let secs = |s: i64| clock::dotnet_round_trip(i128::from(s) * 1_000_000_000);
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, \
                 expiry time of assertion {}. Review the documentation at \
                 https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                clock::dotnet_round_trip(now_nanos),
                secs(nbf.unwrap_or(0)),
                secs(exp)
            ),
        )
    }

    pub(crate) fn fic_issuer_mismatch(issuer: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'. Please \
                 check your federated identity credential Subject, Audience and Issuer against the presented \
                 assertion. {WIF_DOC}"
            ),
        )
    }

    pub(crate) fn fic_audience_mismatch(audience: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{audience}'. Please \
                 check your federated identity credential Subject, Audience and Issuer against the presented \
                 assertion. {WIF_DOC}"
            ),
        )
    }

    pub(crate) fn fic_subject_mismatch(subject: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. Check \
                 your federated identity credential Subject, Audience and Issuer against the presented assertion. \
                 {WIF_DOC}"
            ),
        )
    }

    /// Since Entra's August 2024 change, FIC matching is case-sensitive and a subject that differs only in case
    /// gets its own code.
    pub(crate) fn fic_subject_case_mismatch(subject: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7002138,
            format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. The \
                 subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check \
                 your federated identity credential Subject, Audience and Issuer against the presented assertion. \
                 See documentation at: {WIF_DOC}. See breaking change notification and remediation at: \
                 https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024."
            ),
        )
    }

    /// The generic "no FIC matches" with the assertion's claims echoed; Entra still answers it (400
    /// `invalid_request`) when no single record can be blamed.
    pub(crate) fn no_matching_fic(issuer: &str, subject: &str, audience: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: \
                 '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. \
                 https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
            ),
        )
    }

    pub(crate) fn cross_tenant_assertion(issuer: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700236,
            format!(
                "Entra ID tokens issued by issuer '{issuer}' may not be used for federated identity credential \
                 flows for applications or managed identities registered in this tenant."
            ),
        )
    }

    /// What an injected fault answers with on the token endpoint.
    pub(crate) fn injected(status: StatusCode) -> Self {
        let error = if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            "temporarily_unavailable"
        } else {
            "invalid_request"
        };
        Self::new(
            status,
            error,
            90033,
            "A transient error has occurred. Please try again.",
        )
    }
}

/// AADSTS500011's text, which IMDS also passes through.
pub(crate) fn resource_not_found_text(resource: &str, tenant: &str) -> String {
    format!(
        "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if \
         the application has not been installed by the administrator of the tenant or consented to by any user in \
         the tenant. You might have sent your authentication request to the wrong tenant."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_entras_shape() {
        let ids = RequestIds {
            trace_id: "t-1".into(),
            correlation_id: "c-1".into(),
            client_request_id: None,
        };
        let body = AadError::app_not_found("app", "ten").body(&ids, 1_579_152_252);
        assert!(
            body.starts_with(
                r#"{"error":"unauthorized_client","error_description":"AADSTS700016: "#
            ),
            "{body}"
        );
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["error_codes"], serde_json::json!([700016]));
        assert_eq!(v["timestamp"], "2020-01-16 05:24:12Z");
        assert_eq!(
            v["error_uri"],
            "https://login.microsoftonline.com/error?code=700016"
        );
        let desc = v["error_description"].as_str().expect("desc");
        assert!(
            desc.ends_with(
                "\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2020-01-16 05:24:12Z"
            ),
            "{desc}"
        );
    }

    #[test]
    fn client_request_id_becomes_correlation_id_only_when_a_guid() {
        let mut h = HeaderMap::new();
        h.insert(
            "client-request-id",
            "0D1E2F3A-4B5C-4D6E-8F70-8192A3B4C5D6".parse().expect("hv"),
        );
        let ids = RequestIds::from_headers(&h);
        assert_eq!(ids.correlation_id, "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6");
        h.insert("client-request-id", "not-a-guid".parse().expect("hv"));
        let ids = RequestIds::from_headers(&h);
        assert_ne!(ids.correlation_id, "not-a-guid");
        assert_eq!(ids.client_request_id.as_deref(), Some("not-a-guid"));
    }
}
