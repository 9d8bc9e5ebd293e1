//! Durable store: one redb file (`state_dir/smokerd.redb`, decisions.md D5/D8) that
//! survives restarts and `kill -9`.
//!
//! Owns, in one database file:
//! - per-check result history, keyed by (check name, run id), bounded by `History`;
//! - the per-check run-id counter (persisted, increasing);
//! - the full stdout/stderr of every kept run (`GET /v2/plugins/{name}/runs/{id}/output`);
//! - the NSCA spool: a FIFO of opaque payloads per action, bounded in count and bytes
//!   over all actions (the oldest entry is dropped and counted when full);
//! - the time since which a stored check name has been missing from the config
//!   (dropped after `removed_check_grace`);
//! - a small meta table (boot id for `@reboot`, …) and the last scheduled slot of each job.
//!
//! Writes never block the caller: they are queued to one writer thread that groups
//! them into one transaction. A group holding spool, meta or job-slot writes commits
//! within ≤100 ms or ≤256 operations (D5); a group of history results only within
//! ≤1 s or ≤4096 results, which halves the writer's CPU at hundreds of runs a second.
//! A `kill -9` loses at most the last uncommitted group. Reads are async (redb work on
//! `spawn_blocking`) and see committed state only: call [`Durable::flush`] first to
//! read your writes.
//! Failures are values ([`StoreError`]), never panics; the daemon keeps running on
//! [`Durable::memory`] when the file cannot be opened.
//!
//! Domain types (`crate::check`) carry no serde; this module converts them to its own
//! compact storage records explicitly.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    fs,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use chrono::{DateTime, Local, Utc};
use indexmap::IndexMap;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, backends::InMemoryBackend};
use serde::{Deserialize, Serialize};
use smoker_compat::output::PerfDatum;
use tokio::sync::{oneshot, watch};
use tracing::{debug, error, info, warn};

use crate::{
    check::{CheckResult, ComponentResult, Messages, State},
    config::SpoolSettings,
};

/// File name of the database inside `state_dir`.
pub const FILE_NAME: &str = "smokerd.redb";
/// Longest time a queued spool (or other non-result) write waits for its group to commit.
pub const GROUP_WINDOW: Duration = Duration::from_millis(100);
/// Most operations committed in one transaction with a spool (or other non-result) write.
pub const GROUP_MAX: usize = 256;
/// Longest time a history result waits for its group to commit (no spool write in it).
pub const RESULTS_WINDOW: Duration = Duration::from_secs(1);
/// Most history results committed in one transaction (no spool write in it).
pub const RESULTS_MAX: usize = 4096;

/// (check, run id) → [`ResultRecord`] as JSON.
const RESULTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("results");
/// (check, run id) → [`OutputRecord`] as JSON.
const OUTPUTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("outputs");
/// check → last run id handed out.
const RUN_IDS: TableDefinition<'_, &str, u64> = TableDefinition::new("run_ids");
/// check → unix seconds since which the check is missing from the config.
const MISSING_SINCE: TableDefinition<'_, &str, i64> = TableDefinition::new("missing_since");
/// (action, spool id) → opaque payload.
const SPOOL: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("spool");
/// key → value (boot id, …).
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
/// job → unix microseconds of its last scheduled slot.
const JOB_SLOTS: TableDefinition<'_, &str, i64> = TableDefinition::new("job_slots");

/// Everything that can go wrong with the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("store {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("store: {0}")]
    Db(#[from] redb::Error),
    #[error("store write failed: {0}")]
    Write(String),
    #[error("cannot start the store writer: {0}")]
    Thread(#[source] std::io::Error),
    #[error("store writer has stopped")]
    Closed,
}

fn db_err(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(error.into())
}

/// One kept run as the runs API lists it (D8), newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: u64,
    pub started_at: DateTime<Local>,
    pub duration: Duration,
    pub state: State,
    pub exit_code: Option<i32>,
    pub output: String,
    pub catch_up: bool,
    pub forced: bool,
}

/// Captured streams of one run (`GET /v2/plugins/{name}/runs/{id}/output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

/// One pending spool delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    /// Increasing over all actions; pass the last one seen as `after` to `spool_peek`.
    pub id: u64,
    pub payload: Vec<u8>,
}

/// Spool occupancy of one action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionSpoolStats {
    pub results: u64,
    pub bytes: u64,
    /// Entries dropped because the spool was full, since this process opened the store.
    pub dropped: u64,
}

/// Spool occupancy as of the last commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub results: u64,
    pub bytes: u64,
    pub actions: BTreeMap<String, ActionSpoolStats>,
}

