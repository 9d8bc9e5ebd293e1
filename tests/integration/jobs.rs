//! Jobs (issue 11, decisions.md D8–D10): cron schedules with second resolution,
//! `Interval`+`Schedule` rejected, catch-up across a restart, `@reboot`, the overlap
//! policies, the full output of a big job through the runs API and `smokercli
//! output`, `smokercli history`, `ActionOn`, `running`, and `/v2/openapi.json`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::common::{TestDaemon, bin, processes_matching, run_cmd, wait_until};

/// `GET /v2/plugins/{name}/runs?limit=N`, newest first.
fn runs(d: &TestDaemon, name: &str, limit: usize) -> Vec<Value> {
    d.get_json(&format!("/v2/plugins/{name}/runs?limit={limit}"))
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("runs of {name} are not a list"))
}

/// Waits until `name` has at least `n` kept runs; returns them, newest first.
fn wait_runs(d: &TestDaemon, name: &str, n: usize, timeout: Duration) -> Vec<Value> {
    let mut last = Vec::new();
    let ok = wait_until(timeout, || {
        last = runs(d, name, 100);
        last.len() >= n
    });
    assert!(ok, "{name}: wanted {n} runs, have {}: {last:?}", last.len());
    last
}

fn started(run: &Value) -> NaiveDateTime {
    let text = run["startedAt"].as_str().expect("startedAt");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("startedAt {text}: {e}"))
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

/// Oldest first, with start and end as seconds since the first start.
fn timeline(runs: &[Value]) -> Vec<(f64, f64)> {
    let mut runs: Vec<&Value> = runs.iter().collect();
    runs.reverse();
    let first = started(runs[0]);
    runs.iter()
        .map(|r| {
            let start = secs(started(r) - first);
            (start, start + r["duration"].as_f64().expect("duration"))
        })
        .collect()
}

/// `smokercli ARGS` with a HOME of its own (no ~/.smokercli.yaml).
fn smokercli(d: &TestDaemon, args: &[&str]) -> (i32, String, String) {
    run_cmd(
        Command::new(bin("smokercli"))
            .args(args)
            .env("HOME", d.dir.path())
            .env("NO_COLOR", "1"),
    )
}

fn metric(d: &TestDaemon, line_start: &str) -> f64 {
    let body = d.get("/metrics").body;
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn schedule_runs_land_on_the_slots() {
    let d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  tick:\n    Command: 'echo tick'\n    Schedule: '*/2 * * * * *'\n    History: 50\n  zoned:\n    Command: 'echo zoned'\n    Schedule: '*/3 * * * * *'\n    TimeZone: Asia/Kolkata\n",
    );
    let mut next = Value::Null;
    assert!(wait_until(Duration::from_secs(3), || {
        next = d.get_json("/plugins/tick")["plugin"]["nextRun"].clone();
        next.is_string()
    }));
    let next = next.as_str().expect("nextRun of a job");
    let next = NaiveDateTime::parse_from_str(next, "%Y-%m-%dT%H:%M:%S%.f").expect("nextRun");
    assert_eq!(
        chrono::Timelike::second(&next) % 2,
        0,
        "nextRun {next} is on a slot"
    );
    let list = wait_runs(&d, "tick", 4, Duration::from_secs(15));
    for run in &list {
        let at = started(run);
        let second = chrono::Timelike::second(&at);
        let frac = chrono::Timelike::nanosecond(&at) as f64 / 1e9;
        // Within one second after its slot (the slots are the even seconds).
        assert_eq!(second % 2, 0, "run started off its slot: {run}");
        assert!(frac < 1.0, "{run}");
        assert_eq!(run["catchUp"], false);
        assert_eq!(run["state"], "OK");
    }
    let times = timeline(&list);
    for pair in times.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            (1.0..=3.0).contains(&gap),
            "runs {gap:.3}s apart: {times:?}"
        );
    }
    // Ids are consecutive, newest first.
    let ids: Vec<u64> = list.iter().map(|r| r["id"].as_u64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1] + 1), "{ids:?}");
    // The zoned job is on its own slots (every 3 s; a whole-hour-and-a-half zone).
    for run in wait_runs(&d, "zoned", 2, Duration::from_secs(10)) {
        assert_eq!(chrono::Timelike::second(&started(&run)) % 3, 0, "{run}");
    }
}

