//! Delivery of a durable spool (decisions.md D5, D15): one task per action of a
//! kind that queues results (`Nsca`, `Icinga2`), following the running plan. Each
//! task peeks the committed entries after its cursor, hands them to the kind's
//! [`Sink`], acks what the sink settled (delivered, or rejected for good) and
//! backs off with jitter when it failed; entries are deleted only once settled,
//! so delivery is at-least-once and a crash loses no committed result.

use std::{
    collections::HashSet,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use rand::Rng;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    check::{CheckResult, CheckSpec, Messages, State},
    config::{ActionKind, Plan, PlanWatch, subst},
    metrics::Metrics,
    store::durable::{Durable, SpoolEntry},
};

/// Most entries handed to a sink at once.
pub const BATCH_MAX: usize = 256;
/// First retry delay after a failure; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Re-check the spool at least this often even without a commit notification.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// What a sink made of a batch.
#[derive(Debug, Default)]
pub struct Sent {
    /// Entries settled for good (delivered, rejected or unreadable): acked.
    pub done: Vec<u64>,
    /// Why the rest was not delivered; `None` = the whole batch is settled.
    pub failure: Option<Failure>,
}

/// A failed delivery: the unsettled entries are sent again after a backoff.
#[derive(Debug)]
pub struct Failure {
    pub error: String,
    /// The peer refused our credentials: retry slowly (a reload with new ones
    /// restarts the task at once).
    pub slow: bool,
}

/// One action kind's sender.
pub trait Sink: Sized + Send + 'static {
    /// The kind's settings; a change restarts the action's task.
    type Settings: Clone + PartialEq + Send + Sync + 'static;
    /// The kind, for logs (`NSCA`).
    const KIND: &'static str;
    /// The sender settings when `kind` is this kind.
    fn settings(kind: &ActionKind) -> Option<Self::Settings>;
    /// Why the sender cannot be made.
    type OpenError: std::error::Error + Send + Sync + 'static;
    /// Makes the sender of `action`; an error is logged and retried later.
    fn open(
        action: &str,
        settings: &Self::Settings,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Self, Self::OpenError>;
    /// Where it sends to, for the start log line.
    fn peer(&self) -> String;
    /// Sends `entries` (in spool order).
    fn send(&mut self, entries: &[SpoolEntry]) -> impl Future<Output = Sent> + Send;
}

/// The service name `template` gives for `spec` (`%(name)s` = the plugin name,
/// other names = its parameters); on failure the plugin name, with a warning.
pub fn service_name(template: &str, spec: &CheckSpec) -> String {
    let lookup = |key: &str| {
        if key == "name" {
            Some(serde_json::Value::String(spec.name.clone()))
        } else {
            spec.parameters.get_json(key)
        }
    };
    subst::substitute_raw(template, &lookup).unwrap_or_else(|e| {
        warn!(check = %spec.name, error = %e, "Service template failed, using the plugin name.");
        spec.name.clone()
    })
}

/// The outcome of an action that queued the result: OK, `queued for ACTION`.
pub fn queued_outcome(action: &str) -> CheckResult {
    let text = format!("queued for {action}");
    let mut r = CheckResult::synthetic(State::Ok, text.clone(), chrono::Local::now());
    let mut m = Messages::default();
    m.info.push(text);
    r.messages = Some(m);
    r
}

/// Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling
/// from [`BACKOFF_MIN`] to [`BACKOFF_MAX`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: BACKOFF_MIN }
    }
}

impl Backoff {
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    pub fn delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        jitter(d)
    }
}

/// A delay drawn from [d/2, d].
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

/// Keeps one delivery task per action of kind `S` of the running plan, following
/// its changes, until `shutdown` is cancelled; then stops them all (the spool
/// keeps what is undelivered) and returns once they have stopped.
pub async fn follow<S: Sink>(
    mut plan: PlanWatch,
    durable: Durable,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let sinks = Sinks::<S>::default();
    loop {
        let current = plan.borrow_and_update().clone();
        sinks.sync(&current, &durable, Some(&metrics), &shutdown);
        tokio::select! {
            changed = plan.changed() => if changed.is_err() { break },
            _ = shutdown.cancelled() => break,
        }
    }
    for task in sinks.stop_all() {
        let _ = task.await;
    }
}

/// The running delivery tasks, one per action of kind `S`.
#[derive(Debug)]
pub struct Sinks<S: Sink> {
    running: Mutex<Vec<Running<S::Settings>>>,
}

impl<S: Sink> Default for Sinks<S> {
    fn default() -> Self {
        Sinks {
            running: Mutex::default(),
        }
    }
}

