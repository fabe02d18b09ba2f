#![no_main]
//! See `paddock_fuzz::sasl_digest`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::sasl_digest(data));
