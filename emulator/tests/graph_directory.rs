//! Microsoft Graph's directory over HTTP: an app's federated credentials (by appId and by object id), service
//! principals and directory objects, Graph's token checks (401, 403, another tenant's 404), the admin route that
//! hands out an `az`-shaped Graph token, a registry replaced at run time, and injected faults.

mod common;

use certless_emulator::{
    DEFAULT_APP_CLIENT_ID, DEFAULT_APP_OBJECT_ID, DEFAULT_APP_SERVICE_PRINCIPAL_ID,
    DEFAULT_FIC_NAME, DEFAULT_OTHER_TENANT_ID, DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID,
    DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID, DEFAULT_TENANT_ID, DEFAULT_USER_ASSIGNED_CLIENT_ID,
    DEFAULT_USER_ASSIGNED_OBJECT_ID, GRAPH_RESOURCE, RunningEmulator, TOKEN_EXCHANGE_AUDIENCE,
    entra_issuer,
};
use common::{client, exchange, json, mi_assertion, start};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const NEW_SYSTEM_ASSIGNED_OBJECT_ID: &str = "7f0c2e4a-9b1d-4e6f-8a3c-5d7e9f1b3a64";

/// `POST /_emulator/graph-token` with `body` (or none); the whole answer.
async fn graph_token_answer(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    body: Option<Value>,
) -> Value {
    let mut request = c.post(format!("{}/_emulator/graph-token", emu.http_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let (status, _, answer) = json(request.send().await.expect("graph-token")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn graph_token(emu: &RunningEmulator, c: &reqwest::Client, body: Option<Value>) -> String {
    graph_token_answer(emu, c, body).await["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_string()
}

async fn graph_get(
    emu: &RunningEmulator,
    c: &reqwest::Client,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = c.get(format!("{}{path}", emu.http_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    json(request.send().await.expect("graph request")).await
}

fn by_app_id(app_id: &str) -> String {
    format!("/v1.0/applications(appId='{app_id}')/federatedIdentityCredentials")
}

fn by_object_id(object_id: &str) -> String {
    format!("/v1.0/applications/{object_id}/federatedIdentityCredentials")
}

fn assert_not_found(status: StatusCode, body: &Value, id: &str) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body,
        &json!({ "error": { "code": "Request_ResourceNotFound", "message": format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ) } })
    );
}

fn assert_unauthorized(status: StatusCode, headers: &HeaderMap, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error"]["code"], "InvalidAuthenticationToken",
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
}

fn assert_forbidden(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body,
        &json!({ "error": { "code": "Authorization_RequestDenied",
                            "message": "Insufficient privileges to complete the operation." } })
    );
}

/// The default app's one credential, as Graph lists it.
fn assert_default_credentials(body: &Value) {
    assert_eq!(
        body["@odata.context"],
        format!(
            "https://graph.microsoft.com/v1.0/$metadata#applications('{DEFAULT_APP_OBJECT_ID}')/federatedIdentityCredentials"
        )
    );
    let value = body["value"].as_array().expect("value");
    assert_eq!(value.len(), 1, "{body}");
    let fic = &value[0];
    assert_eq!(fic["name"], DEFAULT_FIC_NAME);
    assert_eq!(fic["issuer"], entra_issuer(DEFAULT_TENANT_ID));
    assert_eq!(fic["subject"], DEFAULT_USER_ASSIGNED_OBJECT_ID);
    assert_eq!(fic["audiences"], json!([TOKEN_EXCHANGE_AUDIENCE]));
    assert_eq!(fic["description"], Value::Null);
    let id = fic["id"].as_str().expect("id");
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.matches('-').count(), 4, "{id}");
}

async fn put_registry(emu: &RunningEmulator, c: &reqwest::Client, registry: &Value) {
    let (status, _, body) = json(
        c.put(format!("{}/_emulator/registry", emu.http_url()))
            .json(registry)
            .send()
            .await
            .expect("PUT registry"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn get_registry(emu: &RunningEmulator, c: &reqwest::Client) -> Value {
    let (status, _, body) = json(
        c.get(format!("{}/_emulator/registry", emu.http_url()))
            .send()
            .await
            .expect("GET registry"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn lists_the_credentials_by_app_id_and_by_object_id() {
    let emu = start().await;
    let c = client();
    let token = graph_token(&emu, &c, None).await;

    let (status, _, by_app) =
        graph_get(&emu, &c, &by_app_id(DEFAULT_APP_CLIENT_ID), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{by_app}");
    assert_default_credentials(&by_app);

    let (status, _, by_object) =
        graph_get(&emu, &c, &by_object_id(DEFAULT_APP_OBJECT_ID), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{by_object}");
    assert_eq!(by_object, by_app, "the same list, the same ids");

    // An app id is not an object id, and an unknown app is Graph's 404.
    let (status, _, body) =
        graph_get(&emu, &c, &by_object_id(DEFAULT_APP_CLIENT_ID), Some(&token)).await;
    assert_not_found(status, &body, DEFAULT_APP_CLIENT_ID);
    let unknown = "11111111-2222-4333-8444-555555555555";
    let (status, _, body) = graph_get(&emu, &c, &by_app_id(unknown), Some(&token)).await;
    assert_not_found(status, &body, unknown);

    assert_eq!(emu.counters().graph, 4);
    assert!(
        emu.requests()
            .iter()
            .filter(|r| r.path.starts_with("/v1.0/"))
            .all(|r| r
                .headers
                .iter()
                .all(|(name, value)| name != "authorization" || !value.contains(&token))),
        "the token is not recorded"
    );
}

#[tokio::test]
async fn the_list_follows_a_registry_put_at_run_time() {
    let emu = start().await;
    let c = client();
    let token = graph_token(&emu, &c, None).await;
    let mut registry = get_registry(&emu, &c).await;
    registry["apps"][0]["federated_credentials"] = json!([
        { "name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
          "subject": "repo:contoso/app:ref:refs/heads/main", "audiences": [TOKEN_EXCHANGE_AUDIENCE] },
        { "name": "sa-fic", "issuer": entra_issuer(DEFAULT_TENANT_ID),
          "subject": DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID, "audiences": [TOKEN_EXCHANGE_AUDIENCE] },
    ]);
    put_registry(&emu, &c, &registry).await;

    let (status, _, body) =
        graph_get(&emu, &c, &by_app_id(DEFAULT_APP_CLIENT_ID), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["github-main", "sa-fic"]);
    assert_eq!(
        body["value"][1]["subject"],
        DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID
    );
    assert_ne!(body["value"][0]["id"], body["value"][1]["id"]);

    // An app without an object_id gets a derived one, stable across requests.
    let mut registry = get_registry(&emu, &c).await;
    let app = registry["apps"][0].as_object_mut().expect("app");
    app.remove("object_id");
    put_registry(&emu, &c, &registry).await;
    let derived = emu.registry().apps[0].application_object_id();
    assert_ne!(derived, DEFAULT_APP_OBJECT_ID);
    assert_ne!(derived, DEFAULT_APP_SERVICE_PRINCIPAL_ID);
    let (status, _, first) = graph_get(&emu, &c, &by_object_id(&derived), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["@odata.context"],
        format!(
            "https://graph.microsoft.com/v1.0/$metadata#applications('{derived}')/federatedIdentityCredentials"
        )
    );
    let (_, _, again) = graph_get(&emu, &c, &by_app_id(DEFAULT_APP_CLIENT_ID), Some(&token)).await;
    assert_eq!(first, again);
    let (status, _, body) =
        graph_get(&emu, &c, &by_object_id(DEFAULT_APP_OBJECT_ID), Some(&token)).await;
    assert_not_found(status, &body, DEFAULT_APP_OBJECT_ID);
}

#[tokio::test]
async fn graph_refuses_missing_bad_expired_and_foreign_audience_tokens() {
    let emu = start().await;
    let c = client();
    let path = by_app_id(DEFAULT_APP_CLIENT_ID);

    let (status, headers, body) = graph_get(&emu, &c, &path, None).await;
    assert_unauthorized(status, &headers, &body);

    let (status, headers, body) = graph_get(&emu, &c, &path, Some("not-a-jwt")).await;
    assert_unauthorized(status, &headers, &body);

    // A real token of this emulator with its signature changed.
    let token = graph_token(&emu, &c, None).await;
    let tampered = format!("{}AAAA", &token[..token.len() - 4]);
    let (status, headers, body) = graph_get(&emu, &c, &path, Some(&tampered)).await;
    assert_unauthorized(status, &headers, &body);

    let expired = graph_token(&emu, &c, Some(json!({ "expires_in_secs": -60 }))).await;
    let (status, headers, body) = graph_get(&emu, &c, &path, Some(&expired)).await;
    assert_unauthorized(status, &headers, &body);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // A managed-identity token for another resource.
    let (status, mi) = common::imds(
        &emu,
        &c,
        "https://management.azure.com",
        &[("client_id", DEFAULT_USER_ASSIGNED_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mi}");
    let arm = mi["access_token"].as_str().expect("token");
    let (status, headers, body) = graph_get(&emu, &c, &path, Some(arm)).await;
    assert_unauthorized(status, &headers, &body);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("audience"),
        "{body}"
    );

    // A managed-identity token for Graph is accepted as a token, but holds no role.
    let (status, mi) = common::imds(
        &emu,
        &c,
        GRAPH_RESOURCE,
        &[("client_id", DEFAULT_USER_ASSIGNED_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mi}");
    let (status, _, body) = graph_get(&emu, &c, &path, mi["access_token"].as_str()).await;
    assert_forbidden(status, &body);
}

#[tokio::test]
async fn the_admin_route_answers_like_az_account_get_access_token() {
    let emu = start().await;
    let c = client();
    let answer = graph_token_answer(&emu, &c, None).await;
    let keys: Vec<&str> = answer
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "accessToken",
            "expiresOn",
            "expires_on",
            "subscription",
            "tenant",
            "tokenType"
        ]
    );
    assert_eq!(answer["tenant"], DEFAULT_TENANT_ID);
    assert_eq!(answer["tokenType"], "Bearer");
    assert_eq!(answer["subscription"], emu.registry().subscription_id);
    let expires_on = answer["expires_on"].as_i64().expect("expires_on");
    let claims = emu
        .verify_access_token(answer["accessToken"].as_str().expect("token"))
        .expect("an emulator token");
    assert_eq!(claims["exp"].as_i64(), Some(expires_on));
    assert_eq!(expires_on - claims["iat"].as_i64().expect("iat"), 3600);
    assert_eq!(claims["scp"], "Application.Read.All User.Read");
    assert_eq!(claims["aud"], "00000003-0000-0000-c000-000000000000");
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert!(claims.get("roles").is_none(), "{claims}");
    let expires_text = answer["expiresOn"].as_str().expect("expiresOn");
    assert_eq!(
        expires_text.len(),
        "2026-12-07 03:30:00.000000".len(),
        "{expires_text}"
    );
    assert_eq!(&expires_text[10..11], " ");
    assert_eq!(&expires_text[19..20], ".");

    let app_only = graph_token_answer(
        &emu,
        &c,
        Some(json!({ "tenant_id": DEFAULT_OTHER_TENANT_ID, "roles": ["Application.Read.All"], "expires_in_secs": 600 })),
    )
    .await;
    assert_eq!(app_only["tenant"], DEFAULT_OTHER_TENANT_ID);
    let claims = emu
        .verify_access_token(app_only["accessToken"].as_str().expect("token"))
        .expect("an emulator token");
    assert_eq!(claims["roles"], json!(["Application.Read.All"]));
    assert!(claims.get("scp").is_none(), "{claims}");
    assert_eq!(claims["idtyp"], "app");

    let (status, _, body) = json(
        c.post(format!("{}/_emulator/graph-token", emu.http_url()))
            .json(&json!({ "tenant_id": "00000000-0000-0000-0000-000000000001" }))
            .send()
            .await
            .expect("graph-token"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(emu.counters().graph, 0, "admin requests are not counted");
}

#[tokio::test]
async fn permissions_decide_between_403_and_200() {
    let emu = start().await;
    let c = client();
    let path = by_app_id(DEFAULT_APP_CLIENT_ID);

    // A user token without any scope, and an app token with a role that does not read applications.
    let no_scope = graph_token(&emu, &c, Some(json!({ "scp": "" }))).await;
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&no_scope)).await;
    assert_forbidden(status, &body);
    let user_read_all = graph_token(&emu, &c, Some(json!({ "roles": ["User.Read.All"] }))).await;
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&user_read_all)).await;
    assert_forbidden(status, &body);

    // The default app holds User.Read.All on Graph: its app-only token from Entra is refused.
    let assertion = mi_assertion(&emu, &c).await;
    let (status, _, tokens) =
        exchange(&emu, &c, &assertion, &format!("{GRAPH_RESOURCE}/.default")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, _, body) = graph_get(&emu, &c, &path, tokens["access_token"].as_str()).await;
    assert_forbidden(status, &body);

    // Granted Application.Read.All (app_roles keyed by the resource), its next token reads the list.
    emu.update_registry(|r| {
        r.apps[0]
            .app_roles
            .insert(GRAPH_RESOURCE.into(), vec!["Application.Read.All".into()]);
    });
    let (status, _, tokens) =
        exchange(&emu, &c, &assertion, &format!("{GRAPH_RESOURCE}/.default")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, _, body) = graph_get(&emu, &c, &path, tokens["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_default_credentials(&body);

    // Every read role, and a delegated token with any scope.
    for role in [
        "Application.ReadWrite.OwnedBy",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
        "Application.ReadWrite.All",
    ] {
        let token = graph_token(&emu, &c, Some(json!({ "roles": [role] }))).await;
        let (status, _, body) = graph_get(&emu, &c, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
    }
    let user = graph_token(&emu, &c, Some(json!({ "scp": "User.Read" }))).await;
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&user)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_token_of_another_tenant_finds_nothing() {
    let emu = start().await;
    let c = client();
    let other = graph_token(
        &emu,
        &c,
        Some(json!({ "tenant_id": DEFAULT_OTHER_TENANT_ID })),
    )
    .await;
    let (status, _, body) =
        graph_get(&emu, &c, &by_app_id(DEFAULT_APP_CLIENT_ID), Some(&other)).await;
    assert_not_found(status, &body, DEFAULT_APP_CLIENT_ID);
    let (status, _, body) =
        graph_get(&emu, &c, &by_object_id(DEFAULT_APP_OBJECT_ID), Some(&other)).await;
    assert_not_found(status, &body, DEFAULT_APP_OBJECT_ID);
    let path = format!("/v1.0/servicePrincipals/{DEFAULT_USER_ASSIGNED_OBJECT_ID}");
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&other)).await;
    assert_not_found(status, &body, DEFAULT_USER_ASSIGNED_OBJECT_ID);

    let home = graph_token(&emu, &c, None).await;
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&home)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn service_principals_resolve_the_current_identities_and_apps() {
    let emu = start().await;
    let c = client();
    let token = graph_token(&emu, &c, None).await;

    let (status, _, ua) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/servicePrincipals/{DEFAULT_USER_ASSIGNED_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ua}");
    assert_eq!(
        ua["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"
    );
    assert_eq!(ua["id"], DEFAULT_USER_ASSIGNED_OBJECT_ID);
    assert_eq!(ua["appId"], DEFAULT_USER_ASSIGNED_CLIENT_ID);
    assert_eq!(ua["servicePrincipalType"], "ManagedIdentity");
    assert_eq!(ua["displayName"], "certless-demo-mi");
    assert_eq!(ua["alternativeNames"][0], "isExplicit=True");
    assert_eq!(
        ua["alternativeNames"][1],
        emu.default_user_assigned().resource_id
    );

    let (status, _, sa) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/servicePrincipals/{DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sa}");
    assert_eq!(sa["appId"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
    assert_eq!(sa["servicePrincipalType"], "ManagedIdentity");
    assert_eq!(sa["alternativeNames"][0], "isExplicit=False");
    assert_eq!(
        sa["alternativeNames"][1],
        emu.system_assigned().expect("system-assigned").resource_id
    );

    let (status, _, app) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/servicePrincipals/{DEFAULT_APP_SERVICE_PRINCIPAL_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["appId"], DEFAULT_APP_CLIENT_ID);
    assert_eq!(app["servicePrincipalType"], "Application");

    // The application object is a directory object, not a service principal.
    let (status, _, body) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/servicePrincipals/{DEFAULT_APP_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_not_found(status, &body, DEFAULT_APP_OBJECT_ID);
    let (status, _, object) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/directoryObjects/{DEFAULT_APP_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{object}");
    assert_eq!(object["@odata.type"], "#microsoft.graph.application");
    assert_eq!(object["appId"], DEFAULT_APP_CLIENT_ID);

    let (status, _, object) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/directoryObjects/{DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{object}");
    assert_eq!(
        object["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity"
    );
    assert_eq!(object["@odata.type"], "#microsoft.graph.servicePrincipal");
    assert_eq!(object["servicePrincipalType"], "ManagedIdentity");
    assert_eq!(object["appId"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
}

#[tokio::test]
async fn a_recreated_system_assigned_identity_leaves_its_old_object_id_dangling() {
    let emu = start().await;
    let c = client();
    let token = graph_token(&emu, &c, None).await;
    let old = format!("/v1.0/servicePrincipals/{DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID}");
    let (status, _, body) = graph_get(&emu, &c, &old, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut registry = get_registry(&emu, &c).await;
    registry["system_assigned"]["object_id"] = json!(NEW_SYSTEM_ASSIGNED_OBJECT_ID);
    put_registry(&emu, &c, &registry).await;

    let (status, _, body) = graph_get(&emu, &c, &old, Some(&token)).await;
    assert_not_found(status, &body, DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID);
    let (status, _, body) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/directoryObjects/{DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_not_found(status, &body, DEFAULT_SYSTEM_ASSIGNED_OBJECT_ID);
    let (status, _, body) = graph_get(
        &emu,
        &c,
        &format!("/v1.0/servicePrincipals/{NEW_SYSTEM_ASSIGNED_OBJECT_ID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["appId"], DEFAULT_SYSTEM_ASSIGNED_CLIENT_ID);
}

#[tokio::test]
async fn injected_faults_apply_to_the_directory_routes() {
    let emu = start().await;
    let c = client();
    let token = graph_token(&emu, &c, None).await;
    let (status, _, body) = json(
        c.post(format!("{}/_emulator/faults", emu.http_url()))
            .json(&json!({ "endpoint": "graph", "status": 503, "retry_after": 7, "remaining": 1 }))
            .send()
            .await
            .expect("set fault"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let path = format!("/v1.0/servicePrincipals/{DEFAULT_USER_ASSIGNED_OBJECT_ID}");
    let (status, headers, body) = graph_get(&emu, &c, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_eq!(body["error"]["code"], "generalException");
    let (status, _, body) = graph_get(&emu, &c, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let recorded: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect();
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0].fault_applied);
    assert_eq!(recorded[0].status, Some(503));
    assert!(!recorded[1].fault_applied);
    assert_eq!(emu.counters().graph, 2);
}
