use std::{process::Stdio, sync::Arc, time::Duration};

use chrono::{Local, TimeZone};
use smoker_compat::output::PerfDatum;

use super::*;
use crate::check::State;

fn spec(name: &str, parameters: &[(&str, &str)]) -> CheckSpec {
    CheckSpec {
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect(),
        ..CheckSpec::for_test(name)
    }
}

fn perf(
    label: &str,
    value: f64,
    uom: &str,
    warn: Option<&str>,
    crit: Option<&str>,
    min: Option<f64>,
    max: Option<f64>,
) -> PerfDatum {
    PerfDatum {
        label: label.into(),
        value: Some(value),
        uom: uom.into(),
        warn: warn.map(Into::into),
        crit: crit.map(Into::into),
        min,
        max,
        text: String::new(),
        in_long_output: false,
    }
}

fn result(state: State, output: &str, perfdata: Vec<PerfDatum>) -> CheckResult {
    let started_at = Local
        .timestamp_opt(1_700_000_000, 250_000_000)
        .single()
        .expect("valid time");
    let mut result = CheckResult::synthetic(state, output, started_at);
    result.duration = Duration::from_millis(1500);
    result.perfdata = perfdata;
    result
}

/// Only the lines of the per-check families (the daemon families are tested apart).
fn check_lines(text: &str) -> String {
    let start = text
        .find("# HELP smoker_check_status")
        .expect("per-check families present");
    text[start..].to_string()
}

fn sample() -> Metrics {
    let metrics = Metrics::new();
    let web = spec("web", &[("Category", "http"), ("Component", "frontend")]);
    metrics.observe_result(
        &web,
        &result(
            State::Warning,
            "WARNING - slow",
            vec![
                perf(
                    "time",
                    500.0,
                    "ms",
                    Some("250"),
                    Some("~:1000"),
                    Some(0.0),
                    None,
                ),
                perf("size", 2.0, "KB", None, None, None, Some(4.0)),
            ],
        ),
        crate::check::Trigger::Scheduled,
    );
    metrics.skipped(&web, "overlap");
    metrics
}

/// The per-check families of [`sample`] in Prometheus text 0.0.4.
const PER_CHECK_TEXT: &str = r#"# HELP smoker_check_status Nagios state code of the last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
# TYPE smoker_check_status gauge
smoker_check_status{check="web",category="http",component="frontend"} 1
# HELP smoker_check_state 1 for the state of the last result, 0 for the others.
# TYPE smoker_check_state gauge
smoker_check_state{check="web",state="OK"} 0
smoker_check_state{check="web",state="WARNING"} 1
smoker_check_state{check="web",state="CRITICAL"} 0
smoker_check_state{check="web",state="UNKNOWN"} 0
# HELP smoker_check_last_run_timestamp_seconds Unix time the last run of the check started.
# TYPE smoker_check_last_run_timestamp_seconds gauge
smoker_check_last_run_timestamp_seconds{check="web"} 1700000000.25
# HELP smoker_check_duration_seconds Wall time the last run of the check took.
# TYPE smoker_check_duration_seconds gauge
smoker_check_duration_seconds{check="web"} 1.5
# HELP smoker_check_runs_total Runs of the check by resulting state.
# TYPE smoker_check_runs_total counter
smoker_check_runs_total{check="web",state="OK"} 0
smoker_check_runs_total{check="web",state="WARNING"} 1
smoker_check_runs_total{check="web",state="CRITICAL"} 0
smoker_check_runs_total{check="web",state="UNKNOWN"} 0
# HELP smoker_check_timeouts_total Runs of the check killed at its Timeout.
# TYPE smoker_check_timeouts_total counter
smoker_check_timeouts_total{check="web"} 0
# HELP smoker_check_runs_by_trigger_total Runs of the check by what started them: scheduled, catchup, forced, nrpe.
# TYPE smoker_check_runs_by_trigger_total counter
smoker_check_runs_by_trigger_total{check="web",trigger="scheduled"} 1
smoker_check_runs_by_trigger_total{check="web",trigger="catchup"} 0
smoker_check_runs_by_trigger_total{check="web",trigger="forced"} 0
smoker_check_runs_by_trigger_total{check="web",trigger="nrpe"} 0
# HELP smoker_check_skipped_total Scheduled runs of the check not started, by reason.
# TYPE smoker_check_skipped_total counter
smoker_check_skipped_total{check="web",reason="coalesced"} 0
smoker_check_skipped_total{check="web",reason="missed"} 0
smoker_check_skipped_total{check="web",reason="overlap"} 1
# HELP smoker_perfdata_value Last perfdata value of the check, in the base unit named by the unit label.
# TYPE smoker_perfdata_value gauge
smoker_perfdata_value{check="web",label="time",unit="seconds"} 0.5
smoker_perfdata_value{check="web",label="size",unit="bytes"} 2048.0
# HELP smoker_perfdata_threshold Finite bounds of the perfdata warn and crit ranges, in the base unit of the value.
# TYPE smoker_perfdata_threshold gauge
smoker_perfdata_threshold{check="web",label="time",kind="warn",bound="start"} 0.0
smoker_perfdata_threshold{check="web",label="time",kind="warn",bound="end"} 0.25
smoker_perfdata_threshold{check="web",label="time",kind="crit",bound="end"} 1.0
# HELP smoker_perfdata_min Perfdata minimum, in the base unit of the value.
# TYPE smoker_perfdata_min gauge
smoker_perfdata_min{check="web",label="time"} 0.0
# HELP smoker_perfdata_max Perfdata maximum, in the base unit of the value.
# TYPE smoker_perfdata_max gauge
smoker_perfdata_max{check="web",label="size"} 4096.0
# HELP smoker_perfdata_dropped_total Perfdata items not exported: over the per-check cap, duplicate or over-long label.
# TYPE smoker_perfdata_dropped_total counter
smoker_perfdata_dropped_total{check="web"} 0
"#;

