#![no_main]
//! Format auto-detection (`format = None`), then whichever parser detection picks.

use libfuzzer_sys::fuzz_target;

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    let _ = flakehound_ingest::detect(&data[..data.len().min(16 * 1024)]);
    run(data, None);
});
