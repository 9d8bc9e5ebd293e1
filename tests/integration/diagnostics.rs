//! Config diagnostics through the real `smokerd check-config` and `POST /v2/reload`:
//! every mistake of a file in one run, each as `FILE:LINE:COL: error: key.path:
//! message` with its source line and a caret; the fixes each message names; `--strict`.

use crate::common::{TestDaemon, run_bin, temp_dir};

/// `smokerd check-config [extra…] -c FILE` on `yaml`: (exit code, stdout, stderr).
fn check_config(yaml: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = temp_dir();
    let path = dir.path().join("smokerd.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let mut args = vec!["check-config"];
    args.extend_from_slice(extra);
    args.extend(["-c", path.to_str().expect("utf8")]);
    run_bin("smokerd", &args)
}

/// Five different mistakes: a boolean Command, a near miss of Interval that would leave
/// the check unscheduled, a misspelt cron nickname, a cron field out of range, and an
/// action whose kind is a typo.
const FIVE_MISTAKES: &str = "\
plugins:
  a:
    Command: true
    Interval: 60
  b:
    Command: echo hi
    Intervall: 60
  c:
    Command: echo c
    Schedule: \"@dayly\"
  d:
    Command: echo d
    Schedule: \"61 * * * *\"
  e:
    Command: echo e
    Interval: 5m
    Action: [x]
actions:
  x:
    Nscaa:
      host: h
";

#[test]
fn check_config_reports_five_mistakes_in_one_run_with_carets() {
    let (code, stdout, stderr) = check_config(FIVE_MISTAKES, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let want = [
        (
            "smokerd.yaml:3:14: error: plugins.a.Command: expected a string, found a boolean; \
             quote the value (\"…\") to make it a string",
            "3 |     Command: true\n  |              ^^^^",
        ),
        (
            "smokerd.yaml:7:5: error: plugins.b.Intervall: unknown key; did you mean Interval? \
             Without Interval or Schedule the check never runs on its own",
            "7 |     Intervall: 60\n  |     ^^^^^^^^^",
        ),
        (
            "smokerd.yaml:10:15: error: plugins.c.Schedule: invalid cron expression \"@dayly\": \
             unknown nickname; did you mean @daily?",
            "10 |     Schedule: \"@dayly\"\n   |               ^^^^^^^^",
        ),
        (
            "smokerd.yaml:13:15: error: plugins.d.Schedule: invalid cron expression \
             \"61 * * * *\": minute field \"61\": 61 is outside 0-59",
            "13 |     Schedule: \"61 * * * *\"",
        ),
        (
            "smokerd.yaml:20:5: error: actions.x.Nscaa: unknown action kind; did you mean Nsca? \
             (known kinds: Command, Module, Nsca, Icinga2)",
            "20 |     Nscaa:\n   |     ^^^^^",
        ),
    ];
    for (header, snippet) in want {
        assert!(stderr.contains(header), "missing {header:?} in\n{stderr}");
        assert!(stderr.contains(snippet), "missing {snippet:?} in\n{stderr}");
    }
    assert!(stderr.trim_end().ends_with("5 errors"), "{stderr}");
}

#[test]
fn reload_refuses_the_five_mistakes_keeps_the_config_and_lists_them_as_json() {
    let d = TestDaemon::start("plugins:\n  good: {Command: 'echo fine', Interval: 1m}\n");
    let good = std::fs::read_to_string(&d.config).expect("config");
    let head: String = good.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&d.config, format!("{head}{FIVE_MISTAKES}")).expect("write");
    let r = d.post("/v2/reload", "");
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    let errors: Vec<&str> = errors
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert_eq!(errors.len(), 5, "{errors:?}");
    for part in [
        "plugins.a.Command: expected a string, found a boolean; quote the value",
        "plugins.b.Intervall: unknown key; did you mean Interval?",
        "did you mean @daily?",
        "minute field \"61\"",
        "actions.x.Nscaa: unknown action kind; did you mean Nsca?",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(part)),
            "{part}: {errors:?}"
        );
    }
    // The running config is kept.
    let plugins = d.get_json("/plugins");
    assert!(plugins.to_string().contains("good"), "{plugins}");
}

