//! Store: the live state of every check and its result history.
//!
//! Owns, per check: the current spec, the ring of the last `History` results,
//! the result of the last forced run, the run in progress and the next
//! scheduled time. The durable copy lives in [`durable`]; the event stream of
//! finished runs is [`crate::events`], fed by [`crate::runs`].

pub mod durable;
mod ring;
mod state;

pub use state::{DEFAULT_STATE_DIR, StateStore};

use std::sync::{
    Arc, Mutex, RwLock,
    atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};

use chrono::{DateTime, Local};
use indexmap::IndexMap;
use tokio::sync::watch;

use self::ring::Ring;
use crate::check::{CheckResult, CheckSpec};

/// Receives the result of a run once it is recorded.
pub type RunDone = watch::Receiver<Option<Arc<CheckResult>>>;
/// The recording side of [`RunDone`].
pub type RunDoneSender = watch::Sender<Option<Arc<CheckResult>>>;

/// A run in progress.
#[derive(Debug)]
pub struct Running {
    pub started_at: DateTime<Local>,
    /// 0 until the process started.
    pub pid: Arc<AtomicU32>,
    pub done: watch::Receiver<Option<Arc<CheckResult>>>,
}

/// Everything the daemon knows about one check.
#[derive(Debug)]
pub struct CheckEntry {
    spec: RwLock<Arc<CheckSpec>>,
    /// The last `History` results (see [`ring`]).
    history: Mutex<Ring>,
    forced_result: Mutex<Option<Arc<CheckResult>>>,
    /// A forced run was asked for and its result is not in yet.
    forced_pending: AtomicBool,
    running: Mutex<Option<Running>>,
    next_run: Mutex<Option<DateTime<Local>>>,
    last_run_id: AtomicU64,
    /// Bumped on every change the plugin JSON can show (spec, history, running, next run).
    version: AtomicU64,
    /// The rendered plugin JSON and the `version` it was rendered at (see `api::render`).
    rendered: Mutex<Option<(u64, Arc<str>)>>,
    /// Turns true to terminate the run in progress (`Overlap: kill`).
    run_cancel: Mutex<Option<watch::Sender<bool>>>,
    /// A run is due once the one in progress ends (`Overlap: queue|kill`; coalesced).
    queued: AtomicBool,
    /// The check left the configuration (set by [`Store::apply`]); a run still in
    /// flight finishes, but must not bring back what the reload dropped.
    retired: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CheckEntry {
    pub fn new(spec: Arc<CheckSpec>) -> CheckEntry {
        CheckEntry {
            spec: RwLock::new(spec),
            history: Mutex::new(Ring::default()),
            forced_result: Mutex::new(None),
            forced_pending: AtomicBool::new(false),
            running: Mutex::new(None),
            next_run: Mutex::new(None),
            last_run_id: AtomicU64::new(0),
            version: AtomicU64::new(0),
            rendered: Mutex::new(None),
            run_cancel: Mutex::new(None),
            queued: AtomicBool::new(false),
            retired: AtomicBool::new(false),
        }
    }

    /// Whether a reload removed this check (a run of it may still be finishing).
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// Marks the rendered JSON stale.
    fn touch(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached rendering, if it is still current.
    pub fn rendered(&self) -> Option<Arc<str>> {
        let version = self.version.load(Ordering::SeqCst);
        lock(&self.rendered)
            .as_ref()
            .filter(|(v, _)| *v == version)
            .map(|(_, text)| text.clone())
    }

    /// Caches `text`, rendered after reading `version()`.
    pub fn cache_rendered(&self, version: u64, text: Arc<str>) {
        *lock(&self.rendered) = Some((version, text));
    }

    /// Current change counter; read it *before* rendering.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    pub fn spec(&self) -> Arc<CheckSpec> {
        self.spec.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_spec(&self, spec: Arc<CheckSpec>) {
        *self.spec.write().unwrap_or_else(|e| e.into_inner()) = spec.clone();
        self.touch();
        lock(&self.history).trim(spec.history);
    }

    pub fn name(&self) -> String {
        self.spec().name.clone()
    }

    /// Results, oldest first.
    /// Results, oldest first. Only the newest carries its captured streams.
    pub fn history(&self) -> Vec<Arc<CheckResult>> {
        let name = self.name();
        lock(&self.history).to_vec(&name)
    }

    pub fn last_result(&self) -> Option<Arc<CheckResult>> {
        lock(&self.history).newest()
    }

    pub fn forced_result(&self) -> Option<Arc<CheckResult>> {
        lock(&self.forced_result).clone()
    }

    /// Whether the forced run this entry waits for has its result.
    pub fn has_forced_result(&self) -> bool {
        lock(&self.forced_result).is_some()
    }

    pub fn next_run(&self) -> Option<DateTime<Local>> {
        *lock(&self.next_run)
    }

    pub fn set_next_run(&self, at: Option<DateTime<Local>>) {
        *lock(&self.next_run) = at;
        self.touch();
    }

    /// `(startedAt, pid)` of the run in progress.
    pub fn running(&self) -> Option<(DateTime<Local>, u32)> {
        lock(&self.running)
            .as_ref()
            .map(|r| (r.started_at, r.pid.load(Ordering::Relaxed)))
    }

    /// Registers a new run unless one is in progress; returns the receiver of
    /// the run's result and whether this call started it.
    pub fn begin_run(&self) -> (RunDone, Option<(RunDoneSender, Arc<AtomicU32>)>) {
        let mut running = lock(&self.running);
        if let Some(r) = running.as_ref() {
            return (r.done.clone(), None);
        }
        let (tx, rx) = watch::channel(None);
        let pid = Arc::new(AtomicU32::new(0));
        *lock(&self.run_cancel) = Some(watch::channel(false).0);
        *running = Some(Running {
            started_at: Local::now(),
            pid: pid.clone(),
            done: rx.clone(),
        });
        self.touch();
        (rx, Some((tx, pid)))
    }

    /// The kill signal of the run in progress (see [`CheckEntry::kill_run`]).
    pub fn cancel_signal(&self) -> Option<watch::Receiver<bool>> {
        lock(&self.run_cancel)
            .as_ref()
            .map(watch::Sender::subscribe)
    }

    /// Asks the run in progress to terminate; false when none runs.
    pub fn kill_run(&self) -> bool {
        lock(&self.run_cancel)
            .as_ref()
            .is_some_and(|c| !c.send_replace(true))
    }

    /// Queues one run for when the one in progress ends; false when one already is
    /// (queued runs coalesce).
    pub fn queue_run(&self) -> bool {
        !self.queued.swap(true, Ordering::SeqCst)
    }

    /// Takes the queued run, if any.
    pub fn take_queued(&self) -> bool {
        self.queued.swap(false, Ordering::SeqCst)
    }

    /// Marks that the next result answers a forced run (POST /processes).
    pub fn expect_forced(&self) {
        *lock(&self.forced_result) = None;
        self.forced_pending.store(true, Ordering::SeqCst);
    }

    /// Seeds history from the durable store after a restart.
    pub fn restore(&self, results: Vec<Arc<CheckResult>>) {
        let keep = self.spec().history;
        let mut history = lock(&self.history);
        let skip = results.len().saturating_sub(keep.max(1));
        for (i, r) in results.into_iter().enumerate() {
            self.last_run_id.fetch_max(r.run_id, Ordering::Relaxed);
            if i >= skip {
                history.push(r, keep);
            }
        }
        drop(history);
        self.touch();
    }

    pub fn next_run_id(&self) -> u64 {
        self.last_run_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What [`Store::record`] kept.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub result: Arc<CheckResult>,
    /// The check's result before this one, if any.
    pub previous: Option<Arc<CheckResult>>,
}

/// All checks by name, in config order.
#[derive(Debug)]
pub struct Store {
    checks: RwLock<Arc<IndexMap<String, Arc<CheckEntry>>>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        Store {
            checks: RwLock::new(Arc::new(IndexMap::new())),
        }
    }

    pub fn checks(&self) -> Arc<IndexMap<String, Arc<CheckEntry>>> {
        self.checks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<CheckEntry>> {
        self.checks().get(name).cloned()
    }

    /// Replaces the set of checks: kept names keep their entry (and history),
    /// with the new spec; an unchanged spec in `specs` becomes the store's own (one
    /// copy). Returns (added, removed, changed) names.
    pub fn apply(&self, specs: &mut [Arc<CheckSpec>]) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut guard = self.checks.write().unwrap_or_else(|e| e.into_inner());
        let old = guard.clone();
        let mut next = IndexMap::new();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for spec in specs {
            match old.get(&spec.name) {
                Some(entry) => {
                    let kept = entry.spec();
                    if *kept != **spec {
                        changed.push(spec.name.clone());
                        entry.set_spec(spec.clone());
                    } else {
                        // One copy of an unchanged check: the new load's is freed now,
                        // instead of living beside the store's until the next reload.
                        *spec = kept;
                    }
                    next.insert(spec.name.clone(), entry.clone());
                }
                None => {
                    added.push(spec.name.clone());
                    next.insert(spec.name.clone(), Arc::new(CheckEntry::new(spec.clone())));
                }
            }
        }
        let removed = old
            .iter()
            .filter(|(k, _)| !next.contains_key(*k))
            .map(|(k, entry)| {
                entry.retired.store(true, Ordering::SeqCst);
                k.clone()
            })
            .collect();
        *guard = Arc::new(next);
        (added, removed, changed)
    }

    /// Records a finished run: history (bounded), forced result, run end. Returns the
    /// recorded result and the one before it.
    pub fn record(
        &self,
        entry: &CheckEntry,
        mut result: CheckResult,
        done: &watch::Sender<Option<Arc<CheckResult>>>,
    ) -> Recorded {
        let spec = entry.spec();
        if result.run_id == 0 {
            result.run_id = entry.next_run_id();
        }
        let result = Arc::new(result);
        let previous = lock(&entry.history).push(result.clone(), spec.history);
        entry.touch();
        let forced_pending = entry.forced_pending.swap(false, Ordering::SeqCst);
        if result.forced || forced_pending {
            *lock(&entry.forced_result) = Some(result.clone());
        }
        *lock(&entry.running) = None;
        *lock(&entry.run_cancel) = None;
        entry.touch();
        done.send_replace(Some(result.clone()));
        Recorded { result, previous }
    }
}
