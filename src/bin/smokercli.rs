//! `smokercli`: the smoker client. All logic lives in `smoker::cli`.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(smoker::cli::smokercli_main(args));
}
