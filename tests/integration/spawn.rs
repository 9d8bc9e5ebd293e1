//! Children start with default signal dispositions and an empty signal mask (issue 18),
//! whatever smokerd inherited, on std's `posix_spawn` path (`Argv:` and `Command:`);
//! smokerd's own threads block SIGCHLD and nothing else (`sys::block_child_signal`), and take
//! a short time slice that children do not inherit (`sys::short_slice`).

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use crate::common::{TestDaemon, bin, free_port, http, temp_dir, wait_until};

/// `SigBlk` and `SigIgn` of a status file, as `SigBlk:HEX SigIgn:HEX`.
const AWK: &str = "/^Sig(Blk|Ign)/ { x = x $1 $2 FS } END { print x }";

/// `argv` started the way a careless parent would: SIGUSR1 blocked in its mask,
/// SIGQUIT and SIGUSR2 ignored (a shell's `trap ''`, kept across exec).
fn spawn_with_dirty_signals(argv: Vec<std::ffi::OsString>, stdout: Stdio) -> Child {
    std::thread::spawn(move || {
        let mut blocked = SigSet::empty();
        blocked.add(Signal::SIGUSR1);
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None).expect("sigmask");
        Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"trap '' QUIT USR2; exec "$@""#)
            .arg("sh")
            .args(argv)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    })
    .join()
    .expect("spawner thread")
}

/// The directory of each thread of process `pid` (`/proc/PID/task/TID`).
fn threads_of(pid: u32) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| tasks.flatten().map(|t| t.path()).collect())
        .unwrap_or_default()
}

