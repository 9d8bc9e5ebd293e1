//! Watching a started child (issue 18 split it from the executor): its output drained
//! concurrently and capped, the leader reaped, the timeout, shutdown and cancel, and the
//! termination of its process group (SIGTERM, SIGKILL after the grace).

use std::{future::Future, pin::Pin, process::ExitStatus, sync::Arc, time::Duration};

use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    sync::watch,
};

use super::child::{self, Child, Pipes};

/// How the process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The timeout hit; the group was terminated.
    TimedOut,
    /// The daemon shut down while it ran; the group was terminated.
    Interrupted,
    /// It never started.
    SpawnFailed(String),
}

/// What supervising a run takes from its request.
pub(super) struct Limits {
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL when the group is terminated.
    pub kill_grace: Duration,
    /// Cap for each captured stream.
    pub max_output: usize,
    /// Written to the child's stdin, which is then closed.
    pub stdin: Option<Arc<[u8]>>,
}

/// Resolves once `cancel` turns true; never without one (or when its sender is gone).
pub(super) async fn cancelled(cancel: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = cancel {
        if rx.wait_for(|v| *v).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// Why the first phase of a run ended.
enum Ended {
    /// The leader exited (or waiting for it failed).
    Exited(std::io::Result<ExitStatus>),
    /// The timeout, shutdown or a cancel: the group must be terminated.
    By(Exit),
}

/// Waits for the child while capturing its output, under the timeout, shutdown and
/// `cancel`; terminates its group when needed and always reaps it.
pub(super) async fn supervise(
    child: &mut Child,
    pipes: Pipes,
    limits: Limits,
    interrupt: watch::Receiver<bool>,
    cancel: Option<watch::Receiver<bool>>,
) -> (Exit, Captured) {
    let group = i32::try_from(child.id()).ok().map(Pid::from_raw);
    let Pipes {
        stdin,
        stdout,
        stderr,
    } = pipes;
    let stdin = stdin.zip(limits.stdin);
    let cap = limits.max_output;
    // Drained concurrently with the wait (in this task) so a full pipe never blocks the child;
    // the stdin payload is written alongside and then closed.
    let capture = async move {
        let ((), out, err) = tokio::join!(
            write_all_and_close(stdin),
            read_capped(stdout, cap),
            read_capped(stderr, cap)
        );
        (out, err)
    };
    tokio::pin!(capture);
    let mut captured: Option<Captured> = None;
    let ended = leader_ended(
        child,
        capture.as_mut(),
        &mut captured,
        limits.timeout,
        interrupt,
        cancel,
    )
    .await;
    let exit = match ended {
        Ended::Exited(status) => {
            if captured.is_none() {
                // The leader exited; leftovers in its group may still hold the pipes.
                tokio::select! {
                    c = &mut capture => captured = Some(c),
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {
                        terminate_group(group, capture.as_mut(), &mut captured, limits.kill_grace).await;
                    }
                }
            }
            exit_of(status)
        }
        Ended::By(exit) => {
            terminate_group(group, capture.as_mut(), &mut captured, limits.kill_grace).await;
            let _ = child.wait().await;
            exit
        }
    };
    (exit, captured.unwrap_or_default())
}

/// Phase 1 of a run: the leader exits, or the timeout, shutdown or a cancel comes, while
/// the capture drains the pipes. For most plugins the end of the output comes first and
/// the leader is reaped right then; it is watched on its own only when it outlives its
/// output or the run lasts beyond [`child::WATCH_AFTER`].
async fn leader_ended(
    child: &mut Child,
    mut capture: Pin<&mut impl Future<Output = Captured>>,
    captured: &mut Option<Captured>,
    timeout: Duration,
    mut interrupt: watch::Receiver<bool>,
    mut cancel: Option<watch::Receiver<bool>>,
) -> Ended {
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    let mut watching = false;
    let timer = tokio::time::sleep_until(deadline.min(start + child::WATCH_AFTER));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            res = child.wait(), if watching => return Ended::Exited(res),
            c = &mut capture, if captured.is_none() => {
                *captured = Some(c);
                match child.try_wait() {
                    Ok(Some(status)) => return Ended::Exited(Ok(status)),
                    Ok(None) => watching = true,
                    Err(e) => return Ended::Exited(Err(e)),
                }
            }
            () = &mut timer => {
                if tokio::time::Instant::now() >= deadline {
                    return Ended::By(Exit::TimedOut);
                }
                watching = true;
                timer.as_mut().reset(deadline);
            }
            _ = interrupt.wait_for(|v| *v) => return Ended::By(Exit::Interrupted),
            () = cancelled(&mut cancel) => return Ended::By(Exit::Interrupted),
        }
    }
}

/// The [`Exit`] of a wait status.
fn exit_of(status: std::io::Result<ExitStatus>) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::SpawnFailed("unknown exit status".to_string()),
        },
        Err(e) => Exit::SpawnFailed(e.to_string()),
    }
}

pub(super) type Captured = ((Vec<u8>, bool), (Vec<u8>, bool));

/// SIGTERM to the group, SIGKILL after `grace`, while the capture keeps draining.
/// Leaves `captured` set: what was read, or nothing when the pipes never closed.
async fn terminate_group(
    group: Option<Pid>,
    mut capture: Pin<&mut impl Future<Output = Captured>>,
    captured: &mut Option<Captured>,
    grace: Duration,
) {
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
        if captured.is_none() {
            tokio::select! {
                c = &mut capture => *captured = Some(c),
                _ = tokio::time::sleep(grace) => {}
            }
        }
        // Always make sure nothing of the group survives, even if the pipes closed.
        let _ = killpg(group, Signal::SIGKILL);
    }
    if captured.is_none() {
        // Pipes held by processes outside the group (setsid) must not hang us.
        tokio::select! {
            c = &mut capture => *captured = Some(c),
            _ = tokio::time::sleep(Duration::from_secs(1)) => *captured = Some(Captured::default()),
        }
    }
}

/// Writes the payload to the child's stdin and closes it; a child that exits or
/// closes its stdin early just ends the write.
async fn write_all_and_close(stdin: Option<(tokio::net::unix::pipe::Sender, Arc<[u8]>)>) {
    use tokio::io::AsyncWriteExt;
    if let Some((mut pipe, payload)) = stdin {
        let _ = pipe.write_all(&payload).await;
        let _ = pipe.shutdown().await;
    }
}

/// Reads a stream to EOF, keeping the first `cap` bytes. The buffer grows with the
/// output (most plugins print one line); bytes past the cap are read and dropped.
async fn read_capped<R: AsyncRead + Unpin>(stream: Option<R>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut stream) = stream else {
        return (Vec::new(), false);
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut discard: Vec<u8> = Vec::new();
    let mut truncated = false;
    loop {
        let room = cap - kept.len();
        let read = if room > 0 {
            if kept.len() == kept.capacity() {
                kept.reserve(kept.len().clamp(512, 64 * 1024).min(room));
            }
            (&mut stream).take(room as u64).read_buf(&mut kept).await
        } else {
            if discard.is_empty() {
                discard = vec![0; 16 * 1024];
            }
            match stream.read(&mut discard).await {
                Ok(n) => {
                    truncated |= n > 0;
                    Ok(n)
                }
                Err(e) => Err(e),
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    (kept, truncated)
}
