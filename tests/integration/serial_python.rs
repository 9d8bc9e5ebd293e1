//! The original `check_smoker_plugin.py` (hard-wired to localhost:8086) on Python
//! checks: the same text and exit code from the original daemon and from ours.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    cli::{http_get, mask_times, run_with, smoker_orig, stdout},
    python::{OrigDaemon, original_tree, python_section, python3},
};

const PLUGINS: &str = "templates:\n  BasePlugin: {Interval: 0, Timeout: 30}\nplugins:
  Uname: {Module: smoker.server.plugins.uname}
  Garbage: {Command: 'echo hello; echo oops >&2; exit 3', Parser: smoker.server.plugins.varnishparser}
  BadParser: {Command: 'echo some output', Parser: InvalidParser}
  SParser: {Command: 'echo \"GoodData Smoker\"', Parser: tests.server.smoker_test_resources.smokerparser}
";

const CHECKS: [&str; 4] = ["Uname", "Garbage", "BadParser", "SParser"];

/// What the original Nagios plugin prints (times masked) and its exit code, per check.
fn shown() -> Vec<(String, Option<i32>)> {
    CHECKS
        .iter()
        .map(|name| {
            let mut command = Command::new(smoker_orig());
            command.args(["check", "-f", name]);
            let output = run_with(command, Duration::from_secs(120));
            (mask_times(&stdout(&output)), output.status.code())
        })
        .collect()
}

fn wait_8086() {
    let deadline = Instant::now() + Duration::from_secs(300);
    while http_get(8086, "/").is_none() {
        assert!(Instant::now() < deadline, "nothing came up on 8086");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn original_nagios_plugin_shows_python_checks_alike() {
    if !python3() {
        return;
    }
    assert!(http_get(8086, "/").is_none(), "port 8086 is taken");
    let (tree, root) = original_tree();
    let theirs = {
        let _original = OrigDaemon::start_on(tree.path(), PLUGINS, 8086);
        shown()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(8086, "/").is_some() {
        assert!(Instant::now() < deadline, "the original did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let config = tree.path().join("ours.yaml");
    let yaml = format!(
        "bind_host: 127.0.0.1\nbind_port: 8086\nstate_dir: {}\n{}{PLUGINS}",
        tree.path().join("state").display(),
        python_section(&root, "")
    );
    std::fs::write(&config, yaml).unwrap();
    let mut ours = crate::common::spawn_smokerd(&config);
    wait_8086();
    let mine = shown();
    let _ = ours.kill();
    let _ = ours.wait();
    assert!(theirs[0].0.starts_with("OK: "), "{theirs:?}");
    assert_eq!(mine, theirs);
}
