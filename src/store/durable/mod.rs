//! Durable store: one redb file (`state_dir/smokerd.redb`, decisions.md D5/D8) that
//! survives restarts and `kill -9`. This module owns the handle, [`Durable`], and its
//! public API; each concern lives in one child:
//! - `history`: per-check result history, keyed by (check name, run id), bounded by
//!   `History`; the per-check run-id counter (persisted, increasing); the full
//!   stdout/stderr of every kept run (`GET /v2/plugins/{name}/runs/{id}/output`); the
//!   time since which a stored check name has been missing from the config (dropped
//!   after `removed_check_grace`);
//! - `spool`: the NSCA spool, a FIFO of opaque payloads per action, bounded in count
//!   and bytes over all actions (the oldest entry is dropped and counted when full);
//! - `meta`: a small meta table (boot id for `@reboot`, …) and the last scheduled slot
//!   of each job;
//! - `records`: the stored encodings of results and outputs;
//! - `open`: opening the file (or memory) and loading what the handle keeps;
//! - `writer`: the writer thread and its group windows; `shared`: what the handle and
//!   the thread share, and one group's outcome; `commit`: one group in one
//!   transaction; `heal`: after a write fault (ENOSPC, EIO, read-only), the writes
//!   held in memory (`held`) and the re-open with backoff that writes them back;
//! - leaves: `tables` (table definitions), `error` ([`StoreError`]), `op` (what is
//!   queued to the writer). Children never use this file's names.
//!
//! Writes never block the caller: they are queued to one writer thread that groups
//! them into one transaction. A group holding spool, meta or job-slot writes commits
//! within ≤100 ms or ≤256 operations (D5); a group of history results only within
//! ≤1 s or ≤4096 results, which halves the writer's CPU at hundreds of runs a second.
//! A `kill -9` loses at most the last uncommitted group. Reads are async (redb work on
//! `spawn_blocking`) and see committed state only: call [`Durable::flush`] first to
//! read your writes.
//! Failures are values ([`StoreError`]), never panics; the daemon keeps running on
//! [`Durable::memory`] when the file cannot be opened, and a store whose writes fail
//! later is *degraded*: it serves the spool from memory and heals itself
//! ([`Durable::degraded`], [`Durable::faults`]).
//!
//! Domain types (`crate::check`) carry no serde; `records` converts
//! them to its own compact storage records explicitly.

mod commit;
mod error;
mod heal;
mod held;
mod history;
mod meta;
mod op;
mod open;
mod records;
mod shared;
mod spool;
mod tables;
mod writer;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use redb::Database;
use tokio::sync::{oneshot, watch};
use tracing::info;

pub use self::{
    error::StoreError,
    heal::{REOPEN_FIRST, REOPEN_MAX},
    history::{RunOutput, RunSummary},
    records::{decode_result, encode_result, encode_result_without_messages},
    spool::{ActionSpoolStats, SpoolEntry, SpoolStats},
    writer::{GROUP_MAX, GROUP_WINDOW, RESULTS_MAX, RESULTS_WINDOW},
};
use self::{
    heal::Opener,
    history::{NewResult, RunIds},
    op::Op,
    open::Loaded,
    writer::Writer,
};
use crate::{check::CheckResult, config::SpoolSettings};

/// File name of the database inside `state_dir`.
pub const FILE_NAME: &str = "smokerd.redb";

/// Handle to the durable store. Cheap to clone; the last clone dropped commits what
/// is queued and closes the file.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    /// Dropping it commits what is queued and joins the thread.
    writer: Writer,
    run_ids: RunIds,
    /// Last spool id handed out.
    spool_seq: AtomicU64,
}

impl Durable {
    /// Opens (creating if needed) the database at `path`, creating its directory.
    /// A file that is not a redb database, is corrupt, is locked by another process
    /// or cannot be written is an error, never a panic.
    pub fn open(path: impl AsRef<Path>) -> Result<Durable, StoreError> {
        let path = path.as_ref().to_path_buf();
        let reopen: Opener = {
            let path = path.clone();
            Box::new(move || open::open_file(&path))
        };
        Durable::open_with(path, reopen)
    }

    /// Opens the store at `path` with `open`, which also re-opens it after a write fault.
    fn open_with(path: PathBuf, open: Opener) -> Result<Durable, StoreError> {
        let (db, loaded) = open()?;
        Durable::start(db, loaded, Some(path), Some(open))
    }

    /// Opens `state_dir/smokerd.redb`.
    pub fn open_in(state_dir: impl AsRef<Path>) -> Result<Durable, StoreError> {
        Durable::open(state_dir.as_ref().join(FILE_NAME))
    }

    /// A store with the same behaviour that lives in memory only (`store: memory`):
    /// the daemon's fallback when the file cannot be used.
    pub fn memory() -> Result<Durable, StoreError> {
        let (db, loaded) = open::open_memory()?;
        Durable::start(db, loaded, None, None)
    }

