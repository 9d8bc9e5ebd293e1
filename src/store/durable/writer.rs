//! The writer thread: the one place that writes the redb file. Queued [`Op`]s are
//! grouped into one transaction; a group holding spool, meta or job-slot writes
//! commits within ≤[`GROUP_WINDOW`] or ≤[`GROUP_MAX`] operations (D5), a group of
//! history results only within ≤[`RESULTS_WINDOW`] or ≤[`RESULTS_MAX`]. A prune or
//! flush commits its group at once.
//!
//! Seams: [`Writer::spawn`] starts the thread on an opened database; the thread's
//! loop (`heal::Healing`) commits each group (`shared::commit_group`) or, after a
//! write fault, holds it in memory and re-opens the file with backoff. Outcomes land
//! in `shared::Shared` (the handle reads them). Closing the queue (dropping the [`Writer`]) commits what is left (after one last
//! re-open when degraded).

use std::{
    sync::{Arc, mpsc},
    thread,
    time::{Duration, Instant},
};

use redb::Database;
use tracing::error;

use super::{
    error::StoreError,
    heal::{Healing, Opener},
    op::Op,
    shared::Shared,
    spool::SpoolStats,
};

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
