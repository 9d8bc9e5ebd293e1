//! The one module with `unsafe` code (issue 10): switching a child's user and
//! groups between `fork` and `exec`.
//!
//! std runs `pre_exec` closures *after* its own `uid`/`gid` switch, where
//! `setgroups` is no longer permitted, and has no stable way to set supplementary
//! groups. So the switch is done here, in this order: supplementary groups, gid,
//! uid. Everything is computed in the parent ([`crate::privileges::Switch`]); the
//! child only makes three raw system calls. Also: resetting inherited ignored
//! signals (children start with default dispositions) and counting utmp sessions.
#![allow(unsafe_code)]

use std::io;

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

/// Makes `command`'s child switch to `groups`, `gid`, then `uid` before exec.
pub fn switch_ids_before_exec(
    command: &mut tokio::process::Command,
    groups: Vec<Gid>,
    gid: Gid,
    uid: Uid,
) {
    let switch = move || -> io::Result<()> {
        setgroups(&groups).map_err(io::Error::from)?;
        setgid(gid).map_err(io::Error::from)?;
        setuid(uid).map_err(io::Error::from)?;
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe operations are allowed. It allocates nothing (the group
    // list was built in the parent and is only borrowed), takes no locks, and calls
    // setgroups(2), setgid(2) and setuid(2) directly; errors become `io::Error`
    // from a plain errno value (no allocation) and make the spawn fail.
    unsafe {
        command.pre_exec(switch);
    }
}

/// Sets every signal this process inherited as ignored (`SIG_IGN`: SIGQUIT and SIGINT
/// of a shell's background job, SIGHUP of nohup, SIGCHLD of some supervisors) back to
/// its default, so children do not inherit it. SIGPIPE stays ignored: the Rust
/// runtime ignores it on purpose and std restores its default in each child.
/// Handlers are left alone (exec resets them in children).
pub fn reset_ignored_signals() {
    use nix::sys::signal::Signal;
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP | Signal::SIGPIPE) {
            continue;
        }
        let number = signal as libc::c_int;
        // SAFETY: `sigaction` with a null new action only reads the disposition into
        // a zeroed, owned struct; `signal(…, SIG_DFL)` installs no handler code. Only
        // a disposition that is SIG_IGN is touched, never a handler someone installed.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(number, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                libc::signal(number, libc::SIG_DFL);
            }
        }
    }
}

/// Number of `USER_PROCESS` entries in the utmp database (what `check_users` counts).
pub fn utmp_user_sessions() -> u64 {
    // A process-wide lock: the getutxent cursor is global state.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut users = 0;
    // SAFETY: setutxent/getutxent/endutxent are called under one lock, so no other
    // thread moves the cursor; each returned pointer is read before the next call.
    unsafe {
        libc::setutxent();
        loop {
            let entry = libc::getutxent();
            if entry.is_null() {
                break;
            }
            if (*entry).ut_type == libc::USER_PROCESS {
                users += 1;
            }
        }
        libc::endutxent();
    }
    users
}
