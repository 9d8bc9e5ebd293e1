//! The state the [`Durable`](super::Durable) handle and the writer thread share
//! ([`Shared`]): the open database (reads clone it), the last error, the spool
//! occupancy and bounds, the writes held in memory while degraded, the counters; and
//! one group's commit ([`commit_group`]) with its outcome.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use redb::Database;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::{
    commit::{self, GroupEffects},
    error::{StoreError, db_err},
    held::Held,
    op::Op,
    spool::{SpoolEntry, SpoolStats},
};
use crate::config::SpoolSettings;

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared between the handle and the writer thread.
pub(super) struct Shared {
    /// The open database (reads clone it); `None` while it is being re-opened.
    db: RwLock<Option<Arc<Database>>>,
    /// The writes held in memory while the file cannot be written (`Some` = degraded).
    held: Mutex<Option<Held>>,
    /// Write faults (transitions to degraded) since open.
    faults: AtomicU64,
    last_error: Mutex<Option<String>>,
    spool: Mutex<SpoolStats>,
    spool_limits: Mutex<SpoolSettings>,
    /// Bumped after every commit that added spool entries.
    spool_commits: watch::Sender<u64>,
    /// Groups committed since open.
    commits: AtomicU64,
}

impl Shared {
    pub(super) fn new(db: Arc<Database>, spool: SpoolStats) -> Shared {
        let (spool_commits, _) = watch::channel(0);
        Shared {
            db: RwLock::new(Some(db)),
            held: Mutex::new(None),
            faults: AtomicU64::new(0),
            last_error: Mutex::new(None),
            spool: Mutex::new(spool),
            spool_limits: Mutex::new(SpoolSettings::default()),
            spool_commits,
            commits: AtomicU64::new(0),
        }
    }

    /// The error of the last failed commit; cleared by the next successful one.
    pub(super) fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// Groups committed since open.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Spool occupancy as of the last commit.
    pub(super) fn spool_stats(&self) -> SpoolStats {
        lock(&self.spool).clone()
    }

    /// Sets the spool bounds applied from the next commit on.
    pub(super) fn set_spool_limits(&self, limits: SpoolSettings) {
        *lock(&self.spool_limits) = limits;
    }

    /// Changes after every commit that added spool entries.
    pub(super) fn spool_watch(&self) -> watch::Receiver<u64> {
        self.spool_commits.subscribe()
    }

    /// The queue is closed: nothing sent from now on is persisted.
    pub(super) fn stopped(&self) {
        let mut last_error = lock(&self.last_error);
        if last_error.is_none() {
            error!("Store writer has stopped; results are no longer persisted.");
        }
        *last_error = Some(StoreError::Closed.to_string());
    }

