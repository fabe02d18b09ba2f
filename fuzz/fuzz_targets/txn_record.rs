#![no_main]
//! See `paddock_fuzz::txn_record`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| paddock_fuzz::txn_record(data));
