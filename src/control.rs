//! Control of a running daemon from its components: the requests they may send
//! to the daemon's event loop (a reload from `POST /v2/reload`), and the daemon's
//! status they may read (`/healthz`, `systemctl status`). Components hold a
//! [`Control`] and a [`Status`], never the daemon itself.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

pub use crate::events::ReloadReport;
use crate::store::StateStore;

/// What a component may ask the daemon's event loop for.
#[derive(Debug)]
pub enum Request {
    /// Reload the configuration (as SIGHUP does) and answer with the outcome.
    Reload(oneshot::Sender<Result<ReloadReport, ReloadError>>),
}

/// The sending side of the daemon's control channel; cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    tx: mpsc::Sender<Request>,
}

impl Control {
    /// A control channel; the daemon's event loop reads the receiver.
    pub fn channel() -> (Control, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::channel(16);
        (Control { tx }, rx)
    }

    /// Asks for a reload and waits for its outcome.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let (reply, outcome) = oneshot::channel();
        if self.tx.send(Request::Reload(reply)).await.is_err() {
            return Err(ReloadError::Unavailable);
        }
        outcome.await.unwrap_or(Err(ReloadError::Unavailable))
    }
}

/// A reload that was refused; the running configuration stays.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    #[error("configuration has errors, keeping the running configuration")]
    Config(Vec<String>),
    #[error("cannot listen on the new address, keeping the running configuration")]
    Listen(Vec<String>),
    #[error("reload is not available")]
    Unavailable,
}

impl ReloadError {
    /// The `FILE:LINE:COL: …` lines (D8 422 `errors`).
    pub fn errors(&self) -> Vec<String> {
        match self {
            ReloadError::Config(errors) | ReloadError::Listen(errors) => errors.clone(),
            ReloadError::Unavailable => vec![self.to_string()],
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"message": self.to_string(), "errors": self.errors()})
    }
}

/// `/healthz` (D8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub config_errors: Option<Vec<String>>,
    pub store_error: Option<String>,
    /// `(results, spool entries)` kept in memory while the store re-opens after a write
    /// fault.
    pub store_held: Option<(usize, usize)>,
    /// Built-in checks stuck in the kernel past their timeout (shown when any).
    pub builtin_stuck: usize,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.config_errors.is_none() && self.store_error.is_none()
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "status": if self.ok() { "ok" } else { "degraded" },
            "config": if self.config_errors.is_some() { "stale" } else { "ok" },
            "store": if self.store_error.is_some() { "memory" } else { "ok" },
        });
        if let Some(errors) = &self.config_errors {
            body["configErrors"] = json!(errors);
        }
        if let Some(error) = &self.store_error {
            body["storeError"] = json!(error);
        }
        if let Some((results, spool)) = self.store_held {
            body["storeHeld"] = json!({"results": results, "spoolEntries": spool});
        }
        if self.builtin_stuck > 0 {
            body["builtinStuck"] = json!(self.builtin_stuck);
            body["builtinStuckMax"] = json!(crate::builtin::MAX_STUCK);
        }
        body
    }

    /// One line for `systemctl status`.
    pub fn line(&self, checks: usize) -> String {
        format!(
            "{checks} checks, config: {}, store: {}",
            if self.config_errors.is_some() {
                "stale"
            } else {
                "ok"
            },
            if self.store_error.is_some() {
                "memory"
            } else {
                "ok"
            },
        )
    }
}

/// The daemon's status as components read it; cheap to clone.
#[derive(Debug, Clone)]
pub struct Status {
    /// Errors of the last refused reload, while the old configuration keeps running.
    pub config_errors: watch::Receiver<Option<Vec<String>>>,
    pub state: Arc<StateStore>,
}

impl Status {
    /// `/healthz`: degraded while a reload failed or the store lives in memory.
    pub fn health(&self) -> Health {
        Health {
            config_errors: self.config_errors.borrow().clone(),
            store_error: if self.state.persistent() {
                None
            } else {
                self.state.error()
            },
            store_held: self.state.durable().degraded(),
            builtin_stuck: crate::builtin::stuck(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_json_follows_d8() {
        let ok = Health {
            config_errors: None,
            store_error: None,
            store_held: None,
            builtin_stuck: 0,
        };
        assert!(ok.ok());
        assert_eq!(
            ok.to_json(),
            json!({"status": "ok", "config": "ok", "store": "ok"})
        );
        let stale = Health {
            config_errors: Some(vec!["t.yaml:3:5: plugins.a.Interval: bad".into()]),
            store_error: None,
            store_held: None,
            builtin_stuck: 0,
        };
        assert_eq!(
            stale.to_json(),
            json!({"status": "degraded", "config": "stale", "store": "ok",
                   "configErrors": ["t.yaml:3:5: plugins.a.Interval: bad"]})
        );
        let held = Health {
            config_errors: None,
            store_error: Some("No space left on device".into()),
            store_held: Some((2, 1)),
            builtin_stuck: 0,
        };
        assert_eq!(
            held.to_json(),
            json!({"status": "degraded", "config": "ok", "store": "memory",
                   "storeError": "No space left on device",
                   "storeHeld": {"results": 2, "spoolEntries": 1}})
        );
        let refused = ReloadError::Config(vec!["t.yaml:1:1: x".into()]);
        assert_eq!(
            refused.to_json(),
            json!({"message": "configuration has errors, keeping the running configuration",
                   "errors": ["t.yaml:1:1: x"]})
        );
        let report = ReloadReport {
            added: vec!["d".into()],
            removed: vec![],
            changed: vec!["b".into()],
        };
        assert_eq!(
            report.to_json(),
            json!({"reloaded": true, "added": ["d"], "removed": [], "changed": ["b"]})
        );
    }
}
