//! Built-in host checks (`Builtin:`) side by side with the real monitoring plugins
//! (monitoring-plugins-basic) through the built smokerd: same state, status line
//! prefix and perfdata labels, units and warn/crit/min/max.

use serde_json::Value;

use crate::common::{TestDaemon, bin, run_bin, run_cmd, temp_dir, wait_until};

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Flag sets run both ways (thresholds met and not met, a missing path).
const CASES: &[&str] = &[
    "check_load -w 50,40,30 -c 100,80,60",
    "check_load -r -w 1000 -c 2000",
    "check_load -w 0,0,0 -c 100,100,100",
    "check_load -w 0 -c 0",
    "check_swap -w 20% -c 10%",
    "check_swap -n ok -w 20% -c 10%",
    "check_swap -n warning -w 100 -c 50",
    "check_users -w 5 -c 10",
    "check_users -w @0:0 -c 10",
    "check_users -w 0: -c ~:0",
    "check_disk -w 10% -c 5% -p /",
    "check_disk -w 100% -c 1% -p /",
    "check_disk -w 100% -c 99.99% -p /",
    "check_disk -w 100 -c 50 -p / -p /tmp",
    "check_disk -w 10% -c 5% -W 10% -K 5% -p /",
    "check_disk -w 10% -c 5% -W 100% -K 1% -p /",
    "check_disk -w 10% -c 5% -p /nonexistent/path",
    "check_disk -w 10% -c 5% -u GB -p /",
    "check_disk -w 10% -c 5% -u bytes -p /dev/shm",
    "check_disk -w 10% -c 5%",
    "check_disk -w 10% -c 5% -l -x /dev/shm",
    "check_disk -w 10% -c 5% -X tmpfs",
    "check_disk -w 10% -c 5% -p /proc",
    "check_disk -w 100M -c 50M -p /",
    "check_disk -w 100000000 -c 50 -p /",
    "check_disk -w 10% -p / -c 5% -p /tmp",
    "check_disk -w 10% -c 5% -A",
    "check_procs -w 100000 -c 200000",
    "check_procs -w 1 -c 100000",
    "check_procs -w 1 -c 2",
    "check_procs -s Z -w 1000 -c 2000",
    "check_procs -s RSD -w 100000",
    "check_procs -s S -w 100000",
    "check_procs -s Ss -w 100000",
    "check_procs -C no_such_command_xyz -c 1:",
    "check_procs -C process_api -w 1:",
    "check_procs -u root -w 100000",
    "check_procs -a smokerd -w 100000",
    "check_procs -m PROCS -w 100000 -c 200000",
    "check_procs -m RSS -w 100000 -c 200000 -C smokerd",
    "check_procs -m VSZ -w 1 -c 1000000000 -u root",
    "check_procs -m CPU -w 50 -c 90 -C smokerd",
    "check_file_age -f {old}",
    "check_file_age -f {old} -w 500 -c 2000",
    "check_file_age -f {old} -w 2000 -c 3000",
    "check_file_age -f {old} -c 500",
    "check_file_age -f {old} -w 2000 -c 3000 -W 10 -C 5",
    "check_file_age -f {old} -w 2000 -c 3000 -W 10 -C 1",
    "check_file_age -f {old}.missing",
    "check_tcp -H 127.0.0.1 -p {open}",
    "check_tcp -H 127.0.0.1 -p {open} -w 1 -c 2 -t 5",
    "check_tcp -H 127.0.0.1 -p {open} -w 0 -c 2",
    "check_tcp -H localhost -p {open} -w 0 -c 0",
    "check_tcp -H 127.0.0.1 -p {closed}",
];

