//! Unit tests of the loader: the settings sections (`nrpe`, `api`, `Nsca`, `python`) and user and group keys.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{check, errors, load};
use crate::{
    check::{Command, Principal},
    config::{
        ActionKind, NrpeTls,
        load::summary,
        load::{ctx::Ctx, nrpe_section::read_nrpe},
        yaml,
    },
};

#[test]
fn nrpe_section_accepts_on_off_auto_and_booleans() {
    // The section's parsing alone (the bridge that reads nrpe.cfg comes after).
    let section = |text: &str| {
        let node = yaml::parse_str("t.yaml", text, Path::new(".")).unwrap();
        let mut ctx = Ctx::default();
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
    assert!(!nrpe.builtins);
    assert!(section("nrpe: {builtins: yes}\n").0.unwrap().builtins);
    assert_eq!(
        section("nrpe: {builtins: sometimes}\n").1.len(),
        1,
        "a non-boolean is an error"
    );
    assert_eq!(
        section("nrpe: {listen: nowhere, tls: sometimes, port: 1}\n").1,
        [
            "t.yaml:1:41: nrpe.port: unknown key (allowed: config, listen, tls, interval, builtins)",
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

#[test]
fn python_section_is_strict_and_reaches_every_python_check() {
    assert_eq!(
        errors(
            "python: {interpreter: /usr/bin/python3, max_concurent: 2}\nplugins:\n  a: {Command: x}\n"
        ),
        [
            "t.yaml:1:41: python.max_concurent: unknown key (allowed: interpreter, path, max_concurrent, max_memory, timeout_grace, shim_dir); did you mean max_concurrent?"
        ]
    );
    let text = "python:\n  interpreter: /nonexistent/py\n  path: [lib]\n  max_concurrent: 2\n  max_memory: 64MiB\n  timeout_grace: 1.5\n\
actions:\n  act: {Module: my.act, Timeout: 7}\n\
plugins:\n  m: {Module: my.mod}\n  p: {Command: x, Parser: my.parser}\n  a: {Command: x, Action: act}\n  c: {Command: x}\n";
    let loaded = load(text).unwrap();
    assert_eq!(
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "t.yaml:10:15: plugins.m.Module: Python interpreter '/nonexistent/py' not found (python.interpreter); runs will be UNKNOWN"
        ]
    );
    let m = check(&loaded, "m");
    assert_eq!(
        m.command,
        Command::Python {
            module: "my.mod".into()
        }
    );
    let settings = &m.python.as_ref().unwrap().settings;
    assert_eq!(settings.path, [Path::new("lib")]);
    assert_eq!(settings.max_concurrent, 2);
    assert_eq!(settings.max_memory, 64 << 20);
    assert_eq!(settings.timeout_grace, Duration::from_millis(1500));
    let p = check(&loaded, "p");
    assert_eq!(
        p.python.as_ref().unwrap().parser.as_deref(),
        Some("my.parser")
    );
    assert!(
        check(&loaded, "a").python.is_some(),
        "a Module action needs the settings"
    );
    assert!(check(&loaded, "c").python.is_none());
    let ActionKind::Module { module, timeout } = &loaded.plan.actions["act"].kind else {
        panic!("not a Module action")
    };
    assert_eq!((module.as_str(), timeout.as_secs()), ("my.act", 7));
}
