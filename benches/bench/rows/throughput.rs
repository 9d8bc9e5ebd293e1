//! Row 1: forced runs of N checks through the REST API against a raw helper that spawns
//! the same N processes (`std::process::Command`, which is `posix_spawn` here, waitpid) at
//! the same parallelism, per D13: 1a `Command: /bin/true` against raw `/bin/sh -c /bin/true`,
//! 1b `Argv: [/bin/true]` against raw `/bin/true`. Each round runs ours and raw back to
//! back, raw first in every other round, and the row's ratio is the median of the
//! rounds' ratios: this machine's speed drifts by ±10 % over seconds (raw alone gave
//! 2397–3062 spawns/s in twelve rounds of one sitting), and a pair taken within a
//! second of each other sees the same drift.

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

/// One kind of check: its sub-row, config line, and the raw reference's argv.
struct Kind {
    sub: &'static str,
    title: &'static str,
    prefix: &'static str,
    yaml: &'static str,
    raw: &'static [&'static str],
    raw_label: &'static str,
}

const KINDS: [Kind; 2] = [
    Kind {
        sub: "a",
        title: "Command: /bin/true",
        prefix: "c",
        yaml: "{Command: /bin/true}",
        raw: &["/bin/sh", "-c", "/bin/true"],
        raw_label: "raw spawn of /bin/sh -c /bin/true",
    },
    Kind {
        sub: "b",
        title: "Argv: [/bin/true]",
        prefix: "a",
        yaml: "{Argv: [/bin/true]}",
        raw: &["/bin/true"],
        raw_label: "raw spawn of /bin/true",
    },
];

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.pick(500, 2000);
    let rounds = ctx.pick(1, 3);
    let dir = util::scratch_dir("throughput")?;
    let port = util::free_port()?;
    let names =
        |k: &Kind| -> Vec<String> { (0..n).map(|i| format!("{}{i:05}", k.prefix)).collect() };
    let mut yaml = util::yaml_head(port, &dir.path().join("state"), Some(ctx.concurrency));
    yaml.push_str("templates:\n  BasePlugin: {Interval: 0, Timeout: 30, History: 2}\nplugins:\n");
    for kind in &KINDS {
        for name in names(kind) {
            yaml.push_str(&format!("  {name}: {}\n", kind.yaml));
        }
    }
    let daemon = util::start_smokerd(dir.path(), "smokerd", &yaml, port, Duration::from_secs(60))?;

    let mut rows = Vec::new();
    for kind in &KINDS {
        let names = names(kind);
        // Warm-up: the store, the runtime's worker threads, the page cache.
        force_run(daemon.port, &names[..n / 4], Duration::from_secs(120))?;
        raw_spawn(kind.raw, n / 4, ctx.concurrency)?;
        let (mut ours, mut raw, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let ours_rate = || -> Result<f64> { Ok(n as f64 / forced(daemon.port, &names)?) };
        let raw_rate = || -> Result<f64> {
            Ok(n as f64 / raw_spawn(kind.raw, n, ctx.concurrency)?.as_secs_f64())
        };
        for round in 0..rounds {
            let (o, r) = if round % 2 == 0 {
                let o = ours_rate()?;
                (o, raw_rate()?)
            } else {
                let r = raw_rate()?;
                (ours_rate()?, r)
            };
            ours.push(o);
            raw.push(r);
            ratios.push(o / r);
        }
        let (o, r) = (median(&ours), median(&raw));
        let ratio = median(&ratios);
        rows.push(
            Row::new(
                1,
                &format!("check throughput ({n} forced {})", kind.title),
                "checks/s",
                "≥ 0.9× raw",
            )
            .sub_row(kind.sub)
            .ours(o)
            .reference(kind.raw_label, Some(r))
            .ratio(Some(ratio))
            .met(Some(ratio >= 0.9))
            .note(format!(
                "median of {rounds} paired rounds, parallelism {}; ours {:?}, raw {:?} \
                 checks/s; ratios {:?} (of the medians {:.2})",
                ctx.concurrency,
                ours.iter().map(|v| v.round()).collect::<Vec<_>>(),
                raw.iter().map(|v| v.round()).collect::<Vec<_>>(),
                ratios
                    .iter()
                    .map(|v| (v * 100.0).round() / 100.0)
                    .collect::<Vec<_>>(),
                o / r
            )),
        );
    }
    Ok(rows)
}

/// One forced run of `names`, all OK; its wall time in seconds.
fn forced(port: u16, names: &[String]) -> Result<f64> {
    let (took, body) = force_run(port, names, Duration::from_secs(300))?;
    let items = plugin_items(&body);
    let ok = items
        .iter()
        .filter(|p| p["forcedResult"]["status"] == "OK")
        .count();
    if items.len() != names.len() || ok != names.len() {
        bail!(
            "forced run returned {} plugins, {ok} OK (expected {})",
            items.len(),
            names.len()
        );
    }
    Ok(took.as_secs_f64())
}

/// Spawns `n` of `argv` like the executor does (own process group, stdin null, output
/// piped) with `par` at a time; returns the wall time.
fn raw_spawn(argv: &[&str], n: usize, par: usize) -> Result<Duration> {
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let t0 = Instant::now();
    thread::scope(|s| {
        for _ in 0..par {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let ok = Command::new(argv[0])
                        .args(&argv[1..])
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
