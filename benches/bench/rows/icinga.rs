//! Row 9: Icinga 2. Results/s that smokerd's `Icinga2` action delivers from its spool
//! into the real icinga2 (keep-alive HTTPS, several requests in flight), against one
//! `curl` per result (how scripts post today, same parallelism), into the same icinga2;
//! and smokerd's and icinga2's CPU per delivered result. The results come from
//! [`CHECKS`] checks forced in rounds: the row polls `smoker_icinga_sent_total`, and a
//! `/metrics` page of thousands of checks would cost smokerd more than the delivery.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};

use crate::{
    Ctx, Row,
    util::{self, Proc},
};

const PASSWORD: &str = "benchpass";
/// Checks (and Icinga services) the results come from, forced in rounds.
const CHECKS: usize = 100;
/// How often the row reads smokerd's sent counter: each read costs smokerd CPU that
/// icinga2 then lacks on a small machine; 25 ms is ≤ 1 % of a 3 s window at either end.
const POLL: Duration = Duration::from_millis(25);
/// Reads of /metrics that measure what one costs smokerd.
const SCRAPES: u32 = 300;

/// icinga2 in the foreground on `dir` with services `n0`..`n{count}` on host `benchhost`.
struct Icinga {
    proc: Proc,
    port: u16,
    ca: PathBuf,
}

fn openssl(dir: &Path, args: &str) -> Result<()> {
    let st = Command::new("openssl")
        .args(args.split(' '))
        .current_dir(dir)
        .output()?;
    if !st.status.success() {
        bail!("openssl {args}: {}", String::from_utf8_lossy(&st.stderr));
    }
    Ok(())
}

/// Certificates and config of an icinga2 on `dir`.
fn prepare_icinga(dir: &Path, port: u16, count: usize) -> Result<()> {
    for sub in ["data/certs", "log", "cache", "spool", "run/icinga2", "etc"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=benchCA",
    )?;
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout data/certs/bench.key -out node.csr -subj /CN=bench",
    )?;
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")?;
    openssl(
        dir,
        "x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out data/certs/bench.crt -days 2 -extfile san.ext",
    )?;
    fs::copy(dir.join("ca.crt"), dir.join("data/certs/ca.crt"))?;
    let conf = format!(
        "const NodeName = \"bench\"\nconst ZoneName = \"bench\"\nobject Endpoint NodeName {{}}\n\
         object Zone ZoneName {{ endpoints = [ NodeName ] }}\n\
         object ApiListener \"api\" {{ bind_host = \"127.0.0.1\"; bind_port = {port} }}\n\
         object ApiUser \"smoker\" {{ password = \"{PASSWORD}\"; permissions = [ \"actions/process-check-result\" ] }}\n\
         object CheckCommand \"passive\" {{ command = [ \"/bin/true\" ] }}\n\
         object Host \"benchhost\" {{ check_command = \"passive\"; enable_active_checks = false }}\n\
         for (i in range({count})) {{\n  object Service \"n\" + i {{ host_name = \"benchhost\"; check_command = \"passive\"; enable_active_checks = false }}\n}}\n"
    );
    util::write(&dir.join("etc/icinga2.conf"), &conf)
}

fn start_icinga(dir: &Path, port: u16) -> Result<Icinga> {
    let bin = util::which("icinga2").ok_or_else(|| anyhow!("icinga2 not installed"))?;
    let d = dir.display();
    let mut cmd = Command::new(bin);
    cmd.args(["daemon", "-c", &format!("{d}/etc/icinga2.conf")]);
    for def in [
        "LogDir=log",
        "CacheDir=cache",
        "SpoolDir=spool",
        "InitRunDir=run",
        "DataDir=data",
        "ConfigDir=etc",
    ] {
        let (k, v) = def.split_once('=').unwrap_or_default();
        cmd.arg("-D").arg(format!("{k}={d}/{v}"));
    }
    cmd.args(["-D", "RunAsUser=root", "-D", "RunAsGroup=root"]);
    let mut proc = Proc::spawn("icinga2", &mut cmd, &dir.join("icinga2.log"))?;
    util::wait_port(&mut proc, port, Duration::from_secs(120))?;
    Ok(Icinga {
        proc,
        port,
        ca: dir.join("ca.crt"),
    })
}

