//! The routes, and the observation layer around every emulated endpoint: count, record (redacted), apply faults.
//! The admin surface (`/_emulator/`) sits outside that layer, so driving the emulator never shows up in what it
//! observed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use futures_util::StreamExt;
use futures_util::stream;

use crate::faults;
use crate::server::ConnInfo;
use crate::state::{Endpoint, RecordedRequest, Shared, redact_field, redact_header};
use crate::wire::{form_pairs, is_form, query_pairs, set_header};
use crate::{
    admin, app_service, arc, cloud_shell, discovery, entra, graph_directory, imds, imds_metadata,
    key_vault, service_fabric, sharepoint, site_access,
};

/// Bodies larger than this are refused (413): token requests are a few KB.
const MAX_BODY: usize = 1024 * 1024;

pub(crate) fn build(shared: Arc<Shared>) -> Router {
    let observed =
        |endpoint: Endpoint, path: &str, route: axum::routing::MethodRouter<Arc<Shared>>| {
            Router::new()
                .route(path, route)
                .route_layer(middleware::from_fn_with_state(
                    (shared.clone(), endpoint),
                    observe,
                ))
        };
    // Every IMDS answer, injected faults included, carries IMDS's `Server` header.
    let imds = |endpoint: Endpoint, path: &str, route: axum::routing::MethodRouter<Arc<Shared>>| {
        observed(endpoint, path, route).layer(middleware::from_fn_with_state(
            shared.clone(),
            imds_metadata::server_header,
        ))
    };
    Router::new()
        .merge(imds(
            Endpoint::Imds,
            "/metadata/identity/oauth2/token",
            get(imds::token),
        ))
        // MSAL asks for the same path with a trailing slash; the real IMDS answers both.
        .merge(imds(
            Endpoint::Imds,
            "/metadata/identity/oauth2/token/",
            get(imds::token),
        ))
        .merge(imds(
            Endpoint::ImdsMetadata,
            "/metadata/versions",
            get(imds_metadata::versions),
        ))
        .merge(imds(
            Endpoint::ImdsMetadata,
            "/metadata/identity/getPlatformMetadata",
            get(imds_metadata::platform_metadata),
        ))
        .merge(imds(
            Endpoint::ImdsMetadata,
            "/metadata/identity/getplatformmetadata",
            get(imds_metadata::platform_metadata),
        ))
        .merge(observed(
            Endpoint::AppService,
            "/msi/token",
            get(app_service::token),
        ))
        .merge(observed(
            Endpoint::AzureArc,
            "/arc/metadata/identity/oauth2/token",
            get(arc::token),
        ))
        .merge(observed(
            Endpoint::ServiceFabric,
            "/servicefabric/metadata/identity/oauth2/token",
            get(service_fabric::token),
        ))
        .merge(observed(
            Endpoint::CloudShell,
            "/oauth2/token",
            axum::routing::post(cloud_shell::token),
        ))
        .merge(observed(
            Endpoint::EntraToken,
            "/{tenant}/oauth2/v2.0/token",
            any(entra::token),
        ))
        .merge(observed(
            Endpoint::OpenidMetadata,
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        ))
        .merge(observed(
            Endpoint::Jwks,
            "/{tenant}/discovery/v2.0/keys",
            get(discovery::keys),
        ))
        .merge(observed(
            Endpoint::InstanceDiscovery,
            "/common/discovery/instance",
            get(discovery::instance),
        ))
        .merge(observed(
            Endpoint::KeyVault,
            "/keyvault/{vault}/certificates/{name}",
            get(key_vault::certificate),
        ))
        .merge(observed(
            Endpoint::KeyVault,
            "/keyvault/{vault}/certificates/{name}/{version}",
            get(key_vault::certificate),
        ))
        .merge(observed(
            Endpoint::KeyVault,
            "/keyvault/{vault}/secrets/{name}",
            get(key_vault::secret),
        ))
        .merge(observed(
            Endpoint::KeyVault,
            "/keyvault/{vault}/secrets/{name}/{version}",
            get(key_vault::secret),
        ))
        .merge(observed(
            Endpoint::SharePoint,
            "/sharepoint/{host}/sites/{site}/_api/{*rest}",
            any(sharepoint::api),
        ))
        .merge(observed(
            Endpoint::Graph,
            "/v1.0/sites/{*rest}",
            any(site_access::graph_sites),
        ))
        .merge(observed(
            Endpoint::Graph,
            "/v1.0/applications/{object_id}/federatedIdentityCredentials",
            get(graph_directory::credentials_by_object_id),
        ))
        // `applications(appId='..')` is one path segment.
        .merge(observed(
            Endpoint::Graph,
            "/v1.0/{reference}/federatedIdentityCredentials",
            get(graph_directory::credentials_by_reference),
        ))
        .merge(observed(
            Endpoint::Graph,
            "/v1.0/servicePrincipals/{id}",
            get(graph_directory::service_principal_by_id),
        ))
        .merge(observed(
            Endpoint::Graph,
            "/v1.0/directoryObjects/{id}",
            get(graph_directory::directory_object_by_id),
        ))
        .nest("/_emulator", admin::router())
        .fallback(unmatched)
        .layer(middleware::from_fn_with_state(shared.clone(), date_header))
        .with_state(shared)
}