#[test]
fn interval_and_schedule_are_rejected_with_file_and_line() {
    let dir = crate::common::temp_dir();
    let path = dir.path().join("jobs.yaml");
    std::fs::write(
        &path,
        "plugins:\n  ok:\n    Command: 'true'\n    Schedule: '@daily'\n  both:\n    Command: 'true'\n    Interval: 60\n    Schedule: '*/5 * * * *'\n  bad:\n    Command: 'true'\n    Schedule: '61 * * * *'\n  zone:\n    Command: 'true'\n    Schedule: '@hourly'\n    TimeZone: Mars/Olympus\n",
    )
    .expect("write");
    let config = path.display().to_string();
    let (code, out, err) =
        run_cmd(Command::new(bin("smokerd")).args(["check-config", "-c", &config]));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let want = format!(
        "{config}:8:15: error: plugins.both.Schedule: Interval and Schedule cannot be set together"
    );
    assert!(err.contains(&want), "wanted {want:?} in:\n{err}");
    assert!(
        err.contains(&format!(
            "{config}:11:15: error: plugins.bad.Schedule: invalid cron expression"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{config}:15:15: error: plugins.zone.TimeZone: unknown time zone"
        )),
        "{err}"
    );
    // The daemon refuses to start on it too.
    let (code, _, err) = run_cmd(Command::new(bin("smokerd")).args(["-c", &config]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&want), "{err}");
}

#[test]
fn catch_up_runs_once_after_a_restart_across_a_missed_slot() {
    let mut d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  nightly:\n    Command: 'echo nightly'\n    Schedule: '*/4 * * * * *'\n    CatchUp: true\n    History: 50\n  plain:\n    Command: 'echo plain'\n    Schedule: '*/4 * * * * *'\n    History: 50\n  yearly:\n    Command: 'echo yearly'\n    Schedule: '0 0 1 1 *'\n    CatchUp: true\n",
    );
    wait_runs(&d, "nightly", 1, Duration::from_secs(8));
    // A first start catches nothing up.
    assert!(
        runs(&d, "nightly", 50)
            .iter()
            .all(|r| r["catchUp"] == false)
    );
    d.stop();
    // At least one slot (every 4 s) passes while the daemon is down.
    std::thread::sleep(Duration::from_millis(4500));
    let before_restart = chrono::Local::now().naive_local();
    d.restart();
    let catch_ups = |d: &TestDaemon| -> Vec<Value> {
        runs(d, "nightly", 50)
            .into_iter()
            .filter(|r| r["catchUp"] == true)
            .collect()
    };
    let mut found = Vec::new();
    assert!(
        wait_until(Duration::from_secs(3), || {
            found = catch_ups(&d);
            !found.is_empty()
        }),
        "no catch-up run after the restart: {:?}",
        runs(&d, "nightly", 50)
    );
    let delay = secs(started(&found[0]) - before_restart);
    assert!(delay < 2.5, "catch-up ran {delay:.3}s after the restart");
    // Regular slots follow; still exactly one catch-up.
    let count = runs(&d, "nightly", 50).len();
    wait_runs(&d, "nightly", count + 2, Duration::from_secs(12));
    assert_eq!(catch_ups(&d).len(), 1, "{:?}", runs(&d, "nightly", 50));
    let last = d.last_result("nightly");
    assert_eq!(last["catchUp"], false, "{last}");
    // Without CatchUp nothing is caught up; a yearly job has missed nothing.
    assert!(runs(&d, "plain", 50).iter().all(|r| r["catchUp"] == false));
    assert!(runs(&d, "yearly", 50).is_empty());
    // Another restart right away (no slot missed for the yearly job) runs nothing more.
    d.stop();
    d.restart();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(runs(&d, "yearly", 50).is_empty());
}

#[test]
fn reboot_job_runs_once_per_boot() {
    let mut d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  boot:\n    Command: 'echo booted'\n    Schedule: '@reboot'\n",
    );
    wait_runs(&d, "boot", 1, Duration::from_secs(5));
    assert_eq!(
        d.get_json("/plugins/boot")["plugin"]["nextRun"],
        Value::Null
    );
    d.stop();
    d.restart();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(runs(&d, "boot", 10).len(), 1, "same boot, no second run");
}

