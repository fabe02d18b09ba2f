#![no_main]
//! See `paddock_fuzz::jaas`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::jaas(data));
