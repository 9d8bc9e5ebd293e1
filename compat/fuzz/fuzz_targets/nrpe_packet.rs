//! Fuzz target `nrpe_packet`: smoker_compat::harness::nrpe_packet on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::nrpe_packet(data));
