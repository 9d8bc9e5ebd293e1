//! `check_smoker` as a Nagios operator meets it (issue 20): one check printed as its plugin
//! printed it, byte for byte what Debian's `check_nrpe` shows for the same command through our
//! NRPE server; several checks as the summary `smokercli -o nagios` prints; stale results,
//! checks that never ran, unknown names and bad flags as UNKNOWN without Python artefacts.
//! And NRPE runs recorded as results of their check (`trigger="nrpe"`).

use std::time::Duration;

use crate::{
    common::{TestDaemon, run_bin, wait_until},
    nrpe::{check_nrpe, wait_listening, write_cfg},
};

/// The issue's multi-line check: perfdata on the first line and after the long output, and
/// numbers a float round trip would change.
const MULTI: &str = r"printf 'CRITICAL - down|rt=1.500s;1;2;0 big=18014398509481985c n=1e+03\nline two\nline three|extra=3\n'; exit 2";

/// smokerd with YAML plugins and an NRPE server (plaintext) over nrpe.cfg's `multi`.
fn daemon() -> (TestDaemon, u16, tempfile::TempDir) {
    let nrpe_port = crate::common::free_port();
    let (dir, path) = write_cfg(&format!("command[multi]={MULTI}\n"), nrpe_port);
    let daemon = TestDaemon::start(&format!(
        "plugins:\n\
         \x20 fine: {{Command: \"echo 'OK - all fine | a=1e+03'\", Category: demo}}\n\
         \x20 bad: {{Command: \"echo 'CRITICAL - broken'; exit 2\", Category: demo}}\n\
         \x20 never: {{Command: 'true', Category: other}}\n\
         nrpe:\n  config: {}\n  listen: \"127.0.0.1:{nrpe_port}\"\n  tls: off\n",
        path.display()
    ));
    wait_listening(nrpe_port, "smokerd's NRPE server");
    (daemon, nrpe_port, dir)
}

fn check(daemon: &TestDaemon, args: &[&str]) -> (i32, String) {
    let host = format!("127.0.0.1:{}", daemon.port);
    let mut all = vec!["-H", host.as_str()];
    all.extend(args);
    let (code, out, err) = run_bin("check_smoker", &all);
    assert!(!out.contains("None") && !out.contains("['"), "{out}");
    assert_eq!(err, "", "check_smoker {args:?} wrote on stderr");
    (code, out)
}

#[test]
fn one_check_is_byte_identical_to_check_nrpe() {
    let (daemon, nrpe_port, _dir) = daemon();
    let nrpe = check_nrpe(nrpe_port, &["-n", "-c", "multi"]);
    assert_eq!(nrpe.0, 2, "{}", nrpe.1);
    assert!(nrpe.1.contains("\nline three|extra=3"), "{}", nrpe.1);
    let ours = check(&daemon, &["-f", "multi"]);
    assert_eq!(ours, nrpe, "check_smoker (left) vs check_nrpe (right)");
    // The recorded result again, without forcing.
    assert_eq!(check(&daemon, &["multi"]), nrpe);
    daemon.force(&["fine"]);
    assert_eq!(
        check(&daemon, &["fine"]),
        (0, "OK - all fine|a=1e+03\n".to_owned())
    );
}

#[test]
fn several_checks_print_the_smokercli_summary() {
    let (daemon, _nrpe_port, _dir) = daemon();
    daemon.force(&["fine", "bad"]);
    let summary = check(&daemon, &["--category", "demo"]);
    let host = format!("127.0.0.1:{}", daemon.port);
    let (code, cli, _) = run_bin(
        "smokercli",
        &["-s", &host, "-o", "nagios", "--filter", "Category demo"],
    );
    assert_eq!(summary, (code, cli.clone()));
    let lines: Vec<&str> = cli.lines().collect();
    assert_eq!(
        lines[1..],
        ["CRITICAL bad: CRITICAL - broken", "OK fine: OK - all fine"],
        "{cli}"
    );
    assert!(
        lines[0]
            .starts_with("CRITICAL: 2 checks on 1 host: 1 CRITICAL (bad), 1 OK | 'fine::a'=1e+03"),
        "{cli}"
    );
    assert_eq!(code, 2);
    assert_eq!(
        check(&daemon, &["fine", "bad"]),
        summary,
        "by name as by category"
    );
}

#[test]
fn stale_missing_and_bad_requests_are_unknown() {
    let (daemon, _nrpe_port, _dir) = daemon();
    daemon.force(&["fine"]);
    assert_eq!(check(&daemon, &["fine"]).0, 0, "unscheduled: never stale");
    assert!(wait_until(Duration::from_secs(10), || {
        check(&daemon, &["--max-age", "1", "fine"]).0 == 3
    }));
    let (code, out) = check(&daemon, &["--max-age", "1", "fine"]);
    assert!(
        out.starts_with("result is stale: ") && out.ends_with(" (last: OK - all fine)\n"),
        "{out}"
    );
    assert_eq!(code, 3);
    assert_eq!(
        check(&daemon, &["never"]),
        (3, "UNKNOWN: never has no result yet\n".to_owned())
    );
    assert_eq!(
        check(&daemon, &["--health"]),
        (
            3,
            "UNKNOWN: no plugin found with Type healthCheck\n".to_owned()
        )
    );
    let (code, out) = check(&daemon, &["nosuch", "fine"]);
    assert_eq!(code, 3);
    assert!(
        out.starts_with("UNKNOWN: plugin not found on ") && out.ends_with(": nosuch\n"),
        "{out}"
    );
    let (code, out) = check(&daemon, &["--bogus"]);
    assert_eq!(code, 3);
    assert!(
        out.starts_with("UNKNOWN: unexpected argument '--bogus' found\n")
            && out.contains("Usage: check_smoker"),
        "{out}"
    );
}

#[test]
fn nrpe_runs_are_results_of_their_check() {
    let (daemon, nrpe_port, _dir) = daemon();
    assert!(daemon.last_result("multi").is_null(), "not run yet");
    let nrpe = check_nrpe(nrpe_port, &["-n", "-c", "multi"]);
    assert_eq!(nrpe.0, 2, "{}", nrpe.1);
    assert_eq!(check_nrpe(nrpe_port, &["-n", "-c", "multi"]), nrpe);
    let needle = "smoker_check_runs_by_trigger_total{check=\"multi\",trigger=\"nrpe\"} 2";
    let mut metrics = String::new();
    let recorded = wait_until(Duration::from_secs(10), || {
        metrics = daemon.get("/metrics").body;
        metrics.contains(needle)
    });
    assert!(recorded, "no {needle} in\n{metrics}");
    for line in [
        "smoker_check_runs_total{check=\"multi\",state=\"CRITICAL\"} 2",
        "smoker_check_runs_by_trigger_total{check=\"multi\",trigger=\"forced\"} 0",
        "smoker_check_skipped_total{check=\"multi\",reason=\"overlap\"} 0",
        "smoker_perfdata_value{check=\"multi\",label=\"rt\",unit=\"seconds\"} 1.5",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    let last = daemon.last_result("multi");
    assert_eq!(
        (&last["state"], &last["output"], &last["forced"]),
        (&"CRITICAL".into(), &"CRITICAL - down".into(), &false.into()),
        "{last}"
    );
    let runs = daemon.get_json("/v2/plugins/multi/runs");
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");
    // check_smoker reads the recorded NRPE run: what check_nrpe printed.
    assert_eq!(check(&daemon, &["multi"]), nrpe);
}
