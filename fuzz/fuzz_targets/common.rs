// Shared by every fuzz target (included with `include!`, so each target stays one file).

use flakehound_ingest::{Format, TestCase, parse_bytes};

/// Parses `data` with a sink that only counts records. Any panic is a finding; an error is
/// fine as long as it says something.
#[allow(dead_code)]
fn run(data: &[u8], format: Option<Format>) -> usize {
    let mut records = 0usize;
    let mut sink = |_case: TestCase| {
        records += 1;
        Ok(())
    };
    if let Err(e) = parse_bytes(data, format, &mut sink) {
        assert!(
            !e.to_string().trim().is_empty(),
            "empty error message for {format:?}: {e:?}"
        );
    }
    records
}
