#![no_main]
//! Fuzzes `veil_fuzz::segmenter`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::segmenter(data));
