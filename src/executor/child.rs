//! A started child and its reaping (issue 18, row 1): std's `posix_spawn` child with
//! its pipes on the runtime, waited for by the end of its output first.
//!
//! Most plugins end within milliseconds, and the end of their output says when: the
//! leader is then reaped with one `wait4`, without the `pidfd` (a file, an `epoll`
//! registration and its removal) that `tokio::process` opens for every child. A
//! `pidfd` is opened only when the output has ended but the leader has not, or when
//! the run lasts beyond [`WATCH_AFTER`] (a leader may exit while a process it left
//! behind holds the pipes). Where `pidfd_open` is refused, the leader is polled.
//!
//! A child dropped before it was reaped (its run was abandoned) is SIGKILLed, like
//! tokio's `kill_on_drop`, and reaped by a later spawn.

use std::{
    io,
    os::fd::OwnedFd,
    process::{ChildStdin, ExitStatus},
    sync::Mutex,
    time::Duration,
};

use tokio::{
    io::unix::AsyncFd,
    net::unix::pipe::{Receiver, Sender},
};

/// How long a run goes on before its leader is watched on its own.
pub const WATCH_AFTER: Duration = Duration::from_millis(50);

/// A spawned leader process until it is reaped.
#[derive(Debug)]
pub struct Child {
    /// `None` once reaped.
    child: Option<std::process::Child>,
    pid: u32,
    /// Readable once the leader has exited; opened on demand.
    pidfd: Option<AsyncFd<OwnedFd>>,
}

/// The child's ends of its pipes, on the runtime.
#[derive(Debug, Default)]
pub struct Pipes {
    pub stdin: Option<Sender>,
    pub stdout: Option<Receiver>,
    pub stderr: Option<Receiver>,
}

/// Children dropped before they were reaped: SIGKILLed, reaped by a later spawn.
static ORPHANS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

/// Starts `command` (its stdio already chosen) and puts its pipes on the runtime.
pub fn spawn(command: &mut std::process::Command) -> io::Result<(Child, Pipes)> {
    reap_orphans();
    let mut std_child = crate::sys::spawn_with_empty_mask(|| command.spawn())?;
    let (stdin, stdout, stderr) = (
        std_child.stdin.take(),
        std_child.stdout.take(),
        std_child.stderr.take(),
    );
    let child = Child {
        pid: std_child.id(),
        child: Some(std_child),
        pidfd: None,
    };
    // Should the runtime refuse a pipe, `child` is dropped: killed, and reaped later.
    let pipes = Pipes {
        stdin: stdin.map(sender).transpose()?,
        stdout: stdout.map(receiver).transpose()?,
        stderr: stderr.map(receiver).transpose()?,
    };
    Ok((child, pipes))
}

fn nonblocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    rustix::io::ioctl_fionbio(&fd, true)?;
    Ok(fd)
}

fn sender(pipe: ChildStdin) -> io::Result<Sender> {
    Sender::from_owned_fd_unchecked(nonblocking(pipe.into())?)
}

fn receiver(pipe: impl Into<OwnedFd>) -> io::Result<Receiver> {
    Receiver::from_owned_fd_unchecked(nonblocking(pipe.into())?)
}

fn reap_orphans() {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    if !orphans.is_empty() {
        orphans.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The leader's status if it has exited (reaping it), `None` while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Err(io::Error::other("the child was reaped already"));
        };
        let status = child.try_wait()?;
        if status.is_some() {
            self.child = None;
            self.pidfd = None;
        }
        Ok(status)
    }

    /// Waits for the leader to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let mut backoff = Duration::from_millis(5);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if self.pidfd.is_none() {
                self.pidfd = open_pidfd(self.pid);
            }
            match &self.pidfd {
                Some(pidfd) => pidfd.readable().await?.clear_ready(),
                None => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
            }
        }
    }
}

/// A pidfd for `pid` on the runtime, unless the kernel refuses one.
fn open_pidfd(pid: u32) -> Option<AsyncFd<OwnedFd>> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK).ok()?;
    crate::sys::watch_fd(fd).ok()
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            if matches!(child.try_wait(), Ok(None)) {
                ORPHANS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, process::Command};

    use super::*;

    #[tokio::test]
    async fn a_child_dropped_unreaped_is_killed_and_reaped_by_a_later_spawn() {
        let (child, _pipes) = spawn(Command::new("sleep").arg("30")).expect("sleep starts");
        let proc_dir = format!("/proc/{}", child.id());
        drop(child);
        for _ in 0..200 {
            let (mut next, _) = spawn(&mut Command::new("true")).expect("true starts");
            next.wait().await.expect("true is reaped");
            if !Path::new(&proc_dir).exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{proc_dir} is still there: the dropped child was not killed and reaped");
    }

    #[tokio::test]
    async fn wait_reaps_a_leader_that_outlives_its_output() {
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", "exec >&-; sleep 0.2; exit 4"])
            .stdout(std::process::Stdio::piped());
        let (mut child, pipes) = spawn(&mut command).expect("sh starts");
        let mut stdout = pipes.stdout.expect("a stdout pipe");
        let mut text = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut text)
            .await
            .expect("stdout ends");
        assert_eq!(child.try_wait().expect("try_wait"), None);
        assert_eq!(child.wait().await.expect("wait").code(), Some(4));
        assert!(child.try_wait().is_err(), "reaped once");
    }
}
