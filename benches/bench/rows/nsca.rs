//! Row 7: NSCA. (a) delivery: results/s that smokerd's NSCA action delivers from its spool into
//! the real nsca, against one `send_nsca` process per result (the original's way, same
//! parallelism); (b) sender CPU per result and wall for one batch with 3DES, `smokercli
//! send-nsca` against the real `send_nsca` fed the same batch.

use std::{
    fmt::Write as _,
    fs::{self, File},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};
use nix::sys::resource::{UsageWho, getrusage};

use crate::{
    Ctx, Row,
    util::{self, Proc, count_lines, median},
};

pub(crate) const PASSWORD: &str = "benchpass";

/// A real nsca in the foreground, single-process mode.
pub(crate) struct Nsca {
    /// Stopped on drop.
    proc: Proc,
    port: u16,
    pub(crate) cmd_file: PathBuf,
}

fn nsca_config(dir: &Path, tag: &str, port: u16, method: u8) -> Result<(PathBuf, PathBuf)> {
    let d = dir.display();
    let cmd_file = dir.join(format!("cmd-{tag}"));
    fs::write(&cmd_file, "")?;
    fs::set_permissions(&cmd_file, fs::Permissions::from_mode(0o666))?;
    let cfg = dir.join(format!("nsca-{tag}.cfg"));
    util::write(
        &cfg,
        &format!(
            "server_port={port}\nserver_address=127.0.0.1\nnsca_user=nagios\nnsca_group=nogroup\n\
             pid_file={d}/nsca-{tag}.pid\ncommand_file={}\nalternate_dump_file={d}/dump-{tag}\n\
             append_to_file=1\naggregate_writes=0\nmax_packet_age=60\ndebug=0\n\
             password={PASSWORD}\ndecryption_method={method}\n",
            cmd_file.display()
        ),
    )?;
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644))?;
    Ok((cfg, cmd_file))
}

pub(crate) fn start_nsca(dir: &Path, tag: &str, port: u16, method: u8) -> Result<Nsca> {
    let bin = util::which("nsca").ok_or_else(|| anyhow!("nsca not installed"))?;
    let (cfg, cmd_file) = nsca_config(dir, tag, port, method)?;
    let mut proc = Proc::spawn(
        &format!("nsca-{tag}"),
        Command::new(bin)
            .arg("-c")
            .arg(&cfg)
            .args(["-f", "--single"]),
        &dir.join(format!("nsca-{tag}.log")),
    )?;
    util::wait_port(&mut proc, port, Duration::from_secs(10))?;
    Ok(Nsca {
        proc,
        port,
        cmd_file,
    })
}

fn send_nsca_cfg(dir: &Path, method: u8) -> Result<PathBuf> {
    let p = dir.join(format!("send_nsca-{method}.cfg"));
    util::write(
        &p,
        &format!("password={PASSWORD}\nencryption_method={method}\n"),
    )?;
    Ok(p)
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let send_nsca = util::which("send_nsca").ok_or_else(|| anyhow!("send_nsca not installed"))?;
    let dir = util::scratch_dir("nsca")?;
    let mut rows = Vec::new();
    match delivery(ctx, dir.path(), &send_nsca) {
        Ok(r) => rows.push(r),
        Err(e) => rows.push(failed_row("NSCA delivery", e)),
    }
    match sender_cpu(ctx, dir.path(), &send_nsca) {
        Ok(r) => rows.extend(r),
        Err(e) => {
            rows.push(failed_row("NSCA sender CPU/result", anyhow!("{e:#}")));
            rows.push(failed_row("NSCA sender wall", e));
        }
    }
    Ok(rows)
}

/// A row of this module that could not be measured (its sibling rows still are).
fn failed_row(title: &str, e: anyhow::Error) -> Row {
    let mut r = Row::new(7, title, "", "");
    r.status = match e.downcast_ref::<util::NotBuilt>() {
        Some(nb) => crate::Status::NotBuilt(nb.0.clone()),
        None => crate::Status::Failed(format!("{e:#}")),
    };
    r
}

