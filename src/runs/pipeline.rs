//! One run's pipeline, the only path a finished run takes: runner → actions →
//! metrics → durable store (run id) → in-memory store → event stream. A panic
//! anywhere in it becomes an UNKNOWN result, never a lost run.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use futures_util::FutureExt;
use tokio::sync::watch;
use tracing::{error, info};

use crate::{
    actions::Actions,
    check::{CheckResult, State},
    events::{Event, Events, ResultEvent},
    executor::{Executor, ProcessOutcome},
    metrics::Metrics,
    python, runner,
    store::{CheckEntry, RunDoneSender, Store, durable::Durable},
};

pub use crate::check::Trigger;

/// Everything a run feeds, shared by all runs.
#[derive(Debug)]
pub struct Pipeline {
    pub executor: Arc<Executor>,
    pub actions: Actions,
    pub metrics: Arc<Metrics>,
    pub durable: Durable,
    pub store: Arc<Store>,
    pub events: Events,
}

/// A run registered on its entry, ready to go.
pub struct Started {
    pub done: RunDoneSender,
    pub pid: Arc<AtomicU32>,
    pub cancel: Option<watch::Receiver<bool>>,
}

impl Pipeline {
    /// Runs `entry` once and records the result everywhere.
    pub async fn run(&self, entry: &Arc<CheckEntry>, trigger: Trigger, started: Started) {
        let spec = entry.spec();
        let run = self.execute(entry, trigger, &started);
        let result = match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result,
            Err(_) => {
                error!(check = %spec.name, "Check run panicked.");
                CheckResult::synthetic(
                    State::Unknown,
                    format!("No run of plugin {} is found alive", spec.name),
                    chrono::Local::now(),
                )
            }
        };
        self.record(entry, result, &started.done, trigger);
    }

    /// The process and the actions.
    async fn execute(
        &self,
        entry: &Arc<CheckEntry>,
        trigger: Trigger,
        started: &Started,
    ) -> CheckResult {
        let spec = entry.spec();
        let pid = &started.pid;
        let on_spawn = |p| pid.store(p, Ordering::Relaxed);
        let cancel = started.cancel.clone();
        let mut result = if python::applies(&spec) {
            python::run_check(&self.executor, &spec, &on_spawn, cancel).await
        } else {
            runner::run_check_cancellable(&self.executor, &spec, &on_spawn, cancel).await
        };
        self.act(entry, trigger, &mut result).await;
        result
    }

    /// The run's flags from its trigger, then the actions.
    async fn act(&self, entry: &CheckEntry, trigger: Trigger, result: &mut CheckResult) {
        let spec = entry.spec();
        result.forced = trigger == Trigger::Forced;
        result.catch_up = trigger == Trigger::CatchUp;
        let previous = entry.last_result();
        self.actions.run(&spec, result, previous.as_deref()).await;
    }

    /// A process the NRPE server ran for this check: interpreted as a run of the check,
    /// then actions and the rest of the pipeline.
    pub async fn record_outcome(
        &self,
        entry: &CheckEntry,
        outcome: ProcessOutcome,
        trigger: Trigger,
        done: &RunDoneSender,
    ) {
        let spec = entry.spec();
        let mut result = runner::interpret(&spec, outcome);
        self.act(entry, trigger, &mut result).await;
        self.record(entry, result, done, trigger);
    }

    /// Metrics, then the durable store (which hands out the run id), then the
    /// in-memory history, then the event stream.
    pub fn record(
        &self,
        entry: &CheckEntry,
        mut result: CheckResult,
        done: &RunDoneSender,
        trigger: Trigger,
    ) -> Arc<CheckResult> {
        let spec = entry.spec();
        self.metrics
            .observe_result_unless(&spec, &result, trigger, || entry.is_retired());
        result.run_id = self
            .durable
            .append_result(&spec.name, spec.history, &result);
        let recorded = self.store.record(entry, result, done);
        log_state_change(&spec.name, recorded.previous.as_deref(), &recorded.result);
        self.events.publish(|| {
            Event::Result(Arc::new(ResultEvent {
                spec,
                result: recorded.result.clone(),
                previous: recorded.previous,
            }))
        });
        recorded.result
    }
}

/// One INFO line per state change of a check (`check disk: OK → CRITICAL: DISK CRITICAL - …`);
/// a first result is a change unless it is OK.
fn log_state_change(name: &str, previous: Option<&CheckResult>, result: &CheckResult) {
    let from = previous.map(|p| p.state);
    if from == Some(result.state) || (from.is_none() && result.state == State::Ok) {
        return;
    }
    let from = from.map_or("none", State::as_str);
    let to = result.state.as_str();
    info!(check = %name, from, to, output = %result.output, "check {name}: {from} → {to}: {}", result.output);
}
