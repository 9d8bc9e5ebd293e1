//! Query mode of `smokercli`: ask every host at once (about → plugins → select → force),
//! build the [`Report`], print it in the chosen format and pick the exit code
//! (smoker-compat.md §4.2/§4.4, decisions.md D1/D9).

use std::{
    collections::HashMap,
    io::{IsTerminal, Write},
    time::Duration,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinSet;

use super::{
    args::QueryArgs,
    client::{ConnOptions, Daemon, HostError, Http, Target},
    config::ClientConfig,
    format::{self, Format, RenderOptions, xml::XmlConfig},
    log::Log,
    model::{HostView, PluginView, Report},
    select::Selection,
};

/// Exit code of `-e` when a host is ERROR or UNKNOWN.
pub const EXIT_FAILED_HOSTS: i32 = 69;

/// What happened on one host.
enum Outcome {
    /// `GET /` failed (or the target is not a valid host).
    Unreachable { target: String, error: HostError },
    /// Answered `/` but not the plugin list, or the forced run failed.
    Failed {
        daemon: Daemon,
        error: HostError,
        forcing: bool,
    },
    /// Selected plugins (empty when nothing matched), forced when asked.
    Selected {
        daemon: Daemon,
        plugins: Vec<PluginView>,
        forced: bool,
    },
}

/// Colours only on a terminal, never with `--no-colors` or `NO_COLOR`.
pub fn use_colors(no_colors: bool) -> bool {
    !no_colors
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

/// Connection options: flags win over the config file.
pub fn conn_options(flags: ConnOptions, config: &ClientConfig) -> ConnOptions {
    ConnOptions {
        token: flags.token.or_else(|| config.token.clone()),
        ca_file: flags.ca_file.or_else(|| config.ca_file.clone()),
        insecure: flags.insecure || config.insecure,
    }
}

/// Hosts from `-s`, else the config's, else `localhost`; a target named twice is asked once.
pub fn host_list(flags: &[String], config: &ClientConfig) -> Vec<String> {
    let given = if !flags.is_empty() {
        flags
    } else if !config.hosts.is_empty() {
        &config.hosts
    } else {
        return vec!["localhost".into()];
    };
    let mut hosts: Vec<String> = Vec::with_capacity(given.len());
    for host in given {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    hosts
}

/// Write to stdout; a closed pipe is not an error.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Display names (D9): `about.host`, or `name[target]` when two targets share it.
pub fn display_names(daemons: &[&Daemon]) -> HashMap<String, String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for daemon in daemons {
        *counts.entry(daemon.name.as_str()).or_default() += 1;
    }
    daemons
        .iter()
        .map(|d| {
            let name = if counts[d.name.as_str()] > 1 {
                format!("{}[{}]", d.name, d.target.spec)
            } else {
                d.name.clone()
            };
            (d.target.spec.clone(), name)
        })
        .collect()
}

async fn ask_host(
    http: Http,
    spec: String,
    port: u16,
    selection: std::sync::Arc<Selection>,
    force: bool,
    log: Log,
) -> Outcome {
    let target = match Target::parse(&spec, port) {
        Ok(target) => target,
        Err(error) => {
            return Outcome::Unreachable {
                target: spec,
                error,
            };
        }
    };
    log.info(format_args!("Host {spec}: requesting {}", target.url("/")));
    let daemon = match Daemon::connect(&http, target).await {
        Ok(daemon) => daemon,
        Err(error) => {
            return Outcome::Unreachable {
                target: spec,
                error,
            };
        }
    };
    let items = match daemon.plugins(&http).await {
        Ok(items) => items,
        Err(error) => {
            return Outcome::Failed {
                daemon,
                error,
                forcing: false,
            };
        }
    };
    let mut plugins = Vec::new();
    for item in &items {
        match PluginView::parse(item) {
            Some(plugin) if selection.matches(&plugin) => {
                log.debug(format_args!(
                    "Host {}: plugin {} selected",
                    daemon.name, plugin.name
                ));
                plugins.push(plugin);
            }
            Some(plugin) => log.debug(format_args!(
                "Host {}: plugin {} filtered out",
                daemon.name, plugin.name
            )),
            None => log.warning(format_args!(
                "Host {}: ignoring a plugin entry without a name",
                daemon.name
            )),
        }
    }
    if !force || plugins.is_empty() {
        return Outcome::Selected {
            daemon,
            plugins,
            forced: false,
        };
    }
    let names: Vec<String> = plugins.iter().map(|p| p.name.clone()).collect();
    log.info(format_args!(
        "Forcing run of {} plugins on host {}",
        names.len(),
        daemon.name
    ));
    match daemon.force(&http, &names).await {
        Ok(items) => {
            let plugins = items.iter().filter_map(PluginView::parse).collect();
            Outcome::Selected {
                daemon,
                plugins,
                forced: true,
            }
        }
        Err(error) => Outcome::Failed {
            daemon,
            error,
            forcing: true,
        },
    }
}

fn progress_bar(hosts: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(hosts as u64), ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template(
        "{spinner} Running plugins [{bar:30}] {pos}/{len} hosts {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.tick();
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// What query mode needs once its options are checked.
struct Setup {
    format: Format,
    selection: std::sync::Arc<Selection>,
    xml_config: Option<XmlConfig>,
    http: Http,
}

/// Checks the output format, the selection, the junit config and the connection
/// options; `Err` is logged already.
fn setup(args: &QueryArgs, config: &ClientConfig, log: Log) -> Result<Setup, ()> {
    let pretty = args
        .pretty
        .clone()
        .or_else(|| config.pretty.clone())
        .unwrap_or_else(|| "normal".into());
    let format: Format = pretty
        .parse()
        .map_err(|message: String| log.error(message))?;
    let selection =
        Selection::from_options(&args.filter_options()).map_err(|error| log.error(error))?;
    if selection.names_and_params {
        log.warning("Plugin filter and plugin list used together. Only plugins matching both will be displayed.");
    }
    let xml_config = match (&args.junit_config_file, format) {
        (Some(path), Format::Xml) => Some(XmlConfig::read(path).map_err(|error| {
            log.error(format_args!("Invalid junit config file {error}"));
        })?),
        _ => None,
    };
    let http =
        Http::new(&conn_options(args.conn.options(), config)).map_err(|error| log.error(error))?;
    Ok(Setup {
        format,
        selection: std::sync::Arc::new(selection),
        xml_config,
        http,
    })
}

/// Asks every host at once; outcomes in the order of `hosts`.
async fn ask_hosts(
    hosts: &[String],
    setup: &Setup,
    port: u16,
    force: bool,
    bar: Option<ProgressBar>,
    log: Log,
) -> Vec<Outcome> {
    let mut tasks = JoinSet::new();
    for (index, spec) in hosts.iter().enumerate() {
        let task = ask_host(
            setup.http.clone(),
            spec.clone(),
            port,
            setup.selection.clone(),
            force,
            log,
        );
        tasks.spawn(async move { (index, task.await) });
    }
    let mut outcomes: Vec<Option<Outcome>> = (0..hosts.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = Some(outcome),
            Err(error) => log.error(format_args!("internal error: {error}")),
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    outcomes.into_iter().flatten().collect()
}

/// The hosts of the report, and how many forced runs succeeded and failed; host
/// problems are logged the way the original does.
fn host_views(outcomes: &[Outcome], log: Log) -> (Vec<HostView>, usize, usize) {
    let daemons: Vec<&Daemon> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { daemon, .. } | Outcome::Selected { daemon, .. } => Some(daemon),
            Outcome::Unreachable { .. } => None,
        })
        .collect();
    let names = display_names(&daemons);
    let mut views = Vec::new();
    let (mut forced_ok, mut forced_failed) = (0, 0);
    for outcome in outcomes {
        match outcome {
            Outcome::Unreachable { target, error } => {
                log.error(format_args!("Host {target}: {error}"));
                views.push(HostView::failed(
                    target.clone(),
                    target.clone(),
                    error.to_string(),
                ));
            }
            Outcome::Failed {
                daemon,
                error,
                forcing,
            } => {
                let name = names[&daemon.target.spec].clone();
                log.error(format_args!("Host {name}: {error}"));
                if *forcing {
                    forced_failed += 1;
                }
                views.push(HostView::failed(
                    name,
                    daemon.target.spec.clone(),
                    error.to_string(),
                ));
            }
            Outcome::Selected {
                daemon,
                plugins,
                forced,
            } => {
                if *forced {
                    forced_ok += 1;
                }
                if !plugins.is_empty() {
                    let name = names[&daemon.target.spec].clone();
                    views.push(HostView::new(
                        name,
                        daemon.target.spec.clone(),
                        plugins.clone(),
                    ));
                }
            }
        }
    }
    (views, forced_ok, forced_failed)
}

/// `-l`: the selected plugin names, `HOST/NAME` when more than one host has plugins.
fn plugin_list(with_plugins: &[&HostView]) -> String {
    let mut out = String::new();
    for host in with_plugins {
        for plugin in host.sorted_plugins() {
            if with_plugins.len() > 1 {
                out.push_str(&format!("{}/{}\n", host.name, plugin.name));
            } else {
                out.push_str(&format!("{}\n", plugin.name));
            }
        }
    }
    out
}

/// Run query mode; returns the exit code.
pub async fn query(args: QueryArgs, config: ClientConfig) -> i32 {
    let log = Log::new(args.verbose, args.debug);
    let Ok(setup) = setup(&args, &config, log) else {
        return 1;
    };
    let hosts = host_list(&args.hosts, &config);
    let force = args.force && !args.list;
    log.info(format_args!("Loading info for {} hosts", hosts.len()));
    let show_progress = force
        && !args.no_progress
        && !args.verbose
        && !args.debug
        && std::io::stdout().is_terminal();
    let bar = show_progress.then(|| progress_bar(hosts.len()));
    let outcomes = ask_hosts(&hosts, &setup, config.port(), force, bar, log).await;
    let (views, forced_ok, forced_failed) = host_views(&outcomes, log);
    let report = Report::new(views);
    let with_plugins: Vec<&HostView> = report
        .hosts
        .iter()
        .filter(|h| !h.plugins.is_empty())
        .collect();
    if with_plugins.is_empty() && forced_failed == 0 {
        log.error("No plugins found");
        return 1;
    }
    if args.list {
        print(&plugin_list(&with_plugins));
        return 0;
    }
    if force && forced_ok == 0 {
        log.error("Failed to execute selected plugins");
        return 1;
    }
    let options = RenderOptions {
        colors: use_colors(args.no_colors),
        xml_config: setup.xml_config,
    };
    print(&format::render(&report, setup.format, &options));
    if setup.format == Format::Nagios {
        return format::nagios::render(&report).1;
    }
    if args.exitcode && report.has_failure() {
        return EXIT_FAILED_HOSTS;
    }
    0
}
