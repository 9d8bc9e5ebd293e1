//! `smokercli` and `check_smoker` against real daemons: the ORIGINAL Python smokerd
//! (`shared/peers/smoker-orig`), hosts that are down, hosts that answer garbage and hosts
//! that never answer. Every option and format is driven through the real binaries.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt,
    process::{Child, Command, Output, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use serde_json::Value;

pub fn smokercli() -> &'static str {
    env!("CARGO_BIN_EXE_smokercli")
}

pub fn check_smoker() -> &'static str {
    env!("CARGO_BIN_EXE_check_smoker")
}

pub use crate::common::{free_port, smoker_orig};

/// Run a command with a deadline; panics when it does not finish in time.
pub fn run_with(mut command: Command, deadline: Duration) -> Output {
    command.stdin(Stdio::null());
    let description = format!("{command:?}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(command.output());
    });
    match rx.recv_timeout(deadline) {
        Ok(output) => output.unwrap(),
        Err(_) => panic!("{description} did not finish within {deadline:?}"),
    }
}

/// Our client with a clean environment (no user config, no colour or token variables).
pub struct Client {
    home: tempfile::TempDir,
}

impl Client {
    pub fn new() -> Client {
        Client {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config(&self, yaml: &str) {
        std::fs::write(self.home.path().join(".smokercli.yaml"), yaml).unwrap();
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("NO_COLOR")
            .env_remove("SMOKER_TOKEN")
            .env_remove("SMOKERCLI_CONFIG");
        command
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        run_with(self.command(smokercli(), args), Duration::from_secs(60))
    }

    pub fn check(&self, args: &[&str]) -> Output {
        run_with(self.command(check_smoker(), args), Duration::from_secs(60))
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `YYYY-MM-DD HH:MM:SS` → `TIME`, so outputs can be compared exactly.
pub fn mask_times(text: &str) -> String {
    let pattern = "dddd-dd-dd dd:dd:dd";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let fits = i + pattern.len() <= chars.len()
            && pattern.chars().zip(&chars[i..]).all(|(p, c)| {
                if p == 'd' {
                    c.is_ascii_digit()
                } else {
                    p == *c
                }
            });
        if fits {
            out.push_str("TIME");
            i += pattern.len();
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Plain HTTP GET with a deadline (readiness probes).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1").then_some(response)
}

/// The machine's host name, which the original daemon reports as `about.host`.
pub fn hostname() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}

/// A JSON smoker plugin with two components, as in smoker-compat.md §2.2.
const DISK_JSON: &str = r#"{"status": "WARN", "messages": {"info": [], "warn": ["disk 85%"], "error": []}, "componentResults": {"sda": {"status": "WARN", "messages": {"info": ["i"], "warn": ["w"], "error": []}}, "sdb": {"status": "OK", "messages": {"info": ["fine"], "warn": [], "error": []}}}}"#;

/// The original Python smokerd in the foreground, its process group killed on drop.
pub struct OrigDaemon {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl OrigDaemon {
    /// Plugins: `uptime` (OK, health), `fail` (ERROR, smoke, locked), `json` (WARN with
    /// components, smoke), `never` (never run).
    pub fn start() -> OrigDaemon {
        static WARM: std::sync::Once = std::sync::Once::new();
        WARM.call_once(|| {
            let mut warm = Command::new(smoker_orig());
            warm.args(["cli", "--help"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            run_with(warm, Duration::from_secs(300));
        });
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk.sh");
        std::fs::write(&disk, format!("#!/bin/sh\necho '{DISK_JSON}'\n")).unwrap();
        std::fs::set_permissions(&disk, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let port = free_port();
        let config = format!(
            "bind_host: 127.0.0.1\nbind_port: {port}\ntemplates:\n  BasePlugin: {{Interval: 0, Timeout: 30, History: 3}}\n\
             plugins:\n\
             \x20 uptime: {{Category: system, Command: 'echo up 5 days', Type: healthCheck, Component: os}}\n\
             \x20 fail: {{Category: demo, Command: 'echo out; echo err >&2; exit 2', Type: smokeTest, RunOnLocked: true}}\n\
             \x20 json: {{Category: demo, Type: smokeTest, Command: {}, Num: 5}}\n\
             \x20 never: {{Category: demo, Command: 'true'}}\n",
            disk.display()
        );
        let config_path = dir.path().join("smokerd.yaml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let child = Command::new(smoker_orig())
            .arg("daemon")
            .arg("-c")
            .arg(&config_path)
            .args(["-fg", "--no-syslog", "-p"])
            .arg(dir.path().join("smokerd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let daemon = OrigDaemon {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(port, "/").is_none() {
            assert!(
                Instant::now() < deadline,
                "original smokerd did not come up on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Run `uptime`, `fail` and `json` once (through our client's `-f`).
    pub fn run_checks(&self, client: &Client) {
        let output = client.cli(&[
            "-s",
            &self.target(),
            "-f",
            "-p",
            "uptime",
            "fail",
            "json",
            "-o",
            "json",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
}

impl Drop for OrigDaemon {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A TCP server that answers every connection with `reply` (or never, with `None`), on a
/// thread that ends with the value.
pub struct FakeHost {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl FakeHost {
    pub fn start(reply: Option<&'static str>) -> FakeHost {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        let mut buffer = [0u8; 4096];
                        let _ = stream.read(&mut buffer);
                        match reply {
                            Some(reply) => {
                                let _ = stream.write_all(reply.as_bytes());
                            }
                            None => held.push(stream),
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeHost { port, stop }
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const GARBAGE: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\nthis is not json!";
const NOT_HTTP: &str = "SSH-2.0-OpenSSH_9.2\r\nProtocol mismatch.\r\n";

fn parse_xml(text: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut elements = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e)) => {
                elements.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                for attribute in e.attributes() {
                    attribute.expect("valid attribute");
                }
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(error) => panic!("invalid XML: {error}\n{text}"),
        }
    }
    elements
}

fn prove(tap: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smoker.tap");
    std::fs::write(&file, tap).unwrap();
    let mut command = Command::new("prove");
    command.args(["-e", "cat"]).arg(&file);
    run_with(command, Duration::from_secs(30))
}

#[test]
fn formats_against_the_original_daemon() {
    let daemon = OrigDaemon::start();
    let client = Client::new();
    daemon.run_checks(&client);
    let target = daemon.target();
    let host = hostname();

    let normal = client.cli(&["-s", &target]);
    assert_eq!(normal.status.code(), Some(0), "{}", stderr(&normal));
    let expected = format!(
        "{host:<34} [ERROR]\n\
         - fail                             [ERROR] (TIME)\n\
         \x20 [error] err\n\
         - json                             [WARN] (TIME)\n\
         \x20 [warn] disk 85%\n\
         \x20-- sda                            [WARN]\n\
         \x20   [warn] w\n\
         - never                            [UNKNOWN] (None)\n\
         - uptime                           [OK] (TIME)\n"
    );
    assert_eq!(mask_times(&stdout(&normal)), expected);
    assert!(!stdout(&normal).contains('\x1b'), "no colours when piped");

    let minimal = client.cli(&["-s", &target, "-o", "minimal"]);
    let expected = format!(
        "{host:<34} [ERROR]\n\
         - fail                             [ERROR] (TIME)\n\
         - json                             [WARN] (TIME)\n\
         \x20-- sda                            [WARN]\n\
         - never                            [UNKNOWN]\n"
    );
    assert_eq!(mask_times(&stdout(&minimal)), expected);

    let long = client.cli(&["-s", &target, "-o", "long"]);
    let long_text = mask_times(&stdout(&long));
    assert!(
        long_text.contains(
            "- fail                             [ERROR] (TIME)\n  [info] out\n  [error] err\n"
        ),
        "{long_text}"
    );
    assert!(
        long_text.contains(" -- sdb                            [OK]\n    [info] fine\n"),
        "{long_text}"
    );
    assert!(
        long_text.ends_with("- uptime                           [OK] (TIME)\n  [info] up 5 days\n"),
        "{long_text}"
    );

    let full = mask_times(&stdout(
        &client.cli(&["-s", &target, "-o", "full", "-p", "json"]),
    ));
    assert!(full.starts_with(&format!(
        "{host:<34} [WARN]\n- json                             [WARN] (TIME)\n  Last run: TIME\n  Next run: None\n  Command    "
    )));
    assert!(full.contains("\n  Module     None\n  Parser     None\n  Interval   0\n  Timeout    30\n  History    3\n  uid        default\n"), "{full}");
    assert!(
        full.contains("\n  Type       smokeTest\n  Num        5\n  [warn] disk 85%\n"),
        "{full}"
    );

    // json parses and keeps the original's shape
    let json: Value =
        serde_json::from_slice(&client.cli(&["-s", &target, "-o", "json"]).stdout).unwrap();
    assert_eq!(json[&host]["status"], "ERROR");
    assert_eq!(
        json[&host]["plugins"]["fail"]["lastResult"]["status"],
        "ERROR"
    );
    assert_eq!(
        json[&host]["plugins"]["never"]["lastResult"]["status"],
        "UNKNOWN"
    );
    assert_eq!(json[&host]["plugins"]["json"]["parameters"]["Num"], 5);
    let last_run = json[&host]["plugins"]["uptime"]["lastResult"]["lastRun"]
        .as_str()
        .unwrap();
    assert_eq!(last_run.len(), 19, "µs dropped: {last_run}");
    let raw: Value =
        serde_json::from_slice(&client.cli(&["-s", &target, "-o", "raw"]).stdout).unwrap();
    assert_eq!(raw, json);

    // tap: prove parses it; not ok because fail/never
    let tap = stdout(&client.cli(&["-s", &target, "-o", "tap"]));
    assert!(
        tap.starts_with(&format!(
            "TAP version 13\n1..1\nnot ok 1 - {host}\n\t1..4\n\tnot ok 1 - fail\n"
        )),
        "{tap}"
    );
    let proved = prove(&tap);
    assert!(
        !stdout(&proved).contains("Parse errors"),
        "{}",
        stdout(&proved)
    );
    assert!(
        stdout(&proved).contains("Failed 1/1"),
        "{}",
        stdout(&proved)
    );
    let tap_ok = stdout(&client.cli(&["-s", &target, "-o", "tap", "-p", "uptime", "json"]));
    let proved = prove(&tap_ok);
    assert_eq!(proved.status.code(), Some(0), "{}{tap_ok}", stdout(&proved));

    // xml: the original's layout, well-formed
    let xml = stdout(&client.cli(&["-s", &target, "-o", "xml"]));
    assert!(xml.starts_with(&format!(
        "\n  <testsuites name=\"All\">\n    <testsuite hostname=\"{host}\" name=\"node {host}\" timestamp=\""
    )));
    assert!(xml.contains(&format!("\n      <testcase classname=\"{host}.fail\" name=\"fail\">\n        <error message=\"err\"></error></testcase>")));
    assert!(xml.contains(&format!(
        "<testcase classname=\"{host}.json\" name=\"sda\" status=\"WARN\">"
    )));
    assert!(!xml.contains("never"), "UNKNOWN plugins are left out");
    assert_eq!(
        parse_xml(&xml).iter().filter(|e| *e == "testcase").count(),
        5
    );

    // junit: standard, parseable, counts
    let junit = stdout(&client.cli(&["-s", &target, "-o", "junit"]));
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"smoker\" tests=\"6\" failures=\"2\" errors=\"0\">"), "{junit}");
    let elements = parse_xml(&junit);
    assert_eq!(elements.iter().filter(|e| *e == "failure").count(), 2);
    assert_eq!(elements.iter().filter(|e| *e == "testcase").count(), 6);

    // nagios: a summary line, one line per check, worst state as exit code
    let nagios = client.cli(&["-s", &target, "-o", "nagios"]);
    assert_eq!(
        mask_times(&stdout(&nagios)),
        "CRITICAL: 4 checks on 1 host: 1 CRITICAL (fail), 1 UNKNOWN (never), 1 WARNING (json), 1 OK\n\
         CRITICAL fail: err\nUNKNOWN never: never has no result yet\nWARNING json: disk 85%\n\
         OK uptime: smoke test uptime succeeded at TIME\n"
    );
    assert_eq!(nagios.status.code(), Some(2));
    let nagios = client.cli(&["-s", &target, "-o", "nagios", "--ok"]);
    assert_eq!(
        (mask_times(&stdout(&nagios)).as_str(), nagios.status.code()),
        (
            "OK: 1 checks on 1 host: 1 OK\nOK uptime: smoke test uptime succeeded at TIME\n",
            Some(0)
        )
    );

    // bad format
    let bad = client.cli(&["-s", &target, "-o", "pretty"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr(&bad), "ERROR: Invalid pretty output pretty\n");
}

fn listed(client: &Client, args: &[&str]) -> Vec<String> {
    let output = client.cli(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        stderr(&output)
    );
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn selection_options_against_the_original_daemon() {
    let daemon = OrigDaemon::start();
    let client = Client::new();
    daemon.run_checks(&client);
    let t = daemon.target();
    let t = t.as_str();
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["fail", "json", "never", "uptime"]),
        (&["-p", "json", "uptime", "nope"], &["json", "uptime"]),
        (&["--exclude-plugins", "json", "never"], &["fail", "uptime"]),
        (&["--filter", "Category demo"], &["fail", "json", "never"]),
        (
            &["--filter", "Category demo", "Type smokeTest"],
            &["fail", "json"],
        ),
        (&["--filter", "Num 5"], &[]),
        (&["--category", "system"], &["uptime"]),
        (&["--component", "os"], &["uptime"]),
        (&["--health"], &["uptime"]),
        (&["--smoke"], &["fail", "json"]),
        (&["--locked"], &["fail"]),
        (&["--nook"], &["fail", "json", "never"]),
        (&["--error"], &["fail"]),
        (&["--warn"], &["json"]),
        (&["--warning", "--ok"], &["json", "uptime"]),
        (&["--unknown"], &["never"]),
        (
            &["--filter-status", "OK", "ERROR", "--warn"],
            &["fail", "uptime"],
        ),
        (&["--exclude", "--category", "demo"], &["uptime"]),
        (&["--exclude", "--error"], &["json", "never", "uptime"]),
        (&["--exclude", "-p", "fail", "json"], &["never", "uptime"]),
        (&["--category", "demo", "-p", "json", "uptime"], &["json"]),
    ];
    for (args, expected) in cases {
        let mut full = vec!["-s", t, "-l"];
        full.extend_from_slice(args);
        if expected.is_empty() {
            let output = client.cli(&full);
            assert_eq!(output.status.code(), Some(1), "{args:?}");
            assert_eq!(stderr(&output), "ERROR: No plugins found\n", "{args:?}");
        } else {
            assert_eq!(listed(&client, &full), *expected, "{args:?}");
        }
    }

    // -l with more than one host: host/plugin; two targets reporting one name stay apart (D9)
    let host = hostname();
    let other = format!("localhost:{}", daemon.port);
    let both = listed(&client, &["-s", t, &other, "-l", "-p", "uptime"]);
    assert_eq!(
        both,
        [
            format!("{host}[{t}]/uptime"),
            format!("{host}[{other}]/uptime")
        ]
    );
    let json: Value = serde_json::from_slice(
        &client
            .cli(&["-s", t, &other, "-o", "json", "-p", "fail"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json.as_object().unwrap().len(), 2);
    assert_eq!(json[format!("{host}[{other}]")]["status"], "ERROR");

    // -e: 69 when a host is ERROR (or UNKNOWN), 0 otherwise; -f with filters re-runs the selection
    assert_eq!(client.cli(&["-s", t, "-e"]).status.code(), Some(69));
    assert_eq!(
        client.cli(&["-s", t, "-e", "-p", "never"]).status.code(),
        Some(69)
    );
    assert_eq!(
        client
            .cli(&["-s", t, "-e", "-p", "uptime", "json"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(client.cli(&["-s", t, "-p", "fail"]).status.code(), Some(0));
    let forced = client.cli(&["-s", t, "-f", "--error", "-o", "json", "--no-progress"]);
    let json: Value = serde_json::from_slice(&forced.stdout).unwrap();
    let plugins = json[&host]["plugins"].as_object().unwrap();
    assert_eq!(plugins.keys().collect::<Vec<_>>(), ["fail"]);
    assert_eq!(plugins["fail"]["forcedResult"]["status"], "ERROR");
    assert!(
        !stdout(&forced).contains('\r'),
        "no progress bar when piped"
    );

    // option errors
    let bad_filter = client.cli(&["-s", t, "--filter", "Category"]);
    assert_eq!(
        (bad_filter.status.code(), stderr(&bad_filter)),
        (Some(1), "ERROR: Invalid filter parameter format!\n".into())
    );
    assert_eq!(
        client.cli(&["-s", t, "--no-such-option"]).status.code(),
        Some(2)
    );
    assert_eq!(client.cli(&["--help"]).status.code(), Some(0));

    // config file: hosts and the default port
    client.config(&format!(
        "plugin_paths:\n  - smoker.client.plugins\nbind_port: {}\nhosts: [127.0.0.1]\n",
        daemon.port
    ));
    assert_eq!(listed(&client, &["-l", "--health"]), ["uptime"]);

    // history/output need our daemon's /v2 routes: the original answers 404, reported per host
    let history = client.cli(&["history", "uptime", "-s", t]);
    assert_eq!(history.status.code(), Some(1));
    assert!(
        stderr(&history).contains("HTTP 404"),
        "{}",
        stderr(&history)
    );
}

#[test]
fn broken_hosts_are_reported_not_fatal() {
    let daemon = OrigDaemon::start();
    let client = Client::new();
    daemon.run_checks(&client);
    let garbage = FakeHost::start(Some(GARBAGE));
    let not_http = FakeHost::start(Some(NOT_HTTP));
    let down = format!("127.0.0.1:{}", free_port());
    let good = daemon.target();
    let host = hostname();

    let output = client.cli(&[
        "-s",
        &good,
        &garbage.target(),
        &not_http.target(),
        &down,
        "-o",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json[&host]["status"], "ERROR");
    for bad in [garbage.target(), not_http.target(), down.clone()] {
        assert_eq!(json[&bad]["status"], "UNKNOWN", "{bad}");
        assert!(
            json[&bad]["error"].as_str().unwrap().contains(&bad),
            "{bad}: {}",
            json[&bad]
        );
        assert!(
            stderr(&output).contains(&format!("ERROR: Host {bad}: ")),
            "{}",
            stderr(&output)
        );
    }
    assert!(
        json[garbage.target()]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer JSON")
    );

    // text: the broken host is a host line with its reason; -e fails the run
    let output = client.cli(&["-s", &good, &down, "-o", "minimal", "-e", "-p", "uptime"]);
    assert_eq!(output.status.code(), Some(69));
    assert_eq!(
        mask_times(&stdout(&output)),
        format!(
            "{down:<34} [UNKNOWN]\n  [error] can't open http://{down}/: Connection refused (os error 111)\n \n{host:<34} [OK]\n"
        )
    );
    // junit and tap carry the broken host too, and stay valid
    let junit = stdout(&client.cli(&["-s", &good, &down, "-o", "junit"]));
    assert_eq!(
        parse_xml(&junit).iter().filter(|e| *e == "error").count(),
        1
    );
    let tap = stdout(&client.cli(&["-s", &good, &down, "-o", "tap", "-p", "uptime"]));
    let proved = prove(&tap);
    assert!(
        stdout(&proved).contains("Failed 1/2"),
        "{}",
        stdout(&proved)
    );

    // only broken hosts: nothing to show
    let output = client.cli(&["-s", &down, &garbage.target()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with("ERROR: No plugins found\n"),
        "{}",
        stderr(&output)
    );

    // a host that accepts and never answers costs the 5 s about timeout, not a hang
    let silent = FakeHost::start(None);
    let started = Instant::now();
    let output = client.cli(&[
        "-s",
        &good,
        &silent.target(),
        "-p",
        "uptime",
        "-f",
        "-o",
        "json",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json[silent.target()]["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{json}"
    );
    assert_eq!(
        json[&host]["plugins"]["uptime"]["forcedResult"]["status"],
        "OK"
    );
}

#[test]
fn check_smoker_against_the_original_daemon() {
    let daemon = OrigDaemon::start();
    let client = Client::new();
    daemon.run_checks(&client);
    let h = daemon.target();
    let h = h.as_str();

    let single = client.check(&["-H", h, "uptime"]);
    assert_eq!(
        (mask_times(&stdout(&single)).as_str(), single.status.code()),
        ("OK: smoke test uptime succeeded at TIME\n", Some(0))
    );
    let warn = client.check(&["-H", h, "json"]);
    assert_eq!(
        (stdout(&warn).as_str(), warn.status.code()),
        ("WARNING: disk 85%\n", Some(1))
    );
    let never = client.check(&["-H", h, "never"]);
    assert_eq!(
        (stdout(&never).as_str(), never.status.code()),
        ("UNKNOWN: never has no result yet\n", Some(3))
    );

    let several = client.check(&["-H", h, "--category", "demo"]);
    assert_eq!(
        stdout(&several),
        "CRITICAL: 3 checks on 1 host: 1 CRITICAL (fail), 1 UNKNOWN (never), 1 WARNING (json)\n\
         CRITICAL fail: err\nUNKNOWN never: never has no result yet\nWARNING json: disk 85%\n"
    );
    assert_eq!(several.status.code(), Some(2));
    let health = client.check(&["-H", h, "--health"]);
    assert_eq!(
        mask_times(&stdout(&health)),
        "OK: smoke test uptime succeeded at TIME\n"
    );
    let both = client.check(&["-H", h, "--category", "demo", "--component", "os"]);
    assert_eq!(
        (stdout(&both).as_str(), both.status.code()),
        (
            "UNKNOWN: no plugin found with category demo and component os\n",
            Some(3)
        )
    );
    let missing = client.check(&["-H", h, "nope"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stdout(&missing).starts_with("UNKNOWN: plugin not found on ")
            && stdout(&missing).ends_with(": nope\n"),
        "{}",
        stdout(&missing)
    );
    let nothing = client.check(&["-H", h]);
    assert_eq!(
        stdout(&nothing),
        "UNKNOWN: invalid startup configuration - neither plugin nor --category nor --component nor --health specified\n"
    );
    assert_eq!(nothing.status.code(), Some(3));

    // -f forces the run first: `never` now has a result
    let forced = client.check(&["-H", h, "-f", "never", "uptime"]);
    let text = mask_times(&stdout(&forced));
    assert_eq!(
        text,
        "OK: 2 checks on 1 host: 2 OK\nOK never: smoke test never succeeded at TIME\nOK uptime: smoke test uptime succeeded at TIME\n"
    );
    assert_eq!(forced.status.code(), Some(0));

    // unreachable, garbage, silent: UNKNOWN with the reason, within -t
    let down = format!("127.0.0.1:{}", free_port());
    let output = client.check(&["-H", &down, "uptime"]);
    assert_eq!(
        (stdout(&output), output.status.code()),
        (
            format!("UNKNOWN: can't open http://{down}/: Connection refused (os error 111)\n"),
            Some(3)
        )
    );
    let garbage = FakeHost::start(Some(GARBAGE));
    let output = client.check(&["-H", &garbage.target(), "uptime"]);
    assert!(stdout(&output).starts_with(&format!(
        "UNKNOWN: http://{}/ did not answer JSON",
        garbage.target()
    )));
    assert_eq!(output.status.code(), Some(3));
    let silent = FakeHost::start(None);
    let started = Instant::now();
    let output = client.check(&["-H", &silent.target(), "-t", "1", "uptime"]);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (stdout(&output), output.status.code()),
        (
            format!(
                "UNKNOWN: timeout after 1 seconds asking smokerd at {}\n",
                silent.target()
            ),
            Some(3)
        )
    );
    // usage errors are UNKNOWN for Nagios, on stdout
    let bogus = client.check(&["--bogus"]);
    assert_eq!(bogus.status.code(), Some(3));
    assert!(stdout(&bogus).starts_with("UNKNOWN: unexpected argument '--bogus' found\n"));
}

/// A fake smokerd (Python's http.server): plain or TLS with a throwaway certificate, an
/// optional bearer token, forced runs that finish after `delay` seconds. `about.host` is
/// `fake-<local address>`, so every 127.0.0.x target is a host of its own.
struct FakeDaemon {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

const FAKE_DAEMON: &str = r#"
import http.server, json, ssl, sys, threading, time
bind, cert, key, token, delay = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
RESULT = {"status": "ERROR", "state": "UNKNOWN", "messages": {"info": [], "error": ["timed out"], "warn": []},
          "lastRun": "2026-11-25T12:00:00.5", "componentResults": None, "action": None, "forced": False,
          "output": "timed out", "perfdata": [{"label": "time", "value": 30, "uom": "s", "warn": None, "crit": None, "min": 0, "max": None}]}
def plugin(forced):
    body = {"lastResult": RESULT, "links": {"self": "/plugins/slow"}, "name": "slow", "nextRun": None,
            "parameters": {"Command": "sleep 99", "Category": "x"}}
    if forced:
        body = dict(body, forcedResult={"status": "OK", "messages": {"info": ["done"], "error": [], "warn": []},
                    "lastRun": "2026-11-25T12:00:01", "componentResults": None, "action": None, "forced": True})
    return {"plugin": body}
lock = threading.Lock()
processes = {}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def authorized(self):
        if token != "-" and self.headers.get("Authorization") != "Bearer " + token:
            self.send(401, {"message": "missing or wrong token"})
            return False
        return True
    def do_GET(self):
        if not self.authorized():
            return
        if self.path == "/":
            name = "fake-" + self.connection.getsockname()[0]
            return self.send(200, {"about": {"host": name, "title": "Smoker daemon API", "links": [
                {"rel": "plugins", "href": "/plugins", "methods": "GET", "title": "plugins"},
                {"rel": "processes", "href": "/processes", "methods": "GET, POST", "title": "force"}]}})
        if self.path == "/plugins":
            return self.send(200, {"plugins": {"items": [plugin(False)]}})
        if self.path.startswith("/v2/plugins/slow/runs"):
            runs = [{"id": i, "startedAt": "2026-11-25T12:0%d:00.25" % i, "duration": 0.5 * i, "status": "OK",
                     "state": "OK", "exitCode": 0, "output": "run %d" % i, "catchUp": False} for i in (1, 2, 3)]
            rest = self.path[len("/v2/plugins/slow/runs"):]
            if rest.startswith("?limit="):
                return self.send(200, runs[-int(rest[len("?limit="):]):])
            for run in runs:
                if rest == "/%d/output" % run["id"]:
                    return self.send(200, {"stdout": "out %d\n" % run["id"], "stderr": "err %d\n" % run["id"],
                                           "truncated": run["id"] == 3})
            return self.send(404, {"message": "Run not found"})
        if self.path.startswith("/v2/plugins/"):
            return self.send(404, {"message": "Plugin not found"})
        if self.path.startswith("/processes/"):
            with lock:
                started = processes.get(self.path)
            if started is None:
                return self.send(404, {"message": "Process id not found"})
            if time.time() - started < delay:
                return self.send(202, {"asyncTask": {"link": {"poll": self.path}}})
            return self.send(200, {"plugins": {"items": [plugin(True)]}})
        self.send(404, {"message": "Not Found"})
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if not self.authorized():
            return
        with lock:
            path = "/processes/%d" % (len(processes) + 1)
            processes[path] = time.time()
        self.send(202, {"asyncTask": {"link": {"poll": path}}})
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
server = Server((bind, 0), Handler)
if cert != "-":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl FakeDaemon {
    fn start(bind: &str, tls: bool, token: &str, delay: f64) -> FakeDaemon {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        if tls {
            let mut openssl = Command::new("openssl");
            openssl
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=localhost",
                ])
                .args([
                    "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null());
            assert!(run_with(openssl, Duration::from_secs(60)).status.success());
        }
        let script = dir.path().join("fake.py");
        std::fs::write(&script, FAKE_DAEMON).unwrap();
        let mut command = Command::new("python3");
        command.arg(&script).arg(bind);
        if tls {
            command.arg(&cert).arg(&key);
        } else {
            command.args(["-", "-"]);
        }
        let mut child = command
            .arg(token)
            .arg(delay.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            let _ = tx.send(String::from_utf8_lossy(&line).trim().parse::<u16>());
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("fake daemon did not start")
            .unwrap();
        FakeDaemon { port, child, dir }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn ca(&self) -> String {
        self.dir.path().join("cert.pem").display().to_string()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn hundreds_of_hosts_at_once() {
    let fake = FakeDaemon::start("0.0.0.0", false, "-", 1.0);
    let client = Client::new();
    // Every 127.0.0.x is this machine: 200 distinct hosts from one listener.
    let targets: Vec<String> = (2..202)
        .map(|i| format!("127.0.0.{i}:{}", fake.port))
        .collect();
    let mut args: Vec<&str> = vec!["-f", "-o", "json", "-s"];
    args.extend(targets.iter().map(String::as_str));
    let started = Instant::now();
    let output = client.cli(&args);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let hosts = json.as_object().unwrap();
    assert_eq!(hosts.len(), 200, "{}", stderr(&output));
    for (name, host) in hosts {
        assert!(name.starts_with("fake-127.0.0."), "{name}");
        assert_eq!(
            host["plugins"]["slow"]["forcedResult"]["status"], "OK",
            "{name}"
        );
        assert_eq!(host["status"], "OK", "forced result shown: {name}");
    }
    // One 1 s check per host, polled: far below 200 sequential runs.
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
}

#[test]
fn tls_and_tokens() {
    let fake = FakeDaemon::start("127.0.0.1", true, "s3cret", 0.0);
    let client = Client::new();
    let url = fake.url();
    let ca = fake.ca();

    // unknown CA: the host's problem, reported
    let output = client.cli(&["-s", &url, "--token", "s3cret", "-o", "json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("ERROR: Host {url}: ")),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("certificate"),
        "{}",
        stderr(&output)
    );

    // --ca-file + --token
    let output = client.cli(&[
        "-s",
        &url,
        "--ca-file",
        &ca,
        "--token",
        "s3cret",
        "-o",
        "minimal",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "fake-127.0.0.1                     [UNKNOWN]\n- slow                             [UNKNOWN] (2026-11-25 12:00:00)\n"
    );

    // --insecure + SMOKER_TOKEN; the daemon's `state` wins over `status` (D1) -> -e fails
    let mut command = client.command(
        smokercli(),
        &["-s", &url, "--insecure", "-e", "-o", "nagios"],
    );
    command.env("SMOKER_TOKEN", "s3cret");
    let output = run_with(command, Duration::from_secs(60));
    assert_eq!(
        stdout(&output),
        "UNKNOWN: 1 checks on 1 host: 1 UNKNOWN (slow) | 'slow::time'=30s;;;0\nUNKNOWN slow: timed out\n"
    );
    assert_eq!(output.status.code(), Some(3));
    let output = client.cli(&["-s", &url, "--insecure", "--token", "s3cret", "-e"]);
    assert_eq!(output.status.code(), Some(69));

    // wrong token: the daemon's message is shown
    let output = client.cli(&["-s", &url, "--insecure", "--token", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("HTTP 401: missing or wrong token"),
        "{}",
        stderr(&output)
    );

    // check_smoker: same options; perfdata from the result
    let output = client.check(&["-H", &url, "--ca-file", &ca, "--token", "s3cret", "slow"]);
    assert_eq!(
        (stdout(&output), output.status.code()),
        ("timed out|'time'=30s;;;0\n".to_owned(), Some(3))
    );
    let output = client.check(&["-H", &url, "--token", "s3cret", "slow"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout(&output).starts_with(&format!("UNKNOWN: can't open {url}/: ")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn colours_and_progress_only_on_a_terminal() {
    let daemon = OrigDaemon::start();
    let client = Client::new();
    let target = daemon.target();
    // `script` gives the client a pseudo-terminal as stdout.
    let on_tty = |extra: &str, no_color: bool| {
        let line = format!("{} -s {target} -p uptime -f {extra}", smokercli());
        let mut command = client.command("script", &["-qec", &line, "/dev/null"]);
        if no_color {
            command.env("NO_COLOR", "1");
        }
        stdout(&run_with(command, Duration::from_secs(60)))
    };
    let coloured = on_tty("", false);
    assert!(coloured.contains("[\x1b[1;32mOK\x1b[0;0m]"), "{coloured:?}");
    assert!(
        coloured.contains("Running plugins"),
        "progress bar on a terminal: {coloured:?}"
    );
    let plain = on_tty("--no-colors --no-progress", false);
    assert!(
        !plain.contains("\x1b[1;32m") && !plain.contains("Running plugins"),
        "{plain:?}"
    );
    assert!(plain.contains("[OK]"), "{plain:?}");
    let no_color = on_tty("", true);
    assert!(!no_color.contains("\x1b[1;32m"), "{no_color:?}");
    // piped: neither
    let piped = stdout(&client.cli(&["-s", &target, "-p", "uptime", "-f"]));
    assert!(
        !piped.contains('\x1b') && !piped.contains("Running plugins"),
        "{piped:?}"
    );
}

/// Our smokerd with one plugin per state, a JSON plugin with components and one never run.
fn our_daemon() -> crate::common::TestDaemon {
    let disk = format!("#!/bin/sh\necho '{DISK_JSON}'\n");
    crate::common::TestDaemon::start_with(
        "plugins:\n\
         \x20 good: {Command: 'echo \"fine | load=0.5;1;2;0\"', Category: demo, Type: smokeTest}\n\
         \x20 warn: {Command: 'echo careful; exit 1', Category: demo}\n\
         \x20 bad: {Command: 'echo broken; exit 2', Category: demo, Type: smokeTest}\n\
         \x20 unk: {Command: 'echo lost; exit 3', Category: other}\n\
         \x20 json: {Command: '{dir}/disk.sh', Category: demo}\n\
         \x20 idle: {Command: 'true', Category: other}\n",
        &[("disk.sh", &disk)],
        &[],
    )
}

fn orig_cli(args: &[&str]) -> Output {
    let mut command = Command::new(smoker_orig());
    command.arg("cli").args(args);
    run_with(command, Duration::from_secs(120))
}

#[test]
fn our_client_against_our_daemon() {
    let daemon = our_daemon();
    let client = Client::new();
    let t = format!("127.0.0.1:{}", daemon.port);
    let t = t.as_str();
    let host = hostname();

    let forced = client.cli(&[
        "-s", t, "-f", "-p", "good", "warn", "bad", "unk", "json", "-o", "json",
    ]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let json: Value = serde_json::from_slice(&forced.stdout).unwrap();
    let plugins = &json[&host]["plugins"];
    for (name, state) in [
        ("good", "OK"),
        ("warn", "WARNING"),
        ("bad", "CRITICAL"),
        ("unk", "UNKNOWN"),
        ("json", "WARNING"),
    ] {
        assert_eq!(
            plugins[name]["forcedResult"]["state"], state,
            "{name}: {}",
            plugins[name]
        );
    }
    assert_eq!(json[&host]["status"], "ERROR");

    // text shows the Nagios state (D1): UNKNOWN is not ERROR
    let normal = mask_times(&stdout(&client.cli(&["-s", t])));
    assert_eq!(
        normal,
        format!(
            "{host:<34} [ERROR]\n\
             - bad                              [ERROR] (TIME)\n\
             \x20 [error] broken\n\
             - good                             [OK] (TIME)\n\
             - idle                             [UNKNOWN] (None)\n\
             - json                             [WARN] (TIME)\n\
             \x20 [warn] disk 85%\n\
             \x20-- sda                            [WARN]\n\
             \x20   [warn] w\n\
             - unk                              [UNKNOWN] (TIME)\n\
             \x20 [error] lost\n\
             - warn                             [WARN] (TIME)\n\
             \x20 [warn] careful\n"
        )
    );
    assert_eq!(
        listed(&client, &["-s", t, "-l", "--unknown"]),
        ["idle", "unk"]
    );
    assert_eq!(
        listed(&client, &["-s", t, "-l", "--nook", "--category", "other"]),
        ["idle", "unk"]
    );
    // -e: an UNKNOWN host fails too (D1)
    assert_eq!(
        client
            .cli(&["-s", t, "-e", "-p", "unk", "good"])
            .status
            .code(),
        Some(69)
    );
    assert_eq!(
        client
            .cli(&["-s", t, "-e", "-p", "warn", "good"])
            .status
            .code(),
        Some(0)
    );

    let nagios = client.cli(&["-s", t, "-o", "nagios", "-p", "good", "warn"]);
    assert_eq!(
        (stdout(&nagios).as_str(), nagios.status.code()),
        (
            "WARNING: 2 checks on 1 host: 1 WARNING (warn), 1 OK | 'good::load'=0.5;1;2;0\nWARNING warn: careful\nOK good: fine\n",
            Some(1)
        )
    );
    let junit = stdout(&client.cli(&["-s", t, "-o", "junit"]));
    let elements = parse_xml(&junit);
    assert_eq!(
        elements.iter().filter(|e| *e == "failure").count(),
        3,
        "bad, unk, idle: {junit}"
    );
    let tap = stdout(&client.cli(&["-s", t, "-o", "tap", "-p", "good", "warn", "json"]));
    assert_eq!(prove(&tap).status.code(), Some(0), "{tap}");

    // check_smoker: perfdata, states, forcing
    let good = client.check(&["-H", t, "good"]);
    assert_eq!(
        (mask_times(&stdout(&good)).as_str(), good.status.code()),
        ("fine|load=0.5;1;2;0\n", Some(0))
    );
    let unk = client.check(&["-H", t, "unk"]);
    assert_eq!(
        (stdout(&unk).as_str(), unk.status.code()),
        ("lost\n", Some(3))
    );
    let demo = client.check(&["-H", t, "-f", "--category", "demo"]);
    assert_eq!(
        mask_times(&stdout(&demo)),
        "CRITICAL: 4 checks on 1 host: 1 CRITICAL (bad), 2 WARNING (json, warn), 1 OK | 'good::load'=0.5;1;2;0\n\
         CRITICAL bad: broken\nWARNING json: disk 85%\nWARNING warn: careful\nOK good: fine\n"
    );
    assert_eq!(demo.status.code(), Some(2));

    // history and output: the /v2 run log (D8)
    let history = client.cli(&["history", "bad", "-s", t, "-o", "json"]);
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    let runs = history[&host].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{history}");
    assert!(
        runs.iter()
            .all(|r| r["state"] == "CRITICAL" && r["output"] == "broken" && r["exitCode"] == 2),
        "{history}"
    );
    let text = client.cli(&["history", "good", "-s", t, "-n", "1"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert_eq!(stdout(&text).lines().count(), 3, "{}", stdout(&text));
    assert!(
        stdout(&text).contains("  OK           0  fine\n"),
        "{}",
        stdout(&text)
    );
    let out = client.cli(&["output", "good", "-s", t]);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("fine | load=0.5;1;2;0\n", Some(0))
    );
    let out = client.cli(&["output", "unk", "--run", "1", "-s", t]);
    assert_eq!(stdout(&out), "lost\n");
    assert_eq!(
        client.cli(&["output", "idle", "-s", t]).status.code(),
        Some(1),
        "no runs yet"
    );
}

#[test]
fn original_client_and_ours_print_the_same() {
    let ours = our_daemon();
    let orig = OrigDaemon::start();
    let client = Client::new();
    orig.run_checks(&client);
    let our_target = format!("127.0.0.1:{}", ours.port);
    let forced = client.cli(&["-s", &our_target, "-f", "-p", "good", "warn", "bad", "json"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    // UNKNOWN states are where the clients differ on purpose (D1): leave `unk` out.
    let selections: [(&str, &[&str]); 2] = [
        (
            our_target.as_str(),
            &["-p", "good", "warn", "bad", "json", "idle"],
        ),
        (&orig.target(), &[]),
    ];
    for (target, selection) in selections {
        for format in ["minimal", "xml"] {
            let mut args = vec!["-s", target, "-o", format, "--no-colors"];
            args.extend_from_slice(selection);
            let theirs = orig_cli(&args);
            let mine = client.cli(&args);
            assert_eq!(theirs.status.code(), Some(0), "{}", stderr(&theirs));
            assert_eq!(stdout(&mine), stdout(&theirs), "{target} -o {format}");
        }
        let mut args = vec!["-s", target, "-l"];
        args.extend_from_slice(selection);
        assert_eq!(
            stdout(&client.cli(&args)),
            stdout(&orig_cli(&args)),
            "{target} -l"
        );
        // -o json: same document apart from our extra fields
        let mut args = vec!["-s", target, "-o", "json"];
        args.extend_from_slice(selection);
        let theirs: Value = serde_json::from_slice(&orig_cli(&args).stdout).unwrap();
        let mine: Value = serde_json::from_slice(&client.cli(&args).stdout).unwrap();
        assert_eq!(
            mine.as_object().unwrap().keys().collect::<Vec<_>>(),
            theirs.as_object().unwrap().keys().collect::<Vec<_>>()
        );
        for (host, entry) in theirs.as_object().unwrap() {
            assert_eq!(mine[host]["status"], entry["status"], "{target}");
            for (name, plugin) in entry["plugins"].as_object().unwrap() {
                assert_eq!(
                    mine[host]["plugins"][name]["lastResult"]["status"],
                    plugin["lastResult"]["status"]
                );
                assert_eq!(
                    mine[host]["plugins"][name]["lastResult"]["lastRun"],
                    plugin["lastResult"]["lastRun"]
                );
            }
        }
    }
    // -e: both fail on an ERROR host with 69
    let args = ["-s", our_target.as_str(), "-e", "-o", "minimal"];
    assert_eq!(orig_cli(&args).status.code(), Some(69));
    assert_eq!(client.cli(&args).status.code(), Some(69));
}

#[test]
fn history_and_output_use_the_v2_routes() {
    let fake = FakeDaemon::start("0.0.0.0", false, "-", 0.0);
    let client = Client::new();
    let one = format!("127.0.0.1:{}", fake.port);
    let two = format!("127.0.0.2:{}", fake.port);

    let history = client.cli(&["history", "slow", "-s", &one, "-n", "2"]);
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    assert_eq!(
        stdout(&history),
        "fake-127.0.0.1\n\
         \x20     ID  STARTED               DURATION  STATE     EXIT  OUTPUT\n\
         \x20      2  2026-11-25 12:02:00     1.000s  OK           0  run 2\n\
         \x20      3  2026-11-25 12:03:00     1.500s  OK           0  run 3\n"
    );
    let json: Value = serde_json::from_slice(
        &client
            .cli(&["history", "slow", "-s", &one, &two, "-o", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["fake-127.0.0.2"].as_array().unwrap().len(), 3);
    assert_eq!(json["fake-127.0.0.1"][0]["output"], "run 1");

    // output: the latest run by default, stdout and stderr where they belong
    let latest = client.cli(&["output", "slow", "-s", &one]);
    assert_eq!(
        (stdout(&latest).as_str(), latest.status.code()),
        ("out 3\n", Some(0))
    );
    assert_eq!(
        stderr(&latest),
        "err 3\nWARNING: Host fake-127.0.0.1: output of run 3 was truncated\n"
    );
    let first = client.cli(&["output", "slow", "--run", "1", "-s", &one, &two]);
    assert_eq!(
        stdout(&first),
        "==> fake-127.0.0.1 (run 1) <==\nout 1\n==> fake-127.0.0.2 (run 1) <==\nout 1\n"
    );
    let json: Value = serde_json::from_slice(
        &client
            .cli(&["output", "slow", "-s", &one, "-o", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["fake-127.0.0.1"]["id"], 3);
    assert_eq!(json["fake-127.0.0.1"]["stderr"], "err 3\n");

    // unknown plugin or run, unreachable host: reported, exit 1
    let missing = client.cli(&["history", "nope", "-s", &one]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("HTTP 404: Plugin not found"),
        "{}",
        stderr(&missing)
    );
    let no_run = client.cli(&["output", "slow", "--run", "9", "-s", &one]);
    assert!(
        stderr(&no_run).contains("HTTP 404: Run not found"),
        "{}",
        stderr(&no_run)
    );
    let down = format!("127.0.0.1:{}", free_port());
    let partly = client.cli(&["history", "slow", "-s", &one, &down, "-n", "1"]);
    assert_eq!(partly.status.code(), Some(1));
    assert!(stdout(&partly).contains("run 3"), "{}", stdout(&partly));
    assert!(
        stderr(&partly).contains(&format!("ERROR: Host {down}: ")),
        "{}",
        stderr(&partly)
    );
}