/// Network cases: `{http}` a small HTTP server, `{tls}` `openssl s_server` with a
/// certificate ending in 5 days, `{soon}` in 3.5 hours, `{expired}` ended,
/// `{silent}` a port that never answers.
const NET_CASES: &[&str] = &[
    "check_tcp -H 127.0.0.1 -p {tls} -S",
    "check_tcp -H 127.0.0.1 -p {tls} -S -w 5 -c 10",
    "check_tcp -H 127.0.0.1 -p {tls} -D 10",
    "check_tcp -H 127.0.0.1 -p {tls} -D 10,6",
    "check_tcp -H 127.0.0.1 -p {tls} -D 2",
    "check_tcp -H 127.0.0.1 -p {soon} -D 2,1",
    "check_tcp -H 127.0.0.1 -p {expired} -D 30",
    "check_tcp -H 127.0.0.1 -p {http} -S",
    "check_http -I 127.0.0.1 -p {http}",
    "check_http -H localhost -p {http} -u /missing",
    "check_http -H 127.0.0.1 -p {http} -u /broken",
    "check_http -H 127.0.0.1 -p {http} -u /moved",
    "check_http -H 127.0.0.1 -p {http} -s hello",
    "check_http -H 127.0.0.1 -p {http} -s nowhere",
    "check_http -H 127.0.0.1 -p {http} -u /chunked -s hello",
    "check_http -H 127.0.0.1 -p {http} -e 404",
    "check_http -H 127.0.0.1 -p {http} -u /missing -e 404,200",
    "check_http -H 127.0.0.1 -p {http} -u /missing -e 404 -s nowhere",
    "check_http -H 127.0.0.1 -p {http} -w 0 -c 5",
    "check_http -H 127.0.0.1 -p {http} -w 5 -c 20 -t 30",
    "check_http -H 127.0.0.1 -p {closed}",
    "check_http -I 127.0.0.1 -p {http} -S",
    "check_http -I 127.0.0.1 -p {tls} -S -u /index.html",
    "check_http -H localhost -p {tls} -S -u /index.html -s hello",
    "check_http -H localhost -p {tls} -S -u /index.html -s nowhere",
    "check_http -I 127.0.0.1 -p {tls} -C 10",
    "check_http -I 127.0.0.1 -p {tls} -C 10,6",
    "check_http -I 127.0.0.1 -p {tls} -S -C 2",
    "check_http -I 127.0.0.1 -p {soon} -C 2",
    "check_http -I 127.0.0.1 -p {expired} -C 30",
    "check_tcp -H 127.0.0.1 -p {silent} -S -t 1",
    "check_http -I 127.0.0.1 -p {silent} -t 1",
    "check_http -I 127.0.0.1 -p {silent} -S -t 2",
    "check_http -H 127.0.0.1 -p {http} -u /slow -t 2",
    "check_tcp -H nosuch.invalid -p 80 -S",
    "check_http -H nosuch.invalid",
];

/// The output with the response time blanked: check_tcp and check_http give the
/// same text but for it.
fn untimed(output: &Value) -> String {
    let text = output.as_str().unwrap_or_default();
    let mut words: Vec<String> = text.split(' ').map(String::from).collect();
    for i in 1..words.len() {
        if words[i] == "second" && words[i - 1].contains('.') {
            words[i - 1] = "T".into();
        }
    }
    words.join(" ")
}

fn yaml_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `LOAD OK`, `DISK WARNING`, `PROCS OK`: the status line up to its state word.
fn prefix(output: &str) -> String {
    let head = output.split(" - ").next().unwrap_or_default();
    head.split(": ").next().unwrap_or_default().to_string()
}

/// Within `(share, slack)`: a share of the larger plus a constant.
fn close(a: &Value, b: &Value, (share, slack): (f64, f64)) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() <= share * a.abs().max(b.abs()) + slack,
        _ => a == b,
    }
}

fn same_perfdata(case: &str, builtin: &Value, plugin: &Value) {
    let (b, p) = (
        builtin["perfdata"].as_array(),
        plugin["perfdata"].as_array(),
    );
    let (b, p) = (b.expect("perfdata"), p.expect("perfdata"));
    let labels = |v: &[Value]| v.iter().map(|d| d["label"].clone()).collect::<Vec<_>>();
    assert_eq!(labels(b), labels(p), "{case}: labels");
    for (b, p) in b.iter().zip(p) {
        for field in ["uom", "warn", "crit", "min", "max"] {
            assert_eq!(b[field], p[field], "{case}: {} {field}", p["label"]);
        }
        // Values change between two reads (load moves, other programs write; on a
        // shared machine other jobs start and end hundreds of processes).
        let slack = if case.starts_with("check_procs") {
            (0.5, 20.0)
        } else {
            (0.25, 1.0)
        };
        assert!(close(&b["value"], &p["value"], slack), "{case}: {b} vs {p}");
    }
}

