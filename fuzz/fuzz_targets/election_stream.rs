#![no_main]
//! See `paddock_fuzz::election_stream`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::election_stream(data));
