//! Row 2: N checks with intervals 1–60 s for a window. Lateness = each run's `lastRun`
//! against the ideal schedule (the phase the daemon announced as `nextRun` at the start of
//! the window, plus whole intervals); daemon CPU = utime+stime of smokerd only.

use std::{
    collections::HashMap,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use chrono::NaiveDateTime;

use crate::{
    Ctx, Row,
    util::{self, get_json, percentile, plugin_items},
};

fn parse_time(v: &serde_json::Value) -> Option<NaiveDateTime> {
    let s = v.as_str()?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.pick(1000, 10_000);
    let window = Duration::from_secs(ctx.pick(10, 60));
    let warm = Duration::from_secs(ctx.pick(2, 10));
    // Every interval-1 check runs once a second: keep the whole window in its history.
    let history = window.as_secs() + warm.as_secs() + 10;
    let dir = util::scratch_dir("scheduler")?;
    let port = util::free_port()?;
    let mport = util::free_port()?;
    let mut yaml = util::yaml_head(port, &dir.path().join("state"), None);
    yaml.push_str(&util::yaml_metrics(mport));
    yaml.push_str(&format!(
        "templates:\n  BasePlugin: {{Interval: 0, Timeout: 30, History: {history}}}\nplugins:\n"
    ));
    let interval = |i: usize| 1 + (i % 60) as i64;
    for i in 0..n {
        yaml.push_str(&format!(
            "  s{i:05}: {{Interval: {}, Argv: [/bin/true]}}\n",
            interval(i)
        ));
    }
    let daemon = util::start_smokerd(dir.path(), "smokerd", &yaml, port, Duration::from_secs(120))?;
    thread::sleep(warm);

    // The announced phase of every check.
    let plugins = get_json(daemon.port, "/plugins")?;
    let mut phase: HashMap<String, (NaiveDateTime, i64)> = HashMap::new();
    for (i, p) in plugin_items(&plugins).into_iter().enumerate() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let next = parse_time(&p["nextRun"]).with_context(|| format!("{name}: no nextRun"))?;
        let ivl = p["parameters"]["Interval"].as_i64().unwrap_or(interval(i));
        phase.insert(name, (next, ivl));
    }
    if phase.len() != n {
        bail!("GET /plugins listed {} checks, expected {n}", phase.len());
    }
    let hist0 = lateness_histogram(&[mport, daemon.port]);
    let cpu0 = util::cpu_seconds(daemon.pid())?;
    let t0 = Instant::now();
    thread::sleep(window);
    let cpu1 = util::cpu_seconds(daemon.pid())?;
    let secs = t0.elapsed().as_secs_f64();
    let local1 = chrono::Local::now().naive_local();
    let hist1 = lateness_histogram(&[mport, daemon.port]);
    let cpu_pct = (cpu1 - cpu0) / secs * 100.0;

    // Runs of a sample of checks (every k-th, all intervals represented) from their history.
    let step = ctx.pick(2, 10);
    let (mut late_ms, mut expected, mut seen) = (Vec::new(), 0usize, 0usize);
    for i in (0..n).step_by(step) {
        let name = format!("s{i:05}");
        let (next, ivl) = phase[&name];
        let body = get_json(daemon.port, &format!("/plugins/{name}"))?;
        let ivl_s = ivl as f64;
        for r in body["results"].as_array().into_iter().flatten() {
            let Some(t) = parse_time(&r["result"]["lastRun"]) else {
                continue;
            };
            if t > local1 {
                continue;
            }
            let d = (t - next).num_microseconds().unwrap_or(0) as f64 / 1e6;
            if d < -ivl_s / 2.0 {
                continue; // before the announced next run
            }
            let k = (d / ivl_s).round();
            late_ms.push((d - k * ivl_s) * 1000.0);
            seen += 1;
        }
        // Ideal runs from the announced next run to the end of the window.
        let span = (local1 - next).num_milliseconds() as f64 / 1000.0 - 0.2;
        if span >= 0.0 {
            expected += (span / ivl_s).floor() as usize + 1;
        }
    }
    if late_ms.is_empty() {
        bail!("no runs observed in the window");
    }
    let p99 = percentile(&late_ms, 99.0);
    let p50 = percentile(&late_ms, 50.0);
    let max = late_ms.iter().cloned().fold(f64::MIN, f64::max);
    let runs_per_s = (0..n).map(|i| 1.0 / interval(i) as f64).sum::<f64>();
    let mut note = format!(
        "{n} checks, {:.0} runs/s, window {:.0} s; sampled {} runs of every {step}th check: p50 {p50:.1} ms, max {max:.1} ms; runs seen {seen}, ideal ≈ {expected}",
        runs_per_s,
        secs,
        late_ms.len()
    );
    if let (Some(h0), Some(h1)) = (hist0, hist1) {
        note.push_str(&format!(
            "; smoker_scheduler_lateness_seconds p99 ≤ {}",
            hist_p99(&h0, &h1)
        ));
    }
    drop(daemon);

    // The same schedule driven by a raw paced spawner: what this machine allows.
    let raw = raw_paced(n, window, interval, 64)?;
    let raw_p99 = percentile(&raw.late_ms, 99.0);
    let raw_cpu_pct = raw.cpu / window.as_secs_f64() * 100.0;
    Ok(vec![
        Row::new(2, "scheduler p99 lateness", "ms", "< 50 ms")
            .ours(p99)
            .reference("raw paced spawner", Some(raw_p99))
            .ratio(Some(raw_p99.max(0.001) / p99.max(0.001)))
            .met(Some(p99 < 50.0))
            .note(note)
            .note(format!(
                "raw paced spawner (64 threads, same schedule, {} runs): p50 {:.1} ms, p99 {raw_p99:.1} ms, {} runs dropped as missed",
                raw.late_ms.len(),
                percentile(&raw.late_ms, 50.0),
                raw.missed
            )),
        Row::new(2, "scheduler daemon CPU (children excl.)", "% core", "< 10 %")
            .ours(cpu_pct)
            .reference("raw paced spawner", Some(raw_cpu_pct))
            .ratio(Some(raw_cpu_pct / cpu_pct))
            .met(Some(cpu_pct < 10.0))
            .note(format!(
                "{:.2} s CPU in {secs:.1} s; raw spawner's own CPU {:.2} s",
                cpu1 - cpu0,
                raw.cpu
            )),
    ])
}