impl SpoolStats {
    fn add(&mut self, action: &str, bytes: u64) {
        let stats = self.actions.entry(action.to_string()).or_default();
        stats.results += 1;
        stats.bytes += bytes;
        self.results += 1;
        self.bytes += bytes;
    }

    fn sub(&mut self, action: &str, bytes: u64) {
        if let Some(stats) = self.actions.get_mut(action) {
            stats.results = stats.results.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(bytes);
        }
        self.results = self.results.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    fn over(&self, limits: SpoolSettings) -> bool {
        self.results > limits.max_results || self.bytes > limits.max_bytes
    }
}

/// Handle to the durable store. Cheap to clone; the last clone dropped commits what
/// is queued and closes the file.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    path: Option<PathBuf>,
    ops: Option<mpsc::Sender<Op>>,
    writer: Option<thread::JoinHandle<()>>,
    /// Last run id handed out per check.
    run_ids: Mutex<HashMap<String, u64>>,
    /// Last spool id handed out.
    spool_seq: AtomicU64,
    shared: Arc<Shared>,
}

/// State shared with the writer thread.
struct Shared {
    last_error: Mutex<Option<String>>,
    spool: Mutex<SpoolStats>,
    spool_limits: Mutex<SpoolSettings>,
    /// Bumped after every commit that added spool entries.
    spool_commits: watch::Sender<u64>,
    /// Groups committed since open.
    commits: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue makes the writer commit what is left and exit; joining it
        // releases the file so it can be opened again at once.
        drop(self.ops.take());
        if let Some(writer) = self.writer.take() {
            writer.thread().unpark();
            if writer.join().is_err() {
                error!("Store writer panicked.");
            }
        }
    }
}

