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
use tracing::error;

use crate::{
    actions::Actions,
    check::{CheckResult, State},
    events::{Event, Events, ResultEvent},
    executor::Executor,
    metrics::Metrics,
    python, runner,
    store::{CheckEntry, RunDoneSender, Store, durable::Durable},
};

/// Why a run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its interval or cron slot came.
    Scheduled,
    /// A cron slot missed while down or asleep, run late (`CatchUp`).
    CatchUp,
    /// `POST /processes`.
    Forced,
}

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
        self.record(entry, result, &started.done);
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
        result.forced = trigger == Trigger::Forced;
        result.catch_up = trigger == Trigger::CatchUp;
        let previous = entry.last_result();
        self.actions
            .run(&spec, &mut result, previous.as_deref())
            .await;
        result
    }

    /// Metrics, then the durable store (which hands out the run id), then the
    /// in-memory history, then the event stream.
    pub fn record(
        &self,
        entry: &CheckEntry,
        mut result: CheckResult,
        done: &RunDoneSender,
    ) -> Arc<CheckResult> {
        let spec = entry.spec();
        self.metrics.observe_result(&spec, &result);
        result.run_id = self
            .durable
            .append_result(&spec.name, spec.history, &result);
        let recorded = self.store.record(entry, result, done);
        self.events.publish(Event::Result(ResultEvent {
            spec,
            result: recorded.result.clone(),
            previous: recorded.previous,
        }));
        recorded.result
    }
}
