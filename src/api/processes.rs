//! `GET /processes`, `GET /processes/{id}` and `POST /processes` (smoker-compat.md
//! §3): forced runs, selected by name or by a parameter filter, polled by id.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    context::AppState,
    plugins::plugin_items,
    reply::{json_response, message},
};
use crate::store::CheckEntry;

pub async fn processes(State(ctx): State<AppState>) -> Response {
    let list: Vec<Value> = ctx
        .runs
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

pub async fn process(State(ctx): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(process) = ctx.runs.process(id) else {
        return message(StatusCode::NOT_FOUND, format!("Process id {id} not found"));
    };
    if process.pending() {
        return async_task(id);
    }
    // Entries as they are now: a reload keeps the entry of a kept name, drops removed ones.
    let checks = ctx.store.checks();
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

pub async fn force(State(ctx): State<AppState>, body: Bytes) -> Response {
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
    let checks = ctx.store.checks();
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
                .all(|(k, v)| spec.parameters.get(k).is_some_and(|p| p == v));
            if matches && seen.insert(Arc::as_ptr(entry)) {
                selected.push(entry.clone());
            }
        }
    }
    if selected.is_empty() {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "No plugins found");
    }
    let id = ctx.runs.force(&selected);
    async_task(id)
}
