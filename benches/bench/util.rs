//! Helpers of the benchmark harness: spawned processes that are always stopped,
//! a tiny blocking HTTP/1.1 client, `/proc` readings, waits with deadlines, stats.

use std::{
    fs::{self, File},
    io::{BufRead, Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use serde_json::Value;

/// Our binaries as cargo built them for this bench; `SMOKER_BENCH_SMOKERD` /
/// `SMOKER_BENCH_SMOKERCLI` point at other builds (e.g. to compare two branches).
pub fn smokerd() -> PathBuf {
    std::env::var_os("SMOKER_BENCH_SMOKERD")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_smokerd").into())
}

pub fn smokercli() -> PathBuf {
    std::env::var_os("SMOKER_BENCH_SMOKERCLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_smokercli").into())
}
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The feature a row needs is not on main yet: the row prints `n/a (not built yet)`.
#[derive(Debug)]
pub struct NotBuilt(pub String);

impl std::fmt::Display for NotBuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not built yet: {}", self.0)
    }
}

impl std::error::Error for NotBuilt {}

pub fn not_built(why: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(NotBuilt(why.into()))
}

/// The original Python smoker wrapper, if this checkout can see `../shared`.
pub fn smoker_orig() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SMOKER_ORIG") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(ROOT);
    [
        root.join("../shared/peers/smoker-orig"),
        root.join("../../shared/peers/smoker-orig"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/lib/nagios/plugins".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(l.local_addr()?.port())
}

/// A scratch directory readable by the `nagios` user (nrpe and nsca drop privileges).
pub fn scratch_dir(tag: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("smoker-bench-{tag}-"))
        .tempdir()?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

pub fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Polls `f` every `every` until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {:?} waiting for {what}", timeout);
        }
        thread::sleep(every);
    }
}

/// A spawned process in its own process group, stopped (TERM, then KILL) on drop.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pid: u32,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Proc> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Proc {
            name: name.to_string(),
            pid: child.id(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = Pid::from_raw(self.pid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Leftovers of the group (forked workers) and the process itself if it ignored TERM.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until a TCP port accepts connections while `proc` is alive.
pub fn wait_port(proc: &mut Proc, port: u16, timeout: Duration) -> Result<()> {
    let name = proc.name.clone();
    wait_for(
        &format!("{name} to listen on {port}"),
        timeout,
        Duration::from_millis(20),
        || {
            if let Some(st) = proc.exited() {
                bail!(
                    "{name} exited ({st}) before listening:\n{}",
                    proc.log_tail()
                );
            }
            Ok(TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()))
        },
    )
}

// ---------------------------------------------------------------- daemons

/// A running smokerd (ours) or the original smokerd, answering HTTP on `port`.
pub struct Daemon {
    pub proc: Proc,
    pub port: u16,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Common head of our configs: listen, state dir, concurrency.
pub fn yaml_head(port: u16, state_dir: &Path, concurrency: Option<usize>) -> String {
    let mut y = format!(
        "bind_host: 127.0.0.1\nbind_port: {port}\nstate_dir: {}\n",
        state_dir.display()
    );
    if let Some(c) = concurrency {
        y.push_str(&format!("nr_concurrent_plugins: {c}\n"));
    }
    y
}

/// The `metrics:` section for a dedicated listener (`/metrics` may not be on the API port).
pub fn yaml_metrics(port: u16) -> String {
    format!("metrics: {{listen: \"127.0.0.1:{port}\"}}\n")
}

/// `GET /metrics` on the first of `ports` that serves it.
pub fn metrics_text(ports: &[u16]) -> Option<String> {
    ports.iter().find_map(|&p| {
        let r = http(p, "GET", "/metrics", None, Duration::from_secs(30)).ok()?;
        (r.status == 200).then(|| String::from_utf8_lossy(&r.body).into_owned())
    })
}

/// Starts our smokerd on `yaml` (written to `dir/NAME.yaml`) and waits until `GET /` answers 200.
pub fn start_smokerd(
    dir: &Path,
    name: &str,
    yaml: &str,
    port: u16,
    timeout: Duration,
) -> Result<Daemon> {
    let cfg = dir.join(format!("{name}.yaml"));
    write(&cfg, yaml)?;
    let mut cmd = Command::new(smokerd());
    cmd.arg("-c").arg(&cfg).env("RUST_LOG", "warn");
    let proc = Proc::spawn(name, &mut cmd, &dir.join(format!("{name}.log")))?;
    wait_http_ready(proc, port, timeout, true)
}

/// Starts the original Python smokerd on `yaml` and waits until `GET /` answers 200.
pub fn start_orig(
    dir: &Path,
    name: &str,
    yaml: &str,
    port: u16,
    timeout: Duration,
) -> Result<Daemon> {
    let orig = smoker_orig().ok_or_else(|| anyhow!("smoker-orig not found (../shared/peers)"))?;
    let cfg = dir.join(format!("{name}.yaml"));
    write(&cfg, yaml)?;
    let mut cmd = Command::new(orig);
    cmd.arg("daemon")
        .arg("-c")
        .arg(&cfg)
        .args(["-fg", "--no-syslog", "-p"])
        .arg(dir.join(format!("{name}.pid")));
    let proc = Proc::spawn(name, &mut cmd, &dir.join(format!("{name}.log")))?;
    wait_http_ready(proc, port, timeout, false)
}

fn wait_http_ready(mut proc: Proc, port: u16, timeout: Duration, ours: bool) -> Result<Daemon> {
    let name = proc.name.clone();
    let res = wait_for(
        &format!("{name} to answer GET / on {port}"),
        timeout,
        Duration::from_millis(25),
        || {
            if let Some(st) = proc.exited() {
                if ours && st.success() {
                    // The pre-core stub binary prints its name and exits 0.
                    return Err(not_built("smokerd exits without serving the API"));
                }
                bail!("{name} exited ({st}) before serving:\n{}", proc.log_tail());
            }
            Ok(match http(port, "GET", "/", None, Duration::from_secs(2)) {
                Ok(r) if r.status == 200 => Some(()),
                _ => None,
            })
        },
    );
    res.map(|()| Daemon { proc, port })
}

// ---------------------------------------------------------------- HTTP

pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).context("response is not JSON")
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), body read to EOF.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Resp> {
    http_with(port, method, path, body, &[], timeout)
}

pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Resp> {
    let mut s = connect(port, timeout)?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    // No shutdown(Write): hyper drops a request whose connection is half-closed.
    s.write_all(&bytes)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("reading {method} {path}"))?;
    parse_response(&raw).with_context(|| format!("{method} {path}"))
}

fn parse_response(raw: &[u8]) -> Result<Resp> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP header end in {} bytes", raw.len()))?;
    let head = parse_head(std::str::from_utf8(&raw[..end])?)?;
    let rest = &raw[end + 4..];
    let body = match head.framing {
        Framing::Chunked => dechunk(rest)?,
        Framing::Length(n) => rest[..n.min(rest.len())].to_vec(),
        Framing::ToEnd => rest.to_vec(),
    };
    Ok(Resp {
        status: head.status,
        body,
    })
}

/// How a response's body ends.
enum Framing {
    Chunked,
    Length(usize),
    ToEnd,
}

struct Head {
    status: u16,
    framing: Framing,
}

/// The status line and the framing headers of a response head (without its blank line).
fn parse_head(head: &str) -> Result<Head> {
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad status line"))?;
    let mut framing = Framing::ToEnd;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            framing = Framing::Chunked;
        } else if k == "content-length" && !matches!(framing, Framing::Chunked) {
            framing = v.parse::<usize>().map_or(Framing::ToEnd, Framing::Length);
        }
    }
    Ok(Head { status, framing })
}

/// One keep-alive HTTP/1.1 connection, as smokercli's client (reqwest's pool) keeps
/// one to a daemon. The polls of a forced run go over it: on a new connection each,
/// a poll cost smokerd about 100 µs of CPU against 55 µs (issue 18, row 1), a cost
/// the raw reference does not pay.
pub struct Conn {
    port: u16,
    stream: std::io::BufReader<TcpStream>,
}

impl Conn {
    pub fn open(port: u16, timeout: Duration) -> Result<Conn> {
        Ok(Conn {
            port,
            stream: std::io::BufReader::new(connect(port, timeout)?),
        })
    }

    /// `GET path`; the connection stays open for the next request.
    pub fn get(&mut self, path: &str) -> Result<Resp> {
        let port = self.port;
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        self.stream.get_mut().write_all(request.as_bytes())?;
        let head = self.read_head().with_context(|| format!("GET {path}"))?;
        let body = match head.framing {
            Framing::Length(n) => {
                let mut body = vec![0; n];
                self.stream.read_exact(&mut body)?;
                body
            }
            Framing::Chunked => self.read_chunks()?,
            Framing::ToEnd => bail!("GET {path}: a keep-alive response without a length"),
        };
        Ok(Resp {
            status: head.status,
            body,
        })
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            bail!("the connection closed mid-response");
        }
        Ok(line)
    }

    fn read_head(&mut self) -> Result<Head> {
        let mut head = String::new();
        loop {
            let line = self.read_line()?;
            if line == "\r\n" {
                return parse_head(head.trim_end());
            }
            head.push_str(&line);
        }
    }

    fn read_chunks(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size = chunk_size(&self.read_line()?)?;
            if size == 0 {
                // Trailers, up to the blank line.
                while self.read_line()? != "\r\n" {}
                return Ok(body);
            }
            let at = body.len();
            body.resize(at + size, 0);
            self.stream.read_exact(&mut body[at..])?;
            self.read_line()?;
        }
    }
}

