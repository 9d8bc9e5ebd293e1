//! What smokerd logs at its default level (issue 20): start (version, config, listeners),
//! each state change of a check, timeouts as warnings, each reload's outcome, the stop; with
//! journald priorities under `JOURNAL_STREAM` and typed fields in JSON; the warning about
//! checks run as root only when `run_as_root` is not set.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::common::{bin, free_port, http, temp_dir, wait_until};

const FLIP: &str = "#!/bin/sh\nif [ -e \"$(dirname \"$0\")/bad\" ]; then echo 'DISK CRITICAL - / at 95%|used=95%;80;90'; exit 2; fi\necho 'DISK OK - / at 40%|used=40%;80;90'\n";

/// One daemon run: a check going OK → CRITICAL, a check timing out, a reload adding a
/// check, a stop. Returns the log (stderr).
fn one_run(env: &[(&str, &str)], extra_yaml: &str) -> String {
    let dir = temp_dir();
    let flip = dir.path().join("flip.sh");
    std::fs::write(&flip, FLIP).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&flip, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let config = dir.path().join("smokerd.yaml");
    let yaml = format!(
        "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {d}/state\n{extra_yaml}\
         plugins:\n  disk_root: {{Command: '{d}/flip.sh', Interval: 1}}\n  hang: {{Command: 'sleep 30', Interval: 2, Timeout: 1}}\n",
        d = dir.path().display()
    );
    std::fs::write(&config, &yaml).unwrap();
    let log = dir.path().join("smokerd.log");
    let mut child = spawn(&config, &log, env);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let waited = |what: &str, needle: &str| {
        let found = wait_until(Duration::from_secs(30), || text().contains(needle));
        assert!(found, "no {what} ({needle}) in\n{}", text());
    };
    waited("start", "smokerd started.");
    assert!(
        wait_until(Duration::from_secs(30), || {
            http(port, "GET", "/plugins/disk_root", None).is_ok_and(|r| r.body.contains("DISK OK"))
        }),
        "{}",
        text()
    );
    std::fs::write(dir.path().join("bad"), "").unwrap();
    waited(
        "state change",
        "check disk_root: OK → CRITICAL: DISK CRITICAL - / at 95%",
    );
    waited("timeout", "check hang timed out after 1 s");
    std::fs::write(&config, format!("{yaml}  later: {{Command: 'true'}}\n")).unwrap();
    signal(&child, "HUP");
    waited("reload", "Configuration reloaded.");
    signal(&child, "TERM");
    let stopped = wait_until(Duration::from_secs(30), || {
        child.try_wait().ok().flatten().is_some()
    });
    assert!(stopped, "smokerd did not stop\n{}", text());
    let _ = child.wait();
    text()
}

fn spawn(config: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let stderr = std::fs::File::create(log).unwrap();
    let mut command = Command::new(bin("smokerd"));
    command
        .arg("-c")
        .arg(config)
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn smokerd")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn line_with<'a>(log: &'a str, needle: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in\n{log}"))
}

#[test]
fn journald_lines_carry_priorities() {
    let log = one_run(&[("JOURNAL_STREAM", "8:12345")], "");
    println!("{log}");
    let started = line_with(&log, "smokerd started.");
    assert!(started.starts_with("<6>"), "{started}");
    for field in ["version=", "config=", "api=127.0.0.1:", "checks=2"] {
        assert!(started.contains(field), "{field} in {started}");
    }
    assert!(line_with(&log, "check disk_root: OK → CRITICAL").starts_with("<6>"));
    assert!(line_with(&log, "check hang timed out").starts_with("<4>"));
    assert!(line_with(&log, "Configuration reloaded.").starts_with("<6>"));
    assert!(line_with(&log, "Stopped.").starts_with("<6>"));
    // Running as root without run_as_root set: the warning, once.
    if nix::unistd::geteuid().is_root() {
        assert!(line_with(&log, "Checks run as root").starts_with("<4>"));
    }
    assert!(log.lines().all(|l| l.starts_with('<')), "{log}");
    assert!(!log.contains("<7>"), "no debug at the default level\n{log}");
    assert!(log.lines().count() < 40, "low volume:\n{log}");
}

#[test]
fn json_lines_keep_field_types() {
    let log = one_run(&[], "log_format: json\nrun_as_root: true\n");
    println!("{log}");
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |message: &str| {
        events
            .iter()
            .find(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .unwrap_or_else(|| panic!("no {message} in\n{log}"))
    };
    let started = find("smokerd started.");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["checks"], 2);
    assert_eq!(started["nrpe"], serde_json::json!([]));
    let change = find("check disk_root: OK → CRITICAL");
    assert_eq!(
        (&change["check"], &change["from"], &change["to"]),
        (&"disk_root".into(), &"OK".into(), &"CRITICAL".into())
    );
    let timeout = find("check hang timed out");
    assert_eq!(
        (&timeout["level"], &timeout["seconds"]),
        (&"WARN".into(), &1.0.into())
    );
    let reload = find("Configuration reloaded.");
    assert_eq!(reload["added"], serde_json::json!(["later"]));
    find("Stopped.");
    assert!(
        !log.contains("Checks run as root"),
        "run_as_root: true is a choice, not a mistake\n{log}"
    );
}