/// The OpenMetrics form of Prometheus text of gauges and counters, from the line starting
/// with `from`: counter families lose `_total` in HELP and TYPE, `_seconds` families get
/// a UNIT line, and `# EOF` ends it.
fn as_openmetrics(text: &str, from: &str) -> String {
    let start = text.find(from).expect("start line present");
    let mut out = String::new();
    for line in text[start..].lines() {
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        let (comment, name) = match words[..] {
            ["#", kind @ ("HELP" | "TYPE"), name, ..] => (Some(kind), name),
            _ => (None, ""),
        };
        if comment.is_some() && name.ends_with("_total") {
            out.push_str(&line.replacen("_total", "", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if comment == Some("TYPE") && name.ends_with("_seconds") {
            out.push_str(&format!("# UNIT {name} seconds\n"));
        }
    }
    out.push_str("# EOF\n");
    out
}

#[test]
fn per_check_families_render_exactly_as_prometheus_text() {
    let text = own(sample().render(false));
    assert_eq!(check_lines(&text), PER_CHECK_TEXT);
}

#[test]
fn daemon_families_render_exactly_as_prometheus_text() {
    let metrics = Metrics::new();
    metrics.scheduler_lateness(Duration::from_millis(20));
    metrics.api_request("/plugins", 200, Duration::from_millis(3));
    metrics.config_reload(false);
    metrics.nsca_spool(3, 4096);
    metrics.nsca_send_error();
    metrics.nsca_dropped(2);
    metrics.nrpe_request();
    metrics.nrpe_rejected("acl");
    metrics.icinga_sent(5);
    metrics.icinga_send_error();
    metrics.icinga_rejected("not_found");
    metrics.store_faults(1);
    // The two `result` series come in hash order: put them in a fixed one.
    let text = own(metrics.render(false)).replace(
        "smoker_config_reloads_total{result=\"failure\"} 1\nsmoker_config_reloads_total{result=\"success\"} 0\n",
        "smoker_config_reloads_total{result=\"success\"} 0\nsmoker_config_reloads_total{result=\"failure\"} 1\n",
    );
    let expected = format!(
        r#"# HELP smoker_build_info Build information; the value is always 1.
# TYPE smoker_build_info gauge
smoker_build_info{{version="{version}"}} 1
# HELP smoker_config_reloads_total Configuration reloads by result.
# TYPE smoker_config_reloads_total counter
smoker_config_reloads_total{{result="success"}} 0
smoker_config_reloads_total{{result="failure"}} 1
# HELP smoker_config_last_reload_success 1 if the last configuration load succeeded, 0 if the daemon runs an older configuration.
# TYPE smoker_config_last_reload_success gauge
smoker_config_last_reload_success 0
# HELP smoker_executor_running Check processes running now.
# TYPE smoker_executor_running gauge
smoker_executor_running 0
# HELP smoker_scheduler_lateness_seconds How late scheduled runs started after their due time.
# TYPE smoker_scheduler_lateness_seconds histogram
smoker_scheduler_lateness_seconds_bucket{{le="0.001"}} 0
smoker_scheduler_lateness_seconds_bucket{{le="0.005"}} 0
smoker_scheduler_lateness_seconds_bucket{{le="0.01"}} 0
smoker_scheduler_lateness_seconds_bucket{{le="0.05"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="0.1"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="0.5"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="1"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="5"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="10"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="30"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="60"}} 1
smoker_scheduler_lateness_seconds_bucket{{le="+Inf"}} 1
smoker_scheduler_lateness_seconds_sum 0.02
smoker_scheduler_lateness_seconds_count 1
# HELP smoker_api_requests_total API requests by route and status code.
# TYPE smoker_api_requests_total counter
smoker_api_requests_total{{route="/plugins",code="200"}} 1
# HELP smoker_api_request_duration_seconds API request latency by route.
# TYPE smoker_api_request_duration_seconds histogram
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.0005"}} 0
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.001"}} 0
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.0025"}} 0
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.005"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.01"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.025"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.05"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.1"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.25"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="0.5"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="1"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="5"}} 1
smoker_api_request_duration_seconds_bucket{{route="/plugins",le="+Inf"}} 1
smoker_api_request_duration_seconds_sum{{route="/plugins"}} 0.003
smoker_api_request_duration_seconds_count{{route="/plugins"}} 1
# HELP smoker_nsca_spool_results Results waiting in the NSCA spool.
# TYPE smoker_nsca_spool_results gauge
smoker_nsca_spool_results 3
# HELP smoker_nsca_spool_bytes Size of the results waiting in the NSCA spool.
# TYPE smoker_nsca_spool_bytes gauge
smoker_nsca_spool_bytes 4096
# HELP smoker_nsca_send_errors_total Failed NSCA batch deliveries; the batch is sent again.
# TYPE smoker_nsca_send_errors_total counter
smoker_nsca_send_errors_total 1
# HELP smoker_nsca_dropped_total Results not queued for NSCA because the spool was full.
# TYPE smoker_nsca_dropped_total counter
smoker_nsca_dropped_total 2
# HELP smoker_nrpe_requests_total NRPE requests received.
# TYPE smoker_nrpe_requests_total counter
smoker_nrpe_requests_total 1
# HELP smoker_nrpe_rejected_total NRPE requests refused, by reason.
# TYPE smoker_nrpe_rejected_total counter
smoker_nrpe_rejected_total{{reason="acl"}} 1
# HELP smoker_icinga_sent_total Results Icinga 2 accepted.
# TYPE smoker_icinga_sent_total counter
smoker_icinga_sent_total 5
# HELP smoker_icinga_send_errors_total Failed Icinga 2 requests (down, 5xx, refused credentials); the result is sent again.
# TYPE smoker_icinga_send_errors_total counter
smoker_icinga_send_errors_total 1
# HELP smoker_icinga_rejected_total Results Icinga 2 refused for good and dropped, by reason (not_found, bad_request).
# TYPE smoker_icinga_rejected_total counter
smoker_icinga_rejected_total{{reason="not_found"}} 1
# HELP smoker_store_persistent 1 while results are written to the durable store, 0 while they are kept in memory only.
# TYPE smoker_store_persistent gauge
smoker_store_persistent 0
# HELP smoker_store_faults_total Write faults of the durable store (disk full, I/O error, read-only); results are kept in memory until it is re-opened.
# TYPE smoker_store_faults_total counter
smoker_store_faults_total 1
"#,
        version = env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text, expected);
}

#[test]
fn openmetrics_has_units_unsuffixed_counter_families_and_eof() {
    let text = own(sample().render(true));
    let expected_tail = as_openmetrics(
        PER_CHECK_TEXT,
        "# HELP smoker_check_last_run_timestamp_seconds",
    );
    assert!(text.ends_with(&expected_tail), "{text}");
    assert!(
        text.contains("# TYPE smoker_config_reloads counter\nsmoker_config_reloads_total{result="),
        "{text}"
    );
    assert!(
        text.contains("# UNIT smoker_nsca_spool_bytes bytes\n"),
        "{text}"
    );
    assert!(
        !text.contains("stateset") && !text.contains(" info\n"),
        "{text}"
    );
    assert_eq!(text.matches("# EOF").count(), 1);
    let plain = own(sample().render(false));
    assert!(
        !plain.contains("# EOF") && !plain.contains("# UNIT"),
        "{plain}"
    );
}

#[test]
fn label_values_are_escaped_in_both_formats() {
    let metrics = Metrics::new();
    let odd = spec("a\\b \"q\"\nz", &[("Category", "x\"y")]);
    metrics.observe_result(
        &odd,
        &result(
            State::Ok,
            "OK",
            vec![perf("it's \"p\"\\n\n", 1.0, "", None, None, None, None)],
        ),
        crate::check::Trigger::Scheduled,
    );
    for openmetrics in [false, true] {
        let text = own(metrics.render(openmetrics));
        assert!(
            text.contains(
                r#"smoker_check_status{check="a\\b \"q\"\nz",category="x\"y",component=""} 0"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"smoker_perfdata_value{check="a\\b \"q\"\nz",label="it's \"p\"\\n\n",unit=""} 1.0"#),
            "{text}"
        );
        assert!(
            text.lines()
                .all(|line| line.starts_with("# ") || line.starts_with("smoker_")),
            "{text}"
        );
    }
}

#[test]
fn perfdata_over_the_cap_is_dropped_and_counted() {
    let metrics = Metrics::new();
    let flood = spec("flood", &[]);
    let perfdata: Vec<PerfDatum> = (0..100)
        .map(|i| perf(&format!("p{i:03}"), 1.0, "", None, None, None, None))
        .collect();
    metrics.observe_result(
        &flood,
        &result(State::Ok, "OK", perfdata.clone()),
        crate::check::Trigger::Scheduled,
    );
    metrics.observe_result(
        &flood,
        &result(State::Ok, "OK", perfdata),
        crate::check::Trigger::Scheduled,
    );
    let text = own(metrics.render(false));
    assert_eq!(
        text.matches("smoker_perfdata_value{").count(),
        MAX_PERFDATA_PER_CHECK
    );
    assert!(text.contains("smoker_perfdata_value{check=\"flood\",label=\"p063\",unit=\"\"} 1.0\n"));
    assert!(!text.contains("label=\"p064\""));
    assert!(
        text.contains("smoker_perfdata_dropped_total{check=\"flood\"} 72\n"),
        "{text}"
    );
}

#[test]
fn a_new_result_replaces_the_perfdata_series_and_labels() {
    let metrics = Metrics::new();
    let check = spec("disk", &[("Category", "system")]);
    metrics.observe_result(
        &check,
        &result(
            State::Critical,
            "CRIT",
            vec![perf(
                "old",
                5.0,
                "%",
                Some("80"),
                Some("90"),
                Some(0.0),
                Some(100.0),
            )],
        ),
        crate::check::Trigger::Scheduled,
    );
    metrics.observe_result(
        &spec("disk", &[("Category", "storage")]),
        &result(
            State::Ok,
            "OK",
            vec![perf("new", 1.0, "GB", None, None, None, None)],
        ),
        crate::check::Trigger::Scheduled,
    );
    let text = own(metrics.render(false));
    assert!(!text.contains("\"old\""), "{text}");
    assert!(
        !text.contains("smoker_perfdata_threshold") && !text.contains("smoker_perfdata_min"),
        "{text}"
    );
    assert!(
        text.contains(
            "smoker_perfdata_value{check=\"disk\",label=\"new\",unit=\"bytes\"} 1073741824.0\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "smoker_check_status{check=\"disk\",category=\"storage\",component=\"\"} 0\n"
        ),
        "{text}"
    );
    assert!(!text.contains("system"), "{text}");
    assert!(
        text.contains("smoker_check_runs_total{check=\"disk\",state=\"CRITICAL\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("smoker_check_runs_total{check=\"disk\",state=\"OK\"} 1\n"),
        "{text}"
    );
}

#[test]
fn timeouts_are_counted() {
    let metrics = Metrics::new();
    let slow = spec("slow", &[]);
    let mut timed_out = result(State::Unknown, "Execution timeout after 5 seconds", vec![]);
    timed_out.timed_out = true;
    metrics.observe_result(&slow, &timed_out, crate::check::Trigger::Scheduled);
    metrics.observe_result(
        &slow,
        &result(State::Unknown, "UNKNOWN - no timeout here", vec![]),
        crate::check::Trigger::Scheduled,
    );
    let text = own(metrics.render(false));
    assert!(
        text.contains("smoker_check_timeouts_total{check=\"slow\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("smoker_check_runs_total{check=\"slow\",state=\"UNKNOWN\"} 2\n"),
        "{text}"
    );
}

#[test]
fn removed_checks_lose_all_their_series() {
    let metrics = sample();
    metrics.observe_result(
        &spec("db", &[]),
        &result(
            State::Ok,
            "OK",
            vec![perf("conn", 3.0, "", None, None, None, None)],
        ),
        crate::check::Trigger::Scheduled,
    );
    metrics.observe_result(
        &spec("cache", &[]),
        &result(State::Ok, "OK", vec![]),
        crate::check::Trigger::Scheduled,
    );
    metrics.check_removed("web");
    let text = own(metrics.render(false));
    assert!(!text.contains("\"web\""), "{text}");
    assert!(text.contains("check=\"db\""), "{text}");
    metrics.retain_checks(|name| name == "cache");
    let text = own(metrics.render(false));
    assert!(
        !text.contains("\"db\"") && !text.contains("smoker_perfdata_value"),
        "{text}"
    );
    assert!(
        text.contains("smoker_check_status{check=\"cache\""),
        "{text}"
    );
    metrics.check_removed("cache");
    assert!(!own(metrics.render(false)).contains("smoker_check_"));
}

#[test]
fn a_retired_check_does_not_get_its_series_back() {
    let metrics = Metrics::new();
    let (web, ok) = (spec("web", &[]), result(State::Ok, "OK", vec![]));
    let runs = "smoker_check_runs_total{check=\"web\",state=\"OK\"}";
    // Series still there (the reload has not dropped them yet): the result counts.
    metrics.checks_known(&[Arc::new(web.clone())]);
    metrics.observe_result_unless(&web, &ok, crate::check::Trigger::Scheduled, || true);
    let text = own(metrics.render(false));
    assert!(text.contains(&format!("{runs} 1\n")), "{text}");
    // Dropped by the reload: a run that ends afterwards does not bring them back.
    metrics.check_removed("web");
    metrics.observe_result_unless(&web, &ok, crate::check::Trigger::Scheduled, || true);
    assert!(!own(metrics.render(false)).contains("\"web\""));
    // A live check without series yet gets them.
    metrics.observe_result_unless(&web, &ok, crate::check::Trigger::Scheduled, || false);
    let text = own(metrics.render(false));
    assert!(text.contains(&format!("{runs} 1\n")), "{text}");
}

#[test]
fn skipped_before_any_result_exports_counters_only() {
    let metrics = Metrics::new();
    metrics.skipped(&spec("busy", &[]), "overlap");
    metrics.skipped(&spec("busy", &[]), "overlap");
    let text = own(metrics.render(false));
    assert!(!text.contains("smoker_check_status"), "{text}");
    assert!(
        text.contains("smoker_check_skipped_total{check=\"busy\",reason=\"overlap\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("smoker_check_runs_total{check=\"busy\",state=\"OK\"} 0\n"),
        "{text}"
    );
}

#[test]
fn openmetrics_is_negotiated_from_accept() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert!(wants_openmetrics(Some(prometheus)));
    assert!(wants_openmetrics(Some("Application/OpenMetrics-Text")));
    assert!(!wants_openmetrics(None));
    assert!(!wants_openmetrics(Some("*/*")));
    assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
    assert!(!wants_openmetrics(Some(
        "application/openmetrics-text; q=0, text/plain"
    )));
}

#[tokio::test]
async fn handler_sets_the_content_type_of_each_format() {
    let metrics = Arc::new(sample());
    for (accept, content_type, eof) in [
        (None, TEXT_CONTENT_TYPE, false),
        (
            Some("application/openmetrics-text;version=1.0.0"),
            OPENMETRICS_CONTENT_TYPE,
            true,
        ),
    ] {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        }
        let response = handler(State(Arc::clone(&metrics)), headers).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = String::from_utf8(body.to_vec()).expect("utf-8");
        assert_eq!(body.ends_with("# EOF\n"), eof);
        assert!(body.contains("smoker_check_status{check=\"web\""));
    }
}

#[tokio::test]
async fn router_serves_metrics_on_its_own_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server =
        tokio::spawn(axum::serve(listener, router::<()>(Arc::new(sample()))).into_future());
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("answer within 10 s")
    .expect("read");
    server.abort();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{response}"
    );
    assert!(
        response.contains("smoker_check_status{check=\"web\""),
        "{response}"
    );
}

/// `promtool check metrics` (Debian `prometheus`, installed by scripts/install-deps).
pub(crate) fn promtool_check_metrics(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/install-deps installs the prometheus package)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && report.trim().is_empty(), report)
}

