#![no_main]
//! See `paddock_fuzz::zoo_cfg`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::zoo_cfg(data));
