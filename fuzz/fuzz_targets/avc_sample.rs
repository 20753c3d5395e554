#![no_main]
//! Fuzzes `veil_fuzz::avc_sample`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::avc_sample(data));
