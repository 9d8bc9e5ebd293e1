//! Unit tests of the loader: plugin and template keys, parameters, typo warnings.

use std::time::Duration;

use serde_json::json;

use super::{check, errors, load};
use crate::{
    check::{Command, ExitCodes, Overlap, Schedule, State},
    config::{ActionKind, LogFormat, load::parse_size, subst},
};

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
    let keys: Vec<&str> = p.parameters.keys().collect();
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
  a: {Command: 'echo %(Comand)s', Comand: x, Intervall: 5, Categroy: y, Hostname: h, Schedule: '@daily'}
",
    )
    .unwrap();
    assert_eq!(
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
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
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["t.yaml:2:3: plugins.a: duplicate key, the one at t.yaml:3:3 wins"]
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