#[test]
fn overlap_skip_counts_the_skipped_slots() {
    let d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  busy:\n    Command: 'sleep 2.5'\n    Schedule: '* * * * * *'\n    History: 50\n",
    );
    let list = wait_runs(&d, "busy", 3, Duration::from_secs(15));
    let times = timeline(&list);
    for pair in times.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // The next run is on the first slot after the previous one ended.
        assert!((2.5..4.0).contains(&gap), "{times:?}");
        assert!(pair[1].0 >= pair[0].1, "overlapping runs: {times:?}");
    }
    let skipped = metric(
        &d,
        "smoker_check_skipped_total{check=\"busy\",reason=\"overlap\"}",
    );
    assert!(skipped >= 4.0, "skipped {skipped}");
}

#[test]
fn overlap_queue_runs_back_to_back_and_coalesces() {
    let d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  queued:\n    Command: 'sleep 2.1'\n    Schedule: '* * * * * *'\n    Overlap: queue\n    History: 50\n",
    );
    let list = wait_runs(&d, "queued", 4, Duration::from_secs(15));
    let times = timeline(&list);
    for pair in times.windows(2) {
        let wait = pair[1].0 - pair[0].1;
        // The queued run starts as soon as the previous one ends, not on the next slot
        // (which would be 0.9 s later).
        assert!((-0.01..0.6).contains(&wait), "{times:?}");
    }
    // Two slots pass during each run: the second one is coalesced into the queued run.
    let coalesced = metric(
        &d,
        "smoker_check_skipped_total{check=\"queued\",reason=\"coalesced\"}",
    );
    assert!(coalesced >= 2.0, "coalesced {coalesced}");
    assert!(list.iter().all(|r| r["state"] == "OK"), "{list:?}");
}

#[test]
fn overlap_kill_terminates_the_running_one() {
    let marker = "sleep 97.25";
    let mut d = TestDaemon::start(&format!(
        "state_dir: {{dir}}/state\nplugins:\n  stuck:\n    Command: '{marker}; echo never'\n    Schedule: '*/2 * * * * *'\n    Overlap: kill\n    History: 50\n"
    ));
    let list = wait_runs(&d, "stuck", 3, Duration::from_secs(15));
    for run in &list {
        assert_eq!(run["state"], "UNKNOWN", "{run}");
        assert_eq!(
            run["output"], "killed: the next run was due (Overlap: kill)",
            "{run}"
        );
        let duration = run["duration"].as_f64().expect("duration");
        assert!((1.0..2.9).contains(&duration), "{run}");
    }
    let times = timeline(&list);
    for pair in times.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!((1.5..2.9).contains(&gap), "{times:?}");
    }
    // Never more than one run of the job at a time (its shell and its sleep), none left
    // after the stop.
    let alive = processes_matching(marker);
    assert!(alive.len() <= 2, "{alive:?}");
    d.stop();
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(marker)
            .is_empty()),
        "{:?}",
        processes_matching(marker)
    );
}

/// The content a `yes PATTERN | head -c N` job writes.
fn yes_output(line: &str, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + line.len() + 1);
    while text.len() < bytes {
        text.push_str(line);
        text.push('\n');
    }
    text.truncate(bytes);
    text
}

