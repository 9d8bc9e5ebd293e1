//! Hostile clients (issue 10): garbage, truncated and oversized input at the live
//! API and NRPE listeners, idle-connection floods, token scopes and HTTPS with
//! smokercli; the daemon must keep answering correctly and not grow.

use std::{
    io::Write,
    net::TcpStream,
    os::unix::fs::PermissionsExt,
    process::{Child, Command},
    time::{Duration, Instant},
};

use smoker_compat::nrpe_packet::{self, QUERY, Version};

use crate::common::{
    TestDaemon, bin, exchange, free_port, http, spawn_smokerd, temp_dir, wait_until,
};

/// xorshift64*: deterministic garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Writes `data`, half-closes, and reads what comes back (bounded).
fn send_raw(port: u16, data: &[u8]) -> Vec<u8> {
    exchange(std::net::SocketAddr::from(([127, 0, 0, 1], port)), data)
}

fn status_of(raw: &[u8]) -> u16 {
    String::from_utf8_lossy(raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const CHECKS: &str = "plugins:\n  echo: {Command: 'echo OK - fine | x=1'}\n";

#[test]
fn garbage_oversized_and_idle_floods_leave_the_api_answering() {
    let daemon = TestDaemon::start(CHECKS);
    let port = daemon.port;
    // Warm up, then measure.
    for _ in 0..50 {
        assert_eq!(daemon.get("/plugins").status, 200);
    }
    let before = rss_kib(daemon.pid());

    let big = "x".repeat(100 * 1024);
    let r = http(port, "POST", "/processes", Some(&big)).unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        status_of(&send_raw(port, b"GARBAGE GARBAGE GARBAGE\r\n\r\n")),
        400
    );
    let r = http(port, "POST", "/processes", Some("{not json")).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json().get("message").is_some());
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let status = status_of(&send_raw(port, huge_header.as_bytes()));
    assert!(status == 431 || status == 0, "huge header got {status}");

    let mut rng = Rng(0x1234_5678_9abc_def1);
    let valid = b"POST /processes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"process\": {\"plugins\": [\"echo\"]}}     ";
    for i in 0..2000 {
        let data = match i % 4 {
            0 => rng.bytes(4096),
            1 => valid[..rng.below(valid.len())].to_vec(),
            2 => {
                let mut v = valid.to_vec();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(v.len());
                    v[at] = rng.next() as u8;
                }
                v
            }
            _ => {
                let mut v = b"GET /plugins HTTP/1.1\r\n".to_vec();
                v.extend(rng.bytes(512));
                v
            }
        };
        let reply = send_raw(port, &data);
        let status = status_of(&reply);
        assert!(
            status == 0 || (100..600).contains(&status),
            "reply {reply:?}"
        );
    }

    // 600 idle connections (some with half a request) do not starve a real client.
    let idle: Vec<TcpStream> = (0..600)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            if i % 2 == 0 {
                let _ = s.write_all(b"GET /plugins HTTP/1.1\r\nHost: sl");
            }
            s
        })
        .collect();
    let start = Instant::now();
    let r = daemon.get("/plugins");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("echo"));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    drop(idle);

    for _ in 0..50 {
        assert_eq!(daemon.get("/plugins").status, 200);
    }
    let after = rss_kib(daemon.pid());
    assert!(
        after < before + 40 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let forced = daemon.force(&["echo"]);
    assert!(forced.to_string().contains("OK - fine"), "{forced}");
}