/// Starts smokerd with each case as a built-in `bI` and as the real plugin `pI`,
/// and forces all built-ins, then all plugins (`between` runs after each side):
/// the plugins' processes (and their zombies) are then not among what the
/// built-ins count. check_procs pairs run back to back at the end, so other jobs
/// on the machine change the counts little in between.
fn run_sides(cases: &[String], mut between: impl FnMut()) -> TestDaemon {
    let mut yaml = String::from("plugins:\n");
    let mut names = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let words: Vec<&str> = case.split_whitespace().collect();
        // D4: a lone `%` is literal in Argv as in Builtin (`-w 10%` pastes in).
        let mut argv = words.clone();
        let path = format!("{PLUGINS}/{}", words[0]);
        argv[0] = &path;
        yaml.push_str(&format!(
            "  b{i}: {{Builtin: {}, Timeout: 60}}\n",
            yaml_list(&words)
        ));
        yaml.push_str(&format!(
            "  p{i}: {{Argv: {}, Timeout: 60}}\n",
            yaml_list(&argv)
        ));
        names.push(format!("b{i}"));
        names.push(format!("p{i}"));
    }
    let d = TestDaemon::start(&yaml);
    let procs = |name: &String| {
        let i = name[1..].parse::<usize>().unwrap_or(0);
        cases[i].starts_with("check_procs")
    };
    for side in ["b", "p"] {
        let names: Vec<&str> = names
            .iter()
            .filter(|n| n.starts_with(side) && !procs(n))
            .map(String::as_str)
            .collect();
        d.force(&names);
        between();
    }
    for pair in names.chunks(2).filter(|pair| procs(&pair[0])) {
        d.force(&[pair[0].as_str()]);
        d.force(&[pair[1].as_str()]);
    }
    d
}

/// Asserts each case's built-in and plugin agree: state, status line prefix,
/// perfdata; for the network checks the whole text but the response time.
/// Returns the parity table.
fn compare(d: &TestDaemon, cases: &[String]) -> String {
    let mut table = String::new();
    for (i, case) in cases.iter().enumerate() {
        let builtin = d.last_result(&format!("b{i}"));
        let plugin = d.last_result(&format!("p{i}"));
        let (b_out, p_out) = (builtin["output"].as_str(), plugin["output"].as_str());
        let (b_out, p_out) = (b_out.unwrap_or_default(), p_out.unwrap_or_default());
        assert_eq!(
            builtin["state"], plugin["state"],
            "{case}:\n{b_out}\n{p_out}"
        );
        assert_eq!(prefix(b_out), prefix(p_out), "{case}");
        same_perfdata(case, &builtin, &plugin);
        if case.starts_with("check_http") || case.contains(" -S") || case.contains(" -D") {
            let (b, p) = (untimed(&builtin["output"]), untimed(&plugin["output"]));
            // OpenSSL prints its error stack in its own form after the line.
            let first = |t: &str| t.lines().next().unwrap_or_default().to_string();
            let (b, p) = if p.contains("Cannot make SSL") {
                (first(&b), first(&p))
            } else {
                (b, p)
            };
            assert_eq!(b, p, "{case}");
            if !p.contains("Cannot make SSL") {
                let long = |v: &Value| untimed(&v["longOutput"]);
                assert_eq!(long(&builtin), long(&plugin), "{case}");
            }
        }
        table.push_str(&format!("{case:50} {}\n", plugin["state"]));
    }
    table
}

#[test]
fn builtins_match_the_real_plugins() {
    // A 3-byte file last written 1000 s ago, for check_file_age.
    let files = temp_dir();
    let old = files.path().join("old");
    std::fs::write(&old, "hi\n").expect("write");
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(1000);
    let file = std::fs::File::options()
        .write(true)
        .open(&old)
        .expect("open");
    file.set_modified(then).expect("mtime");
    let old = old.display().to_string();
    // A listening port (connections wait in its backlog) and a closed one.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").port().to_string();
    let closed = crate::common::free_port().to_string();
    let cases: Vec<String> = CASES
        .iter()
        .map(|c| {
            c.replace("{old}", &old)
                .replace("{open}", &open)
                .replace("{closed}", &closed)
        })
        .collect();
    let d = run_sides(&cases, || {});
    eprintln!("{}", compare(&d, &cases));
    // A missing path gives the plugin's whole line.
    for missing in ["nonexistent", ".missing", "{closed}"] {
        let i = CASES.iter().position(|c| c.contains(missing));
        let i = i.expect("case");
        assert_eq!(
            d.last_result(&format!("b{i}"))["output"],
            d.last_result(&format!("p{i}"))["output"]
        );
    }
}

