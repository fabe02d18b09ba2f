#![no_main]
//! See `paddock_fuzz::connect_handshake`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::connect_handshake(data));