#[test]
fn token_scopes_follow_d8_and_reload() {
    let mut daemon = TestDaemon::start(&format!("{CHECKS}api:\n  write_tokens: [w-token]\n"));
    let port = daemon.port;
    let auth = |method: &str, path: &str, token: Option<&str>, body: &str| {
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let raw = send_raw(port, req.as_bytes());
        let text = String::from_utf8_lossy(&raw).to_string();
        (status_of(&raw), text)
    };
    let force = r#"{"process": {"plugins": ["echo"]}}"#;
    // Only write tokens: reads open, writes need the write token.
    assert_eq!(auth("GET", "/plugins", None, "").0, 200);
    let (status, text) = auth("POST", "/processes", None, force);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("\"message\""), "{text}");
    assert_eq!(auth("POST", "/processes", Some("nope"), force).0, 401);
    assert_eq!(auth("POST", "/v2/reload", None, "").0, 401);
    assert_eq!(auth("POST", "/processes", Some("w-token"), force).0, 202);

    // Add read tokens (from a file) and reload on SIGHUP.
    std::fs::write(
        daemon.dir.path().join("read.tokens"),
        "# readers\nr-token\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(&daemon.config).unwrap();
    let config = config.replace(
        "  write_tokens: [w-token]\n",
        &format!(
            "  write_tokens: [w-token]\n  read_token_files: [{}]\n",
            daemon.dir.path().join("read.tokens").display()
        ),
    );
    std::fs::write(&daemon.config, config).unwrap();
    daemon.signal("HUP");
    assert!(wait_until(Duration::from_secs(10), || auth(
        "GET", "/plugins", None, ""
    )
    .0 == 401));
    assert_eq!(auth("GET", "/plugins", Some("r-token"), "").0, 200);
    assert_eq!(auth("GET", "/plugins", Some("w-token"), "").0, 200);
    assert_eq!(auth("GET", "/metrics", None, "").0, 401);
    assert_eq!(auth("GET", "/metrics", Some("r-token"), "").0, 200);
    assert_eq!(auth("GET", "/healthz", None, "").0, 200);
    let (status, text) = auth("POST", "/processes", Some("r-token"), force);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("\"message\""), "{text}");
    assert_eq!(auth("POST", "/processes", None, force).0, 401);
    assert_eq!(auth("POST", "/processes", Some("w-token"), force).0, 202);
    daemon.stop();
}

