//! Row 6: `check_nrpe` calls/s in the default TLS mode against our NRPE server and against
//! the real nrpe on the same nrpe.cfg (sequential calls, like Nagios running one check),
//! plus both servers' RSS.

use std::{
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};

use crate::{
    Ctx, Row,
    util::{self, Proc},
};

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let calls = ctx.pick(30, 300);
    let check_nrpe =
        util::which("check_nrpe").ok_or_else(|| anyhow!("check_nrpe not installed"))?;
    let dir = util::scratch_dir("nrpe")?;
    let (ours_nrpe, real_nrpe, api) = (util::free_port()?, util::free_port()?, util::free_port()?);
    let cfg = dir.path().join("nrpe.cfg");
    util::write(
        &cfg,
        &format!(
            "server_port={real_nrpe}\nserver_address=127.0.0.1\nnrpe_user=nagios\nnrpe_group=nagios\n\
             allowed_hosts=127.0.0.1\ndont_blame_nrpe=0\ncommand_timeout=60\nconnection_timeout=300\n\
             command[bench_ok]=/usr/lib/nagios/plugins/check_dummy 0 bench\n"
        ),
    )?;
    let mut yaml = util::yaml_head(api, &dir.path().join("state"), None);
    yaml.push_str(&format!(
        "nrpe: {{config: {}, listen: \"127.0.0.1:{ours_nrpe}\", tls: on}}\n\
         templates:\n  BasePlugin: {{Interval: 0}}\nplugins:\n  api_dummy: {{Argv: [/bin/true]}}\n",
        cfg.display()
    ));
    // Before the NRPE server is wired in, the `nrpe:` section is refused or ignored.
    let mut ours =
        match util::start_smokerd(dir.path(), "smokerd", &yaml, api, Duration::from_secs(30)) {
            Ok(d) => d,
            Err(e) => {
                return Err(util::not_built(format!(
                    "smokerd with an nrpe: section: {e:#}"
                )));
            }
        };
    if util::wait_port(&mut ours.proc, ours_nrpe, Duration::from_secs(10)).is_err() {
        return Err(util::not_built("the NRPE port never opened"));
    }
    let nrpe_bin = util::which("nrpe").ok_or_else(|| anyhow!("nrpe not installed"))?;
    let mut real = Proc::spawn(
        "nrpe",
        Command::new(nrpe_bin).arg("-c").arg(&cfg).arg("-f"),
        &dir.path().join("nrpe.log"),
    )?;
    util::wait_port(&mut real, real_nrpe, Duration::from_secs(10))?;

    let call = |port: u16| -> Result<()> {
        let (st, out, err, _) = util::run_with_deadline(
            Command::new(&check_nrpe).args([
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-c",
                "bench_ok",
            ]),
            Duration::from_secs(30),
        )?;
        if st.code() != Some(0) || !out.contains("bench") {
            bail!("check_nrpe on {port}: {st}: {out}{err}");
        }
        Ok(())
    };
    let rate = |port: u16, n: usize| -> Result<f64> {
        let t0 = Instant::now();
        for _ in 0..n {
            call(port)?;
        }
        Ok(n as f64 / t0.elapsed().as_secs_f64())
    };
    for _ in 0..3 {
        call(ours_nrpe)?;
        call(real_nrpe)?;
    }
    // Alternate halves so drift of the shared machine hits both alike.
    let (mut o, mut r) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        o.push(rate(ours_nrpe, calls / 2)?);
        r.push(rate(real_nrpe, calls / 2)?);
    }
    let (o, r) = (util::median(&o), util::median(&r));
    thread::sleep(Duration::from_millis(300));
    let ours_rss = util::rss_mib(ours.pid())?;
    let (real_rss, _) = util::group_rss_mib(real.pid())?;
    Ok(vec![
        Row::new(
            6,
            "NRPE check_nrpe calls/s (TLS, sequential)",
            "calls/s",
            "≥ 5× nrpe",
        )
        .ours(o)
        .reference("nrpe", Some(r))
        .ratio(Some(o / r))
        .met(Some(o / r >= 5.0))
        .note(format!(
            "{calls} calls each, check_dummy 0; per call ours {:.1} ms, nrpe {:.1} ms",
            1000.0 / o,
            1000.0 / r
        )),
        Row::new(
            6,
            "NRPE server RSS (after the calls)",
            "MiB",
            "side by side",
        )
        .ours(ours_rss)
        .reference("nrpe", Some(real_rss))
        .ratio(Some(real_rss / ours_rss))
        .note("ours is the whole smokerd (API, scheduler, store)"),
    ])
}
