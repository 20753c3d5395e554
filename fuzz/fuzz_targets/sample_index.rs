#![no_main]
//! Fuzzes `veil_fuzz::sample_index`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::sample_index(data));
