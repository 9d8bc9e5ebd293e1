//! Fuzz target `plugin_output`: smoker_compat::harness::plugin_output on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::plugin_output(data));