enum Op {
    Result {
        check: String,
        run_id: u64,
        keep: u64,
        record: Vec<u8>,
        output: Vec<u8>,
    },
    SpoolPush {
        action: String,
        id: u64,
        payload: Vec<u8>,
    },
    SpoolAck {
        action: String,
        ids: Vec<u64>,
    },
    Meta {
        key: String,
        value: Option<String>,
    },
    JobSlot {
        job: String,
        at_us: i64,
    },
    Prune {
        alive: HashSet<String>,
        grace: Duration,
        reply: oneshot::Sender<Result<Vec<String>, StoreError>>,
    },
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl Op {
    /// A history result (may wait for the longer [`RESULTS_WINDOW`]).
    fn is_result(&self) -> bool {
        matches!(self, Op::Result { .. })
    }

    /// Someone waits for this one: commit the group now.
    fn is_barrier(&self) -> bool {
        matches!(self, Op::Prune { .. } | Op::Flush(_))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Durable {
    /// Opens (creating if needed) the database at `path`, creating its directory.
    /// A file that is not a redb database, is corrupt, is locked by another process
    /// or cannot be written is an error, never a panic.
    pub fn open(path: impl AsRef<Path>) -> Result<Durable, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                create_state_dir(dir)?;
            }
        }
        let opened = catch_unwind(AssertUnwindSafe(|| Database::builder().create(&path)));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(source)) => return Err(StoreError::Open { path, source }),
            Err(_) => {
                return Err(StoreError::Corrupt {
                    path,
                    message: "the database panicked while opening".into(),
                });
            }
        };
        match catch_unwind(AssertUnwindSafe(|| Durable::start(db, Some(path.clone())))) {
            Ok(result) => result,
            Err(_) => Err(StoreError::Corrupt {
                path,
                message: "the database panicked while loading".into(),
            }),
        }
    }

    /// Opens `state_dir/smokerd.redb`.
    pub fn open_in(state_dir: impl AsRef<Path>) -> Result<Durable, StoreError> {
        Durable::open(state_dir.as_ref().join(FILE_NAME))
    }

    /// A store with the same behaviour that lives in memory only (`store: memory`):
    /// the daemon's fallback when the file cannot be used.
    pub fn memory() -> Result<Durable, StoreError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(db_err)?;
        Durable::start(db, None)
    }

    fn start(db: Database, path: Option<PathBuf>) -> Result<Durable, StoreError> {
        let (run_ids, spool, spool_seq) = init_tables(&db)?;
        let db = Arc::new(db);
        let (spool_commits, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            last_error: Mutex::new(None),
            spool: Mutex::new(spool),
            spool_limits: Mutex::new(SpoolSettings::default()),
            spool_commits,
            commits: AtomicU64::new(0),
        });
        let (ops, queue) = mpsc::channel();
        let writer = {
            let db = Arc::clone(&db);
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("smokerd-store".into())
                .spawn(move || writer_loop(&db, &queue, &shared))
                .map_err(StoreError::Thread)?
        };
        if let Some(path) = &path {
            info!(path = %path.display(), checks = run_ids.len(), "Store opened.");
        }
        Ok(Durable {
            inner: Arc::new(Inner {
                db,
                path,
                ops: Some(ops),
                writer: Some(writer),
                run_ids: Mutex::new(run_ids),
                spool_seq: AtomicU64::new(spool_seq),
                shared,
            }),
        })
    }

    /// The database file; `None` for [`Durable::memory`].
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Whether results survive a restart (`store: ok` rather than `store: memory`).
    pub fn is_persistent(&self) -> bool {
        self.inner.path.is_some()
    }

    /// The error of the last failed commit; cleared by the next successful one.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.inner.shared.last_error).clone()
    }

    /// Number of write transactions committed since open (each holds a group of writes).
    pub fn commits(&self) -> u64 {
        self.inner.shared.commits.load(Ordering::Relaxed)
    }

    fn send(&self, op: Op) {
        let urgent = !op.is_result();
        let sent = self
            .inner
            .ops
            .as_ref()
            .is_some_and(|ops| ops.send(op).is_ok());
        if urgent {
            if let Some(writer) = &self.inner.writer {
                writer.thread().unpark();
            }
        }
        if !sent {
            let mut last_error = lock(&self.inner.shared.last_error);
            if last_error.is_none() {
                error!("Store writer has stopped; results are no longer persisted.");
            }
            *last_error = Some(StoreError::Closed.to_string());
        }
    }

    /// Queues `result` for `check`, keeping the newest `keep` runs (`History`, at
    /// least 1), and returns the run id it gets: per check, increasing, persisted.
    pub fn append_result(&self, check: &str, keep: usize, result: &CheckResult) -> u64 {
        let run_id = {
            let mut run_ids = lock(&self.inner.run_ids);
            match run_ids.get_mut(check) {
                Some(last) => {
                    *last += 1;
                    *last
                }
                None => {
                    run_ids.insert(check.to_string(), 1);
                    1
                }
            }
        };
        let record = ResultRecord::from_result(result).encode();
        let output = OutputRecord {
            stdout: result.stdout.to_string(),
            stderr: result.stderr.to_string(),
        }
        .encode();
        let keep = u64::try_from(keep.max(1)).unwrap_or(u64::MAX);
        self.send(Op::Result {
            check: check.to_string(),
            run_id,
            keep,
            record,
            output,
        });
        run_id
    }

    /// The newest `limit` kept results of `check`, oldest first, with `run_id` and
    /// the captured stdout/stderr filled in. Records that cannot be decoded are skipped.
    pub async fn load_history(
        &self,
        check: &str,
        limit: usize,
    ) -> Result<Vec<CheckResult>, StoreError> {
        let check = check.to_string();
        self.read(move |db| load_history_blocking(db, &check, limit))
            .await
    }

    /// [`Durable::load_history`] for many checks in one go (start-up): `(name, limit)` pairs.
    pub async fn load_histories(
        &self,
        checks: Vec<(String, usize)>,
    ) -> Result<HashMap<String, Vec<CheckResult>>, StoreError> {
        self.read(move |db| {
            let mut histories = HashMap::with_capacity(checks.len());
            for (check, limit) in checks {
                let history = load_history_blocking(db, &check, limit)?;
                histories.insert(check, history);
            }
            Ok(histories)
        })
        .await
    }

    /// The newest `limit` kept runs of `check`, newest first.
    pub async fn runs(&self, check: &str, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        let check = check.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let results = txn.open_table(RESULTS).map_err(db_err)?;
            let mut runs = Vec::new();
            let range = results
                .range((check.as_str(), 0)..=(check.as_str(), u64::MAX))
                .map_err(db_err)?;
            for entry in range.rev().take(limit) {
                let (key, value) = entry.map_err(db_err)?;
                let id = key.value().1;
                let Some(record) = ResultRecord::decode(&check, id, value.value()) else {
                    continue;
                };
                runs.push(RunSummary {
                    id,
                    started_at: from_unix(record.started_s, record.started_ns),
                    duration: Duration::from_nanos(record.duration_ns),
                    state: state_from_code(record.state),
                    exit_code: record.exit_code,
                    output: record.output,
                    catch_up: record.catch_up,
                    forced: record.forced,
                });
            }
            Ok(runs)
        })
        .await
    }

    /// stdout/stderr of run `id` of `check`; `None` when that run is not kept.
    pub async fn run_output(&self, check: &str, id: u64) -> Result<Option<RunOutput>, StoreError> {
        let check = check.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let results = txn.open_table(RESULTS).map_err(db_err)?;
            let outputs = txn.open_table(OUTPUTS).map_err(db_err)?;
            let Some(record) = results.get((check.as_str(), id)).map_err(db_err)? else {
                return Ok(None);
            };
            let truncated =
                ResultRecord::decode(&check, id, record.value()).is_some_and(|r| r.truncated);
            let output = outputs
                .get((check.as_str(), id))
                .map_err(db_err)?
                .and_then(|value| OutputRecord::decode(&check, id, value.value()))
                .unwrap_or_default();
            Ok(Some(RunOutput {
                stdout: output.stdout,
                stderr: output.stderr,
                truncated,
            }))
        })
        .await
    }

    /// Marks the stored checks that are not in `alive` as missing (from now), and drops
    /// everything kept about those missing for at least `grace`: history, outputs,
    /// run-id counter, job slot. Returns the dropped names. Call it at start-up, after
    /// every reload and periodically (e.g. hourly).
    pub async fn prune<I, S>(&self, alive: I, grace: Duration) -> Result<Vec<String>, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let alive = alive.into_iter().map(Into::into).collect();
        let (reply, answer) = oneshot::channel();
        self.send(Op::Prune {
            alive,
            grace,
            reply,
        });
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Sets the spool bounds (`spool:`), applied from the next commit on.
    pub fn set_spool_limits(&self, limits: SpoolSettings) {
        *lock(&self.inner.shared.spool_limits) = limits;
    }

    /// Queues `payload` for delivery by `action` and returns its spool id. When the
    /// spool is over its bounds at commit, the oldest entries (over all actions) are
    /// dropped, counted in [`SpoolStats`] and logged.
    pub fn spool_push(&self, action: &str, payload: Vec<u8>) -> u64 {
        let id = self.inner.spool_seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.send(Op::SpoolPush {
            action: action.to_string(),
            id,
            payload,
        });
        id
    }

    /// Up to `max` committed entries of `action` with an id above `after`, oldest first.
    /// A sender keeps the last id it handed to the server as its cursor, so entries it
    /// has acknowledged but whose deletion is not committed yet are not sent twice.
    pub async fn spool_peek(
        &self,
        action: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<SpoolEntry>, StoreError> {
        let action = action.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let spool = txn.open_table(SPOOL).map_err(db_err)?;
            let Some(start) = after.checked_add(1) else {
                return Ok(Vec::new());
            };
            let range = spool
                .range((action.as_str(), start)..=(action.as_str(), u64::MAX))
                .map_err(db_err)?;
            let mut entries = Vec::new();
            for entry in range.take(max) {
                let (key, value) = entry.map_err(db_err)?;
                entries.push(SpoolEntry {
                    id: key.value().1,
                    payload: value.value().to_vec(),
                });
            }
            Ok(entries)
        })
        .await
    }

    /// Queues the deletion of delivered entries of `action`.
    pub fn spool_ack(&self, action: &str, ids: Vec<u64>) {
        if !ids.is_empty() {
            self.send(Op::SpoolAck {
                action: action.to_string(),
                ids,
            });
        }
    }

    /// Spool occupancy as of the last commit (for metrics and `/healthz`).
    pub fn spool_stats(&self) -> SpoolStats {
        lock(&self.inner.shared.spool).clone()
    }

    /// Changes after every commit that added spool entries: senders wait on it when
    /// [`Durable::spool_peek`] comes back empty.
    pub fn spool_watch(&self) -> watch::Receiver<u64> {
        self.inner.shared.spool_commits.subscribe()
    }

    /// A meta value (`boot_id`, …), as committed.
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let meta = txn.open_table(META).map_err(db_err)?;
            Ok(meta
                .get(key.as_str())
                .map_err(db_err)?
                .map(|value| value.value().to_string()))
        })
        .await
    }

    /// Queues setting (`Some`) or removing (`None`) a meta value.
    pub fn meta_set(&self, key: &str, value: Option<&str>) {
        self.send(Op::Meta {
            key: key.to_string(),
            value: value.map(str::to_string),
        });
    }

    /// The last scheduled slot of `job` (catch-up), as committed.
    pub async fn job_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let job = job.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let slots = txn.open_table(JOB_SLOTS).map_err(db_err)?;
            let at_us = slots
                .get(job.as_str())
                .map_err(db_err)?
                .map(|value| value.value());
            Ok(at_us.and_then(DateTime::<Utc>::from_timestamp_micros))
        })
        .await
    }

    /// Queues recording `at` as the last scheduled slot of `job`.
    pub fn set_job_slot(&self, job: &str, at: DateTime<Utc>) {
        self.send(Op::JobSlot {
            job: job.to_string(),
            at_us: at.timestamp_micros(),
        });
    }

    /// Commits everything queued so far and waits for it (shutdown, tests,
    /// read-your-writes).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Flush(reply));
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.inner.db);
        match tokio::task::spawn_blocking(move || work(&db)).await {
            Ok(result) => result,
            Err(join_error) => Err(StoreError::Write(format!(
                "store read failed: {join_error}"
            ))),
        }
    }
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