fn delivery(ctx: &Ctx, dir: &Path, send_nsca: &Path) -> Result<Row> {
    let n = ctx.pick(1000, 5000);
    let n_ref = ctx.pick(100, 500);
    let nsca_port = util::free_port()?;
    let api = util::free_port()?;
    let names: Vec<String> = (0..n).map(|i| format!("n{i:05}")).collect();
    let mport = util::free_port()?;
    let mut yaml = util::yaml_head(api, &dir.join("state"), Some(ctx.concurrency));
    yaml.push_str(&util::yaml_metrics(mport));
    let _ = write!(
        yaml,
        "actions:\n  nagios:\n    Nsca: {{host: 127.0.0.1, port: {nsca_port}, password: {PASSWORD}, encryption: 1, host_name: benchhost}}\n\
         templates:\n  BasePlugin: {{Interval: 0, Timeout: 30, History: 2}}\nplugins:\n"
    );
    for name in &names {
        let _ = writeln!(
            yaml,
            "  {name}: {{Argv: [/bin/echo, 'OK - delivered by smokerd'], Action: nagios}}"
        );
    }
    let daemon = match util::start_smokerd(dir, "smokerd-nsca", &yaml, api, Duration::from_secs(60))
    {
        Ok(d) => d,
        Err(e) if e.downcast_ref::<util::NotBuilt>().is_some() => return Err(e),
        Err(e) => {
            return Err(util::not_built(format!(
                "smokerd refuses an Nsca action: {e:#}"
            )));
        }
    };
    // nsca is down: every result goes to the spool first. nsca --single stalls now and then:
    // in full mode two rounds, the better counts (the reference gets the same treatment).
    let rounds = ctx.pick(1, 2);
    let mut measured: Vec<(f64, f64, usize, f64, f64)> = Vec::new();
    let mut round_note = String::new();
    for round in 0..rounds {
        let res = (|| -> Result<(f64, f64, usize, f64, f64)> {
            let (_, body) = util::force_run(daemon.port, &names, Duration::from_secs(300))?;
            let items = util::plugin_items(&body);
            let queued = items
                .iter()
                .filter(|p| p["forcedResult"]["action"].is_object())
                .count();
            if queued == 0 {
                return Err(util::not_built(
                    "forced results carry no NSCA action result",
                ));
            }
            // Let the spool commit (group commits ≤ 100 ms), then bring nsca up.
            wait_spool(&[mport, daemon.port], n);
            let nsca = start_nsca(dir, &format!("delivery{round}"), nsca_port, 1)?;
            let nsca_cpu0 = util::cpu_seconds(nsca.proc.pid())?;
            let nsca_up = Instant::now();
            let (first_t, first_c) = util::wait_for(
                "the first delivered result",
                Duration::from_secs(ctx.pick(40, 180)),
                Duration::from_millis(1),
                || {
                    let c = count_lines(&nsca.cmd_file);
                    Ok((c > 0).then(|| (Instant::now(), c)))
                },
            )?;
            let last_t = util::wait_for(
                "all spooled results in nsca's command file",
                Duration::from_secs(120),
                Duration::from_millis(1),
                || Ok((count_lines(&nsca.cmd_file) >= n).then(Instant::now)),
            )?;
            let span = (last_t - first_t).as_secs_f64().max(0.001);
            let busy = (util::cpu_seconds(nsca.proc.pid())? - nsca_cpu0) / span;
            let wait_first = (first_t - nsca_up).as_secs_f64();
            Ok(((n - first_c) as f64 / span, span, first_c, busy, wait_first))
        })();
        match res {
            Ok(m) => measured.push(m),
            Err(e) if round == 0 => return Err(e),
            Err(e) => round_note = format!("round {} failed: {e:#}", round + 1),
        }
    }
    drop(daemon);
    let rates: Vec<f64> = measured.iter().map(|m| m.0.round()).collect();
    let (ours_rate, ours_span, first_c, nsca_busy, wait_first) = measured
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or_else(|| anyhow!("no delivery measured"))?;
    let nsca = start_nsca(dir, "reference", util::free_port()?, 1)?;

    // The original's way: one send_nsca per result, `concurrency` at a time, into the same nsca.
    // nsca --single sometimes stalls a connection for seconds under concurrent clients: the
    // reference runs in two halves and the better half counts (generous to the reference).
    let cfg = send_nsca_cfg(dir, 1)?;
    let mut ref_rates = Vec::new();
    let mut failures = 0;
    let mut first_error = None;
    for _ in 0..2 {
        let (rate, failed, error) = send_nsca_each(ctx, send_nsca, &cfg, &nsca, n_ref / 2)?;
        ref_rates.push(rate);
        failures += failed;
        first_error = first_error.or(error);
    }
    let ref_rate = ref_rates.iter().cloned().fold(0.0, f64::max);
    let ratio = ours_rate / ref_rate;
    Ok(
        Row::new(7, &format!("NSCA delivery (spool of {n} → nsca, xor)"), "results/s", "≥ 100× send_nsca")
            .ours(ours_rate)
            .reference(&format!("send_nsca per result ×{}", ctx.concurrency), Some(ref_rate))
            .ratio(Some(ratio))
            .met(Some(ratio >= 100.0))
            .note(format!(
                "best of {rates:?}/s: first to last line {:.0} ms ({first_c} already there at first look), nsca's own CPU {:.0} % of that span; first line {wait_first:.1} s after nsca came up; reference 2 × {} results: {:?}/s",
                ours_span * 1000.0,
                nsca_busy * 100.0,
                n_ref / 2,
                ref_rates.iter().map(|r| r.round()).collect::<Vec<_>>()
            ))
            .note(round_note)
            .note(match first_error {
                Some(e) => format!("{failures} send_nsca runs failed (not counted), first: {e}"),
                None => String::new(),
            }),
    )
}

