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
    /// A spool entry was added: senders waiting for one are woken after the commit.
    pub(super) spool_pushed: bool,
    /// Entries dropped per action because the spool was full.
    pub(super) dropped: BTreeMap<String, u64>,
}

impl GroupEffects {
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
/// not applied at all; the waiters of its ops past the failure are dropped unanswered.
pub(super) fn apply_group(
    db: &Database,
    group: Vec<Op>,
    spool_stats: &mut SpoolStats,
    limits: SpoolSettings,
    effects: &mut GroupEffects,
) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    let mut prunes = Vec::new();
    {
        let mut tables = WriteTables::open(&txn)?;
        for op in group {
            if let Some(pruned) = apply(&mut tables, op, spool_stats, effects)? {
                prunes.push(pruned);
            }
        }
        spool::drop_oldest(&mut tables.spool, spool_stats, limits, &mut effects.dropped)?;
    }
    effects.prunes = prunes;
    txn.commit()?;
    Ok(())
}

/// Applies one op; a prune hands back its waiter and the names it dropped.
fn apply(
    tables: &mut WriteTables<'_>,
    op: Op,
    spool_stats: &mut SpoolStats,
    effects: &mut GroupEffects,
) -> Result<Option<PruneReply>, redb::Error> {
    match op {
        Op::Result { check, result } => history::append(tables, &check, &result)?,
        Op::SpoolPush {
            action,
            id,
            payload,
        } => {
            spool::push(&mut tables.spool, spool_stats, &action, id, &payload)?;
            effects.spool_pushed = true;
        }
        Op::SpoolAck { action, ids } => spool::ack(&mut tables.spool, spool_stats, &action, ids)?,
        Op::Meta { key, value } => meta::set(&mut tables.meta, &key, value.as_deref())?,
        Op::JobSlot { job, at_us } => meta::set_job_slot(&mut tables.job_slots, &job, at_us)?,
        Op::Prune {
            alive,
            grace,
            reply,
        } => {
            let removed = history::prune(tables, &alive, grace)?;
            return Ok(Some((reply, removed)));
        }
        Op::Flush(reply) => effects.flushes.push(reply),
    }
    Ok(None)
}
