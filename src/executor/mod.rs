//! Executor: the one place that starts processes.
//!
//! Owns spawning (`/bin/sh -c` or argv), the child's own process group, closed
//! stdin, environment, byte-capped concurrent capture of stdout and stderr,
//! timeouts (SIGTERM to the group, SIGKILL after a grace period), reaping, and
//! the global concurrency bound (`nr_concurrent_plugins`). It knows nothing of
//! checks or Nagios states: [`crate::runner`] turns a [`ProcessOutcome`] into a
//! result.
//!
//! Spawns take std's `posix_spawn` fast path (one `clone3(CLONE_VM|CLONE_VFORK)` and
//! exec; issue 18): no `pre_exec` unless a check switches uid/gid, which needs the
//! fork path. The leader is reaped as [`child`] describes. `posix_spawn` as std drives it keeps the spawning thread's signal mask
//! and every ignored signal except SIGPIPE, so children start clean because the
//! executor cleans those first: ignored signals go back to their default when an
//! [`Executor`] is made, and each thread that spawns empties its own mask once.

mod child;
mod supervise;

use std::{
    collections::HashSet,
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Local};
use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

pub use self::supervise::Exit;
use self::{
    child::{Child, Pipes},
    supervise::{Captured, Limits, supervise},
};

use crate::check::Principal;

/// What to start.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// `/bin/sh -c TEXT`.
    Shell(String),
    /// Direct exec; the first element is the program.
    Argv(Vec<String>),
}

/// The child's environment.
#[derive(Debug, Clone, PartialEq)]
pub enum Environment {
    /// The daemon's environment plus these variables.
    Inherit(Vec<(String, String)>),
    /// Only these variables (NRPE's environment cleaning).
    Clean(Vec<(String, String)>),
}

/// One process to run.
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    pub program: Program,
    pub env: Environment,
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL when the timeout hits.
    pub kill_grace: Duration,
    /// Cap for each captured stream; the rest is read and dropped.
    pub max_output: usize,
    pub capture_stderr: bool,
    pub uid: Option<Principal>,
    pub gid: Option<Principal>,
    /// Bytes written to the child's stdin, which is then closed (the Python shim's
    /// request: parameters never travel in argv or the environment). `None` = `/dev/null`.
    pub stdin: Option<Arc<[u8]>>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct ProcessOutcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub exit: Exit,
    pub pid: Option<u32>,
    pub started_at: DateTime<Local>,
    pub duration: Duration,
}

#[cfg(test)]
impl ProcessOutcome {
    /// Unit tests: a 5 ms run of pid 1 that printed `stdout` and `stderr`.
    pub(crate) fn for_test(exit: Exit, stdout: &str, stderr: &str) -> ProcessOutcome {
        ProcessOutcome {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            exit,
            pid: Some(1),
            started_at: Local::now(),
            duration: Duration::from_millis(5),
        }
    }
}

/// Runs processes under a global concurrency bound. Cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Executor {
    limit: Mutex<Option<Arc<Semaphore>>>,
    running: AtomicUsize,
    interrupt: watch::Sender<bool>,
    /// `run_as_root` (issue 10): `false` refuses children that would run as uid 0.
    run_as_root: AtomicBool,
    /// Process groups (leader pids) running now, for [`Executor::kill_all`].
    groups: Mutex<HashSet<u32>>,
}

impl Executor {
    pub fn new(limit: Option<usize>) -> Executor {
        // Children inherit ignored signals through exec (SIGQUIT from a shell's
        // background job, SIGHUP from nohup, …): they start with the defaults.
        crate::sys::reset_ignored_signals();
        Executor {
            limit: Mutex::new(limit.map(|n| Arc::new(Semaphore::new(n.max(1))))),
            running: AtomicUsize::new(0),
            interrupt: watch::channel(false).0,
            run_as_root: AtomicBool::new(true),
            groups: Mutex::new(HashSet::new()),
        }
    }

    /// `run_as_root: false` refuses processes that would run as root from now on.
    pub fn set_run_as_root(&self, allowed: bool) {
        self.run_as_root.store(allowed, Ordering::Relaxed);
    }

    /// Changes the concurrency bound for runs started from now on.
    pub fn set_limit(&self, limit: Option<usize>) {
        *self.limit.lock().unwrap_or_else(|e| e.into_inner()) =
            limit.map(|n| Arc::new(Semaphore::new(n.max(1))));
    }

