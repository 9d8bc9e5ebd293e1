//! The original's Python plugins through the shim (issue 16, spec python.md §6): the
//! original's own modules, extracted at test time from `smoker-orig.tar.gz`, and our
//! small fixtures (`tests/fixtures/python/fx`), end to end through the real smokerd.

use std::{path::PathBuf, process::Command, time::Duration};

use serde_json::Value;

use crate::common::{
    TestDaemon, bin, children_of, fixtures, run_cmd, smoker_orig, temp_dir, wait_until,
};

/// Debian's python3 (not a per-user pyenv shim, which `uid: nobody` cannot run).
pub(crate) const PYTHON3: &str = "/usr/bin/python3";

/// Whether python3 is installed; the tests skip (saying so) without it.
pub(crate) fn python3() -> bool {
    let found = Command::new(PYTHON3).arg("-c").arg("pass").status();
    let ok = found.is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 is not installed (scripts/install-deps installs it)");
    }
    ok
}

/// The original smoker's tree, unpacked from its tarball into a temp dir.
pub(crate) fn original_tree() -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir();
    let tarball = smoker_orig().with_file_name("smoker-orig.tar.gz");
    let (code, _, err) = run_cmd(
        Command::new("tar")
            .args(["--no-same-permissions", "--no-same-owner"])
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(dir.path()),
    );
    assert_eq!(code, 0, "tar: {err}");
    let root = dir.path().join("smoker-orig");
    (dir, root)
}

/// `python:` with the original's package, its test resources and our fixtures on the path.
pub(crate) fn python_section(root: &std::path::Path, extra: &str) -> String {
    let resources = root.join("tests/server/smoker_test_resources");
    let ours = fixtures().join("python");
    format!(
        "python:\n  interpreter: {PYTHON3}\n  path: ['{}', '{}', '{}']\n{extra}",
        root.display(),
        resources.display(),
        ours.display()
    )
}

fn results(d: &TestDaemon, names: &[&str]) -> Vec<Value> {
    d.force(names);
    names.iter().map(|n| d.last_result(n)).collect()
}

pub(crate) fn info(r: &Value) -> Vec<String> {
    strings(&r["messages"]["info"])
}

fn errors(r: &Value) -> Vec<String> {
    strings(&r["messages"]["error"])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn component<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["componentResults"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| &i["componentResult"])
                .find(|c| c["name"] == name)
        })
        .unwrap_or_else(|| panic!("no component {name} in {r}"))
}

