//! `/v2` run log of jobs and checks (decisions.md D8): `GET /v2/plugins/{name}/runs`,
//! `GET /v2/plugins/{name}/runs/{id}/output`, and the OpenAPI document of the v2
//! routes (`GET /v2/openapi.json`, hand-written in `openapi.json` beside this file).
//!
//! Owns reading the durable store for the API; nothing here writes.

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use serde_json::{Value, json};
use tracing::warn;

use super::{
    context::AppState,
    reply::{json_response, message},
};
use crate::render;

/// The OpenAPI document served at `/v2/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");
/// Runs listed when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 10_000;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/openapi.json", get(openapi))
        .route("/v2/plugins/{name}/runs", get(runs))
        .route("/v2/plugins/{name}/runs/{id}/output", get(output))
}

async fn openapi() -> Response {
    match serde_json::from_str::<Value>(OPENAPI) {
        Ok(doc) => json_response(StatusCode::OK, &doc),
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("bad OpenAPI document: {e}"),
        ),
    }
}

/// A failed read of the run log: 503 while the store recovers from a write fault
/// (it re-opens by itself; `/plugins` keeps serving the latest results), else 500.
fn store_error(ctx: &AppState, e: impl std::fmt::Display) -> Response {
    if ctx.durable.degraded().is_some() {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the run log is unavailable while the store recovers from a write fault ({e}); /plugins keeps the latest results"
            ),
        );
    }
    warn!(error = %e, "Cannot read the run log.");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot read the store: {e}"),
    )
}

async fn runs(
    State(ctx): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                format!("limit must be an integer from 1 to {MAX_LIMIT}"),
            );
        }
    };
    if ctx.store.get(&name).is_none() {
        return message(StatusCode::NOT_FOUND, format!("Plugin {name} not found"));
    }
    let durable = ctx.durable.clone();
    // Results are committed in groups; read our own writes.
    if let Err(e) = durable.flush().await {
        return store_error(&ctx, e);
    }
    let runs = match durable.runs(&name, limit).await {
        Ok(runs) => runs,
        Err(e) => return store_error(&ctx, e),
    };
    let list: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "startedAt": render::iso(&r.started_at),
                "duration": r.duration.as_secs_f64(),
                "status": r.state.smoker_status(),
                "state": r.state.as_str(),
                "exitCode": r.exit_code,
                "output": r.output,
                "catchUp": r.catch_up,
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

async fn output(State(ctx): State<AppState>, Path((name, id)): Path<(String, String)>) -> Response {
    if ctx.store.get(&name).is_none() {
        return message(StatusCode::NOT_FOUND, format!("Plugin {name} not found"));
    }
    let not_kept = || {
        message(
            StatusCode::NOT_FOUND,
            format!("Run {id} of plugin {name} not found"),
        )
    };
    let Ok(run) = id.parse::<u64>() else {
        return not_kept();
    };
    let durable = ctx.durable.clone();
    if let Err(e) = durable.flush().await {
        return store_error(&ctx, e);
    }
    match durable.run_output(&name, run).await {
        Ok(Some(out)) => json_response(
            StatusCode::OK,
            &json!({"stdout": out.stdout, "stderr": out.stderr, "truncated": out.truncated}),
        ),
        Ok(None) => not_kept(),
        Err(e) => store_error(&ctx, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_json_with_the_v2_routes() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let paths: Vec<&str> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .map(String::as_str)
            .collect();
        for path in [
            "/healthz",
            "/v2/reload",
            "/v2/plugins/{name}/runs",
            "/v2/plugins/{name}/runs/{id}/output",
            "/v2/openapi.json",
            "/v2/events",
            "/v2/plugins/{name}/schedule",
            "/v2/spool",
        ] {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
    }
}