/// The `SigBlk`/`SigIgn` fields of a `/proc/PID/task/TID/status`.
fn status_signals_of(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("SigBlk") || l.starts_with("SigIgn"))
        .map(|l| l.split_whitespace().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn children_start_with_default_signals_and_an_empty_mask() {
    let dir = temp_dir();
    let port = free_port();
    let config = dir.path().join("smokerd.yaml");
    let yaml = format!(
        "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}/state\n\
         templates:\n  BasePlugin: {{Interval: 0, Timeout: 20}}\nplugins:\n\
         \x20 argv: {{Argv: [/usr/bin/awk, '{AWK}', /proc/self/status]}}\n\
         \x20 shell: {{Command: \"/usr/bin/awk '{AWK}' /proc/self/status\"}}\n",
        dir.path().display()
    );
    std::fs::write(&config, yaml).expect("config");
    // The setup holds: a program started this way inherits the blocked SIGUSR1 (0x200)
    // and the ignored SIGQUIT (0x4) and SIGUSR2 (0x800).
    let probe = spawn_with_dirty_signals(
        ["/usr/bin/awk", AWK, "/proc/self/status"]
            .map(Into::into)
            .to_vec(),
        Stdio::piped(),
    )
    .wait_with_output()
    .expect("probe");
    let probe = String::from_utf8_lossy(&probe.stdout);
    let ignored = probe
        .split("SigIgn:")
        .nth(1)
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    assert!(
        probe.contains("SigBlk:0000000000000200") && ignored & 0x804 == 0x804,
        "the test's parent state does not reach a child: {probe}"
    );
    let mut daemon = spawn_with_dirty_signals(
        vec![bin("smokerd").into(), "-c".into(), config.clone().into()],
        Stdio::null(),
    );
    let up = wait_until(Duration::from_secs(20), || {
        http(port, "GET", "/", None).is_ok_and(|r| r.status == 200)
    });
    // Every thread of smokerd blocks SIGCHLD only: the SIGUSR1 its parent left blocked
    // is gone (a parent's mask must not keep SIGTERM out). glibc blocks every signal
    // for a moment in a thread that starts a thread or a process, so the reading is
    // repeated until no thread is inside such a call.
    let read_threads = || -> Vec<String> {
        threads_of(daemon.id())
            .iter()
            .map(|t| status_signals_of(&t.join("status")))
            .collect()
    };
    let mut threads = read_threads();
    wait_until(Duration::from_secs(10), || {
        threads = read_threads();
        threads.len() >= 3
            && threads
                .iter()
                .all(|t| t.contains("SigBlk:0000000000010000"))
    });
    let outputs = up.then(|| {
        let body = r#"{"process": {"plugins": ["argv", "shell"]}}"#;
        let r = http(port, "POST", "/processes", Some(body)).expect("POST /processes");
        assert_eq!(r.status, 202, "{}", r.body);
        let poll = r.json()["asyncTask"]["link"]["poll"]
            .as_str()
            .expect("poll link")
            .to_string();
        let done = wait_until(Duration::from_secs(60), || {
            http(port, "GET", &poll, None).is_ok_and(|r| r.status == 200)
        });
        assert!(done, "forced run did not finish");
        ["argv", "shell"].map(|name| {
            let r = http(port, "GET", &format!("/plugins/{name}"), None).expect("GET");
            r.json()["plugin"]["lastResult"]["output"].to_string()
        })
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(up, "smokerd did not come up");
    assert!(threads.len() >= 3, "{threads:?}");
    for thread in &threads {
        assert!(
            thread.contains("SigBlk:0000000000010000"),
            "a thread of smokerd blocks more or less than SIGCHLD: {threads:?}"
        );
    }
    for output in outputs.expect("outputs") {
        let field = |name: &str| {
            let hex = output.split(&format!("{name}:")).nth(1).unwrap_or("");
            u64::from_str_radix(&hex[..hex.len().min(16)], 16)
                .unwrap_or_else(|_| panic!("no {name} in {output}"))
        };
        assert_eq!(
            field("SigBlk"),
            0,
            "a child inherited a blocked signal: {output}"
        );
        // glibc's posix_spawn leaves its own internal signals (32 SIGCANCEL, 33 SIGSETXID)
        // ignored in every child it starts; a program's signals are all at their default.
        assert_eq!(
            field("SigIgn") & !GLIBC_INTERNAL,
            0,
            "a child inherited an ignored signal: {output}"
        );
    }
}

/// Signals 32 and 33 as `SigIgn` bits.
const GLIBC_INTERNAL: u64 = (1 << 31) | (1 << 32);

/// `se.slice` of a `/proc/…/sched` file, in nanoseconds.
fn slice_of(path: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with("se.slice"))?
        .rsplit(' ')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether the kernel takes a custom slice for a fair task (EEVDF's, Linux 6.12).
fn custom_slices() -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (6, 12)
}

#[test]
fn smokerd_threads_take_a_short_slice_and_children_the_default() {
    let default = slice_of("/proc/thread-self/sched".as_ref());
    let Some(default) = default.filter(|_| custom_slices()) else {
        eprintln!("skipped: this kernel shows no se.slice or takes no custom slice (< 6.12)");
        return;
    };
    let awk = "/^se.slice/ { print $3 }";
    let daemon = TestDaemon::start(&format!(
        "templates:\n  BasePlugin: {{Interval: 0, Timeout: 20}}\nplugins:\n\
         \x20 slice: {{Argv: [/usr/bin/awk, '{awk}', /proc/self/sched]}}\n"
    ));
    // The main thread and every runtime thread: `sys::SHORT_SLICE_NS`.
    let threads: Vec<(String, Option<u64>)> = threads_of(daemon.pid())
        .iter()
        .map(|t| {
            let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default();
            (comm.trim().to_string(), slice_of(&t.join("sched")))
        })
        .collect();
    let short: Vec<_> = threads
        .iter()
        .filter(|(comm, _)| comm == "smokerd" || comm == "tokio-rt-worker")
        .collect();
    assert!(short.len() >= 2, "{threads:?}");
    assert!(
        short.iter().all(|(_, slice)| *slice == Some(100_000)),
        "a thread of smokerd has not the short slice: {threads:?}"
    );
    // A plugin starts with the default slice (reset-on-fork), like the test's own thread.
    daemon.force(&["slice"]);
    let output = daemon.last_result("slice")["output"].clone();
    assert_eq!(
        output.as_str().map(str::trim),
        Some(default.to_string().as_str()),
        "a plugin inherited smokerd's slice: {output}"
    );
}
