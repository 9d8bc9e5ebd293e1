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

#[test]
fn example_full_documents_and_loads_every_key() {
    let loaded = load_file(Path::new("config/example-full.yaml")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let plan = &loaded.plan;
    assert_eq!(
        summary(plan),
        "OK: 4 plugins (4 scheduled), 2 actions, nrpe: 0 commands"
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
}

#[test]
fn enabled_and_action_resolve_from_templates_too() {
    let loaded = load(
        "\
templates:
  BasePlugin: {Interval: 0}
  Disabled: {Enabled: off}
  Paged: {Action: page}
actions:
  page: {Command: 'echo %(status)s'}
  mail: {Command: 'echo mail'}
default_actions: mail
plugins:
  gone: {Command: x, Template: Disabled}
  gone_too: {Command: x, Enabled: NO}
  kept: {Command: x, Enabled: yes}
  paged: {Command: x, Template: Paged}
  both: {Command: x, Action: [page, mail]}
  none: {Command: x, Action: []}
  default: {Command: x}
",
    )
    .unwrap();
    let names: Vec<&str> = loaded.plan.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["kept", "paged", "both", "none", "default"]);
    assert_eq!(check(&loaded, "paged").actions, ["page"]);
    assert_eq!(check(&loaded, "both").actions, ["page", "mail"]);
    assert_eq!(check(&loaded, "none").actions, Vec::<String>::new());
    assert_eq!(check(&loaded, "default").actions, ["mail"]);
    assert_eq!(check(&loaded, "default").parameters["Action"], json!(null));
    assert_eq!(
        check(&loaded, "both").parameters["Action"],
        json!([
            {"Command": "echo %(status)s", "Module": null, "Timeout": 60},
            {"Command": "echo mail", "Module": null, "Timeout": 60}
        ])
    );
    assert_eq!(check(&loaded, "none").parameters["Action"], json!([]));
    let ActionKind::Command { template, timeout } = &loaded.plan.actions["page"].kind else {
        panic!()
    };
    assert_eq!(
        (template.as_str(), *timeout),
        ("echo %(status)s", Duration::from_secs(60))
    );
}

#[test]
fn parameters_keep_the_original_key_order_and_python_values() {
    let loaded = load(
        "\
templates:
  BasePlugin: {Zeta: 1, Interval: 5}
  T: {Alpha: true, Timeout: 7}
plugins:
  p: {Template: T, Beta: 2.5, Command: 'echo %(Zeta)s %(Alpha)s %(Beta)s %(uid)s %(Template)s %(Parser)s %(Gamma)s',
      Gamma: [1, 'x', null]}
",
    )
    .unwrap();
    let p = check(&loaded, "p");
    let keys: Vec<&str> = p.parameters.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Command", "Module", "Parser", "Interval", "Timeout", "History", "uid", "gid",
            "Template", "Action", "Zeta", "Alpha", "Beta", "Gamma"
        ]
    );
    assert_eq!(
        p.command,
        Command::Shell(format!(
            "echo 1 True {} default T None {}",
            subst::shell_escape("2.5"),
            subst::shell_escape("[1, 'x', None]")
        ))
    );
    assert_eq!(p.timeout, Duration::from_secs(7));
    assert_eq!(
        p.schedule,
        Schedule::Interval {
            every: Duration::from_secs(5),
            splay: Duration::from_secs(5)
        }
    );
}

