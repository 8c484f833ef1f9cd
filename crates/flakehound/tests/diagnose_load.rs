//! The load suspect of `flakehound diagnose`, alone in its test binary: cargo runs test binaries
//! one after another, so nothing else loads the machine while it measures.

use flakehound_testkit::{QUIET_PYTEST, pytest_python, success_json};
use std::path::Path;

#[test]
fn load() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose-py"))
        .env("FLAKEHOUND_DB", dir.path().join("l.db"))
        .args([
            "diagnose",
            "tests/test_timing.py::test_fast_enough",
            "--runs",
            "8",
        ])
        .args(["--only", "load", "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let d = success_json(&out);
    assert_eq!(d["category"], "timeout", "{d:#}");
    assert!(
        d["reproduction"].as_str().unwrap().contains("--load"),
        "{d:#}"
    );
}
