//! Rows 3 and 4: `GET /plugins` with 1000 plugins under wrk (ours vs the original Python
//! smokerd on the same config), and idle RSS with 1000 checks configured (ours vs the
//! original smokerd, all its processes, vs the real nrpe with 1000 `command[...]` lines).

use std::{fmt::Write as _, process::Command, thread, time::Duration};

use anyhow::{Context, Result, anyhow, bail};

use crate::{
    Ctx, Row,
    util::{self, Daemon},
};

const CHECKS: usize = 1000;

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let dir = util::scratch_dir("rest")?;
    let settle = Duration::from_secs(ctx.pick(2, 5));
    let duration = ctx.pick("2s", "10s");
    let plugins = |port: u16| {
        let mut y = util::yaml_head(port, &dir.path().join("state"), None);
        y.push_str("templates:\n  BasePlugin: {Interval: 0, Timeout: 30}\nplugins:\n");
        for i in 0..CHECKS {
            let _ = writeln!(y, "  p{i:04}: {{Command: /bin/true, Category: bench}}");
        }
        y
    };

    // Ours: idle RSS first, then wrk.
    let port = util::free_port()?;
    let ours = util::start_smokerd(
        dir.path(),
        "smokerd",
        &plugins(port),
        port,
        Duration::from_secs(60),
    )?;
    thread::sleep(settle);
    let ours_rss = util::rss_mib(ours.pid())?;
    let ours_rss_parts = util::rss_breakdown(ours.pid());
    let ours_wrk = wrk(&ours, duration)?;
    if ours_wrk.errors > 0 {
        bail!(
            "wrk saw {} non-2xx/socket errors against ours",
            ours_wrk.errors
        );
    }
    let body_kib = util::http(ours.port, "GET", "/plugins", None, Duration::from_secs(10))?
        .body
        .len()
        / 1024;
    drop(ours);

    // The original, same config.
    let (orig_wrk, orig_rss, orig_note) = match orig(dir.path(), &plugins, settle, duration) {
        Ok((w, rss, procs)) => (
            Some(w),
            Some(rss),
            format!("smoker-orig: {procs} processes"),
        ),
        Err(e) => (None, None, format!("smoker-orig unavailable: {e:#}")),
    };
    let (nrpe_rss, nrpe_note) = match nrpe_idle(dir.path(), settle) {
        Ok(r) => (Some(r), String::new()),
        Err(e) => (None, format!("nrpe unavailable: {e:#}")),
    };

    let rps_ratio = orig_wrk.as_ref().map(|o| ours_wrk.rps / o.rps);
    let label = |x: &Option<f64>, l: &str| {
        if x.is_some() {
            l.to_string()
        } else {
            format!("n/a ({l})")
        }
    };
    Ok(vec![
        Row::new(
            3,
            &format!("REST GET /plugins ({CHECKS} plugins), wrk -c4 {duration}"),
            "req/s",
            "≥ 50× orig",
        )
        .ours(ours_wrk.rps)
        .reference(
            &label(&orig_wrk.as_ref().map(|w| w.rps), "smoker-orig"),
            orig_wrk.as_ref().map(|w| w.rps),
        )
        .ratio(rps_ratio)
        .met(rps_ratio.map(|r| r >= 50.0))
        .note(format!(
            "{} requests, body {body_kib} KiB",
            ours_wrk.requests
        ))
        .note(orig_note.clone()),
        Row::new(3, "REST p99 latency (wrk --latency)", "ms", "< 5 ms")
            .ours(ours_wrk.p99_ms)
            .reference(
                &label(&orig_wrk.as_ref().map(|w| w.p99_ms), "smoker-orig"),
                orig_wrk.as_ref().map(|w| w.p99_ms),
            )
            .ratio(orig_wrk.as_ref().map(|o| o.p99_ms / ours_wrk.p99_ms))
            .met(Some(ours_wrk.p99_ms < 5.0))
            .note(format!(
                "p50 ours {:.2} ms{}",
                ours_wrk.p50_ms,
                orig_wrk
                    .as_ref()
                    .map(|o| format!(", orig {:.1} ms", o.p50_ms))
                    .unwrap_or_default()
            )),
        Row::new(
            4,
            &format!("memory idle RSS, {CHECKS} checks, vs smoker-orig"),
            "MiB",
            "< 15 MB",
        )
        .ours(ours_rss)
        .reference(&label(&orig_rss, "smoker-orig, all procs"), orig_rss)
        .ratio(orig_rss.map(|o| o / ours_rss))
        .met(Some(ours_rss < 15.0 * 1e6 / 1048576.0))
        .note(format!("ours: {ours_rss_parts}; 15 MB = 14.3 MiB")),
        Row::new(
            4,
            &format!("memory idle RSS, {CHECKS} checks, vs nrpe"),
            "MiB",
            "< 15 MB",
        )
        .ours(ours_rss)
        .reference(&label(&nrpe_rss, "nrpe"), nrpe_rss)
        .ratio(nrpe_rss.map(|o| o / ours_rss))
        .met(Some(ours_rss < 15.0 * 1e6 / 1048576.0))
        .note(nrpe_note),
    ])
}

