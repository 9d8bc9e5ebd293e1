//! Row 12 (issue 18): RSS with history. N checks with a short output (`/bin/echo` of a
//! 44-byte line) at `History: H`, RSS once every ring is full, against the same daemon
//! with `History: 1`, and the real nrpe with 1000 commands, in the same run. The
//! difference of the two daemons over `N × (H - 1)` is what one kept result costs;
//! the goal is about 400 bytes beyond its output text.

use std::{fmt::Write as _, path::Path, thread, time::Duration};

use anyhow::{Result, bail};

use crate::{
    Ctx, Row,
    util::{self, Daemon},
};

/// The check's output line (44 bytes; the runner keeps it without the newline).
fn output(i: usize) -> String {
    format!("OK - all fine here, value {:04} within limits", i % 10_000)
}

struct Setup {
    checks: usize,
    interval: f64,
}

/// Starts a daemon at `History: history` and waits until every ring is full; its RSS
/// (MiB, the highest of three readings a second apart) and its make-up.
fn rss_full(dir: &Path, tag: &str, s: &Setup, history: usize) -> Result<(f64, String)> {
    let port = util::free_port()?;
    let mut y = util::yaml_head(port, &dir.join(tag), None);
    let _ = writeln!(
        y,
        "templates:\n  BasePlugin: {{Interval: {}, Timeout: 30, History: {history}}}\nplugins:",
        s.interval
    );
    for i in 0..s.checks {
        let _ = writeln!(y, "  h{i:04}: {{Argv: [/bin/echo, '{}']}}", output(i));
    }
    let daemon = util::start_smokerd(dir, tag, &y, port, Duration::from_secs(60))?;
    wait_full(&daemon, s, history)?;
    let mut rss = 0.0f64;
    for _ in 0..3 {
        thread::sleep(Duration::from_secs(1));
        rss = rss.max(util::rss_mib(daemon.pid())?);
    }
    Ok((rss, util::rss_breakdown(daemon.pid())))
}

/// Waits until the daemon recorded `history + 2` runs per check on average and the
/// first and last checks hold `history` results.
fn wait_full(d: &Daemon, s: &Setup, history: usize) -> Result<()> {
    let want = (s.checks * (history + 2)) as f64;
    let fill = Duration::from_secs_f64(s.interval * (history + 2) as f64);
    util::wait_for(
        "the history rings to fill",
        fill * 4 + Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let metrics = util::metrics_text(&[d.port]).unwrap_or_default();
            let runs: f64 = metrics
                .lines()
                .filter(|l| l.starts_with("smoker_check_runs_total{"))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum();
            if runs < want {
                return Ok(None);
            }
            for name in ["h0000".to_string(), format!("h{:04}", s.checks - 1)] {
                let kept = util::get_json(d.port, &format!("/plugins/{name}"))?["results"]
                    .as_array()
                    .map_or(0, Vec::len);
                if kept != history {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let s = Setup {
        checks: ctx.pick(200, 1000),
        interval: ctx.pick(0.25, 1.0),
    };
    let history = ctx.pick(20, 100);
    let dir = util::scratch_dir("history")?;
    let (full, full_parts) = rss_full(dir.path(), "h-full", &s, history)?;
    let (one, one_parts) = rss_full(dir.path(), "h-one", &s, 1)?;
    let kept = s.checks * (history - 1);
    let per_result = (full - one) * 1_048_576.0 / kept as f64;
    if !per_result.is_finite() {
        bail!("no RSS difference: {full} vs {one} MiB");
    }
    let text = output(0).len() as f64;
    let goal = 400.0 + text;
    let settle = Duration::from_secs(ctx.pick(1, 3));
    let (nrpe, nrpe_note) = match super::rest::nrpe_idle(dir.path(), settle) {
        Ok(r) => (Some(r), String::new()),
        Err(e) => (None, format!("nrpe unavailable: {e:#}")),
    };
    let nrpe_label = if nrpe.is_some() {
        "nrpe, 1000 commands"
    } else {
        "n/a (nrpe)"
    };
    let shape = format!("{} checks every {} s", s.checks, s.interval);
    Ok(vec![
        Row::new(
            12,
            &format!("RSS with history: per kept result ({shape})"),
            "B",
            &format!("≤ 400 B + output ({text:.0} B)"),
        )
        .ours(per_result)
        .reference("goal", Some(goal))
        .ratio(Some(goal / per_result))
        // Quick mode keeps too few results for the figure: redb's cache filling to its
        // cap and the allocator's first growth dominate it.
        .met((!ctx.quick).then_some(per_result <= goal))
        .note(format!(
            "(RSS at History {history} − RSS at History 1) / {kept} kept results{}",
            if ctx.quick {
                "; quick: fixed costs dominate, not judged"
            } else {
                ""
            }
        )),
        Row::new(
            12,
            &format!("RSS with history: History {history}, rings full"),
            "MiB",
            "side by side",
        )
        .ours(full)
        .reference(nrpe_label, nrpe)
        .ratio(nrpe.map(|n| n / full))
        .note(full_parts)
        .note(nrpe_note),
        Row::new(12, "RSS with history: History 1", "MiB", "side by side")
            .ours(one)
            .reference(nrpe_label, nrpe)
            .ratio(nrpe.map(|n| n / one))
            .note(one_parts),
    ])
}
