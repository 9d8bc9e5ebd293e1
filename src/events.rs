//! The daemon's event stream: one [`Event`] per finished run (published by
//! [`crate::runs`], after the result is recorded) and one per applied reload
//! (published by the daemon). Anyone may subscribe: the status page's live view,
//! `GET /v2/events`, tests. A slow subscriber lags and skips events (tokio
//! broadcast semantics); it never slows the result pipeline down.
//!
//! The channel's ring ([`CAPACITY`] slots) exists from the first subscription on, and
//! a slot holds one pointer: a daemon nobody watches pays nothing for it (issue 18).

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

use crate::check::{CheckResult, CheckSpec};

/// Events a subscriber can fall behind by before it starts skipping.
pub const CAPACITY: usize = 4096;

/// Something that happened in the daemon.
#[derive(Debug, Clone)]
pub enum Event {
    /// A run finished and its result is recorded (history, store, metrics, actions).
    Result(Arc<ResultEvent>),
    /// A new configuration was applied.
    Reload(Arc<ReloadReport>),
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

/// The sending side, cheap to clone (clones share one channel).
#[derive(Debug, Clone, Default)]
pub struct Events {
    sender: Arc<OnceLock<broadcast::Sender<Event>>>,
}

impl Events {
    pub fn new() -> Events {
        Events::default()
    }

    /// Publishes the event `make` builds to the current subscribers; with none, it is
    /// not built.
    pub fn publish(&self, make: impl FnOnce() -> Event) {
        if let Some(sender) = self.sender.get().filter(|s| s.receiver_count() > 0) {
            let _ = sender.send(make());
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender
            .get_or_init(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckResult, State};

    /// Issue 18 (benchmark row 4): a slot of the ring holds one pointer and a tag, and
    /// the ring (4096 slots) is made by the first subscription only.
    #[test]
    fn an_event_is_two_words_and_the_ring_waits_for_a_subscriber() {
        assert_eq!(std::mem::size_of::<Event>(), 16);
        let events = Events::new();
        let built = std::sync::atomic::AtomicUsize::new(0);
        let reload = || {
            built.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Event::Reload(Arc::default())
        };
        events.publish(reload);
        assert!(events.sender.get().is_none());
        let mut rx = events.clone().subscribe();
        events.publish(reload);
        let result = Arc::new(CheckResult::synthetic(
            State::Ok,
            "fine",
            chrono::Local::now(),
        ));
        events.publish(|| {
            Event::Result(Arc::new(ResultEvent {
                spec: Arc::new(CheckSpec::for_test("c")),
                result,
                previous: None,
            }))
        });
        assert!(matches!(rx.try_recv(), Ok(Event::Reload(_))));
        assert!(matches!(rx.try_recv(), Ok(Event::Result(e)) if e.spec.name == "c"));
        assert_eq!(built.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
