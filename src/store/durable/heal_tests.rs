//! Write faults injected under redb (a file backend that fails its writes with EIO or
//! EROFS on demand): the store holds writes in memory, serves the spool from memory,
//! re-opens itself with backoff and writes everything back once, in order.

use std::{
    fs::OpenOptions,
    ops::Bound,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{Local, TimeZone};
use redb::{BackendError, StorageBackend, backends::FileBackend};

use super::{heal::Opener, *};
use crate::check::{CheckResult, State};

/// A file backend whose writes, syncs and resizes fail with `errno` while it is set.
#[derive(Debug)]
struct Faulty {
    file: FileBackend,
    errno: Arc<AtomicI32>,
}

impl Faulty {
    fn check(&self) -> Result<(), std::io::Error> {
        match self.errno.load(Ordering::SeqCst) {
            0 => Ok(()),
            errno => Err(std::io::Error::from_raw_os_error(errno)),
        }
    }
}

impl StorageBackend for Faulty {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }
    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(s, e)
    }
    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(s, e)
    }
    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(s, e)
    }
    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(s, e)
    }
    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(s, e)
    }
    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(s, e)
    }
}

/// A store on `path` whose writes fail with the errno in the returned switch (0: none).
fn faulty_store(path: &Path) -> (Durable, Arc<AtomicI32>) {
    let errno = Arc::new(AtomicI32::new(0));
    let open: Opener = {
        let (path, errno) = (path.to_path_buf(), Arc::clone(&errno));
        Box::new(move || {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|source| StoreError::CreateDir {
                    path: path.clone(),
                    source,
                })?;
            let file = FileBackend::new(file).map_err(|e| StoreError::Write(e.to_string()))?;
            open::open_backend(Faulty {
                file,
                errno: Arc::clone(&errno),
            })
        })
    };
    let store = Durable::open_with(path.to_path_buf(), open).expect("open");
    (store, errno)
}

fn result(n: i64) -> CheckResult {
    let at = Local
        .timestamp_opt(1_700_000_000 + n, 0)
        .single()
        .expect("valid time");
    CheckResult::synthetic(State::Ok, format!("run {n}"), at)
}

fn ids(entries: &[SpoolEntry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.id).collect()
}

