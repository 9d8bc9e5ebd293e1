//! `smokercli`: the smoker client. All logic lives in `smoker::cli`.

fn main() {
    // send_nsca drop-in: `send_nsca …` (argv[0]) or `smokercli send-nsca …`.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = smoker::nsca::cli::dispatch(&argv) {
        std::process::exit(code);
    }
    // `smokercli send-icinga …`: the same records, to Icinga 2's API.
    if let Some(code) = smoker::icinga::cli::dispatch(&argv) {
        std::process::exit(code);
    }
    std::process::exit(smoker::cli::smokercli_main(argv));
}
