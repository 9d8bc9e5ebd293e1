//! Row 13: the soak (issue 18). 1000 checks on 2–5 s intervals with `History: 20`, 50 of
//! them with an `Nsca` action into the real `nsca`; `/plugins` and `/metrics` polled every
//! second; a reload (SIGHUP) every 20 s that removes 20 checks and adds 20 others, with
//! `removed_check_grace: 60` so the store drops the removed checks' history within the
//! run (the default keeps it a day: 20 new names every 20 s would grow the store file for
//! a day by design, which is not what the soak looks for). 10 minutes
//! in full mode, about a minute with 300 checks and `History: 5` in `--quick`. After the warm-up (the rings full) it reports the
//! RSS slope, fds, threads, the store file, lingering zombies, and NSCA results lost: each
//! NSCA check prints a sequence number it keeps in a file, and every number it printed
//! must show up in nsca's command file.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    fs,
    path::Path,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use nix::{sys::signal::Signal, unistd::Pid};

use super::nsca::{PASSWORD, start_nsca};
use crate::{
    Ctx, Row,
    util::{self, median},
};

/// Seconds the store keeps a removed check's history (the config's default is a day).
const REMOVED_CHECK_GRACE: u64 = 60;

/// Sizes and times of one soak.
struct Plan {
    checks: usize,
    nsca_checks: usize,
    rotating: usize,
    history: usize,
    run: Duration,
    warm_up: Duration,
}

/// An RSS reading: seconds since the start, KiB.
type RssReading = (f64, f64);

