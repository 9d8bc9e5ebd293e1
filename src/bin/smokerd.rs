//! `smokerd`: thin binary edge. Parses arguments, sets up logging, loads the
//! configuration and hands over to `smoker::daemon::run`. Exit codes: 0 after a
//! clean stop, 2 for configuration errors, 1 for other start-up failures.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};

use clap::Parser;
use smoker::{
    config::{
        self, Plan,
        report::{Reporter, Severity},
    },
    daemon::{
        Loader, RunOptions,
        args::{Args, Cmd, RunArgs},
    },
    logging::Verbosity,
};

/// The system-wide configuration used when `-c` is not given.
const SYSTEM_CONFIG: &str = "/etc/smokerd/smokerd.yaml";

fn main() -> ExitCode {
    // The original's single-dash long flags.
    let argv = std::env::args_os().map(|a| match a.to_str() {
        Some("-fg") => "--foreground".into(),
        _ => a,
    });
    let args = Args::parse_from(argv);
    match args.command {
        Some(Cmd::PrintDefaultConfig) => {
            print!("{}", config::load::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Some(Cmd::ImportNrpe { file }) => {
            let file = std::path::absolute(&file).unwrap_or(file);
            match smoker::nrpe::import::import_yaml(&file) {
                Ok(yaml) => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Cmd::CheckConfig { strict }) => match load(&args.run, strict) {
            Ok(plan) => {
                println!("{}", config::summary(&plan));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Some(Cmd::Run) | None => run(args.run),
    }
}

/// Which configuration to read.
fn source(args: &RunArgs) -> Source {
    if let Some(dir) = &args.conf_d {
        return Source::ConfD(dir.clone());
    }
    match &args.config {
        Some(path) => Source::File(path.clone()),
        None if Path::new(SYSTEM_CONFIG).exists() => Source::File(PathBuf::from(SYSTEM_CONFIG)),
        None => Source::Embedded,
    }
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    ConfD(PathBuf),
    Embedded,
}

fn read(source: &Source) -> Result<config::load::Loaded, config::load::ConfigErrors> {
    match source {
        Source::File(path) => config::load::load_file(path),
        Source::ConfD(dir) => config::load::load_conf_d(dir),
        Source::Embedded => config::load::load_default(),
    }
}

/// Loads and validates; prints every warning and error to stderr, each with its
/// source line. `strict`: warnings are errors (exit 2).
fn load(args: &RunArgs, strict: bool) -> Result<Plan, ExitCode> {
    let mut reporter = Reporter::default();
    match read(&source(args)) {
        Ok(loaded) => {
            let severity = if strict {
                Severity::Error
            } else {
                Severity::Warning
            };
            for warning in &loaded.warnings {
                eprintln!("{}", reporter.render(warning, severity));
            }
            if strict && !loaded.warnings.is_empty() {
                let n = loaded.warnings.len();
                eprintln!("{n} {}, errors under --strict", plural(n, "warning"));
                return Err(ExitCode::from(2));
            }
            let mut plan = loaded.plan;
            if args.pidfile.is_some() {
                plan.pidfile = args.pidfile.clone();
            }
            Ok(plan)
        }
        Err(errors) => {
            for error in &errors.errors {
                eprintln!("{}", reporter.render(error, Severity::Error));
            }
            let n = errors.errors.len();
            eprintln!("{n} {}", plural(n, "error"));
            Err(ExitCode::from(2))
        }
    }
}

/// `error` or `errors`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn run(args: RunArgs) -> ExitCode {
    // Before any thread starts (see `sys::restart_without_tcache` and `sys::MallocTuning`).
    smoker::sys::restart_without_tcache();
    let malloc = smoker::sys::tune_malloc();
    // Before any thread starts, so that every thread inherits it.
    smoker::sys::block_child_signal();
    let plan = match load(&args, false) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let log = smoker::logging::init(
        Verbosity::from_flags(args.verbose, args.debug),
        plan.log_level.as_deref(),
        plan.log_format,
    );
    tracing::debug!(
        arenas = ?malloc.arenas,
        mmap_threshold = ?malloc.mmap_threshold,
        "Tuned glibc malloc."
    );
    let source = source(&args);
    let pidfile = args.pidfile.clone();
    let loader: Loader = Arc::new(move || -> Result<Plan, Vec<String>> {
        let mut loaded = read(&source).map_err(|e| e.lines())?;
        for warning in &loaded.warnings {
            tracing::warn!(warning = %warning, "Configuration warning.");
        }
        if pidfile.is_some() {
            loaded.plan.pidfile = pidfile.clone();
        }
        Ok(loaded.plan)
    });
    // The main thread (it runs the daemon's top future) and each runtime thread wake
    // ahead of busy plugins (`sys::short_slice`); children keep the default slice.
    let slice = smoker::sys::short_slice();
    tracing::debug!(
        applied = slice.is_ok(),
        "Short time slice for smokerd's threads."
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(|| {
            let _ = smoker::sys::short_slice();
        })
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smokerd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let options = RunOptions {
        loader: Some(loader),
        log: Some(log),
    };
    match runtime.block_on(smoker::daemon::run(plan, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Start-up failed.");
            eprintln!("smokerd: {e:#}");
            ExitCode::from(1)
        }
    }
}