#[test]
fn a_lone_percent_is_literal_as_in_nagios_commands() {
    let (code, stdout, stderr) = check_config(
        "plugins:\n  disk:\n    Command: /usr/lib/nagios/plugins/check_disk -w 10% -c 5% -p /\n    Interval: 60\n",
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "OK: 1 plugins (1 scheduled), 0 actions, nrpe: 0 commands"
    );
    // And the shell gets it unchanged, `%%` still meaning `%`.
    let d = TestDaemon::start("plugins:\n  pct: {Command: 'echo 10% -c 5%% %(X)s', X: '50%'}\n");
    d.force(&["pct"]);
    let last = d.last_result("pct");
    assert!(
        last.to_string().contains("10% -c 5% 50%"),
        "{last}\n{}",
        d.stderr()
    );
}

#[test]
fn an_action_without_a_kind_is_an_error_naming_the_kinds() {
    let (code, _, stderr) = check_config(
        "plugins:\n  a: {Command: 'true', Interval: 60}\nactions:\n  x:\n    Timeout: 5\n",
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "smokerd.yaml:5:5: error: actions.x: no action kind set: give one of Command, Module, Nsca"
        ),
        "{stderr}"
    );
    assert!(stderr.trim_end().ends_with("\n1 error"), "{stderr}");
}

#[test]
fn strict_turns_warnings_into_errors() {
    let yaml = "plugins:\n  a:\n    Command: 'true'\n    Interval: 60\n    Timeuot: 5\n";
    let (code, stdout, stderr) = check_config(yaml, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("OK: 1 plugins (1 scheduled)"),
        "{stdout}"
    );
    let warning = "smokerd.yaml:5:5: warning: plugins.a.Timeuot: unknown key, used as a \
                   parameter; did you mean Timeout?\n  |\n5 |     Timeuot: 5\n  |     ^^^^^^^";
    assert!(stderr.contains(warning), "{stderr}");
    let (code, stdout, stderr) = check_config(yaml, &["--strict"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("smokerd.yaml:5:5: error: plugins.a.Timeuot: unknown key"),
        "{stderr}"
    );
    assert!(!stdout.contains("OK"), "{stdout}");
}

#[test]
fn durations_accept_seconds_and_units() {
    let (code, stdout, stderr) = check_config(
        "plugins:\n  a: {Command: 'true', Interval: 60, Timeout: 60s}\n  b: {Command: 'true', Interval: 5m}\n  c: {Command: 'true', Interval: 1h, Splay: '60'}\n",
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("OK: 3 plugins (3 scheduled)"),
        "{stdout}"
    );
    // The daemon applies them: a `1s` Timeout stops a 30 s command.
    let d =
        TestDaemon::start("plugins:\n  slow: {Command: 'sleep 30', Interval: 5m, Timeout: 1s}\n");
    let started = std::time::Instant::now();
    d.force(&["slow"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    let last = d.last_result("slow").to_string();
    assert!(last.contains("Execution timeout after 1 seconds"), "{last}");
    let (code, _, stderr) = check_config(
        "plugins:\n  a: {Command: 'true', Interval: 5 parsecs}\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "plugins.a.Interval: not a duration: \"5 parsecs\" (examples: 60, 60s, 5m, 1h)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_bad_indent_names_the_block_it_breaks() {
    let (code, _, stderr) =
        check_config("plugins:\n  a:\n    Command: echo\n   Interval: 60\n", &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("smokerd.yaml:4:4: error: plugins.a: "),
        "{stderr}"
    );
    assert!(stderr.contains("4 |    Interval: 60"), "{stderr}");
}