/// `Date` from the emulator's clock, so clock-skew tests see the skew on the wire too.
async fn date_header(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    set_header(
        &mut response,
        "date",
        &crate::clock::http_date(shared.clock.now()),
    );
    response
}

async fn observe(
    State((shared, endpoint)): State<(Arc<Shared>, Endpoint)>,
    req: Request,
    next: Next,
) -> Response {
    shared.count(Some(endpoint));
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        let mut record = draft(&shared, Some(endpoint), &parts, &Bytes::new());
        record.status = Some(StatusCode::PAYLOAD_TOO_LARGE.as_u16());
        shared.journal.push(record);
        return status_only(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let mut record = draft(&shared, Some(endpoint), &parts, &bytes);

    let mut fault = shared.faults.take(endpoint);
    if let Some(f) = fault.as_mut() {
        if f.body == Some(faults::FaultBody::EchoCredentials) {
            let echoed = faults::echo_credentials(&parts.headers, &bytes);
            f.body = Some(faults::FaultBody::Custom(echoed));
        }
    }
    if let Some(f) = &fault {
        record.fault_applied = true;
        log::info!("emulator: applying injected fault to {endpoint:?}");
        if let Some(delay) = f.delay {
            tokio::time::sleep(delay).await;
        }
        if f.drop_connection {
            shared.journal.push(record);
            return drop_connection(&parts).await;
        }
    }

    let conn = parts.extensions.get::<ConnInfo>().cloned();
    let response = match fault.as_ref().and_then(|f| f.status) {
        Some(status) => fault_response(&shared, endpoint, status, &parts.headers),
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    let response = match &fault {
        Some(f) => faults::shape_response(response, f),
        None => response,
    };
    let response = match &fault {
        Some(f) if f.bom => with_bom(response).await,
        _ => response,
    };
    record.status = Some(response.status().as_u16());
    shared.journal.push(record);
    match conn {
        Some(conn) if fault.as_ref().is_some_and(|f| f.reset_mid_body) => {
            reset_mid_body(response, conn).await
        }
        Some(conn) if fault.as_ref().is_some_and(|f| f.tls_close_without_notify) => {
            close_without_notify(response, conn).await
        }
        _ => response,
    }
}

/// The response with a UTF-8 byte order mark before its body.
async fn with_bom(response: Response) -> Response {
    let (mut head, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let mut with = b"\xEF\xBB\xBF".to_vec();
    with.extend_from_slice(&bytes);
    head.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(head, Body::from(with))
}

/// Closes the request's connection without an answer: the connection task drops this future with the socket.
async fn drop_connection(parts: &Parts) -> Response {
    match parts.extensions.get::<ConnInfo>() {
        Some(conn) => {
            conn.kill.notify_one();
            std::future::pending::<Response>().await
        }
        None => status_only(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// How long the first half of the body has to reach the client before the reset.
const RESET_PAUSE: Duration = Duration::from_millis(50);

/// Sends the response's head (with the full `Content-Length`) and half its body, then resets the connection.
async fn reset_mid_body(response: Response, conn: ConnInfo) -> Response {
    let (mut head, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    head.headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let first_half = bytes.slice(..bytes.len() / 2);
    let reset = async move {
        // The pause lets hyper flush the first half (it flushes once the body has nothing ready).
        tokio::time::sleep(RESET_PAUSE).await;
        conn.reset_now();
        std::future::pending::<Result<Bytes, Infallible>>().await
    };
    let body = stream::once(std::future::ready(Ok(first_half))).chain(stream::once(reset));
    Response::from_parts(head, Body::from_stream(body))
}

/// Sends the whole answer with no `Content-Length` and `Connection: close`, then ends the connection by dropping
/// it: over TLS, without `close_notify`.
async fn close_without_notify(response: Response, conn: ConnInfo) -> Response {
    let (mut head, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    head.headers.remove(header::CONTENT_LENGTH);
    head.headers
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    let close = async move {
        // The pause lets hyper flush the body before the connection goes.
        tokio::time::sleep(RESET_PAUSE).await;
        conn.kill.notify_one();
        std::future::pending::<Result<Bytes, Infallible>>().await
    };
    let body = stream::once(std::future::ready(Ok(bytes))).chain(stream::once(close));
    Response::from_parts(head, Body::from_stream(body))
}

fn fault_response(
    shared: &Shared,
    endpoint: Endpoint,
    status: u16,
    headers: &HeaderMap,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let now = shared.clock.now();
    match endpoint {
        Endpoint::Imds | Endpoint::ImdsMetadata | Endpoint::CloudShell | Endpoint::AzureArc => {
            imds::fault_response(status)
        }
        Endpoint::AppService => app_service::fault_response(status),
        Endpoint::ServiceFabric => service_fabric::fault_response(status),
        Endpoint::EntraToken => entra::fault_response(status, headers, now),
        Endpoint::OpenidMetadata | Endpoint::Jwks | Endpoint::InstanceDiscovery => {
            discovery::fault_response(status, headers, now)
        }
        Endpoint::KeyVault => key_vault::fault_response(status),
        Endpoint::SharePoint => sharepoint::fault_response(status),
        Endpoint::Graph => site_access::graph_fault_response(status),
    }
}

fn status_only(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// What the journal keeps of a request: everything but credentials.
fn draft(
    shared: &Shared,
    endpoint: Option<Endpoint>,
    parts: &Parts,
    body: &Bytes,
) -> RecordedRequest {
    let redact = |pairs: Vec<(String, String)>| {
        pairs
            .into_iter()
            .map(|(k, v)| {
                let v = redact_field(&k, &v);
                (k, v)
            })
            .collect()
    };
    RecordedRequest {
        endpoint,
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: redact(query_pairs(&parts.uri)),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let text = String::from_utf8_lossy(value.as_bytes());
                (
                    name.as_str().to_string(),
                    redact_header(name.as_str(), &text),
                )
            })
            .collect(),
        form: if is_form(&parts.headers) {
            redact(form_pairs(body))
        } else {
            Vec::new()
        },
        status: None,
        fault_applied: false,
        received_at: shared.clock.now(),
    }
}

/// No route: 404, counted and recorded so a client calling a wrong path is visible.
async fn unmatched(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    shared.count(None);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let mut record = draft(&shared, None, &parts, &bytes);
    log::info!(
        "emulator: no endpoint at {} {}",
        parts.method,
        parts.uri.path()
    );
    let response = imds::error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!(
            "The certless emulator has no endpoint at {} {}",
            parts.method,
            parts.uri.path()
        ),
    );
    record.status = Some(response.status().as_u16());
    shared.journal.push(record);
    response
}
