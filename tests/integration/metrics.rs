//! `/metrics` through the real daemon: Debian's `promtool check metrics` on our
//! Prometheus text, content negotiation, and a real `prometheus` scraping us every
//! second whose query API returns a check's status and perfdata in base units.

use std::{
    io::Write,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::common::{HttpResponse, TestDaemon, free_port, temp_dir, wait_until};

/// A plugin with known perfdata: 0.5 s and 2 KB (= 2048 bytes, D7).
const PERF_PLUGIN: &str = "#!/bin/sh\necho 'OK - all fine | time=0.5s;1;2;0; size=2KB;;;0;4'\n";

fn perf_config() -> String {
    "plugins:\n  \
       perf: {Command: '{dir}/perf.sh', Interval: 1, Category: demo, Component: web}\n  \
       broken: {Command: 'exit 2', Interval: 1}\n"
        .to_string()
}

fn start_daemon() -> TestDaemon {
    let daemon = TestDaemon::start_with(&perf_config(), &[("perf.sh", PERF_PLUGIN)], &[]);
    let ready = wait_until(Duration::from_secs(20), || {
        let text = get_metrics(daemon.port, None).body;
        text.contains("smoker_perfdata_value{check=\"perf\"")
            && text.contains("smoker_check_status{check=\"broken\"")
    });
    assert!(
        ready,
        "no results in /metrics: {}\n{}",
        get_metrics(daemon.port, None).body,
        daemon.stderr()
    );
    daemon
}

/// `GET /metrics` with an optional `Accept` header.
fn get_metrics(port: u16, accept: Option<&str>) -> HttpResponse {
    get(port, "/metrics", accept).expect("GET /metrics")
}

/// `GET path` with an optional `Accept` header; chunked bodies are decoded.
fn get(port: u16, path: &str, accept: Option<&str>) -> std::io::Result<HttpResponse> {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    crate::common::http_with_headers(port, "GET", path, &headers, None)
}

fn promtool(args: &[&str], stdin: Option<&str>, dir: Option<&Path>) -> (bool, String) {
    let mut command = Command::new("promtool");
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .spawn()
        .expect("promtool runs (scripts/install-deps installs prometheus)");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write to promtool");
    drop(input);
    let output = child.wait_with_output().expect("promtool finishes");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

#[test]
fn promtool_accepts_live_metrics_and_formats_are_negotiated() {
    let daemon = start_daemon();
    let value = |body: &str, name: &str| -> f64 {
        let line = body.lines().find(|l| l.starts_with(&format!("{name} ")));
        let line = line.unwrap_or_else(|| panic!("no {name} in\n{body}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let body = get_metrics(daemon.port, None).body;
    assert!(
        value(&body, "process_resident_memory_bytes") > 1e6,
        "{body}"
    );
    assert!(value(&body, "process_open_fds") >= 3.0, "{body}");
    let started = value(&body, "process_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - started).abs() < 600.0,
        "started {started}, now {now}"
    );

    let text = get_metrics(daemon.port, None);
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let (ok, report) = promtool(&["check", "metrics"], Some(&text.body), None);
    assert!(
        ok && report.trim().is_empty(),
        "promtool check metrics: {report}\n{}",
        text.body
    );
    assert!(!text.body.contains("# EOF"));
    for line in [
        "smoker_check_status{check=\"perf\",category=\"demo\",component=\"web\"} 0\n",
        "smoker_check_status{check=\"broken\",category=\"\",component=\"\"} 2\n",
        "smoker_check_state{check=\"broken\",state=\"CRITICAL\"} 1\n",
        "smoker_perfdata_value{check=\"perf\",label=\"time\",unit=\"seconds\"} 0.5\n",
        "smoker_perfdata_value{check=\"perf\",label=\"size\",unit=\"bytes\"} 2048.0\n",
        "smoker_perfdata_threshold{check=\"perf\",label=\"time\",kind=\"crit\",bound=\"end\"} 2.0\n",
        "smoker_perfdata_max{check=\"perf\",label=\"size\"} 4096.0\n",
        "# TYPE smoker_check_runs_total counter\n",
        // Known labels start at 0 (issue 20) and the standard process metrics are there.
        "smoker_check_skipped_total{check=\"broken\",reason=\"overlap\"} 0\n",
        "smoker_check_runs_by_trigger_total{check=\"broken\",trigger=\"nrpe\"} 0\n",
        "# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
    ] {
        assert!(
            text.body.contains(line),
            "missing {line:?} in\n{}",
            text.body
        );
    }
    // No host label (D7): Prometheus adds `instance`.
    assert!(!text.body.contains("host="), "{}", text.body);

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = get_metrics(daemon.port, Some(prometheus_accept));
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert!(
        open.body.contains("# TYPE smoker_check_runs counter\n"),
        "{}",
        open.body
    );
}

/// A real Prometheus server on a temp dir and a free port; killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        let dir = temp_dir();
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/alerts.yml");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: smoker\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
                rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus runs (scripts/install-deps installs it)");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/<path>`, JSON `data`; `None` until Prometheus answers.
    fn api(&self, path: &str) -> Option<Value> {
        let response = get(self.port, &format!("/api/v1/{path}"), None).ok()?;
        if response.status != 200 {
            return None;
        }
        let body: Value = serde_json::from_str(&response.body).ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    /// Whether an instant query returns at least one sample; waits up to 60 s.
    fn has_data(&self, query: &str) -> bool {
        let path = format!("query?query={}", encode_query(query));
        wait_until(Duration::from_secs(60), || {
            self.api(&path)
                .is_some_and(|data| data["result"].as_array().is_some_and(|r| !r.is_empty()))
        })
    }

    /// The single sample of an instant query, as (labels, value); waits up to 30 s.
    fn query_one(&self, query: &str) -> (Value, f64) {
        let path = format!("query?query={}", encode_query(query));
        let mut found = None;
        let ok = wait_until(Duration::from_secs(30), || {
            found = self.api(&path).and_then(|data| {
                let result = data["result"].as_array()?;
                let [sample] = result.as_slice() else {
                    return None;
                };
                let value = sample["value"][1].as_str()?.parse::<f64>().ok()?;
                Some((sample["metric"].clone(), value))
            });
            found.is_some()
        });
        assert!(
            ok,
            "Prometheus has no single sample for {query}; log:\n{}",
            self.log()
        );
        found.expect("sample")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a PromQL query for a URL query string.
fn encode_query(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn real_prometheus_scrapes_status_and_perfdata() {
    let daemon = start_daemon();
    let prometheus = Prometheus::start(daemon.port);

    let (labels, status) = prometheus.query_one("smoker_check_status{check=\"perf\"}");
    assert_eq!(status, 0.0);
    assert_eq!(labels["category"], "demo");
    assert_eq!(labels["component"], "web");
    assert_eq!(labels["job"], "smoker");
    assert_eq!(labels["instance"], format!("127.0.0.1:{}", daemon.port));
    assert!(labels.get("host").is_none(), "{labels}");

    let (_, status) = prometheus.query_one("smoker_check_status{check=\"broken\"}");
    assert_eq!(status, 2.0);

    let (labels, time) =
        prometheus.query_one("smoker_perfdata_value{check=\"perf\",label=\"time\"}");
    assert_eq!((labels["unit"].as_str(), time), (Some("seconds"), 0.5));
    let (labels, size) =
        prometheus.query_one("smoker_perfdata_value{check=\"perf\",label=\"size\"}");
    assert_eq!((labels["unit"].as_str(), size), (Some("bytes"), 2048.0));
    let (_, crit) = prometheus.query_one(
        "smoker_perfdata_threshold{check=\"perf\",label=\"time\",kind=\"crit\",bound=\"end\"}",
    );
    assert_eq!(crit, 2.0);

    // Scraped as OpenMetrics, counters and all: runs keep increasing.
    let (_, runs) = prometheus.query_one("sum(smoker_check_runs_total{check=\"perf\"})");
    assert!(runs >= 1.0, "{runs}");
    let (labels, up) = prometheus.query_one("up{job=\"smoker\"}");
    assert_eq!(up, 1.0, "{labels}");

    // contrib/prometheus/alerts.yml loads and evaluates cleanly against live data.
    let mut groups = Value::Null;
    let healthy = wait_until(Duration::from_secs(20), || {
        groups = prometheus
            .api("rules")
            .map(|data| data["groups"].clone())
            .unwrap_or_default();
        groups.as_array().is_some_and(|groups| {
            let rules: Vec<&Value> = groups
                .iter()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            rules.len() == 7
                && rules
                    .iter()
                    .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
        })
    });
    assert!(healthy, "alert rules not healthy: {groups}");
    // `broken` is CRITICAL: its alert is pending (fires after 5 minutes).
    let mut alerts = Value::Null;
    let pending = wait_until(Duration::from_secs(20), || {
        alerts = prometheus
            .api("alerts")
            .map(|data| data["alerts"].clone())
            .unwrap_or_default();
        alerts.as_array().is_some_and(|alerts| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == "SmokerCheckCritical"
                    && a["labels"]["check"] == "broken"
                    && a["state"] == "pending"
            })
        })
    });
    assert!(
        pending,
        "no pending SmokerCheckCritical for broken: {alerts}"
    );
    drop(daemon);
}

/// The daemon's hooks: API requests by route, scheduler lateness, skipped runs,
/// reloads (good and bad), and a removed check losing its series.
#[test]
fn daemon_hooks_update_the_metrics() {
    let config = format!(
        "{}  slow: {{Command: 'sleep 3', Interval: 1, Timeout: 10}}\n",
        perf_config()
    );
    let daemon = TestDaemon::start_with(&config, &[("perf.sh", PERF_PLUGIN)], &[]);
    let metric = |daemon: &TestDaemon, prefix: &str| -> Option<f64> {
        let body = get_metrics(daemon.port, None).body;
        let line = body.lines().find(|l| l.starts_with(prefix))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    assert_eq!(daemon.get("/plugins").status, 200);
    let counted = wait_until(Duration::from_secs(20), || {
        metric(
            &daemon,
            "smoker_api_requests_total{route=\"/plugins\",code=\"200\"}",
        ) == Some(1.0)
            && metric(&daemon, "smoker_scheduler_lateness_seconds_count").is_some_and(|n| n >= 2.0)
            && metric(
                &daemon,
                "smoker_check_skipped_total{check=\"slow\",reason=\"overlap\"}",
            )
            .is_some_and(|n| n >= 1.0)
    });
    assert!(counted, "{}", get_metrics(daemon.port, None).body);
    assert!(
        get_metrics(daemon.port, None)
            .body
            .contains("smoker_api_requests_total{route=\"/metrics\",code=\"200\"}"),
        "the scrape itself is counted"
    );
    assert_eq!(daemon.get("/no/such/route").status, 404);
    assert!(wait_until(Duration::from_secs(5), || {
        metric(
            &daemon,
            "smoker_api_requests_total{route=\"unmatched\",code=\"404\"}",
        ) == Some(1.0)
    }));

    // A broken config: the reload fails and the old checks keep their series.
    let good = std::fs::read_to_string(&daemon.config).expect("config");
    std::fs::write(&daemon.config, format!("{good}  bad: {{Interval: nope}}\n")).expect("write");
    daemon.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || {
            metric(&daemon, "smoker_config_reloads_total{result=\"failure\"}") == Some(1.0)
                && metric(&daemon, "smoker_config_last_reload_success") == Some(0.0)
        }),
        "{}\n{}",
        get_metrics(daemon.port, None).body,
        daemon.stderr()
    );
    // Without `broken`: its series go away.
    let without_broken: String = good
        .lines()
        .filter(|l| !l.contains("broken:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&daemon.config, without_broken).expect("write");
    daemon.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || {
            metric(&daemon, "smoker_config_reloads_total{result=\"success\"}") == Some(1.0)
                && metric(&daemon, "smoker_config_last_reload_success") == Some(1.0)
                && !get_metrics(daemon.port, None)
                    .body
                    .contains("check=\"broken\"")
        }),
        "{}\n{}",
        get_metrics(daemon.port, None).body,
        daemon.stderr()
    );
    assert!(
        get_metrics(daemon.port, None)
            .body
            .contains("smoker_check_status{check=\"perf\"")
    );
}

/// A check's labelled counters are there at 0 from the moment it is known (start,
/// a reload adding it), before its first result; a removed check's go away.
#[test]
fn labelled_counters_start_at_zero_when_a_check_is_added() {
    let mut daemon = TestDaemon::start("plugins:\n  idle: {Command: 'sleep 60', Interval: 3600}\n");
    let zeros = |check: &str| {
        let mut lines: Vec<String> = SKIP
            .iter()
            .map(|r| format!("smoker_check_skipped_total{{check=\"{check}\",reason=\"{r}\"}} 0\n"))
            .collect();
        lines.extend(TRIGGERS.iter().map(|t| {
            format!("smoker_check_runs_by_trigger_total{{check=\"{check}\",trigger=\"{t}\"}} 0\n")
        }));
        lines.push(format!(
            "smoker_check_runs_total{{check=\"{check}\",state=\"OK\"}} 0\n"
        ));
        lines
    };
    const SKIP: [&str; 3] = ["overlap", "coalesced", "missed"];
    const TRIGGERS: [&str; 4] = ["scheduled", "catchup", "forced", "nrpe"];
    // Right after start: `idle` runs for a minute, so it has no result yet.
    let body = get_metrics(daemon.port, None).body;
    assert!(
        !body.contains("smoker_check_status{check=\"idle\""),
        "{body}"
    );
    for line in zeros("idle") {
        assert!(
            body.contains(&line),
            "missing {line:?} after start in\n{body}"
        );
    }
    // A reload adds `later`: its zeros appear at once; removing `idle` drops its series.
    let config = std::fs::read_to_string(&daemon.config).expect("config");
    std::fs::write(&daemon.config, config.replace("  idle:", "  later:")).expect("write");
    daemon.signal("HUP");
    let reloaded = wait_until(Duration::from_secs(15), || {
        let body = get_metrics(daemon.port, None).body;
        zeros("later").iter().all(|l| body.contains(l)) && !body.contains("check=\"idle\"")
    });
    assert!(
        reloaded,
        "{}\n{}",
        get_metrics(daemon.port, None).body,
        daemon.stderr()
    );
    let (ok, report) = promtool(
        &["check", "metrics"],
        Some(&get_metrics(daemon.port, None).body),
        None,
    );
    assert!(
        ok && report.trim().is_empty(),
        "promtool check metrics: {report}"
    );
    daemon.stop();
}

/// `metrics: {listen}` serves /metrics on its own port too.
#[test]
fn metrics_listen_serves_a_second_port() {
    let port = free_port();
    let config = format!("metrics: {{listen: '127.0.0.1:{port}'}}\n{}", perf_config());
    let daemon = TestDaemon::start_with(&config, &[("perf.sh", PERF_PLUGIN)], &[]);
    let ready = wait_until(Duration::from_secs(20), || {
        get(port, "/metrics", None)
            .is_ok_and(|r| r.status == 200 && r.body.contains("smoker_check_status{check=\"perf\""))
    });
    assert!(ready, "{}", daemon.stderr());
    assert_eq!(
        get(port, "/plugins", None).map(|r| r.status).ok(),
        Some(404)
    );
}

/// NSCA hooks live: with Nagios unreachable, results pile up in the durable spool
/// (`smoker_nsca_spool_*`, read from the store at scrape time) and each failed batch
/// counts in `smoker_nsca_send_errors_total`.
#[test]
fn nsca_spool_and_send_errors_follow_the_sink() {
    let dead_port = free_port();
    let config = format!(
        "state_dir: '{{dir}}/state'\n\
         actions:\n  nagios: {{Nsca: {{host: 127.0.0.1, port: {dead_port}, encryption: 0}}}}\n\
         plugins:\n  perf: {{Command: '{{dir}}/perf.sh', Interval: 1, Action: nagios}}\n"
    );
    let daemon = TestDaemon::start_with(&config, &[("perf.sh", PERF_PLUGIN)], &[]);
    let metric = |prefix: &str| -> Option<f64> {
        let body = get_metrics(daemon.port, None).body;
        let line = body.lines().find(|l| l.starts_with(prefix))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    let piled_up = wait_until(Duration::from_secs(20), || {
        metric("smoker_nsca_spool_results ").is_some_and(|n| n >= 2.0)
            && metric("smoker_nsca_spool_bytes ").is_some_and(|n| n > 0.0)
            && metric("smoker_nsca_send_errors_total ").is_some_and(|n| n >= 1.0)
    });
    assert!(
        piled_up,
        "{}\n{}",
        get_metrics(daemon.port, None).body,
        daemon.stderr()
    );
    assert_eq!(metric("smoker_nsca_dropped_total "), Some(0.0));
    let spool = daemon.get_json("/v2/spool");
    assert!(
        spool["actions"]["nagios"]["results"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{spool}"
    );
    assert!(spool["bytes"].as_u64().is_some_and(|n| n > 0), "{spool}");
}

/// `contrib/grafana/smoker.json` is a Grafana dashboard with the panels of issue 17,
/// and every panel's PromQL (Grafana variables set to "All") returns data from the
/// real Prometheus scraping a real smokerd with checks, perfdata and an NRPE refusal.
#[test]
fn grafana_dashboard_queries_return_data() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/grafana/smoker.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    let panels = dashboard["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in [
        "state", "not OK", "Duration", "Perfdata", "NSCA", "NRPE", "lateness",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "{wanted} in {titles:?}"
        );
    }
    let nrpe_port = free_port();
    let yaml = format!(
        "{}nrpe:\n  config: {{dir}}/nrpe.cfg\n  listen: 127.0.0.1:{nrpe_port}\n  tls: off\n",
        perf_config()
    );
    let nrpe_cfg = "allowed_hosts=10.1.2.3\ncommand[hello]=/bin/echo hello\n";
    let daemon = TestDaemon::start_with(
        &yaml,
        &[("perf.sh", PERF_PLUGIN), ("nrpe.cfg", nrpe_cfg)],
        &[],
    );
    let refused = wait_until(Duration::from_secs(20), || {
        let _ = std::net::TcpStream::connect(("127.0.0.1", nrpe_port));
        get_metrics(daemon.port, None)
            .body
            .contains("smoker_nrpe_rejected_total{reason=")
    });
    assert!(refused, "no NRPE refusal counted");
    let prometheus = Prometheus::start(daemon.port);
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let query = expr
                .replace("$instance", ".*")
                .replace("$check", ".*")
                .replace("$__rate_interval", "1m");
            assert!(
                prometheus.has_data(&query),
                "panel {}: no data for {query}",
                panel["title"]
            );
        }
    }
}
