//! Checks every parser against the shared corpus of real reports (`../shared/corpus`, or
//! `$FLAKEHOUND_CORPUS`): the counts in `expected.json` must match exactly, and every other file
//! must parse or be rejected with a message, never panic.
//!
//! `CORPUS_FILTER=substring` narrows the run while working on one format.

use flakehound_ingest::count_file;
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("FLAKEHOUND_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("expected.json").exists().then_some(dir)
}

#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    #[serde(default)]
    reject: bool,
    tests: Option<u64>,
    passed: Option<u64>,
    failed: Option<u64>,
    errored: Option<u64>,
    skipped: Option<u64>,
}

fn require_corpus() -> Option<PathBuf> {
    let dir = corpus_dir();
    if dir.is_none() {
        assert!(
            std::env::var_os("FLAKEHOUND_REQUIRE_CORPUS").is_none(),
            "corpus not found but FLAKEHOUND_REQUIRE_CORPUS is set"
        );
        eprintln!("warning: ../shared/corpus not found; corpus tests skipped");
    }
    dir
}

#[test]
fn expected_counts_match() {
    let Some(dir) = require_corpus() else { return };
    let expected: Vec<Expected> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let filter = std::env::var("CORPUS_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for e in &expected {
        if !e.file.contains(&filter) {
            continue;
        }
        checked += 1;
        let path = dir.join(&e.file);
        match count_file(&path, None) {
            Ok((info, c)) if e.reject => failures.push(format!(
                "{}: expected reject, parsed as {:?} {:?}",
                e.file, info.format, c
            )),
            Ok((info, c)) => {
                let got = (c.tests, c.passed, c.failed, c.errored, c.skipped);
                let want = (
                    e.tests.unwrap(),
                    e.passed.unwrap(),
                    e.failed.unwrap(),
                    e.errored.unwrap(),
                    e.skipped.unwrap(),
                );
                if got != want {
                    failures.push(format!(
                        "{} ({:?}): got (tests, passed, failed, errored, skipped) {:?}, want {:?}",
                        e.file, info.format, got, want
                    ));
                }
            }
            Err(err) if e.reject => {
                let msg = err.to_string();
                assert!(!msg.is_empty());
            }
            Err(err) => failures.push(format!("{}: expected counts, got error: {err}", e.file)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} corpus files wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if filter.is_empty() {
        assert_eq!(checked, expected.len());
    }
}

#[test]
fn every_other_file_parses_or_is_rejected_cleanly() {
    let Some(dir) = require_corpus() else { return };
    let mut stack = vec![dir.clone()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            seen += 1;
            // Must not panic; an error must say something.
            if let Err(e) = count_file(&path, None) {
                assert!(
                    !e.to_string().trim().is_empty(),
                    "{}: empty error message",
                    path.display()
                );
            }
        }
    }
    assert!(seen > 200, "only {seen} files found");
}
