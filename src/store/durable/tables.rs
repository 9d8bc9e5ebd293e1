//! The redb tables of the durable store and their key/value types, and the set of
//! tables one write transaction (a group of writes, or start-up) works on.

use redb::{Table, TableDefinition, TableError, WriteTransaction};

/// (check, run id) → a result record (`records::ResultRecord`) as JSON.
pub(super) const RESULTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("results");
/// (check, run id) → the captured streams (`records::OutputRecord`) as JSON.
pub(super) const OUTPUTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("outputs");
/// check → last run id handed out.
pub(super) const RUN_IDS: TableDefinition<'_, &str, u64> = TableDefinition::new("run_ids");
/// check → unix seconds since which the check is missing from the config.
pub(super) const MISSING_SINCE: TableDefinition<'_, &str, i64> =
    TableDefinition::new("missing_since");
/// (action, spool id) → opaque payload.
pub(super) const SPOOL: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("spool");
/// key → value (boot id, …).
pub(super) const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
/// job → unix microseconds of its last scheduled slot.
pub(super) const JOB_SLOTS: TableDefinition<'_, &str, i64> = TableDefinition::new("job_slots");

/// A table keyed by (name, id): results, outputs and the spool.
pub(super) type RunTable<'txn> = Table<'txn, (&'static str, u64), &'static [u8]>;
/// A table keyed by a check or job name holding a number: run ids, missing since, job slots.
pub(super) type NameTable<'txn, V> = Table<'txn, &'static str, V>;
/// The meta table.
pub(super) type MetaTable<'txn> = Table<'txn, &'static str, &'static str>;

/// Every table, opened (and created if missing) in one write transaction.
pub(super) struct WriteTables<'txn> {
    pub(super) results: RunTable<'txn>,
    pub(super) outputs: RunTable<'txn>,
    pub(super) run_ids: NameTable<'txn, u64>,
    pub(super) missing: NameTable<'txn, i64>,
    pub(super) spool: RunTable<'txn>,
    pub(super) meta: MetaTable<'txn>,
    pub(super) job_slots: NameTable<'txn, i64>,
}

impl<'txn> WriteTables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<WriteTables<'txn>, TableError> {
        Ok(WriteTables {
            results: txn.open_table(RESULTS)?,
            outputs: txn.open_table(OUTPUTS)?,
            run_ids: txn.open_table(RUN_IDS)?,
            missing: txn.open_table(MISSING_SINCE)?,
            spool: txn.open_table(SPOOL)?,
            meta: txn.open_table(META)?,
            job_slots: txn.open_table(JOB_SLOTS)?,
        })
    }
}