#[test]
fn python_original_modules_and_parsers() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let yaml = format!(
        "{}plugins:
  Uname: {{Module: smoker.server.plugins.uname, Interval: 0}}
  Shm: {{Module: smoker.server.plugins.fsmount, Mounts: [/dev/shm], Types: [tmpfs], Interval: 0}}
  NoMount: {{Module: smoker.server.plugins.fsmount, Mounts: [/nonexistent], Interval: 0}}
  NoConn: {{Module: smoker.server.plugins.testconnection, Interval: 0}}
  Gluster: {{Module: smoker.server.plugins.glusterfs, Interval: 0}}
  Mongo: {{Module: smoker.server.plugins.mongo, Interval: 0}}
  Varnish: {{Command: 'cat {{dir}}/varnish.txt', Parser: smoker.server.plugins.varnishparser, Interval: 0}}
  Garbage: {{Command: 'echo hello; echo oops >&2; exit 3', Parser: smoker.server.plugins.varnishparser, Interval: 0}}
  BadParser: {{Command: 'echo some output', Parser: InvalidParser, Interval: 0}}
  SParser: {{Command: 'echo \"GoodData Smoker\"', Parser: smokerparser, Interval: 0}}
  SModule: {{Module: smokermodule, Interval: 0}}
  NoSuch: {{Module: no.such, Interval: 0}}
",
        python_section(&root, "")
    );
    let varnish = "Backend www01 is Healthy\nCurrent states  good:  5 threshold:  3 window:  5\nAverage responsetime of good probes: 0.010631\n\
Backend www03-slow is Healthy\nCurrent states  good:  5 threshold:  3 window:  5\nAverage responsetime of good probes: 1.523\n\
Backend www04 is Sick\nCurrent states  good:  0 threshold:  3 window:  5\nAverage responsetime of good probes: 0.000000\n";
    let d = TestDaemon::start_with(&yaml, &[("varnish.txt", varnish)], &[]);
    let names = [
        "Uname",
        "Shm",
        "NoMount",
        "NoConn",
        "Gluster",
        "Mongo",
        "Varnish",
        "Garbage",
        "BadParser",
        "SParser",
        "SModule",
        "NoSuch",
    ];
    let r = results(&d, &names);
    let uname =
        String::from_utf8(Command::new("uname").arg("-snrvm").output().unwrap().stdout).unwrap();
    // 1: uname.
    assert_eq!(r[0]["status"], "OK", "{}", r[0]);
    assert_eq!(info(&r[0]), [uname.trim()]);
    assert!(r[0]["componentResults"].is_null());
    // 2: fsmount on /dev/shm.
    assert_eq!(r[1]["status"], "OK", "{}", r[1]);
    let shm = strings(&component(&r[1], "/dev/shm")["messages"]["info"]);
    assert!(
        shm.iter().any(|l| l.starts_with("Access: listed ")),
        "{shm:?}"
    );
    assert!(
        shm.iter()
            .any(|l| l.starts_with("Read/Write: written string ")),
        "{shm:?}"
    );
    assert!(
        shm.iter().any(|l| l.contains("deleted file /dev/shm/")),
        "{shm:?}"
    );
    // 4: no mounts.
    assert_eq!(r[2]["status"], "WARN", "{}", r[2]);
    assert_eq!(r[2]["state"], "WARNING");
    assert_eq!(strings(&r[2]["messages"]["warn"]), ["No mounts found"]);
    // 6: testconnection without Connections.
    assert_eq!(r[3]["status"], "ERROR", "{}", r[3]);
    assert_eq!(r[3]["state"], "UNKNOWN");
    assert_eq!(
        errors(&r[3]),
        ["Parameter Connections have to be dictionary of (host, port) tuples"]
    );
    // 7: glusterfs without the gluster CLI.
    assert_eq!(r[4]["status"], "ERROR", "{}", r[4]);
    let text = r[4].to_string();
    assert!(text.contains("Can't check peers: "), "{text}");
    assert!(text.contains("Can't check volumes: "), "{text}");
    // 8: mongo without pymongo.
    assert_eq!(errors(&r[5]), ["No module named 'pymongo'"], "{}", r[5]);
    assert_eq!(r[5]["state"], "UNKNOWN");
    // 9: varnishparser on its kind of output.
    assert_eq!(r[6]["status"], "ERROR", "{}", r[6]);
    let www01 = component(&r[6], "www01");
    assert_eq!(www01["status"], "OK");
    assert_eq!(
        strings(&www01["messages"]["info"]),
        ["Response time: 0.010631"]
    );
    let slow = component(&r[6], "www03-slow");
    assert_eq!(slow["status"], "WARN");
    assert_eq!(strings(&slow["messages"]["warn"]), ["Response time: 1.523"]);
    let sick = component(&r[6], "www04");
    assert_eq!(sick["status"], "ERROR");
    assert_eq!(strings(&sick["messages"]["error"]), ["State: Sick"]);
    // 10: varnishparser on garbage: the original's error result, the exit code kept.
    assert_eq!(info(&r[7]), ["hello"], "{}", r[7]);
    assert_eq!(
        errors(&r[7]),
        [
            "oops",
            "Parser run failed: No backends found or output can't be parsed!"
        ]
    );
    assert_eq!(r[7]["exitCode"], 3);
    // 11: a parser that does not exist.
    assert_eq!(
        errors(&r[8]),
        ["Parser run failed: No module named 'InvalidParser'"],
        "{}",
        r[8]
    );
    assert_eq!(info(&r[8]), ["some output"]);
    // 12: the original's test resources.
    assert_eq!(r[9]["status"], "OK", "{}", r[9]);
    assert_eq!(
        strings(&component(&r[9], "Unit tests")["messages"]["info"]),
        ["GoodData"]
    );
    assert_eq!(r[10]["status"], "OK", "{}", r[10]);
    assert_eq!(info(&r[10]), [uname.trim()]);
    // 20: a module that does not exist.
    assert_eq!(errors(&r[11]), ["No module named 'no'"], "{}", r[11]);
    assert_eq!(r[11]["state"], "UNKNOWN");
    // check-config lists the missing module (and the others not).
    let config = d.config.display().to_string();
    let (code, _, err) =
        run_cmd(Command::new(bin("smokerd")).args(["-c", &config, "check-config"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("plugins.NoSuch.Module: No module named 'no'"),
        "{err}"
    );
    assert!(
        err.contains("plugins.BadParser.Parser: No module named 'InvalidParser'"),
        "{err}"
    );
    assert!(!err.contains("plugins.Uname"), "{err}");
    assert!(!err.contains("writable"), "{err}");
    // A module file others can write is a warning (§3.11).
    use std::os::unix::fs::PermissionsExt;
    let uname = root.join("smoker/server/plugins/uname.py");
    std::fs::set_permissions(&uname, std::fs::Permissions::from_mode(0o664)).unwrap();
    let (code, _, err) =
        run_cmd(Command::new(bin("smokerd")).args(["-c", &config, "check-config"]));
    assert_eq!(code, 0, "{err}");
    let warning = format!(
        "plugins.Uname.Module: {} is group- or world-writable",
        uname.display()
    );
    assert!(err.contains(&warning), "{err}");
}

#[test]
fn python_bad_modules_timeouts_and_prints() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let yaml = format!(
        "{}plugins:
  Sleeper: {{Module: fx.sleeper, Timeout: 1, Interval: 0}}
  Swallow: {{Module: fx.swallow, Timeout: 1, Interval: 0}}
  Printer: {{Module: fx.printer, Interval: 0}}
  RetDict: {{Module: fx.retdict, Interval: 0}}
  RetNone: {{Module: fx.retnone, Interval: 0}}
  NoStatus: {{Module: fx.nostatus, Interval: 0}}
  Echo: {{Command: 'echo still here', Interval: 0}}
",
        python_section(&root, "  timeout_grace: 1\n")
    );
    let d = TestDaemon::start(&yaml);
    let started = std::time::Instant::now();
    let r = results(
        &d,
        &[
            "Sleeper", "Swallow", "Printer", "RetDict", "RetNone", "NoStatus", "Echo",
        ],
    );
    // 13: the soft timeout inside Python.
    assert_eq!(
        errors(&r[0]),
        ["Plugin execution exceeded timeout 1 seconds"],
        "{}",
        r[0]
    );
    assert_eq!(r[0]["state"], "UNKNOWN");
    assert!(r[0]["duration"].as_f64().unwrap() < 10.0, "{}", r[0]);
    // 14: a module that swallows the timeout is killed at Timeout + grace, children too.
    assert_eq!(r[1]["state"], "UNKNOWN", "{}", r[1]);
    assert_eq!(
        r[1]["output"],
        "Plugin execution exceeded timeout 1 seconds"
    );
    assert!(r[1]["duration"].as_f64().unwrap() < 15.0, "{}", r[1]);
    assert!(started.elapsed() < Duration::from_secs(60));
    let pid = d.pid();
    assert!(
        wait_until(Duration::from_secs(10), || children_of(pid).is_empty()),
        "left over: {:?}",
        children_of(pid)
    );
    // 17: printed text goes to the run's stderr, not into the reply.
    assert_eq!(r[2]["status"], "OK", "{}", r[2]);
    assert_eq!(info(&r[2]), ["printer done"]);
    let runs = d.get_json("/v2/plugins/Printer/runs/1/output");
    assert!(runs.to_string().contains("printed by the plugin"), "{runs}");
    // 18: a dict return is accepted; a None return means self.result.
    assert_eq!(r[3]["status"], "OK", "{}", r[3]);
    assert_eq!(info(&r[3]), ["dict result"]);
    assert_eq!(r[4]["status"], "WARN", "{}", r[4]);
    assert_eq!(strings(&r[4]["messages"]["warn"]), ["line1", "line2"]);
    // 19: no status.
    assert_eq!(
        errors(&r[5]),
        ["ValidationError: Result status has to be OK, ERROR or WARN, not None"],
        "{}",
        r[5]
    );
    assert_eq!(r[5]["state"], "UNKNOWN");
    // The daemon is unaffected.
    assert_eq!(info(&r[6]), ["still here"]);
    assert_eq!(d.get("/").status, 200);
}