#[test]
fn interval_and_schedule_the_more_specific_wins() {
    let loaded = load(
        "\
templates:
  BasePlugin: {Interval: 300}
  Cron: {Schedule: '*/5 * * * *'}
plugins:
  cron_over_base: {Command: x, Schedule: '@hourly'}
  plugin_interval_over_template_cron: {Command: x, Template: Cron, Interval: 10}
  reboot: {Command: x, Schedule: '@reboot', Interval: 0}
  seconds: {Command: x, Schedule: '*/10 * * * * *'}
",
    )
    .unwrap();
    let cron = |e: &str| Schedule::Cron {
        expr: e.into(),
        time_zone: None,
    };
    assert_eq!(check(&loaded, "cron_over_base").schedule, cron("@hourly"));
    assert_eq!(
        check(&loaded, "plugin_interval_over_template_cron").schedule,
        Schedule::Interval {
            every: Duration::from_secs(10),
            splay: Duration::from_secs(10)
        }
    );
    assert_eq!(check(&loaded, "reboot").schedule, cron("@reboot"));
    assert_eq!(check(&loaded, "seconds").schedule, cron("*/10 * * * * *"));
    assert_eq!(
        errors(
            "templates: {BasePlugin: {Interval: 5, Schedule: '@daily'}}\nplugins: {a: {Command: x}}\n"
        ),
        ["t.yaml:1:49: plugins.a.Schedule: Interval and Schedule cannot be set together"]
    );
}

#[test]
fn sizes_durations_and_defaults() {
    assert_eq!(parse_size("64KiB"), Ok(65536));
    assert_eq!(parse_size("1MiB"), Ok(1 << 20));
    assert_eq!(parse_size("500KB"), Ok(500_000));
    assert_eq!(parse_size("1.5 MiB"), Ok(1_572_864));
    assert_eq!(parse_size("2G"), Ok(2 << 30));
    assert!(parse_size("-1KiB").is_err());
    let loaded =
        load("plugins: {a: {Command: x, Interval: 600, MaxOutput: 100}, b: {Command: y}}\n")
            .unwrap();
    let a = check(&loaded, "a");
    assert_eq!(a.max_output, 100);
    assert_eq!(
        a.schedule,
        Schedule::Interval {
            every: Duration::from_secs(600),
            splay: Duration::from_secs(60)
        }
    );
    let b = check(&loaded, "b");
    assert_eq!(
        (
            b.timeout,
            b.history,
            b.max_output,
            b.timeout_state,
            b.exit_codes,
            b.overlap,
            b.catch_up
        ),
        (
            Duration::from_secs(1800),
            10,
            65536,
            State::Unknown,
            ExitCodes::Nagios,
            Overlap::Skip,
            false
        )
    );
    assert_eq!(b.schedule, Schedule::OnDemand);
    let plan = &loaded.plan;
    assert_eq!(
        (plan.bind_host.as_str(), plan.bind_port),
        ("127.0.0.1", 8086)
    );
    assert_eq!(plan.shutdown_grace, Duration::from_secs(10));
    assert_eq!(plan.removed_check_grace, Duration::from_secs(86400));
    assert_eq!(plan.log_format, LogFormat::Text);
    assert_eq!(plan.nrpe, None);
}

#[test]
fn typo_warnings_follow_d4() {
    let loaded = load(
        "\
templates:
  BasePlugin: {Histroy: 5}
plugins:
  a: {Command: 'echo %(Comand)s', Comand: x, Intervall: 5, Categroy: y, Hostname: h}
",
    )
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [
            "t.yaml:2:16: templates.BasePlugin.Histroy: unknown key, used as a parameter; did you mean History?",
            "t.yaml:4:46: plugins.a.Intervall: unknown key, used as a parameter; did you mean Interval?",
            "t.yaml:4:60: plugins.a.Categroy: unknown key, used as a parameter; did you mean Category?",
        ]
    );
}

#[test]
fn duplicate_keys_last_wins_with_a_warning() {
    let loaded = load("plugins:\n  a: {Command: x}\n  a: {Command: y}\n").unwrap();
    assert_eq!(loaded.plan.checks.len(), 1);
    assert_eq!(check(&loaded, "a").command, Command::Shell("y".into()));
    assert_eq!(
        loaded.warnings,
        ["t.yaml:2:3: plugins.a: duplicate key, the one at t.yaml:3:3 wins"]
    );
}

