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

/// What a fixture's header comment promises.
#[derive(Default)]
struct Expect {
    exit: Option<i32>,
    lines: Vec<String>,
    warnings: Vec<String>,
    commands: Vec<(String, String)>,
    argvs: Vec<(String, String)>,
    invalid: Vec<(String, String)>,
}

fn read_expect(text: &str) -> Expect {
    let mut e = Expect::default();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim_start();
        let Some((tag, rest)) = line.split_once(": ") else {
            continue;
        };
        let named = |rest: &str| {
            let (name, value) = rest.split_once(": ").unwrap_or((rest, ""));
            (name.to_string(), value.to_string())
        };
        match tag.split_once(' ') {
            None if tag == "expect-exit" => e.exit = rest.trim().parse().ok(),
            None if tag == "expect" => e.lines.push(rest.to_string()),
            None if tag == "expect-warning" => e.warnings.push(rest.to_string()),
            Some(("expect-command", name)) => e.commands.push((name.to_string(), rest.to_string())),
            Some(("expect-argv", name)) => e.argvs.push((name.to_string(), rest.to_string())),
            Some(("expect-invalid", name)) => e.invalid.push((name.to_string(), rest.to_string())),
            _ => {
                let _ = named;
            }
        }
    }
    e
}

/// Every top-level fixture under tests/fixtures/config keeps the promise of its header.
#[test]
fn fixtures_match_their_headers() {
    let dir = Path::new("tests/fixtures/config");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    let mut failures = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = read_expect(&text);
        let result = load_file(&path);
        let (exit, lines, warnings) = match &result {
            Ok(l) => (0, vec![summary(&l.plan)], l.warnings.clone()),
            Err(e) => (2, e.lines(), Vec::new()),
        };
        if expect.exit != Some(exit) || expect.lines != lines || expect.warnings != warnings {
            failures.push(format!(
                "{}: exit {exit}\n# expect: {}\n# expect-warning: {}",
                path.display(),
                lines.join("\n# expect: "),
                warnings.join("\n# expect-warning: ")
            ));
            continue;
        }
        let Ok(loaded) = result else { continue };
        for (name, want) in &expect.commands {
            assert_eq!(
                check(&loaded, name).command,
                Command::Shell(want.clone()),
                "{}",
                path.display()
            );
        }
        for (name, want) in &expect.argvs {
            let want: Vec<String> = serde_json::from_str(want).unwrap();
            assert_eq!(
                check(&loaded, name).command,
                Command::Argv(want),
                "{}",
                path.display()
            );
        }
        for (name, want) in &expect.invalid {
            let (state, text) = want.split_once(' ').unwrap();
            let want = Command::Invalid {
                state: State::parse(state).unwrap(),
                text: text.to_string(),
            };
            assert_eq!(check(&loaded, name).command, want, "{}", path.display());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn conf_d_layout_loads_natively() {
    let loaded = load_conf_d(Path::new("tests/fixtures/config/conf.d")).unwrap();
    assert_eq!(
        summary(&loaded.plan),
        "OK: 2 plugins (1 scheduled), 1 actions, nrpe: 0 commands"
    );
    let names: Vec<&str> = loaded.plan.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Echo", "Uname"]);
    assert_eq!(
        check(&loaded, "Echo").command,
        Command::Shell("echo hello".into())
    );
    assert_eq!(check(&loaded, "Echo").actions, ["Notify"]);
    assert_eq!(check(&loaded, "Uname").timeout, Duration::from_secs(30));
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.yaml"),
        "plugins: !include sub/p.yaml\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/p.yaml"),
        "a: {Command: x, Timeout: -1}\nb: [\n",
    )
    .unwrap();
    let err = load_file(&dir.path().join("main.yaml"))
        .unwrap_err()
        .lines();
    let sub = dir.path().join("sub/p.yaml").display().to_string();
    let main = dir.path().join("main.yaml").display().to_string();
    assert_eq!(
        err,
        [format!(
            "{sub}:2:4: unclosed bracket '[' (included from {main}:1:19)"
        )]
    );

    std::fs::write(
        dir.path().join("sub/p.yaml"),
        "a: {Command: x, Timeout: -1}\n",
    )
    .unwrap();
    let err = load_file(&dir.path().join("main.yaml"))
        .unwrap_err()
        .lines();
    assert_eq!(
        err,
        [format!(
            "{sub}:1:26: plugins.a.Timeout: must not be negative, got -1"
        )]
    );
}