#[test]
fn python_action_module_sees_the_check_result() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let yaml = format!(
        "{}actions:
  act: {{Module: fx.act}}
  slow: {{Module: fx.sleeper, Timeout: 1}}
plugins:
  Failing: {{Command: 'echo x; exit 2', Action: act, Interval: 0}}
  SlowAction: {{Command: 'echo y', Action: slow, Interval: 0, Timeout: 30}}
",
        python_section(&root, "")
    );
    let d = TestDaemon::start(&yaml);
    let r = results(&d, &["Failing", "SlowAction"]);
    // 15: the check is ERROR; the action saw it and is OK.
    assert_eq!(r[0]["status"], "ERROR", "{}", r[0]);
    let action = &r[0]["action"];
    assert_eq!(action["status"], "OK", "{action}");
    assert_eq!(info(action), ["saw Result ERROR ['result'] Failing"]);
    // The action obeys its own Timeout, not the check's.
    let action = &r[1]["action"];
    assert_eq!(
        errors(action),
        ["Plugin execution exceeded timeout 1 seconds"],
        "{action}"
    );
    assert_eq!(r[1]["status"], "OK");
}

#[test]
fn python_missing_interpreter_warns_and_commands_still_run() {
    let yaml = "python:\n  interpreter: /nonexistent/python3\n  path: ['{dir}/open']\nplugins:\n  Py: {Module: smoker.server.plugins.uname, Interval: 0}\n  Echo: {Command: 'echo fine', Interval: 0}\n";
    let d = TestDaemon::start(yaml);
    // A world-writable python.path directory is a warning too.
    let open = d.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    // 16: check-config warns with FILE:LINE:COL and exits 0.
    let config = d.config.display().to_string();
    let (code, _, err) =
        run_cmd(Command::new(bin("smokerd")).args(["-c", &config, "check-config"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "{config}:8:16: warning: plugins.Py.Module: Python interpreter '/nonexistent/python3' not found"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "python.path: {} is group- or world-writable",
            open.display()
        )),
        "{err}"
    );
    let r = results(&d, &["Py", "Echo"]);
    assert_eq!(r[0]["state"], "UNKNOWN", "{}", r[0]);
    let output = r[0]["output"].as_str().unwrap();
    assert!(
        output.starts_with("Can't execute Python interpreter /nonexistent/python3: "),
        "{output}"
    );
    assert_eq!(info(&r[1]), ["fine"]);
}

