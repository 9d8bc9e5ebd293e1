//! smokerd's `Icinga2` action against the real icinga2.

use std::time::Duration;

use serde_json::Value;

use super::{HOST, Icinga, PASSWORD, action_yaml};
use crate::common::{TestDaemon, wait_until};

/// Metric value of the first series line starting with `series`, 0 if absent.
fn metric(d: &TestDaemon, series: &str) -> f64 {
    let body = d.get("/metrics").body;
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn output(r: &Value) -> String {
    r["output"].as_str().unwrap_or("").to_string()
}

/// OK, WARNING with perfdata and CRITICAL with long output reach Icinga with the
/// right state, output and perfdata text; a host result too; an unknown service is
/// dropped and counted while the others keep flowing; a flip OK → CRITICAL → OK is
/// seen within one interval plus 2 s.
#[test]
fn states_perfdata_long_output_flip_and_unknown_service() {
    let icinga = Icinga::start(&["ok", "warn", "crit", "flip"]);
    let yaml = format!(
        "{actions}  icinga-host:
    Icinga2:
      url: {url}
      user: smoker
      password: {PASSWORD}
      ca_file: {ca}
      host_name: {HOST}
      service: \"\"
default_actions: [icinga]
plugins:
  ok:
    Command: echo 'OK - all fine'
    Interval: 2
    Action: [icinga, icinga-host]
  warn:
    Command: \"{{dir}}/warn.sh\"
    Interval: 2
  crit:
    Command: \"{{dir}}/crit.sh\"
    Interval: 2
  flip:
    Command: \"exit $(cat {{dir}}/flip 2>/dev/null || echo 0)\"
    Interval: 2
  ghost:
    Command: echo 'OK - Icinga has no such service'
    Interval: 1
",
        actions = action_yaml(&icinga, ""),
        url = icinga.url(),
        ca = icinga.ca_file().display()
    );
    let files = [
        (
            "warn.sh",
            "#!/bin/sh\necho \"DISK WARNING - 9% free | /=91%;80;90;0;100 'var log'=10MB\"\nexit 1\n",
        ),
        (
            "crit.sh",
            "#!/bin/sh\nprintf 'CRITICAL - down\\nline two\\nline three | x=1s;2;3\\ny=U\\n'\nexit 2\n",
        ),
    ];
    let d = TestDaemon::start_with(&yaml, &files, &[]);
    let long = Duration::from_secs(60);
    let ok = icinga.wait_service("ok", long, |r| !r.is_null());
    assert_eq!(ok["state"], 0.0, "{ok}");
    assert_eq!(output(&ok), "OK - all fine");
    assert_eq!(ok["check_source"], HOST);
    assert!(
        ok["execution_end"].as_f64() >= ok["execution_start"].as_f64(),
        "{ok}"
    );
    let warn = icinga.wait_service("warn", long, |r| !r.is_null());
    assert_eq!(warn["state"], 1.0, "{warn}");
    assert_eq!(output(&warn), "DISK WARNING - 9% free");
    assert_eq!(
        warn["performance_data"],
        serde_json::json!(["/=91%;80;90;0;100", "'var log'=10MB"])
    );
    let crit = icinga.wait_service("crit", long, |r| !r.is_null());
    assert_eq!(crit["state"], 2.0, "{crit}");
    assert_eq!(output(&crit), "CRITICAL - down\nline two\nline three");
    assert_eq!(
        crit["performance_data"],
        serde_json::json!(["x=1s;2;3", "y=U"])
    );
    let (_, state) = icinga.service("crit");
    assert_eq!(state, 2.0);
    let host = icinga
        .query(&format!("/v1/objects/hosts/{HOST}?attrs=last_check_result"))
        .unwrap();
    let host = &host["results"][0]["attrs"]["last_check_result"];
    assert_eq!(output(host), "OK - all fine", "{host}");
    let r = d.last_result("ok");
    assert_eq!(
        r["action"]["messages"]["info"],
        serde_json::json!(["queued for icinga", "queued for icinga-host"]),
        "{r}"
    );

    // The unknown service: dropped and counted, logged once.
    assert!(
        wait_until(long, || metric(
            &d,
            "smoker_icinga_rejected_total{reason=\"not_found\"}"
        ) >= 3.0),
        "no rejection counted; stderr:\n{}",
        d.stderr()
    );
    let logged = d.stderr().matches("Icinga 2 refused a result").count();
    assert_eq!(logged, 1, "{}", d.stderr());
    assert!(metric(&d, "smoker_icinga_sent_total") >= 5.0);

    // Flip OK → CRITICAL → OK, each within one interval (2 s) plus 2 s.
    for (code, state) in [(2, 2.0), (0, 0.0)] {
        std::fs::write(d.dir.path().join("flip"), format!("{code}\n")).unwrap();
        let started = std::time::Instant::now();
        icinga.wait_service("flip", Duration::from_secs(4), |r| r["state"] == state);
        eprintln!("flip to {code} seen after {:?}", started.elapsed());
    }
    assert_eq!(
        metric(&d, "smoker_icinga_send_errors_total"),
        0.0,
        "{}",
        d.stderr()
    );
}

/// A check printing `seq N`, N counting up from 1, every second.
const TICK: &str = "  tick:
    Command: \"n=$(cat {dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {dir}/n; echo seq $n\"
    Interval: 1
";

fn last_seq(d: &TestDaemon) -> u64 {
    output(&d.last_result("tick"))
        .strip_prefix("seq ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The seq numbers Icinga recorded for `tick`, in arrival order.
fn seqs(icinga: &Icinga) -> Vec<u64> {
    icinga
        .recorded("tick")
        .iter()
        .filter_map(|l| l.strip_prefix("seq ").and_then(|n| n.parse().ok()))
        .collect()
}

/// Every seq in 1..=known but `excused` arrived, and first arrivals are in check order.
fn assert_complete(got: &[u64], known: u64, excused: &[u64]) {
    let all: std::collections::BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = (1..=known)
        .filter(|n| !all.contains(n) && !excused.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "lost {missing:?} (known up to {known}); got {got:?}"
    );
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u64> = got.iter().copied().filter(|n| seen.insert(*n)).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "out of order: {got:?}"
    );
}

/// A wrong password delivers nothing, loses nothing and is logged once; after a
/// SIGHUP with the right one every result arrives.
#[test]
fn wrong_password_keeps_results_until_a_reload_fixes_it() {
    let icinga = Icinga::start(&["tick"]);
    let yaml = format!(
        "{}default_actions: [icinga]\nplugins:\n{TICK}",
        action_yaml(&icinga, "").replace(PASSWORD, "wrong-password")
    );
    let d = TestDaemon::start(&yaml);
    assert!(
        wait_until(Duration::from_secs(30), || d.stderr().contains("HTTP 401")),
        "no 401 logged; stderr:\n{}",
        d.stderr()
    );
    assert!(wait_until(Duration::from_secs(30), || last_seq(&d) >= 5));
    assert_eq!(d.stderr().matches("HTTP 401").count(), 1, "{}", d.stderr());
    assert!(icinga.service("tick").0.is_null(), "nothing reached Icinga");
    assert!(seqs(&icinga).is_empty());

    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(&d.config, text.replace("wrong-password", PASSWORD)).unwrap();
    let known = last_seq(&d);
    d.signal("HUP");
    let arrived = wait_until(Duration::from_secs(60), || seqs(&icinga).contains(&known));
    let got = seqs(&icinga);
    assert!(
        arrived,
        "seq {known} never arrived; got {got:?}; stderr:\n{}",
        d.stderr()
    );
    assert_complete(&got, known, &[]);
}

/// D5/D15 outage: Icinga stopped for 20 s and smokerd `kill -9`'d and restarted
/// meanwhile; once Icinga is back every committed result arrives, in check order.
/// Excused: the results due while icinga2 shuts down. It still answers 200 to a
/// result after its PerfdataWriter has stopped, so the recording misses it although
/// it was delivered (seen once: seq 2 accepted, never written).
#[test]
fn icinga_outage_and_kill9_lose_nothing() {
    let mut icinga = Icinga::start(&["tick"]);
    let yaml = format!(
        "state_dir: {{dir}}/state\n{}default_actions: [icinga]\nplugins:\n{TICK}",
        action_yaml(&icinga, "")
    );
    let mut d = TestDaemon::start(&yaml);
    assert!(
        wait_until(Duration::from_secs(30), || seqs(&icinga).len() >= 2),
        "no delivery while icinga is up; stderr:\n{}",
        d.stderr()
    );
    let at_stop = last_seq(&d);
    icinga.stop();
    let excused: Vec<u64> = (at_stop.saturating_sub(1)..=last_seq(&d) + 1).collect();
    std::thread::sleep(Duration::from_secs(10));
    // Past the group-commit window (D5: ≤100 ms), everything known is committed.
    let known = last_seq(&d);
    std::thread::sleep(Duration::from_millis(400));
    d.kill9();
    d.restart();
    std::thread::sleep(Duration::from_secs(10));
    let after_restart = last_seq(&d);
    assert!(after_restart > known, "checks run again after the restart");

    icinga.spawn();
    let arrived = wait_until(Duration::from_secs(90), || {
        seqs(&icinga).contains(&after_restart)
    });
    let got = seqs(&icinga);
    assert!(
        arrived,
        "seq {after_restart} never arrived; got {got:?}; stderr:\n{}",
        d.stderr()
    );
    assert_complete(&got, known, &excused);
    assert!(known >= 10, "the outage queued results ({known})");
}

/// Without `ca_file` Icinga's own CA is unknown: refused with a clear log line and
/// nothing delivered. `insecure: true` delivers, and the load warns about it.
#[test]
fn unknown_ca_is_refused_and_insecure_warns() {
    let icinga = Icinga::start(&["tick"]);
    let ca = format!("      ca_file: {}\n", icinga.ca_file().display());
    let strict = action_yaml(&icinga, "").replace(&ca, "");
    let yaml = format!("{strict}default_actions: [icinga]\nplugins:\n{TICK}");
    let d = TestDaemon::start(&yaml);
    assert!(
        wait_until(Duration::from_secs(30), || d
            .stderr()
            .contains("certificate verify failed")),
        "no TLS failure logged; stderr:\n{}",
        d.stderr()
    );
    assert!(
        d.stderr().contains("set ca_file to Icinga's CA"),
        "{}",
        d.stderr()
    );
    assert!(icinga.service("tick").0.is_null(), "nothing reached Icinga");
    drop(d);

    let insecure = action_yaml(&icinga, "      insecure: true\n").replace(&ca, "");
    let yaml = format!("{insecure}default_actions: [icinga]\nplugins:\n{TICK}");
    let d = TestDaemon::start(&yaml);
    icinga.wait_service("tick", Duration::from_secs(30), |r| !r.is_null());
    assert!(
        d.stderr()
            .contains("insecure: TLS certificate verification is off"),
        "{}",
        d.stderr()
    );
}

/// A client certificate instead of a password (an ApiUser with `client_cn`).
#[test]
fn client_certificate_authenticates() {
    let icinga = Icinga::start(&["tick"]);
    let dir = icinga.dir.path();
    let auth = format!("      user: smoker\n      password: {PASSWORD}\n");
    let cert = format!(
        "      cert: {}\n      key: {}\n",
        dir.join("client.crt").display(),
        dir.join("client.key").display()
    );
    let yaml = format!(
        "{}default_actions: [icinga]\nplugins:\n{TICK}",
        action_yaml(&icinga, &cert).replace(&auth, "")
    );
    assert!(!yaml.contains("password"), "{yaml}");
    let d = TestDaemon::start(&yaml);
    let r = icinga.wait_service("tick", Duration::from_secs(30), |r| !r.is_null());
    assert!(
        output(&r).starts_with("seq "),
        "{r}; stderr:\n{}",
        d.stderr()
    );
}
