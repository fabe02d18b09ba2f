#![no_main]
//! See `paddock_fuzz::snapshot`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::snapshot(data));
