#![no_main]
//! See `paddock_fuzz::snap_tree`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::snap_tree(data));