/// One reading of the daemon, every 5 s (its RSS is read every second, see [`drive`]).
#[derive(Debug, Clone)]
struct Sample {
    at: f64,
    fds: usize,
    threads: usize,
    store_bytes: u64,
    zombies: HashSet<u32>,
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let plan = Plan {
        checks: ctx.pick(300, 1000),
        nsca_checks: 50,
        rotating: 20,
        // Quick mode: rings of 5, so they are full (5 × 5 s) before its 30 s warm-up ends.
        history: ctx.pick(5, 20),
        // `SMOKER_BENCH_SOAK_SECS` makes a longer (or shorter) run by hand.
        run: Duration::from_secs(
            std::env::var("SMOKER_BENCH_SOAK_SECS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(ctx.pick(60, 600)),
        ),
        // The rings fill after History × the longest interval (5 s).
        warm_up: Duration::from_secs(ctx.pick(30, 120)),
    };
    let dir = util::scratch_dir("soak")?;
    let seq_dir = dir.path().join("seq");
    fs::create_dir_all(&seq_dir)?;
    for k in 0..plan.nsca_checks {
        fs::write(seq_dir.join(format!("k{k:02}")), "0\n")?;
    }
    let nsca_port = util::free_port()?;
    let nsca = start_nsca(dir.path(), "soak", nsca_port, 1)?;
    let (api, mport) = (util::free_port()?, util::free_port()?);
    let yaml = |generation: usize| config(&plan, dir.path(), api, mport, nsca_port, generation);
    let daemon = util::start_smokerd(
        dir.path(),
        "smokerd-soak",
        &yaml(0),
        api,
        Duration::from_secs(60),
    )?;
    let pid = daemon.pid();
    let state = dir.path().join("state");

    let stop = AtomicBool::new(false);
    let poll_errors = AtomicUsize::new(0);
    let polls = AtomicUsize::new(0);
    let (samples, rss, reloads) = thread::scope(|s| {
        s.spawn(|| poll(api, mport, &stop, &polls, &poll_errors));
        let res = drive(&plan, pid, &state, dir.path(), &yaml);
        stop.store(true, Ordering::Relaxed);
        res
    })?;
    let (lost, produced) = nsca_lost(&seq_dir, &nsca.cmd_file, plan.nsca_checks)?;
    drop(daemon);
    let note = format!(
        "{} checks ({} with Nsca), History {}, {:.0} s after a {:.0} s warm-up, {reloads} reloads \
         (removed_check_grace {REMOVED_CHECK_GRACE} s), {} polls of /plugins and /metrics ({} failed)",
        plan.checks,
        plan.nsca_checks,
        plan.history,
        (plan.run - plan.warm_up).as_secs_f64(),
        plan.warm_up.as_secs_f64(),
        polls.load(Ordering::Relaxed),
        poll_errors.load(Ordering::Relaxed),
    );
    let nsca = (lost, produced);
    Ok(verdicts(&samples, &rss, plan.warm_up, nsca, &note))
}

/// The daemon's config: `checks` checks (the first `nsca_checks` print a sequence number
/// and send it to nsca), and this generation's `rotating` checks.
fn config(
    plan: &Plan,
    dir: &Path,
    api: u16,
    mport: u16,
    nsca_port: u16,
    generation: usize,
) -> String {
    let mut y = util::yaml_head(api, &dir.join("state"), None);
    y.push_str(&util::yaml_metrics(mport));
    let _ = writeln!(y, "removed_check_grace: {REMOVED_CHECK_GRACE}");
    let _ = write!(
        y,
        "actions:\n  nagios:\n    Nsca: {{host: 127.0.0.1, port: {nsca_port}, password: {PASSWORD}, encryption: 1, host_name: soakhost}}\n\
         templates:\n  BasePlugin: {{Timeout: 30, History: {}}}\nplugins:\n",
        plan.history
    );
    let seq = dir.join("seq");
    for i in 0..plan.checks {
        let interval = 2 + i % 4;
        if i < plan.nsca_checks {
            let f = seq.join(format!("k{i:02}"));
            let f = f.display();
            let _ = writeln!(
                y,
                "  k{i:02}: {{Interval: {interval}, Action: nagios, Command: \"n=$(($(cat {f}) + 1)); echo $n > {f}; echo OK seq k{i:02} $n\"}}"
            );
        } else {
            let _ = writeln!(
                y,
                "  s{i:04}: {{Interval: {interval}, Argv: [/bin/echo, 'OK - soak {i}']}}"
            );
        }
    }
    for j in 0..plan.rotating {
        let _ = writeln!(
            y,
            "  r{generation}x{j:02}: {{Interval: 2, Argv: [/bin/echo, 'OK - rotating']}}"
        );
    }
    y
}

/// Polls `GET /plugins` and `GET /metrics` every second until `stop`.
fn poll(api: u16, mport: u16, stop: &AtomicBool, polls: &AtomicUsize, errors: &AtomicUsize) {
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let plugins = util::http(api, "GET", "/plugins", None, Duration::from_secs(30));
        if !plugins.is_ok_and(|r| r.status == 200) {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        if util::metrics_text(&[mport]).is_none() {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        polls.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
    }
}

/// Runs the soak: a sample every 5 s, the RSS every second, a reload every 20 s. Returns
/// the samples, the RSS readings (seconds, KiB) and the number of reloads.
///
/// The RSS is read every second because it moves with the daemon's 10 s heap release:
/// readings every 5 s see only two phases of that cycle, and which two moves the slope.
fn drive(
    plan: &Plan,
    pid: u32,
    state: &Path,
    dir: &Path,
    yaml: &dyn Fn(usize) -> String,
) -> Result<(Vec<Sample>, Vec<RssReading>, usize)> {
    let t0 = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut rss: Vec<RssReading> = Vec::new();
    let mut next_rss = Duration::ZERO;
    let mut generation = 0;
    let mut next_reload = Duration::from_secs(20);
    let mut next_sample = Duration::ZERO;
    while t0.elapsed() < plan.run {
        let now = t0.elapsed();
        if now >= next_rss {
            rss.push((now.as_secs_f64(), util::rss_mib(pid)? * 1024.0));
            next_rss += Duration::from_secs(1);
        }
        if now >= next_sample {
            samples.push(sample(pid, state, now.as_secs_f64())?);
            next_sample += Duration::from_secs(5);
        }
        if now >= next_reload {
            generation += 1;
            util::write(&dir.join("smokerd-soak.yaml"), &yaml(generation))?;
            nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGHUP)?;
            next_reload += Duration::from_secs(20);
        }
        thread::sleep(Duration::from_millis(100));
    }
    samples.push(sample(pid, state, t0.elapsed().as_secs_f64())?);
    rss.push((t0.elapsed().as_secs_f64(), util::rss_mib(pid)? * 1024.0));
    Ok((samples, rss, generation))
}

fn sample(pid: u32, state: &Path, at: f64) -> Result<Sample> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| anyhow::anyhow!("smokerd (pid {pid}) is gone: {e}"))?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let store_bytes = fs::read_dir(state)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Ok(Sample {
        at,
        fds: fs::read_dir(format!("/proc/{pid}/fd"))?.count(),
        threads,
        store_bytes,
        zombies: zombie_children(pid),
    })
}

/// Children of `pid` in state Z right now.
fn zombie_children(pid: u32) -> HashSet<u32> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return HashSet::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // `PID (COMM) STATE PPID …`; COMM may hold spaces and parentheses.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
            state == Some("Z") && ppid == Some(pid)
        })
        .collect()
}

