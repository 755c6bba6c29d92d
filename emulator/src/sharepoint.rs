//! A SharePoint Online stand-in: the REST calls a Web API makes to read and add list items, behind the
//! authorization SharePoint applies to app-only tokens (docs/protocol.md, "SharePoint: Sites.Selected and claims
//! challenges").
//!
//! A site lives at `{http_url}/sharepoint/{host}/sites/{name}`, so that `{site}/_api/web/lists/getbytitle('Orders')/items`
//! is the URL a client builds. Every list exists, with three items the first time it is read.
//!
//! A request is refused, in this order:
//! 1. no bearer token, a signature that does not verify, an expired token, a token of another tenant, or an
//!    audience other than `https://{host}`: 401 with SharePoint's `WWW-Authenticate: Bearer realm="{tenant}",
//!    client_id="00000003-0000-0ff1-ce00-000000000000",...`;
//! 2. a token obtained with a client secret (`appidacr` 1): 401 "Unsupported app only token.";
//! 3. a token Continuous Access Evaluation revoked (`POST /_emulator/sharepoint/revoke`): 401 with a claims
//!    challenge (`error="insufficient_claims"`, `claims` = base64 of `{"access_token":{"nbf":{...}}}`);
//! 4. roles that do not allow the operation: `Sites.Read.All` reads, `Sites.ReadWrite.All`, `Sites.Manage.All` and
//!    `Sites.FullControl.All` read and write; `Sites.Selected` needs a grant on the site (`site_access` module) of
//!    role `read` (GET) or `write` (POST) or more. Otherwise 403 with SharePoint's access-denied error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::site_access::{SiteRole, site_key};
use crate::state::{Shared, lock};
use crate::wire::{bearer_token, header_str, json_response, set_header};

/// The site [`EmulatorInfo`](crate::EmulatorInfo) names: `{host}/sites/{name}` of the built-in
/// SharePoint resource.
pub(crate) const DEFAULT_SITE: &str = "contoso.sharepoint.com/sites/crm";

/// SharePoint Online's first-party application id, which its challenges name as `client_id`.
pub const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";

/// The lists of every site, made on first use.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    lists: Mutex<BTreeMap<(String, String), List>>,
}

#[derive(Debug)]
struct List {
    title: String,
    items: Vec<Map<String, Value>>,
}

impl List {
    fn seeded(title: &str) -> Self {
        let items = (1..=3)
            .map(|id| item(id, &format!("{title} {}", 1000 + id)))
            .collect();
        List {
            title: title.to_string(),
            items,
        }
    }
}

fn item(id: u64, title: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Id".into(), json!(id));
    m.insert("Title".into(), json!(title));
    m.insert("ID".into(), json!(id));
    m.insert("GUID".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("Created".into(), json!("2026-11-02T09:30:00Z"));
    m.insert("Modified".into(), json!("2026-11-02T09:30:00Z"));
    m
}

impl Shared {
    /// `{http_url}/sharepoint/{host}/sites/{name}` for `{host}/sites/{name}`.
    pub(crate) fn sharepoint_site_url(&self, site: &str) -> String {
        format!("{}/sharepoint/{}", self.http_url(), site_key(site))
    }
}

/// The path of a REST call: the site, and what follows `/_api/`.
#[derive(Deserialize)]
pub(crate) struct ApiPath {
    host: String,
    site: String,
    rest: String,
}

/// What a REST call asks for.
enum Call {
    Web,
    Items { list: String, id: Option<u64> },
}

/// `web`, `web/lists/getbytitle('T')/items` or `.../items(N)`; the path arrives percent-decoded.
fn parse_call(rest: &str) -> Option<Call> {
    let rest = rest.trim_end_matches('/');
    if rest.eq_ignore_ascii_case("web") {
        return Some(Call::Web);
    }
    let (head, tail) = rest.split_at_checked("web/lists/getbytitle('".len())?;
    if !head.eq_ignore_ascii_case("web/lists/getbytitle('") {
        return None;
    }
    // The title ends at the first quote not doubled (OData doubles quotes inside a literal).
    let mut title = String::new();
    let mut chars = tail.char_indices().peekable();
    let after = loop {
        let (i, c) = chars.next()?;
        if c == '\'' {
            if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
                title.push('\'');
                continue;
            }
            break &tail[i + 1..];
        }
        title.push(c);
    };
    let after = after.strip_prefix(")/")?;
    let id = if after.eq_ignore_ascii_case("items") {
        None
    } else {
        let (word, number) = after.split_at_checked("items(".len())?;
        if !word.eq_ignore_ascii_case("items(") {
            return None;
        }
        Some(number.strip_suffix(')')?.parse().ok()?)
    };
    Some(Call::Items { list: title, id })
}