fn create_state_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Creates the tables and loads the run-id counters and the spool occupancy.
fn init_tables(db: &Database) -> Result<(HashMap<String, u64>, SpoolStats, u64), StoreError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_quick_repair(true);
    let mut run_ids = HashMap::new();
    let mut spool_stats = SpoolStats::default();
    let mut spool_seq = 0;
    {
        txn.open_table(RESULTS).map_err(db_err)?;
        txn.open_table(OUTPUTS).map_err(db_err)?;
        txn.open_table(MISSING_SINCE).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.open_table(JOB_SLOTS).map_err(db_err)?;
        let counters = txn.open_table(RUN_IDS).map_err(db_err)?;
        for entry in counters.iter().map_err(db_err)? {
            let (check, last) = entry.map_err(db_err)?;
            run_ids.insert(check.value().to_string(), last.value());
        }
        let spool = txn.open_table(SPOOL).map_err(db_err)?;
        for entry in spool.iter().map_err(db_err)? {
            let (key, payload) = entry.map_err(db_err)?;
            let (action, id) = key.value();
            spool_stats.add(action, payload.value().len() as u64);
            spool_seq = spool_seq.max(id);
        }
    }
    txn.commit().map_err(db_err)?;
    Ok((run_ids, spool_stats, spool_seq))
}

