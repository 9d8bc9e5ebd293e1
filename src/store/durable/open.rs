//! Opening the database: the state directory, the redb file (a file that is not a
//! redb database, is corrupt, is locked or cannot be written is an error, never a
//! panic) or an in-memory one, and the start-up load of what the handle keeps in
//! memory (run-id counters, spool occupancy, last spool id).

use std::{
    fs,
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
};

use redb::{Database, StorageBackend, backends::InMemoryBackend};

use super::{
    error::{StoreError, db_err},
    history::RunIds,
    spool::{self, SpoolStats},
    tables::WriteTables,
};

/// redb's page cache. Its default (1 GiB) kept every page written since start in
/// memory: about 0.65 kB per kept result with 1000 checks at `History: 100` (issue 18,
/// heaptrack). Pages missing from it are read from the OS page cache: prune, the runs
/// API, a restart's restore, and the leaves a commit group rewrites. At 8 MiB the soak
/// (row 13) kept 7.7 MB of pages, more than half of its live heap, and filled it over
/// minutes; at 2 MiB its RSS is about 7 MiB lower, for the same commit work.
const CACHE_BYTES: usize = 2 << 20;

/// What the handle keeps in memory, as loaded from the tables.
pub(super) struct Loaded {
    pub(super) run_ids: RunIds,
    pub(super) spool: SpoolStats,
    /// The highest spool id in use.
    pub(super) spool_seq: u64,
}

/// Opens (creating if needed) the database file at `path` and its directory, and
/// loads it.
pub(super) fn open_file(path: &Path) -> Result<(Database, Loaded), StoreError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            create_state_dir(dir)?;
        }
    }
    let opened = catch_unwind(AssertUnwindSafe(|| {
        Database::builder().set_cache_size(CACHE_BYTES).create(path)
    }));
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(source)) => {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(_) => return Err(corrupt(path, "the database panicked while opening")),
    };
    match catch_unwind(AssertUnwindSafe(|| init_tables(&db))) {
        Ok(loaded) => Ok((db, loaded?)),
        Err(_) => Err(corrupt(path, "the database panicked while loading")),
    }
}

/// A database with the same behaviour that lives in memory only.
pub(super) fn open_memory() -> Result<(Database, Loaded), StoreError> {
    open_backend(InMemoryBackend::new())
}

/// A database on `backend` (memory; a file that fails on demand in tests), loaded.
pub(super) fn open_backend(backend: impl StorageBackend) -> Result<(Database, Loaded), StoreError> {
    let db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create_with_backend(backend)
        .map_err(db_err)?;
    let loaded = init_tables(&db)?;
    Ok((db, loaded))
}

fn corrupt(path: &Path, message: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn create_state_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Creates the tables and loads the run-id counters and the spool occupancy.
fn init_tables(db: &Database) -> Result<Loaded, StoreError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_quick_repair(true);
    let loaded = {
        let tables = WriteTables::open(&txn).map_err(db_err)?;
        let run_ids = RunIds::load(&tables.run_ids)?;
        let (spool, spool_seq) = spool::load(&tables.spool)?;
        Loaded {
            run_ids,
            spool,
            spool_seq,
        }
    };
    txn.commit().map_err(db_err)?;
    Ok(loaded)
}
