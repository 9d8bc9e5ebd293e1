//! Shared test scaffolding: free ports, a tiny HTTP client, and [`TestDaemon`],
//! which runs the real `smokerd` binary on a temp config and stops it on drop.

#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// Path of one of our binaries, built by cargo for this test run.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "smokerd" => PathBuf::from(env!("CARGO_BIN_EXE_smokerd")),
        "smokercli" => PathBuf::from(env!("CARGO_BIN_EXE_smokercli")),
        "check_smoker" => PathBuf::from(env!("CARGO_BIN_EXE_check_smoker")),
        other => panic!("unknown binary {other}"),
    }
}

/// smokerd on `config` with its output discarded, not waited for (the caller
/// decides how it is reached: TLS, a fixed port).
pub fn spawn_smokerd(config: &Path) -> Child {
    Command::new(bin("smokerd"))
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn smokerd")
}

/// `tests/fixtures` of the repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The original smoker launcher: `$SMOKER_ORIG`, else `shared/peers/smoker-orig` beside the
/// repository (also from a worktree under `wt/`).
pub fn smoker_orig() -> PathBuf {
    if let Some(path) = std::env::var_os("SMOKER_ORIG") {
        return PathBuf::from(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/peers/smoker-orig"),
        manifest.join("../../shared/peers/smoker-orig"),
        PathBuf::from("/work/shared/peers/smoker-orig"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .expect("shared/peers/smoker-orig not found (set SMOKER_ORIG)")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A temp dir that processes dropping to user `nagios` can read.
pub fn temp_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Writes `data` to `addr`, half-closes and reads what comes back (bounded); empty
/// when the server closed without a byte or the connection failed.
pub fn exchange(addr: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return Vec::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(data);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.take(1 << 20).read_to_end(&mut out);
    out
}

/// A raw HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection (`Connection: close`), with a 20 s deadline.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<HttpResponse> {
    http_with_headers(port, method, path, &[], body)
}

/// Like [`http`], with extra request headers; chunked response bodies are decoded.
pub fn http_with_headers(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The real `smokerd`, on a temp config with a free port; killed on drop.
pub struct TestDaemon {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    stderr_path: PathBuf,
}

impl TestDaemon {
    /// Starts smokerd on `yaml` (which must not set `bind_host`/`bind_port`; without
    /// `state_dir:` it gets `state_dir: {dir}/state`).
    pub fn start(yaml: &str) -> TestDaemon {
        Self::start_with(yaml, &[], &[])
    }

    /// Also writes `files` (relative path, content) next to the config and passes `args`.
    pub fn start_with(yaml: &str, files: &[(&str, &str)], args: &[&str]) -> TestDaemon {
        let dir = temp_dir();
        for (name, content) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, content).expect("write fixture");
            if name.ends_with(".sh") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
        let port = free_port();
        let config = dir.path().join("smokerd.yaml");
        let yaml = yaml.replace("{dir}", &dir.path().display().to_string());
        // Each daemon gets its own durable store unless the test picks one.
        let state_dir = if yaml.contains("state_dir:") {
            String::new()
        } else {
            format!("state_dir: {}/state\n", dir.path().display())
        };
        std::fs::write(
            &config,
            format!("bind_host: 127.0.0.1\nbind_port: {port}\n{state_dir}{yaml}"),
        )
        .expect("write config");
        let mut daemon = TestDaemon {
            child: None,
            port,
            stderr_path: dir.path().join("smokerd.stderr"),
            dir,
            config,
        };
        daemon.spawn(args);
        daemon
    }

    fn spawn(&mut self, args: &[&str]) {
        let stderr = std::fs::File::create(&self.stderr_path).expect("stderr file");
        let child = Command::new(bin("smokerd"))
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn smokerd");
        self.child = Some(child);
        let port = self.port;
        let up = wait_until(Duration::from_secs(15), || {
            http(port, "GET", "/", None).is_ok_and(|r| r.status == 200 || r.status == 401)
        });
        assert!(up, "smokerd did not come up; stderr:\n{}", self.stderr());
    }

    /// Restarts on the same config and port (after `stop` or `kill9`).
    pub fn restart(&mut self) {
        self.spawn(&[]);
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http(self.port, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    pub fn post(&self, path: &str, body: &str) -> HttpResponse {
        http(self.port, "POST", path, Some(body)).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Forces a run of `plugins` and polls until the results are in; returns the 200 body.
    pub fn force(&self, plugins: &[&str]) -> Value {
        let body = serde_json::json!({"process": {"plugins": plugins}}).to_string();
        let r = self.post("/processes", &body);
        assert_eq!(r.status, 202, "POST /processes: {}", r.body);
        let poll = r.json()["asyncTask"]["link"]["poll"]
            .as_str()
            .expect("poll link")
            .to_string();
        let mut last = None;
        let done = wait_until(Duration::from_secs(60), || {
            let r = self.get(&poll);
            let ok = r.status == 200;
            last = Some(r);
            ok
        });
        let last = last.expect("polled");
        assert!(done, "forced run did not finish: {}", last.body);
        last.json()
    }

    /// The `lastResult` of one plugin.
    pub fn last_result(&self, name: &str) -> Value {
        self.get_json(&format!("/plugins/{name}"))["plugin"]["lastResult"].clone()
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal}");
    }

    /// SIGTERM and wait (at most `timeout`) for the exit status.
    pub fn stop_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn stop(&mut self) -> ExitStatus {
        self.stop_within(Duration::from_secs(20))
            .expect("smokerd did not stop after SIGTERM")
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs one of our binaries to completion (30 s deadline); returns (exit code, stdout, stderr).
pub fn run_bin(name: &str, args: &[&str]) -> (i32, String, String) {
    run_cmd(Command::new(bin(name)).args(args))
}

/// Runs a command to completion with a 60 s deadline.
pub fn run_cmd(command: &mut Command) -> (i32, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

/// Processes whose command line contains `needle` (to prove nothing was left behind).
pub fn processes_matching(needle: &str) -> Vec<String> {
    processes()
        .filter(|(_, cmdline)| cmdline.contains(needle))
        .map(|(dir, cmdline)| {
            let pid = dir.file_name().unwrap_or_default().to_string_lossy();
            format!("{pid}: {cmdline}")
        })
        .collect()
}

/// Command lines (NUL turned into spaces) of the live children of `parent`,
/// read from /proc: unlike [`processes_matching`] it cannot see the processes
/// of tests running beside this one.
pub fn children_of(parent: u32) -> Vec<String> {
    processes()
        .filter(|(dir, _)| {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            // The command name may hold spaces and parentheses: fields start after the last ')'.
            let mut fields = stat
                .rsplit_once(')')
                .unwrap_or_default()
                .1
                .split_whitespace();
            let (state, ppid) = (fields.next(), fields.next());
            state != Some("Z") && ppid.and_then(|p| p.parse().ok()) == Some(parent)
        })
        .map(|(_, cmdline)| cmdline)
        .collect()
}

/// Every process's /proc directory and command line (NUL turned into spaces).
fn processes() -> impl Iterator<Item = (PathBuf, String)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            (
                entry.path(),
                String::from_utf8_lossy(&cmdline).replace('\0', " "),
            )
        })
}
