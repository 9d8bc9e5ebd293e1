//! The writer thread: the one place that writes the redb file. Queued [`Op`]s are
//! grouped into one transaction; a group holding spool, meta or job-slot writes
//! commits within ≤[`GROUP_WINDOW`] or ≤[`GROUP_MAX`] operations (D5), a group of
//! history results only within ≤[`RESULTS_WINDOW`] or ≤[`RESULTS_MAX`]. A prune or
//! flush commits its group at once.
//!
//! Seams: [`Writer::spawn`] starts the thread on an opened database; the thread's
//! loop (`heal::Healing`) commits each group (`commit::apply_group`) or, after a write
//! fault, holds it in memory and re-opens the file with backoff. Outcomes land in
//! [`Shared`]: [`Shared::committed`] on success, [`Shared::fault`] on the first error
//! (the handle reads it as `last_error`), [`Shared::write_back`] once re-opened.
//! Closing the queue (dropping the [`Writer`]) commits what is left (after one last
//! re-open when degraded).

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use redb::Database;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::{
    commit::{self, GroupEffects},
    error::{StoreError, db_err},
    heal::{Healing, Opener},
    held::Held,
    op::Op,
    spool::{SpoolEntry, SpoolStats},
};
use crate::config::SpoolSettings;

/// Longest time a queued spool (or other non-result) write waits for its group to commit.
pub const GROUP_WINDOW: Duration = Duration::from_millis(100);
/// Most operations committed in one transaction with a spool (or other non-result) write.
pub const GROUP_MAX: usize = 256;
/// Longest time a history result waits for its group to commit (no spool write in it).
pub const RESULTS_WINDOW: Duration = Duration::from_secs(1);
/// Most history results committed in one transaction (no spool write in it).
pub const RESULTS_MAX: usize = 4096;
/// Longest nap of the writer inside a group window (how late it may notice `RESULTS_MAX`).
const PARK_SLICE: Duration = Duration::from_millis(50);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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
    fn new(db: Arc<Database>, spool: SpoolStats) -> Shared {
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
    fn stopped(&self) {
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

/// The handle's end of the writer thread: its queue and the state it shares.
pub(super) struct Writer {
    ops: Option<mpsc::Sender<Op>>,
    thread: Option<thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts the writer thread on `db`, whose spool holds `spool`; `reopen` opens the
    /// file again after a write fault (`None`: the store stays degraded).
    pub(super) fn spawn(
        db: Database,
        spool: SpoolStats,
        reopen: Option<Opener>,
    ) -> Result<Writer, StoreError> {
        let db = Arc::new(db);
        let shared = Arc::new(Shared::new(Arc::clone(&db), spool));
        let (ops, queue) = mpsc::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            let healing = Healing::new(db, reopen);
            thread::Builder::new()
                .name("smokerd-store".into())
                .spawn(move || run(healing, &queue, &shared))
                .map_err(StoreError::Thread)?
        };
        Ok(Writer {
            ops: Some(ops),
            thread: Some(thread),
            shared,
        })
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Queues `op`. History results do not wake the thread (it takes them at the end of
    /// its window); anything else does.
    pub(super) fn send(&self, op: Op) {
        let urgent = !op.is_result();
        let sent = self.ops.as_ref().is_some_and(|ops| ops.send(op).is_ok());
        if urgent {
            if let Some(thread) = &self.thread {
                thread.thread().unpark();
            }
        }
        if !sent {
            self.shared.stopped();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue makes the writer commit what is left and exit; joining it
        // releases the file so it can be opened again at once.
        drop(self.ops.take());
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                error!("Store writer panicked.");
            }
        }
    }
}

/// The thread: one group after the other until the queue is closed; while degraded,
/// a re-open whenever its backoff is due, and one last try when the queue closes.
fn run(mut healing: Healing, queue: &mpsc::Receiver<Op>, shared: &Shared) {
    loop {
        let first = match healing.next_reopen() {
            None => match queue.recv() {
                Ok(op) => op,
                Err(mpsc::RecvError) => return,
            },
            Some(at) => match queue.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(op) => op,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    healing.reopen(shared);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    healing.reopen(shared);
                    return;
                }
            },
        };
        let (group, closed) = collect_group(queue, first);
        healing.write(shared, group);
        if closed {
            if healing.degraded() {
                healing.reopen(shared);
            }
            return;
        }
    }
}

/// Gathers the group that starts with `first` until its window or size is reached, a
/// barrier arrives or the queue is closed (then `true`).
fn collect_group(queue: &mpsc::Receiver<Op>, first: Op) -> (Vec<Op>, bool) {
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
            return (group, closed);
        }
        thread::park_timeout((deadline - now).min(PARK_SLICE));
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
