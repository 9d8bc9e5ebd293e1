//! The durable store's error type: every failure of opening, reading or writing the
//! redb file is a [`StoreError`] value, never a panic.

use std::path::PathBuf;

/// Everything that can go wrong with the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("store {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("store: {0}")]
    Db(#[from] redb::Error),
    #[error("store write failed: {0}")]
    Write(String),
    #[error("cannot start the store writer: {0}")]
    Thread(#[source] std::io::Error),
    #[error("store writer has stopped")]
    Closed,
    #[error("the store is being re-opened after a write fault")]
    Reopening,
}

/// Any redb error (transaction, table, storage, commit) as a [`StoreError::Db`].
pub(super) fn db_err(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(error.into())
}
