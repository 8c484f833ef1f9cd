//! `flakehound diagnose`, `repro` and `verify` against real pytest on
//! `tests/fixtures/diagnose-py`: one controllable test per suspect (the load suspect has its own
//! test binary, `diagnose_load.rs`, so that no other test loads the machine meanwhile).

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("FLAKEHOUND_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python")
        });
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("FLAKEHOUND_REQUIRE_PYTEST").is_some_and(|v| v == "1") {
        panic!(
            "no pytest venv at {}; run scripts/test-venv.sh",
            p.display()
        );
    }
    eprintln!("skipping: no pytest venv at {}", p.display());
    None
}

pub fn flakehound(py: &Path, db: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose-py"))
        .env("FLAKEHOUND_DB", db)
        .args(args)
        .arg("--")
        .arg(py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .output()
        .unwrap()
}

/// Runs one suspect's experiment and returns the diagnosis JSON.
fn diagnose(test: &str, suspect: &str) -> Option<Value> {
    let py = python()?;
    let dir = tempfile::tempdir().unwrap();
    let out = flakehound(
        &py,
        &dir.path().join("d.db"),
        &["diagnose", test, "--runs", "6", "--only", suspect, "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn assert_verdict(d: &Value, category: &str, reproduction: Option<&str>) {
    assert_eq!(d["category"], category, "{d:#}");
    assert!(d["confidence"].as_f64().unwrap() >= 0.95, "{d:#}");
    if let Some(r) = reproduction {
        let got = d["reproduction"].as_str().unwrap_or_default();
        assert!(got.contains(r), "reproduction {got:?} should contain {r:?}");
    }
}

#[test]
fn randomness() {
    let Some(d) = diagnose("tests/test_dice.py::test_roll", "randomness") else {
        return;
    };
    assert_verdict(
        &d,
        "randomness",
        Some("flakehound repro tests/test_dice.py::test_roll --env FLAKEHOUND_PYTEST_RANDOM_SEED="),
    );
}

#[test]
fn hashing() {
    let Some(d) = diagnose("tests/test_hashing.py::test_tags_order", "hashing") else {
        return;
    };
    // The reproduction is a plain pytest command with an odd hash seed.
    assert_verdict(&d, "unordered", Some("PYTHONHASHSEED="));
    let r = d["reproduction"].as_str().unwrap();
    let seed: u64 = r
        .split_whitespace()
        .find_map(|w| w.strip_prefix("PYTHONHASHSEED="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(seed % 2, 1, "{r}");
    assert!(r.ends_with("tests/test_hashing.py::test_tags_order"), "{r}");
}

#[test]
fn time_zone() {
    let Some(d) = diagnose("tests/test_clock.py::test_local_is_utc", "time") else {
        return;
    };
    assert_verdict(&d, "time", Some("TZ=Etc/GMT"));
}

#[test]
fn order() {
    let Some(d) = diagnose("tests/test_order.py::test_a_victim", "order") else {
        return;
    };
    assert_verdict(
        &d,
        "order",
        Some("flakehound polluter tests/test_order.py::test_a_victim"),
    );
}

#[test]
fn parallel_instances() {
    let Some(d) = diagnose(
        "tests/test_shared_file.py::test_export_roundtrip",
        "parallel",
    ) else {
        return;
    };
    assert_verdict(&d, "filesystem", Some("--parallel 4"));
}

#[test]
fn network() {
    let Some(d) = diagnose("tests/test_network.py::test_local_server", "network") else {
        return;
    };
    assert_verdict(&d, "network", Some("unshare -n"));
}

#[test]
fn repetition() {
    let Some(d) = diagnose("tests/test_registry.py::test_register_once", "repetition") else {
        return;
    };
    assert_verdict(&d, "order", Some("--twice"));
}

#[test]
fn a_stable_test_has_nothing_to_diagnose_and_the_diagnosis_is_stored() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let out = flakehound(
        &py,
        &db,
        &[
            "diagnose",
            "tests/test_stable.py::test_sum",
            "--runs",
            "3",
            "--only",
            "hashing,time",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("never failed in"), "{text}");
    // The diagnosis is a note of the test, which `explain` shows.
    let notes = Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", &db)
        .args(["notes", "tests/test_stable.py::test_sum", "--json"])
        .output()
        .unwrap();
    let notes: Value = serde_json::from_slice(&notes.stdout).unwrap();
    assert_eq!(notes[0]["kind"], "diagnosis", "{notes:#}");
    let explain = Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", &db)
        .args(["explain", "tests/test_stable.py::test_sum"])
        .output()
        .unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("diagnosis"), "{explain}");
    // An unknown test is refused with suggestions.
    let out = flakehound(&py, &db, &["diagnose", "test_sum", "--runs", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tests/test_stable.py::test_sum"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn repro_measures_a_rate_under_conditions() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let out = flakehound(
        &py,
        &db,
        &[
            "repro",
            "tests/test_clock.py::test_local_is_utc",
            "--runs",
            "4",
            "--env",
            "TZ=Etc/GMT+12",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a failing test exits 1");
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (m["runs"].as_u64(), m["failures"].as_u64()),
        (Some(4), Some(4)),
        "{m:#}"
    );
    let out = flakehound(
        &py,
        &db,
        &[
            "repro",
            "tests/test_clock.py::test_local_is_utc",
            "--runs",
            "3",
            "--env",
            "TZ=UTC",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("p < 63.2% at 95% confidence after 3 runs"),
        "{text}"
    );
    // --until-fail stops at the first failure.
    let out = flakehound(
        &py,
        &db,
        &[
            "repro",
            "tests/test_dice.py::test_roll",
            "--runs",
            "50",
            "--until-fail",
            "--json",
        ],
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["failures"], 1, "{m:#}");
    assert!(m["runs"].as_u64().unwrap() < 50);
}

#[test]
fn verify_claims_a_fix_and_compares_with_the_stored_rate() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    // Evidence from before the "fix": the test failing under a far time zone, stored by a
    // diagnosis.
    let out = flakehound(
        &py,
        &db,
        &[
            "diagnose",
            "tests/test_clock.py::test_local_is_utc",
            "--runs",
            "3",
            "--only",
            "time",
        ],
    );
    assert!(out.status.success());
    // "After the fix" (UTC): 0 failures until p < 20% holds (14 runs).
    let out = flakehound(
        &py,
        &db,
        &[
            "verify",
            "tests/test_clock.py::test_local_is_utc",
            "--target",
            "0.2",
            "--env",
            "TZ=UTC",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fixed"], true);
    assert_eq!(v["after"]["runs"], 14);
    let verdict = v["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("fixed: 0 failures in 14 runs, p < 19."),
        "{verdict}"
    );
    assert!(verdict.contains("before the fix"), "{verdict}");
    // Not fixed: a failure ends it, exit 1.
    let out = flakehound(
        &py,
        &db,
        &[
            "verify",
            "tests/test_clock.py::test_local_is_utc",
            "--target",
            "0.2",
            "--env",
            "TZ=Etc/GMT-14",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not fixed"));
}