struct Paced {
    late_ms: Vec<f64>,
    /// utime+stime of this process (its threads, not the children) over the window.
    cpu: f64,
    missed: usize,
}

/// Spawns `/bin/true` for `n` checks on their ideal schedule (a random phase within the
/// interval, then every interval) for `window`, from `threads` worker threads; lateness is
/// measured when a worker is about to spawn. Like the daemon it drops slots already missed.
fn raw_paced(
    n: usize,
    window: Duration,
    interval: impl Fn(usize) -> i64,
    threads: usize,
) -> Result<Paced> {
    use std::{
        cmp::Reverse,
        collections::BinaryHeap,
        process::{Command, Stdio},
        sync::{Mutex, mpsc},
    };
    let self_cpu = || -> Result<f64> {
        let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
        let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        Ok(tv(u.user_time()) + tv(u.system_time()))
    };
    let start = Instant::now();
    let end = start + window;
    let every: Vec<Duration> = (0..n)
        .map(|i| Duration::from_secs(interval(i) as u64))
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, ivl) in every.iter().enumerate() {
        // A fixed pseudo-random phase within the interval (like the daemon's splay).
        let phase = (i as u64).wrapping_mul(2_654_435_761) % (ivl.as_millis() as u64).max(1);
        heap.push(Reverse((start + Duration::from_millis(phase), i)));
    }
    let (tx, rx) = mpsc::channel::<Instant>();
    let rx = Mutex::new(rx);
    let late = Mutex::new(Vec::new());
    let cpu0 = self_cpu()?;
    let mut missed = 0;
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let due = {
                        let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                        match rx.recv() {
                            Ok(d) => d,
                            Err(_) => return,
                        }
                    };
                    let l = Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0;
                    let _ = Command::new("/bin/true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .output();
                    late.lock().unwrap_or_else(|p| p.into_inner()).push(l);
                }
            });
        }
        while let Some(Reverse((due, i))) = heap.pop() {
            if due >= end {
                break;
            }
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            let _ = tx.send(due);
            let now = Instant::now();
            let mut next = due + every[i];
            while next <= now {
                next += every[i];
                missed += 1;
            }
            heap.push(Reverse((next, i)));
        }
        drop(tx);
    });
    let cpu = self_cpu()? - cpu0;
    Ok(Paced {
        late_ms: late.into_inner().unwrap_or_else(|p| p.into_inner()),
        cpu,
        missed,
    })
}

/// Cumulative buckets of `smoker_scheduler_lateness_seconds`, if /metrics serves them.
fn lateness_histogram(ports: &[u16]) -> Option<Vec<(String, f64)>> {
    let text = util::metrics_text(ports)?;
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with("smoker_scheduler_lateness_seconds_bucket"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?.to_string();
            let v = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, v))
        })
        .collect();
    (!buckets.is_empty()).then_some(buckets)
}

fn hist_p99(h0: &[(String, f64)], h1: &[(String, f64)]) -> String {
    let delta: Vec<(String, f64)> = h1
        .iter()
        .map(|(le, v)| {
            let before = h0
                .iter()
                .find(|(l, _)| l == le)
                .map(|(_, v)| *v)
                .unwrap_or(0.0);
            (le.clone(), v - before)
        })
        .collect();
    let total = delta.last().map(|(_, v)| *v).unwrap_or(0.0);
    delta
        .iter()
        .find(|(_, v)| *v >= 0.99 * total)
        .map(|(le, _)| format!("{le} s ({total:.0} runs)"))
        .unwrap_or_else(|| "?".into())
}
