//! `smokerd`'s command line (clap derive). It lives in the library so that
//! `smokercli generate-assets` can write smokerd's man pages from the same definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "smokerd",
    version,
    about = "Monitoring daemon: runs checks, serves the smoker REST API",
    disable_help_subcommand = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default).
    #[arg(short = 'c', long = "config", global = true)]
    pub config: Option<PathBuf>,
    /// Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml).
    #[arg(long = "conf-d", global = true, conflicts_with = "config")]
    pub conf_d: Option<PathBuf>,
    /// Write the daemon's pid to FILE.
    #[arg(short = 'p', long = "pidfile", global = true)]
    pub pidfile: Option<PathBuf>,
    /// Accepted for compatibility: smokerd always runs in the foreground.
    #[arg(long = "foreground", global = true)]
    pub foreground: bool,
    /// Accepted for compatibility (logs go to stderr).
    #[arg(long = "no-syslog", global = true)]
    pub no_syslog: bool,
    /// Accepted for compatibility.
    #[arg(long = "no-console", global = true)]
    pub no_console: bool,
    /// Accepted for compatibility (Python logging config), ignored.
    #[arg(long = "logging-conf", global = true, hide = true)]
    pub logging_conf: Option<PathBuf>,
    /// Log at INFO level.
    #[arg(short = 'v', long = "verbose", global = true)]
    pub verbose: bool,
    /// Log at DEBUG level.
    #[arg(short = 'd', long = "debug", global = true)]
    pub debug: bool,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the daemon in the foreground (the default).
    Run,
    /// Validate the configuration and print a summary; exit 2 on errors.
    CheckConfig {
        /// Treat warnings (typos, ignored keys) as errors: exit 2 when there is any.
        #[arg(long)]
        strict: bool,
    },
    /// Print the embedded default configuration.
    PrintDefaultConfig,
    /// Print the smokerd.yaml that replaces an nrpe daemon reading FILE.
    ImportNrpe { file: PathBuf },
}
