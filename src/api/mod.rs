//! REST API (axum): the smoker-compatible routes of smoker-compat.md §3 with the
//! same keys, types and status codes (decisions.md D1, D3), plus `/healthz`.
//!
//! Owns HTTP only: it reads the [`Store`](crate::store::Store) and asks the
//! [`Daemon`] to force runs. Errors are JSON.

pub mod auth;
pub mod render;
pub mod runs;
pub mod server;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{MethodRouter, get, post},
};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{daemon::Daemon, store::CheckEntry};

type AppState = Arc<Daemon>;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Serves the API on `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    daemon: Arc<Daemon>,
    access: server::Access,
    stop: watch::Receiver<bool>,
) {
    let app = router(daemon.clone());
    server::serve(listener, daemon, access, app, stop).await;
}

/// All routes, each also with a trailing `/` (except `/`).
pub fn router(daemon: Arc<Daemon>) -> Router {
    let metrics = daemon.metrics.clone();
    let mut app = Router::new().route("/", with_options(get(about), "GET, HEAD, OPTIONS"));
    type MakeRoute = fn() -> MethodRouter<AppState>;
    let routes: [(&str, MakeRoute, &str); 4] = [
        ("/plugins", || get(plugins), "GET, HEAD, OPTIONS"),
        ("/plugins/{name}", || get(plugin), "GET, HEAD, OPTIONS"),
        (
            "/processes",
            || get(processes).post(force),
            "GET, HEAD, OPTIONS, POST",
        ),
        ("/processes/{id}", || get(process), "GET, HEAD, OPTIONS"),
    ];
    for (path, make, allow) in routes {
        app = app
            .route(path, with_options(make(), allow))
            .route(&format!("{path}/"), with_options(make(), allow));
    }
    app.route("/healthz", get(healthz))
        .route("/v2/reload", post(reload))
        .merge(runs::routes())
        .merge(crate::metrics::router(metrics.clone()))
        .fallback(not_found)
        .layer(middleware::map_response(method_not_allowed_json))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            daemon.clone(),
            auth::require,
        ))
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track_api,
        ))
        .with_state(daemon)
}

fn with_options(router: MethodRouter<AppState>, allow: &'static str) -> MethodRouter<AppState> {
    router.options(move || async move { ([(header::ALLOW, allow)], StatusCode::OK) })
}

/// Python-style compact JSON (`", "` and `": "`) plus a newline, as the original emits.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut body = Vec::with_capacity(1024);
    if write_json(&mut body, value).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    body.push(b'\n');
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Appends `value` as Python-style compact JSON.
pub fn write_json(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, PythonFormatter);
    serde::Serialize::serialize(value, &mut ser)
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    json_response(status, &json!({"message": text.into()}))
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

async fn method_not_allowed_json(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut json = message(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.",
    );
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

async fn not_found(request: Request) -> Response {
    if request.method() == Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    message(StatusCode::NOT_FOUND, "Not Found")
}

async fn about(State(daemon): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"about": {"host": daemon.hostname, "title": "Smoker daemon API", "links": [
            {"rel": "plugins", "href": "/plugins", "methods": "GET", "title": "Show details about all plugins"},
            {"rel": "processes", "href": "/processes", "methods": "GET, POST", "title": "Force plugin run"}]}}),
    )
}

/// `{"plugins": {"items": [{"plugin": …}, …]}}` from each plugin's cached JSON; with
/// `forced`, each plugin object also carries `forcedResult` (last key, as the original).
fn plugin_items(entries: impl ExactSizeIterator<Item = Arc<CheckEntry>>, forced: bool) -> Response {
    let mut body = Vec::with_capacity(entries.len() * if forced { 1536 } else { 1024 } + 32);
    body.extend_from_slice(b"{\"plugins\": {\"items\": [");
    for (i, entry) in entries.enumerate() {
        if i > 0 {
            body.extend_from_slice(b", ");
        }
        body.extend_from_slice(b"{\"plugin\": ");
        let plugin = render::plugin_json(&entry);
        match plugin.strip_suffix('}').filter(|_| forced) {
            Some(open) => {
                // A plugin object always has keys: `forcedResult` follows a comma.
                body.extend_from_slice(open.as_bytes());
                body.extend_from_slice(b", \"forcedResult\": ");
                let result = entry
                    .forced_result()
                    .map_or(Value::Null, |r| render::result(&r, false));
                if write_json(&mut body, &result).is_err() {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                body.push(b'}');
            }
            None => body.extend_from_slice(plugin.as_bytes()),
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}}\n");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// GET /plugins: joins each plugin's cached JSON (rendered again only after it changed).
async fn plugins(State(daemon): State<AppState>) -> Response {
    let checks = daemon.store.checks();
    plugin_items(checks.values().cloned(), false)
}

async fn plugin(State(daemon): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(entry) = daemon.store.get(&name) else {
        return message(StatusCode::NOT_FOUND, format!("Plugin {name} not found"));
    };
    let results: Vec<Value> = entry
        .history()
        .iter()
        .map(|r| json!({"result": render::result(r, true)}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"plugin": render::plugin(&entry), "results": results}),
    )
}

async fn processes(State(daemon): State<AppState>) -> Response {
    let list: Vec<Value> = daemon
        .processes()
        .iter()
        .map(|p| json!({"href": format!("processes/{}", p.id), "plugins": p.plugins}))
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

fn async_task(id: u64) -> Response {
    let link = format!("/processes/{id}");
    let body = serde_json::to_string_pretty(&json!({"asyncTask": {"link": {"poll": link}}}))
        .unwrap_or_default();
    let mut response = (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn process(State(daemon): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(process) = daemon.process(id) else {
        return message(StatusCode::NOT_FOUND, format!("Process id {id} not found"));
    };
    let pending = process
        .entries
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .any(|e| e.forced_result().is_none());
    if pending {
        return async_task(id);
    }
    // Entries as they are now: a reload keeps the entry of a kept name, drops removed ones.
    let checks = daemon.store.checks();
    let entries: Vec<Arc<CheckEntry>> = process
        .plugins
        .iter()
        .filter_map(|n| checks.get(n).cloned())
        .collect();
    plugin_items(entries.into_iter(), true)
}

fn bad_force(text: Option<&str>) -> Response {
    let mut body = json!({
        "example_input": {"process": {"plugins": "[STRING] | NULL", "filter": "{STRING : STRING} | NULL"}},
        "note": "filter is optional key : value pair of plugin parameters to filter"
    });
    if let Some(text) = text {
        body["message"] = text.into();
    }
    json_response(StatusCode::BAD_REQUEST, &body)
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

async fn force(State(daemon): State<AppState>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return message(
            StatusCode::BAD_REQUEST,
            "The browser (or proxy) sent a request that this server could not understand.",
        );
    };
    let Some(process) = body
        .as_object()
        .and_then(|b| b.get("process"))
        .filter(|p| truthy(p))
    else {
        return bad_force(None);
    };
    let plugins = process.get("plugins").filter(|p| truthy(p));
    let filter = process.get("filter").filter(|f| truthy(f));
    if plugins.is_none() && filter.is_none() {
        return bad_force(Some("Plugin names or filter have to be set"));
    }
    let checks = daemon.store.checks();
    let mut selected: Vec<Arc<CheckEntry>> = Vec::new();
    // Names may repeat, and a filter may match what the list named: each entry once.
    let mut seen: std::collections::HashSet<*const CheckEntry> = std::collections::HashSet::new();
    if let Some(plugins) = plugins {
        let Some(names) = plugins.as_array() else {
            return bad_force(Some("Element plugins have to be list"));
        };
        for name in names {
            let name = name
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| name.to_string());
            match checks.get(&name) {
                Some(entry) => {
                    if seen.insert(Arc::as_ptr(entry)) {
                        selected.push(entry.clone());
                    }
                }
                None => {
                    return message(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Plugin {name} not found"),
                    );
                }
            }
        }
    }
    if let Some(filter) = filter {
        let Some(filter) = filter.as_object() else {
            return bad_force(Some("Element filter have to be dictionary"));
        };
        for entry in checks.values() {
            let spec = entry.spec();
            let matches = filter
                .iter()
                .all(|(k, v)| spec.parameters.get(k) == Some(v));
            if matches && seen.insert(Arc::as_ptr(entry)) {
                selected.push(entry.clone());
            }
        }
    }
    if selected.is_empty() {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "No plugins found");
    }
    let id = daemon.force(&selected);
    async_task(id)
}

/// `GET /healthz` (D8): 200 when ok, 503 when degraded (stale config, store in memory).
async fn healthz(State(daemon): State<AppState>) -> Response {
    let health = daemon.health();
    let status = if health.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &health.to_json())
}

/// `POST /v2/reload` (D8): 200 with the changes, or 422 with the errors.
async fn reload(State(daemon): State<AppState>) -> Response {
    match daemon.reload().await {
        Ok(report) => json_response(StatusCode::OK, &report.to_json()),
        Err(e) => json_response(StatusCode::UNPROCESSABLE_ENTITY, &e.to_json()),
    }
}
