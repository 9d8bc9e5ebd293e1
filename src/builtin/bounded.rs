//! Running a built-in off the async workers within its timeout; calls stuck in the
//! kernel past it are counted and bounded.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use super::{
    common::{Output, State},
    kind::Builtin,
};

/// Most built-in calls that may be stuck in the kernel past their timeout at once;
/// beyond it a run is UNKNOWN at once instead of taking another thread.
pub const MAX_STUCK: usize = 16;

static STUCK: AtomicUsize = AtomicUsize::new(0);

/// Built-in calls still running past their timeout.
pub fn stuck() -> usize {
    STUCK.load(Ordering::Relaxed)
}

/// How a bounded run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Done(Output),
    TimedOut,
    /// [`MAX_STUCK`] calls are stuck: not started.
    Saturated,
}

/// Runs `check` within `timeout`. /proc reads run in place; a call that can block
/// in the kernel (statvfs) runs on its own thread, which a call that outlives its
/// timeout keeps (counted in [`stuck`]) until it returns; such threads never hold up
/// smokerd's exit.
pub async fn run(check: &Builtin, timeout: Duration) -> Ended {
    if !check.may_block() {
        return Ended::Done(check.run_blocking());
    }
    if STUCK.load(Ordering::Relaxed) >= MAX_STUCK {
        return Ended::Saturated;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = check.clone();
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    let spawned = std::thread::Builder::new()
        .name("builtin".into())
        .spawn(move || {
            let out = owned.run_blocking();
            if flag.swap(true, Ordering::AcqRel) {
                STUCK.fetch_sub(1, Ordering::Relaxed);
            }
            let _ = tx.send(out);
        });
    if let Err(e) = spawned {
        let text = format!("UNKNOWN - cannot start a thread: {e}");
        return Ended::Done(Output::new(State::Unknown, text));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(out)) => Ended::Done(out),
        Ok(Err(_)) => Ended::Done(Output::new(State::Unknown, "built-in check failed".into())),
        Err(_) => {
            if !abandoned.swap(true, Ordering::AcqRel) {
                STUCK.fetch_add(1, Ordering::Relaxed);
            }
            Ended::TimedOut
        }
    }
}