/// A self-signed certificate for 127.0.0.1 (openssl req).
fn make_cert(cert: &std::path::Path, key: &std::path::Path) {
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// smokerd started by hand (TestDaemon waits for plain HTTP).
struct Raw {
    child: Child,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_only_with_smokercli_and_allowed_hosts() {
    let dir = temp_dir();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    make_cert(&cert, &key);
    let port = free_port();
    let config = dir.path().join("smokerd.yaml");
    std::fs::write(
        &config,
        format!(
            "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}/state\n{CHECKS}api:\n  tls_cert: {}\n  tls_key: {}\n  read_tokens: [r-token]\n  allowed_hosts: [127.0.0.1]\n",
            dir.path().display(),
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let daemon = Raw {
        child: spawn_smokerd(&config),
    };
    let target = format!("https://127.0.0.1:{port}");
    let cli = |args: &[&str]| {
        let out = Command::new(bin("smokercli"))
            .args(args)
            .env_remove("SMOKER_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let ca = cert.display().to_string();
    let mut last = (0, String::new());
    let up = wait_until(Duration::from_secs(15), || {
        last = cli(&[
            "-s",
            &target,
            "--ca-file",
            &ca,
            "--token",
            "r-token",
            "-o",
            "json",
        ]);
        last.0 == 0
    });
    assert!(up, "smokercli over HTTPS failed: {last:?}");
    assert!(last.1.contains("echo"), "{}", last.1);
    // Without the token: refused; without trusting the CA: refused; --insecure works.
    let (rc, _) = cli(&["-s", &target, "--ca-file", &ca, "-o", "json"]);
    assert_ne!(rc, 0);
    let (rc, _) = cli(&["-s", &target, "--token", "r-token", "-o", "json"]);
    assert_ne!(rc, 0);
    let out = Command::new(bin("smokercli"))
        .args(["-s", &target, "--insecure", "-o", "json"])
        .env("SMOKER_TOKEN", "r-token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // check_smoker over HTTPS, forcing a run.
    let out = Command::new(bin("check_smoker"))
        .args([
            "-H",
            &target,
            "--ca-file",
            &ca,
            "--token",
            "r-token",
            "-f",
            "echo",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    // `echo OK - fine | x=1` pipes into `x=1`: the plugin prints nothing, so the
    // line says how the check did instead of being empty.
    assert!(
        text.starts_with("OK: smoke test echo succeeded at "),
        "{text}{err}"
    );
    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let r = http(port, "GET", "/plugins", None);
    assert!(r.map_or(true, |r| r.status == 0), "plain HTTP answered");

    // A new certificate is picked up on SIGHUP: the old CA stops working.
    let old = dir.path().join("old.crt");
    std::fs::copy(&cert, &old).unwrap();
    make_cert(&cert, &key);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let old = old.display().to_string();
    let switched = wait_until(Duration::from_secs(10), || {
        cli(&[
            "-s",
            &target,
            "--ca-file",
            &old,
            "--token",
            "r-token",
            "-o",
            "json",
        ])
        .0 != 0
    });
    assert!(switched, "old certificate still served after SIGHUP");
    let (rc, text) = cli(&[
        "-s",
        &target,
        "--ca-file",
        &ca,
        "--token",
        "r-token",
        "-o",
        "json",
    ]);
    assert_eq!(rc, 0, "{text}");
}

#[test]
fn allowed_hosts_closes_other_peers_before_http() {
    let mut daemon = TestDaemon::start(CHECKS);
    assert_eq!(daemon.get("/plugins").status, 200);
    // Reload with an ACL that leaves 127.0.0.1 out: closed without a byte of HTTP.
    let config = std::fs::read_to_string(&daemon.config).unwrap();
    std::fs::write(
        &daemon.config,
        format!("{config}api:\n  allowed_hosts: [10.0.0.0/8, '::1']\n"),
    )
    .unwrap();
    daemon.signal("HUP");
    let request = b"GET /plugins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let refused = wait_until(Duration::from_secs(10), || {
        send_raw(daemon.port, request).is_empty()
    });
    assert!(refused, "127.0.0.1 still served");
    // Back to an ACL with 127.0.0.1: served again.
    std::fs::write(
        &daemon.config,
        format!("{config}api:\n  allowed_hosts: [127.0.0.0/8]\n"),
    )
    .unwrap();
    daemon.signal("HUP");
    let served = wait_until(Duration::from_secs(10), || {
        status_of(&send_raw(daemon.port, request)) == 200
    });
    assert!(served, "127.0.0.1 not served after the ACL allowed it");
    daemon.stop();
}

fn nrpe_query(port: u16, query: &str) -> Option<(i16, String)> {
    let packet = nrpe_packet::encode(Version::V2, QUERY, 0, query.as_bytes());
    let reply = send_raw(port, &packet);
    let p = nrpe_packet::decode(&reply).ok()?;
    let text = String::from_utf8_lossy(&p.buffer);
    Some((p.result_code, text.trim_end_matches('\0').to_string()))
}

#[test]
fn nrpe_survives_garbage_and_refuses_injection() {
    let dir = temp_dir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let cfg = dir.path().join("nrpe.cfg");
    std::fs::write(
        &cfg,
        format!(
            "server_port={port}\nserver_address=127.0.0.1\ndont_blame_nrpe=1\ncommand[args]=echo \"[$ARG1$]\"\ncommand[ok]=echo OK - fine\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let daemon = TestDaemon::start(&format!(
        "nrpe:\n  config: {}\n  listen: \"127.0.0.1:{port}\"\n  tls: off\n",
        cfg.display()
    ));
    assert!(wait_until(Duration::from_secs(10), || nrpe_query(
        port, "ok"
    )
    .is_some()));
    let before = rss_kib(daemon.pid());
    let good = nrpe_packet::encode(Version::V2, QUERY, 0, b"args!hello");
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    for i in 0..3000 {
        let data = match i % 3 {
            0 => rng.bytes(2048),
            1 => good[..rng.below(good.len())].to_vec(),
            _ => {
                let mut v = good.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(v.len());
                    v[at] = rng.next() as u8;
                }
                v
            }
        };
        let reply = send_raw(port, &data);
        // Whatever comes back is a well-formed NRPE packet or nothing.
        assert!(reply.is_empty() || nrpe_packet::decode(&reply).is_ok());
    }
    assert_eq!(
        nrpe_query(port, "args!hello"),
        Some((0, "[hello]".to_string()))
    );
    for bad in ["$(id)", "`id`", "a;id", "a|id", "a\nid", "a&id", "a>b"] {
        assert_eq!(nrpe_query(port, &format!("args!{bad}")), None, "{bad:?}");
    }
    assert_eq!(nrpe_query(port, "ok"), Some((0, "OK - fine".to_string())));
    let after = rss_kib(daemon.pid());
    assert!(after < before + 40 * 1024, "RSS {before} → {after} KiB");
}

#[test]
fn corpora_of_the_yaml_loader_replay_clean() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/fuzz/corpus/config_yaml");
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(files.len() >= 3);
    files.sort();
    let base = temp_dir();
    let load = |data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let _ = smoker::config::load_str("fuzz.yaml", &text, base.path());
    };
    let mut rng = Rng(0x0dd_ba11);
    for f in &files {
        load(f);
    }
    for _ in 0..3000 {
        let mut v = files[rng.below(files.len())].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 if !v.is_empty() => {
                    let at = rng.below(v.len());
                    v[at] = b"{}[]:-&*!|>'\"\n #%"[rng.below(17)];
                }
                1 => v.truncate(rng.below(v.len() + 1)),
                2 if !v.is_empty() => {
                    let at = rng.below(v.len());
                    v[at] = rng.next() as u8;
                }
                _ => {
                    let at = rng.below(v.len() + 1);
                    v.splice(at..at, *b"\n  x: !include ../../etc/passwd\n");
                }
            }
        }
        load(&v);
    }
}

fn proc_ids(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn per_check_ids_run_as_root_and_daemon_drop() {
    if !nix::unistd::geteuid().is_root() {
        // Switching ids needs root; the unit tests cover the unprivileged paths.
        return;
    }
    let daemon = TestDaemon::start(
        "run_as_root: false\nplugins:\n  named: {Command: 'echo OK - $(id -u) $(id -g)', uid: nobody}\n  numeric: {Command: 'echo OK - $(id -u) $(id -G)', uid: 65534, gid: 65533}\n  rooted: {Command: 'echo OK - root'}\n",
    );
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let forced = daemon.force(&["named", "numeric", "rooted"]).to_string();
    assert!(
        forced.contains(&format!("OK - {} {}", nobody.uid, nobody.gid)),
        "{forced}"
    );
    assert!(forced.contains("OK - 65534 65533"), "{forced}");
    assert!(!forced.contains("\"output\":\"OK - root"), "{forced}");
    assert!(
        forced.contains("refusing to run a check as root (run_as_root: false)"),
        "{forced}"
    );
    drop(daemon);

    let daemon =
        TestDaemon::start("uid: nobody\nplugins:\n  me: {Command: 'echo OK - $(id -u)'}\n");
    assert_eq!(proc_ids(daemon.pid(), "Uid:"), nobody.uid.to_string());
    assert_eq!(proc_ids(daemon.pid(), "Gid:"), nobody.gid.to_string());
    let forced = daemon.force(&["me"]).to_string();
    assert!(forced.contains(&format!("OK - {}", nobody.uid)), "{forced}");
}

#[test]
fn keys_readable_by_root_only_are_read_before_the_drop() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let dir = temp_dir();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    make_cert(&cert, &key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = free_port();
    let config = dir.path().join("smokerd.yaml");
    std::fs::write(
        &config,
        format!(
            "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}/state\nuid: nobody\nplugins:\n  me: {{Command: 'echo OK - $(id -u)'}}\napi:\n  tls_cert: {}\n  tls_key: {}\n",
            dir.path().display(),
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let daemon = Raw {
        child: spawn_smokerd(&config),
    };
    let target = format!("https://127.0.0.1:{port}");
    let ca = cert.display().to_string();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // The very first forced run answered already runs as nobody: the API serves
    // only after the drop, and the key (0600, root's) was loaded before it.
    let mut last = String::new();
    let up = wait_until(Duration::from_secs(15), || {
        let out = Command::new(bin("smokercli"))
            .args(["-s", &target, "--ca-file", &ca, "-f", "-o", "json"])
            .output()
            .unwrap();
        last = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        out.status.success()
    });
    assert!(up, "smokercli over HTTPS failed: {last}");
    assert!(last.contains(&format!("OK - {}", nobody.uid)), "{last}");
    assert_eq!(proc_ids(daemon.child.id(), "Uid:"), nobody.uid.to_string());
}

/// A reload that moves the API (`bind_port`) while the key cannot be loaded any more
/// (privileges dropped; here: a missing key file) keeps the running key: the new port
/// serves HTTPS with it and the log says so.
#[test]
fn a_moved_api_listener_keeps_the_running_key() {
    let dir = temp_dir();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    make_cert(&cert, &key);
    let (port, moved) = (free_port(), free_port());
    let config = dir.path().join("smokerd.yaml");
    let write = |port: u16, key: &std::path::Path| {
        let yaml = format!(
            "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}/state\n{CHECKS}api:\n  tls_cert: {}\n  tls_key: {}\n",
            dir.path().display(),
            cert.display(),
            key.display()
        );
        std::fs::write(&config, yaml).unwrap();
    };
    write(port, &key);
    let log = dir.path().join("smokerd.stderr");
    let child = Command::new(bin("smokerd"))
        .arg("-c")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let daemon = Raw { child };
    let ca = cert.display().to_string();
    let https = |port: u16| {
        let out = Command::new(bin("smokercli"))
            .args(["-s", &format!("https://127.0.0.1:{port}")])
            .args(["--ca-file", &ca, "-o", "json"])
            .output()
            .unwrap();
        out.status.success()
    };
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(15), || https(port)),
        "{}",
        stderr()
    );
    write(moved, &dir.path().join("missing.key"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || https(moved)),
        "the moved API listener does not serve HTTPS with the running key:\n{}",
        stderr()
    );
    let log = stderr();
    assert!(
        log.contains("keeping the previous TLS certificate and key") && log.contains("missing.key"),
        "{log}"
    );
    assert!(!log.contains("unusable"), "{log}");
}