/// Waits (at most 60 s) until nsca wrote every sequence number the NSCA checks printed
/// up to now; returns (numbers missing, numbers printed).
fn nsca_lost(seq_dir: &Path, cmd_file: &Path, checks: usize) -> Result<(usize, usize)> {
    let printed: HashMap<String, usize> = (0..checks)
        .map(|k| {
            let name = format!("k{k:02}");
            let n = fs::read_to_string(seq_dir.join(&name))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            (name, n)
        })
        .collect();
    let produced: usize = printed.values().sum();
    if produced == 0 {
        bail!("the NSCA checks never ran");
    }
    let missing = || -> usize {
        let text = fs::read_to_string(cmd_file).unwrap_or_default();
        let mut seen: HashSet<(String, usize)> = HashSet::new();
        for line in text.lines() {
            let mut words = line.rsplit(' ');
            let n = words.next().and_then(|n| n.parse::<usize>().ok());
            if let (Some(n), Some(name)) = (n, words.next()) {
                seen.insert((name.to_string(), n));
            }
        }
        printed
            .iter()
            .map(|(name, &top)| {
                (1..=top)
                    .filter(|n| !seen.contains(&(name.clone(), *n)))
                    .count()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lost = missing();
    while lost > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(500));
        lost = missing();
    }
    Ok((lost, produced))
}

/// Least-squares slope of `y` over `x` (per unit of `x`).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

/// Growth of a reading: the median of the last third minus the median of the first third.
fn growth(after: &[Sample], f: impl Fn(&Sample) -> f64) -> (f64, f64) {
    let third = (after.len() / 3).max(1);
    let first: Vec<f64> = after.iter().take(third).map(&f).collect();
    let last: Vec<f64> = after.iter().rev().take(third).map(&f).collect();
    (median(&first), median(&last) - median(&first))
}

/// The first reading of each minute, rounded to 0.1.
fn by_minute(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> Vec<f64> {
    let mut minute = -1.0;
    samples
        .iter()
        .filter(|s| {
            let m = (s.at / 60.0).floor();
            let first = m > minute;
            minute = m;
            first
        })
        .map(|s| (f(s) * 10.0).round() / 10.0)
        .collect()
}

/// The mean RSS (MiB, rounded to 0.1) of each minute's readings.
fn rss_by_minute(rss: &[RssReading]) -> Vec<f64> {
    let mut minutes: Vec<(f64, usize)> = Vec::new();
    for &(at, kib) in rss {
        let m = (at / 60.0) as usize;
        if minutes.len() <= m {
            minutes.resize(m + 1, (0.0, 0));
        }
        minutes[m].0 += kib;
        minutes[m].1 += 1;
    }
    minutes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(sum, n)| (sum / *n as f64 / 1024.0 * 10.0).round() / 10.0)
        .collect()
}

/// The rows from the samples (every 5 s), the RSS readings (every second), the warm-up
/// and the NSCA results (lost, produced).
fn verdicts(
    all: &[Sample],
    rss_all: &[RssReading],
    warm_up: Duration,
    (lost, produced): (usize, usize),
    note: &str,
) -> Vec<Row> {
    let warm = warm_up.as_secs_f64();
    // The samples are in time order.
    let after = &all[all.partition_point(|s| s.at < warm)..];
    // (minutes, KiB) after the warm-up.
    let rss: Vec<(f64, f64)> = rss_all
        .iter()
        .filter(|p| p.0 >= warm)
        .map(|p| (p.0 / 60.0, p.1))
        .collect();
    let minutes = rss.last().map(|p| p.0).unwrap_or(0.0) - rss.first().map(|p| p.0).unwrap_or(0.0);
    let rss_slope = slope(&rss);
    let mean_kib = rss.iter().map(|p| p.1).sum::<f64>() / rss.len().max(1) as f64;
    let (fd0, fd_growth) = growth(after, |s| s.fds as f64);
    let (th0, th_growth) = growth(after, |s| s.threads as f64);
    let (store0, store_growth) = growth(after, |s| s.store_bytes as f64);
    // A zombie counts when the same pid is still a zombie 5 s later (not reaped yet).
    let lingering = all
        .windows(2)
        .map(|w| w[0].zombies.intersection(&w[1].zombies).count())
        .max()
        .unwrap_or(0);
    let max_rss = rss.iter().map(|p| p.1).fold(0.0, f64::max);
    vec![
        Row::new(
            13,
            "soak RSS slope after warm-up",
            "kB/min",
            "growth < 2% of RSS over the run",
        )
        .ours(rss_slope)
        .reference(&format!("mean RSS {:.1} MiB", mean_kib / 1024.0), None)
        .met(Some(rss_slope * minutes <= 0.02 * mean_kib))
        .note(format!(
            "{note}; max RSS {:.1} MiB; RSS by minute (mean of its 1 s readings) {:?} MiB; \
             store by minute {:?} MiB",
            max_rss / 1024.0,
            rss_by_minute(rss_all),
            by_minute(all, |s| s.store_bytes as f64 / 1048576.0),
        )),
        Row::new(
            13,
            "soak fds growth (threads in note)",
            "fds",
            "≤ 8 fds, ≤ 2 threads",
        )
        .ours(fd_growth)
        .reference(&format!("{fd0:.0} fds, {th0:.0} threads at warm-up"), None)
        .met(Some(fd_growth <= 8.0 && th_growth <= 2.0))
        .note(format!("threads growth {th_growth:+.0}")),
        Row::new(13, "soak store file growth", "MiB", "< 10% after warm-up")
            .ours(store_growth / 1048576.0)
            .reference(&format!("{:.1} MiB at warm-up", store0 / 1048576.0), None)
            .met(Some(store_growth <= 0.1 * store0.max(1.0))),
        Row::new(13, "soak zombies (lingering ≥ 5 s)", "", "0")
            .ours(lingering as f64)
            .met(Some(lingering == 0)),
        Row::new(13, "soak NSCA results lost", "", "0")
            .ours(lost as f64)
            .reference(&format!("{produced} sequence numbers printed"), None)
            .met(Some(lost == 0)),
    ]
}