    /// A permit of the concurrency bound (`nr_concurrent_plugins`), held by every
    /// process run and by a built-in that may block; `None` when unbounded.
    pub async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        let semaphore = self
            .limit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        semaphore.acquire_owned().await.ok()
    }

    /// Processes running right now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Terminates every running process group (shutdown); later runs end at once as interrupted.
    pub fn interrupt_all(&self) {
        self.interrupt.send_replace(true);
    }

    /// SIGKILLs every running process group at once (a second stop signal: the
    /// daemon exits right after, so nothing waits for the runs to notice).
    pub fn kill_all(&self) {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for pid in groups.iter().filter_map(|p| i32::try_from(*p).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }

    pub async fn run(&self, request: ProcessRequest) -> ProcessOutcome {
        self.run_observed(request, &|_| {}).await
    }

    /// Like [`Executor::run`]; `on_spawn` gets the pid once the process started.
    pub async fn run_observed(
        &self,
        request: ProcessRequest,
        on_spawn: &(dyn Fn(u32) + Sync),
    ) -> ProcessOutcome {
        self.run_bounded(request, on_spawn, None).await
    }

    /// Like [`Executor::run_observed`]; when `cancel` turns true the process group is
    /// terminated as on shutdown (SIGTERM, SIGKILL after the grace) and the outcome is
    /// [`Exit::Interrupted`] (`Overlap: kill`).
    pub async fn run_cancellable(
        &self,
        request: ProcessRequest,
        on_spawn: &(dyn Fn(u32) + Sync),
        cancel: watch::Receiver<bool>,
    ) -> ProcessOutcome {
        self.run_bounded(request, on_spawn, Some(cancel)).await
    }

    /// One run under the concurrency bound, counted in [`Executor::running`].
    async fn run_bounded(
        &self,
        request: ProcessRequest,
        on_spawn: &(dyn Fn(u32) + Sync),
        cancel: Option<watch::Receiver<bool>>,
    ) -> ProcessOutcome {
        let _permit = self.permit().await;
        self.running.fetch_add(1, Ordering::Relaxed);
        let _guard = RunningGuard(&self.running);
        let root_ok = self.run_as_root.load(Ordering::Relaxed);
        let groups = &self.groups;
        let lock = || groups.lock().unwrap_or_else(|e| e.into_inner());
        let register = |pid: u32| {
            lock().insert(pid);
            on_spawn(pid);
        };
        let outcome = run_process(
            request,
            self.interrupt.subscribe(),
            cancel,
            &register,
            root_ok,
        )
        .await;
        if let Some(pid) = outcome.pid {
            lock().remove(&pid);
        }
        outcome
    }
}

struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The daemon's own systemd channels, never handed to a child.
const SYSTEMD_VARS: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// Which of [`SYSTEMD_VARS`] the daemon's environment has (read once: it does not
/// change, and a lookup per spawn scans the whole environment).
fn systemd_vars_inherited() -> &'static [bool; 3] {
    static INHERITED: std::sync::OnceLock<[bool; 3]> = std::sync::OnceLock::new();
    INHERITED.get_or_init(|| SYSTEMD_VARS.map(|v| std::env::var_os(v).is_some()))
}

async fn run_process(
    request: ProcessRequest,
    interrupt: watch::Receiver<bool>,
    cancel: Option<watch::Receiver<bool>>,
    on_spawn: &(dyn Fn(u32) + Sync),
    run_as_root: bool,
) -> ProcessOutcome {
    let started_at = Local::now();
    let start = Instant::now();
    let ended = |exit: Exit, captured: Captured, pid: Option<u32>| {
        let ((stdout, stdout_truncated), (stderr, stderr_truncated)) = captured;
        ProcessOutcome {
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
            exit,
            pid,
            started_at,
            duration: start.elapsed(),
        }
    };
    if *interrupt.borrow() || cancel.as_ref().is_some_and(|c| *c.borrow()) {
        return ended(Exit::Interrupted, Captured::default(), None);
    }
    let (mut child, pipes) = match spawn(&request, run_as_root) {
        Ok(spawned) => spawned,
        Err(reason) => {
            return ended(
                Exit::SpawnFailed(reason.to_string()),
                Captured::default(),
                None,
            );
        }
    };
    let pid = child.id();
    on_spawn(pid);
    let limits = Limits {
        timeout: request.timeout,
        kill_grace: request.kill_grace,
        max_output: request.max_output,
        stdin: request.stdin.clone(),
    };
    let (exit, captured) = supervise(&mut child, pipes, limits, interrupt, cancel).await;
    ended(exit, captured, Some(pid))
}

