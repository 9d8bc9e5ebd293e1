//! systemd integration and the pidfile (decisions.md D4).
//!
//! Owns the `sd_notify` messages (READY, RELOADING, STOPPING, STATUS), the watchdog
//! pings, and the pidfile. Every notification is a no-op when smokerd does not run
//! under systemd (`NOTIFY_SOCKET` unset), so the daemon behaves the same in the
//! foreground. The pidfile is only written when `-p` or YAML `pidfile` asks for one,
//! and it is refused while a live smokerd holds it.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use nix::{errno::Errno, sys::signal::kill, unistd::Pid};
use sd_notify::NotifyState;
use tracing::{debug, info, warn};

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "Cannot notify systemd.");
    }
}

/// Start-up finished: the API listens and checks are scheduled.
pub fn notify_ready() {
    notify(&[NotifyState::Ready]);
}

/// A reload started (send [`notify_ready`] when it is done, whatever its outcome).
pub fn notify_reloading() {
    // MONOTONIC_USEC lets `Type=notify-reload` match the reload; plain `notify` ignores it.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// Shutdown started.
pub fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

/// One line for `systemctl status` (e.g. `12 checks, store: ok`).
pub fn notify_status(status: &str) {
    // A newline would end the assignment and start a new one.
    let status = status.replace('\n', " ");
    notify(&[NotifyState::Status(&status)]);
}

/// How often to ping the watchdog: half of `WatchdogSec`, `None` when it is off.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .map(|timeout| timeout / 2)
        .filter(|interval| !interval.is_zero())
}

/// One watchdog ping.
pub fn watchdog_ping() {
    notify(&[NotifyState::Watchdog]);
}

/// Pings the watchdog forever at [`watchdog_interval`]; returns at once when the
/// watchdog is off. Run it on the runtime that does the work (a stuck runtime stops
/// the pings and systemd restarts the service).
pub async fn run_watchdog() {
    let Some(interval) = watchdog_interval() else {
        return;
    };
    debug!(
        interval_ms = interval.as_millis() as u64,
        "Pinging the systemd watchdog."
    );
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        watchdog_ping();
    }
}

/// Pidfile problems (start-up failures, exit 1).
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    #[error("PID file {path} already exists and process {pid} is running")]
    Held { path: PathBuf, pid: i32 },
    #[error("cannot write PID file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read PID file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A pidfile this process wrote; removed on [`Pidfile::remove`] or drop, if it still
/// holds our pid.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: i32,
}

impl Pidfile {
    /// Writes our pid (no newline, as the original) to `path`. A file naming a live
    /// smokerd is refused; a stale one (dead pid, pid reused by another program,
    /// unreadable content) is replaced.
    pub fn create(path: impl AsRef<Path>) -> Result<Pidfile, PidfileError> {
        let path = path.as_ref().to_path_buf();
        let own = nix::unistd::getpid().as_raw();
        for _ in 0..3 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(own.to_string().as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(|source| PidfileError::Write {
                            path: path.clone(),
                            source,
                        })?;
                    return Ok(Pidfile { path, pid: own });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if let Some(pid) = read_pid(&path)? {
                        if pid != own && holds_smokerd(pid) {
                            return Err(PidfileError::Held { path, pid });
                        }
                    }
                    info!(path = %path.display(), "Replacing a stale PID file.");
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(source) => return Err(PidfileError::Write { path, source }),
                    }
                }
                Err(source) => return Err(PidfileError::Write { path, source }),
            }
        }
        Err(PidfileError::Write {
            path,
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "another process keeps creating it",
            ),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (shutdown). Same as dropping it.
    pub fn remove(self) {}

    fn remove_if_ours(&self) {
        match read_pid(&self.path) {
            Ok(Some(pid)) if pid == self.pid => {
                if let Err(e) = fs::remove_file(&self.path) {
                    warn!(path = %self.path.display(), error = %e, "Cannot remove the PID file.");
                }
            }
            Ok(_) => {
                warn!(path = %self.path.display(), "PID file no longer names this process; left alone.")
            }
            Err(e) => debug!(error = %e, "PID file already gone."),
        }
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        self.remove_if_ours();
    }
}

