#![no_main]
//! See `paddock_fuzz::client_frames`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::client_frames(data));
