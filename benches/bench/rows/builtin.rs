//! Row 22: a forced run of N `check_load` checks, built-in (`Builtin:`) against `Argv:`
//! of the real plugin, each in its own smokerd, counting smokerd's CPU and its
//! reaped children's (utime+stime+cutime+cstime of /proc/PID/stat).

use std::{fs, path::Path, time::Duration};

use anyhow::{Result, bail};

use crate::{
    Ctx, Row,
    util::{self, force_run, plugin_items},
};

const PLUGIN: &str = "/usr/lib/nagios/plugins/check_load";

/// CPU seconds of a process and its reaped children.
fn cpu_with_children(pid: u32) -> Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the comm: utime stime cutime cstime are indexes 11..=14.
    let ticks: u64 = (11..=14)
        .filter_map(|i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Ok(ticks as f64 / 100.0)
}

/// CPU µs per check of one forced run of `n` checks whose config line is `line`.
fn cost(ctx: &Ctx, dir: &Path, tag: &str, line: &str, n: usize) -> Result<f64> {
    let port = util::free_port()?;
    let names: Vec<String> = (0..n).map(|i| format!("l{i:05}")).collect();
    let mut yaml = util::yaml_head(port, &dir.join(tag), Some(ctx.concurrency));
    yaml.push_str("templates:\n  BasePlugin: {Interval: 0, Timeout: 60, History: 2}\nplugins:\n");
    for name in &names {
        yaml.push_str(&format!("  {name}: {line}\n"));
    }
    let daemon = util::start_smokerd(dir, tag, &yaml, port, Duration::from_secs(60))?;
    let warm: Vec<String> = names.iter().take(n / 4).cloned().collect();
    force_run(daemon.port, &warm, Duration::from_secs(300))?;
    let before = cpu_with_children(daemon.pid())?;
    let (_, body) = force_run(daemon.port, &names, Duration::from_secs(600))?;
    let after = cpu_with_children(daemon.pid())?;
    let items = plugin_items(&body);
    if items.len() != n
        || items
            .iter()
            .any(|p| p["forcedResult"]["state"] == "UNKNOWN")
    {
        bail!("{tag}: {} results, some UNKNOWN", items.len());
    }
    Ok((after - before) * 1e6 / n as f64)
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    if !Path::new(PLUGIN).exists() {
        return Err(util::not_built("monitoring-plugins-basic is not installed"));
    }
    let n = ctx.pick(500, 2000);
    let dir = util::scratch_dir("builtin")?;
    let flags = "-w, '1000,1000,1000', -c, '2000,2000,2000'";
    let ours = cost(
        ctx,
        dir.path(),
        "builtin",
        &format!("{{Builtin: [check_load, {flags}]}}"),
        n,
    )?;
    let theirs = cost(
        ctx,
        dir.path(),
        "argv",
        &format!("{{Argv: [{PLUGIN}, {flags}]}}"),
        n,
    )?;
    let ratio = (ours > 0.0).then(|| theirs / ours);
    Ok(vec![
        Row::new(
            22,
            &format!("built-in check_load ({n} forced)"),
            "µs CPU/check",
            "≥ 50× cheaper",
        )
        .ours(ours)
        .reference("Argv: real check_load", Some(theirs))
        .ratio(ratio)
        .met(ratio.map(|r| r >= 50.0))
        .note("smokerd CPU plus its children's, per check (10 ms tick resolution)"),
    ])
}