fn writer_loop(db: &Database, queue: &mpsc::Receiver<Op>, shared: &Shared) {
    while let Ok(first) = queue.recv() {
        let started = Instant::now();
        // Results only: the long window; the first other write tightens it to D5's.
        let mut tight = !first.is_result();
        let mut now_please = first.is_barrier();
        let mut group = vec![first];
        let mut closed = false;
        loop {
            // Take what is queued without a wake-up per write: senders of history
            // results do not wake this thread, senders of anything else do (see `send`).
            while !now_please && !closed && group.len() < group_limits(tight).1 {
                match queue.try_recv() {
                    Ok(op) => {
                        tight |= !op.is_result();
                        now_please |= op.is_barrier();
                        group.push(op);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => closed = true,
                }
            }
            let (window, max) = group_limits(tight);
            let deadline = started + window;
            let now = Instant::now();
            if now_please || closed || group.len() >= max || now >= deadline {
                break;
            }
            thread::park_timeout((deadline - now).min(PARK_SLICE));
        }
        commit_group(db, shared, group);
        if closed {
            return;
        }
    }
}

/// `(window, max)` of a group: D5's for one with a non-result write in it (`tight`).
fn group_limits(tight: bool) -> (Duration, usize) {
    if tight {
        (GROUP_WINDOW, GROUP_MAX)
    } else {
        (RESULTS_WINDOW, RESULTS_MAX)
    }
}

/// Longest nap of the writer inside a group window (how late it may notice `RESULTS_MAX`).
const PARK_SLICE: Duration = Duration::from_millis(50);

enum Reply {
    Flush(oneshot::Sender<Result<(), StoreError>>),
    Prune(
        oneshot::Sender<Result<Vec<String>, StoreError>>,
        Vec<String>,
    ),
}

/// What one group did, applied to the shared state once it is committed.
#[derive(Default)]
struct GroupEffects {
    replies: Vec<Reply>,
    spool_pushed: bool,
    dropped: BTreeMap<String, u64>,
}

fn commit_group(db: &Database, shared: &Shared, group: Vec<Op>) {
    let started = Instant::now();
    let n_ops = group.len();
    let limits = *lock(&shared.spool_limits);
    let mut spool = lock(&shared.spool).clone();
    let mut effects = GroupEffects::default();
    let outcome = apply_group(db, group, &mut spool, limits, &mut effects);
    match outcome {
        Ok(()) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            *lock(&shared.spool) = spool;
            let recovered = lock(&shared.last_error).take();
            if let Some(previous) = recovered {
                info!(previous_error = %previous, "Store writes work again.");
            }
            for (action, dropped) in &effects.dropped {
                warn!(action = %action, dropped, "Spool full, dropped the oldest results.");
            }
            if effects.spool_pushed {
                shared.spool_commits.send_modify(|n| *n += 1);
            }
            debug!(
                ops = n_ops,
                elapsed_us = started.elapsed().as_micros() as u64,
                "Store group committed."
            );
            for reply in effects.replies {
                match reply {
                    Reply::Flush(tx) => {
                        let _ = tx.send(Ok(()));
                    }
                    Reply::Prune(tx, removed) => {
                        let _ = tx.send(Ok(removed));
                    }
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            {
                let mut last_error = lock(&shared.last_error);
                if last_error.is_none() {
                    error!(error = %message, ops = n_ops, "Store commit failed; keeping results in memory only.");
                } else {
                    debug!(error = %message, ops = n_ops, "Store commit failed again.");
                }
                *last_error = Some(message.clone());
            }
            for reply in effects.replies {
                match reply {
                    Reply::Flush(tx) => {
                        let _ = tx.send(Err(StoreError::Write(message.clone())));
                    }
                    Reply::Prune(tx, _) => {
                        let _ = tx.send(Err(StoreError::Write(message.clone())));
                    }
                }
            }
        }
    }
}

fn apply_group(
    db: &Database,
    group: Vec<Op>,
    spool_stats: &mut SpoolStats,
    limits: SpoolSettings,
    effects: &mut GroupEffects,
) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    let mut pending_prunes = Vec::new();
    {
        let mut results = txn.open_table(RESULTS)?;
        let mut outputs = txn.open_table(OUTPUTS)?;
        let mut run_ids = txn.open_table(RUN_IDS)?;
        let mut missing = txn.open_table(MISSING_SINCE)?;
        let mut spool = txn.open_table(SPOOL)?;
        let mut meta = txn.open_table(META)?;
        let mut job_slots = txn.open_table(JOB_SLOTS)?;
        for op in group {
            match op {
                Op::Result {
                    check,
                    run_id,
                    keep,
                    record,
                    output,
                } => {
                    let check = check.as_str();
                    results.insert((check, run_id), record.as_slice())?;
                    outputs.insert((check, run_id), output.as_slice())?;
                    let stored = run_ids.get(check)?.map(|last| last.value()).unwrap_or(0);
                    if run_id > stored {
                        run_ids.insert(check, run_id)?;
                    }
                    if let Some(cut) = run_id.checked_sub(keep) {
                        if cut > 0 {
                            results.retain_in((check, 0)..=(check, cut), |_, _| false)?;
                            outputs.retain_in((check, 0)..=(check, cut), |_, _| false)?;
                        }
                    }
                }
                Op::SpoolPush {
                    action,
                    id,
                    payload,
                } => {
                    spool.insert((action.as_str(), id), payload.as_slice())?;
                    spool_stats.add(&action, payload.len() as u64);
                    effects.spool_pushed = true;
                }
                Op::SpoolAck { action, ids } => {
                    for id in ids {
                        let removed = spool
                            .remove((action.as_str(), id))?
                            .map(|old| old.value().len() as u64);
                        if let Some(bytes) = removed {
                            spool_stats.sub(&action, bytes);
                        }
                    }
                }
                Op::Meta { key, value } => match value {
                    Some(value) => {
                        meta.insert(key.as_str(), value.as_str())?;
                    }
                    None => {
                        meta.remove(key.as_str())?;
                    }
                },
                Op::JobSlot { job, at_us } => {
                    job_slots.insert(job.as_str(), at_us)?;
                }
                Op::Prune {
                    alive,
                    grace,
                    reply,
                } => {
                    let now = Utc::now().timestamp();
                    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
                    let mut known = BTreeSet::new();
                    for entry in run_ids.iter()? {
                        known.insert(entry?.0.value().to_string());
                    }
                    for entry in missing.iter()? {
                        known.insert(entry?.0.value().to_string());
                    }
                    for entry in job_slots.iter()? {
                        known.insert(entry?.0.value().to_string());
                    }
                    let mut removed = Vec::new();
                    for name in known {
                        let key = name.as_str();
                        if alive.contains(&name) {
                            missing.remove(key)?;
                            continue;
                        }
                        let since = missing.get(key)?.map(|since| since.value());
                        match since {
                            None => {
                                missing.insert(key, now)?;
                            }
                            Some(since) if now.saturating_sub(since) >= grace => {
                                results.retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
                                outputs.retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
                                run_ids.remove(key)?;
                                missing.remove(key)?;
                                job_slots.remove(key)?;
                                removed.push(name);
                            }
                            Some(_) => {}
                        }
                    }
                    pending_prunes.push((reply, removed));
                }
                Op::Flush(reply) => effects.replies.push(Reply::Flush(reply)),
            }
        }
        drop_oldest(&mut spool, spool_stats, limits, &mut effects.dropped)?;
    }
    for (reply, removed) in pending_prunes {
        effects.replies.push(Reply::Prune(reply, removed));
    }
    txn.commit()?;
    Ok(())
}

/// Drops the oldest spool entries (over all actions) until the spool is within `limits`.
fn drop_oldest(
    spool: &mut redb::Table<'_, (&'static str, u64), &'static [u8]>,
    spool_stats: &mut SpoolStats,
    limits: SpoolSettings,
    dropped: &mut BTreeMap<String, u64>,
) -> Result<(), redb::Error> {
    while spool_stats.over(limits) {
        let mut oldest: Option<(String, u64)> = None;
        for (action, stats) in &spool_stats.actions {
            if stats.results == 0 {
                continue;
            }
            let first = spool
                .range((action.as_str(), 0)..=(action.as_str(), u64::MAX))?
                .next();
            if let Some(entry) = first {
                let id = entry?.0.value().1;
                if oldest.as_ref().is_none_or(|(_, oldest_id)| id < *oldest_id) {
                    oldest = Some((action.clone(), id));
                }
            }
        }
        let Some((action, id)) = oldest else {
            // The counters disagree with the table: nothing is left to drop.
            spool_stats.results = 0;
            spool_stats.bytes = 0;
            spool_stats.actions.values_mut().for_each(|stats| {
                stats.results = 0;
                stats.bytes = 0;
            });
            break;
        };
        let removed = spool
            .remove((action.as_str(), id))?
            .map(|old| old.value().len() as u64);
        spool_stats.sub(&action, removed.unwrap_or(0));
        if let Some(stats) = spool_stats.actions.get_mut(&action) {
            stats.dropped += 1;
        }
        *dropped.entry(action).or_default() += 1;
    }
    Ok(())
}

