#![no_main]
//! Fuzzes `veil_fuzz::sps_pps`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::sps_pps(data));
