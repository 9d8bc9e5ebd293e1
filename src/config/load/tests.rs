//! Unit tests of the loader: every rule, exact messages and positions. Here: whole
//! files, fixtures, includes and the key table; `plugins` and `sections` hold the
//! rules of plugin keys and of the settings sections.

mod icinga2;
mod plugins;
mod sections;

use std::{path::Path, time::Duration};

use serde_json::json;

use super::{ConfigErrors, Loaded, keys, load_conf_d, load_default, load_file, load_str, summary};
use crate::{
    check::{ActionTrigger, CheckSpec, Command, Principal, Schedule, State},
    config::ActionKind,
};

pub(super) fn load(text: &str) -> Result<Loaded, ConfigErrors> {
    load_str("t.yaml", text, Path::new("."))
}

pub(super) fn errors(text: &str) -> Vec<String> {
    load(text).map(|_| Vec::new()).unwrap_or_else(|e| e.lines())
}

pub(super) fn check<'a>(loaded: &'a Loaded, name: &str) -> &'a CheckSpec {
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
    let keys: Vec<&str> = echo.parameters.keys().collect();
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
        "OK: 8 plugins (8 scheduled), 0 actions, nrpe: 0 commands"
    );
    let Command::Builtin(argv, _) = &check(&loaded, "disk_root").command else {
        panic!()
    };
    assert_eq!(argv, &["check_disk", "-w", "10%", "-c", "5%", "-p", "/"]);
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
            "t.yaml:4:3: plugins.c: Command, Argv, Builtin or Module has to be set",
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
            Ok(l) => (
                0,
                vec![summary(&l.plan)],
                l.warnings.iter().map(ToString::to_string).collect(),
            ),
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

#[test]
fn example_full_documents_and_loads_every_key() {
    let loaded = load_file(Path::new("config/example-full.yaml")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let plan = &loaded.plan;
    assert_eq!(
        summary(plan),
        "OK: 5 plugins (5 scheduled), 2 actions, nrpe: 0 commands"
    );
    assert_eq!(plan.nr_concurrent_plugins, Some(20));
    assert_eq!(plan.metrics_listen, Some("127.0.0.1:9108".parse().unwrap()));
    assert_eq!(plan.api.write_tokens, ["change-me-write-token"]);
    assert_eq!(plan.spool.max_bytes, 256 << 20);
    let disk = check(&loaded, "disk");
    let argv = [
        "/usr/lib/nagios/plugins/check_disk",
        "-w",
        "10%",
        "-c",
        "5%",
        "-p",
        "/",
    ];
    assert_eq!(disk.command, Command::Argv(argv.map(String::from).to_vec()));
    assert_eq!(disk.env, [("LC_ALL".to_string(), "C".to_string())]);
    assert_eq!(disk.max_output, 64 << 10);
    assert_eq!(disk.uid, Some(Principal::Name("nobody".into())));
    assert_eq!(
        disk.action_on,
        [
            ActionTrigger::Change,
            ActionTrigger::State(State::Warning),
            ActionTrigger::State(State::Critical),
            ActionTrigger::State(State::Unknown)
        ]
    );
    assert_eq!(
        disk.schedule,
        Schedule::Interval {
            every: Duration::from_secs(60),
            splay: Duration::from_secs(30)
        }
    );
    let greeting = check(&loaded, "greeting");
    assert_eq!(
        greeting.command,
        Command::Shell("echo hello\\;\\ world".into())
    );
    assert_eq!(
        greeting.schedule,
        Schedule::Cron {
            expr: "0 3 * * *".into(),
            time_zone: Some("UTC".into())
        }
    );
    assert_eq!(greeting.max_output, 1 << 20);
    assert!(greeting.catch_up);
    let Some(nagios) = plan.actions.get("nagios") else {
        panic!()
    };
    let ActionKind::Nsca(nsca) = &nagios.kind else {
        panic!()
    };
    assert_eq!(nsca.encryption, crate::config::NscaMethod::TripleDes);
    assert_eq!(nsca.service, "%(name)s");
    assert_eq!(check(&loaded, "uptime").actions, Vec::<String>::new());

    // Every key of the key table is documented there (commented out or not).
    let text = std::fs::read_to_string("config/example-full.yaml").unwrap();
    let missing: Vec<String> = keys::all()
        .filter(|k| !documents(&text, k))
        .map(|k| format!("{:?} {} ({})", k.section, k.name, k.about))
        .collect();
    assert!(missing.is_empty(), "example-full.yaml lacks {missing:?}");
}

/// Whether `text` shows `key` as a key: top-level keys at the start of a line (after
/// `# ` when commented out), the others indented or in a flow mapping.
fn documents(text: &str, key: &keys::Key) -> bool {
    let written = format!("{}:", key.name);
    text.lines().any(|line| {
        let line = line.strip_prefix("# ").unwrap_or(line);
        if key.section == keys::Section::Top {
            return line.starts_with(&written);
        }
        let inner = line.trim_start_matches(['#', ' ']);
        (inner.len() < line.len() && inner.starts_with(&written))
            || line.contains(&format!("{{{written}"))
    })
}

#[test]
fn whole_config_shape_errors() {
    assert_eq!(
        errors("{}\n"),
        ["t.yaml:1:1: plugins: no plugins configured (and no nrpe: section)"]
    );
    assert_eq!(errors("# nothing\n"), ["t.yaml:1:1: the config is empty"]);
    assert_eq!(
        errors("- a\n"),
        ["t.yaml:1:1: the config must be a mapping of keys, found a list"]
    );
}

#[test]
fn ten_thousand_plugins_load_quickly() {
    let mut text = String::from("templates: {BasePlugin: {Interval: 60, Timeout: 10}}\nplugins:\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "  check_{i}: {{Command: 'echo %(Msg)s {i}', Msg: hello world, Enabled: yes}}\n"
        ));
    }
    let started = std::time::Instant::now();
    let loaded = load(&text).unwrap();
    assert_eq!(loaded.plan.checks.len(), 10_000);
    assert_eq!(
        check(&loaded, "check_9999").command,
        Command::Shell("echo hello\\ world 9999".into())
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn conf_d_in_an_awkward_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("my conf: d");
    std::fs::create_dir_all(root.join("plugin.d")).unwrap();
    std::fs::write(root.join("plugin.d/x.yaml"), "Command: uname\n").unwrap();
    let loaded = load_conf_d(&root).unwrap();
    assert_eq!(
        summary(&loaded.plan),
        "OK: 1 plugins (0 scheduled), 0 actions, nrpe: 0 commands"
    );
    // Empty dirs give null sections, as GENCONFIG's headers do: no plugins is an error.
    std::fs::remove_file(root.join("plugin.d/x.yaml")).unwrap();
    let err = load_conf_d(&root).unwrap_err().lines();
    assert_eq!(err.len(), 1);
    assert!(
        err[0].ends_with(": plugins: no plugins configured (and no nrpe: section)"),
        "{err:?}"
    );
}

/// Damaged configs never panic the loader: every outcome is a plan or positioned errors.
#[test]
fn mutated_configs_never_panic() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let base = std::fs::read_to_string("config/example-full.yaml").unwrap();
    let alphabet = b" :-[]{}!&*%()'\"\n\t#|>,?@`~0123456789abcyesnoDefault";
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..300 {
        let mut bytes = base.clone().into_bytes();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[at] = alphabet[rng.random_range(0..alphabet.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = load(&text) {
            assert!(!e.errors.is_empty());
        }
    }
}
