#![no_main]
//! Fuzzes `veil_fuzz::annexb`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::annexb(data));
