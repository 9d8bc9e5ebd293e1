//! REST API (axum): the smoker-compatible routes of smoker-compat.md §3 with the
//! same keys, types and status codes (decisions.md D1, D3), plus `/healthz`.
//!
//! Owns HTTP only, on a narrow [`Context`]: it reads the store and the run log,
//! forces runs through [`crate::runs`] and asks for reloads through the daemon's
//! control channel. Errors are JSON. Handlers live in one file per resource; this
//! file only routes.

mod admin;
pub mod auth;
mod context;
pub mod events;
mod plugins;
mod processes;
mod reply;
pub mod runs;
mod schedule;
pub mod server;
pub mod ui;

pub use context::{AppState, Context};
pub use reply::json_response;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{StatusCode, header},
    middleware,
    routing::{MethodRouter, get, post},
};

use admin::{healthz, reload};
use plugins::{about, plugin, plugins};
use processes::{force, process, processes};
use reply::{method_not_allowed_json, not_found};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Serves the API on `listener` until `stop` is cancelled; `access` holds the
/// connection access it serves with (rebuilt on each reload).
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Arc<Context>,
    access: tokio::sync::watch::Sender<Arc<server::Access>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let plan = ctx.plan.clone();
    let ctx = Arc::new(Context {
        stop: stop.clone(),
        ..(*ctx).clone()
    });
    let app = router(ctx);
    server::serve(listener, plan, access, app, stop).await;
}

/// All routes, each also with a trailing `/` (except `/`).
pub fn router(ctx: Arc<Context>) -> Router {
    let metrics = ctx.metrics.clone();
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
        .route("/v2/events", get(events::events))
        .route("/v2/plugins/{name}/schedule", get(schedule::schedule))
        .route("/v2/spool", get(schedule::spool))
        .merge(runs::routes())
        .merge(ui::routes())
        .merge(crate::metrics::router(metrics.clone()))
        .fallback(not_found)
        .layer(middleware::map_response(method_not_allowed_json))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        // gzip when the client asks (browsers, Prometheus); never for event streams.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn_with_state(ctx.clone(), auth::require))
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track_api,
        ))
        .with_state(ctx)
}

fn with_options(router: MethodRouter<AppState>, allow: &'static str) -> MethodRouter<AppState> {
    router.options(move || async move { ([(header::ALLOW, allow)], StatusCode::OK) })
}
