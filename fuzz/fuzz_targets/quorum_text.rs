#![no_main]
//! See `paddock_fuzz::quorum_text`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::quorum_text(data));
