//! NSCA interop: the real Debian `nsca` 2.10 daemon receives from our
//! `smokercli send-nsca` (and the `send_nsca` argv[0] name) and from the real
//! `send_nsca`, for every cipher smoker supports; the command-file lines
//! (timestamps aside), stdout, stderr and exit codes must be identical.

use std::{
    io::Write,
    net::{TcpListener, TcpStream},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const NSCA: &str = "/usr/sbin/nsca";
const SEND_NSCA: &str = "/usr/sbin/send_nsca";
pub(crate) const PASSWORD: &str =
    "s3cr3t pass-phrase that is longer than 56 bytes for blowfish keys!";
const METHODS: [u8; 7] = [0, 1, 2, 3, 4, 8, 14];

fn smokercli() -> &'static str {
    env!("CARGO_BIN_EXE_smokercli")
}

use crate::common::free_port;

/// A real nsca in the foreground (`--single`), killed on drop.
pub(crate) struct NscaServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl NscaServer {
    fn start(method: u8) -> NscaServer {
        NscaServer::start_on(free_port(), method)
    }

    pub(crate) fn start_on(port: u16, method: u8) -> NscaServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let cmd = dir.path().join("cmd");
        std::fs::write(&cmd, "").unwrap();
        std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o666)).unwrap();
        let d = dir.path().display();
        let cfg = format!(
            "server_port={port}\nserver_address=127.0.0.1\nnsca_user=nagios\nnsca_group=nogroup\n\
             pid_file={d}/nsca.pid\ncommand_file={d}/cmd\nalternate_dump_file={d}/dump\n\
             append_to_file=1\naggregate_writes=0\nmax_packet_age=30\ndebug=0\n\
             password={PASSWORD}\ndecryption_method={method}\n"
        );
        let cfg_path = dir.path().join("nsca.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        std::fs::set_permissions(&cfg_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let child = Command::new(NSCA)
            .arg("-c")
            .arg(&cfg_path)
            .args(["-f", "--single"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nsca");
        let server = NscaServer { dir, port, child };
        // Wait until it listens: a probe connection gets the init packet.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "nsca did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The command-file lines so far, without timestamps.
    pub(crate) fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&std::fs::read(self.cmd_file()).unwrap()).into_owned();
        text.lines().map(strip_timestamp).collect()
    }

    fn cmd_file(&self) -> PathBuf {
        self.dir.path().join("cmd")
    }

    /// Waits for `n` complete lines in the command file, returns them without
    /// the `[timestamp] ` prefix and empties the file.
    fn take_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read(self.cmd_file()).unwrap();
            let text = String::from_utf8_lossy(&text).into_owned();
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            if lines.len() >= n && (n == 0 || text.ends_with('\n')) || Instant::now() > deadline {
                // Give a straggler a moment to show up so extra lines fail the test.
                std::thread::sleep(Duration::from_millis(100));
                let text =
                    String::from_utf8_lossy(&std::fs::read(self.cmd_file()).unwrap()).into_owned();
                std::fs::write(self.cmd_file(), "").unwrap();
                return text.split_terminator('\n').map(strip_timestamp).collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NscaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_timestamp(line: &str) -> String {
    match line.split_once("] ") {
        Some((ts, rest)) if ts.starts_with('[') => rest.to_string(),
        _ => line.to_string(),
    }
}

fn send_nsca_cfg(dir: &Path, method: u8, extra: &str) -> PathBuf {
    let p = dir.join(format!("send_nsca-{method}.cfg"));
    std::fs::write(
        &p,
        format!("password={PASSWORD}\nencryption_method={method}\n{extra}"),
    )
    .unwrap();
    p
}

/// Runs a sender with `input` on stdin; every run has a hard deadline.
fn run(program: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    writer.join().unwrap();
    child.wait_with_output().unwrap()
}

fn ours(args: &[&str], input: &[u8]) -> Output {
    let mut all = vec!["send-nsca"];
    all.extend_from_slice(args);
    run(smokercli(), &all, input)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The input of the interop runs: service and host checks, several records,
/// newlines and backslashes, `;`, UTF-8, over-long fields, skipped records.
fn interop_input() -> (Vec<u8>, usize) {
    let long_host = "h".repeat(100);
    let long_svc = "s".repeat(200);
    let long_out = format!("{}{}", "o".repeat(4000), "x".repeat(500));
    let records = [
        "web-1\tdisk /\t2\tDISK CRITICAL - 3% free | /=97%;80;90;0;100".to_string(),
        "web-1\t0\tPING OK - rta 0.1 ms".to_string(),
        "web-1\tmulti\t1\tfirst line\nsecond \\ line\\n\nthird;semi".to_string(),
        "web-2\tunicode\t3\tÜnïcødé ✓ output".to_string(),
        format!("{long_host}\t{long_svc}\t1\t{long_out}"),
        "skipped\tonly-two".to_string(),
        "   ".to_string(),
        "web-3\tgarbage-rc\tabc\tstill sent with rc 0\t\n".to_string(),
        "web-4\t\t\tdup\t\tdelims\t\tkept in output".to_string(),
    ];
    (records.join("\x17").into_bytes(), 7)
}

#[test]
fn identical_command_lines_for_every_cipher() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, n) = interop_input();
    for method in METHODS {
        let server = NscaServer::start(method);
        let cfg = send_nsca_cfg(tmp.path(), method, "");
        let port = server.port.to_string();
        let args = ["-H", "127.0.0.1", "-p", &port, "-c", cfg.to_str().unwrap()];

        let theirs = run(SEND_NSCA, &args, &input);
        let their_lines = server.take_lines(n);
        let mine = ours(&args, &input);
        let my_lines = server.take_lines(n);

        assert_eq!(
            text(&theirs.stdout),
            "7 data packet(s) sent to host successfully.\n",
            "method {method}"
        );
        assert_eq!(
            their_lines.len(),
            n,
            "method {method}: real send_nsca lines {their_lines:#?}"
        );
        assert_eq!(text(&mine.stdout), text(&theirs.stdout), "method {method}");
        assert_eq!(text(&mine.stderr), text(&theirs.stderr), "method {method}");
        assert_eq!(mine.status.code(), theirs.status.code(), "method {method}");
        assert_eq!(my_lines, their_lines, "method {method}");
        assert!(
            my_lines[0].starts_with("PROCESS_SERVICE_CHECK_RESULT;web-1;disk /;2;DISK CRITICAL")
        );
        assert_eq!(
            my_lines[1],
            "PROCESS_HOST_CHECK_RESULT;web-1;0;PING OK - rta 0.1 ms"
        );
        assert_eq!(
            my_lines[2],
            "PROCESS_SERVICE_CHECK_RESULT;web-1;multi;1;first line\\nsecond \\\\ line\\\\n\\nthird;semi"
        );
        assert_eq!(
            my_lines[3],
            "PROCESS_SERVICE_CHECK_RESULT;web-2;unicode;3;Ünïcødé ✓ output"
        );
        let long = format!(
            "PROCESS_SERVICE_CHECK_RESULT;{};{};1;{}{}",
            "h".repeat(63),
            "s".repeat(127),
            "o".repeat(4000),
            "x".repeat(95)
        );
        assert_eq!(my_lines[4], long, "fields cut to 63/127/4095 bytes");
        assert_eq!(
            my_lines[5],
            "PROCESS_SERVICE_CHECK_RESULT;web-3;garbage-rc;0;still sent with rc 0"
        );
        assert_eq!(
            my_lines[6],
            "PROCESS_SERVICE_CHECK_RESULT;web-4;dup;0;\tkept in output"
        );
    }
}

#[test]
fn quiet_legacy_and_delimiters_match() {
    let tmp = tempfile::tempdir().unwrap();
    let server = NscaServer::start(3);
    let cfg = send_nsca_cfg(tmp.path(), 3, "");
    let port = server.port.to_string();
    let c = cfg.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &[u8], usize)> = vec![
        (
            vec!["127.0.0.1", "-p", &port, "-c", c, "--quiet"],
            b"h\ts\t1\tquiet",
            1,
        ),
        (
            vec!["-H", "127.0.0.1", "-p", &port, "-c", c, "--legacy-2-7-mode"],
            b"h\ts\t2\tlegacy",
            1,
        ),
        (
            vec![
                "-H",
                "127.0.0.1",
                "-p",
                &port,
                "-c",
                c,
                "-d",
                "0x2c",
                "-ds",
                "10",
            ],
            b"h,s,1,a,b\nh2,0,up\n",
            2,
        ),
        (
            vec!["-H", "127.0.0.1", "-p", &port, "-c", c, "-d", ";"],
            b"h;s;1;one\x17h;s;2;two",
            2,
        ),
    ];
    for (args, input, n) in cases {
        let theirs = run(SEND_NSCA, &args, input);
        let their_lines = server.take_lines(n);
        let mine = ours(&args, input);
        let my_lines = server.take_lines(n);
        assert_eq!(their_lines.len(), n, "{args:?}");
        assert_eq!(my_lines, their_lines, "{args:?}");
        assert_eq!(text(&mine.stdout), text(&theirs.stdout), "{args:?}");
        assert_eq!(mine.status.code(), theirs.status.code(), "{args:?}");
    }
}

