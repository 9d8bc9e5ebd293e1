//! Forced-run processes (`POST /processes`): the newest [`KEPT_PROCESSES`] of them,
//! each with the entries it forced, for `GET /processes[/{id}]`.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use crate::store::CheckEntry;

/// Forced-run processes kept for `GET /processes[/{id}]`; older ones answer 404.
pub const KEPT_PROCESSES: usize = 1000;

/// One POST /processes: the plugins it forced, in order.
#[derive(Debug, Clone)]
pub struct Process {
    pub id: u64,
    pub plugins: Vec<String>,
    /// The forced entries, so a poll needs no lookups by name (weak: a check removed by
    /// a reload is not kept alive by old processes).
    pub entries: Vec<Weak<CheckEntry>>,
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
