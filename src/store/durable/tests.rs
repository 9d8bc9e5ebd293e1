use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Local, TimeZone, Utc};
use indexmap::IndexMap;
use smoker_compat::output::PerfDatum;

use super::{tables::RESULTS, *};
use crate::check::{CheckResult, ComponentResult, Messages, State};

fn started(secs: i64) -> DateTime<Local> {
    Local
        .timestamp_opt(1_700_000_000 + secs, 123_456_789)
        .single()
        .expect("valid time")
}

fn simple(n: i64) -> CheckResult {
    let mut result = CheckResult::synthetic(State::Ok, format!("run {n}"), started(n));
    result.stdout = Arc::from(format!("run {n}\n"));
    result
}

fn rich() -> CheckResult {
    let mut messages = Messages::default();
    messages.add_lines(State::Warning, "disk 85%\nsecond");
    messages.error.push("stderr line".into());
    let mut components = IndexMap::new();
    components.insert(
        "db".to_string(),
        ComponentResult {
            state: State::Critical,
            messages: Some(messages.clone()),
        },
    );
    components.insert(
        "web".to_string(),
        ComponentResult {
            state: State::Ok,
            messages: None,
        },
    );
    let mut action = CheckResult::synthetic(State::Ok, "queued for nagios", started(1));
    action.duration = Duration::from_millis(3);
    CheckResult {
        state: State::Warning,
        output: "DISK WARNING - 85% used".into(),
        long_output: Some("line 2\nline 3".into()),
        perfdata: vec![
            PerfDatum {
                label: "/".into(),
                value: Some(85.5),
                uom: "%".into(),
                warn: Some("80".into()),
                crit: Some("90".into()),
                min: Some(0.0),
                max: Some(100.0),
                text: String::new(),
                in_long_output: false,
            },
            PerfDatum {
                label: "u".into(),
                value: None,
                uom: String::new(),
                warn: None,
                crit: None,
                min: None,
                max: None,
                text: String::new(),
                in_long_output: false,
            },
        ],
        messages: Some(messages),
        component_results: Some(components),
        action: Some(Box::new(action)),
        exit_code: Some(1),
        signal: None,
        duration: Duration::new(2, 345_678_901),
        started_at: started(0),
        forced: true,
        truncated: true,
        catch_up: true,
        timed_out: true,
        stdout: Arc::from("DISK WARNING - 85% used | /=85.5%;80;90;0;100 u=U\nline 2\nline 3\n"),
        stderr: Arc::from("stderr line\n"),
        run_id: 0,
    }
}

fn ids(history: &[CheckResult]) -> Vec<u64> {
    history.iter().map(|result| result.run_id).collect()
}

#[tokio::test]
async fn result_round_trips_with_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    assert!(store.is_persistent());
    assert_eq!(store.path(), Some(dir.path().join(FILE_NAME).as_path()));
    let original = rich();
    let run_id = store.append_result("disk", 10, &original);
    assert_eq!(run_id, 1);
    store.flush().await.expect("flush");

    let history = store.load_history("disk", 10).await.expect("load");
    let mut expected = original.clone();
    expected.run_id = 1;
    assert_eq!(history, vec![expected]);

    let output = store
        .run_output("disk", 1)
        .await
        .expect("output")
        .expect("kept");
    assert_eq!(
        output,
        RunOutput {
            stdout: original.stdout.to_string(),
            stderr: "stderr line\n".into(),
            truncated: true
        }
    );
    let runs = store.runs("disk", 5).await.expect("runs");
    assert_eq!(
        runs,
        vec![RunSummary {
            id: 1,
            started_at: original.started_at,
            duration: original.duration,
            state: State::Warning,
            exit_code: Some(1),
            output: original.output.clone(),
            catch_up: true,
            forced: true,
        }]
    );
    assert_eq!(store.last_error(), None);
}

#[tokio::test]
async fn history_survives_reopen_and_run_ids_keep_increasing() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Durable::open_in(dir.path()).expect("open");
        for n in 1..=3 {
            assert_eq!(store.append_result("uptime", 10, &simple(n)), n as u64);
        }
        assert_eq!(store.append_result("other", 10, &simple(9)), 1);
        // No flush: dropping the last handle commits what is queued and releases the file.
    }
    let store = Durable::open_in(dir.path()).expect("reopen");
    let history = store.load_history("uptime", 10).await.expect("load");
    assert_eq!(ids(&history), vec![1, 2, 3]);
    assert_eq!(history[2].output, "run 3");
    assert_eq!(&*history[2].stdout, "run 3\n");
    assert_eq!(store.append_result("uptime", 10, &simple(4)), 4);
    assert_eq!(store.append_result("other", 10, &simple(10)), 2);
    assert_eq!(store.append_result("new", 10, &simple(11)), 1);
}