#[test]
fn error_cases_match() {
    let tmp = tempfile::tempdir().unwrap();
    let server = NscaServer::start(1);
    let cfg = send_nsca_cfg(tmp.path(), 1, "");
    let c = cfg.to_str().unwrap();
    let port = server.port.to_string();
    let closed = free_port().to_string();
    let too_long = [b"h0\ts\t1\tfirst\x17h\ts\t1\t".as_slice(), &[b'x'; 6000]].concat();
    let bad_cfg = tmp.path().join("bad.cfg");
    std::fs::write(&bad_cfg, "password=x\nencryption_method=13\n").unwrap();
    let b = bad_cfg.to_str().unwrap();
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        (
            "connection refused",
            vec!["-H", "127.0.0.1", "-p", &closed, "-c", c],
            b"h\ts\t1\tx",
        ),
        (
            "no input",
            vec!["-H", "127.0.0.1", "-p", &port, "-c", c],
            b"",
        ),
        (
            "only skipped records",
            vec!["-H", "127.0.0.1", "-p", &port, "-c", c],
            b"a\tb\x17c",
        ),
        (
            "input too long",
            vec!["-H", "127.0.0.1", "-p", &port, "-c", c],
            &too_long,
        ),
        (
            "missing config",
            vec![
                "-H",
                "127.0.0.1",
                "-p",
                &port,
                "-c",
                "/nonexistent/send_nsca.cfg",
            ],
            b"",
        ),
        (
            "invalid method",
            vec!["-H", "127.0.0.1", "-p", &port, "-c", b],
            b"",
        ),
    ];
    for (name, args, input) in cases {
        let theirs = run(SEND_NSCA, &args, input);
        let their_lines = server.take_lines(0);
        let mine = ours(&args, input);
        let my_lines = server.take_lines(0);
        assert_eq!(text(&mine.stdout), text(&theirs.stdout), "{name}");
        assert_eq!(text(&mine.stderr), text(&theirs.stderr), "{name}");
        assert_eq!(mine.status.code(), theirs.status.code(), "{name}");
        assert_eq!(my_lines, their_lines, "{name}");
    }
    // Spot-check the values themselves, not only the equality.
    let refused = ours(&["-H", "127.0.0.1", "-p", &closed, "-c", c], b"");
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        text(&refused.stderr),
        format!(
            "Connection refused by host\nError: Could not connect to host 127.0.0.1 on port {closed}\n"
        )
    );
    let long = ours(&["-H", "127.0.0.1", "-p", &port, "-c", c], &too_long);
    assert_eq!(long.status.code(), Some(255));
    assert_eq!(
        server.take_lines(1),
        vec!["PROCESS_SERVICE_CHECK_RESULT;h0;s;1;first".to_string()]
    );
    // Usage errors: exit 3 and the same stderr line (the help text is ours).
    let theirs = run(SEND_NSCA, &["-H", "127.0.0.1", "-x"], b"");
    let mine = ours(&["-H", "127.0.0.1", "-x"], b"");
    assert_eq!(
        (mine.status.code(), text(&mine.stderr)),
        (theirs.status.code(), text(&theirs.stderr))
    );
    assert_eq!(mine.status.code(), Some(3));
}

