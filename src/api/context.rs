//! What the API's handlers get: a narrow [`Context`] with the store, the runs, the
//! plan watch, the durable store (run log), metrics, and the daemon's control
//! channel and status. The API never sees the daemon.

use std::sync::Arc;

use crate::{
    config::PlanWatch,
    control::{Control, Status},
    metrics::Metrics,
    runs::Runs,
    store::{Store, durable::Durable},
};

/// The API's state.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Arc<Store>,
    pub runs: Runs,
    pub plan: PlanWatch,
    pub control: Control,
    pub status: Status,
    pub metrics: Arc<Metrics>,
    pub durable: Durable,
    /// `about.host`.
    pub hostname: Arc<str>,
    /// Cancelled when the API server stops: long-lived responses (`/v2/events`) end.
    pub stop: tokio_util::sync::CancellationToken,
}

/// The axum state of every route.
pub type AppState = Arc<Context>;
