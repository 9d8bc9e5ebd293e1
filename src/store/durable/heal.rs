//! The writer thread's side of a write fault. A store that worked commits each group;
//! once a commit fails (ENOSPC, EIO, a read-only remount: redb then refuses every
//! later operation until the file is closed and opened again) the store is
//! *degraded*: groups are held in memory ([`super::held::Held`]) and the file is
//! closed and re-opened with backoff ([`REOPEN_FIRST`] doubling to [`REOPEN_MAX`]).
//! A re-open writes back what is held and the store works again. A graceful stop
//! flushes with [`Op::FlushReopen`], which tries a re-open at once when degraded (a
//! plain flush does not: API reads flush, and must not trigger a re-open each).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use redb::Database;
use tracing::debug;

use super::{
    commit::GroupEffects,
    error::StoreError,
    op::Op,
    open::Loaded,
    shared::{Shared, commit_group},
};

/// Opens the database file again (and loads it) after a write fault.
pub(super) type Opener = Box<dyn Fn() -> Result<(Database, Loaded), StoreError> + Send>;

/// First delay before re-opening a store after a write fault.
pub const REOPEN_FIRST: Duration = Duration::from_secs(1);
/// Longest delay between two re-open attempts.
pub const REOPEN_MAX: Duration = Duration::from_secs(60);

/// The writer thread's database and, while degraded, its re-open schedule.
pub(super) struct Healing {
    /// `None` while degraded and not re-opened yet.
    db: Option<Arc<Database>>,
    reopen: Option<Opener>,
    /// Set while degraded: the next attempt and the delay that led to it.
    retry: Option<(Instant, Duration)>,
    degraded: bool,
}

impl Healing {
    pub(super) fn new(db: Arc<Database>, reopen: Option<Opener>) -> Healing {
        Healing {
            db: Some(db),
            reopen,
            retry: None,
            degraded: false,
        }
    }

    /// Whether writes are held in memory.
    pub(super) fn degraded(&self) -> bool {
        self.degraded
    }

    /// When the next re-open is due, if degraded and the store can be re-opened.
    pub(super) fn next_reopen(&self) -> Option<Instant> {
        self.retry.map(|(at, _)| at)
    }

    /// Commits `group`, or holds it while degraded (an [`Op::FlushReopen`] in it tries
    /// a re-open at once and is answered by the outcome).
    pub(super) fn write(&mut self, shared: &Shared, group: Vec<Op>) {
        if !self.degraded {
            let Some(db) = self.db.clone() else {
                return;
            };
            if let Err(failed) = commit_group(&db, shared, group) {
                let (message, writes, effects) = *failed;
                shared.fault(message.clone(), writes);
                effects.reply_failed(&message);
                self.degraded = true;
                self.retry = self
                    .reopen
                    .as_ref()
                    .map(|_| (Instant::now() + REOPEN_FIRST, REOPEN_FIRST));
            }
            return;
        }
        let flush = group.iter().any(|op| matches!(op, Op::FlushReopen(_)));
        let mut effects = GroupEffects::default();
        shared.hold(effects.take_waiters(group));
        if flush {
            self.reopen(shared);
        }
        if self.degraded {
            let message = shared
                .last_error()
                .unwrap_or_else(|| "store degraded".into());
            effects.reply_failed(&message);
        } else {
            effects.reply_committed();
        }
    }

    /// Closes the broken database, opens it again and writes back what is held; on
    /// failure schedules the next attempt (the delay doubles up to [`REOPEN_MAX`]).
    pub(super) fn reopen(&mut self, shared: &Shared) {
        let Some(reopen) = &self.reopen else {
            return;
        };
        // Release the file (once running reads are done) so it can be opened again.
        shared.set_db(None);
        self.db = None;
        let opened = reopen().and_then(|(db, loaded)| {
            shared.write_back(&db, loaded.spool)?;
            Ok(db)
        });
        match opened {
            Ok(db) => {
                let db = Arc::new(db);
                shared.set_db(Some(Arc::clone(&db)));
                self.db = Some(db);
                self.degraded = false;
                self.retry = None;
            }
            Err(e) => {
                let delay = self
                    .retry
                    .map_or(REOPEN_FIRST, |(_, delay)| (delay * 2).min(REOPEN_MAX));
                debug!(error = %e, retry_in = ?delay, "Store re-open failed.");
                shared.set_error(e.to_string());
                self.retry = Some((Instant::now() + delay, delay));
            }
        }
    }
}