#[test]
fn argv0_send_nsca_name() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("send_nsca");
    std::os::unix::fs::symlink(smokercli(), &link).unwrap();
    let server = NscaServer::start(14);
    let cfg = send_nsca_cfg(tmp.path(), 14, "");
    let port = server.port.to_string();
    let out = run(
        link.to_str().unwrap(),
        &["127.0.0.1", "-p", &port, "-c", cfg.to_str().unwrap()],
        b"h\tsvc\t0\tvia argv0",
    );
    assert_eq!(
        text(&out.stdout),
        "1 data packet(s) sent to host successfully.\n"
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        server.take_lines(1),
        vec!["PROCESS_SERVICE_CHECK_RESULT;h;svc;0;via argv0".to_string()]
    );
}

#[test]
fn timeout_on_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = send_nsca_cfg(tmp.path(), 1, "");
    let args = [
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-to",
        "1",
        "-c",
        cfg.to_str().unwrap(),
    ];
    let theirs = run(SEND_NSCA, &args, b"h\ts\t1\tx");
    let started = Instant::now();
    let mine = ours(&args, b"h\ts\t1\tx");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(text(&mine.stderr), "Error: Timeout after 1 seconds\n");
    assert_eq!(
        (mine.status.code(), text(&mine.stderr)),
        (theirs.status.code(), text(&theirs.stderr))
    );
    drop(listener);
}