#[test]
fn full_output_of_a_500_kb_job_through_the_api_and_the_client() {
    let line = "0123456789abcdefghijklmnopqrstuvwxyz";
    let d = TestDaemon::start(&format!(
        "state_dir: {{dir}}/state\nplugins:\n  big:\n    Command: 'yes {line} | head -c 500000; echo done-on-stderr >&2'\n    MaxOutput: 1MiB\n  capped:\n    Command: 'yes {line} | head -c 5000'\n    MaxOutput: 1KiB\n"
    ));
    d.force(&["big", "capped"]);
    let expected = yes_output(line, 500_000);
    let list = runs(&d, "big", 10);
    assert_eq!(list.len(), 1, "{list:?}");
    let run = &list[0];
    assert_eq!(run["state"], "OK");
    assert_eq!(run["exitCode"], 0);
    assert_eq!(run["output"], line);
    let id = run["id"].as_u64().expect("id");
    let out = d.get_json(&format!("/v2/plugins/big/runs/{id}/output"));
    let stdout = out["stdout"].as_str().expect("stdout");
    assert_eq!(stdout.len(), 500_000);
    assert!(stdout == expected, "stdout differs from what the job wrote");
    assert_eq!(out["stderr"], "done-on-stderr\n");
    assert_eq!(out["truncated"], false);
    // The smoker API stays bounded: messages and longOutput hold at most the first 64 KiB.
    let last = d.last_result("big");
    let size = last.to_string().len();
    assert!(size < 2 * 65_536 + 8_192, "{size} bytes");
    assert!(
        last["longOutput"]
            .as_str()
            .is_some_and(|l| l.len() <= 65_536)
    );
    // A job over its MaxOutput is cut and says so.
    let capped = runs(&d, "capped", 1);
    let id_capped = capped[0]["id"].as_u64().expect("id");
    let out = d.get_json(&format!("/v2/plugins/capped/runs/{id_capped}/output"));
    assert_eq!(out["stdout"].as_str().map(str::len), Some(1024));
    assert_eq!(out["truncated"], true);

    // smokercli output: the latest run, and by id.
    let host = format!("127.0.0.1:{}", d.port);
    let (code, stdout, stderr) = smokercli(&d, &["output", "big", "-s", &host]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout == expected,
        "smokercli output: {} bytes",
        stdout.len()
    );
    assert!(stderr.contains("done-on-stderr"), "{stderr}");
    let run_arg = id.to_string();
    let (code, stdout, _) = smokercli(
        &d,
        &[
            "output", "big", "--run", &run_arg, "-s", &host, "-o", "json",
        ],
    );
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&stdout).expect("json");
    let (_, entry) = doc
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one host");
    assert_eq!(entry["stdout"].as_str().map(str::len), Some(500_000));
    assert_eq!(entry["id"], id);

    // Unknown names and ids are JSON 404s.
    for path in [
        "/v2/plugins/nope/runs",
        "/v2/plugins/nope/runs/1/output",
        "/v2/plugins/big/runs/999/output",
        "/v2/plugins/big/runs/x/output",
    ] {
        let r = d.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(r.json()["message"].is_string(), "{path}: {}", r.body);
    }
    assert_eq!(d.get("/v2/plugins/big/runs?limit=0").status, 400);
    let (code, _, stderr) = smokercli(&d, &["output", "big", "--run", "999", "-s", &host]);
    assert_ne!(code, 0, "{stderr}");
}

#[test]
fn history_lists_the_runs_as_text_and_json() {
    let d = TestDaemon::start(
        "state_dir: {dir}/state\nplugins:\n  hist:\n    Command: 'echo run at $(date +%%s%%N); exit 1'\n    History: 5\n",
    );
    for _ in 0..3 {
        d.force(&["hist"]);
    }
    let host = format!("127.0.0.1:{}", d.port);
    let (code, out, err) = smokercli(&d, &["history", "hist", "-s", &host, "-n", "2"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].contains("ID") && lines[1].contains("STARTED"),
        "{out}"
    );
    for (line, id) in lines[2..].iter().zip(["3", "2"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], id, "{out}");
        assert!(line.contains("WARNING") && line.contains("run at"), "{out}");
    }
    let (code, out, err) = smokercli(
        &d,
        &["history", "hist", "-s", &host, "-n", "10", "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).expect("json");
    let (_, list) = doc
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one host");
    let ids: Vec<u64> = list
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [3, 2, 1]);
    assert_eq!(list[0]["status"], "WARN");
    assert_eq!(list[0]["exitCode"], 1);
}

