#![no_main]
//! Fuzzes `veil_fuzz::motion_keyframe`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| veil_fuzz::motion_keyframe(data));
