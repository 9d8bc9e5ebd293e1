//! Fuzz target `config_yaml`: the smoker YAML loader on arbitrary text (no
//! `!include` resolution escapes the empty temp base directory).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = smoker::config::load_str("fuzz.yaml", &text, std::path::Path::new("/nonexistent"));
});