    fn start(
        db: Database,
        loaded: Loaded,
        path: Option<PathBuf>,
        reopen: Option<Opener>,
    ) -> Result<Durable, StoreError> {
        let writer = Writer::spawn(db, loaded.spool, reopen)?;
        if let Some(path) = &path {
            info!(path = %path.display(), checks = loaded.run_ids.len(), "Store opened.");
        }
        Ok(Durable {
            inner: Arc::new(Inner {
                path,
                writer,
                run_ids: loaded.run_ids,
                spool_seq: AtomicU64::new(loaded.spool_seq),
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
        self.inner.writer.shared().last_error()
    }

    /// Whether writes are held in memory after a write fault (the store re-opens the
    /// file with backoff, [`REOPEN_FIRST`] doubling to [`REOPEN_MAX`], and writes them
    /// back): `(results, spool entries)` held, `None` when the store works.
    pub fn degraded(&self) -> Option<(usize, usize)> {
        self.inner.writer.shared().held()
    }

    /// Write faults (transitions to degraded) since open.
    pub fn faults(&self) -> u64 {
        self.inner.writer.shared().faults()
    }

    /// Number of write transactions committed since open (each holds a group of writes).
    pub fn commits(&self) -> u64 {
        self.inner.writer.shared().commits()
    }

    fn send(&self, op: Op) {
        self.inner.writer.send(op);
    }

    /// Queues `result` for `check`, keeping the newest `keep` runs (`History`, at
    /// least 1), and returns the run id it gets: per check, increasing, persisted.
    pub fn append_result(&self, check: &str, keep: usize, result: &CheckResult) -> u64 {
        let run_id = self.inner.run_ids.next(check);
        self.send(Op::Result {
            check: check.to_string(),
            result: NewResult::new(run_id, keep, result),
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
        self.read(move |db| history::load(db, &check, limit)).await
    }

    /// [`Durable::load_history`] for many checks in one go (start-up): `(name, limit)` pairs.
    pub async fn load_histories(
        &self,
        checks: Vec<(String, usize)>,
    ) -> Result<HashMap<String, Vec<CheckResult>>, StoreError> {
        self.read(move |db| history::load_many(db, checks)).await
    }

    /// The newest `limit` kept runs of `check`, newest first.
    pub async fn runs(&self, check: &str, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        let check = check.to_string();
        self.read(move |db| history::runs(db, &check, limit)).await
    }

    /// stdout/stderr of run `id` of `check`; `None` when that run is not kept.
    pub async fn run_output(&self, check: &str, id: u64) -> Result<Option<RunOutput>, StoreError> {
        let check = check.to_string();
        self.read(move |db| history::run_output(db, &check, id))
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
        let dropped = answer.await.map_err(|_| StoreError::Closed)??;
        self.inner.run_ids.forget(&dropped);
        Ok(dropped)
    }

    /// Sets the spool bounds (`spool:`), applied from the next commit on.
    pub fn set_spool_limits(&self, limits: SpoolSettings) {
        self.inner.writer.shared().set_spool_limits(limits);
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

    /// Up to `max` committed entries of `action` with an id above `after`, oldest first
    /// (while degraded, with those held in memory).
    /// A sender keeps the last id it handed to the server as its cursor, so entries it
    /// has acknowledged but whose deletion is not committed yet are not sent twice.
    pub async fn spool_peek(
        &self,
        action: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<SpoolEntry>, StoreError> {
        let shared = self.inner.writer.shared();
        if let Some(held) = shared.held_peek(action, after, max) {
            return Ok(held);
        }
        let owned = action.to_string();
        let mut entries = self
            .read(move |db| spool::peek(db, &owned, after, max))
            .await?;
        let held = shared.held_entries(action, after, max);
        if !held.is_empty() {
            entries.extend(held);
            entries.sort_by_key(|entry| entry.id);
            entries.dedup_by_key(|entry| entry.id);
            entries.truncate(max);
        }
        Ok(entries)
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
        self.inner.writer.shared().spool_stats()
    }

    /// Changes after every commit that added spool entries: senders wait on it when
    /// [`Durable::spool_peek`] comes back empty.
    pub fn spool_watch(&self) -> watch::Receiver<u64> {
        self.inner.writer.shared().spool_watch()
    }

    /// A meta value (`boot_id`, …), as committed.
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.read(move |db| meta::get(db, &key)).await
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
        self.read(move |db| meta::job_slot(db, &job)).await
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

    /// [`Durable::flush`] at a graceful stop: while degraded, it first tries to re-open
    /// the store at once and write back what is held in memory.
    pub async fn flush_reopen(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::FlushReopen(reply));
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self
            .inner
            .writer
            .shared()
            .db()
            .ok_or(StoreError::Reopening)?;
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

#[cfg(test)]
mod heal_tests;
#[cfg(test)]
mod tests;
