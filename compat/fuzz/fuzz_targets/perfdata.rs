//! Fuzz target `perfdata`: smoker_compat::harness::perfdata on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::perfdata(data));