/// Runs `count` send_nsca processes, one result each, `ctx.concurrency` at a time; waits for
/// their lines. Returns (results/s, failed runs, first failure).
fn send_nsca_each(
    ctx: &Ctx,
    send_nsca: &Path,
    cfg: &Path,
    nsca: &Nsca,
    count: usize,
) -> Result<(f64, usize, Option<String>)> {
    let before = count_lines(&nsca.cmd_file);
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None::<String>);
    let t0 = Instant::now();
    thread::scope(|s| {
        for _ in 0..ctx.concurrency {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let res = (|| -> Result<()> {
                        let mut child = Command::new(send_nsca)
                            .args(["-H", "127.0.0.1", "-p", &nsca.port.to_string(), "-c"])
                            .arg(cfg)
                            .stdin(Stdio::piped())
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped())
                            .spawn()?;
                        use std::io::Write;
                        child
                            .stdin
                            .take()
                            .ok_or_else(|| anyhow!("no stdin"))?
                            .write_all(b"benchhost\tref\t0\tOK - delivered by send_nsca\n")?;
                        let out = child.wait_with_output()?;
                        if !out.status.success() {
                            bail!(
                                "{}: {}{}",
                                out.status,
                                String::from_utf8_lossy(&out.stdout).trim(),
                                String::from_utf8_lossy(&out.stderr).trim()
                            );
                        }
                        Ok(())
                    })();
                    if let Err(e) = res {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            });
        }
    });
    let failures = failed.load(Ordering::Relaxed);
    let first_error = first_error.into_inner().unwrap_or_else(|p| p.into_inner());
    let sent = count - failures;
    if sent == 0 {
        bail!("every send_nsca run failed: {first_error:?}");
    }
    util::wait_for(
        "send_nsca results in the command file",
        Duration::from_secs(60),
        Duration::from_millis(1),
        || Ok((count_lines(&nsca.cmd_file) >= before + sent).then_some(())),
    )
    .map_err(|e| {
        anyhow!(
            "{e}: {} of {sent} lines arrived ({before} before)",
            count_lines(&nsca.cmd_file) - before
        )
    })?;
    Ok((
        sent as f64 / t0.elapsed().as_secs_f64(),
        failures,
        first_error,
    ))
}