/// check_http and check_tcp -S/-D against a local HTTP server and `openssl
/// s_server`: same state, text and perfdata as the real plugins, and check_http's
/// request byte for byte.
#[test]
fn builtins_match_the_real_plugins_on_the_network() {
    let peers = crate::builtin_net::Peers::start();
    let closed = crate::common::free_port().to_string();
    let cases: Vec<String> = NET_CASES
        .iter()
        .map(|c| peers.substitute(c).replace("{closed}", &closed))
        .collect();
    let mut requests: Vec<Vec<String>> = Vec::new();
    let d = run_sides(&cases, || {
        let mut got = peers.requests();
        got.drain(..requests.iter().map(Vec::len).sum::<usize>());
        got.sort();
        requests.push(got);
    });
    eprintln!("{}", compare(&d, &cases));
    assert!(requests[0].len() >= 10, "{requests:?}");
    assert_eq!(requests[0], requests[1]);
    // A closed port gives the plugin's whole text.
    let i = NET_CASES.iter().position(|c| c.contains("{closed}"));
    let i = i.expect("case");
    let (b, p) = (
        d.last_result(&format!("b{i}")),
        d.last_result(&format!("p{i}")),
    );
    assert_eq!(b["output"], p["output"]);
    assert_eq!(b["longOutput"], p["longOutput"]);
}

/// A server that accepts and never answers: check_http and check_tcp -S are UNKNOWN
/// at the check's `Timeout` (shorter than their `-t`), counted as stuck meanwhile,
/// and another check keeps its schedule.
#[test]
fn a_silent_server_is_unknown_at_the_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let d = TestDaemon::start(&format!(
        "plugins:\n  \
         web: {{Builtin: 'check_http -I 127.0.0.1 -p {port} -t 30', Interval: 1, Timeout: 1}}\n  \
         tls: {{Builtin: 'check_tcp -H 127.0.0.1 -p {port} -S -t 30', Interval: 1, Timeout: 1}}\n  \
         load: {{Builtin: 'check_load -w 100 -c 200', Interval: 1}}\n"
    ));
    let unknown = |name: &str| d.last_result(name)["state"] == "UNKNOWN";
    let both = wait_until(std::time::Duration::from_secs(30), || {
        unknown("web") && unknown("tls")
    });
    assert!(both, "{} {}", d.last_result("web"), d.last_result("tls"));
    let web = d.last_result("web");
    assert!(
        web["output"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "{web}"
    );
    assert!(d.get_json("/healthz")["builtinStuck"].as_u64().unwrap_or(0) >= 1);
    let before = d.last_result("load")["lastRun"].clone();
    let moved = wait_until(std::time::Duration::from_secs(10), || {
        d.last_result("load")["lastRun"] != before
    });
    assert!(moved, "load stalled");
    drop(silent);
}

#[test]
fn check_memory_reads_mem_available() {
    let d = TestDaemon::start(
        "plugins:\n  mem: {Builtin: 'check_memory -w 0 -c 0'}\n  low: {Builtin: 'check_memory -w 100% -c 0%'}\n",
    );
    d.force(&["mem", "low"]);
    let mem = d.last_result("mem");
    assert_eq!(mem["state"], "OK", "{mem}");
    assert!(
        mem["output"]
            .as_str()
            .unwrap_or_default()
            .starts_with("MEMORY OK - ")
    );
    assert_eq!(mem["perfdata"][0]["label"], "available");
    assert_eq!(d.last_result("low")["state"], "WARNING");
}

