//! `GET /healthz` and `POST /v2/reload` (decisions.md D8): the daemon's status,
//! and a reload asked of the daemon's event loop through its control channel.

use axum::{extract::State, http::StatusCode, response::Response};

use super::{context::AppState, reply::json_response};

/// `GET /healthz` (D8): 200 when ok, 503 when degraded (stale config, store in memory).
pub async fn healthz(State(ctx): State<AppState>) -> Response {
    let health = ctx.status.health();
    let status = if health.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &health.to_json())
}

/// `POST /v2/reload` (D8): 200 with the changes, or 422 with the errors.
pub async fn reload(State(ctx): State<AppState>) -> Response {
    match ctx.control.reload().await {
        Ok(report) => json_response(StatusCode::OK, &report.to_json()),
        Err(e) => json_response(StatusCode::UNPROCESSABLE_ENTITY, &e.to_json()),
    }
}
