//! Result history: the results and captured outputs kept per (check, run id), the
//! per-check run-id counters (persisted, increasing), the reads of the runs API and of
//! start-up, and the history's part of a write group (append with the `History`
//! bound, prune of checks missing from the config for longer than the grace).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Local, Utc};
use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTable};

use super::{
    error::{StoreError, db_err},
    records::{OutputRecord, ResultRecord, from_unix, state_from_code},
    tables::{NameTable, OUTPUTS, RESULTS, WriteTables},
};
use crate::check::{CheckResult, State};

/// One kept run as the runs API lists it (D8), newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: u64,
    pub started_at: DateTime<Local>,
    pub duration: Duration,
    pub state: State,
    pub exit_code: Option<i32>,
    pub output: String,
    pub catch_up: bool,
    pub forced: bool,
}

/// Captured streams of one run (`GET /v2/plugins/{name}/runs/{id}/output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

/// The last run id handed out per check; ids are handed out here, before the write
/// is queued, and the stored counter follows at commit.
#[derive(Debug, Default)]
pub(super) struct RunIds(Mutex<HashMap<String, u64>>);

impl RunIds {
    /// The stored counters (start-up).
    pub(super) fn load(run_ids: &NameTable<'_, u64>) -> Result<RunIds, StoreError> {
        let mut last = HashMap::new();
        for entry in run_ids.iter().map_err(db_err)? {
            let (check, id) = entry.map_err(db_err)?;
            last.insert(check.value().to_string(), id.value());
        }
        Ok(RunIds(Mutex::new(last)))
    }

    /// Number of checks with a counter.
    pub(super) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Drops the counters of `checks` (pruned: their stored counters are gone too).
    pub(super) fn forget(&self, checks: &[String]) {
        let mut run_ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for check in checks {
            run_ids.remove(check);
        }
    }

    /// The next run id of `check`: 1 for a check never seen.
    pub(super) fn next(&self, check: &str) -> u64 {
        let mut run_ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match run_ids.get_mut(check) {
            Some(last) => {
                *last += 1;
                *last
            }
            None => {
                run_ids.insert(check.to_string(), 1);
                1
            }
        }
    }
}

/// The newest `limit` kept results of `check`, oldest first, with `run_id` and the
/// captured streams filled in. Records that cannot be decoded are skipped.
pub(super) fn load(
    db: &Database,
    check: &str,
    limit: usize,
) -> Result<Vec<CheckResult>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let results = txn.open_table(RESULTS).map_err(db_err)?;
    let outputs = txn.open_table(OUTPUTS).map_err(db_err)?;
    let mut history = Vec::new();
    for (run_id, record) in newest(&results, check, limit)? {
        let mut result = record.into_result();
        result.run_id = run_id;
        if let Some(output) = outputs.get((check, run_id)).map_err(db_err)? {
            if let Some(output) = OutputRecord::decode(check, run_id, output.value()) {
                result.stdout = Arc::from(output.stdout);
                result.stderr = Arc::from(output.stderr);
            }
        }
        history.push(result);
    }
    history.reverse();
    Ok(history)
}

/// [`load`] for many `(check, limit)` pairs in one go (start-up).
pub(super) fn load_many(
    db: &Database,
    checks: Vec<(String, usize)>,
) -> Result<HashMap<String, Vec<CheckResult>>, StoreError> {
    let mut histories = HashMap::with_capacity(checks.len());
    for (check, limit) in checks {
        let history = load(db, &check, limit)?;
        histories.insert(check, history);
    }
    Ok(histories)
}

/// The newest `limit` kept runs of `check`, newest first.
pub(super) fn runs(
    db: &Database,
    check: &str,
    limit: usize,
) -> Result<Vec<RunSummary>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let results = txn.open_table(RESULTS).map_err(db_err)?;
    let runs = newest(&results, check, limit)?;
    Ok(runs
        .into_iter()
        .map(|(id, record)| RunSummary {
            id,
            started_at: from_unix(record.started_s, record.started_ns),
            duration: Duration::from_nanos(record.duration_ns),
            state: state_from_code(record.state),
            exit_code: record.exit_code,
            output: record.output,
            catch_up: record.catch_up,
            forced: record.forced,
        })
        .collect())
}

/// The newest `limit` kept results of `check` with their run ids, newest first;
/// records that cannot be decoded are skipped (and count against `limit`).
fn newest(
    results: &ReadOnlyTable<(&'static str, u64), &'static [u8]>,
    check: &str,
    limit: usize,
) -> Result<Vec<(u64, ResultRecord)>, StoreError> {
    let mut records = Vec::new();
    let range = results
        .range((check, 0)..=(check, u64::MAX))
        .map_err(db_err)?;
    for entry in range.rev().take(limit) {
        let (key, value) = entry.map_err(db_err)?;
        let run_id = key.value().1;
        if let Some(record) = ResultRecord::decode(check, run_id, value.value()) {
            records.push((run_id, record));
        }
    }
    Ok(records)
}

/// stdout/stderr of run `id` of `check`; `None` when that run is not kept.
pub(super) fn run_output(
    db: &Database,
    check: &str,
    id: u64,
) -> Result<Option<RunOutput>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let results = txn.open_table(RESULTS).map_err(db_err)?;
    let outputs = txn.open_table(OUTPUTS).map_err(db_err)?;
    let Some(record) = results.get((check, id)).map_err(db_err)? else {
        return Ok(None);
    };
    let truncated = ResultRecord::decode(check, id, record.value()).is_some_and(|r| r.truncated);
    let output = outputs
        .get((check, id))
        .map_err(db_err)?
        .and_then(|value| OutputRecord::decode(check, id, value.value()))
        .unwrap_or_default();
    Ok(Some(RunOutput {
        stdout: output.stdout,
        stderr: output.stderr,
        truncated,
    }))
}