/// A bad flag, a bad range, and uid on a built-in are errors at FILE:LINE:COL.
#[test]
fn bad_builtin_flags_are_config_errors() {
    let dir = temp_dir();
    let config = dir.path().join("smokerd.yaml");
    let yaml = "plugins:\n  a: {Builtin: [check_load, -w, '1', -c, '2', -Q]}\n  b: {Builtin: 'check_users -w 5:1'}\n  c:\n    Builtin: check_memory\n    uid: nobody\n  d: {Builtin: 'check_http -H a -f follow'}\n  e: {Builtin: 'check_tcp -H a -p 443 -D soon'}\n";
    std::fs::write(&config, yaml).expect("write");
    let path = config.to_str().expect("utf8");
    let (code, stdout, stderr) = run_bin("smokerd", &["check-config", "-c", path]);
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, 2, "{all}");
    assert!(all.contains(&format!("{path}:2:")), "{all}");
    assert!(
        all.contains("-Q") && all.contains("-w (--warning)"),
        "{all}"
    );
    assert!(
        all.contains(&format!("{path}:3:")) && all.contains("5:1"),
        "{all}"
    );
    assert!(
        all.contains(&format!("{path}:6:")) && all.contains("uid"),
        "{all}"
    );
    assert!(
        all.contains(&format!("{path}:7:"))
            && all.contains("-f")
            && all.contains("-C (--certificate)"),
        "{all}"
    );
    assert!(
        all.contains(&format!("{path}:8:")) && all.contains("soon"),
        "{all}"
    );
}

