//! Lifecycle through the real binary (issue 8): durable history across SIGTERM
//! restarts and `kill -9`, reload by SIGHUP and `POST /v2/reload` (applied, refused,
//! rebinding), graceful and immediate shutdown, the store falling back to memory,
//! and the pidfile.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestDaemon, free_port, http, processes_matching, run_bin, wait_until};

/// Prints `run N`, N counting up across runs and restarts.
const COUNTER: &str = "#!/bin/sh\nn=$(cat \"$0.n\" 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \"$0.n\"\necho \"run $n\"\n";

fn outputs(d: &TestDaemon, name: &str) -> Vec<String> {
    d.get_json(&format!("/plugins/{name}"))["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["result"]["output"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn names(d: &TestDaemon) -> Vec<String> {
    d.get_json("/plugins")["plugins"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["plugin"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Rewrites the daemon's config file (keeping its address and store).
fn rewrite(d: &TestDaemon, port: u16, yaml: &str) {
    let dir = d.dir.path().display().to_string();
    let yaml = yaml.replace("{dir}", &dir);
    std::fs::write(
        &d.config,
        format!("bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {dir}/state\n{yaml}"),
    )
    .expect("rewrite config");
}

fn healthz(d: &TestDaemon) -> (u16, Value) {
    let r = d.get("/healthz");
    (r.status, r.json())
}

fn metrics(d: &TestDaemon) -> String {
    let r = d.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn metric_line(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
}

const BASE: &str = "templates:\n  BasePlugin: {Interval: 0, Timeout: 30, History: 5}\n";

#[test]
fn history_survives_sigterm_restart_and_kill9() {
    let mut d = TestDaemon::start_with(
        &format!("{BASE}plugins:\n  count: {{Category: demo, Command: '{{dir}}/count.sh'}}\n"),
        &[("count.sh", COUNTER)],
        &[],
    );
    assert_eq!(
        healthz(&d),
        (200, json!({"status": "ok", "config": "ok", "store": "ok"}))
    );
    for _ in 0..3 {
        d.force(&["count"]);
    }
    assert_eq!(outputs(&d, "count"), ["run 1", "run 2", "run 3"]);

    let status = d.stop();
    assert!(status.success(), "exit status {status:?}");
    assert!(d.dir.path().join("state/smokerd.redb").exists());
    d.restart();
    assert_eq!(outputs(&d, "count"), ["run 1", "run 2", "run 3"]);
    assert_eq!(d.last_result("count")["output"], "run 3");
    assert_eq!(healthz(&d).0, 200);

    // History still bounds what is kept; a kill -9 keeps what was committed (the
    // store commits a group of results at the latest 1 s after its first result).
    for _ in 0..3 {
        d.force(&["count"]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    d.kill9();
    d.restart();
    assert_eq!(
        outputs(&d, "count"),
        ["run 2", "run 3", "run 4", "run 5", "run 6"]
    );
    assert_eq!(d.last_result("count")["output"], "run 6");
    // Run ids continue after the restart: the next run is the 7th of this check.
    d.force(&["count"]);
    assert_eq!(d.last_result("count")["output"], "run 7");
    assert_eq!(outputs(&d, "count").len(), 5);
}

#[test]
fn sighup_with_broken_config_keeps_old_checks_and_reports() {
    let yaml = format!("{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  b: {{Command: 'echo b'}}\n");
    let d = TestDaemon::start(&yaml);
    d.force(&["a"]);
    rewrite(
        &d,
        d.port,
        &format!(
            "{BASE}plugins:\n  a: {{Command: 'echo a', Interval: soon}}\n  z: {{Command: 'echo z'}}\n"
        ),
    );
    d.signal("HUP");
    let mut health = (0, Value::Null);
    assert!(
        wait_until(Duration::from_secs(15), || {
            health = healthz(&d);
            health.0 == 503
        }),
        "healthz never went stale: {health:?}\n{}",
        d.stderr()
    );
    let (_, body) = health;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["config"], "stale");
    assert_eq!(body["store"], "ok");
    let errors = body["configErrors"].as_array().expect("configErrors");
    assert!(
        errors.iter().any(|e| e.as_str().is_some_and(|e| e
            .starts_with(&format!("{}:", d.config.display()))
            && e.contains("Interval"))),
        "{errors:?}"
    );
    assert!(d.stderr().contains("keeping the running configuration"));
    // The old configuration keeps serving.
    assert_eq!(names(&d), ["a", "b"]);
    assert_eq!(d.last_result("a")["output"], "a");
    d.force(&["b"]);
    assert_eq!(d.last_result("b")["output"], "b");
    let text = metrics(&d);
    assert_eq!(
        metric_line(&text, "smoker_config_last_reload_success ").as_deref(),
        Some("smoker_config_last_reload_success 0"),
        "{text}"
    );
    assert_eq!(
        metric_line(&text, "smoker_config_reloads_total{result=\"failure\"}").as_deref(),
        Some("smoker_config_reloads_total{result=\"failure\"} 1"),
        "{text}"
    );

    // Fixing the file and reloading again clears the error.
    rewrite(&d, d.port, &yaml);
    d.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(15), || healthz(&d).0 == 200),
        "{:?}",
        healthz(&d)
    );
    let text = metrics(&d);
    assert_eq!(
        metric_line(&text, "smoker_config_last_reload_success ").as_deref(),
        Some("smoker_config_last_reload_success 1")
    );
}

#[test]
fn sighup_applies_added_removed_changed_and_keeps_history() {
    let three = format!(
        "{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  b: {{Command: 'echo b'}}\n  c: {{Command: 'echo c'}}\n"
    );
    let d = TestDaemon::start(&three);
    d.force(&["a", "b", "c"]);
    rewrite(
        &d,
        d.port,
        &format!(
            "{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  b: {{Command: 'echo b2'}}\n  d: {{Command: 'echo d'}}\n"
        ),
    );
    d.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(15), || names(&d) == ["a", "b", "d"]),
        "{:?}\n{}",
        names(&d),
        d.stderr()
    );
    assert!(d.stderr().contains("Configuration reloaded."));
    assert_eq!(outputs(&d, "a"), ["a"]);
    assert_eq!(outputs(&d, "b"), ["b"], "a changed check keeps its history");
    assert_eq!(outputs(&d, "d"), Vec::<String>::new());
    assert_eq!(d.get("/plugins/c").status, 404);
    d.force(&["b", "d"]);
    assert_eq!(outputs(&d, "b"), ["b", "b2"]);
    assert_eq!(outputs(&d, "d"), ["d"]);

    // A check that comes back within removed_check_grace gets its history back.
    rewrite(&d, d.port, &three);
    d.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(15), || names(&d) == ["a", "b", "c"]),
        "{:?}",
        names(&d)
    );
    assert_eq!(outputs(&d, "c"), ["c"]);
    assert_eq!(outputs(&d, "b"), ["b", "b2"]);
    assert_eq!(healthz(&d).0, 200);
}