/// Waits (≤ 30 s) until the spool holds `n` results when /metrics says so, else 2 s.
pub fn wait_spool(ports: &[u16], n: usize) {
    let spooled = || -> Option<f64> {
        let text = util::metrics_text(ports)?;
        text.lines()
            .find(|l| l.starts_with("smoker_nsca_spool_results"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    if spooled().is_none() {
        thread::sleep(Duration::from_secs(2));
        return;
    }
    let _ = util::wait_for(
        "spool",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || Ok(spooled().filter(|v| *v >= n as f64)),
    );
    thread::sleep(Duration::from_millis(200));
}

fn child_cpu() -> Result<f64> {
    let u = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(tv(u.user_time()) + tv(u.system_time()))
}

fn sender_cpu(ctx: &Ctx, dir: &Path, send_nsca: &Path) -> Result<Vec<Row>> {
    let m = ctx.pick(300, 5000);
    let rounds = ctx.pick(1, 3);
    // Is our sender there?
    let (st, out, err, _) = util::run_with_deadline(
        Command::new(util::smokercli()).args(["send-nsca", "-h"]),
        Duration::from_secs(10),
    )?;
    if !(out.contains("-H") || err.contains("-H")) {
        return Err(util::not_built(format!("smokercli send-nsca ({st})")));
    }
    let port = util::free_port()?;
    let nsca = start_nsca(dir, "cpu", port, 3)?;
    let cfg = send_nsca_cfg(dir, 3)?;
    let batch = dir.join("batch.txt");
    let mut text = String::new();
    for i in 0..m {
        // send_nsca 2.10 splits records at ETB (0x17), not at newlines.
        let _ = write!(
            text,
            "benchhost\tsvc{i:05}\t{}\tresult {i} of the batch | t={i}ms;100;200\x17",
            i % 4
        );
    }
    util::write(&batch, &text)?;

    let run_one = |ours: bool| -> Result<(f64, f64)> {
        let before = count_lines(&nsca.cmd_file);
        let mut cmd = if ours {
            let mut c = Command::new(util::smokercli());
            c.arg("send-nsca");
            c
        } else {
            Command::new(send_nsca)
        };
        // send_nsca's -to bounds the whole run (alarm), and nsca's 3DES decryption is slow.
        cmd.args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-to",
            "600",
            "-c",
        ])
        .arg(&cfg)
        .stdin(File::open(&batch)?);
        let cpu0 = child_cpu()?;
        let (st, out, err, wall) = util::run_with_deadline(&mut cmd, Duration::from_secs(600))?;
        let cpu = child_cpu()? - cpu0;
        if !st.success() || !out.contains(&format!("{m} data packet")) {
            bail!(
                "{} failed ({st}): {out}{err}",
                if ours {
                    "smokercli send-nsca"
                } else {
                    "send_nsca"
                }
            );
        }
        util::wait_for(
            "the batch in nsca's command file",
            Duration::from_secs(600),
            Duration::from_millis(5),
            || Ok((count_lines(&nsca.cmd_file) >= before + m).then_some(())),
        )?;
        Ok((cpu, wall.as_secs_f64()))
    };
    let (mut oc, mut ow, mut rc, mut rw) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (c, w) = run_one(false)?;
        rc.push(c);
        rw.push(w);
        let (c, w) = run_one(true)?;
        oc.push(c);
        ow.push(w);
    }
    let (oc, ow, rc, rw) = (median(&oc), median(&ow), median(&rc), median(&rw));
    let us = |cpu: f64| cpu / m as f64 * 1e6;
    let cpu_ratio = if oc > 0.0 { Some(rc / oc) } else { None };
    Ok(vec![
        Row::new(7, &format!("NSCA sender CPU/result ({m}, 3DES)"), "µs", "≥ 10× less")
            .ours(us(oc))
            .reference("send_nsca", Some(us(rc)))
            .ratio(cpu_ratio)
            .met(Some(oc == 0.0 || rc / oc >= 10.0))
            .note(format!(
                "user+sys of the sender process (getrusage children), median of {rounds}: ours {oc:.3} s, send_nsca {rc:.3} s; nsca's decryption runs meanwhile"
            ))
            .note(if oc < 0.02 { "ours is below 2 clock ticks: ratio is a lower bound of the tick resolution" } else { "" }),
        Row::new(7, &format!("NSCA sender wall ({m}, 3DES)"), "s", "no worse (≥ 1×)")
            .ours(ow)
            .reference("send_nsca", Some(rw))
            .ratio(Some(rw / ow))
            .met(Some(rw / ow >= 0.95))
            .note("both bounded by the nsca server's 3DES decryption; 5 % tolerance for noise"),
    ])
}