#[test]
fn python_password_stays_off_argv_and_env_and_uid_is_dropped() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let root_user = nix::unistd::geteuid().is_root();
    let nobody = if root_user { "    uid: nobody\n" } else { "" };
    let yaml = format!(
        "{}plugins:
  Secret:
    Module: fx.secret
    Password: s3cr3t-Pa55
    Interval: 0
{nobody}  RootFs:
    Module: smoker.server.plugins.fsmount
    Mounts: [/]
    Types: []
    Interval: 0
{nobody}",
        python_section(&root, "")
    );
    let d = TestDaemon::start(&yaml);
    let r = results(&d, &["Secret", "RootFs"]);
    // 21: the Password reaches get_param, not /proc/PID/cmdline nor environ.
    let lines = info(&r[0]);
    assert!(lines.len() >= 4, "{}", r[0]);
    assert_eq!(
        lines[..3],
        ["password received", "in cmdline False", "in environ False"],
        "{}",
        r[0]
    );
    if !root_user {
        eprintln!("uid: nobody not checked: the tests do not run as root");
        return;
    }
    // A check with uid: nobody runs as nobody: real, effective and saved ids.
    let id = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
    assert_eq!(lines[3], format!("uids {id} {id} {id}"));
    // 3: fsmount on / as nobody cannot write there.
    assert_eq!(r[1]["status"], "ERROR", "{}", r[1]);
    let errs = strings(&component(&r[1], "/")["messages"]["error"]);
    assert!(
        errs.iter().any(|e| e
            .starts_with("Read/Write: file write failed: [Errno 13] Permission denied: '/")
            && e.ends_with("-smoker.tmp'")),
        "{errs:?}"
    );
}

