//! `GET /`, `GET /plugins` and `GET /plugins/{name}` (smoker-compat.md §3): each
//! plugin's cached JSON joined into the original's shapes.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    context::AppState,
    reply::{json_response, message},
};
use crate::{
    body::Answer,
    render::{self, write_json},
    store::CheckEntry,
};

pub async fn about(State(ctx): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"about": {"host": &*ctx.hostname, "title": "Smoker daemon API", "links": [
            {"rel": "plugins", "href": "/plugins", "methods": "GET", "title": "Show details about all plugins"},
            {"rel": "processes", "href": "/processes", "methods": "GET, POST", "title": "Force plugin run"}]}}),
    )
}

/// `{"plugins": {"items": [{"plugin": …}, …]}}` from each plugin's cached JSON; with
/// `forced`, each plugin object also carries `forcedResult` (last key, as the original).
pub fn plugin_items(
    entries: impl ExactSizeIterator<Item = Arc<CheckEntry>>,
    forced: bool,
) -> Response {
    let mut body = Answer::new();
    body.extend(b"{\"plugins\": {\"items\": [");
    for (i, entry) in entries.enumerate() {
        if i > 0 {
            body.extend(b", ");
        }
        body.extend(b"{\"plugin\": ");
        let plugin = render::plugin_json(&entry);
        match plugin.strip_suffix('}').filter(|_| forced) {
            Some(open) => {
                // A plugin object always has keys: `forcedResult` follows a comma.
                body.extend(open.as_bytes());
                body.extend(b", \"forcedResult\": ");
                let written = match entry.forced_result() {
                    Some(r) => render::write_result(&mut body, &r, false),
                    None => write_json(&mut body, &Value::Null),
                };
                if written.is_err() {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                body.extend(b"}");
            }
            None => body.extend(plugin.as_bytes()),
        }
        body.extend(b"}");
    }
    body.extend(b"]}}\n");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.into_body(),
    )
        .into_response()
}

/// GET /plugins: joins each plugin's cached JSON (rendered again only after it changed).
pub async fn plugins(State(ctx): State<AppState>) -> Response {
    let checks = ctx.store.checks();
    plugin_items(checks.values().cloned(), false)
}

pub async fn plugin(State(ctx): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(entry) = ctx.store.get(&name) else {
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
