//! The one module with `unsafe` code (issue 10): switching a child's user and
//! groups between `fork` and `exec`.
//!
//! std runs `pre_exec` closures *after* its own `uid`/`gid` switch, where
//! `setgroups` is no longer permitted, and has no stable way to set supplementary
//! groups. So the switch is done here, in this order: supplementary groups, gid,
//! uid. Everything is computed in the parent ([`crate::privileges::Switch`]); the
//! child only makes three raw system calls. Also: resetting inherited ignored
//! signals (children start with default dispositions) and the mask around a spawn,
//! counting utmp sessions, capping glibc's malloc arenas and turning its per-thread
//! caches off, handing freed heap pages back, putting a child's pidfd on the runtime,
//! and asking the scheduler for a short time slice for smokerd's own threads.
#![allow(unsafe_code)]

use std::{
    io,
    os::unix::{
        ffi::{OsStrExt, OsStringExt},
        process::CommandExt,
    },
};

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

/// Makes `command`'s child switch to `groups`, `gid`, then `uid` before exec.
pub fn switch_ids_before_exec(
    command: &mut std::process::Command,
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

/// Puts `fd` (a pidfd, readable once its process has exited) on the runtime's reactor.
pub fn watch_fd(
    fd: std::os::fd::OwnedFd,
) -> io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: `register_with_interest` needs the raw descriptor to stay open and the
    // same while registered: an `OwnedFd` owns its descriptor, returns that one from
    // every `as_raw_fd`, and closes it only when dropped, which the `AsyncFd` does
    // after deregistering it.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            .map_err(io::Error::from)
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

/// Blocks SIGCHLD in the calling thread and unblocks every other signal; call in
/// `main` before the runtime starts, so every thread inherits this mask. Children are
/// reaped by `wait4` (at the end of their output, or through a pidfd), never by the
/// signal, and its default action is to ignore it. But glibc's `posix_spawn` blocks
/// all signals in the spawning thread until the child has exec'd, and a SIGCHLD
/// that finds its parent thread blocking it is not dropped: the kernel wakes another
/// thread for it. Forced runs of 2000 `/bin/true` woke the sleeping main, store and
/// worker threads about 1500 times that way (issue 18, row 1b). Blocked everywhere,
/// it waits instead until a spawning thread opens [`spawn_with_empty_mask`]'s window,
/// and is dropped there. A mask a parent left is not kept: SIGTERM must get through.
pub fn block_child_signal() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&mask), None);
}

/// Runs `spawn` with the calling thread's signal mask empty and then puts the mask
/// back: std's `posix_spawn` gives a child the spawning thread's mask, and a plugin
/// must start with nothing blocked (a shell that waits for its own children needs
/// SIGCHLD). Every place that starts a process goes through here.
pub fn spawn_with_empty_mask<T>(spawn: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut old = SigSet::empty();
    let emptied = pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        Some(&mut old),
    );
    let spawned = spawn();
    if emptied.is_ok() && old != SigSet::empty() {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    spawned
}

/// The time slice smokerd's threads ask for: EEVDF's shortest, 0.1 ms.
pub const SHORT_SLICE_NS: u64 = 100_000;

