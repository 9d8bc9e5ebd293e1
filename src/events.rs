//! The daemon's event stream: one [`Event`] per finished run (published by
//! [`crate::runs`], after the result is recorded) and one per applied reload
//! (published by the daemon). Anyone may subscribe: the status page's live view,
//! `GET /v2/events`, tests. A slow subscriber lags and skips events (tokio
//! broadcast semantics); it never slows the result pipeline down.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::check::{CheckResult, CheckSpec};

/// Events a subscriber can fall behind by before it starts skipping.
pub const CAPACITY: usize = 4096;

/// Something that happened in the daemon.
#[derive(Debug, Clone)]
pub enum Event {
    /// A run finished and its result is recorded (history, store, metrics, actions).
    Result(ResultEvent),
    /// A new configuration was applied.
    Reload(ReloadReport),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct ResultEvent {
    pub spec: Arc<CheckSpec>,
    /// The recorded result (its `run_id` is set).
    pub result: Arc<CheckResult>,
    /// The check's result before this one, if any.
    pub previous: Option<Arc<CheckResult>>,
}

/// A reload that was applied: the checks it added, removed and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl ReloadReport {
    /// The D8 body of an applied `POST /v2/reload`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"reloaded": true, "added": self.added, "removed": self.removed, "changed": self.changed})
    }
}

/// The sending side, cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        Events {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    /// Publishes `event` to the current subscribers (none is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