/// SharePoint's error JSON.
fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body =
        json!({ "error": { "code": code, "message": { "lang": "en-US", "value": message } } });
    json_response(status, body.to_string())
}

const ACCESS_DENIED_CODE: &str = "-2147024891, System.UnauthorizedAccessException";
const ACCESS_DENIED: &str =
    "Access denied. You do not have permission to perform this action or access this resource.";

fn access_denied() -> Response {
    sp_error(StatusCode::FORBIDDEN, ACCESS_DENIED_CODE, ACCESS_DENIED)
}

/// An injected fault's answer, in SharePoint's shape.
pub(crate) fn fault_response(status: StatusCode) -> Response {
    let mut response = sp_error(
        status,
        "-2146232060, Microsoft.SharePoint.SPException",
        "Injected by the certless emulator.",
    );
    if status == StatusCode::UNAUTHORIZED {
        set_header(&mut response, "www-authenticate", &bearer_challenge(""));
    }
    response
}

/// The challenge SharePoint sends with a missing or unusable token.
fn bearer_challenge(tenant: &str) -> String {
    format!(
        "Bearer realm=\"{tenant}\",client_id=\"{SHAREPOINT_APP_ID}\",trusted_issuers=\"00000001-0000-0000-c000-\
         000000000000@*,https://sts.windows.net/*/,https://login.microsoftonline.com/*/v2.0\",\
         authorization_uri=\"https://login.windows.net/common/oauth2/authorize\""
    )
}

/// 401 for a token SharePoint will not take: `{"error_description": ...}` and the bearer challenge.
fn unauthorized(tenant: &str, description: &str) -> Response {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        json!({ "error_description": description }).to_string(),
    );
    set_header(&mut response, "www-authenticate", &bearer_challenge(tenant));
    response
}

/// 401 with a Continuous Access Evaluation claims challenge: a token issued after `revoked_at` is needed.
fn claims_challenge(revoked_at: i64) -> Response {
    let claims = json!({ "access_token": { "nbf": { "essential": true, "value": revoked_at.to_string() } } });
    let mut response = sp_error(
        StatusCode::UNAUTHORIZED,
        ACCESS_DENIED_CODE,
        "Continuous access evaluation resulted in a claims challenge: the token was revoked.",
    );
    set_header(
        &mut response,
        "www-authenticate",
        &format!(
            "Bearer realm=\"\",authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\",\
             client_id=\"{SHAREPOINT_APP_ID}\",error=\"insufficient_claims\",claims=\"{}\"",
            STANDARD.encode(claims.to_string())
        ),
    );
    response
}

