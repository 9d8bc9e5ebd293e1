//! Command lines of `smokercli` and `check_smoker` (clap derive).
//!
//! Query mode keeps the original's options and meanings (smoker-compat.md §4.2); subcommands
//! come first (decisions.md D9). `-o` is a free string so that an unknown format is the
//! original's "Invalid pretty output X" (exit 1), not a usage error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::{client::ConnOptions, select::FilterOptions};

/// Connection options of both binaries (issue 10).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// Bearer token for daemons that require one
    #[arg(
        long,
        env = "SMOKER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Trust the CA certificates in this PEM file (https:// hosts)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify TLS certificates and host names
    #[arg(long)]
    pub insecure: bool,
}

impl ConnArgs {
    pub fn options(&self) -> ConnOptions {
        ConnOptions {
            token: self.token.clone(),
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
        }
    }
}

/// Smoker client tool: query, filter and force checks on one or many smokerd hosts.
#[derive(Debug, Parser)]
#[command(
    name = "smokercli",
    version,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true,
    after_help = "Subcommands come first: `smokercli history NAME`, `smokercli output NAME`, \
                  `smokercli send-nsca ...`, `smokercli send-icinga ...`.\nConfig: ~/.smokercli.yaml or /etc/smokercli.yaml \
                  (hosts, bind_port; optional).\nStatus page of a daemon, in a browser: \
                  http://HOST:8086/ui/ (its API port)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the recent runs of a check (GET /v2/plugins/NAME/runs)
    History(HistoryArgs),
    /// Print the captured stdout/stderr of a run (GET /v2/plugins/NAME/runs/ID/output)
    Output(OutputArgs),
}

/// `smokercli send-nsca`, for help, man page and completions only: the binary hands
/// `send-nsca` to `nsca::cli` (send_nsca 2.10's own single-dash options, such as `-to`,
/// which clap does not parse) before clap sees the command line.
pub fn send_nsca_command() -> clap::Command {
    use clap::{Arg, ArgAction};
    let value = |id: &'static str, short: char, name: &'static str, help: &'static str| {
        Arg::new(id).short(short).value_name(name).help(help)
    };
    clap::Command::new("send-nsca")
        .about("Send passive check results read from stdin to an NSCA server (as send_nsca 2.10)")
        .disable_version_flag(true)
        .after_help(
            "Also send_nsca's two-letter options: -to SECONDS (connection timeout, default \
             10) and -ds DELIM (delimiter between results, default ETB 0x17).",
        )
        .arg(value("host", 'H', "HOST", "NSCA server host (required)"))
        .arg(value(
            "port",
            'p',
            "PORT",
            "NSCA server port (default 5667)",
        ))
        .arg(value(
            "delim",
            'd',
            "DELIM",
            "Field delimiter of the input (default tab)",
        ))
        .arg(value(
            "config",
            'c',
            "FILE",
            "send_nsca.cfg with password and encryption_method",
        ))
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Print nothing on success"),
        )
        .arg(
            Arg::new("license")
                .short('l')
                .long("license")
                .action(ArgAction::SetTrue)
                .help("Print the license"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version"),
        )
}

/// The original query mode.
#[derive(Debug, Clone, Args, Default)]
pub struct QueryArgs {
    /// Force plugins run (otherwise just print last results)
    #[arg(short, long, help_heading = "Action switchers")]
    pub force: bool,
    /// List plugins
    #[arg(short, long, help_heading = "Action switchers")]
    pub list: bool,

    /// Hosts with running smokerd: host, host:port or http(s)://host:port (default localhost)
    #[arg(short = 's', long = "hosts", value_name = "HOSTS", num_args = 1.., help_heading = "Target host switchers")]
    pub hosts: Vec<String>,

    /// Filter plugins by name
    #[arg(short, long, value_name = "PLUGINS", num_args = 1.., help_heading = "Filters")]
    pub plugins: Vec<String>,
    /// Exclude plugins by names
    #[arg(long, value_name = "EXCLUDE_PLUGINS", num_args = 1.., help_heading = "Filters")]
    pub exclude_plugins: Vec<String>,
    /// Filter plugins by its parameters, eg. --filter 'Category connectors'
    #[arg(long, value_name = "FILTER", num_args = 1.., help_heading = "Filters")]
    pub filter: Vec<String>,
    /// Negative filters (exclude) - works only for the first filter
    #[arg(long, help_heading = "Filters")]
    pub exclude: bool,
    /// Filter plugins by Category parameter
    #[arg(long, help_heading = "Filters")]
    pub category: Option<String>,
    /// Filter plugins by Component parameter (eg. server)
    #[arg(long, help_heading = "Filters")]
    pub component: Option<String>,
    /// Filter plugins by Type healthCheck
    #[arg(long, help_heading = "Filters")]
    pub health: bool,
    /// Filter plugins by Type smokeTest
    #[arg(long, help_heading = "Filters")]
    pub smoke: bool,
    /// Platform is locked: only plugins with RunOnLocked true
    #[arg(long, help_heading = "Filters")]
    pub locked: bool,
    /// Filter plugins by status, eg. --filter-status ERROR WARN
    #[arg(long, value_name = "FILTER_STATUS", num_args = 1.., help_heading = "Filters")]
    pub filter_status: Vec<String>,
    /// Only non-OK plugins (ERROR, WARN, UNKNOWN)
    #[arg(long, help_heading = "Filters")]
    pub nook: bool,
    /// Only ERROR
    #[arg(long, help_heading = "Filters")]
    pub error: bool,
    /// Only WARN
    #[arg(long, visible_alias = "warning", help_heading = "Filters")]
    pub warn: bool,
    /// Only UNKNOWN
    #[arg(long, help_heading = "Filters")]
    pub unknown: bool,
    /// Only OK
    #[arg(long, help_heading = "Filters")]
    pub ok: bool,

