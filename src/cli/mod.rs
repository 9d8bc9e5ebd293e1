//! The client side: `smokercli` (query one or many smokerd hosts, filter, force, format) and
//! `check_smoker` (Nagios plugin asking one smokerd). smoker-compat.md §4, decisions.md D1, D9.
//!
//! Layout: [`args`] (clap), [`config`] (`~/.smokercli.yaml`), [`client`] (HTTP, fan-out
//! helpers, force + poll), [`model`] (decoded answers), [`select`] (filters), [`format`]
//! (one module per output format), [`run`] (query mode), [`history`] (`/v2` run log),
//! [`nagios_check`] (check_smoker), [`assets`] (completions and man pages, with
//! [`config_man`]'s `smokerd.yaml(5)`), [`log`].

pub mod args;
pub mod assets;
pub mod client;
pub mod config;
pub mod config_man;
pub mod format;
pub mod history;
pub mod log;
pub mod model;
pub mod nagios_check;
pub mod run;
pub mod select;

use std::{ffi::OsString, future::Future};

use clap::Parser;

use args::{Cli, Command};
use config::ClientConfig;

/// `generate-assets DIR`: every completion and man page written under DIR.
fn generate_assets(args: &[OsString]) -> i32 {
    let [dir] = args else {
        eprintln!("usage: smokercli generate-assets DIR");
        return 2;
    };
    if dir.to_string_lossy().starts_with('-') {
        println!(
            "usage: smokercli generate-assets DIR (writes completions and man pages under DIR)"
        );
        return if dir == "-h" || dir == "--help" { 0 } else { 2 };
    }
    let dir = std::path::Path::new(dir);
    match assets::write_assets(dir) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            0
        }
        Err(error) => {
            eprintln!("ERROR: {}: {error}", dir.display());
            1
        }
    }
}

/// Run `future` on a fresh runtime; Ctrl-C ends it with exit code 1 (smoker-compat.md §4.4).
pub fn block_on(future: impl Future<Output = i32>) -> i32 {
    client::raise_fd_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ERROR: cannot start the runtime: {error}");
            return 1;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = future => code,
            _ = tokio::signal::ctrl_c() => 1,
        }
    });
    runtime.shutdown_background();
    code
}

/// `smokercli ARGS…` (everything but `send-nsca`, which the binary dispatches first).
/// `smokercli generate-assets DIR` is the build's: it writes completions and man pages.
pub fn smokercli_main(args: Vec<OsString>) -> i32 {
    if args.get(1).is_some_and(|a| a == "generate-assets") {
        return generate_assets(&args[2..]);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return error.exit_code();
        }
    };
    let config = match ClientConfig::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ERROR: {error}");
            return 1;
        }
    };
    match cli.command {
        None => block_on(run::query(cli.query, config)),
        Some(Command::History(args)) => block_on(history::history(args, config)),
        Some(Command::Output(args)) => block_on(history::output(args, config)),
    }
}