/// `struct sched_attr` as `sched_setattr(2)` first defined it (`SCHED_ATTR_SIZE_VER0`).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Asks the kernel for a short time slice ([`SHORT_SLICE_NS`]) for the calling thread,
/// with reset-on-fork so that its children and the threads it starts get the default.
/// EEVDF (Linux 6.12 and later) gives a task with a shorter slice an earlier deadline:
/// a thread of smokerd that wakes (a child's output ended, a timer, a request) runs
/// next instead of queuing behind the slices of the plugins that keep the CPUs busy.
/// Its share of CPU stays what its nice value says. With four CPU hogs on two CPUs,
/// `GET /healthz` took 4.3 ms at p90 before (a request queued behind a hog's slice about
/// one time in ten) and 0.8 ms after; row 2's p99 lateness went from 12.6 to 11.8 ms.
/// Row 1a's throughput did not move (issue 18).
///
/// Left alone: a policy other than `SCHED_OTHER` or `SCHED_BATCH`, and a negative nice
/// (reset-on-fork would give children nice 0). An older kernel ignores the slice.
pub fn short_slice() -> io::Result<()> {
    const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as libc::c_uint;
    // SAFETY: `sched_getattr` writes at most `size` bytes into the owned, zeroed
    // struct, whose layout is the kernel's `SCHED_ATTR_SIZE_VER0`; pid 0 is the thread.
    if unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let fair = matches!(
        attr.policy as libc::c_int,
        libc::SCHED_OTHER | libc::SCHED_BATCH
    );
    if !fair || attr.nice < 0 {
        return Ok(());
    }
    attr.size = size;
    attr.flags = SCHED_FLAG_RESET_ON_FORK;
    attr.runtime = SHORT_SLICE_NS;
    // SAFETY: the kernel only reads the struct, whose `size` field says its layout.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// The malloc settings smokerd makes (issue 18, the soak), each unless the operator
/// chose it (glibc reads `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` and
/// `GLIBC_TUNABLES` itself, and those win).
///
/// In the soak (1000 checks, `/plugins` and `/metrics` read every second, a reload
/// every 20 s) glibc's defaults held 20 MB in use against 44–49 MB taken from the
/// system, and the RSS climbed in steps for as long as the run lasted:
/// - up to 8 arenas per core: results, history rings and redb's pages are allocated
///   on the tokio workers and the store's writer and freed on other threads, and
///   every arena keeps its own holes;
/// - a threshold for `mmap` that glibc raises (up to 32 MiB) each time a large block
///   is freed: response bodies of hundreds of KiB then come from the arenas, and the
///   small long-lived allocations made between two of them pin the holes.
///
/// Large answers are written into buffers kept in a pool (`crate::body`): they are
/// mapped once and reused, so no answer maps fresh pages or leaves holes in an arena.
///
/// With these alone (issue 18, 10-minute soaks) the RSS still rose about 0.5 MiB from
/// minute 2 to minute 10, levelling off within about 20 minutes, while the heap in use
/// was flat from minute 3 (heaptrack: 8.74–8.75 MiB by minute) and glibc's arenas grew around
/// it (`mallinfo2`: in use 8.8–9.2 MiB, taken from the system 15.3 → 16.5 MiB), so it
/// is where freed blocks lie, not data kept. The same soak with mimalloc (0.1.52) as
/// the global allocator held 50 MiB and with jemalloc (tikv-jemallocator 0.7) 30 MiB,
/// with steeper slopes (179 and 157 kB/min against 72–82); one arena
/// (`MALLOC_ARENA_MAX=1`) held 25.9 MiB and levelled off by minute 5 but rose as much
/// (80 kB/min); `History: 1` rose as much (87 kB/min), so the kept results are not
/// what spreads the blocks. What did remove it: glibc's per-thread caches off, see
/// [`restart_without_tcache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MallocTuning {
    /// `M_ARENA_MAX`.
    pub arenas: Option<i32>,
    /// `M_MMAP_THRESHOLD` in bytes (a fixed value also stops glibc's raising it).
    pub mmap_threshold: Option<i32>,
}

/// Two arenas: the main one and one the runtime's threads share.
pub const MALLOC_ARENAS: i32 = 2;
/// glibc's own starting value, kept fixed.
pub const MALLOC_MMAP_THRESHOLD: i32 = 128 * 1024;

/// What to set, given the environment `env`.
pub fn malloc_tuning(env: impl Fn(&str) -> Option<String>) -> MallocTuning {
    let tunables = env("GLIBC_TUNABLES").unwrap_or_default();
    let chosen = |var: &str, tunable: &str| env(var).is_some() || tunables.contains(tunable);
    MallocTuning {
        arenas: (!chosen("MALLOC_ARENA_MAX", "glibc.malloc.arena_max")).then_some(MALLOC_ARENAS),
        mmap_threshold: (!chosen("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"))
            .then_some(MALLOC_MMAP_THRESHOLD),
    }
}