#[test]
fn action_on_fires_only_when_asked() {
    let d = TestDaemon::start(
        "state_dir: {dir}/state\nactions:\n  Mark: {Command: 'echo %(name)s >> {dir}/fired'}\nplugins:\n  onchange: {Command: 'exit $(cat {dir}/code)', Action: Mark, ActionOn: [change]}\n  onok: {Command: 'exit $(cat {dir}/code)', Action: Mark, ActionOn: [OK]}\n  onerror: {Command: 'exit $(cat {dir}/code)', Action: Mark, ActionOn: [ERROR, WARN]}\n  always: {Command: 'exit $(cat {dir}/code)', Action: Mark}\n",
    );
    let code = d.dir.path().join("code");
    let all = ["onchange", "onok", "onerror", "always"];
    // A failing job: 3 runs, then it recovers once, then fails again.
    for state in ["2", "2", "2", "0", "2"] {
        std::fs::write(&code, state).expect("write code");
        d.force(&all);
    }
    let fired = std::fs::read_to_string(d.dir.path().join("fired")).unwrap_or_default();
    let count = |name: &str| fired.lines().filter(|l| *l == name).count();
    // change: the first result, 2→0, 0→2.
    assert_eq!(count("onchange"), 3, "{fired}");
    assert_eq!(count("onok"), 1, "{fired}");
    assert_eq!(count("onerror"), 4, "{fired}");
    assert_eq!(count("always"), 5, "{fired}");
    // The result says whether its action ran.
    let last = d.last_result("onok");
    assert_eq!(last["action"], Value::Null, "{last}");
    let last = d.last_result("onerror");
    assert_eq!(last["action"]["status"], "OK", "{last}");
}

#[test]
fn a_running_job_is_visible_in_the_api_and_the_client() {
    let d =
        TestDaemon::start("state_dir: {dir}/state\nplugins:\n  long:\n    Command: 'sleep 3'\n");
    let r = d.post("/processes", r#"{"process": {"plugins": ["long"]}}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    let mut running = Value::Null;
    assert!(wait_until(Duration::from_secs(5), || {
        running = d.get_json("/plugins/long")["plugin"]["running"].clone();
        running["pid"].as_u64().is_some_and(|p| p > 0)
    }));
    assert!(running["startedAt"].is_string(), "{running}");
    let host = format!("127.0.0.1:{}", d.port);
    let (_, out, err) = smokercli(&d, &["-s", &host]);
    let pid = running["pid"].as_u64().expect("pid");
    assert!(
        out.contains("Running since") && out.contains(&format!("pid {pid}")),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let start = Instant::now();
    assert!(wait_until(Duration::from_secs(10), || {
        d.get_json("/plugins/long")["plugin"]["running"].is_null()
    }));
    assert!(start.elapsed() < Duration::from_secs(5));
    let (_, out, _) = smokercli(&d, &["-s", &host]);
    assert!(!out.contains("Running since"), "{out}");
}

#[test]
fn openapi_describes_the_served_v2_routes() {
    let d =
        TestDaemon::start("state_dir: {dir}/state\nplugins:\n  one:\n    Command: 'echo one'\n");
    d.force(&["one"]);
    let doc = d.get_json("/v2/openapi.json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/v2/reload") && paths.contains_key("/healthz"));
    for (path, item) in paths {
        let concrete = path.replace("{name}", "one").replace("{id}", "1");
        for method in item.as_object().expect("path item").keys() {
            // A stream never ends: `ui::events_stream_results_and_reloads_to_curl` reads it.
            if item[method]["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some()
            {
                continue;
            }
            let r = crate::common::http(d.port, &method.to_uppercase(), &concrete, None)
                .unwrap_or_else(|e| panic!("{method} {concrete}: {e}"));
            let documented = item[method]["responses"]
                .as_object()
                .expect("responses")
                .contains_key(&r.status.to_string());
            assert!(
                documented,
                "{method} {concrete} answered {} which {path} does not document: {}",
                r.status, r.body
            );
            assert!(r.status != 404 && r.status != 405, "{method} {concrete}");
        }
    }
}

#[test]
fn v2_writes_follow_the_tokens_as_documented() {
    // Only write tokens: reads stay open, POST /v2/reload needs a write token.
    let d = TestDaemon::start(
        "state_dir: {dir}/state\napi: {write_tokens: [writer]}\nplugins:\n  one:\n    Command: 'echo one'\n",
    );
    let doc = d.get_json("/v2/openapi.json");
    let reload = &doc["paths"]["/v2/reload"]["post"]["responses"];
    assert!(
        reload.get("401").is_some() && reload.get("403").is_some(),
        "{reload}"
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["message"].is_string());
    assert_eq!(d.get("/v2/plugins/one/runs").status, 200);
    assert_eq!(
        doc["paths"]["/healthz"]["get"]["security"],
        serde_json::json!([])
    );
}