/// Why a process could not start (its text is the run's `Can't execute` reason).
#[derive(Debug, thiserror::Error)]
enum SpawnError {
    #[error("empty argv")]
    EmptyArgv,
    #[error(transparent)]
    Privileges(#[from] crate::privileges::PrivilegeError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Starts the process `request` describes: its program, environment, ids, stdio and
/// own process group.
fn spawn(request: &ProcessRequest, run_as_root: bool) -> Result<(Child, Pipes), SpawnError> {
    let mut command = match &request.program {
        Program::Shell(text) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(text);
            c
        }
        Program::Argv(argv) => {
            let Some((program, args)) = argv.split_first() else {
                return Err(SpawnError::EmptyArgv);
            };
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    };
    set_environment(&mut command, &request.env);
    if let Some(switch) =
        crate::privileges::plan_switch(request.uid.as_ref(), request.gid.as_ref(), run_as_root)?
    {
        crate::sys::switch_ids_before_exec(&mut command, switch.groups, switch.gid, switch.uid)
    }
    command
        .stdin(if request.stdin.is_some() {
            Stdio::piped()
        } else {
            dev_null()
        })
        .stdout(Stdio::piped())
        .stderr(if request.capture_stderr {
            Stdio::piped()
        } else {
            dev_null()
        })
        .process_group(0);
    Ok(child::spawn(&mut command)?)
}

/// `/dev/null` for a child's stream: a duplicate of one descriptor opened once, which
/// saves the path lookup `Stdio::null()` makes for every spawn (issue 18, row 1).
fn dev_null() -> Stdio {
    static DEV_NULL: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    DEV_NULL
        .get_or_init(|| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .ok()
        })
        .as_ref()
        .and_then(|file| file.try_clone().ok())
        .map_or_else(Stdio::null, Stdio::from)
}

/// The child's environment, without the daemon's systemd channels.
fn set_environment(command: &mut Command, env: &Environment) {
    let requested = match env {
        Environment::Inherit(extra) => {
            // Touching the environment makes std copy the daemon's whole
            // environment for every spawn: only do it when there is something to add.
            if !extra.is_empty() {
                command.envs(extra.iter().map(|(k, v)| (k, v)));
            }
            extra
        }
        Environment::Clean(vars) => {
            command.env_clear().envs(vars.iter().map(|(k, v)| (k, v)));
            vars
        }
    };
    // Never hand the daemon's systemd channels to a child (they are the daemon's own).
    for (var, inherited) in SYSTEMD_VARS.iter().zip(*systemd_vars_inherited()) {
        if inherited || requested.iter().any(|(k, _)| k == var) {
            command.env_remove(var);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(text: &str, timeout_ms: u64) -> ProcessRequest {
        ProcessRequest {
            program: Program::Shell(text.to_string()),
            env: Environment::Inherit(Vec::new()),
            timeout: Duration::from_millis(timeout_ms),
            kill_grace: Duration::from_millis(500),
            max_output: 1024,
            capture_stderr: true,
            uid: None,
            gid: None,
            stdin: None,
        }
    }

    #[tokio::test]
    async fn captures_streams_and_exit_code() {
        let exec = Executor::new(None);
        let out = exec
            .run(shell("echo out; echo err >&2; exit 3", 5000))
            .await;
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.exit, Exit::Code(3));
    }

    #[tokio::test]
    async fn stdin_payload_is_written_then_closed() {
        let exec = Executor::new(None);
        let mut req = shell("cat; echo end", 5000);
        req.stdin = Some(Arc::from(&b"secret payload\n"[..]));
        let out = exec.run(req).await;
        assert_eq!(out.stdout, b"secret payload\nend\n");
        let out = exec.run(shell("cat; echo end", 5000)).await;
        assert_eq!(out.stdout, b"end\n");
    }

    #[tokio::test]
    async fn caps_output() {
        let exec = Executor::new(None);
        let out = exec.run(shell("head -c 100000 /dev/zero", 5000)).await;
        assert_eq!(out.stdout.len(), 1024);
        assert!(out.stdout_truncated);
        assert_eq!(out.exit, Exit::Code(0));
    }

    #[tokio::test]
    async fn timeout_kills_group() {
        let exec = Executor::new(None);
        let start = Instant::now();
        let out = exec
            .run(shell("sleep 30 & sleep 30; echo never", 300))
            .await;
        assert_eq!(out.exit, Exit::TimedOut);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_leader_that_closes_its_output_is_still_waited_for() {
        let exec = Executor::new(None);
        let start = Instant::now();
        let out = exec
            .run(shell("echo early; exec >&- 2>&-; sleep 0.3; exit 4", 5000))
            .await;
        assert_eq!(out.exit, Exit::Code(4));
        assert_eq!(out.stdout, b"early\n");
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn leftover_background_process_does_not_hang() {
        let exec = Executor::new(None);
        let start = Instant::now();
        let out = exec.run(shell("sleep 30 & echo started", 10_000)).await;
        assert_eq!(out.exit, Exit::Code(0));
        assert_eq!(out.stdout, b"started\n");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn cancel_terminates_the_group() {
        let exec = Executor::new(None);
        let (tx, rx) = watch::channel(false);
        let start = Instant::now();
        let run = exec.run_cancellable(shell("sleep 30 & sleep 30", 10_000), &|_| {}, rx);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            tx.send_replace(true);
        };
        let (out, ()) = tokio::join!(run, cancel);
        assert_eq!(out.exit, Exit::Interrupted);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn kill_all_kills_every_running_group_at_once() {
        let exec = Executor::new(None);
        let start = Instant::now();
        let runs = async {
            tokio::join!(
                exec.run(shell("sleep 30 & sleep 30", 60_000)),
                exec.run(shell("sleep 31", 60_000))
            )
        };
        let kill = async {
            while exec.groups.lock().unwrap().len() < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            exec.kill_all();
        };
        let ((first, second), ()) = tokio::join!(runs, kill);
        assert_eq!(first.exit, Exit::Signal(9));
        assert_eq!(second.exit, Exit::Signal(9));
        assert!(exec.groups.lock().unwrap().is_empty());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn missing_program_is_spawn_failure() {
        let exec = Executor::new(None);
        let mut req = shell("", 1000);
        req.program = Program::Argv(vec!["/nonexistent/plugin".to_string()]);
        let out = exec.run(req).await;
        assert!(matches!(out.exit, Exit::SpawnFailed(_)), "{:?}", out.exit);
    }

    #[tokio::test]
    async fn children_start_with_an_empty_signal_mask() {
        use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
        // The runtime runs on this thread: block a signal here, as a parent might have.
        let mut blocked = SigSet::empty();
        blocked.add(Signal::SIGUSR1);
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None).unwrap();
        let exec = Executor::new(None);
        // Argv: a shell would clear its mask itself.
        let mut grep = shell("", 5000);
        grep.program = Program::Argv(
            ["grep", "SigBlk", "/proc/self/status"]
                .map(String::from)
                .to_vec(),
        );
        let out = exec.run(grep).await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "SigBlk:\t0000000000000000\n"
        );
    }

    #[tokio::test]
    async fn limit_bounds_concurrency() {
        let exec = Arc::new(Executor::new(Some(2)));
        let start = Instant::now();
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let exec = exec.clone();
                tokio::spawn(async move { exec.run(shell("sleep 0.3", 5000)).await })
            })
            .collect();
        for r in runs {
            r.await.unwrap();
        }
        assert!(
            start.elapsed() >= Duration::from_millis(580),
            "{:?}",
            start.elapsed()
        );
    }
}

#[cfg(test)]
mod privilege_tests {
    use super::*;

    fn shell(text: &str) -> ProcessRequest {
        ProcessRequest {
            program: Program::Shell(text.into()),
            env: Environment::Inherit(Vec::new()),
            timeout: Duration::from_secs(10),
            kill_grace: Duration::from_secs(1),
            max_output: 4096,
            capture_stderr: true,
            uid: None,
            gid: None,
            stdin: None,
        }
    }

    #[tokio::test]
    async fn ids_groups_run_as_root_and_systemd_env() {
        let executor = Executor::new(None);
        let mut env = shell("echo ${NOTIFY_SOCKET:-none} ${WATCHDOG_USEC:-none}");
        env.env = Environment::Inherit(vec![
            ("NOTIFY_SOCKET".into(), "/run/x".into()),
            ("WATCHDOG_USEC".into(), "1".into()),
        ]);
        let out = executor.run(env).await;
        assert_eq!(String::from_utf8_lossy(&out.stdout), "none none\n");
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let mut named = shell("id -u; id -g; id -G");
        named.uid = Some(Principal::Name("nobody".into()));
        let out = executor.run(named).await;
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], nobody.uid.to_string());
        assert_eq!(lines[1], nobody.gid.to_string());
        let mut numeric = shell("id -u; id -G");
        numeric.uid = Some(Principal::Id(65534));
        numeric.gid = Some(Principal::Id(65533));
        let out = executor.run(numeric).await;
        assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n65533\n");
        executor.set_run_as_root(false);
        let out = executor.run(shell("true")).await;
        assert!(
            matches!(&out.exit, Exit::SpawnFailed(e) if e.contains("run_as_root")),
            "{:?}",
            out.exit
        );
        let mut as_nobody = shell("id -u");
        as_nobody.uid = Some(Principal::Id(65534));
        assert_eq!(executor.run(as_nobody).await.exit, Exit::Code(0));
    }
}