#[test]
fn promtool_accepts_our_prometheus_text() {
    let metrics = sample();
    metrics.observe_result(
        &spec("odd \"name\"\\\n", &[("Component", "c")]),
        &result(
            State::Unknown,
            "Execution timeout after 1 seconds",
            vec![
                perf(
                    "a b",
                    1e-3,
                    "us",
                    Some("@1:2"),
                    Some("5:"),
                    Some(-1.0),
                    Some(1e6),
                ),
                perf("x=y", 3.0, "c", None, None, None, None),
            ],
        ),
        crate::check::Trigger::Scheduled,
    );
    metrics.observe_result(
        &spec("plain", &[]),
        &result(
            State::Critical,
            "CRITICAL",
            vec![perf(
                "pct",
                99.5,
                "%",
                Some("90"),
                Some("95"),
                Some(0.0),
                Some(100.0),
            )],
        ),
        crate::check::Trigger::Scheduled,
    );
    metrics.scheduler_lateness(Duration::from_millis(1));
    metrics.api_request("/v2/plugins/{name}/runs", 404, Duration::from_millis(1));
    metrics.config_reload(true);
    metrics.nrpe_rejected("metachars");
    let (ok, report) = promtool_check_metrics(&own(metrics.render(false)));
    assert!(ok, "promtool: {report}");
    // And promtool does fail on broken input, so the check above means something.
    let (ok, report) = promtool_check_metrics("# TYPE smoker_x counter\nsmoker_x 1\n");
    assert!(!ok, "promtool accepted a counter without _total: {report}");
}