#[test]
fn removed_checks_are_dropped_after_the_grace() {
    let with_c = format!(
        "removed_check_grace: 1\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  c: {{Command: 'echo c'}}\n"
    );
    let d = TestDaemon::start(&with_c);
    d.force(&["c"]);
    rewrite(
        &d,
        d.port,
        &format!("removed_check_grace: 1\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"),
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 200, "{}", r.body);
    // The prune task looks again every second; give it a few rounds past the grace.
    std::thread::sleep(Duration::from_secs(4));
    rewrite(&d, d.port, &with_c);
    let r = d.post("/v2/reload", "");
    assert_eq!(
        r.json(),
        json!({"reloaded": true, "added": ["c"], "removed": [], "changed": []})
    );
    assert_eq!(outputs(&d, "c"), Vec::<String>::new());
}

#[test]
fn post_reload_applies_refuses_and_rebinds() {
    let mut d = TestDaemon::start(&format!("{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"));
    d.force(&["a"]);
    rewrite(
        &d,
        d.port,
        &format!("{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  d: {{Command: 'echo d'}}\n"),
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"reloaded": true, "added": ["d"], "removed": [], "changed": []})
    );
    assert_eq!(names(&d), ["a", "d"]);

    rewrite(
        &d,
        d.port,
        &format!("{BASE}plugins:\n  a: {{Command: 'echo a', Timeout: -3}}\n"),
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 422, "{}", r.body);
    let body = r.json();
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let errors = body["errors"].as_array().expect("errors");
    let prefix = format!("{}:", d.config.display());
    assert!(
        !errors.is_empty()
            && errors.iter().all(|e| {
                let e = e.as_str().unwrap_or_default();
                // FILE:LINE:COL: …
                e.strip_prefix(&prefix).is_some_and(|rest| {
                    let mut parts = rest.splitn(3, ':');
                    parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                        && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
                })
            }),
        "{errors:?}"
    );
    assert_eq!(names(&d), ["a", "d"]);
    let (status, health) = healthz(&d);
    assert_eq!((status, &health["config"]), (503, &json!("stale")));

    // A new address that cannot be bound refuses the whole reload.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    rewrite(
        &d,
        taken_port,
        &format!("{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"),
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    assert!(
        errors[0]
            .as_str()
            .is_some_and(|e| e.contains("cannot listen on") && e.contains("bind_port")),
        "{errors}"
    );
    assert_eq!(names(&d), ["a", "d"]);
    drop(taken);

    // A changed listen address: the new one serves, the old one stops; a new
    // `metrics: {listen}` starts serving.
    let old = d.port;
    let new = free_port();
    let metrics_port = free_port();
    rewrite(
        &d,
        new,
        &format!(
            "metrics: {{listen: '127.0.0.1:{metrics_port}'}}\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n  d: {{Command: 'echo d'}}\n"
        ),
    );
    let r = d.post("/v2/reload", "");
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"reloaded": true, "added": [], "removed": [], "changed": []})
        )
    );
    d.port = new;
    assert_eq!(names(&d), ["a", "d"]);
    assert_eq!(outputs(&d, "a"), ["a"]);
    assert_eq!(healthz(&d).0, 200);
    assert!(
        wait_until(Duration::from_secs(10), || http(old, "GET", "/", None)
            .is_err()),
        "old address still answers"
    );
    let scraped = http(metrics_port, "GET", "/metrics", None).expect("metrics listener");
    assert!(
        scraped.body.contains("smoker_config_last_reload_success 1"),
        "{}",
        scraped.body
    );
    let status = d.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_during_a_long_check_exits_within_the_grace() {
    let mut d = TestDaemon::start_with(
        &format!(
            "shutdown_grace: 1\n{BASE}plugins:\n  long: {{Command: '{{dir}}/long.sh', Timeout: 600}}\n"
        ),
        &[("long.sh", "#!/bin/sh\nsleep 300 &\nsleep 300\n")],
        &[],
    );
    let marker = d.dir.path().join("long.sh").display().to_string();
    let r = d.post("/processes", r#"{"process": {"plugins": ["long"]}}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(wait_until(Duration::from_secs(10), || {
        d.get_json("/plugins/long")["plugin"]["running"]["pid"].as_u64() > Some(0)
    }));
    let started = Instant::now();
    let status = d.stop_within(Duration::from_secs(15)).expect("exited");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}\n{}", d.stderr());
    // 1 s grace, then TERM → KILL of the group within KILL_GRACE (3 s).
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(&marker)
            .is_empty()),
        "{:?}",
        processes_matching(&marker)
    );
    // The interrupted result was flushed to the store before exit.
    d.restart();
    let last = d.last_result("long");
    assert_eq!(last["state"], "UNKNOWN", "{last}");
    assert!(
        last["output"]
            .as_str()
            .is_some_and(|o| o.contains("interrupted by shutdown")),
        "{last}"
    );
}

