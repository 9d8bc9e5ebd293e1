//! Small keyed values of the durable store: the meta table (the boot id for
//! `@reboot`, …) and the last scheduled slot of each cron job (catch-up). Reads see
//! committed state; writes are part of a write group.

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase};

use super::{
    error::{StoreError, db_err},
    tables::{JOB_SLOTS, META, MetaTable, NameTable},
};

/// A committed meta value.
pub(super) fn get(db: &Database, key: &str) -> Result<Option<String>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    Ok(meta
        .get(key)
        .map_err(db_err)?
        .map(|value| value.value().to_string()))
}

/// Sets (`Some`) or removes (`None`) a meta value (a queued `meta_set`).
pub(super) fn set(
    meta: &mut MetaTable<'_>,
    key: &str,
    value: Option<&str>,
) -> Result<(), redb::Error> {
    match value {
        Some(value) => {
            meta.insert(key, value)?;
        }
        None => {
            meta.remove(key)?;
        }
    }
    Ok(())
}

/// The committed last scheduled slot of `job`.
pub(super) fn job_slot(db: &Database, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let slots = txn.open_table(JOB_SLOTS).map_err(db_err)?;
    let at_us = slots.get(job).map_err(db_err)?.map(|value| value.value());
    Ok(at_us.and_then(DateTime::<Utc>::from_timestamp_micros))
}

/// Records `at_us` (unix microseconds) as the last scheduled slot of `job`.
pub(super) fn set_job_slot(
    job_slots: &mut NameTable<'_, i64>,
    job: &str,
    at_us: i64,
) -> Result<(), redb::Error> {
    job_slots.insert(job, at_us)?;
    Ok(())
}
