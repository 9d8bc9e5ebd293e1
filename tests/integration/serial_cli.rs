//! The original `check_smoker_plugin.py` (hard-wired to localhost:8086) and our
//! `check_smoker` with its default host, against our smokerd on port 8086.

use std::{
    process::{Child, Command},
    time::{Duration, Instant},
};

use crate::cli::{Client, http_get, mask_times, run_with, smoker_orig, stdout};

/// Our smokerd on 127.0.0.1:8086, killed on drop.
struct Smokerd8086 {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Smokerd8086 {
    fn start() -> Smokerd8086 {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("smokerd.yaml");
        std::fs::write(
            &config,
            "bind_host: 127.0.0.1\nbind_port: 8086\nplugins:\n\
             \x20 good: {Command: 'echo \"fine | load=0.5;1;2;0\"', Category: demo, Type: healthCheck}\n\
             \x20 bad: {Command: 'echo broken; exit 2', Category: demo}\n\
             \x20 unk: {Command: 'echo lost; exit 3', Category: other}\n",
        )
        .unwrap();
        assert!(
            http_get(8086, "/").is_none(),
            "port 8086 is taken by something else"
        );
        let child = crate::common::spawn_smokerd(&config);
        let daemon = Smokerd8086 { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while http_get(8086, "/").is_none() {
            assert!(Instant::now() < deadline, "smokerd did not come up on 8086");
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for Smokerd8086 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn orig_check(args: &[&str]) -> (String, Option<i32>) {
    let mut command = Command::new(smoker_orig());
    command.arg("check").args(args);
    let output = run_with(command, Duration::from_secs(120));
    (mask_times(&stdout(&output)), output.status.code())
}

#[test]
fn original_nagios_plugin_and_ours_on_port_8086() {
    let _daemon = Smokerd8086::start();
    let client = Client::new();
    let check = |args: &[&str]| {
        let output = client.check(args);
        (mask_times(&stdout(&output)), output.status.code())
    };
    // forced runs through both plugins
    assert_eq!(
        orig_check(&["-f", "good"]),
        (
            "OK: smoke test good succeeded at TIME\n".to_owned(),
            Some(0)
        )
    );
    assert_eq!(
        check(&["-f", "good"]),
        ("fine|load=0.5;1;2;0\n".to_owned(), Some(0))
    );
    assert_eq!(
        orig_check(&["-f", "bad"]),
        ("CRITICAL: broken\n".to_owned(), Some(2))
    );
    assert_eq!(check(&["bad"]), ("broken\n".to_owned(), Some(2)));
    // an UNKNOWN check: the original sees status ERROR, ours the state (D1)
    assert_eq!(
        orig_check(&["-f", "unk"]),
        ("CRITICAL: lost\n".to_owned(), Some(2))
    );
    assert_eq!(check(&["unk"]), ("lost\n".to_owned(), Some(3)));
    // filters and summaries
    let (text, code) = orig_check(&["--category", "demo"]);
    assert_eq!(
        (text.as_str(), code),
        (
            "CRITICAL: ERROR: 1, OK: 1\nERROR - bad - broken\nOK - good - smoke test good succeeded at TIME\n",
            Some(2)
        )
    );
    let (text, code) = check(&["--category", "demo"]);
    assert_eq!(
        (text.as_str(), code),
        (
            "CRITICAL: 2 checks on 1 host: 1 CRITICAL (bad), 1 OK | 'good::load'=0.5;1;2;0\nCRITICAL bad: broken\nOK good: fine\n",
            Some(2)
        )
    );
    assert_eq!(
        orig_check(&["--health"]),
        (
            "OK: smoke test good succeeded at TIME\n".to_owned(),
            Some(0)
        )
    );
    assert_eq!(check(&["--health"]).1, Some(0));
    assert_eq!(
        orig_check(&["nope"]),
        ("UNKNOWN: plugin ['nope'] not found\n".to_owned(), Some(3))
    );
    let (text, code) = check(&["nope"]);
    assert_eq!(code, Some(3));
    assert!(
        text.starts_with("UNKNOWN: plugin not found on ") && text.ends_with(": nope\n"),
        "{text}"
    );
}
