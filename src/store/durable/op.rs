//! What the handle asks of the writer thread: one queued write ([`Op`]), or a barrier
//! someone waits for (prune, flush).

use std::{collections::HashSet, time::Duration};

use tokio::sync::oneshot;

use super::{error::StoreError, history::NewResult};

/// One queued request to the writer thread.
pub(super) enum Op {
    /// A history result of `check` (may wait for the longer results window).
    Result {
        check: String,
        result: NewResult,
    },
    SpoolPush {
        action: String,
        id: u64,
        payload: Vec<u8>,
    },
    SpoolAck {
        action: String,
        ids: Vec<u64>,
    },
    Meta {
        key: String,
        value: Option<String>,
    },
    JobSlot {
        job: String,
        at_us: i64,
    },
    Prune {
        alive: HashSet<String>,
        grace: Duration,
        reply: oneshot::Sender<Result<Vec<String>, StoreError>>,
    },
    Flush(oneshot::Sender<Result<(), StoreError>>),
    /// A flush that, while degraded, re-opens the store at once (a graceful stop).
    FlushReopen(oneshot::Sender<Result<(), StoreError>>),
}

impl Op {
    /// A history result (may wait for the longer results window).
    pub(super) fn is_result(&self) -> bool {
        matches!(self, Op::Result { .. })
    }

    /// Someone waits for this one: commit the group now.
    pub(super) fn is_barrier(&self) -> bool {
        matches!(self, Op::Prune { .. } | Op::Flush(_) | Op::FlushReopen(_))
    }
}