/// One queued result of `check`: its record and captured streams, encoded.
#[derive(Clone)]
pub(super) struct NewResult {
    pub(super) run_id: u64,
    /// How many runs of the check to keep (at least 1).
    pub(super) keep: u64,
    pub(super) record: Vec<u8>,
    pub(super) output: Vec<u8>,
}

impl NewResult {
    /// Encodes `result` as run `run_id`, keeping the newest `keep` runs (at least 1).
    pub(super) fn new(run_id: u64, keep: usize, result: &CheckResult) -> NewResult {
        NewResult {
            run_id,
            keep: u64::try_from(keep.max(1)).unwrap_or(u64::MAX),
            record: ResultRecord::from_result(result).encode(),
            output: OutputRecord::from_result(result).encode(),
        }
    }
}

/// Stores one result of `check`, raises its stored run-id counter and drops the runs
/// beyond its `keep` newest.
pub(super) fn append(
    tables: &mut WriteTables<'_>,
    check: &str,
    new: &NewResult,
) -> Result<(), redb::Error> {
    let run_id = new.run_id;
    tables
        .results
        .insert((check, run_id), new.record.as_slice())?;
    tables
        .outputs
        .insert((check, run_id), new.output.as_slice())?;
    let stored = tables
        .run_ids
        .get(check)?
        .map(|last| last.value())
        .unwrap_or(0);
    if run_id > stored {
        tables.run_ids.insert(check, run_id)?;
    }
    if let Some(cut) = run_id.checked_sub(new.keep) {
        if cut > 0 {
            tables
                .results
                .retain_in((check, 0)..=(check, cut), |_, _| false)?;
            tables
                .outputs
                .retain_in((check, 0)..=(check, cut), |_, _| false)?;
        }
    }
    Ok(())
}

/// Marks the stored checks not in `alive` as missing (from now) and drops everything
/// kept about those missing for at least `grace`: history, outputs, run-id counter,
/// job slot. Returns the dropped names.
///
/// Only names whose mark changes are written: with nothing removed, a prune reads
/// the tables and writes nothing (it runs after every reload and periodically).
pub(super) fn prune(
    tables: &mut WriteTables<'_>,
    alive: &HashSet<String>,
    grace: Duration,
) -> Result<Vec<String>, redb::Error> {
    let now = Utc::now().timestamp();
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let missing = missing_since(tables)?;
    let mut removed = Vec::new();
    for (name, since) in &missing {
        if alive.contains(name) {
            tables.missing.remove(name.as_str())?;
        } else if now.saturating_sub(*since) >= grace {
            forget(tables, name)?;
            removed.push(name.clone());
        }
    }
    for name in newly_missing(tables, alive, &missing)? {
        tables.missing.insert(name.as_str(), now)?;
    }
    Ok(removed)
}

/// The names marked missing, with the time (Unix seconds) since when.
fn missing_since(tables: &WriteTables<'_>) -> Result<BTreeMap<String, i64>, redb::Error> {
    let mut missing = BTreeMap::new();
    for entry in tables.missing.iter()? {
        let (name, since) = entry?;
        missing.insert(name.value().to_string(), since.value());
    }
    Ok(missing)
}

/// Names with a run-id counter or a job slot that are neither in `alive` nor marked
/// missing yet.
fn newly_missing(
    tables: &WriteTables<'_>,
    alive: &HashSet<String>,
    missing: &BTreeMap<String, i64>,
) -> Result<BTreeSet<String>, redb::Error> {
    let gone = |name: &str| !alive.contains(name) && !missing.contains_key(name);
    let mut names = BTreeSet::new();
    names_where(&tables.run_ids, gone, &mut names)?;
    names_where(&tables.job_slots, gone, &mut names)?;
    Ok(names)
}

/// Adds the names in `table` for which `keep` holds to `names`.
fn names_where<V: redb::Value + 'static>(
    table: &NameTable<'_, V>,
    keep: impl Fn(&str) -> bool,
    names: &mut BTreeSet<String>,
) -> Result<(), redb::Error> {
    for entry in table.iter()? {
        let name = entry?.0;
        if keep(name.value()) {
            names.insert(name.value().to_string());
        }
    }
    Ok(())
}

/// Drops everything kept about `name`.
fn forget(tables: &mut WriteTables<'_>, name: &str) -> Result<(), redb::Error> {
    tables
        .results
        .retain_in((name, 0)..=(name, u64::MAX), |_, _| false)?;
    tables
        .outputs
        .retain_in((name, 0)..=(name, u64::MAX), |_, _| false)?;
    tables.run_ids.remove(name)?;
    tables.missing.remove(name)?;
    tables.job_slots.remove(name)?;
    Ok(())
}