/// `import-nrpe` offers check_http and check_tcp -S/-D commands as built-ins
/// that smokerd accepts, and leaves one with a flag outside the set.
#[test]
fn import_nrpe_offers_the_network_builtins() {
    let dir = temp_dir();
    let cfg = dir.path().join("nrpe.cfg");
    let plugins = PLUGINS;
    std::fs::write(
        &cfg,
        format!(
            "ssl_enabled=0\n\
             command[web]={plugins}/check_http -H localhost -u /health -e 200 -s ok -w 1 -c 2\n\
             command[web_tls]={plugins}/check_http -I 127.0.0.1 -S -C 30,7\n\
             command[imap_tls]={plugins}/check_tcp -H localhost -p 993 -S -D 21\n\
             command[follow]={plugins}/check_http -H localhost -f follow\n"
        ),
    )
    .expect("write");
    let (code, yaml, err) = run_bin("smokerd", &["import-nrpe", cfg.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    for name in ["web", "web_tls", "imap_tls"] {
        assert!(
            yaml.contains(&format!("#   {name}: {{Builtin: [\"check_")),
            "{yaml}"
        );
    }
    assert!(yaml.contains("# Left as nrpe commands: follow\n"), "{yaml}");
    // Taken as offered, the built-ins load.
    let offered: String = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("#   ").filter(|l| l.contains("Builtin")))
        .map(|l| format!("  {l}\n"))
        .collect();
    let config = dir.path().join("smokerd.yaml");
    std::fs::write(&config, format!("plugins:\n{offered}")).expect("write");
    let (code, out, err) = run_bin(
        "smokerd",
        &["check-config", "-c", config.to_str().expect("utf8")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK: 3 plugins"), "{out}");
}

/// A FUSE mount whose server never answers: every stat/statvfs on it hangs until
/// the device is closed (then the mount is lazily detached).
struct HungMount {
    dir: tempfile::TempDir,
    device: Option<std::fs::File>,
}

impl HungMount {
    /// `None` where FUSE mounts cannot be made (not root, no /dev/fuse). The mount
    /// lives in a private mount namespace of this test process (nextest runs each
    /// test in its own), so only the smokerd started here sees it.
    fn new() -> Option<HungMount> {
        use nix::mount::MsFlags;
        use std::os::fd::AsRawFd;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).ok()?;
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>).ok()?;
        let device = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .ok()?;
        let dir = temp_dir();
        let options = format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            device.as_raw_fd()
        );
        nix::mount::mount(
            Some("smoker-hung"),
            dir.path(),
            Some("fuse.smokerhung"),
            nix::mount::MsFlags::empty(),
            Some(options.as_str()),
        )
        .ok()?;
        Some(HungMount {
            dir,
            device: Some(device),
        })
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        self.device.take();
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A statvfs stuck on a hung mount is UNKNOWN at its Timeout, is counted in
/// /healthz, and every other check keeps its schedule.
#[test]
fn a_hung_statvfs_leaves_other_checks_on_schedule() {
    let Some(hung) = HungMount::new() else {
        eprintln!("skipped: cannot mount FUSE here");
        return;
    };
    let path = hung.dir.path().display().to_string();
    let d = TestDaemon::start(&format!(
        "plugins:\n  hung: {{Builtin: 'check_disk -w 10% -c 5% -p {path}', Interval: 1, Timeout: 1}}\n  \
         load: {{Builtin: 'check_load -w 100 -c 200', Interval: 1, History: 100}}\n  \
         root: {{Builtin: 'check_disk -w 1% -c 1% -p /', Interval: 1, History: 100}}\n"
    ));
    let stuck = wait_until(std::time::Duration::from_secs(30), || {
        d.get_json("/healthz")["builtinStuck"].as_u64().unwrap_or(0) >= 2
    });
    assert!(stuck, "{}", d.get_json("/healthz"));
    let hung_result = d.last_result("hung");
    assert_eq!(hung_result["state"], "UNKNOWN", "{hung_result}");
    assert!(
        hung_result["output"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "{hung_result}"
    );
    // The others ran about once a second all along.
    let history = |name: &str| d.get_json(&format!("/v2/plugins/{name}/runs"));
    for name in ["load", "root"] {
        let before = d.last_result(name)["lastRun"].clone();
        let moved = wait_until(std::time::Duration::from_secs(10), || {
            d.last_result(name)["lastRun"] != before
        });
        assert!(moved, "{name} stalled: {}", history(name));
        assert_eq!(d.last_result(name)["state"], "OK");
    }
    let health = d.get_json("/healthz");
    let stuck = health["builtinStuck"].as_u64().unwrap_or(0);
    assert!((2..=16).contains(&stuck), "{health}");
    // Threads stuck in the kernel do not hold up a clean stop.
    let mut d = d;
    let status = d.stop_within(std::time::Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        d.stderr()
    );
    drop(hung);
}

/// This test process in its own mount and network namespaces, with an empty tmpfs over
/// each of `hide`; `false` where that cannot be done (not root).
fn private_namespaces(hide: &[&str]) -> bool {
    use nix::{mount::MsFlags, sched::CloneFlags};
    let flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET;
    if nix::sched::unshare(flags).is_err() {
        return false;
    }
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    let none = None::<&str>;
    if nix::mount::mount(none, "/", none, private, none).is_err() {
        return false;
    }
    for dir in hide {
        if std::path::Path::new(dir).is_dir() {
            let hidden =
                nix::mount::mount(Some("tmpfs"), *dir, Some("tmpfs"), MsFlags::empty(), none);
            assert!(hidden.is_ok(), "hide {dir}: {hidden:?}");
        }
    }
    let (code, _, err) =
        run_cmd(std::process::Command::new("ip").args(["link", "set", "lo", "up"]));
    code == 0 || panic!("ip link set lo up: {err}")
}

/// README command 1 on a host without any plugin package: the embedded default
/// config's checks all give real values, none UNKNOWN.
#[test]
fn readme_command_1_needs_no_plugin_package() {
    if !private_namespaces(&["/usr/lib/nagios/plugins", "/etc/smokerd"]) {
        eprintln!("skipped: cannot make private namespaces here");
        return;
    }
    assert!(!std::path::Path::new("/usr/lib/nagios/plugins/check_load").exists());
    let mut daemon = std::process::Command::new(bin("smokerd"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("smokerd");
    let up = wait_until(std::time::Duration::from_secs(30), || {
        std::net::TcpStream::connect("127.0.0.1:8086").is_ok()
    });
    let (code, out, err) =
        run_cmd(std::process::Command::new(bin("smokercli")).args(["-f", "-o", "long"]));
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(up, "smokerd did not listen on 127.0.0.1:8086");
    assert!(
        !out.contains("UNKNOWN") && !out.contains("not installed"),
        "{out}\n{err}"
    );
    for name in [
        "load",
        "memory",
        "swap",
        "disk_root",
        "procs",
        "zombies",
        "users",
    ] {
        assert!(
            out.contains(name),
            "{name} missing (exit {code}):\n{out}\n{err}"
        );
    }
    for word in ["LOAD ", "MEMORY ", "SWAP OK", "DISK ", "PROCS ", "USERS "] {
        assert!(out.contains(word), "{word} missing:\n{out}");
    }
}

/// A 1000-block tmpfs (1000 inodes) with `blocks` blocks and `inodes` inodes in use.
fn filled_tmpfs(blocks: usize, inodes: usize) -> tempfile::TempDir {
    let dir = temp_dir();
    nix::mount::mount(
        Some("tmpfs"),
        dir.path(),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=4000k,nr_inodes=1000"),
    )
    .expect("mount tmpfs");
    std::fs::write(dir.path().join("data"), vec![0u8; blocks * 4096]).expect("fill");
    // The root directory and the data file use two inodes.
    for i in 2..inodes {
        std::fs::write(dir.path().join(format!("f{i}")), "").expect("inode");
    }
    dir
}

/// check_disk at threshold boundaries, on tmpfs mounts filled to exact fractions in a
/// private mount namespace (only this test's smokerd sees them): the built-in gives
/// the real plugin's state, where used is rounded up to a whole percent (10.5 % free
/// is 10 %, 5.6 % free is 5 %).
#[test]
fn check_disk_boundaries_are_the_plugins() {
    use nix::mount::MsFlags;
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err()
        || nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>).is_err()
    {
        eprintln!("skipped: no private mount namespace here");
        return;
    }
    // (blocks used, inodes used, flags, state)
    let cases = [
        (895, 10, "-w 10% -c 5%", "WARNING"),
        (900, 10, "-w 10% -c 5%", "WARNING"),
        (899, 10, "-w 10% -c 5%", "WARNING"),
        (889, 10, "-w 10% -c 5%", "OK"),
        (944, 10, "-w 10% -c 5%", "CRITICAL"),
        (940, 10, "-w 10% -c 5%", "WARNING"),
        (10, 895, "-W 10% -K 5%", "WARNING"),
        (10, 944, "-W 10% -K 5%", "CRITICAL"),
        (10, 889, "-W 10% -K 5%", "OK"),
        (895, 10, "-u kB -w 400k -c 200", "OK"),
        (900, 10, "-u kB -w 400k -c 200", "WARNING"),
        (950, 10, "-u kB -w 400k -c 200", "CRITICAL"),
    ];
    let mounts: Vec<_> = cases.iter().map(|c| filled_tmpfs(c.0, c.1)).collect();
    let mut yaml = String::from("plugins:\n");
    for (i, ((_, _, flags, _), dir)) in cases.iter().zip(&mounts).enumerate() {
        let words = format!("check_disk {flags} -p {}", dir.path().display());
        let words: Vec<&str> = words.split_whitespace().collect();
        let mut argv = words.clone();
        let path = format!("{PLUGINS}/check_disk");
        argv[0] = &path;
        yaml.push_str(&format!("  b{i}: {{Builtin: {}}}\n", yaml_list(&words)));
        yaml.push_str(&format!("  p{i}: {{Argv: {}}}\n", yaml_list(&argv)));
    }
    let d = TestDaemon::start(&yaml);
    let names: Vec<String> = (0..cases.len())
        .flat_map(|i| [format!("b{i}"), format!("p{i}")])
        .collect();
    d.force(&names.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, (blocks, inodes, flags, state)) in cases.iter().enumerate() {
        let (b, p) = (
            d.last_result(&format!("b{i}")),
            d.last_result(&format!("p{i}")),
        );
        let case = format!("{flags} with {blocks} blocks, {inodes} inodes used");
        assert_eq!(p["state"], *state, "{case}: the plugin: {p}");
        assert_eq!(b["state"], p["state"], "{case}: {b} vs {p}");
        // Nothing moves on these mounts: the whole line and perfdata are the same.
        let path = mounts[i].path().display().to_string();
        assert_eq!(b["output"], p["output"], "{case}");
        let (bp, pp) = (b["perfdata"].to_string(), p["perfdata"].to_string());
        assert_eq!(bp.replace(&path, ""), pp.replace(&path, ""), "{case}");
    }
    for m in &mounts {
        let _ = nix::mount::umount2(m.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}