/// A TCP connection to the daemon on 127.0.0.1:`port`, with `timeout` on every step.
fn connect(port: u16, timeout: Duration) -> Result<TcpStream> {
    let s =
        TcpStream::connect_timeout(&std::net::SocketAddr::from(([127, 0, 0, 1], port)), timeout)
            .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// The size a chunk's header line gives (hex, extensions after `;` ignored).
fn chunk_size(line: &str) -> Result<usize> {
    let size = line.split(';').next().unwrap_or("").trim();
    usize::from_str_radix(size, 16).context("bad chunk header")
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("bad chunk header"))?;
        let size = chunk_size(std::str::from_utf8(&b[..eol])?)?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

pub fn get_json(port: u16, path: &str) -> Result<Value> {
    let r = http(port, "GET", path, None, Duration::from_secs(60))?;
    if r.status != 200 {
        bail!("GET {path}: status {}", r.status);
    }
    r.json()
}

/// Forces `names` via `POST /processes` and polls (every 5 ms, over one keep-alive
/// connection) until 200. Returns the wall time and the final body.
pub fn force_run(port: u16, names: &[String], timeout: Duration) -> Result<(Duration, Value)> {
    let body = serde_json::json!({"process": {"plugins": names}}).to_string();
    let t0 = Instant::now();
    let r = http(
        port,
        "POST",
        "/processes",
        Some(body.as_bytes()),
        Duration::from_secs(30),
    )?;
    if r.status != 202 {
        bail!(
            "POST /processes: status {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        );
    }
    let poll = r.json()?["asyncTask"]["link"]["poll"]
        .as_str()
        .ok_or_else(|| anyhow!("no poll link in 202 body"))?
        .to_string();
    let mut conn = Conn::open(port, Duration::from_secs(30))?;
    let done = wait_for(
        "forced run to finish",
        timeout,
        Duration::from_millis(5),
        || {
            // A connection the daemon closed is opened again once, as a pool would.
            let r = match conn.get(&poll) {
                Ok(r) => r,
                Err(_) => {
                    conn = Conn::open(port, Duration::from_secs(30))?;
                    conn.get(&poll)?
                }
            };
            match r.status {
                202 => Ok(None),
                200 => Ok(Some(r)),
                s => bail!("GET {poll}: status {s}"),
            }
        },
    )?;
    let elapsed = t0.elapsed();
    Ok((elapsed, done.json()?))
}

/// The plugin items of a `/plugins` or `/processes/N` body.
pub fn plugin_items(v: &Value) -> Vec<&Value> {
    v["plugins"]["items"]
        .as_array()
        .map(|a| a.iter().map(|i| &i["plugin"]).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- /proc

/// utime + stime of one process (children excluded), in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the comm: state(3) ... utime(14) stime(15) => indexes 11 and 12.
    let utime: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux for /proc accounting.
    Ok((utime + stime) as f64 / 100.0)
}

/// Resident set size of one process in MiB.
pub fn rss_mib(pid: u32) -> Result<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))?;
    Ok(kib / 1024.0)
}

/// `anon A + file F + shmem S MiB` from /proc/PID/status, to say what the RSS is made of.
pub fn rss_breakdown(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap_or(f64::NAN)
    };
    format!(
        "anon {:.1} + file {:.1} + shmem {:.1} MiB, {} threads",
        get("RssAnon:"),
        get("RssFile:"),
        get("RssShmem:"),
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .map(str::trim)
            .unwrap_or("?")
    )
}

/// Sum of the RSS of every process in process group `pgid`, and how many there were.
pub fn group_rss_mib(pgid: u32) -> Result<(f64, usize)> {
    let mut total = 0.0;
    let mut n = 0;
    for e in fs::read_dir("/proc")? {
        let e = e?;
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        // state(3) ppid(4) pgrp(5) => index 2
        if after
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse::<u32>().ok())
            != Some(pgid)
        {
            continue;
        }
        if let Ok(r) = rss_mib(pid) {
            total += r;
            n += 1;
        }
    }
    Ok((total, n))
}

// ---------------------------------------------------------------- stats

pub fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

/// Nearest-rank percentile; NaN for an empty slice.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// Runs a command to completion with a deadline; returns (status, stdout, stderr, wall).
pub fn run_with_deadline(
    cmd: &mut Command,
    timeout: Duration,
) -> Result<(ExitStatus, String, String, Duration)> {
    let dir = tempfile::tempdir()?;
    let (out_p, err_p) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdout(File::create(&out_p)?)
        .stderr(File::create(&err_p)?)
        .process_group(0);
    if cmd.get_program().is_empty() {
        bail!("empty command");
    }
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let pid = child.id();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if t0.elapsed() > timeout {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = child.wait();
            bail!("{:?} timed out after {timeout:?}", cmd.get_program());
        }
        thread::sleep(Duration::from_millis(2));
    };
    let wall = t0.elapsed();
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    Ok((
        status,
        fs::read_to_string(out_p).unwrap_or_default(),
        fs::read_to_string(err_p).unwrap_or_default(),
        wall,
    ))
}

pub fn count_lines(path: &Path) -> usize {
    fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}