#[tokio::test]
async fn history_is_bounded_per_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    for n in 1..=10 {
        store.append_result("a", 3, &simple(n));
        store.append_result("b", 5, &simple(n));
    }
    store.flush().await.expect("flush");
    assert_eq!(
        ids(&store.load_history("a", 100).await.expect("a")),
        vec![8, 9, 10]
    );
    assert_eq!(
        ids(&store.load_history("b", 100).await.expect("b")),
        vec![6, 7, 8, 9, 10]
    );
    assert_eq!(
        ids(&store.load_history("b", 2).await.expect("b")),
        vec![9, 10]
    );
    assert_eq!(store.run_output("a", 7).await.expect("output"), None);
    assert!(store.run_output("a", 8).await.expect("output").is_some());
    let runs = store.runs("a", 2).await.expect("runs");
    assert_eq!(
        runs.iter().map(|run| run.id).collect::<Vec<_>>(),
        vec![10, 9]
    );
    assert!(
        store
            .load_history("missing", 10)
            .await
            .expect("none")
            .is_empty()
    );
    // A shrunk History applies from the next result on.
    store.append_result("b", 1, &simple(11));
    store.flush().await.expect("flush");
    assert_eq!(
        ids(&store.load_history("b", 100).await.expect("b")),
        vec![11]
    );
    // History 0 still keeps the newest result (lastResult).
    store.append_result("b", 0, &simple(12));
    store.flush().await.expect("flush");
    assert_eq!(
        ids(&store.load_history("b", 100).await.expect("b")),
        vec![12]
    );
}

#[tokio::test]
async fn names_that_share_a_prefix_stay_apart() {
    let store = Durable::memory().expect("memory");
    store.append_result("web", 10, &simple(1));
    store.append_result("web2", 10, &simple(2));
    store.append_result("we", 10, &simple(3));
    store.flush().await.expect("flush");
    let histories = store
        .load_histories(vec![
            ("web".into(), 10),
            ("web2".into(), 10),
            ("we".into(), 10),
            ("nope".into(), 10),
        ])
        .await
        .expect("load");
    assert_eq!(
        histories["web"]
            .iter()
            .map(|r| r.output.as_str())
            .collect::<Vec<_>>(),
        ["run 1"]
    );
    assert_eq!(
        histories["web2"]
            .iter()
            .map(|r| r.output.as_str())
            .collect::<Vec<_>>(),
        ["run 2"]
    );
    assert_eq!(
        histories["we"]
            .iter()
            .map(|r| r.output.as_str())
            .collect::<Vec<_>>(),
        ["run 3"]
    );
    assert!(histories["nope"].is_empty());
}

#[tokio::test]
async fn writes_commit_without_flush_within_the_group_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    store.append_result("a", 10, &simple(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if store.load_history("a", 10).await.expect("load").len() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "result not committed within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn many_results_are_grouped_and_all_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    let started = Instant::now();
    let commits_before = store.commits();
    for n in 0..5000 {
        store.append_result(&format!("check{}", n % 50), 100, &simple(n));
    }
    store.flush().await.expect("flush");
    let elapsed = started.elapsed();
    let commits = store.commits() - commits_before;
    // ≤4096 results per group: 5000 results need at least 2 commits and, queued at once, few more.
    assert!(
        (2..=10).contains(&commits),
        "{commits} commits for 5000 results"
    );
    let histories = store
        .load_histories((0..50).map(|n| (format!("check{n}"), 1000)).collect())
        .await
        .expect("load");
    assert!(
        histories.values().all(|history| history.len() == 100),
        "every check keeps 100 of its 100 results"
    );
    // 5000 single-result fsyncs take far longer than a few grouped commits.
    assert!(
        elapsed < Duration::from_secs(20),
        "5000 results took {elapsed:?}"
    );
}

#[tokio::test]
async fn prune_drops_checks_missing_for_the_grace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    store.append_result("kept", 10, &simple(1));
    store.append_result("gone", 10, &simple(2));
    store.append_result("back", 10, &simple(3));
    store.set_job_slot("gone", Utc::now());

    // First sighting of a missing check only starts its grace period.
    let removed = store.prune(["kept"], Duration::ZERO).await.expect("prune");
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(store.load_history("gone", 10).await.expect("load").len(), 1);

    // A long grace keeps it; a check that comes back is no longer missing.
    let removed = store
        .prune(["kept", "back"], Duration::from_secs(86_400))
        .await
        .expect("prune");
    assert!(removed.is_empty(), "{removed:?}");

    let removed = store
        .prune(["kept", "back"], Duration::ZERO)
        .await
        .expect("prune");
    assert_eq!(removed, vec!["gone".to_string()]);
    assert!(
        store
            .load_history("gone", 10)
            .await
            .expect("load")
            .is_empty()
    );
    assert_eq!(store.run_output("gone", 1).await.expect("output"), None);
    assert_eq!(store.job_slot("gone").await.expect("slot"), None);
    assert_eq!(store.load_history("kept", 10).await.expect("load").len(), 1);
    assert_eq!(store.load_history("back", 10).await.expect("load").len(), 1);
    // Nothing stays in memory about a dropped check (names come and go for years).
    assert_eq!(store.inner.run_ids.len(), 2);

    // "back" was cleared from the missing list, so this prune only marks it again.
    let removed = store.prune(["kept"], Duration::ZERO).await.expect("prune");
    assert!(removed.is_empty(), "{removed:?}");
    drop(store);

    // Missing-since survives a restart.
    let store = Durable::open_in(dir.path()).expect("reopen");
    let removed = store.prune(["kept"], Duration::ZERO).await.expect("prune");
    assert_eq!(removed, vec!["back".to_string()]);
}