async fn wait_healed(store: &Durable, within: Duration) {
    let deadline = Instant::now() + within;
    while store.degraded().is_some() {
        assert!(Instant::now() < deadline, "not healed within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Works, faults with `errno`, holds, heals by itself; returns the file and the ids of
/// the spool entries written back.
async fn fault_and_heal(errno_value: i32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let (store, errno) = faulty_store(&path);
    store.append_result("a", 10, &result(1));
    store.flush().await.expect("healthy flush");

    errno.store(errno_value, Ordering::SeqCst);
    for n in 2..=4 {
        store.append_result("a", 10, &result(n));
    }
    let pushed: Vec<u64> = (0..3)
        .map(|n| store.spool_push("nsca", format!("p{n}").into_bytes()))
        .collect();
    let error = store.flush().await.expect_err("the fault is reported");
    let expected = std::io::Error::from_raw_os_error(errno_value).to_string();
    assert!(error.to_string().contains(&expected), "{error}");
    assert_eq!(store.degraded(), Some((3, 3)));
    assert_eq!(store.faults(), 1);
    assert!(store.last_error().is_some());
    assert_eq!(store.spool_stats().results, 3);

    // The spool is served from memory while degraded; an ack releases the entry.
    let held = store.spool_peek("nsca", 0, 10).await.expect("held peek");
    assert_eq!(ids(&held), pushed);
    store.spool_ack("nsca", vec![pushed[0]]);
    store.append_result("a", 10, &result(5));

    errno.store(0, Ordering::SeqCst);
    wait_healed(&store, Duration::from_secs(30)).await;
    assert_eq!(store.faults(), 1);
    assert_eq!(store.last_error(), None);
    let history = store.load_history("a", 10).await.expect("history");
    let runs: Vec<u64> = history.iter().map(|r| r.run_id).collect();
    assert_eq!(runs, [1, 2, 3, 4, 5]);
    let spool = store.spool_peek("nsca", 0, 10).await.expect("peek");
    assert_eq!(ids(&spool), pushed[1..]);
    assert_eq!(store.spool_stats().results, 2);
    drop(store);
    (dir, path)
}

#[tokio::test]
async fn eio_holds_writes_in_memory_and_heals_by_itself() {
    let (_dir, path) = fault_and_heal(nix::libc::EIO).await;
    // After a restart, history across the fault is complete.
    let store = Durable::open(&path).expect("reopen");
    let history = store.load_history("a", 10).await.expect("history");
    assert_eq!(history.len(), 5);
    assert_eq!(history[4].output, "run 5");
}

#[tokio::test]
async fn erofs_holds_writes_in_memory_and_heals_by_itself() {
    fault_and_heal(nix::libc::EROFS).await;
}

#[tokio::test]
async fn a_held_spool_stays_within_its_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, errno) = faulty_store(&dir.path().join(FILE_NAME));
    store.set_spool_limits(crate::config::SpoolSettings {
        max_results: 2,
        max_bytes: 1 << 20,
    });
    errno.store(nix::libc::EIO, Ordering::SeqCst);
    let pushed: Vec<u64> = (0..5)
        .map(|_| store.spool_push("n", b"x".to_vec()))
        .collect();
    store.flush().await.expect_err("degraded");
    assert_eq!(store.spool_stats().results, 2);
    assert_eq!(store.spool_stats().actions["n"].dropped, 3);
    let held = store.spool_peek("n", 0, 10).await.expect("held peek");
    assert_eq!(ids(&held), pushed[3..]);
    errno.store(0, Ordering::SeqCst);
    store.flush_reopen().await.expect("a stop re-opens at once");
    assert_eq!(store.degraded(), None);
    assert_eq!(
        store.spool_stats().actions["n"].dropped,
        3,
        "drops stay counted"
    );
    let spool = store.spool_peek("n", 0, 10).await.expect("peek");
    assert_eq!(ids(&spool), pushed[3..]);
}

#[tokio::test]
async fn a_stop_while_degraded_makes_one_last_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    let (store, errno) = faulty_store(&path);
    errno.store(nix::libc::EIO, Ordering::SeqCst);
    store.append_result("a", 10, &result(1));
    store.spool_push("n", b"kept".to_vec());
    store.flush().await.expect_err("degraded");
    errno.store(0, Ordering::SeqCst);
    // Dropped before the backoff is due: the writer re-opens once more as it stops.
    drop(store);
    let store = Durable::open(&path).expect("reopen");
    assert_eq!(store.load_history("a", 10).await.expect("history").len(), 1);
    let spool = store.spool_peek("n", 0, 10).await.expect("peek");
    assert_eq!(spool.len(), 1);
}

#[tokio::test]
async fn a_fault_that_lasts_keeps_the_store_degraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, errno) = faulty_store(&dir.path().join(FILE_NAME));
    errno.store(nix::libc::EIO, Ordering::SeqCst);
    store.append_result("a", 10, &result(1));
    store.flush().await.expect_err("degraded");
    tokio::time::sleep(REOPEN_FIRST + Duration::from_millis(500)).await;
    assert!(store.flush().await.is_err(), "still failing");
    assert_eq!(store.degraded(), Some((1, 0)));
    assert_eq!(store.faults(), 1, "one fault, however many attempts");
    errno.store(0, Ordering::SeqCst);
    store.flush_reopen().await.expect("healed");
    assert_eq!(store.load_history("a", 10).await.expect("history").len(), 1);
}

#[tokio::test]
async fn entries_in_the_file_stay_first_and_their_acks_wait_for_the_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, errno) = faulty_store(&dir.path().join(FILE_NAME));
    let a = store.spool_push("n", b"a".to_vec());
    let b = store.spool_push("n", b"b".to_vec());
    store.flush().await.expect("healthy flush");
    errno.store(nix::libc::EIO, Ordering::SeqCst);
    let c = store.spool_push("n", b"c".to_vec());
    store.flush().await.expect_err("degraded");
    // The file holds older entries of `n`: never the held ones alone (FIFO).
    if let Ok(entries) = store.spool_peek("n", 0, 10).await {
        assert_eq!(ids(&entries), [a, b, c]);
    }
    store.spool_ack("n", vec![a]);
    errno.store(0, Ordering::SeqCst);
    store.flush_reopen().await.expect("healed");
    let spool = store.spool_peek("n", 0, 10).await.expect("peek");
    assert_eq!(
        ids(&spool),
        [b, c],
        "the ack made while degraded is applied"
    );
    assert_eq!(store.spool_stats().results, 2);
}
