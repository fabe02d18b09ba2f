#![no_main]
//! See `paddock_fuzz::peer_payload`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::peer_payload(data));