/// The token's claims, if SharePoint at `host` takes it (steps 1 to 3 of the module documentation).
fn authenticate(
    shared: &Shared,
    host: &str,
    headers: &HeaderMap,
) -> Result<Map<String, Value>, Box<Response>> {
    let tenant = shared.registry().tenant_id;
    let refuse = |description: &str| Box::new(unauthorized(&tenant, description));
    let Some(token) = bearer_token(headers) else {
        let mut response = sp_error(StatusCode::UNAUTHORIZED, ACCESS_DENIED_CODE, ACCESS_DENIED);
        set_header(
            &mut response,
            "www-authenticate",
            &bearer_challenge(&tenant),
        );
        return Err(Box::new(response));
    };
    let claims = shared
        .key
        .verify_signature(token)
        .map_err(|_| refuse("Invalid issuer or signature."))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let now = shared.clock.now();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now)
    {
        return Err(refuse("Invalid JWT token. The token is expired."));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now)
    {
        return Err(refuse("Invalid JWT token. The token is not yet valid."));
    }
    if !text("tid").eq_ignore_ascii_case(&tenant) {
        return Err(refuse("Invalid issuer or signature."));
    }
    let aud = text("aud");
    let principal = format!("{SHAREPOINT_APP_ID}/{host}@{tenant}");
    if !(aud
        .trim_end_matches('/')
        .eq_ignore_ascii_case(&format!("https://{host}"))
        || aud.eq_ignore_ascii_case(&principal))
    {
        return Err(refuse(&format!("Invalid audience Uri '{aud}'.")));
    }
    if text("appidacr") == "1" {
        return Err(refuse("Unsupported app only token."));
    }
    let iat = claims.get("iat").and_then(Value::as_i64);
    let uti = claims.get("uti").and_then(Value::as_str);
    if let Err(revoked_at) = shared.site_access.check_token(uti, iat) {
        return Err(Box::new(claims_challenge(revoked_at)));
    }
    Ok(claims)
}

/// Whether the token's roles, and for `Sites.Selected` the app's grant on the site, allow `needed`.
fn allowed(shared: &Shared, site: &str, claims: &Map<String, Value>, needed: SiteRole) -> bool {
    let roles: Vec<&str> = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let has = |role: &str| roles.iter().any(|r| r.eq_ignore_ascii_case(role));
    if [
        "Sites.FullControl.All",
        "Sites.Manage.All",
        "Sites.ReadWrite.All",
    ]
    .iter()
    .any(|r| has(r))
    {
        return true;
    }
    if has("Sites.Read.All") && needed == SiteRole::Read {
        return true;
    }
    if !has("Sites.Selected") {
        return false;
    }
    let app = claims
        .get("appid")
        .or_else(|| claims.get("azp"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    shared
        .site_access
        .role_of(site, app)
        .is_some_and(|role| role >= needed)
}

/// Whether the caller asked for `odata=verbose` (`{"d":...}`) rather than the light JSON (`{"value":[...]}`).
fn verbose(headers: &HeaderMap) -> bool {
    header_str(headers, "accept").is_some_and(|a| a.to_ascii_lowercase().contains("odata=verbose"))
}

fn odata(status: StatusCode, headers: &HeaderMap, body: Value) -> Response {
    let mut response = json_response(status, body.to_string());
    let flavour = if verbose(headers) {
        "verbose"
    } else {
        "nometadata"
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "application/json;odata={flavour};streaming=true;charset=utf-8"
    )) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// Any request under `/sharepoint/{host}/sites/{site}/_api/`.
pub(crate) async fn api(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<ApiPath>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = serve(&shared, &path, &method, &headers, &body);
    set_header(&mut response, "sprequestguid", &request_id);
    set_header(&mut response, "request-id", &request_id);
    response
}

fn serve(
    shared: &Shared,
    path: &ApiPath,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let host = path.host.to_ascii_lowercase();
    let site = site_key(&format!("{host}/sites/{}", path.site));
    shared.site_access.remember_site(&site);
    let claims = match authenticate(shared, &host, headers) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let Some(call) = parse_call(&path.rest) else {
        return sp_error(
            StatusCode::NOT_FOUND,
            "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
            &format!(
                "The certless SharePoint stand-in has no endpoint '_api/{}'.",
                path.rest
            ),
        );
    };
    let needed = match *method {
        Method::GET => SiteRole::Read,
        Method::POST => SiteRole::Write,
        _ => {
            return sp_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                "The HTTP method is not supported here.",
            );
        }
    };
    if !allowed(shared, &site, &claims, needed) {
        return access_denied();
    }
    match (call, needed) {
        (Call::Web, SiteRole::Read) => {
            let web = json!({ "Title": path.site, "Url": format!("https://{site}"), "ServerRelativeUrl": format!("/sites/{}", path.site) });
            let body = if verbose(headers) {
                json!({ "d": web })
            } else {
                web
            };
            odata(StatusCode::OK, headers, body)
        }
        (Call::Items { list, id }, needed) => {
            let mut lists = lock(&shared.sharepoint_lists.lists);
            let entry = lists
                .entry((site.clone(), list.to_lowercase()))
                .or_insert_with(|| List::seeded(&list));
            if needed == SiteRole::Write {
                add_item(entry, headers, body)
            } else {
                read_items(entry, id, headers)
            }
        }
        _ => sp_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
            "The HTTP method is not supported here.",
        ),
    }
}

