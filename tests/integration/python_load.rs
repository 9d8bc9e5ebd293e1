//! The Python set-up across loads and runs (spec python.md §3.9, §3.10): the load-time
//! probe is not repeated by a reload that changes neither the interpreter nor the
//! modules, and a `Parser:` check's two steps take their permits one after the other.

use std::time::Duration;

use serde_json::Value;

use crate::{
    common::{TestDaemon, wait_until},
    python::{PYTHON3, component, info, original_tree, python_section, python3},
};

/// Starts a run of `name` without waiting for it.
fn start_run(d: &TestDaemon, name: &str) {
    let body = serde_json::json!({"process": {"plugins": [name]}}).to_string();
    let r = d.post("/processes", &body);
    assert_eq!(r.status, 202, "POST /processes: {}", r.body);
}

#[test]
fn python_parser_takes_the_python_permit_after_its_command() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let yaml = format!(
        "{}plugins:
  Hold: {{Module: fx.holder, HoldDir: '{{dir}}', Interval: 0, Timeout: 150}}
  Parsed: {{Command: 'touch {{dir}}/command-ran; echo {{dir}}', Parser: fx.afterhold, Interval: 0, Timeout: 150}}
",
        python_section(&root, "  max_concurrent: 1\n")
    );
    let d = TestDaemon::start(&yaml);
    let dir = d.dir.path().to_path_buf();
    let seen = |file: &str| dir.join(file).exists();
    start_run(&d, "Hold");
    assert!(
        wait_until(Duration::from_secs(60), || seen("hold-started")),
        "{}",
        d.stderr()
    );
    // §3.9: the command step takes no Python permit, so it runs while Hold holds the
    // only one; the parser step then waits for that permit.
    start_run(&d, "Parsed");
    assert!(
        wait_until(Duration::from_secs(60), || seen("command-ran")),
        "{}",
        d.stderr()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(d.last_result("Parsed").is_null(), "parsed while Hold ran");
    std::fs::write(dir.join("release"), "").unwrap();
    let mut last = Value::Null;
    let parsed = wait_until(Duration::from_secs(60), || {
        last = d.last_result("Parsed");
        !last.is_null()
    });
    assert!(parsed, "{}", d.stderr());
    assert_eq!(last["status"], "OK", "{last}");
    assert_eq!(info(component(&last, "Order")), ["hold done: True"]);
    assert_eq!(d.last_result("Hold")["status"], "OK");
}

/// `/plugins` lists `name` (a reload has been applied).
fn lists(d: &TestDaemon, name: &str) -> bool {
    d.get_json("/plugins")["plugins"]["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i["plugin"]["name"] == name))
}

#[test]
fn python_probe_is_not_repeated_by_a_reload() {
    if !python3() {
        return;
    }
    // A wrapper interpreter that counts the probes (runs with `-s`; none run here).
    let wrapper = format!(
        "#!/bin/sh\n[ \"$1\" = -s ] && echo probe >> \"$(dirname \"$0\")/probes\"\nexec {PYTHON3} \"$@\"\n"
    );
    let base =
        "python: {interpreter: '{dir}/python.sh'}\nactions:\n  act: {Module: json}\nplugins:\n";
    let yaml = format!("{base}  E0: {{Command: 'echo 0', Interval: 0}}\n");
    let mut d = TestDaemon::start_with(&yaml, &[("python.sh", &wrapper)], &[]);
    let probes = |d: &TestDaemon| {
        std::fs::read_to_string(d.dir.path().join("probes")).map_or(0, |s| s.lines().count())
    };
    assert_eq!(probes(&d), 1, "{}", d.stderr());
    // §3.10: reloads with the same interpreter and modules do not probe again...
    let reload = |d: &TestDaemon, n: usize| {
        let text = std::fs::read_to_string(&d.config).unwrap();
        std::fs::write(
            &d.config,
            format!("{text}  E{n}: {{Command: 'echo {n}', Interval: 0}}\n"),
        )
        .unwrap();
        d.signal("HUP");
        let name = format!("E{n}");
        assert!(
            wait_until(Duration::from_secs(60), || lists(d, &name)),
            "{}",
            d.stderr()
        );
    };
    reload(&d, 1);
    reload(&d, 2);
    assert_eq!(probes(&d), 1, "{}", d.stderr());
    // ...a changed interpreter (its mtime) is probed again.
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(d.dir.path().join("python.sh"))
        .and_then(|f| f.set_modified(later))
        .unwrap();
    reload(&d, 3);
    assert_eq!(probes(&d), 2, "{}", d.stderr());
    d.stop();
}