/// The original smokerd on `config`, in its own process group, stopped on drop.
pub(crate) struct OrigDaemon {
    child: std::process::Child,
    port: u16,
}

impl OrigDaemon {
    fn start(dir: &std::path::Path, config: &str) -> OrigDaemon {
        Self::start_on(dir, config, crate::common::free_port())
    }

    pub(crate) fn start_on(dir: &std::path::Path, config: &str, port: u16) -> OrigDaemon {
        use std::os::unix::process::CommandExt;
        let path = dir.join("orig.yaml");
        std::fs::write(
            &path,
            format!("bind_host: 127.0.0.1\nbind_port: {port}\n{config}"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("orig.log")).unwrap();
        let child = Command::new(smoker_orig())
            .arg("daemon")
            .arg("-c")
            .arg(&path)
            .args(["-fg", "--no-syslog", "-p"])
            .arg(dir.join("orig.pid"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let daemon = OrigDaemon { child, port };
        let up = wait_until(Duration::from_secs(300), || {
            crate::common::http(port, "GET", "/", None).is_ok_and(|r| r.status == 200)
        });
        assert!(up, "original smokerd did not come up");
        daemon
    }

    /// Forces `names` and waits for each one's `lastResult`.
    fn results(&self, names: &[&str]) -> Vec<Value> {
        let body = serde_json::json!({"process": {"plugins": names}}).to_string();
        let r = crate::common::http(self.port, "POST", "/processes", Some(&body)).unwrap();
        assert!(r.status < 300, "{}", r.body);
        names
            .iter()
            .map(|name| {
                let mut last = Value::Null;
                let done = wait_until(Duration::from_secs(60), || {
                    let path = format!("/plugins/{name}");
                    let r = crate::common::http(self.port, "GET", &path, None);
                    last = r
                        .map(|r| r.json()["plugin"]["lastResult"].clone())
                        .unwrap_or_default();
                    !last.is_null()
                });
                assert!(done, "the original did not run {name}");
                last
            })
            .collect()
    }
}

impl Drop for OrigDaemon {
    fn drop(&mut self) {
        use nix::{
            sys::signal::{Signal, killpg},
            unistd::Pid,
        };
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let _ = wait_until(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A result without `lastRun`, our additive fields, and with digits as `N` (fsmount's
/// random file names and counts).
fn comparable(result: &Value) -> String {
    let mut result = result.clone();
    if let Value::Object(map) = &mut result {
        for key in [
            "lastRun",
            "state",
            "output",
            "longOutput",
            "perfdata",
            "exitCode",
            "signal",
            "duration",
            "truncated",
            "catchUp",
        ] {
            map.remove(key);
        }
    }
    digits_as_n(&result.to_string())
}

/// Each run of digits as one `N`.
fn digits_as_n(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

#[test]
fn python_results_equal_the_original_daemons() {
    if !python3() {
        return;
    }
    let (tree, root) = original_tree();
    let plugins = "templates:\n  BasePlugin: {Interval: 0, Timeout: 30}\nplugins:
  Uname: {Module: smoker.server.plugins.uname}
  Shm: {Module: smoker.server.plugins.fsmount, Mounts: [/dev/shm], Types: [tmpfs]}
  Varnish: {Command: 'printf \"Backend www01 is Healthy\\nx\\nAverage responsetime of good probes: 0.010631\\nBackend www04 is Sick\\nx\\nAverage responsetime of good probes: 0.0\\n\"', Parser: smoker.server.plugins.varnishparser}
  Garbage: {Command: 'echo hello; echo oops >&2; exit 3', Parser: smoker.server.plugins.varnishparser}
  BadParser: {Command: 'echo some output', Parser: InvalidParser}
  SModule: {Module: tests.server.smoker_test_resources.smokermodule}
  SParser: {Command: 'echo \"GoodData Smoker\"', Parser: tests.server.smoker_test_resources.smokerparser}
";
    let names = [
        "Uname",
        "Shm",
        "Varnish",
        "Garbage",
        "BadParser",
        "SModule",
        "SParser",
    ];
    let original = OrigDaemon::start(tree.path(), plugins);
    let theirs = original.results(&names);
    let d = TestDaemon::start(&format!("{}{plugins}", python_section(&root, "")));
    let ours = results(&d, &names);
    for ((name, ours), theirs) in names.iter().zip(&ours).zip(&theirs) {
        assert_eq!(comparable(ours), comparable(theirs), "{name}");
    }
    // The original client shows them as it shows the original daemon's.
    let show = |port: u16| {
        let host = format!("127.0.0.1:{port}");
        let (code, out, err) = run_cmd(Command::new(smoker_orig()).args([
            "cli",
            "-s",
            &host,
            "--no-colors",
            "--no-progress",
            "-o",
            "long",
            "-p",
            "Uname",
            "Varnish",
            "Garbage",
            "BadParser",
            "SModule",
            "SParser",
        ]));
        assert!(code == 0 || code == 69, "{err}");
        out.lines()
            .filter(|l| {
                !l.contains("Last run") && !l.contains("Next run") && !l.contains("lastRun")
            })
            .map(|l| {
                l.chars()
                    .map(|c| if c.is_ascii_digit() { 'N' } else { c })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let shown = show(d.port);
    assert!(
        shown.contains("Garbage") && shown.contains("Unit tests"),
        "{shown}"
    );
    assert_eq!(shown, show(original.port));
}

#[test]
fn python_run_is_killed_by_overlap_kill_with_its_children() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let yaml = format!(
        "{}plugins:\n  Slow: {{Module: fx.swallow, Interval: 2, Timeout: 60, Overlap: kill}}\n",
        python_section(&root, "")
    );
    let d = TestDaemon::start(&yaml);
    let mut last = Value::Null;
    let killed = wait_until(Duration::from_secs(60), || {
        last = d.last_result("Slow");
        last["output"] == "killed: the next run was due (Overlap: kill)"
    });
    assert!(killed, "{last}");
    assert_eq!(last["state"], "UNKNOWN");
}

#[test]
fn python_testconnection_reports_a_closed_port() {
    if !python3() {
        return;
    }
    let (_tree, root) = original_tree();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed_port = crate::common::free_port();
    let yaml = format!(
        "{}plugins:
  Mixed: {{Module: smoker.server.plugins.testconnection, Timeout: 2, Interval: 0, Connections: [[127.0.0.1, {open_port}], [127.0.0.1, {closed_port}]]}}
  AllOpen: {{Module: smoker.server.plugins.testconnection, Timeout: 2, Interval: 0, Connections: [[127.0.0.1, {open_port}]]}}
",
        python_section(&root, "")
    );
    let d = TestDaemon::start(&yaml);
    let r = results(&d, &["Mixed", "AllOpen"]);
    // 5: the closed port is the component's error; all open is OK.
    assert_eq!(r[0]["status"], "ERROR", "{}", r[0]);
    assert_eq!(
        strings(&component(&r[0], "Connection")["messages"]["error"]),
        [format!(
            "Host: 127.0.0.1, port: {closed_port}, Socket error: [Errno 111] Connection refused"
        )]
    );
    assert_eq!(r[1]["status"], "OK", "{}", r[1]);
    assert_eq!(component(&r[1], "Connection")["status"], "OK");
}

#[test]
fn python_settings_follow_a_reload() {
    if !python3() {
        return;
    }
    let plugins = "plugins:\n  Printer: {Module: fx.printer, Interval: 0}\n";
    let without = format!("python: {{interpreter: {PYTHON3}}}\n{plugins}");
    let mut d = TestDaemon::start(&without);
    let r = results(&d, &["Printer"]);
    assert_eq!(errors(&r[0]), ["No module named 'fx'"], "{}", r[0]);
    // The fixtures' directory on python.path, then SIGHUP: the module loads.
    let text = std::fs::read_to_string(&d.config).unwrap().replace(
        &without,
        &format!(
            "python: {{interpreter: {PYTHON3}, path: ['{}']}}\n{plugins}",
            fixtures().join("python").display()
        ),
    );
    std::fs::write(&d.config, text).unwrap();
    d.signal("HUP");
    let mut last = Value::Null;
    let reloaded = wait_until(Duration::from_secs(60), || {
        last = results(&d, &["Printer"]).remove(0);
        last["status"] == "OK"
    });
    assert!(reloaded, "{last}\n{}", d.stderr());
    assert_eq!(info(&last), ["printer done"]);
    d.stop();
}
