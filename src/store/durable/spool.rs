//! The NSCA spool: a FIFO of opaque payloads per action, keyed by (action, spool id)
//! with ids increasing over all actions, bounded in count and bytes over all actions
//! (the oldest entry is dropped and counted when full). Owns the occupancy counters
//! ([`SpoolStats`]), the committed reads senders batch from, and the spool's part of a
//! write group (push, acknowledge, drop the oldest).

use std::collections::BTreeMap;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::{
    error::{StoreError, db_err},
    tables::{RunTable, SPOOL},
};
use crate::config::SpoolSettings;

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
    pub(super) fn add(&mut self, action: &str, bytes: u64) {
        let stats = self.actions.entry(action.to_string()).or_default();
        stats.results += 1;
        stats.bytes += bytes;
        self.results += 1;
        self.bytes += bytes;
    }

    pub(super) fn sub(&mut self, action: &str, bytes: u64) {
        if let Some(stats) = self.actions.get_mut(action) {
            stats.results = stats.results.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(bytes);
        }
        self.results = self.results.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    pub(super) fn over(&self, limits: SpoolSettings) -> bool {
        self.results > limits.max_results || self.bytes > limits.max_bytes
    }
}

/// The occupancy of the stored spool and the highest spool id in it (start-up).
pub(super) fn load(spool: &RunTable<'_>) -> Result<(SpoolStats, u64), StoreError> {
    let mut stats = SpoolStats::default();
    let mut last_id = 0;
    for entry in spool.iter().map_err(db_err)? {
        let (key, payload) = entry.map_err(db_err)?;
        let (action, id) = key.value();
        stats.add(action, payload.value().len() as u64);
        last_id = last_id.max(id);
    }
    Ok((stats, last_id))
}

/// Up to `max` committed entries of `action` with an id above `after`, oldest first.
pub(super) fn peek(
    db: &Database,
    action: &str,
    after: u64,
    max: usize,
) -> Result<Vec<SpoolEntry>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let spool = txn.open_table(SPOOL).map_err(db_err)?;
    let Some(start) = after.checked_add(1) else {
        return Ok(Vec::new());
    };
    let range = spool
        .range((action, start)..=(action, u64::MAX))
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
}

/// Adds one entry of `action` (a queued `spool_push`).
pub(super) fn push(
    spool: &mut RunTable<'_>,
    stats: &mut SpoolStats,
    action: &str,
    id: u64,
    payload: &[u8],
) -> Result<(), redb::Error> {
    spool.insert((action, id), payload)?;
    stats.add(action, payload.len() as u64);
    Ok(())
}

/// Deletes the delivered entries `ids` of `action` (a queued `spool_ack`).
pub(super) fn ack(
    spool: &mut RunTable<'_>,
    stats: &mut SpoolStats,
    action: &str,
    ids: impl IntoIterator<Item = u64>,
) -> Result<(), redb::Error> {
    for id in ids {
        let removed = spool
            .remove((action, id))?
            .map(|old| old.value().len() as u64);
        if let Some(bytes) = removed {
            stats.sub(action, bytes);
        }
    }
    Ok(())
}

/// Drops the oldest spool entries (over all actions) until the spool is within `limits`,
/// counting them per action in `stats` and in `dropped`.
pub(super) fn drop_oldest(
    spool: &mut RunTable<'_>,
    stats: &mut SpoolStats,
    limits: SpoolSettings,
    dropped: &mut BTreeMap<String, u64>,
) -> Result<(), redb::Error> {
    while stats.over(limits) {
        let Some((action, id)) = oldest(spool, stats)? else {
            // The counters disagree with the table: nothing is left to drop.
            stats.results = 0;
            stats.bytes = 0;
            stats.actions.values_mut().for_each(|stats| {
                stats.results = 0;
                stats.bytes = 0;
            });
            break;
        };
        let removed = spool
            .remove((action.as_str(), id))?
            .map(|old| old.value().len() as u64);
        stats.sub(&action, removed.unwrap_or(0));
        if let Some(stats) = stats.actions.get_mut(&action) {
            stats.dropped += 1;
        }
        *dropped.entry(action).or_default() += 1;
    }
    Ok(())
}

/// The oldest entry over all actions that have some: (action, spool id).
fn oldest(spool: &RunTable<'_>, stats: &SpoolStats) -> Result<Option<(String, u64)>, redb::Error> {
    let mut oldest: Option<(String, u64)> = None;
    for (action, stats) in &stats.actions {
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
    Ok(oldest)
}
