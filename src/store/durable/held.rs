//! What the writer holds in memory while the file cannot be written (a write fault:
//! ENOSPC, EIO, a read-only remount): the history results per check (at most `keep`
//! each), the spool entries not yet delivered (within the spool bounds, the oldest
//! dropped and counted as at commit), the acknowledgements of entries in the file,
//! and the latest meta and job-slot values. Once the store is re-opened it all goes
//! back as one write group, in order ([`Held::ops`]); a group written twice leaves
//! the same rows (every write is keyed), so nothing is duplicated.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{
    history::NewResult,
    op::Op,
    spool::{SpoolEntry, SpoolStats},
};
use crate::config::SpoolSettings;

/// Writes held in memory while the store is degraded.
#[derive(Default)]
pub(super) struct Held {
    /// Per check, oldest first, at most `keep` of them.
    results: BTreeMap<String, VecDeque<NewResult>>,
    /// Spool entries by id (increasing over all actions): `(action, payload)`.
    spool: BTreeMap<u64, (String, Vec<u8>)>,
    /// Acknowledged entries that live in the file: deleted once it is re-opened.
    acks: Vec<(String, u64)>,
    meta: BTreeMap<String, Option<String>>,
    job_slots: BTreeMap<String, i64>,
    /// Actions that had entries in the file when the fault came: their senders read
    /// the file first (and wait for the re-open), so the order stays FIFO.
    in_file: BTreeSet<String>,
}

impl Held {
    /// Starts holding; `stats` is the spool as of the last commit.
    pub(super) fn new(stats: &SpoolStats) -> Held {
        let in_file = stats
            .actions
            .iter()
            .filter(|(_, s)| s.results > 0)
            .map(|(action, _)| action.clone())
            .collect();
        Held {
            in_file,
            ..Held::default()
        }
    }

    /// Holds the write `op`, keeping `stats` (the spool as the daemon sees it) up to
    /// date within `limits`. Returns whether a spool entry was added. Barriers (flush,
    /// prune) are not writes: the caller answers them.
    pub(super) fn hold(&mut self, op: Op, stats: &mut SpoolStats, limits: SpoolSettings) -> bool {
        match op {
            Op::Result { check, result } => {
                let keep = usize::try_from(result.keep).unwrap_or(usize::MAX).max(1);
                let runs = self.results.entry(check).or_default();
                runs.push_back(result);
                while runs.len() > keep {
                    runs.pop_front();
                }
            }
            Op::SpoolPush {
                action,
                id,
                payload,
            } => {
                stats.add(&action, payload.len() as u64);
                self.spool.insert(id, (action, payload));
                self.drop_oldest(stats, limits);
                return true;
            }
            Op::SpoolAck { action, ids } => {
                for id in ids {
                    match self.spool.remove(&id) {
                        Some((held, payload)) => stats.sub(&held, payload.len() as u64),
                        None => self.acks.push((action.clone(), id)),
                    }
                }
            }
            Op::Meta { key, value } => {
                self.meta.insert(key, value);
            }
            Op::JobSlot { job, at_us } => {
                self.job_slots.insert(job, at_us);
            }
            Op::Prune { .. } | Op::Flush(_) | Op::FlushReopen(_) => {}
        }
        false
    }

    /// Drops the oldest held entries while the spool is over `limits` (entries in the
    /// file are dropped by the first commit after the re-open).
    fn drop_oldest(&mut self, stats: &mut SpoolStats, limits: SpoolSettings) {
        while stats.over(limits) {
            let Some((_, (action, payload))) = self.spool.pop_first() else {
                return;
            };
            stats.sub(&action, payload.len() as u64);
            if let Some(action) = stats.actions.get_mut(&action) {
                action.dropped += 1;
            }
        }
    }

    /// Held entries of `action` after `after`, oldest first; `None` when the file also
    /// has some (the sender must read it first).
    pub(super) fn peek(&self, action: &str, after: u64, max: usize) -> Option<Vec<SpoolEntry>> {
        if self.in_file.contains(action) {
            return None;
        }
        Some(self.entries(action, after, max))
    }