fn load_history_blocking(
    db: &Database,
    check: &str,
    limit: usize,
) -> Result<Vec<CheckResult>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let results = txn.open_table(RESULTS).map_err(db_err)?;
    let outputs = txn.open_table(OUTPUTS).map_err(db_err)?;
    let mut history = Vec::new();
    let range = results
        .range((check, 0)..=(check, u64::MAX))
        .map_err(db_err)?;
    for entry in range.rev().take(limit) {
        let (key, value) = entry.map_err(db_err)?;
        let run_id = key.value().1;
        let Some(record) = ResultRecord::decode(check, run_id, value.value()) else {
            continue;
        };
        let mut result = record.into_result();
        result.run_id = run_id;
        if let Some(output) = outputs.get((check, run_id)).map_err(db_err)? {
            if let Some(output) = OutputRecord::decode(check, run_id, output.value()) {
                result.stdout = Arc::from(output.stdout);
                result.stderr = Arc::from(output.stderr);
            }
        }
        history.push(result);
    }
    history.reverse();
    Ok(history)
}

fn state_from_code(code: u8) -> State {
    State::from_code(i64::from(code)).unwrap_or(State::Unknown)
}

fn from_unix(secs: i64, nanos: u32) -> DateTime<Local> {
    DateTime::<Utc>::from_timestamp(secs, nanos)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .with_timezone(&Local)
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Storage form of a [`CheckResult`] (without the captured streams, see [`OutputRecord`]).
/// Short keys keep it compact; every field defaults so old records stay readable.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ResultRecord {
    #[serde(rename = "s", default)]
    state: u8,
    #[serde(rename = "o", default)]
    output: String,
    #[serde(rename = "lo", default, skip_serializing_if = "Option::is_none")]
    long_output: Option<String>,
    #[serde(rename = "pd", default, skip_serializing_if = "Vec::is_empty")]
    perfdata: Vec<PerfRecord>,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    messages: Option<MessagesRecord>,
    #[serde(rename = "cr", default, skip_serializing_if = "Option::is_none")]
    component_results: Option<Vec<ComponentRecord>>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    action: Option<Box<ResultRecord>>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(rename = "sg", default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(rename = "d", default)]
    duration_ns: u64,
    #[serde(rename = "t", default)]
    started_s: i64,
    #[serde(rename = "tn", default)]
    started_ns: u32,
    #[serde(rename = "f", default, skip_serializing_if = "is_false")]
    forced: bool,
    #[serde(rename = "tr", default, skip_serializing_if = "is_false")]
    truncated: bool,
    #[serde(rename = "cu", default, skip_serializing_if = "is_false")]
    catch_up: bool,
    #[serde(rename = "to", default, skip_serializing_if = "is_false")]
    timed_out: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PerfRecord {
    #[serde(rename = "l")]
    label: String,
    #[serde(rename = "v", default)]
    value: Option<f64>,
    #[serde(rename = "u", default)]
    uom: String,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    warn: Option<String>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    crit: Option<String>,
    #[serde(rename = "mn", default, skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(rename = "mx", default, skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MessagesRecord {
    #[serde(rename = "i", default)]
    info: Vec<String>,
    #[serde(rename = "e", default)]
    error: Vec<String>,
    #[serde(rename = "w", default)]
    warn: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ComponentRecord {
    #[serde(rename = "n")]
    name: String,
    #[serde(rename = "s", default)]
    state: u8,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    messages: Option<MessagesRecord>,
}

impl MessagesRecord {
    fn from_messages(messages: &Messages) -> MessagesRecord {
        MessagesRecord {
            info: messages.info.clone(),
            error: messages.error.clone(),
            warn: messages.warn.clone(),
        }
    }

    fn into_messages(self) -> Messages {
        Messages {
            info: self.info,
            error: self.error,
            warn: self.warn,
        }
    }
}

impl ResultRecord {
    fn from_result(result: &CheckResult) -> ResultRecord {
        ResultRecord {
            state: result.state.code(),
            output: result.output.clone(),
            long_output: result.long_output.clone(),
            perfdata: result
                .perfdata
                .iter()
                .map(|datum| PerfRecord {
                    label: datum.label.clone(),
                    value: datum.value,
                    uom: datum.uom.clone(),
                    warn: datum.warn.clone(),
                    crit: datum.crit.clone(),
                    min: datum.min,
                    max: datum.max,
                })
                .collect(),
            messages: result.messages.as_ref().map(MessagesRecord::from_messages),
            component_results: result.component_results.as_ref().map(|components| {
                components
                    .iter()
                    .map(|(name, component)| ComponentRecord {
                        name: name.clone(),
                        state: component.state.code(),
                        messages: component
                            .messages
                            .as_ref()
                            .map(MessagesRecord::from_messages),
                    })
                    .collect()
            }),
            action: result
                .action
                .as_deref()
                .map(|action| Box::new(ResultRecord::from_result(action))),
            exit_code: result.exit_code,
            signal: result.signal,
            duration_ns: u64::try_from(result.duration.as_nanos()).unwrap_or(u64::MAX),
            started_s: result.started_at.timestamp(),
            started_ns: result.started_at.timestamp_subsec_nanos(),
            forced: result.forced,
            truncated: result.truncated,
            catch_up: result.catch_up,
            timed_out: result.timed_out,
        }
    }

    fn into_result(self) -> CheckResult {
        CheckResult {
            state: state_from_code(self.state),
            output: self.output,
            long_output: self.long_output,
            perfdata: self
                .perfdata
                .into_iter()
                .map(|datum| PerfDatum {
                    label: datum.label,
                    value: datum.value,
                    uom: datum.uom,
                    warn: datum.warn,
                    crit: datum.crit,
                    min: datum.min,
                    max: datum.max,
                })
                .collect(),
            messages: self.messages.map(MessagesRecord::into_messages),
            component_results: self.component_results.map(|components| {
                components
                    .into_iter()
                    .map(|component| {
                        let result = ComponentResult {
                            state: state_from_code(component.state),
                            messages: component.messages.map(MessagesRecord::into_messages),
                        };
                        (component.name, result)
                    })
                    .collect::<IndexMap<_, _>>()
            }),
            action: self.action.map(|action| Box::new(action.into_result())),
            exit_code: self.exit_code,
            signal: self.signal,
            duration: Duration::from_nanos(self.duration_ns),
            started_at: from_unix(self.started_s, self.started_ns),
            forced: self.forced,
            truncated: self.truncated,
            catch_up: self.catch_up,
            timed_out: self.timed_out,
            stdout: Arc::from(""),
            stderr: Arc::from(""),
            run_id: 0,
        }
    }

    fn encode(&self) -> Vec<u8> {
        // Plain structs of strings and numbers always serialize (non-finite floats become null).
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn decode(check: &str, run_id: u64, bytes: &[u8]) -> Option<ResultRecord> {
        match serde_json::from_slice(bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                warn!(check = %check, run_id, error = %e, "Skipping an unreadable stored result.");
                None
            }
        }
    }
}

/// Storage form of the captured streams of one run.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OutputRecord {
    #[serde(rename = "o", default)]
    stdout: String,
    #[serde(rename = "e", default)]
    stderr: String,
}

impl OutputRecord {
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn decode(check: &str, run_id: u64, bytes: &[u8]) -> Option<OutputRecord> {
        match serde_json::from_slice(bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                warn!(check = %check, run_id, error = %e, "Skipping unreadable stored output.");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