#[tokio::test]
async fn spool_is_fifo_per_action_and_acks_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    let mut watch = store.spool_watch();
    let pushed: Vec<u64> = (0..5)
        .map(|n| store.spool_push("nagios", format!("r{n}").into_bytes()))
        .collect();
    store.spool_push("other", b"x".to_vec());
    assert!(
        pushed.windows(2).all(|pair| pair[0] < pair[1]),
        "{pushed:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .expect("commit seen")
        .expect("watch");
    store.flush().await.expect("flush");

    let batch = store.spool_peek("nagios", 0, 3).await.expect("peek");
    let payloads: Vec<&[u8]> = batch.iter().map(|entry| entry.payload.as_slice()).collect();
    assert_eq!(payloads, [b"r0", b"r1", b"r2"]);
    let cursor = batch.last().expect("entries").id;
    store.spool_ack("nagios", batch.iter().map(|entry| entry.id).collect());
    // The cursor skips acknowledged entries even before their deletion commits.
    let next = store.spool_peek("nagios", cursor, 10).await.expect("peek");
    assert_eq!(
        next.iter()
            .map(|entry| entry.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"r3", b"r4"]
    );
    store.flush().await.expect("flush");
    let stats = store.spool_stats();
    assert_eq!((stats.results, stats.bytes), (3, 5));
    assert_eq!(
        stats.actions["nagios"],
        ActionSpoolStats {
            results: 2,
            bytes: 4,
            dropped: 0
        }
    );
    drop(store);

    let store = Durable::open_in(dir.path()).expect("reopen");
    let left = store.spool_peek("nagios", 0, 10).await.expect("peek");
    assert_eq!(
        left.iter().map(|entry| entry.id).collect::<Vec<_>>(),
        pushed[3..].to_vec()
    );
    assert_eq!(store.spool_stats().results, 3);
    assert!(
        store.spool_push("nagios", b"r5".to_vec()) > pushed[4],
        "ids keep increasing after reopen"
    );
}

#[tokio::test]
async fn full_spool_drops_oldest_over_all_actions() {
    let store = Durable::memory().expect("memory");
    assert!(!store.is_persistent());
    store.set_spool_limits(SpoolSettings {
        max_results: 4,
        max_bytes: 1 << 20,
    });
    store.spool_push("a", b"a0".to_vec());
    store.spool_push("b", b"b0".to_vec());
    store.spool_push("a", b"a1".to_vec());
    store.spool_push("b", b"b1".to_vec());
    store.spool_push("a", b"a2".to_vec());
    store.spool_push("a", b"a3".to_vec());
    store.flush().await.expect("flush");
    let a = store.spool_peek("a", 0, 10).await.expect("peek");
    let b = store.spool_peek("b", 0, 10).await.expect("peek");
    assert_eq!(
        a.iter()
            .map(|entry| entry.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"a1", b"a2", b"a3"]
    );
    assert_eq!(
        b.iter()
            .map(|entry| entry.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"b1"]
    );
    let stats = store.spool_stats();
    assert_eq!(stats.results, 4);
    assert_eq!(stats.actions["a"].dropped, 1);
    assert_eq!(stats.actions["b"].dropped, 1);

    // Byte bound: 10 bytes hold the two new 4-byte payloads and the newest 2-byte one.
    store.set_spool_limits(SpoolSettings {
        max_results: 100,
        max_bytes: 10,
    });
    store.spool_push("b", b"big1".to_vec());
    store.spool_push("b", b"big2".to_vec());
    store.flush().await.expect("flush");
    let stats = store.spool_stats();
    assert_eq!((stats.results, stats.bytes), (3, 10));
    let b = store.spool_peek("b", 0, 10).await.expect("peek");
    assert_eq!(
        b.iter()
            .map(|entry| entry.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"big1", b"big2"]
    );
    let a = store.spool_peek("a", 0, 10).await.expect("peek");
    assert_eq!(
        a.iter()
            .map(|entry| entry.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"a3"]
    );
}