    /// Output format: minimal / normal / long / full / raw / json / tap / xml / junit / nagios
    #[arg(
        short = 'o',
        long = "pretty",
        value_name = "PRETTY",
        help_heading = "Output switchers"
    )]
    pub pretty: Option<String>,
    /// Don't use colors in output (also NO_COLOR; colors only on a terminal)
    #[arg(long, help_heading = "Output switchers")]
    pub no_colors: bool,
    /// Don't show progress bar
    #[arg(long, help_heading = "Output switchers")]
    pub no_progress: bool,
    /// Be verbose
    #[arg(short, long, help_heading = "Output switchers")]
    pub verbose: bool,
    /// Debug output
    #[arg(short, long, help_heading = "Output switchers")]
    pub debug: bool,
    /// Exit 69 if any host is ERROR or UNKNOWN
    #[arg(short, long = "exitcode", help_heading = "Output switchers")]
    pub exitcode: bool,
    /// YAML overriding the xml formatter config
    #[arg(
        long,
        value_name = "JUNIT_CONFIG_FILE",
        help_heading = "Output switchers"
    )]
    pub junit_config_file: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

impl QueryArgs {
    pub fn filter_options(&self) -> FilterOptions {
        FilterOptions {
            filter: self.filter.clone(),
            category: self.category.clone(),
            component: self.component.clone(),
            health: self.health,
            smoke: self.smoke,
            plugins: self.plugins.clone(),
            filter_status: self.filter_status.clone(),
            nook: self.nook,
            ok: self.ok,
            error: self.error,
            warn: self.warn,
            unknown: self.unknown,
            locked: self.locked,
            exclude: self.exclude,
            exclude_plugins: self.exclude_plugins.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Check (plugin) name
    pub name: String,
    /// Hosts with running smokerd (default localhost)
    #[arg(short = 's', long = "hosts", value_name = "HOSTS", num_args = 1..)]
    pub hosts: Vec<String>,
    /// Number of runs to show
    #[arg(short = 'n', long = "limit", default_value_t = 10)]
    pub limit: u32,
    /// Output format: text or json
    #[arg(short = 'o', long = "pretty", default_value = "text", value_parser = ["text", "json"])]
    pub pretty: String,
    /// Don't use colors in output
    #[arg(long)]
    pub no_colors: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Check (plugin) name
    pub name: String,
    /// Run id (default: the latest run)
    #[arg(long = "run", value_name = "ID")]
    pub run: Option<u64>,
    /// Hosts with running smokerd (default localhost)
    #[arg(short = 's', long = "hosts", value_name = "HOSTS", num_args = 1..)]
    pub hosts: Vec<String>,
    /// Output format: text (stdout and stderr as captured) or json
    #[arg(short = 'o', long = "pretty", default_value = "text", value_parser = ["text", "json"])]
    pub pretty: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Nagios plugin: ask a smokerd for check results and print one status line.
#[derive(Debug, Clone, Parser)]
#[command(name = "check_smoker", version)]
pub struct CheckArgs {
    /// smokerd to ask: host, host:port or http(s)://host:port
    #[arg(
        short = 'H',
        long = "host",
        value_name = "HOST[:PORT]",
        default_value = "localhost"
    )]
    pub host: String,
    /// Force plugins run (otherwise just report last results)
    #[arg(short, long)]
    pub force: bool,
    /// The category of tests to check
    #[arg(long)]
    pub category: Option<String>,
    /// The tests component to check
    #[arg(long)]
    pub component: Option<String>,
    /// Check only health checks (Type healthCheck)
    #[arg(long)]
    pub health: bool,
    /// Give up after this many seconds (UNKNOWN)
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    pub timeout: u64,
    /// A result older than this is UNKNOWN (default: twice the check's Interval plus its
    /// Timeout; unscheduled checks never go stale)
    #[arg(long = "max-age", value_name = "SECONDS")]
    pub max_age: Option<u64>,
    /// Plugins to check (by name)
    #[arg(value_name = "PLUGIN")]
    pub plugins: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_lines_are_consistent() {
        Cli::command().debug_assert();
        CheckArgs::command().debug_assert();
    }

    #[test]
    fn original_spellings_parse() {
        let cli = Cli::try_parse_from([
            "smokercli",
            "-s",
            "a",
            "b:1",
            "-p",
            "x",
            "y",
            "--filter",
            "Category demo",
            "--warning",
            "-o",
            "json",
            "-e",
            "-f",
            "--no-colors",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        let q = cli.query;
        assert_eq!(q.hosts, ["a", "b:1"]);
        assert_eq!(q.plugins, ["x", "y"]);
        assert_eq!(q.filter, ["Category demo"]);
        assert!(q.warn && q.exitcode && q.force && q.no_colors);
        assert_eq!(q.pretty.as_deref(), Some("json"));

        let cli =
            Cli::try_parse_from(["smokercli", "history", "uptime", "-n", "3", "-s", "h1"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::History(HistoryArgs { limit: 3, .. }))
        ));
        // subcommands come first
        assert!(Cli::try_parse_from(["smokercli", "-f", "history", "uptime"]).is_err());

        let check =
            CheckArgs::try_parse_from(["check_smoker", "-H", "vm:9000", "-f", "-t", "5", "a", "b"])
                .unwrap();
        assert_eq!(check.plugins, ["a", "b"]);
        assert_eq!(check.timeout, 5);
    }
}
