//! `check_smoker`: Nagios plugin asking a smokerd. All logic lives in `smoker::cli::nagios_check`.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(smoker::cli::nagios_check::main(args));
}
