//! The load suspect of `flakehound diagnose`, alone in its test binary: cargo runs test binaries
//! one after another, so nothing else loads the machine while it measures.

use serde_json::Value;
use std::path::{Path, PathBuf};

#[test]
fn load() {
    let py = std::env::var_os("FLAKEHOUND_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python")
        });
    if !py.exists() {
        if std::env::var_os("FLAKEHOUND_REQUIRE_PYTEST").is_some_and(|v| v == "1") {
            panic!("no pytest venv at {}", py.display());
        }
        eprintln!("skipping: no pytest venv");
        return;
    }
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
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["category"], "timeout", "{d:#}");
    assert!(
        d["reproduction"].as_str().unwrap().contains("--load"),
        "{d:#}"
    );
}
