//! Unit tests of the loader: every rule, exact messages and positions.

use std::path::Path;

use serde_json::json;

use super::*;

fn load(text: &str) -> Result<Loaded, ConfigErrors> {
    load_str("t.yaml", text, Path::new("."))
}

fn errors(text: &str) -> Vec<String> {
    load(text).map(|_| Vec::new()).unwrap_or_else(|e| e.lines())
}

fn check<'a>(loaded: &'a Loaded, name: &str) -> &'a CheckSpec {
    loaded
        .plan
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| &**c)
        .unwrap()
}

#[test]
fn compat_example_loads() {
    let loaded = load_file(Path::new("tests/fixtures/config/compat-example.yaml")).unwrap();
    let plan = &loaded.plan;
    assert_eq!(
        summary(plan),
        "OK: 3 plugins (1 scheduled), 1 actions, nrpe: 0 commands"
    );
    assert_eq!(plan.bind_host, "0.0.0.0");
    let echo = check(&loaded, "echo");
    assert_eq!(echo.command, Command::Shell("echo hello".into()));
    assert_eq!(echo.actions, vec!["Notify"]);
    assert_eq!(echo.history, 3);
    assert_eq!(echo.timeout, Duration::from_secs(30));
    let keys: Vec<&str> = echo.parameters.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Command", "Module", "Parser", "Interval", "Timeout", "History", "uid", "gid",
            "Template", "Action", "Msg", "Category"
        ]
    );
    assert_eq!(
        echo.parameters["Action"],
        json!({"Command": "echo action %(status)s", "Module": null, "Timeout": 60})
    );
    assert_eq!(echo.parameters["uid"], json!("default"));
    let uptime = check(&loaded, "uptime");
    assert_eq!(
        uptime.schedule,
        Schedule::Interval {
            every: Duration::from_secs(60),
            splay: Duration::from_secs(60)
        }
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn default_config_loads() {
    let loaded = load_default().unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.plan.path, None);
    assert_eq!(
        (loaded.plan.bind_host.as_str(), loaded.plan.bind_port),
        ("127.0.0.1", 8086)
    );
    assert_eq!(
        summary(&loaded.plan),
        "OK: 6 plugins (6 scheduled), 0 actions, nrpe: 0 commands"
    );
    let Command::Argv(argv) = &check(&loaded, "disk_root").command else {
        panic!()
    };
    assert_eq!(
        argv[3..],
        ["check_disk", "-w", "10%", "-c", "5%", "-p", "/"]
    );
}

#[test]
fn broken_plugins_report_every_error_with_positions() {
    let text = "\
plugins:
  a: {Command: x, Module: y}
  b: {Command: x, Timeout: -5}
  c: {Interval: 5}
  d: {Command: x, Template: Nope}
";
    assert_eq!(
        errors(text),
        [
            "t.yaml:2:27: plugins.a.Module: Command and Module parameters cannot be set together",
            "t.yaml:3:28: plugins.b.Timeout: must not be negative, got -5",
            "t.yaml:4:3: plugins.c: Command, Argv or Module has to be set",
            "t.yaml:5:29: plugins.d.Template: unknown template Nope (no templates: section)",
        ]
    );
}