fn orig(
    dir: &std::path::Path,
    plugins: &dyn Fn(u16) -> String,
    settle: Duration,
    duration: &str,
) -> Result<(Wrk, f64, usize)> {
    let port = util::free_port()?;
    let orig = util::start_orig(dir, "orig", &plugins(port), port, Duration::from_secs(120))?;
    thread::sleep(settle);
    let (rss, procs) = util::group_rss_mib(orig.pid())?;
    let w = wrk(&orig, duration)?;
    Ok((w, rss, procs))
}

/// Idle RSS of the real nrpe with CHECKS commands (also row 12's reference).
pub fn nrpe_idle(dir: &std::path::Path, settle: Duration) -> Result<f64> {
    let nrpe = util::which("nrpe").ok_or_else(|| anyhow!("nrpe not installed"))?;
    let port = util::free_port()?;
    let mut cfg = format!(
        "server_port={port}\nserver_address=127.0.0.1\nnrpe_user=nagios\nnrpe_group=nagios\n\
         allowed_hosts=127.0.0.1\ndont_blame_nrpe=0\ncommand_timeout=60\n"
    );
    for i in 0..CHECKS {
        let _ = writeln!(cfg, "command[p{i:04}]=/bin/true");
    }
    let path = dir.join("nrpe-mem.cfg");
    util::write(&path, &cfg)?;
    let mut cmd = Command::new(nrpe);
    cmd.arg("-c").arg(&path).arg("-f");
    let mut p = util::Proc::spawn("nrpe", &mut cmd, &dir.join("nrpe-mem.log"))?;
    util::wait_port(&mut p, port, Duration::from_secs(10))?;
    thread::sleep(settle);
    let (rss, _) = util::group_rss_mib(p.pid())?;
    Ok(rss)
}

pub struct Wrk {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub errors: u64,
}

fn wrk(d: &Daemon, duration: &str) -> Result<Wrk> {
    let wrk = util::which("wrk").ok_or_else(|| anyhow!("wrk not installed"))?;
    let url = format!("http://127.0.0.1:{}/plugins", d.port);
    let secs: u64 = duration.trim_end_matches('s').parse().unwrap_or(10);
    let (st, out, err, _) = util::run_with_deadline(
        Command::new(wrk).args([
            "-t2",
            "-c4",
            "-d",
            duration,
            "--latency",
            "--timeout",
            "30s",
            &url,
        ]),
        Duration::from_secs(secs + 60),
    )?;
    if !st.success() {
        bail!("wrk failed ({st}): {err}");
    }
    parse_wrk(&out).with_context(|| format!("parsing wrk output:\n{out}"))
}

fn to_ms(s: &str) -> Option<f64> {
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * mult)
}

fn parse_wrk(out: &str) -> Result<Wrk> {
    let mut w = Wrk {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        errors: 0,
    };
    for l in out.lines().map(str::trim) {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.as_slice() {
            ["Requests/sec:", v] => w.rps = v.parse()?,
            ["50%", v] => w.p50_ms = to_ms(v).unwrap_or(f64::NAN),
            ["99%", v] => w.p99_ms = to_ms(v).unwrap_or(f64::NAN),
            [n, "requests", "in", ..] => w.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => w.errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", ..] => {
                w.errors += l
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|d| d.parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    if !w.rps.is_finite() || !w.p99_ms.is_finite() {
        bail!("no Requests/sec or 99% line");
    }
    Ok(w)
}