/// `GLIBC_TUNABLES`: glibc reads it once, when a program starts.
const TUNABLES: &str = "GLIBC_TUNABLES";
/// glibc's per-thread caches off (issue 18, the soak).
pub const TCACHE_OFF: &str = "glibc.malloc.tcache_count=0";
/// Set only for smokerd's second start, so that it does not start itself again. Its
/// value is the first start's name (`/proc/self/comm`), which the second start takes
/// back: an exec of `/proc/self/exe` would otherwise leave the process named `exe`,
/// and `pgrep smokerd`, `killall smokerd` and the journal's `_COMM` go by that name.
const RESTARTED: &str = "SMOKERD_MALLOC_RESTARTED";

/// What [`restart_without_tcache`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcachePlan {
    /// Start again with [`TCACHE_OFF`].
    Restart,
    /// This is the second start: take both variables out of the environment, so
    /// that no child inherits them.
    Forget,
    /// The operator set `GLIBC_TUNABLES` (an empty value too): theirs stands.
    Leave,
}

/// What to do about glibc's per-thread caches, given which variables are `set`.
pub fn tcache_plan(set: impl Fn(&str) -> bool) -> TcachePlan {
    if set(RESTARTED) {
        TcachePlan::Forget
    } else if set(TUNABLES) {
        TcachePlan::Leave
    } else {
        TcachePlan::Restart
    }
}

/// Turns glibc's per-thread caches off by starting smokerd again (same pid, same
/// arguments) with [`TCACHE_OFF`]; glibc offers no call for it. Call first, while
/// the process has one thread.
///
/// The soak (issue 18): with a reload every 20 s, the heap in use stays flat but the
/// RSS rose 78–131 kB/min over minutes 2–10; without reloads it was flat (26 kB/min),
/// and with the caches off it stayed within the soak's 2 % with reloads too (10 and
/// 53 kB/min, 25.4–25.5 MiB against 26.2). A reload parses on a blocking-pool thread
/// (often a new one), and blocks it allocated and the workers freed went to the
/// workers' caches and were reused for their own long-lived data, spreading it over
/// the reload's pages.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn restart_without_tcache() -> TcachePlan {
    let plan = tcache_plan(|key| std::env::var_os(key).is_some());
    match plan {
        TcachePlan::Restart => {
            let name = std::fs::read("/proc/self/comm").unwrap_or_default();
            let name = std::ffi::OsStr::from_bytes(name.trim_ascii_end());
            let mut args = std::env::args_os();
            let arg0 = args.next().unwrap_or_default();
            // `exec` returns only when it failed: then glibc's defaults stay.
            let _ = std::process::Command::new("/proc/self/exe")
                .arg0(arg0)
                .args(args)
                .env(TUNABLES, TCACHE_OFF)
                .env(RESTARTED, name)
                .exec();
        }
        TcachePlan::Forget => {
            let name = std::env::var_os(RESTARTED)
                .and_then(|name| std::ffi::CString::new(name.into_vec()).ok())
                .filter(|name| !name.is_empty());
            if let Some(name) = name {
                // The kernel keeps the first 15 bytes, as it did for the first start.
                let _ = nix::sys::prctl::set_name(&name);
            }
            // SAFETY: called first in `main`, before any thread exists, so nothing
            // reads the environment meanwhile; glibc read `GLIBC_TUNABLES` at exec.
            unsafe {
                std::env::remove_var(TUNABLES);
                std::env::remove_var(RESTARTED);
            }
        }
        TcachePlan::Leave => {}
    }
    plan
}

/// Other C libraries: nothing to turn off.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn restart_without_tcache() -> TcachePlan {
    TcachePlan::Leave
}