fn sent_total(ports: &[u16]) -> Option<f64> {
    let text = util::metrics_text(ports)?;
    text.lines()
        .find(|l| l.starts_with("smoker_icinga_sent_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// CPU seconds of `pid` and its descendants (icinga2 forks its daemon).
fn tree_cpu(pid: u32) -> f64 {
    let mut parent: Vec<(u32, u32)> = Vec::new();
    for dir in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = dir.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let stat = fs::read_to_string(dir.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        if let Some(pp) = after.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
            parent.push((p, pp));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.iter().filter_map(|p| util::cpu_seconds(*p).ok()).sum()
}

/// smokerd on `dir` with [`CHECKS`] checks feeding the `Icinga2` action of icinga2 on
/// `iport`, and `n` results in its spool (forced in rounds of every check).
fn spooled(ctx: &Ctx, dir: &Path, iport: u16, n: usize) -> Result<(util::Daemon, [u16; 2])> {
    let (api, mport) = (util::free_port()?, util::free_port()?);
    let ca = dir.join("icinga/ca.crt");
    let names: Vec<String> = (0..CHECKS).map(|i| format!("n{i}")).collect();
    let mut yaml = util::yaml_head(api, &dir.join("state"), Some(ctx.concurrency));
    yaml.push_str(&util::yaml_metrics(mport));
    let _ = write!(
        yaml,
        "actions:\n  icinga:\n    Icinga2: {{url: 'https://127.0.0.1:{iport}', user: smoker, password: {PASSWORD}, ca_file: {}, host_name: benchhost}}\n\
         templates:\n  BasePlugin: {{Interval: 0, Timeout: 30, History: 2}}\nplugins:\n",
        ca.display()
    );
    for name in &names {
        let _ = writeln!(
            yaml,
            "  {name}: {{Argv: [/bin/echo, 'OK - delivered | x=1'], Action: icinga}}"
        );
    }
    let daemon = util::start_smokerd(dir, "smokerd-icinga", &yaml, api, Duration::from_secs(60))?;
    let ports = [mport, api];
    for _ in 0..n.div_ceil(CHECKS) {
        util::force_run(daemon.port, &names, Duration::from_secs(300))?;
    }
    super::nsca::wait_spool(&ports, n);
    Ok((daemon, ports))
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    // Full mode: 20 000 results, a few seconds of delivery (5000 took under 1 s: noisy).
    let n = ctx.pick(1000usize, 20_000).div_ceil(CHECKS) * CHECKS;
    let n_ref = ctx.pick(100, 500);
    let dir = util::scratch_dir("icinga")?;
    let iport = util::free_port()?;
    let icinga_dir = dir.path().join("icinga");
    fs::create_dir_all(&icinga_dir)?;
    // smokerd reads the CA at load: the certificates first; icinga2 starts once every
    // result is in the spool, so the row measures delivery alone.
    prepare_icinga(&icinga_dir, iport, CHECKS)?;
    let (daemon, ports) = spooled(ctx, dir.path(), iport, n)?;
    let icinga = start_icinga(&icinga_dir, iport)?;
    let sent = |least: f64| {
        Ok(sent_total(&ports)
            .filter(|c| *c >= least)
            .map(|c| (Instant::now(), c)))
    };
    let (first_t, first_c) = util::wait_for(
        "the first result in icinga2",
        Duration::from_secs(120),
        POLL,
        || sent(1.0),
    )?;
    let (cpu0, icpu0) = (
        util::cpu_seconds(daemon.pid())?,
        tree_cpu(icinga.proc.pid()),
    );
    let mut polls = 0u32;
    let (last_t, _) = util::wait_for(
        "every result in icinga2",
        Duration::from_secs(300),
        POLL,
        || {
            polls += 1;
            sent(n as f64)
        },
    )?;
    let icpu = tree_cpu(icinga.proc.pid()) - icpu0;
    // Less what the row's own polls of /metrics cost smokerd, measured after the fact.
    let cpu1 = util::cpu_seconds(daemon.pid())?;
    for _ in 0..SCRAPES {
        sent_total(&ports);
    }
    let scrape = (util::cpu_seconds(daemon.pid())? - cpu1) / f64::from(SCRAPES);
    let cpu = (cpu1 - cpu0 - scrape * f64::from(polls)).max(0.0);
    drop(daemon);
    let span = (last_t - first_t).as_secs_f64().max(0.001);
    let delivered = n as f64 - first_c;
    let reference = curl_each(ctx, &icinga, n_ref)?;
    let ratio = delivered / span / reference;
    Ok(vec![
        Row::new(
            9,
            &format!("Icinga 2 delivery ({n} results → icinga2 API)"),
            "results/s",
            "≥ 50× curl",
        )
        .ours(delivered / span)
        .reference(
            &format!("curl per result ×{}", ctx.concurrency),
            Some(reference),
        )
        .ratio(Some(ratio))
        .met(Some(ratio >= 50.0))
        .note(format!(
            "first to last accepted {:.0} ms; {CHECKS} checks; {n_ref} curl runs",
            span * 1000.0
        )),
        Row::new(9, "Icinga 2 daemon CPU/result", "µs", "report")
            .ours(cpu / delivered * 1e6)
            .reference("icinga2's CPU/result", Some(icpu / delivered * 1e6))
            .note(
                "smokerd's (less the row's polls of /metrics) and icinga2's CPU from the first to the last accepted result, over those results"
                    .to_string(),
            ),
    ])
}

/// `count` curl processes, one result each, `ctx.concurrency` at a time; results/s.
fn curl_each(ctx: &Ctx, icinga: &Icinga, count: usize) -> Result<f64> {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let url = format!(
        "https://127.0.0.1:{}/v1/actions/process-check-result",
        icinga.port
    );
    let t0 = Instant::now();
    thread::scope(|s| {
        for _ in 0..ctx.concurrency {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let body = r#"{"service":"benchhost!n0","exit_status":0,"plugin_output":"OK - curl","performance_data":["x=1"]}"#;
                    let ok = Command::new("curl")
                        .args(["-s", "-f", "-o", "/dev/null", "--cacert"])
                        .arg(&icinga.ca)
                        .args(["-u", &format!("smoker:{PASSWORD}"), "-H", "Accept: application/json", "-X", "POST", "-d", body, &url])
                        .status()
                        .is_ok_and(|s| s.success());
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let sent = count - failed.load(Ordering::Relaxed);
    if sent == 0 {
        bail!("every curl run failed");
    }
    Ok(sent as f64 / t0.elapsed().as_secs_f64())
}
