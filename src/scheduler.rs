//! Scheduler: one task owning a timer queue of interval checks.
//!
//! Each check runs every `Interval` on a stable phase: the first run is at
//! `start + hash(name) % Splay` (decisions.md D4), then every `Interval` after
//! that slot, so 10 000 checks do not fire in the same millisecond. A run still
//! in progress is not started twice: the slot is skipped. On reload, checks
//! whose schedule did not change keep their phase.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
    time::Duration,
};

use tokio::time::Instant;
use tracing::debug;

use crate::{check::Schedule, daemon::Daemon};

#[derive(Debug, Clone, PartialEq)]
struct Slot {
    due: Instant,
    every: Duration,
    generation: u64,
}

/// Runs until the daemon starts stopping.
pub async fn run(daemon: Arc<Daemon>) {
    let mut plan_updates = daemon.plan_updates();
    let mut stopping = daemon.stopping();
    let mut slots: HashMap<String, Slot> = HashMap::new();
    let mut heap: BinaryHeap<Reverse<(Instant, u64, String)>> = BinaryHeap::new();
    let mut generation = 0u64;
    let start = Instant::now();
    sync(&daemon, &mut slots, &mut heap, &mut generation, start);
    loop {
        let next = heap.peek().map(|Reverse((due, _, _))| *due);
        let sleep = async {
            match next {
                Some(due) => tokio::time::sleep_until(due).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            changed = plan_updates.changed() => {
                if changed.is_err() { return; }
                sync(&daemon, &mut slots, &mut heap, &mut generation, Instant::now());
                continue;
            }
            _ = stopping.wait_for(|s| *s) => return,
        }
        let now = Instant::now();
        while let Some(Reverse((due, slot_generation, _))) = heap.peek() {
            if *due > now {
                break;
            }
            let (due, slot_generation, name) = (
                *due,
                *slot_generation,
                heap.pop().map(|Reverse(x)| x.2).unwrap_or_default(),
            );
            let Some(slot) = slots.get_mut(&name) else {
                continue;
            };
            if slot.generation != slot_generation {
                continue;
            }
            let Some(entry) = daemon.store.get(&name) else {
                continue;
            };
            let lateness = now.saturating_duration_since(due);
            if entry.running().is_some() {
                debug!(check = %name, "Previous run still in progress, skipping this slot.");
                daemon.metrics.skipped(&entry.spec(), "overlap");
            } else {
                daemon.metrics.scheduler_lateness(lateness);
                daemon.start_run(&entry, false);
            }
            // Next slot on the same phase, skipping slots already missed (suspend, overload).
            let mut next_due = due + slot.every;
            if next_due <= now {
                let behind = now.duration_since(next_due).as_nanos() / slot.every.as_nanos().max(1);
                next_due += slot.every * (behind as u32 + 1);
            }
            slot.due = next_due;
            entry.set_next_run(Some(to_wall(next_due)));
            heap.push(Reverse((next_due, slot_generation, name)));
        }
    }
}

/// Brings the timer queue in line with the current plan.
fn sync(
    daemon: &Daemon,
    slots: &mut HashMap<String, Slot>,
    heap: &mut BinaryHeap<Reverse<(Instant, u64, String)>>,
    generation: &mut u64,
    now: Instant,
) {
    let checks = daemon.store.checks();
    slots.retain(|name, _| checks.contains_key(name));
    for (name, entry) in checks.iter() {
        let spec = entry.spec();
        let Schedule::Interval { every, splay } = spec.schedule else {
            slots.remove(name);
            entry.set_next_run(None);
            continue;
        };
        if every.is_zero() {
            slots.remove(name);
            entry.set_next_run(None);
            continue;
        }
        if slots.get(name).is_some_and(|s| s.every == every) {
            continue;
        }
        *generation += 1;
        let due = now + phase(name, splay);
        slots.insert(
            name.clone(),
            Slot {
                due,
                every,
                generation: *generation,
            },
        );
        entry.set_next_run(Some(to_wall(due)));
        heap.push(Reverse((due, *generation, name.clone())));
    }
    // Drop stale heap entries now and then so reloads cannot grow it without bound.
    if heap.len() > slots.len() * 2 + 64 {
        heap.retain(|Reverse((_, g, n))| slots.get(n).is_some_and(|s| s.generation == *g));
    }
}

/// Stable offset in `[0, splay)` from the check name (FNV-1a).
pub fn phase(name: &str, splay: Duration) -> Duration {
    let millis = splay.as_millis() as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Duration::from_millis(hash % millis)
}

fn to_wall(due: Instant) -> chrono::DateTime<chrono::Local> {
    let now = Instant::now();
    let wall = chrono::Local::now();
    if due >= now {
        wall + chrono::Duration::from_std(due - now).unwrap_or_default()
    } else {
        wall - chrono::Duration::from_std(now - due).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_is_stable_and_bounded() {
        let splay = Duration::from_secs(60);
        assert_eq!(phase("load", splay), phase("load", splay));
        assert!(phase("load", splay) < splay);
        assert_eq!(phase("load", Duration::ZERO), Duration::ZERO);
        let distinct: std::collections::HashSet<_> = (0..100)
            .map(|i| phase(&format!("check{i}"), splay))
            .collect();
        assert!(distinct.len() > 90);
    }
}