/// Makes the settings of [`malloc_tuning`]. Call before the runtime starts its
/// threads: an arena a thread already has stays. Returns what was set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_malloc() -> MallocTuning {
    let wanted = malloc_tuning(|key| std::env::var(key).ok());
    // SAFETY: mallopt only sets a tunable of the allocator; it takes no pointers.
    let set =
        |param, value: Option<i32>| value.filter(|&v| unsafe { libc::mallopt(param, v) } == 1);
    MallocTuning {
        arenas: set(libc::M_ARENA_MAX, wanted.arenas),
        mmap_threshold: set(libc::M_MMAP_THRESHOLD, wanted.mmap_threshold),
    }
}

/// Other C libraries have their own allocator policy; nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_malloc() -> MallocTuning {
    MallocTuning {
        arenas: None,
        mmap_threshold: None,
    }
}

/// Hands the free pages inside glibc's heaps back to the system (`malloc_trim(0)`).
/// glibc gives back only the top of a heap by itself; pages freed in the middle (the
/// store's page churn, answers, a reload's old configuration) stay resident until
/// reused. In the soak (row 13) a call every 10 s took 0.15–0.5 ms and lowered the
/// RSS by about 2.7 MiB. Returns whether memory was given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers; it locks each arena while it walks it.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other C libraries return memory by their own policy; nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn malloc_is_tuned_where_the_operator_did_not_choose() {
        let ours = MallocTuning {
            arenas: Some(MALLOC_ARENAS),
            mmap_threshold: Some(MALLOC_MMAP_THRESHOLD),
        };
        assert_eq!(malloc_tuning(env(&[])), ours);
        let arena_max = malloc_tuning(env(&[("MALLOC_ARENA_MAX", "8")]));
        assert_eq!(
            arena_max,
            MallocTuning {
                arenas: None,
                ..ours
            }
        );
        let threshold = malloc_tuning(env(&[("MALLOC_MMAP_THRESHOLD_", "65536")]));
        assert_eq!(
            threshold,
            MallocTuning {
                mmap_threshold: None,
                ..ours
            }
        );
        let both = env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=1048576",
        )]);
        assert_eq!(
            malloc_tuning(both),
            MallocTuning {
                arenas: None,
                mmap_threshold: None
            }
        );
        let other = env(&[("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")]);
        assert_eq!(malloc_tuning(other), ours);
    }

    /// Resident bytes of this process.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn rss() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("rss");
        pages * 4096
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_pages_in_the_middle_of_a_heap_go_back_to_the_system() {
        // 32 MiB in 4 KiB blocks (from an arena, far below the mmap threshold), all
        // freed but the last one, which keeps the heap's top where it is.
        let mut blocks: Vec<Box<[u8]>> = (0..8192).map(|_| vec![1u8; 4096].into()).collect();
        let top = blocks.pop();
        let before = rss();
        drop(blocks);
        assert!(release_free_memory());
        let given_back = before.saturating_sub(rss());
        assert!(given_back > 16 << 20, "{given_back} bytes given back");
        drop(top);
    }

    #[test]
    fn the_caches_go_off_once_unless_the_operator_chose() {
        let set = |pairs| {
            let env = env(pairs);
            move |key: &str| env(key).is_some()
        };
        assert_eq!(tcache_plan(set(&[])), TcachePlan::Restart);
        assert_eq!(
            tcache_plan(set(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=1")])),
            TcachePlan::Leave
        );
        assert_eq!(
            tcache_plan(set(&[("GLIBC_TUNABLES", "")])),
            TcachePlan::Leave
        );
        assert_eq!(
            tcache_plan(set(&[(TUNABLES, TCACHE_OFF), (RESTARTED, "smokerd")])),
            TcachePlan::Forget
        );
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_takes_the_settings() {
        let wanted = malloc_tuning(|key| std::env::var(key).ok());
        assert_eq!(tune_malloc(), wanted);
    }
}
