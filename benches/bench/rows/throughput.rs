//! Row 1: forced run of N `/bin/true` checks through the REST API against a raw helper
//! that spawns the same N processes (`std::process::Command`, waitpid) at the same parallelism.

use std::{
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{
    Ctx, Row,
    util::{self, force_run, median, plugin_items},
};

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.pick(500, 2000);
    let rounds = ctx.pick(1, 3);
    let dir = util::scratch_dir("throughput")?;
    let port = util::free_port()?;
    let names: Vec<String> = (0..n).map(|i| format!("t{i:05}")).collect();
    let mut yaml = util::yaml_head(port, &dir.path().join("state"), Some(ctx.concurrency));
    yaml.push_str("templates:\n  BasePlugin: {Interval: 0, Timeout: 30, History: 2}\nplugins:\n");
    for name in &names {
        yaml.push_str(&format!("  {name}: {{Argv: [/bin/true]}}\n"));
    }
    let daemon = util::start_smokerd(dir.path(), "smokerd", &yaml, port, Duration::from_secs(60))?;

    // Warm-up: the store, the runtime's worker threads, the page cache.
    let warm: Vec<String> = names.iter().take(n / 4).cloned().collect();
    force_run(daemon.port, &warm, Duration::from_secs(120))?;
    raw_spawn(n / 4, ctx.concurrency)?;

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (took, body) = force_run(daemon.port, &names, Duration::from_secs(300))?;
        let items = plugin_items(&body);
        let ok = items
            .iter()
            .filter(|p| p["forcedResult"]["status"] == "OK")
            .count();
        if items.len() != n || ok != n {
            bail!(
                "forced run returned {} plugins, {ok} OK (expected {n})",
                items.len()
            );
        }
        ours.push(n as f64 / took.as_secs_f64());
        raw.push(n as f64 / raw_spawn(n, ctx.concurrency)?.as_secs_f64());
    }
    let (o, r) = (median(&ours), median(&raw));
    let ratio = o / r;
    Ok(vec![
        Row::new(
            1,
            &format!("check throughput ({n} forced /bin/true)"),
            "checks/s",
            "≥ 0.9× raw",
        )
        .ours(o)
        .reference("raw spawn+wait", Some(r))
        .ratio(Some(ratio))
        .met(Some(ratio >= 0.9))
        .note(format!(
            "median of {rounds}, parallelism {}; ours {:?}, raw {:?} checks/s",
            ctx.concurrency,
            ours.iter().map(|v| v.round()).collect::<Vec<_>>(),
            raw.iter().map(|v| v.round()).collect::<Vec<_>>()
        )),
    ])
}

/// Spawns `n` `/bin/true` like the executor does (own process group, stdin null, output piped)
/// with `par` at a time; returns the wall time.
fn raw_spawn(n: usize, par: usize) -> Result<Duration> {
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let t0 = Instant::now();
    thread::scope(|s| {
        for _ in 0..par {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let ok = Command::new("/bin/true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .process_group(0)
                        .output()
                        .map(|o| o.status.success())
                        .unwrap_or(false);
                    if !ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let took = t0.elapsed();
    let f = failures.load(Ordering::Relaxed);
    if f > 0 {
        bail!("raw helper: {f} of {n} spawns failed");
    }
    Ok(took)
}