#[test]
fn second_signal_exits_at_once_without_leftovers() {
    let mut d = TestDaemon::start_with(
        &format!(
            "shutdown_grace: 60\n{BASE}plugins:\n  long: {{Command: '{{dir}}/long2.sh', Timeout: 600}}\n"
        ),
        &[("long2.sh", "#!/bin/sh\nsleep 300\n")],
        &[],
    );
    let marker = d.dir.path().join("long2.sh").display().to_string();
    let r = d.post("/processes", r#"{"process": {"plugins": ["long"]}}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(wait_until(Duration::from_secs(10), || {
        d.get_json("/plugins/long")["plugin"]["running"]["pid"].as_u64() > Some(0)
    }));
    d.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    // Still waiting for the check (grace 60 s).
    assert_eq!(d.get("/healthz").status, 200);
    let started = Instant::now();
    let status = d.stop_within(Duration::from_secs(10)).expect("exited");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!status.success());
    assert!(d.stderr().contains("Second signal"));
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(&marker)
            .is_empty()),
        "{:?}",
        processes_matching(&marker)
    );
}

#[test]
fn unusable_store_runs_in_memory() {
    // state_dir below a regular file cannot be created.
    let d = TestDaemon::start(&format!(
        "state_dir: {{dir}}/smokerd.yaml/state\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"
    ));
    let (status, body) = healthz(&d);
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["config"], "ok");
    assert_eq!(body["store"], "memory");
    assert!(
        body["storeError"]
            .as_str()
            .is_some_and(|e| e.contains("smokerd.yaml/state")),
        "{body}"
    );
    d.force(&["a"]);
    assert_eq!(d.last_result("a")["output"], "a");
    assert!(d.stderr().contains("keeping results in memory only"));

    // A corrupt database file: the same.
    let d = TestDaemon::start_with(
        &format!("{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"),
        &[("state/smokerd.redb", &"not a database\n".repeat(500))],
        &[],
    );
    let (status, body) = healthz(&d);
    assert_eq!((status, &body["store"]), (503, &json!("memory")), "{body}");
    d.force(&["a"]);
    assert_eq!(d.last_result("a")["output"], "a");
}

