//! Core daemon through the real binary: smoker REST API shapes and status codes,
//! Nagios plugin semantics with real plugins, timeouts, big outputs, hostile
//! parameters, scheduling, actions, shutdown, and the original smokercli.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

use crate::common::{
    TestDaemon, children_of, processes_matching, run_bin, run_cmd, smoker_orig, wait_until,
};

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn plugin_names(body: &Value) -> Vec<String> {
    body["plugins"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["plugin"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn about_and_plugin_shapes() {
    let d = TestDaemon::start(
        "templates:\n  BasePlugin: {Interval: 0, Timeout: 30, History: 3}\n  Echo: {Command: \"echo %(Msg)s\"}\nplugins:\n  uptime: {Category: system, Command: uptime}\n  echo: {Template: Echo, Msg: hello, Category: demo}\n",
    );
    let about = d.get_json("/");
    assert_eq!(about["about"]["title"], "Smoker daemon API");
    assert_eq!(about["about"]["links"][1]["href"], "/processes");
    assert!(
        about["about"]["host"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );

    for path in ["/plugins", "/plugins/"] {
        let body = d.get_json(path);
        assert_eq!(plugin_names(&body), ["uptime", "echo"], "{path}");
    }
    let body = d.get_json("/plugins/echo");
    let plugin = &body["plugin"];
    assert_eq!(plugin["lastResult"], Value::Null);
    assert_eq!(body["results"], json!([]));
    assert_eq!(plugin["links"]["self"], "/plugins/echo");
    assert_eq!(plugin["nextRun"], Value::Null);
    let params = plugin["parameters"].as_object().expect("parameters");
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Command", "Module", "Parser", "Interval", "Timeout", "History", "uid", "gid",
            "Template", "Action", "Msg", "Category"
        ]
    );
    assert_eq!(params["Command"], "echo %(Msg)s");
    assert_eq!(params["Timeout"], 30);
    assert_eq!(params["uid"], "default");
    assert_eq!(d.get_json("/plugins/echo/")["plugin"]["name"], "echo");

    let missing = d.get("/plugins/nope");
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"message": "Plugin nope not found"}))
    );
    let unknown = d.get("/nothing/here");
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["message"].is_string());
    let wrong = d.post("/plugins", "{}");
    assert_eq!(wrong.status, 405);
    assert_eq!(
        wrong.json(),
        json!({"message": "The method is not allowed for the requested URL."})
    );
    assert!(
        wrong.header("allow").is_some_and(|a| a.contains("GET")),
        "{:?}",
        wrong.headers
    );
    let options = crate::common::http(d.port, "OPTIONS", "/processes", None).expect("OPTIONS");
    assert!(options.header("allow").is_some_and(|a| a.contains("POST")));
    assert!(
        d.get("/plugins").body.ends_with("}\n"),
        "compact JSON with newline"
    );
}