#[derive(Debug)]
struct Running<T> {
    action: String,
    settings: T,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl<S: Sink> Sinks<S> {
    /// Starts, restarts (changed settings) and stops delivery tasks so that
    /// exactly the actions of kind `S` in `plan` run; each stops with `parent` too.
    /// Call inside the runtime.
    pub fn sync(
        &self,
        plan: &Plan,
        durable: &Durable,
        metrics: Option<&Arc<Metrics>>,
        parent: &CancellationToken,
    ) {
        let wanted: Vec<(&String, S::Settings)> = plan
            .actions
            .iter()
            .filter_map(|(name, spec)| S::settings(&spec.kind).map(|s| (name, s)))
            .collect();
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|r| {
            let keep = wanted
                .iter()
                .any(|(name, settings)| **name == r.action && *settings == r.settings);
            if !keep {
                r.stop.cancel();
            }
            keep
        });
        for (name, settings) in wanted {
            if running.iter().any(|r| r.action == *name) {
                continue;
            }
            let stop = parent.child_token();
            let task = tokio::spawn(deliver::<S>(
                durable.clone(),
                name.clone(),
                settings.clone(),
                metrics.cloned(),
                stop.clone(),
            ));
            running.push(Running {
                action: name.clone(),
                settings: settings.clone(),
                stop,
                task,
            });
        }
    }

    /// Stops every delivery task (shutdown); the spool keeps what is undelivered.
    /// Returns the tasks, to wait for.
    pub fn stop_all(&self) -> Vec<JoinHandle<()>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .drain(..)
            .map(|r| {
                r.stop.cancel();
                r.task
            })
            .collect()
    }
}

/// Sleeps `d` unless `stop` is cancelled first; returns false when stopping.
pub async fn pause(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.cancelled() => return false,
    }
    !stop.is_cancelled()
}

/// Opens the sink of `action`, retrying with backoff; `None` when stopping.
async fn open<S: Sink>(
    action: &str,
    settings: &S::Settings,
    metrics: Option<Arc<Metrics>>,
    stop: &CancellationToken,
) -> Option<S> {
    let mut backoff = Backoff::default();
    loop {
        match S::open(action, settings, metrics.clone()) {
            Ok(sink) => return Some(sink),
            Err(e) => {
                warn!(action, kind = S::KIND, error = %e, "Cannot set up the delivery; retrying.");
                if !pause(backoff.delay(), stop).await {
                    return None;
                }
            }
        }
    }
}

/// The delivery loop of one action: peek committed entries after the cursor,
/// send them, ack what was settled, back off and resend the rest on failure.
pub async fn deliver<S: Sink>(
    durable: Durable,
    action: String,
    settings: S::Settings,
    metrics: Option<Arc<Metrics>>,
    stop: CancellationToken,
) {
    let Some(mut sink) = open::<S>(&action, &settings, metrics, &stop).await else {
        return;
    };
    let kind = S::KIND;
    let mut commits = durable.spool_watch();
    let mut cursor = 0u64;
    // Settled entries after the cursor whose ack may not be committed yet.
    let mut settled: HashSet<u64> = HashSet::new();
    let mut backoff = Backoff::default();
    let mut failing = false;
    info!(action = %action, kind, peer = %sink.peer(), "Delivery started.");
    while !stop.is_cancelled() {
        commits.borrow_and_update();
        let entries = match durable.spool_peek(&action, cursor, BATCH_MAX).await {
            Ok(e) => e,
            Err(e) => {
                warn!(action = %action, kind, error = %e, "Cannot read the spool.");
                if !pause(backoff.delay(), &stop).await {
                    break;
                }
                continue;
            }
        };
        let entries: Vec<SpoolEntry> = entries
            .into_iter()
            .filter(|e| !settled.contains(&e.id))
            .collect();
        if entries.is_empty() {
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.cancelled() => break,
            }
            continue;
        }
        let last = entries.last().map_or(cursor, |e| e.id);
        let sent = tokio::select! {
            sent = sink.send(&entries) => sent,
            _ = stop.cancelled() => break,
        };
        durable.spool_ack(&action, sent.done.clone());
        let Some(failure) = sent.failure else {
            if failing {
                info!(action = %action, kind, results = entries.len(), "Delivery recovered.");
                failing = false;
            }
            debug!(action = %action, kind, results = entries.len(), "Batch delivered.");
            cursor = last;
            settled.clear();
            backoff.reset();
            continue;
        };
        settled.extend(sent.done);
        let delay = if failure.slow {
            jitter(BACKOFF_MAX)
        } else {
            backoff.delay()
        };
        if failing {
            debug!(action = %action, kind, error = %failure.error, retry_in = ?delay, "Delivery failed again.");
        } else {
            warn!(action = %action, kind, error = %failure.error, results = entries.len(), retry_in = ?delay,
                "Delivery failed, the results will be sent again.");
            failing = true;
        }
        if !pause(delay, &stop).await {
            break;
        }
    }
    info!(action = %action, kind, "Delivery stopped.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bounds() {
        let mut b = Backoff::default();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = b.delay();
            assert!(last <= BACKOFF_MAX);
        }
        assert!(last >= BACKOFF_MAX / 2);
        b.reset();
        assert!(b.delay() <= BACKOFF_MIN);
    }
}