#[test]
fn nrpe_section_accepts_on_off_auto_and_booleans() {
    // The section's parsing alone (the bridge that reads nrpe.cfg comes after).
    let section = |text: &str| {
        let node = yaml::parse_str("t.yaml", text, Path::new(".")).unwrap();
        let mut ctx = Ctx {
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let nrpe = read_nrpe(&mut ctx, node.get("nrpe").unwrap());
        (
            nrpe,
            ctx.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
    };
    let tls = |v: &str| section(&format!("nrpe: {{tls: {v}}}\n")).0.unwrap().tls;
    assert_eq!(tls("on"), NrpeTls::On);
    assert_eq!(tls("yes"), NrpeTls::On);
    assert_eq!(tls("off"), NrpeTls::Off);
    assert_eq!(tls("false"), NrpeTls::Off);
    assert_eq!(tls("auto"), NrpeTls::Auto);
    let nrpe = section("nrpe:\n").0.unwrap();
    assert_eq!(nrpe.config, PathBuf::from("/etc/nagios/nrpe.cfg"));
    assert_eq!(
        (nrpe.listen, nrpe.interval, nrpe.tls),
        (None, None, NrpeTls::On)
    );
    let nrpe = section("nrpe: {config: /x/nrpe.cfg, listen: '[::]:5666', interval: 60}\n")
        .0
        .unwrap();
    assert_eq!(nrpe.config, PathBuf::from("/x/nrpe.cfg"));
    assert_eq!(nrpe.listen.as_deref(), Some("[::]:5666"));
    assert_eq!(nrpe.interval, Some(Duration::from_secs(60)));
    assert_eq!(
        section("nrpe: {listen: nowhere, tls: sometimes, port: 1}\n").1,
        [
            "t.yaml:1:41: nrpe.port: unknown key (allowed: config, listen, tls, interval)",
            "t.yaml:1:16: nrpe.listen: expected ADDR:PORT (e.g. 0.0.0.0:5666 or [::]:5666), found nowhere",
            "t.yaml:1:30: nrpe.tls: must be on, off or auto, found sometimes",
        ]
    );

    // With a real nrpe.cfg its commands count in the summary, and no plugins: is fine.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nrpe.cfg");
    std::fs::write(
        &cfg,
        "server_port=5777\ncommand[check_a]=echo a\ncommand[check_b]=echo $ARG1$\n",
    )
    .unwrap();
    let loaded = load(&format!(
        "nrpe: {{config: {}, listen: '127.0.0.1:5777', tls: off}}\n",
        cfg.display()
    ))
    .unwrap();
    assert_eq!(
        summary(&loaded.plan),
        "OK: 2 plugins (0 scheduled), 0 actions, nrpe: 2 commands"
    );
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
fn api_token_files_and_nsca_password_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("read.tokens");
    std::fs::write(&tokens, "# readers\nabc\n\n  def  # trailing comment\n").unwrap();
    let pass = dir.path().join("nsca.pass");
    std::fs::write(&pass, "s3cret\n").unwrap();
    let text = format!(
        "api: {{read_tokens: [t0], read_token_files: [{}], write_token_files: {}/missing}}\n\
         actions:\n  n: {{Nsca: {{host: h, password_file: {}, encryption: aes256, service: ''}}}}\n\
         plugins: {{a: {{Command: x}}}}\n",
        tokens.display(),
        dir.path().display(),
        pass.display()
    );
    let err = load(&text).unwrap_err().lines();
    assert_eq!(err.len(), 1);
    assert!(err[0].starts_with("t.yaml:1:"), "{err:?}");
    assert!(
        err[0].contains(": api.write_token_files: cannot read "),
        "{err:?}"
    );
    let ok = format!(
        "api: {{read_tokens: [t0], read_token_files: [{}]}}\n\
         actions:\n  n: {{Nsca: {{host: h, password_file: {}, encryption: aes256, service: ''}}}}\n\
         plugins: {{a: {{Command: x}}}}\n",
        tokens.display(),
        pass.display()
    );
    let loaded = load(&ok).unwrap();
    assert_eq!(loaded.plan.api.read_tokens, ["t0", "abc", "def"]);
    assert_eq!(loaded.plan.api.read_token_files, [tokens]);
    let ActionKind::Nsca(n) = &loaded.plan.actions["n"].kind else {
        panic!()
    };
    assert_eq!(n.password.as_deref(), Some("s3cret"));
    assert_eq!(
        (
            n.port,
            n.encryption,
            n.service.as_str(),
            n.host_name.as_deref()
        ),
        (5667, crate::config::NscaMethod::Aes256, "", None)
    );
    assert_eq!(
        errors(
            "actions: {n: {Nsca: {port: 0, password: a, password_file: /x}}}\nplugins: {a: {Command: x}}\n"
        ),
        [
            "t.yaml:1:21: actions.n.Nsca.host: is required",
            "t.yaml:1:28: actions.n.Nsca.port: must be a port number 1-65535, got 0",
            "t.yaml:1:59: actions.n.Nsca.password_file: password and password_file cannot be set together",
            "t.yaml:1:59: actions.n.Nsca.password_file: cannot read /x: No such file or directory (os error 2)",
        ]
    );
}

#[test]
fn hostile_values_cannot_escape_the_placeholder() {
    let loaded = load(
        "plugins:\n  p: {Command: 'echo %(M)s', M: \"x'; rm -rf / #\"}\n  q: {Command: 'grep -- %(M)s f', M: '-e $HOME'}\n",
    )
    .unwrap();
    assert_eq!(
        check(&loaded, "p").command,
        Command::Shell(r"echo x\'\;\ rm\ \-rf\ \/\ \#".into())
    );
    assert_eq!(
        check(&loaded, "q").command,
        Command::Shell(r"grep -- \-e\ \$HOME f".into())
    );
}

#[test]
fn boolean_looking_names_must_be_quoted() {
    assert_eq!(
        errors("templates: {Off: {}}\nplugins: {a: {Command: x}}\n"),
        [
            "t.yaml:1:13: templates: keys must be strings, not a boolean; quote names like yes/no/on/off"
        ]
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
fn users_and_groups_must_exist() {
    let loaded =
        load("plugins: {a: {Command: x, uid: root, gid: 0}, b: {Command: y, uid: 'default'}}\n")
            .unwrap();
    assert_eq!(
        check(&loaded, "a").uid,
        Some(Principal::Name("root".into()))
    );
    assert_eq!(check(&loaded, "a").gid, Some(Principal::Id(0)));
    assert_eq!(check(&loaded, "b").uid, None);
    assert_eq!(
        errors("uid: no-such-user-xyz\nplugins: {a: {Command: x, gid: no-such-group-xyz}}\n"),
        [
            "t.yaml:1:6: uid: unknown user no-such-user-xyz",
            "t.yaml:2:32: plugins.a.gid: unknown group no-such-group-xyz"
        ]
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

#[test]
fn run_as_root_and_daemon_ids() {
    let loaded = load("run_as_root: no\nplugins: {a: {Command: x}}\n").unwrap();
    assert!(!loaded.plan.run_as_root);
    assert!(
        load("plugins: {a: {Command: x}}\n")
            .unwrap()
            .plan
            .run_as_root
    );
    let loaded = load("uid: 0\ngid: 0\nplugins: {a: {Command: x}}\n").unwrap();
    assert_eq!(loaded.plan.uid, Some(Principal::Id(0)));
    assert_eq!(
        errors("uid: 0\nplugins: {a: {Command: x, uid: 1}}\n"),
        [
            "t.yaml:1:6: plugins.a: per-plugin uid/gid cannot be used when the daemon drops to a top-level uid/gid"
        ]
    );
}