#[test]
fn forced_runs_and_processes() {
    let d = TestDaemon::start(
        "templates:\n  BasePlugin: {Timeout: 30}\nplugins:\n  a: {Command: 'echo A-out', Category: demo}\n  b: {Command: 'echo B-err >&2; exit 2', Category: demo}\n  c: {Command: 'true', Category: other}\n",
    );
    assert_eq!(d.get_json("/processes"), json!([]));
    let r = d.post(
        "/processes",
        r#"{"process": {"plugins": ["a"], "filter": {"Category": "demo"}}}"#,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.header("location"), Some("/processes/1"));
    assert_eq!(
        r.json(),
        json!({"asyncTask": {"link": {"poll": "/processes/1"}}})
    );
    assert!(
        r.body.contains("\n  \"asyncTask\""),
        "indented 202 body: {}",
        r.body
    );
    assert!(wait_until(Duration::from_secs(10), || d
        .get("/processes/1")
        .status
        == 200));
    let done = d.get_json("/processes/1");
    assert_eq!(plugin_names(&done), ["a", "b"], "deduplicated, named first");
    // GET /plugins is served from a per-plugin cache: it must show the new results.
    let listed = d.get_json("/plugins");
    assert_eq!(
        listed["plugins"]["items"][0]["plugin"]["lastResult"]["status"],
        "OK"
    );
    assert_eq!(
        listed["plugins"]["items"][1]["plugin"]["lastResult"]["status"],
        "ERROR"
    );
    assert_eq!(
        listed["plugins"]["items"][2]["plugin"]["lastResult"],
        Value::Null
    );
    let a = &done["plugins"]["items"][0]["plugin"];
    assert_eq!(a["forcedResult"]["status"], "OK");
    assert_eq!(a["forcedResult"]["forced"], true);
    assert_eq!(
        a["forcedResult"]["messages"],
        json!({"info": ["A-out"], "error": [], "warn": []})
    );
    let b = &done["plugins"]["items"][1]["plugin"];
    assert_eq!(b["lastResult"]["status"], "ERROR");
    assert_eq!(b["lastResult"]["state"], "CRITICAL");
    assert_eq!(b["lastResult"]["exitCode"], 2);
    assert_eq!(b["lastResult"]["messages"]["error"], json!(["B-err"]));
    assert_eq!(
        d.get_json("/processes"),
        json!([{"href": "processes/1", "plugins": ["a", "b"]}])
    );

    let cases: [(&str, u16, Option<&str>); 7] = [
        (
            "not json",
            400,
            Some("The browser (or proxy) sent a request that this server could not understand."),
        ),
        ("{}", 400, None),
        ("[1]", 400, None),
        (
            r#"{"process": {"plugins": []}}"#,
            400,
            Some("Plugin names or filter have to be set"),
        ),
        (
            r#"{"process": {"plugins": "a"}}"#,
            400,
            Some("Element plugins have to be list"),
        ),
        (
            r#"{"process": {"plugins": ["zzz"]}}"#,
            500,
            Some("Plugin zzz not found"),
        ),
        (
            r#"{"process": {"filter": {"Category": "none"}}}"#,
            500,
            Some("No plugins found"),
        ),
    ];
    for (body, status, message) in cases {
        let r = d.post("/processes", body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        let j = r.json();
        assert_eq!(j["message"].as_str(), message, "{body}");
        if status == 400 && body != "not json" {
            assert_eq!(j["example_input"]["process"]["plugins"], "[STRING] | NULL");
        }
    }
    let r = d.post("/processes", r#"{"process": {"filter": "x"}}"#);
    assert_eq!(r.json()["message"], "Element filter have to be dictionary");
    assert_eq!(
        d.get("/processes/0").json(),
        json!({"message": "Process id 0 not found"})
    );
    assert_eq!(d.get("/processes/99").status, 404);
    assert_eq!(d.get("/processes/abc").status, 404);
}

#[test]
fn real_nagios_plugins_give_their_states_and_perfdata() {
    let d = TestDaemon::start(&format!(
        "templates:\n  BasePlugin: {{Timeout: 20}}\nplugins:\n  ok: {{Command: '{PLUGINS}/check_dummy 0 fine'}}\n  warn: {{Command: '{PLUGINS}/check_dummy 1 hmm'}}\n  crit: {{Command: '{PLUGINS}/check_dummy 2 bad'}}\n  unknown: {{Command: '{PLUGINS}/check_dummy 3 what'}}\n  load: {{Command: '{PLUGINS}/check_load -w 1000,1000,1000 -c 2000,2000,2000'}}\n  disk: {{Command: '{PLUGINS}/check_disk -w 1%% -c 1%% -p /'}}\n  argv: {{Argv: ['{PLUGINS}/check_dummy', '1', 'two words; $(no shell)']}}\n"
    ));
    let done = d.force(&["ok", "warn", "crit", "unknown", "load", "disk", "argv"]);
    let items = done["plugins"]["items"].as_array().expect("items");
    let result = |i: usize| items[i]["plugin"]["lastResult"].clone();
    let expect = [
        ("OK", "OK", 0, "OK: fine"),
        ("WARN", "WARNING", 1, "WARNING: hmm"),
        ("ERROR", "CRITICAL", 2, "CRITICAL: bad"),
        ("ERROR", "UNKNOWN", 3, "UNKNOWN: what"),
    ];
    for (i, (status, state, code, output)) in expect.iter().enumerate() {
        let r = result(i);
        assert_eq!(
            (
                r["status"].as_str(),
                r["state"].as_str(),
                r["exitCode"].as_i64()
            ),
            (Some(*status), Some(*state), Some(*code)),
            "{r}"
        );
        assert_eq!(r["output"], *output);
    }
    let load = result(4);
    assert_eq!(load["state"], "OK", "{load}");
    let labels: Vec<&str> = load["perfdata"]
        .as_array()
        .expect("perfdata")
        .iter()
        .filter_map(|p| p["label"].as_str())
        .collect();
    assert_eq!(labels, ["load1", "load5", "load15"]);
    assert_eq!(load["perfdata"][0]["warn"], "1000.000");
    let disk = result(5);
    assert!(
        disk["output"]
            .as_str()
            .is_some_and(|o| o.starts_with("DISK ")),
        "{disk}"
    );
    assert!(
        disk["perfdata"][0]["uom"]
            .as_str()
            .is_some_and(|u| u.ends_with('B')),
        "{disk}"
    );
    let argv = result(6);
    assert_eq!(argv["output"], "WARNING: two words; $(no shell)");
}

#[test]
fn timeouts_big_output_and_missing_binaries_leave_the_daemon_healthy() {
    let d = TestDaemon::start(
        "plugins:\n  slow: {Command: 'sleep 31337; echo never', Timeout: 1}\n  slow_crit: {Command: 'sleep 31338', Timeout: 1, TimeoutState: CRITICAL}\n  flood: {Command: 'head -c 50000000 /dev/zero | tr \"\\\\0\" x; exit 0'}\n  missing: {Command: '/nonexistent/check_nothing'}\n  missing_argv: {Argv: ['/nonexistent/check_nothing']}\n  smoker_codes: {Command: 'exit 1', ExitCodes: smoker}\n  weird_code: {Command: 'echo odd; exit 42'}\n",
    );
    let done = d.force(&[
        "slow",
        "slow_crit",
        "flood",
        "missing",
        "missing_argv",
        "smoker_codes",
        "weird_code",
    ]);
    let items = done["plugins"]["items"].as_array().expect("items");
    let r = |i: usize| items[i]["plugin"]["lastResult"].clone();
    assert_eq!(
        (r(0)["state"].as_str(), r(0)["output"].as_str()),
        (Some("UNKNOWN"), Some("Execution timeout after 1 seconds"))
    );
    assert_eq!(r(0)["status"], "ERROR");
    assert_eq!(r(1)["state"], "CRITICAL");
    assert_eq!(r(2)["state"], "OK");
    assert_eq!(r(2)["truncated"], true);
    assert!(r(2)["output"].as_str().is_some_and(|o| o.len() <= 65536));
    assert_eq!(r(3)["state"], "UNKNOWN");
    assert_eq!(
        r(3)["output"],
        "return code 127 is out of bounds - plugin may be missing"
    );
    assert_eq!(r(4)["state"], "UNKNOWN");
    assert!(
        r(4)["output"]
            .as_str()
            .is_some_and(|o| o.contains("Can't execute command")),
        "{}",
        r(4)
    );
    assert_eq!(r(5)["state"], "CRITICAL");
    assert_eq!(
        (r(6)["state"].as_str(), r(6)["output"].as_str()),
        (Some("UNKNOWN"), Some("odd"))
    );
    assert!(
        r(6)["messages"]["error"]
            .as_array()
            .is_some_and(|e| e.iter().any(|m| m == "return code 42 is out of bounds"))
    );
    assert!(
        processes_matching("sleep 3133").is_empty(),
        "{:?}",
        processes_matching("sleep 3133")
    );
    // Still healthy and answering, memory did not keep the 50 MB.
    assert_eq!(d.get("/").status, 200);
    let rss_kb = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    assert!(rss_kb > 0 && rss_kb < 60_000, "RSS {rss_kb} kB");
    // No zombies among our children.
    let zombies = std::fs::read_dir(format!("/proc/{}/task/{}/children", d.pid(), d.pid())).ok();
    assert!(zombies.is_none());
    let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", d.pid(), d.pid()))
        .unwrap_or_default();
    assert_eq!(children.trim(), "", "children left: {children}");
}

#[test]
fn hostile_parameters_are_not_run_by_the_shell() {
    let d = TestDaemon::start(
        "plugins:\n  semi: {Command: 'echo %(Msg)s', Msg: 'hello; touch {dir}/pwned1'}\n  subst: {Command: 'echo %(Msg)s', Msg: '$(touch {dir}/pwned2)'}\n  quotes: {Command: 'echo %(Msg)s', Msg: \"it's \\\"quoted\\\" `touch {dir}/pwned3`\"}\n",
    );
    let done = d.force(&["semi", "subst", "quotes"]);
    let items = done["plugins"]["items"].as_array().expect("items");
    let dir = d.dir.path().display().to_string();
    assert_eq!(
        items[0]["plugin"]["lastResult"]["output"],
        format!("hello; touch {dir}/pwned1")
    );
    assert_eq!(
        items[1]["plugin"]["lastResult"]["output"],
        format!("$(touch {dir}/pwned2)")
    );
    assert_eq!(
        items[2]["plugin"]["lastResult"]["output"],
        format!("it's \"quoted\" `touch {dir}/pwned3`")
    );
    for f in ["pwned1", "pwned2", "pwned3"] {
        assert!(!d.dir.path().join(f).exists(), "{f} was created");
    }
}

#[test]
fn json_plugins_secrets_and_actions() {
    let d = TestDaemon::start(
        "actions:\n  Notify: {Command: 'echo action %(status)s for %(name)s'}\nplugins:\n  json:\n    Command: |\n      echo '{\"status\": \"WARN\", \"messages\": {\"info\": [], \"warn\": [\"disk 85%%\"], \"error\": []}, \"componentResults\": {\"sda\": {\"status\": \"WARN\", \"messages\": {\"info\": [\"i\"], \"warn\": [\"w\"], \"error\": []}}}}'\n    Action: Notify\n    db_password: hunter2\n    Env: {API_TOKEN: s3cret}\n",
    );
    let done = d.force(&["json"]);
    let plugin = &done["plugins"]["items"][0]["plugin"];
    let last = &plugin["lastResult"];
    assert_eq!(last["status"], "WARN");
    assert_eq!(last["messages"]["warn"], json!(["disk 85%"]));
    assert_eq!(
        last["componentResults"],
        json!([{"componentResult": {"status": "WARN", "messages": {"info": ["i"], "error": [], "warn": ["w"]}, "name": "sda"}}])
    );
    assert_eq!(
        plugin["forcedResult"]["componentResults"]["sda"]["status"],
        "WARN"
    );
    assert_eq!(last["action"]["status"], "OK");
    assert_eq!(
        last["action"]["messages"]["info"],
        json!(["action WARN for json"])
    );
    assert_eq!(plugin["parameters"]["db_password"], "***");
    assert_eq!(plugin["parameters"]["Env"], json!({"API_TOKEN": "***"}));
    assert_eq!(
        plugin["parameters"]["Action"]["Command"],
        "echo action %(status)s for %(name)s"
    );
    assert!(!d.get("/plugins").body.contains("hunter2"));
}

#[test]
fn interval_checks_run_on_schedule_with_bounded_history() {
    let d = TestDaemon::start(
        "plugins:\n  tick: {Command: 'date +%%s%%N', Interval: 1, History: 3}\n  slow: {Command: 'sleep 3', Interval: 1, Timeout: 10}\n  never: {Command: 'true'}\n",
    );
    let plugin = d.get_json("/plugins/tick")["plugin"].clone();
    assert!(plugin["nextRun"].is_string(), "{plugin}");
    assert!(wait_until(Duration::from_secs(8), || d
        .get_json("/plugins/tick")["results"]
        .as_array()
        .is_some_and(|r| r.len() == 3)));
    std::thread::sleep(Duration::from_millis(1500));
    let body = d.get_json("/plugins/tick");
    assert_eq!(
        body["results"].as_array().map(Vec::len),
        Some(3),
        "History bounds results"
    );
    let next = body["plugin"]["nextRun"]
        .as_str()
        .expect("nextRun")
        .to_string();
    let last = body["plugin"]["lastResult"]["lastRun"]
        .as_str()
        .expect("lastRun")
        .to_string();
    assert!(next > last, "nextRun {next} after lastRun {last}");
    // A running check is shown and not started twice.
    assert!(wait_until(Duration::from_secs(5), || !d
        .get_json("/plugins/slow")["plugin"]["running"]
        .is_null()));
    let running = d.get_json("/plugins/slow")["plugin"]["running"].clone();
    assert!(running["pid"].as_u64().is_some_and(|p| p > 0), "{running}");
    // The shell may not have exec'd `sleep` yet when the API first shows the
    // run: wait for it, then watch a few interval ticks for a second one.
    let sleeps = || {
        children_of(d.pid())
            .iter()
            .filter(|cmd| cmd.contains("sleep 3"))
            .count()
    };
    assert!(wait_until(Duration::from_secs(5), || sleeps() == 1));
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(100));
        assert!(sleeps() <= 1, "{:?}", children_of(d.pid()));
    }
    assert_eq!(d.get_json("/plugins/never")["results"], json!([]));
}

#[test]
fn sigterm_stops_cleanly_and_interrupts_long_checks() {
    let mut d = TestDaemon::start(
        "shutdown_grace: 1\nplugins:\n  long: {Command: 'sleep 31339', Timeout: 600}\n",
    );
    let r = d.post("/processes", r#"{"process": {"plugins": ["long"]}}"#);
    assert_eq!(r.status, 202);
    assert!(wait_until(Duration::from_secs(5), || !processes_matching(
        "sleep 31339"
    )
    .is_empty()));
    let status = d
        .stop_within(Duration::from_secs(10))
        .expect("stopped within the grace");
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert!(wait_until(Duration::from_secs(2), || processes_matching(
        "sleep 31339"
    )
    .is_empty()));
}

#[test]
fn check_config_reports_errors_with_positions() {
    let dir = crate::common::temp_dir();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "plugins:\n  x: {Command: true, Module: foo.bar}\n  y: {Command: true, Timeout: -5}\n",
    )
    .expect("write");
    let (code, _, stderr) = run_bin(
        "smokerd",
        &["check-config", "-c", bad.to_str().expect("utf8")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bad.yaml:2:"), "{stderr}");
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
    let (code, stdout, stderr) = run_bin("smokerd", &["check-config"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("OK: "), "{stdout}");
    let (code, stdout, _) = run_bin("smokerd", &["print-default-config"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("plugins:"));
}

#[test]
fn original_smokercli_lists_and_forces_on_our_daemon() {
    let d = TestDaemon::start(
        "plugins:\n  good: {Command: 'echo fine', Category: demo}\n  bad: {Command: 'echo broken; exit 2', Category: demo}\n  unk: {Command: 'exit 3', Category: other}\n",
    );
    let host = format!("127.0.0.1:{}", d.port);
    let orig = smoker_orig();
    let (code, out, err) =
        run_cmd(std::process::Command::new(&orig).args(["cli", "-s", &host, "-l"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["bad", "good", "unk"]);
    let (code, out, err) = run_cmd(std::process::Command::new(&orig).args([
        "cli",
        "-s",
        &host,
        "-f",
        "--no-colors",
        "--no-progress",
        "-o",
        "long",
        "-e",
    ]));
    assert_eq!(code, 69, "-e exits 69 on ERROR: {err}");
    assert!(out.contains("[ERROR]"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("- good") && l.contains("[OK]")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("- unk") && l.contains("[ERROR]")),
        "UNKNOWN shows as ERROR: {out}"
    );
    let (code, out, err) = run_cmd(std::process::Command::new(&orig).args([
        "cli",
        "-s",
        &host,
        "--category",
        "demo",
        "-o",
        "json",
    ]));
    assert_eq!(code, 0, "{out} {err}");
    let parsed: Value = serde_json::from_str(out.trim()).expect("json");
    let host_key = parsed
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .expect("host");
    assert_eq!(parsed[&host_key]["status"], "ERROR");
    assert!(Path::new(&orig).exists());
}

/// The daemon keeps the newest 1000 forced-run processes; ids keep counting and an
/// older id answers 404 like an unknown one.
#[test]
fn forced_run_processes_are_bounded() {
    let d = TestDaemon::start("plugins:\n  c: {Command: 'true', Interval: 0}\n");
    for n in 1..=1001 {
        let r = d.post("/processes", r#"{"process": {"plugins": ["c"]}}"#);
        assert_eq!(r.status, 202, "POST {n}: {}", r.body);
        assert_eq!(
            r.header("location"),
            Some(format!("/processes/{n}").as_str())
        );
    }
    assert_eq!(d.get("/processes/1").status, 404);
    assert!(wait_until(Duration::from_secs(10), || d
        .get("/processes/1001")
        .status
        == 200));
    assert!(matches!(d.get("/processes/2").status, 200 | 202));
    let listed = d.get_json("/processes");
    let listed = listed.as_array().expect("list");
    assert_eq!(listed.len(), 1000);
    assert_eq!(listed[0]["href"], "processes/2");
    assert_eq!(listed[999]["href"], "processes/1001");
}

/// Issue 18: older results are kept compact (`store::ring`); `GET /plugins/NAME` shows
/// each one exactly as `lastResult` showed it when it was the newest: plugin output
/// with long output and perfdata (messages rebuilt from the output), and output with a
/// stderr line (messages kept as they were).
#[test]
fn older_results_read_back_as_they_were_shown() {
    let d = TestDaemon::start(concat!(
        "plugins:\n",
        "  disk: {Command: 'echo \"DISK WARNING - $(date +%%N) free | /=91%%;80;90\"; ",
        "echo line 2; echo \"/var ok | /var=10%%\"; exit 1', Interval: 1, History: 4}\n",
        "  noisy: {Command: 'echo \"OK $(date +%%N)\"; echo oops >&2', Interval: 1, History: 4}\n",
    ));
    for name in ["disk", "noisy"] {
        let path = format!("/plugins/{name}");
        let mut shown: Vec<Value> = Vec::new();
        let full = wait_until(Duration::from_secs(30), || {
            let body = d.get_json(&path);
            let last = body["plugin"]["lastResult"].clone();
            if !last.is_null() && !shown.contains(&last) {
                shown.push(last);
            }
            body["results"].as_array().is_some_and(|r| r.len() == 4) && shown.len() >= 5
        });
        assert!(full, "{name}: {} results seen", shown.len());
        let body = d.get_json(&path);
        let results: Vec<&Value> = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| &r["result"])
            .collect();
        let mut matched = 0;
        for result in &results[..3] {
            let Some(seen) = shown.iter().find(|s| s["lastRun"] == result["lastRun"]) else {
                continue;
            };
            assert_eq!(*result, seen, "{name}: an older result changed");
            matched += 1;
        }
        assert!(
            matched >= 2,
            "{name}: {matched} older results were seen as newest"
        );
        let newest = results[3];
        assert_eq!(
            newest["perfdata"].as_array().map(Vec::len),
            Some(usize::from(name == "disk") * 2)
        );
        let messages = &results[0]["messages"];
        match name {
            "disk" => assert_eq!(
                messages["warn"].as_array().map(Vec::len),
                Some(3),
                "{messages}"
            ),
            _ => assert_eq!(messages["error"], json!(["oops"]), "{messages}"),
        }
    }
}

/// Issue 18: `GET /plugins` and `GET /metrics` are written into pooled buffers; on the
/// wire they are one body with an exact `Content-Length` (no chunked encoding), as the
/// original's clients expect, and a second answer (on a reused buffer) is whole too.
#[test]
fn large_answers_come_in_one_body_with_their_length() {
    let mut yaml = String::from("plugins:\n");
    for i in 0..400 {
        yaml.push_str(&format!(
            "  c{i:03}: {{Command: 'echo OK - {i} {}', Interval: 0}}\n",
            "x".repeat(40)
        ));
    }
    let d = TestDaemon::start(&yaml);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], d.port));
    for path in ["/plugins", "/metrics", "/plugins", "/metrics"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let raw = crate::common::exchange(addr, req.as_bytes());
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{path}: no header end in {} bytes", raw.len()));
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let body = &raw[split + 4..];
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(!head.contains("transfer-encoding"), "{path}: {head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{path}: no content-length in {head}"));
        assert_eq!(length, body.len(), "{path}");
        assert!(length > 64 * 1024, "{path}: {length} bytes");
        if path == "/plugins" {
            let json: Value = serde_json::from_slice(body).expect("JSON");
            assert_eq!(plugin_names(&json).len(), 400);
        } else {
            let text = String::from_utf8_lossy(body);
            assert_eq!(
                text.matches("smoker_check_runs_total{").count(),
                400 * 4,
                "{text}"
            );
        }
    }
}