/// The durable sink against the real nsca: results queued while nsca is down
/// arrive in order once it is up, and again across a second outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_delivers_in_order_across_outages() {
    use smoker::nsca::{Settings, sink};
    use smoker_compat::{nsca::PacketFormat, nsca_cipher::Method};

    let state = tempfile::tempdir().unwrap();
    let durable = smoker::store::durable::Durable::open_in(state.path()).unwrap();
    let port = free_port();
    let push = |range: std::ops::Range<usize>| {
        for i in range {
            let q = sink::Queued {
                host_name: "web-1".into(),
                service: if i % 10 == 0 {
                    String::new()
                } else {
                    "svc".into()
                },
                return_code: (i % 4) as i16,
                output: format!("result {i}\nlong | x={i}"),
            };
            durable.spool_push("nagios", q.to_payload());
        }
    };
    let expected = |i: usize| {
        if i % 10 == 0 {
            format!(
                "PROCESS_HOST_CHECK_RESULT;web-1;{};result {i}\\nlong | x={i}",
                i % 4
            )
        } else {
            format!(
                "PROCESS_SERVICE_CHECK_RESULT;web-1;svc;{};result {i}\\nlong | x={i}",
                i % 4
            )
        }
    };
    push(0..300);
    let target = Settings {
        host: "127.0.0.1".into(),
        port,
        method: Method::TripleDes,
        password: PASSWORD.as_bytes().to_vec(),
        format: PacketFormat::V3,
        timeout: Duration::from_secs(2),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let task = sink::spawn(durable.clone(), "nagios".into(), target, None, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;

    let server = tokio::task::spawn_blocking(move || NscaServer::start_on(port, 3))
        .await
        .unwrap();
    let (server, lines) = tokio::task::spawn_blocking(move || {
        let l = server.take_lines(300);
        (server, l)
    })
    .await
    .unwrap();
    assert_eq!(lines, (0..300).map(expected).collect::<Vec<_>>());

    // Second outage: nsca killed, more results queued, nsca back on the same port.
    drop(server);
    push(300..400);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server = tokio::task::spawn_blocking(move || NscaServer::start_on(port, 3))
        .await
        .unwrap();
    let lines = tokio::task::spawn_blocking(move || server.take_lines(100))
        .await
        .unwrap();
    assert_eq!(lines, (300..400).map(expected).collect::<Vec<_>>());

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    durable.flush().await.unwrap();
    assert_eq!(
        durable.spool_stats().results,
        0,
        "delivered entries are deleted"
    );
}

/// The seq numbers of `tick` results in command-file lines.
pub(crate) fn seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("PROCESS_SERVICE_CHECK_RESULT;web-1;tick;0;seq "))
        .map(|n| n.parse().unwrap())
        .collect()
}