#[test]
fn bench_render_renders_a_large_registry() {
    let elapsed = bench_render(1000, 5);
    println!("render 1000 checks x 5 perfdata: {elapsed:?}");
    assert!(elapsed > Duration::ZERO);
}

#[test]
fn contrib_alert_rules_pass_promtool() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let output = std::process::Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs (scripts/install-deps installs the prometheus package)");
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn executor_running_is_read_at_scrape_time() {
    use crate::executor::{Environment, Executor, ProcessRequest, Program};
    let metrics = Metrics::new();
    let executor = Arc::new(Executor::new(None));
    let watched = Arc::clone(&executor);
    metrics.watch_executor(move || watched.running());
    let running_line = |m: &Metrics| {
        own(m.render(false))
            .lines()
            .find(|l| l.starts_with("smoker_executor_running "))
            .map(str::to_owned)
    };
    assert_eq!(
        running_line(&metrics).as_deref(),
        Some("smoker_executor_running 0")
    );
    let request = ProcessRequest {
        program: Program::Shell("sleep 2".into()),
        env: Environment::Inherit(Vec::new()),
        timeout: Duration::from_secs(10),
        kill_grace: Duration::from_secs(1),
        max_output: 1024,
        capture_stderr: false,
        uid: None,
        gid: None,
        stdin: None,
    };
    let run = tokio::spawn({
        let executor = Arc::clone(&executor);
        async move { executor.run(request).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running_line(&metrics).as_deref() != Some("smoker_executor_running 1") {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            running_line(&metrics)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.await.expect("run finishes");
    assert_eq!(
        running_line(&metrics).as_deref(),
        Some("smoker_executor_running 0")
    );
}

#[tokio::test]
async fn nsca_spool_is_read_at_scrape_time() {
    use crate::{config::SpoolSettings, store::durable::Durable};
    let metrics = Metrics::new();
    let store = Durable::memory().expect("memory store");
    store.set_spool_limits(SpoolSettings {
        max_results: 2,
        max_bytes: 1 << 20,
    });
    let watched = store.clone();
    metrics.watch_spool(move || Some(watched.spool_stats()));
    for payload in ["one", "two", "three!"] {
        store.spool_push("nsca", payload.as_bytes().to_vec());
    }
    store.flush().await.expect("flush");
    let text = own(metrics.render(false));
    assert!(text.contains("smoker_nsca_spool_results 2\n"), "{text}");
    assert!(text.contains("smoker_nsca_spool_bytes 9\n"), "{text}");
    assert!(text.contains("smoker_nsca_dropped_total 1\n"), "{text}");
    // Counted once, not again on the next scrape.
    assert!(own(metrics.render(false)).contains("smoker_nsca_dropped_total 1\n"));
}

/// A rendering without the `process_*` families, which depend on this test process
/// (`process.rs` tests them).
fn own(text: String) -> String {
    text.lines()
        .filter(|l| {
            let name = l
                .trim_start_matches("# HELP ")
                .trim_start_matches("# TYPE ");
            !name.trim_start_matches("# UNIT ").starts_with("process_")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}