fn with_metadata(list: &List, item: &Map<String, Value>) -> Value {
    let mut item = item.clone();
    let kind = list.title.replace(' ', "_x0020_");
    item.insert(
        "__metadata".into(),
        json!({ "type": format!("SP.Data.{kind}ListItem") }),
    );
    Value::Object(item)
}

fn read_items(list: &List, id: Option<u64>, headers: &HeaderMap) -> Response {
    let verbose = verbose(headers);
    let shown = |item: &Map<String, Value>| {
        if verbose {
            with_metadata(list, item)
        } else {
            Value::Object(item.clone())
        }
    };
    match id {
        None => {
            let items: Vec<Value> = list.items.iter().map(shown).collect();
            let body = if verbose {
                json!({ "d": { "results": items } })
            } else {
                json!({ "value": items })
            };
            odata(StatusCode::OK, headers, body)
        }
        Some(id) => match list.items.iter().find(|i| i.get("Id") == Some(&json!(id))) {
            Some(item) => {
                let body = if verbose {
                    json!({ "d": shown(item) })
                } else {
                    shown(item)
                };
                odata(StatusCode::OK, headers, body)
            }
            None => sp_error(
                StatusCode::NOT_FOUND,
                "-2147024809, System.ArgumentException",
                "Item does not exist. It may have been deleted by another user.",
            ),
        },
    }
}

fn add_item(list: &mut List, headers: &HeaderMap, body: &Bytes) -> Response {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
            "Invalid JSON. The request body is not a JSON object of the item's fields.",
        );
    };
    fields.remove("__metadata");
    let id = list
        .items
        .iter()
        .filter_map(|i| i.get("Id").and_then(Value::as_u64))
        .max()
        .unwrap_or(0)
        + 1;
    let mut new = item(id, "");
    new.extend(fields);
    new.insert("Id".into(), json!(id));
    new.insert("ID".into(), json!(id));
    list.items.push(new.clone());
    let body = if verbose(headers) {
        json!({ "d": with_metadata(list, &new) })
    } else {
        Value::Object(new)
    };
    odata(StatusCode::CREATED, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_calls_a_client_builds() {
        assert!(matches!(parse_call("web"), Some(Call::Web)));
        match parse_call("web/lists/GetByTitle('Orders')/items") {
            Some(Call::Items { list, id: None }) => assert_eq!(list, "Orders"),
            _ => panic!("items"),
        }
        match parse_call("web/lists/getbytitle('It''s mine')/items(2)") {
            Some(Call::Items { list, id: Some(2) }) => assert_eq!(list, "It's mine"),
            _ => panic!("item"),
        }
        for bad in [
            "",
            "web/lists",
            "web/lists/getbytitle('Orders')",
            "web/lists/getbytitle('Orders/items",
            "web/lists/getbytitle('Orders')/items(x)",
            "web/lists/getbytitle('Orders')/fields",
        ] {
            assert!(parse_call(bad).is_none(), "{bad}");
        }
    }
}
