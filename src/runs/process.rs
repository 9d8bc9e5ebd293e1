//! Forced-run processes (`POST /processes`): the newest [`KEPT_PROCESSES`] of them,
//! each with the entries it forced, for `GET /processes[/{id}]`.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicUsize, Ordering},
    },
};

use crate::store::CheckEntry;

/// Forced-run processes kept for `GET /processes[/{id}]`; older ones answer 404.
pub const KEPT_PROCESSES: usize = 1000;

/// One POST /processes: the plugins it forced, in order.
#[derive(Debug)]
pub struct Process {
    pub id: u64,
    pub plugins: Vec<String>,
    /// The forced entries, so a poll needs no lookups by name (weak: a check removed by
    /// a reload is not kept alive by old processes).
    entries: Vec<Weak<CheckEntry>>,
    /// Where the last poll found an entry still running: entries before it had their
    /// forced result then, so the next poll starts here (a client polling every few
    /// milliseconds must not cost a pass over thousands of entries each time).
    first_pending: AtomicUsize,
}

impl Process {
    /// Whether an entry still has no forced result (a check removed since is not waited
    /// for). "Done" is only answered after a pass over every entry, so an entry forced
    /// again by a later process makes this one pending again, as it always did.
    pub fn pending(&self) -> bool {
        let pending_at = |i: usize| {
            self.entries[i]
                .upgrade()
                .is_some_and(|e| !e.has_forced_result())
        };
        let hint = self.first_pending.load(Ordering::Relaxed);
        let found = (hint..self.entries.len())
            .find(|&i| pending_at(i))
            .or_else(|| (0..hint).find(|&i| pending_at(i)));
        if let Some(i) = found {
            self.first_pending.store(i, Ordering::Relaxed);
        }
        found.is_some()
    }
}

/// The newest [`KEPT_PROCESSES`] processes, oldest first (never emptied once used, so
/// ids keep counting from the newest).
#[derive(Debug, Default)]
pub struct Processes {
    list: Mutex<VecDeque<Arc<Process>>>,
}

impl Processes {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Process>>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a process forcing `entries`; returns its id.
    pub fn add(&self, entries: &[Arc<CheckEntry>]) -> u64 {
        let mut list = self.lock();
        let id = list.back().map_or(1, |newest| newest.id + 1);
        list.push_back(Arc::new(Process {
            id,
            plugins: entries.iter().map(|e| e.name()).collect(),
            entries: entries.iter().map(Arc::downgrade).collect(),
            first_pending: AtomicUsize::new(0),
        }));
        // A daemon forcing runs every minute for years must not grow without bound.
        while list.len() > KEPT_PROCESSES {
            list.pop_front();
        }
        id
    }

    pub fn all(&self) -> Vec<Arc<Process>> {
        self.lock().iter().cloned().collect()
    }

    /// Process `id`, unless it is unknown or older than the newest [`KEPT_PROCESSES`].
    pub fn get(&self, id: u64) -> Option<Arc<Process>> {
        let list = self.lock();
        let first = list.front()?.id;
        id.checked_sub(first)
            .and_then(|i| list.get(usize::try_from(i).ok()?))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::watch;

    use super::*;
    use crate::{
        check::{CheckResult, CheckSpec, State},
        store::Store,
    };

    fn finish(store: &Store, entry: &CheckEntry) {
        let result = CheckResult::synthetic(State::Ok, "done", chrono::Local::now());
        store.record(entry, result, &watch::channel(None).0);
    }

    #[test]
    fn a_process_is_pending_until_every_entry_has_its_forced_result_again() {
        let store = Store::new();
        let mut specs: Vec<Arc<CheckSpec>> = ["a", "b", "c"]
            .iter()
            .map(|n| Arc::new(CheckSpec::for_test(n)))
            .collect();
        store.apply(&mut specs);
        let entries: Vec<Arc<CheckEntry>> = store.checks().values().cloned().collect();
        entries.iter().for_each(|e| e.expect_forced());
        let processes = Processes::default();
        let first = processes.get(processes.add(&entries)).expect("first");
        assert!(first.pending());
        finish(&store, &entries[0]);
        finish(&store, &entries[2]);
        assert!(first.pending(), "b is still running");
        finish(&store, &entries[1]);
        assert!(!first.pending());
        // A later process forcing `a` again: the first one waits for it too, although
        // its last poll found everything before the end done.
        entries[0].expect_forced();
        let second = processes.get(processes.add(&entries[..1])).expect("second");
        assert!(first.pending() && second.pending());
        finish(&store, &entries[0]);
        assert!(!first.pending() && !second.pending());
    }
}
