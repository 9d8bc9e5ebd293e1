//! Row 8: `smokercli -f` on K local smokerd instances, each with one 1 s check, against the
//! slowest single check (goal: within 1 s of it) and against the original `smoker-orig cli`
//! on the same hosts.

use std::{fmt::Write as _, process::Command, time::Duration};

use anyhow::{Result, anyhow, bail};

use crate::{
    Ctx, Row,
    util::{self, Daemon},
};

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let k = ctx.pick(10, 100);
    let (st, out, err, _) = util::run_with_deadline(
        Command::new(util::smokercli()).arg("--help"),
        Duration::from_secs(10),
    )?;
    if !st.success() || !(out.contains("--force") || err.contains("--force")) {
        return Err(util::not_built("smokercli has no query mode (--force)"));
    }
    let dir = util::scratch_dir("fanout")?;
    let mut daemons: Vec<Daemon> = Vec::new();
    for i in 0..k {
        let port = util::free_port()?;
        let mut yaml = util::yaml_head(port, &dir.path().join(format!("state{i}")), None);
        let _ = write!(
            yaml,
            "templates:\n  BasePlugin: {{Interval: 0, Timeout: 30}}\nplugins:\n  slow: {{Command: sleep 1}}\n"
        );
        daemons.push(util::start_smokerd(
            dir.path(),
            &format!("smokerd{i}"),
            &yaml,
            port,
            Duration::from_secs(30),
        )?);
    }
    let hosts: Vec<String> = daemons
        .iter()
        .map(|d| format!("127.0.0.1:{}", d.port))
        .collect();

    // Ours.
    let mut cmd = Command::new(util::smokercli());
    cmd.arg("-s")
        .args(&hosts)
        .args(["-f", "--no-progress", "-o", "json"])
        .env("NO_COLOR", "1");
    let (st, out, err, wall) = util::run_with_deadline(&mut cmd, Duration::from_secs(120))?;
    if !st.success() {
        bail!(
            "smokercli -f failed ({st}): {}",
            err.lines().take(5).collect::<Vec<_>>().join(" / ")
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| anyhow!("smokercli -o json: {e}"))?;
    let shown = v.as_object().map(|o| o.len()).unwrap_or(0);
    if shown != k {
        bail!("smokercli -o json shows {shown} hosts, expected {k}");
    }
    let ours = wall.as_secs_f64();
    // The slowest single check, from the daemons' own results.
    let mut slowest: f64 = 0.0;
    for d in &daemons {
        let p = util::get_json(d.port, "/plugins/slow")?;
        let dur = p["plugin"]["lastResult"]["duration"]
            .as_f64()
            .ok_or_else(|| anyhow!("no lastResult.duration on {}", d.port))?;
        slowest = slowest.max(dur);
    }

    // The original client on the same hosts.
    let (orig, orig_note) = match util::smoker_orig() {
        None => (None, "smoker-orig not found".to_string()),
        Some(bin) => {
            let limit = Duration::from_secs(ctx.pick(60, 300));
            let mut cmd = Command::new(bin);
            cmd.arg("cli")
                .arg("-s")
                .args(&hosts)
                .args(["-f", "--no-progress", "--no-colors"]);
            match util::run_with_deadline(&mut cmd, limit) {
                Ok((st, _, _, w)) if st.success() => (Some(w.as_secs_f64()), String::new()),
                Ok((st, _, err2, _)) => (
                    None,
                    format!(
                        "smoker-orig cli failed ({st}): {}",
                        err2.lines().last().unwrap_or("")
                    ),
                ),
                Err(e) => (None, format!("smoker-orig cli: {e:#}")),
            }
        }
    };
    let within = ours - slowest;
    Ok(vec![
        Row::new(
            8,
            &format!("fan-out smokercli -f on {k} daemons vs slowest check"),
            "s",
            "≤ slowest + 1 s",
        )
        .ours(ours)
        .reference("slowest 1 s check", Some(slowest))
        .ratio(Some(slowest / ours))
        .met(Some(within <= 1.0))
        .note(format!("{:.2} s above the slowest check", within)),
        Row::new(
            8,
            &format!("fan-out smokercli -f on {k} daemons vs smoker-orig cli"),
            "s",
            "faster",
        )
        .ours(ours)
        .reference(
            if orig.is_some() {
                "smoker-orig cli"
            } else {
                "n/a (smoker-orig cli)"
            },
            orig,
        )
        .ratio(orig.map(|o| o / ours))
        .met(orig.map(|o| o > ours))
        .note(orig_note),
    ])
}