    /// A group of `ops` operations started at `started` is committed: publish its
    /// spool occupancy and effects, clear the last error and answer its waiters.
    fn committed(&self, spool: SpoolStats, effects: GroupEffects, ops: usize, started: Instant) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        *lock(&self.spool) = spool;
        let recovered = lock(&self.last_error).take();
        if let Some(previous) = recovered {
            info!(previous_error = %previous, "Store writes work again.");
        }
        for (action, dropped) in &effects.dropped {
            warn!(action = %action, dropped, "Spool full, dropped the oldest results.");
        }
        if effects.spool_pushed {
            self.spool_commits.send_modify(|n| *n += 1);
        }
        debug!(
            ops,
            elapsed_us = started.elapsed().as_micros() as u64,
            "Store group committed."
        );
        effects.reply_committed();
    }

    /// The database reads go to; `None` while it is being re-opened.
    pub(super) fn db(&self) -> Option<Arc<Database>> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_db(&self, db: Option<Arc<Database>>) {
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = db;
    }

    /// Write faults since open (each a transition to degraded).
    pub(super) fn faults(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }

    /// `(results, spool entries)` held in memory; `None` unless degraded.
    pub(super) fn held(&self) -> Option<(usize, usize)> {
        lock(&self.held).as_ref().map(Held::counts)
    }

    /// While degraded, the held spool entries of `action` after `after` when the file
    /// has none of that action; `None` when the file must be read.
    pub(super) fn held_peek(
        &self,
        action: &str,
        after: u64,
        max: usize,
    ) -> Option<Vec<SpoolEntry>> {
        lock(&self.held).as_ref()?.peek(action, after, max)
    }

    /// The held spool entries of `action` after `after` (none unless degraded).
    pub(super) fn held_entries(&self, action: &str, after: u64, max: usize) -> Vec<SpoolEntry> {
        lock(&self.held)
            .as_ref()
            .map(|held| held.entries(action, after, max))
            .unwrap_or_default()
    }

    /// The first failed commit (`message`) of a store that worked: log it once, count
    /// it, and hold the group's `writes` and every later one in memory.
    pub(super) fn fault(&self, message: String, writes: Vec<Op>) {
        error!(error = %message, "Store write failed; keeping results in memory and re-opening the store.");
        self.faults.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = Some(message);
        {
            let spool = lock(&self.spool);
            *lock(&self.held) = Some(Held::new(&spool));
        }
        self.hold(writes);
    }

    /// Why the store is degraded now (a failed re-open says it better than the fault).
    pub(super) fn set_error(&self, message: String) {
        *lock(&self.last_error) = Some(message);
    }

    /// Holds `writes` in memory (degraded), within the spool bounds.
    pub(super) fn hold(&self, writes: Vec<Op>) {
        let limits = *lock(&self.spool_limits);
        let mut pushed = false;
        {
            let mut held = lock(&self.held);
            let Some(held) = held.as_mut() else {
                return;
            };
            let mut spool = lock(&self.spool);
            for op in writes {
                pushed |= held.hold(op, &mut spool, limits);
            }
        }
        if pushed {
            self.spool_commits.send_modify(|n| *n += 1);
        }
    }

    /// Writes what is held back into `db`, just re-opened, whose spool holds `spool`,
    /// in one group; on success the store is no longer degraded.
    pub(super) fn write_back(
        &self,
        db: &Database,
        mut spool: SpoolStats,
    ) -> Result<(), StoreError> {
        let Some((ops, (results, entries))) = lock(&self.held)
            .as_ref()
            .map(|held| (held.ops(), held.counts()))
        else {
            return Ok(());
        };
        // Drops are counted since this process opened the store, not since the re-open.
        for (action, stats) in &lock(&self.spool).actions {
            spool.actions.entry(action.clone()).or_default().dropped = stats.dropped;
        }
        let limits = *lock(&self.spool_limits);
        let mut effects = GroupEffects::default();
        commit::apply_group(db, &ops, &mut spool, limits, &mut effects).map_err(db_err)?;
        *lock(&self.held) = None;
        *lock(&self.spool) = spool;
        let previous = lock(&self.last_error).take().unwrap_or_default();
        info!(results, spool_entries = entries, previous_error = %previous,
            "Store re-opened; the results kept in memory are written back.");
        self.spool_commits.send_modify(|n| *n += 1);
        Ok(())
    }
}

/// A group that failed: the error, its writes and its waiters (to answer once the
/// fault is recorded).
pub(super) type Failed = Box<(String, Vec<Op>, GroupEffects)>;

/// Commits `group` to `db` and records the outcome in `shared`; on failure hands back
/// the group.
pub(super) fn commit_group(db: &Database, shared: &Shared, group: Vec<Op>) -> Result<(), Failed> {
    let started = Instant::now();
    let ops = group.len();
    let limits = *lock(&shared.spool_limits);
    let mut spool = lock(&shared.spool).clone();
    let mut effects = GroupEffects::default();
    let outcome = commit::apply_group(db, &group, &mut spool, limits, &mut effects);
    let writes = effects.take_waiters(group);
    match outcome {
        Ok(()) => {
            shared.committed(spool, effects, ops, started);
            Ok(())
        }
        Err(e) => Err(Box::new((e.to_string(), writes, effects))),
    }
}
