//! Row 9: Python plugins (issue 16). (a) Wall time of one `Module:` check run (the run's
//! `duration`: interpreter start, shim, import, `run()`), median of N forced runs, against
//! `python3 -c pass` spawned and waited for in the same run; goal ≤ 3× that. (b) smokerd's
//! own CPU plus its reaped children's for 100 Python checks at a 10 s interval; goal ≤ 10 %
//! of a core.

use std::{
    fmt::Write as _,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{
    Ctx, Row,
    util::{self, force_run, median, plugin_items},
};

/// A minimal plugin module of the original's API.
const MODULE: &str = "from smoker.server.plugins import BasePlugin\n\n\
class Plugin(BasePlugin):\n    def run(self):\n        self.result.set_status('OK')\n        self.result.add_info('fine')\n        return self.result\n";

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    // Debian's interpreter first: a pyenv shim on PATH costs ~100 ms per start.
    let debian = std::path::PathBuf::from("/usr/bin/python3");
    let Some(python) = Some(debian)
        .filter(|p| p.exists())
        .or_else(|| util::which("python3"))
    else {
        return Err(util::not_built("python3 is not installed"));
    };
    let dir = util::scratch_dir("python")?;
    util::write(&dir.path().join("benchmod.py"), MODULE)?;
    let reference = median(&interpreter_starts(&python, ctx.pick(10, 30))?);
    let ours = median(&check_runs(ctx, dir.path(), &python)?);
    let (cpu, own, window) = background_cpu(ctx, dir.path(), &python)?;
    Ok(vec![
        Row::new(11, "Python check run wall", "ms", "≤ 3× python3 -c pass")
            .ours(ours)
            .reference("python3 -c pass", Some(reference))
            .ratio(Some(3.0 * reference / ours))
            .met(Some(ours <= 3.0 * reference))
            .note("median run `duration` of a Module: check (shim + import + run); ratio = 3×ref/ours"),
        Row::new(11, "Python 100 checks @10 s CPU", "% core", "≤ 10 %")
            .ours(cpu)
            .met(Some(cpu <= 10.0))
            .note(format!(
                "smokerd utime+stime + reaped children over {window:.0} s; smokerd alone {own:.1} %"
            )),
    ])
}

/// Wall times (ms) of `python3 -c pass`, spawned and waited for.
fn interpreter_starts(python: &std::path::Path, n: usize) -> Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let status = Command::new(python)
            .args(["-c", "pass"])
            .stdin(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("python3 -c pass: {status}");
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

fn yaml(ctx: &Ctx, dir: &std::path::Path, python: &std::path::Path, port: u16) -> String {
    let mut y = util::yaml_head(port, &dir.join("state"), Some(ctx.concurrency));
    let _ = writeln!(
        y,
        "python: {{interpreter: {}, path: ['{}']}}",
        python.display(),
        dir.display()
    );
    y
}

/// Run durations (ms) of one forced `Module:` check, one run at a time.
fn check_runs(ctx: &Ctx, dir: &std::path::Path, python: &std::path::Path) -> Result<Vec<f64>> {
    let port = util::free_port()?;
    let mut y = yaml(ctx, dir, python, port);
    y.push_str("plugins:\n  py: {Module: benchmod, Interval: 0}\n");
    let _daemon = util::start_smokerd(dir, "smokerd-py", &y, port, Duration::from_secs(60))?;
    let names = vec!["py".to_string()];
    let mut times = Vec::new();
    for _ in 0..ctx.pick(10, 30) {
        let (_, body) = force_run(port, &names, Duration::from_secs(60))?;
        let items = plugin_items(&body);
        let Some(result) = items.first().map(|p| &p["forcedResult"]) else {
            bail!("no forced result: {body}");
        };
        if result["status"] != "OK" {
            bail!("python check not OK: {result}");
        }
        times.push(result["duration"].as_f64().unwrap_or(0.0) * 1000.0);
    }
    Ok(times)
}

/// utime+stime+cutime+cstime of `pid`, in seconds.
fn cpu_with_children(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse().ok())
        .collect();
    Ok(f.iter().sum::<u64>() as f64 / 100.0)
}

/// % of a core used by smokerd with its Python runs, and by smokerd alone, over a window
/// (s): 100 checks every 10 s.
fn background_cpu(
    ctx: &Ctx,
    dir: &std::path::Path,
    python: &std::path::Path,
) -> Result<(f64, f64, f64)> {
    let port = util::free_port()?;
    let mut y = yaml(ctx, dir, python, port);
    y.push_str("templates:\n  BasePlugin: {Interval: 10, Splay: 10}\nplugins:\n");
    for i in 0..100 {
        let _ = writeln!(y, "  py{i:03}: {{Module: benchmod}}");
    }
    let daemon = util::start_smokerd(dir, "smokerd-py100", &y, port, Duration::from_secs(60))?;
    // Let the first round of runs start, then measure whole rounds.
    std::thread::sleep(Duration::from_secs(10));
    let window = Duration::from_secs(ctx.pick(20, 60));
    let before = cpu_with_children(daemon.pid())?;
    let own_before = util::cpu_seconds(daemon.pid())?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let used = cpu_with_children(daemon.pid())? - before;
    let own = util::cpu_seconds(daemon.pid())? - own_before;
    let elapsed = t0.elapsed().as_secs_f64();
    Ok((100.0 * used / elapsed, 100.0 * own / elapsed, elapsed))
}