    /// Held entries of `action` after `after`, oldest first.
    pub(super) fn entries(&self, action: &str, after: u64, max: usize) -> Vec<SpoolEntry> {
        let Some(start) = after.checked_add(1) else {
            return Vec::new();
        };
        self.spool
            .range(start..)
            .filter(|(_, (held, _))| held == action)
            .take(max)
            .map(|(id, (_, payload))| SpoolEntry {
                id: *id,
                payload: payload.clone(),
            })
            .collect()
    }

    /// `(results, spool entries)` held.
    pub(super) fn counts(&self) -> (usize, usize) {
        let results = self.results.values().map(VecDeque::len).sum();
        (results, self.spool.len())
    }

    /// Everything held, as the writes to replay in one group: results in run order,
    /// spool entries in id order, then acknowledgements, meta and job slots.
    pub(super) fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        for (check, runs) in &self.results {
            ops.extend(runs.iter().map(|result| Op::Result {
                check: check.clone(),
                result: result.clone(),
            }));
        }
        ops.extend(
            self.spool
                .iter()
                .map(|(id, (action, payload))| Op::SpoolPush {
                    action: action.clone(),
                    id: *id,
                    payload: payload.clone(),
                }),
        );
        ops.extend(self.acks.iter().map(|(action, id)| Op::SpoolAck {
            action: action.clone(),
            ids: vec![*id],
        }));
        ops.extend(self.meta.iter().map(|(key, value)| Op::Meta {
            key: key.clone(),
            value: value.clone(),
        }));
        ops.extend(self.job_slots.iter().map(|(job, at_us)| Op::JobSlot {
            job: job.clone(),
            at_us: *at_us,
        }));
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(id: u64, action: &str, bytes: usize) -> Op {
        Op::SpoolPush {
            action: action.into(),
            id,
            payload: vec![b'x'; bytes],
        }
    }

    #[test]
    fn held_spool_stays_within_bounds_and_acks_release() {
        let limits = SpoolSettings {
            max_results: 3,
            max_bytes: 1000,
        };
        let mut stats = SpoolStats::default();
        let mut held = Held::new(&stats);
        for id in 1..=5 {
            assert!(held.hold(push(id, "n", 10), &mut stats, limits));
        }
        let ids = |entries: Vec<SpoolEntry>| entries.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(held.peek("n", 0, 10).expect("held only")), [3, 4, 5]);
        assert_eq!(stats.results, 3);
        assert_eq!(stats.actions["n"].dropped, 2);
        let ack = Op::SpoolAck {
            action: "n".into(),
            ids: vec![3, 1],
        };
        held.hold(ack, &mut stats, limits);
        assert_eq!(ids(held.peek("n", 0, 10).expect("held only")), [4, 5]);
        assert_eq!(stats.results, 2);
        // 1 was not held: it is deleted from the file at the re-open.
        assert_eq!(held.acks, [("n".to_string(), 1)]);
    }

    #[test]
    fn held_results_keep_the_newest_history_of_each_check() {
        let limits = SpoolSettings::default();
        let mut stats = SpoolStats::default();
        let mut held = Held::new(&stats);
        let at = chrono::Local::now();
        for run_id in 1..=5 {
            let result = crate::check::CheckResult::synthetic(crate::check::State::Ok, "x", at);
            let result = NewResult::new(run_id, 2, &result);
            held.hold(
                Op::Result {
                    check: "a".into(),
                    result,
                },
                &mut stats,
                limits,
            );
        }
        assert_eq!(held.counts(), (2, 0));
        let kept: Vec<u64> = held
            .ops()
            .iter()
            .filter_map(|op| match op {
                Op::Result { result, .. } => Some(result.run_id),
                _ => None,
            })
            .collect();
        assert_eq!(kept, [4, 5]);
    }

    #[test]
    fn an_action_with_entries_in_the_file_reads_the_file_first() {
        let mut stats = SpoolStats::default();
        stats.add("old", 5);
        let held = Held::new(&stats);
        assert!(held.peek("old", 0, 10).is_none());
        assert_eq!(held.peek("new", 0, 10), Some(Vec::new()));
    }
}
