//! Fuzz target `nsca_packet`: smoker_compat::harness::nsca_packet on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::nsca_packet(data));
