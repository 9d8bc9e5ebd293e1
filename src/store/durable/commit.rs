//! One write group in one redb transaction: each queued [`Op`] applied to its tables
//! (history, spool, meta), the spool bounds enforced, then the commit. What the group
//! did ([`GroupEffects`]) is applied to the shared state by the writer only once the
//! commit succeeded, and its waiters are answered either way.

use std::collections::BTreeMap;

use redb::Database;
use tokio::sync::oneshot;

use super::{
    error::StoreError,
    history, meta,
    op::Op,
    spool::{self, SpoolStats},
    tables::WriteTables,
};
use crate::config::SpoolSettings;

/// A prune's waiter and the names it dropped.
type PruneReply = (
    oneshot::Sender<Result<Vec<String>, StoreError>>,
    Vec<String>,
);

/// What one group did, applied to the shared state once it is committed.
#[derive(Default)]
pub(super) struct GroupEffects {
    flushes: Vec<oneshot::Sender<Result<(), StoreError>>>,
    prunes: Vec<PruneReply>,
    /// The names each prune of a committed group dropped, in order.
    pruned: Vec<Vec<String>>,
    /// A spool entry was added: senders waiting for one are woken after the commit.
    pub(super) spool_pushed: bool,
    /// Entries dropped per action because the spool was full.
    pub(super) dropped: BTreeMap<String, u64>,
}

impl GroupEffects {
    /// Moves the waiters (flush, prune) out of `group`, to be answered by
    /// [`GroupEffects::reply_committed`] or [`GroupEffects::reply_failed`]; hands back
    /// the writes.
    pub(super) fn take_waiters(&mut self, group: Vec<Op>) -> Vec<Op> {
        let mut pruned = std::mem::take(&mut self.pruned).into_iter();
        let mut writes = Vec::with_capacity(group.len());
        for op in group {
            match op {
                Op::Flush(reply) | Op::FlushReopen(reply) => self.flushes.push(reply),
                Op::Prune { reply, .. } => {
                    self.prunes.push((reply, pruned.next().unwrap_or_default()));
                }
                write => writes.push(write),
            }
        }
        writes
    }

    /// Answers the group's waiters: the commit succeeded.
    pub(super) fn reply_committed(self) {
        for reply in self.flushes {
            let _ = reply.send(Ok(()));
        }
        for (reply, removed) in self.prunes {
            let _ = reply.send(Ok(removed));
        }
    }

    /// Answers the group's waiters: the group failed with `message`.
    pub(super) fn reply_failed(self, message: &str) {
        for reply in self.flushes {
            let _ = reply.send(Err(StoreError::Write(message.to_string())));
        }
        for (reply, _) in self.prunes {
            let _ = reply.send(Err(StoreError::Write(message.to_string())));
        }
    }
}

/// Applies `group` in one write transaction and commits it. `spool_stats` follows the
/// spool's changes; it is only to be kept when this returns `Ok`. A failed group is
/// not applied at all: its writes are still in `group` (the writer holds them), and
/// [`GroupEffects::take_waiters`] answers its waiters either way.
pub(super) fn apply_group(
    db: &Database,
    group: &[Op],
    spool_stats: &mut SpoolStats,
    limits: SpoolSettings,
    effects: &mut GroupEffects,
) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    let mut pruned = Vec::new();
    {
        let mut tables = WriteTables::open(&txn)?;
        for op in group {
            if let Some(removed) = apply(&mut tables, op, spool_stats, effects)? {
                pruned.push(removed);
            }
        }
        spool::drop_oldest(&mut tables.spool, spool_stats, limits, &mut effects.dropped)?;
    }
    txn.commit()?;
    effects.pruned = pruned;
    Ok(())
}

/// Applies one op; a prune hands back the names it dropped.
fn apply(
    tables: &mut WriteTables<'_>,
    op: &Op,
    spool_stats: &mut SpoolStats,
    effects: &mut GroupEffects,
) -> Result<Option<Vec<String>>, redb::Error> {
    match op {
        Op::Result { check, result } => history::append(tables, check, result)?,
        Op::SpoolPush {
            action,
            id,
            payload,
        } => {
            spool::push(&mut tables.spool, spool_stats, action, *id, payload)?;
            effects.spool_pushed = true;
        }
        Op::SpoolAck { action, ids } => {
            spool::ack(&mut tables.spool, spool_stats, action, ids.iter().copied())?;
        }
        Op::Meta { key, value } => meta::set(&mut tables.meta, key, value.as_deref())?,
        Op::JobSlot { job, at_us } => meta::set_job_slot(&mut tables.job_slots, job, *at_us)?,
        Op::Prune { alive, grace, .. } => {
            return Ok(Some(history::prune(tables, alive, *grace)?));
        }
        Op::Flush(_) | Op::FlushReopen(_) => {}
    }
    Ok(None)
}
