//! Runs: how a check run starts and where its result goes.
//!
//! Owns the one way a run starts ([`Runs::start`]: a single run per check; a
//! forced run attaches to a run in progress; a run queued meanwhile by `Overlap`
//! starts when it ends), forced-run processes (`POST /processes`), the one result
//! pipeline ([`pipeline`]) and the drain at shutdown: every run is a task on one
//! tracker, so shutdown waits for their completion instead of polling.

mod pipeline;
mod process;

pub use pipeline::{Pipeline, Trigger};
pub use process::{KEPT_PROCESSES, Process};

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::warn;

use crate::{
    events::Event,
    executor::{Executor, ProcessOutcome},
    runner,
    store::{CheckEntry, RunDone, RunDoneSender},
};

/// A run of a check's process started outside the runner (NRPE), registered on its entry.
pub struct ExternalRun {
    entry: Arc<CheckEntry>,
    done: RunDoneSender,
    pid: Arc<AtomicU32>,
}

impl ExternalRun {
    /// Where the process id goes once spawned (shown as the check's `running.pid`).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::Relaxed);
    }
}

/// Starts runs and drains them; cheap to clone.
#[derive(Debug, Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pipeline: Pipeline,
    processes: process::Processes,
    tracker: TaskTracker,
    /// Cancelled when shutdown starts: queued runs no longer start.
    stopping: CancellationToken,
}

impl Runs {
    pub fn new(pipeline: Pipeline) -> Runs {
        Runs {
            inner: Arc::new(Inner {
                pipeline,
                processes: process::Processes::default(),
                tracker: TaskTracker::new(),
                stopping: CancellationToken::new(),
            }),
        }
    }

    /// Starts a run of `entry` unless one is in progress; the receiver yields its result.
    pub fn start(&self, entry: &Arc<CheckEntry>, trigger: Trigger) -> RunDone {
        let (rx, starter) = entry.begin_run();
        let Some((done, pid)) = starter else {
            return rx;
        };
        let started = pipeline::Started {
            done,
            pid,
            cancel: entry.cancel_signal(),
        };
        let runs = self.clone();
        let entry = entry.clone();
        self.inner.tracker.spawn(async move {
            runs.inner.pipeline.run(&entry, trigger, started).await;
            if entry.take_queued() && !runs.inner.stopping.is_cancelled() {
                runs.start(&entry, Trigger::Scheduled);
            }
        });
        rx
    }

    /// POST /processes: forces a run of each entry and remembers the process.
    pub fn force(&self, entries: &[Arc<CheckEntry>]) -> u64 {
        for entry in entries {
            entry.expect_forced();
            self.start(entry, Trigger::Forced);
        }
        self.inner.processes.add(entries)
    }

    pub fn processes(&self) -> Vec<Arc<Process>> {
        self.inner.processes.all()
    }

    /// Process `id`, unless it is unknown or older than the newest [`KEPT_PROCESSES`].
    pub fn process(&self, id: u64) -> Option<Arc<Process>> {
        self.inner.processes.get(id)
    }

    /// Records a result made by a test through the same path as every run.
    #[cfg(test)]
    pub(crate) fn record(
        &self,
        entry: &CheckEntry,
        result: crate::check::CheckResult,
        done: &RunDoneSender,
    ) -> Arc<crate::check::CheckResult> {
        self.inner
            .pipeline
            .record(entry, result, done, Trigger::Scheduled)
    }

    /// The one shared executor.
    pub fn executor(&self) -> &Executor {
        &self.inner.pipeline.executor
    }

    /// Registers an NRPE run of check `name` as its run in progress. `None` when `name` is
    /// not a check or one of its runs is in progress (one run per check: the NRPE client
    /// still gets its answer, the result in progress is the one recorded).
    pub fn begin_nrpe(&self, name: &str) -> Option<ExternalRun> {
        let entry = self.inner.pipeline.store.get(name)?;
        let (_, starter) = entry.begin_run();
        let (done, pid) = starter?;
        Some(ExternalRun { entry, done, pid })
    }

    /// Records what the process of `run` did through the result pipeline (in the
    /// background, drained at shutdown like every run).
    pub fn finish_external(&self, run: ExternalRun, outcome: ProcessOutcome, trigger: Trigger) {
        let runs = self.clone();
        self.inner.tracker.spawn(async move {
            let pipeline = &runs.inner.pipeline;
            pipeline
                .record_outcome(&run.entry, outcome, trigger, &run.done)
                .await;
            if run.entry.take_queued() && !runs.inner.stopping.is_cancelled() {
                runs.start(&run.entry, Trigger::Scheduled);
            }
        });
    }

    /// The event stream (results and reloads).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.inner.pipeline.events.subscribe()
    }

    /// Runs in progress.
    pub fn running(&self) -> usize {
        self.inner.tracker.len()
    }

    /// Graceful stop (D4): queued runs no longer start; waits for the runs in progress
    /// up to `grace` (each also ends by its own `Timeout`), then terminates the rest
    /// and waits for their "interrupted by shutdown" results.
    pub async fn drain(&self, grace: Duration) {
        let inner = &self.inner;
        inner.stopping.cancel();
        inner.tracker.close();
        if tokio::time::timeout(grace, inner.tracker.wait())
            .await
            .is_ok()
        {
            return;
        }
        warn!(
            running = inner.tracker.len(),
            "Terminating checks still running at shutdown."
        );
        inner.pipeline.executor.interrupt_all();
        let hard = runner::KILL_GRACE + Duration::from_secs(2);
        if tokio::time::timeout(hard, inner.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                running = inner.tracker.len(),
                "Checks still running after the kill."
            );
        }
    }

    /// SIGKILLs the process group of every run in progress (a second signal).
    pub fn kill_all(&self) {
        self.inner.pipeline.executor.kill_all();
    }
}