#[test]
fn pidfile_is_written_refused_while_held_and_removed() {
    let mut d = TestDaemon::start(&format!(
        "pidfile: {{dir}}/smokerd.pid\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"
    ));
    let pidfile = d.dir.path().join("smokerd.pid");
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pidfile"),
        d.pid().to_string()
    );
    // A second smokerd on the same pidfile (another port) refuses to start.
    let second = d.dir.path().join("second.yaml");
    std::fs::write(
        &second,
        format!(
            "bind_host: 127.0.0.1\nbind_port: {}\nstate_dir: {}/state2\npidfile: {}\nplugins:\n  a: {{Command: 'echo a'}}\n",
            free_port(),
            d.dir.path().display(),
            pidfile.display()
        ),
    )
    .expect("write");
    let (code, _, stderr) = run_bin("smokerd", &["-c", &second.display().to_string()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pidfile"),
        d.pid().to_string()
    );
    let status = d.stop();
    assert!(status.success());
    assert!(!pidfile.exists());
}

/// Kills the child on drop (a failing assertion must not leave a daemon behind).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn systemd_notifications_and_watchdog() {
    use std::os::unix::net::UnixDatagram;

    let dir = crate::common::temp_dir();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let port = free_port();
    let config = dir.path().join("smokerd.yaml");
    std::fs::write(
        &config,
        format!(
            "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}/state\n{BASE}plugins:\n  env: {{Command: 'echo \"socket=${{NOTIFY_SOCKET:-none}} watchdog=${{WATCHDOG_USEC:-none}} tunables=${{GLIBC_TUNABLES-none}} ${{SMOKERD_MALLOC_RESTARTED-none}}\"'}}\n",
            dir.path().display()
        ),
    )
    .expect("config");
    let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr");
    let mut child = Reaped(
        std::process::Command::new(crate::common::bin("smokerd"))
            .arg("-c")
            .arg(&config)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "400000")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn smokerd"),
    );
    let mut received = Vec::new();
    let mut next = |what: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                received.push(message.clone());
                if message.lines().any(|l| l == what) {
                    return message;
                }
            }
        }
        panic!("no {what} within 15 s; got {received:?}");
    };
    next("READY=1");
    // READY comes once the API listens.
    assert_eq!(
        http(port, "GET", "/", None)
            .expect("API up at READY")
            .status,
        200
    );
    next("WATCHDOG=1");
    next("WATCHDOG=1");

    // Plugins do not inherit systemd's channel.
    let d = TestDaemonView { port };
    // Nor the malloc setting smokerd started itself again with (same pid, see
    // `sys::restart_without_tcache`), which its own start did get.
    assert_eq!(
        d.force_output("env"),
        "socket=none watchdog=none tunables=none none"
    );
    let environ = std::fs::read(format!("/proc/{}/environ", child.0.id())).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"GLIBC_TUNABLES=glibc.malloc.tcache_count=0"),
        "smokerd was not started again with its malloc setting"
    );
    // The second start took back the first one's name (not `exe`), for pgrep and
    // the journal.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.0.id())).expect("comm");
    assert_eq!(comm.trim_end(), "smokerd");

    std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .expect("kill");
    let reloading = next("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    next("READY=1");
    std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    next("STOPPING=1");
    let status = (0..500)
        .find_map(|_| {
            let status = child.0.try_wait().ok().flatten();
            if status.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            status
        })
        .expect("exited");
    assert!(status.success(), "{status:?}");
}

/// The few API calls `systemd_notifications_and_watchdog` needs on a daemon it started itself.
struct TestDaemonView {
    port: u16,
}

impl TestDaemonView {
    fn force_output(&self, name: &str) -> String {
        let body = json!({"process": {"plugins": [name]}}).to_string();
        let r = http(self.port, "POST", "/processes", Some(&body)).expect("POST");
        assert_eq!(r.status, 202, "{}", r.body);
        let poll = r.json()["asyncTask"]["link"]["poll"]
            .as_str()
            .expect("poll")
            .to_string();
        let mut last = Value::Null;
        assert!(wait_until(Duration::from_secs(15), || {
            let r = http(self.port, "GET", &poll, None).expect("GET");
            if r.status == 200 {
                last = r.json();
            }
            r.status == 200
        }));
        last["plugins"]["items"][0]["plugin"]["forcedResult"]["output"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[test]
fn json_log_format_writes_one_object_per_line() {
    let mut d = TestDaemon::start(&format!(
        "log_format: json\n{BASE}plugins:\n  a: {{Command: 'echo a'}}\n"
    ));
    d.force(&["a"]);
    let status = d.stop();
    assert!(status.success());
    let stderr = d.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in &lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("\"smokerd started.\"")),
        "{stderr}"
    );
    assert!(lines.iter().any(|l| l.contains("\"Stopped.\"")), "{stderr}");
}
