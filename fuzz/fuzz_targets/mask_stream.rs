#![no_main]
//! Fuzzes `veil_fuzz::mask_stream`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::mask_stream(data));
