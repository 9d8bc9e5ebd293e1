//! Fuzz target `send_nsca_input`: smoker_compat::harness::send_nsca_input on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::send_nsca_input(data));
