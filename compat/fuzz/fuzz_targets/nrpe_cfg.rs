//! Fuzz target `nrpe_cfg`: smoker_compat::harness::nrpe_cfg on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smoker_compat::harness::nrpe_cfg(data));
