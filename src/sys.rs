//! The one module with `unsafe` code (issue 10): switching a child's user and
//! groups between `fork` and `exec`.
//!
//! std runs `pre_exec` closures *after* its own `uid`/`gid` switch, where
//! `setgroups` is no longer permitted, and has no stable way to set supplementary
//! groups. So the switch is done here, in this order: supplementary groups, gid,
//! uid. Everything is computed in the parent ([`crate::privileges::Switch`]); the
//! child only makes three raw system calls. Also: resetting inherited ignored
//! signals (children start with default dispositions), counting utmp sessions, and
//! capping glibc's malloc arenas.
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

/// How many malloc arenas smokerd lets glibc create (issue 18, the soak).
///
/// glibc gives threads up to 8 arenas per core. Results, history rings and redb's
/// page cache are allocated on the tokio workers and the store's writer, and freed
/// on others; each arena then keeps its own free holes. In the 10-minute soak that
/// was 20 MB in use against 44 MB taken from the system, and the RSS grew in steps
/// for as long as the run lasted. Two arenas held it near what is in use, flat.
pub const MALLOC_ARENAS: i32 = 2;

/// The arena cap to set: [`MALLOC_ARENAS`], unless the operator chose one through
/// `MALLOC_ARENA_MAX` or `glibc.malloc.arena_max` in `GLIBC_TUNABLES` (glibc reads
/// those itself, and they win).
pub fn malloc_arena_cap(env: impl Fn(&str) -> Option<String>) -> Option<i32> {
    let chosen = env("MALLOC_ARENA_MAX").is_some()
        || env("GLIBC_TUNABLES").is_some_and(|t| t.contains("glibc.malloc.arena_max"));
    (!chosen).then_some(MALLOC_ARENAS)
}

/// Caps glibc's malloc arenas (see [`malloc_arena_cap`]). Call before the runtime
/// starts its threads: an arena a thread already has stays. Returns the cap set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn cap_malloc_arenas() -> Option<i32> {
    let cap = malloc_arena_cap(|key| std::env::var(key).ok())?;
    // SAFETY: mallopt only sets a tunable of the allocator; it takes no pointers.
    (unsafe { libc::mallopt(libc::M_ARENA_MAX, cap) } == 1).then_some(cap)
}

/// Other C libraries have their own allocator policy; nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn cap_malloc_arenas() -> Option<i32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arenas_are_capped_unless_the_operator_chose() {
        assert_eq!(malloc_arena_cap(|_| None), Some(MALLOC_ARENAS));
        let arena_max = |key: &str| (key == "MALLOC_ARENA_MAX").then(|| "8".to_string());
        assert_eq!(malloc_arena_cap(arena_max), None);
        let tunables =
            |key: &str| (key == "GLIBC_TUNABLES").then(|| "glibc.malloc.arena_max=4".to_string());
        assert_eq!(malloc_arena_cap(tunables), None);
        let other = |key: &str| {
            (key == "GLIBC_TUNABLES").then(|| "glibc.malloc.tcache_count=0".to_string())
        };
        assert_eq!(malloc_arena_cap(other), Some(MALLOC_ARENAS));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_cap_is_accepted_by_glibc() {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none()
            && std::env::var_os("GLIBC_TUNABLES").is_none()
        {
            assert_eq!(cap_malloc_arenas(), Some(MALLOC_ARENAS));
        }
    }
}