#[tokio::test]
async fn meta_and_job_slots_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slot = Utc
        .with_ymd_and_hms(2026, 3, 29, 2, 30, 0)
        .single()
        .expect("time");
    {
        let store = Durable::open_in(dir.path()).expect("open");
        store.meta_set("boot_id", Some("abc-123"));
        store.meta_set("gone", Some("x"));
        store.meta_set("gone", None);
        store.set_job_slot("backup", slot);
        store.flush().await.expect("flush");
    }
    let store = Durable::open_in(dir.path()).expect("reopen");
    assert_eq!(
        store.meta_get("boot_id").await.expect("meta").as_deref(),
        Some("abc-123")
    );
    assert_eq!(store.meta_get("gone").await.expect("meta"), None);
    assert_eq!(store.job_slot("backup").await.expect("slot"), Some(slot));
    assert_eq!(store.job_slot("other").await.expect("slot"), None);
}

#[tokio::test]
async fn unreadable_records_are_skipped() {
    let store = Durable::memory().expect("memory");
    store.append_result("a", 10, &simple(1));
    store.flush().await.expect("flush");
    {
        let db = store.inner.writer.shared().db().expect("open");
        let txn = db.begin_write().expect("write");
        {
            let mut results = txn.open_table(RESULTS).expect("table");
            results
                .insert(("a", 2), b"not json".as_slice())
                .expect("insert");
            results
                .insert(
                    ("a", 3),
                    br#"{"s":2,"o":"from the future","zz":1}"#.as_slice(),
                )
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let history = store.load_history("a", 10).await.expect("load");
    assert_eq!(ids(&history), vec![1, 3]);
    assert_eq!(history[1].state, State::Critical);
    assert_eq!(history[1].output, "from the future");
    assert_eq!(store.runs("a", 10).await.expect("runs").len(), 2);
}

#[test]
fn corrupt_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(
        &path,
        b"this is not a redb database, just some text that is long enough ".repeat(200),
    )
    .expect("write");
    let error = Durable::open(&path).expect_err("corrupt file must not open");
    assert!(
        matches!(
            error,
            StoreError::Open { .. } | StoreError::Corrupt { .. } | StoreError::Db(_)
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(FILE_NAME), "{error}");
}

#[test]
fn damaged_database_header_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    {
        let store = Durable::open(&path).expect("open");
        store.append_result("a", 10, &simple(1));
    }
    let mut bytes = std::fs::read(&path).expect("read");
    for byte in bytes.iter_mut().take(64) {
        *byte = 0xA5;
    }
    std::fs::write(&path, bytes).expect("write");
    assert!(Durable::open(&path).is_err());
}

#[test]
fn unwritable_location_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    let error =
        Durable::open_in(file.join("state")).expect_err("cannot create a directory under a file");
    assert!(matches!(error, StoreError::CreateDir { .. }), "{error:?}");
}

#[test]
fn second_open_of_the_same_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = Durable::open_in(dir.path()).expect("open");
    let error = Durable::open_in(dir.path()).expect_err("already open");
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
}

#[tokio::test]
async fn results_wait_longer_than_spool_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Durable::open_in(dir.path()).expect("open");
    let before = store.commits();
    store.append_result("check", 10, &simple(1));
    // History results alone wait for the 1 s window (or 4096 of them).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.commits(), before, "a lone result committed early");
    // A spool write in the group tightens it to D5's 100 ms.
    store.spool_push("nagios", b"r1".to_vec());
    let deadline = Instant::now() + Duration::from_millis(300);
    while store.commits() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.commits(),
        before + 1,
        "spool write not committed within 300 ms"
    );
}
