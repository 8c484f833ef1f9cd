#![no_main]
//! NUnit 2 and 3 share one parser (the root element decides the dialect); the input is parsed
//! with the format forced as NUnit 3 and as NUnit 2.

use libfuzzer_sys::fuzz_target;

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    run(data, Some(Format::Nunit3));
    run(data, Some(Format::Nunit2));
});
