#![no_main]
//! The JSON formats: the first input byte chooses the parser (modulo 6), the rest is the
//! report. Seeds in `seeds/json_formats/` start with the selector byte of their format:
//! `0` CTRF, `1` go test -json, `2` Mocha, `3` Dart, `4` RSpec, `5` libtest/nextest.

use libfuzzer_sys::fuzz_target;

include!("common.rs");

const FORMATS: [Format; 6] = [
    Format::Ctrf,
    Format::GoJson,
    Format::MochaJson,
    Format::DartJson,
    Format::RspecJson,
    Format::LibtestJson,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, report)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    run(report, Some(format));
});