/// D5 outage test: nsca down for 30 s and a `kill -9` of smokerd while results
/// are queued; once nsca is back every committed result arrives, in check order
/// (duplicates allowed).
#[test]
fn daemon_outage_and_kill9_lose_nothing() {
    use crate::common::TestDaemon;

    let port = free_port();
    let yaml = format!(
        "state_dir: {{dir}}/state
actions:
  nagios:
    Nsca:
      host: 127.0.0.1
      port: {port}
      password: \"{PASSWORD}\"
      encryption: 3des
      host_name: web-1
default_actions: [nagios]
plugins:
  tick:
    Command: \"n=$(cat {{dir}}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{dir}}/n; echo seq $n\"
    Interval: 1
"
    );
    let first = NscaServer::start_on(port, 3);
    let mut daemon = TestDaemon::start(&yaml);
    let last_seq = |d: &TestDaemon| -> u64 {
        let out = d.last_result("tick")["output"]
            .as_str()
            .unwrap_or("")
            .to_string();
        out.strip_prefix("seq ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        crate::common::wait_until(Duration::from_secs(20), || seqs(&first.lines()).len() >= 2),
        "no delivery while nsca is up; smokerd stderr:\n{}",
        daemon.stderr()
    );
    let r = daemon.last_result("tick");
    assert_eq!(r["action"]["status"], "OK", "{r}");
    assert_eq!(
        r["action"]["messages"]["info"][0], "queued for nagios",
        "{r}"
    );

    // Outage: nsca gone for 30 s, smokerd killed with SIGKILL in the middle.
    let before = seqs(&first.lines());
    drop(first);
    std::thread::sleep(Duration::from_secs(20));
    let known = last_seq(&daemon);
    // Past the group-commit window (D5: ≤100 ms), everything known is committed.
    std::thread::sleep(Duration::from_millis(400));
    daemon.kill9();
    daemon.restart();
    std::thread::sleep(Duration::from_secs(10));
    let after_restart = last_seq(&daemon);
    assert!(after_restart > known, "checks run again after the restart");

    let second = NscaServer::start_on(port, 3);
    let delivered = crate::common::wait_until(Duration::from_secs(60), || {
        seqs(&second.lines()).contains(&after_restart)
    });
    let got = seqs(&second.lines());
    assert!(
        delivered,
        "seq {after_restart} never arrived; got {got:?}; stderr:\n{}",
        daemon.stderr()
    );
    let all: std::collections::BTreeSet<u64> = before.iter().chain(&got).copied().collect();
    let missing: Vec<u64> = (1..=known).filter(|n| !all.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "lost results {missing:?} (known up to {known}); got {got:?}"
    );
    // In check order: without duplicates the stream is increasing.
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u64> = got.iter().copied().filter(|n| seen.insert(*n)).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "out of order: {got:?}"
    );
    assert!(known >= 20, "the outage queued results ({known})");
}