/// The pid in a pidfile: `Ok(None)` when the file is missing, empty or not a number
/// (`smokerd --stop` uses it too).
pub fn read_pid(path: impl AsRef<Path>) -> Result<Option<i32>, PidfileError> {
    let path = path.as_ref();
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().parse::<i32>().ok().filter(|pid| *pid > 0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PidfileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `pid` is a live process that could be another smokerd: alive, and (when
/// `/proc` tells) running the same program name as we do.
fn holds_smokerd(pid: i32) -> bool {
    let alive = match kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::EPERM) => true,
        Err(_) => false,
    };
    if !alive {
        return false;
    }
    let comm = |who: &str| {
        fs::read_to_string(format!("/proc/{who}/comm"))
            .ok()
            .map(|c| c.trim().to_string())
    };
    match (comm(&pid.to_string()), comm("self")) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_is_written_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smokerd.pid");
        let pidfile = Pidfile::create(&path).expect("create");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            std::process::id().to_string()
        );
        assert_eq!(
            read_pid(&path).expect("read"),
            Some(nix::unistd::getpid().as_raw())
        );
        assert_eq!(pidfile.path(), path);
        pidfile.remove();
        assert!(!path.exists());
        assert_eq!(read_pid(&path).expect("missing is fine"), None);
    }

    #[test]
    fn live_process_holding_the_pidfile_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smokerd.pid");
        // A live process with the same program name as ours: `sleep` copied under our name.
        let own_name = fs::read_to_string("/proc/self/comm").expect("comm");
        let holder = dir.path().join(own_name.trim());
        fs::copy("/bin/sleep", &holder).expect("copy sleep");
        let mut child = std::process::Command::new(&holder)
            .arg("30")
            .spawn()
            .expect("spawn");
        // The kernel renames a vforked child after its parent resumes: wait for the new name.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while fs::read_to_string(format!("/proc/{}/comm", child.id()))
            .ok()
            .as_deref()
            != Some(own_name.as_str())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "child never took the name {own_name:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        fs::write(&path, child.id().to_string()).expect("write");
        let outcome = Pidfile::create(&path);
        let _ = child.kill();
        let _ = child.wait();
        match outcome {
            Err(PidfileError::Held { pid, .. }) => {
                assert_eq!(pid, i32::try_from(child.id()).expect("pid"))
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            read_pid(&path).expect("read"),
            Some(i32::try_from(child.id()).expect("pid")),
            "file left alone"
        );
        // Once that process is gone, the file is stale and gets replaced.
        let pidfile = Pidfile::create(&path).expect("stale now");
        assert_eq!(
            read_pid(&path).expect("read"),
            Some(nix::unistd::getpid().as_raw())
        );
        drop(pidfile);
    }

    #[test]
    fn stale_pidfiles_are_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smokerd.pid");
        // A pid that exited: reaped child.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        child.wait().expect("wait");
        for stale in [
            child.id().to_string(),
            "garbage".to_string(),
            String::new(),
            "1".to_string(),
        ] {
            fs::write(&path, &stale).expect("write");
            // pid 1 is alive but is not this program: a reused pid, so stale too.
            let pidfile = Pidfile::create(&path).unwrap_or_else(|e| panic!("{stale:?}: {e}"));
            assert_eq!(
                read_pid(&path).expect("read"),
                Some(nix::unistd::getpid().as_raw())
            );
            drop(pidfile);
            assert!(!path.exists());
        }
    }

    #[test]
    fn pidfile_of_someone_else_is_left_alone_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smokerd.pid");
        let pidfile = Pidfile::create(&path).expect("create");
        fs::write(&path, "999999999").expect("overwrite");
        drop(pidfile);
        assert!(path.exists());
    }

    #[test]
    fn unwritable_pidfile_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error =
            Pidfile::create(dir.path().join("missing-dir/smokerd.pid")).expect_err("no dir");
        assert!(matches!(error, PidfileError::Write { .. }), "{error:?}");
    }

    #[test]
    fn notifications_are_no_ops_without_systemd() {
        // The test environment has no NOTIFY_SOCKET; these must neither fail nor block.
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            notify_ready();
            notify_reloading();
            notify_status("1 check\nstore: ok");
            watchdog_ping();
            notify_stopping();
        }
        if std::env::var_os("WATCHDOG_USEC").is_none() {
            assert_eq!(watchdog_interval(), None);
        }
    }
}
