#![no_main]
//! `trx` parser with the format forced: the whole input goes to it.

use libfuzzer_sys::fuzz_target;

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    run(data, Some(Format::Trx));
});
