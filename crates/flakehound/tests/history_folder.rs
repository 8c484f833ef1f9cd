//! A folder of downloaded CI reports without any metadata (no timestamps, no host names, no CI
//! variables) must ingest as one run per report, and the report must then find what was
//! planted: the flaky tests, the bugs, the outages. Before run identity was decided per report,
//! the whole folder became one run with N attempts of every test, tagged with the checkout's
//! commit, and the report found almost nothing.

use assert_cmd::Command;
use flakehound_synth::{Config, History, Truth, generate, write_junit_bare};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn flakehound(dir: &Path) -> Command {
    flakehound_testkit::flakehound_in(dir)
}

fn json(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out));
    })
}

fn history() -> History {
    // Twice the small history's commits: enough runs for verdicts that have no commits to go
    // by, only the order of the reports.
    generate(&Config {
        commits: 60,
        ..Config::small(3)
    })
}

/// Verdict per test id from `report --json`.
fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_folder_of_bare_reports_is_one_run_per_report_and_the_report_finds_the_planted_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let h = history();
    write_junit_bare(&h, &tmp.path().join("artifacts"), None).unwrap();
    let n = h.runs.len();

    let summary = json(flakehound(tmp.path()).args(["ingest", "--json", "artifacts"]));
    assert_eq!(
        summary["runs_created"], n as u64,
        "{:#}",
        summary["decision"]
    );
    let decision = &summary["decision"];
    assert_eq!(decision["rule"], "auto");
    assert_eq!(decision["runs"], n as u64);
    assert!(
        decision["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{n} files → {n} runs (one run per file")),
        "{decision:#}"
    );
    // No checkout here, and nothing from this machine is pinned on other machines' reports.
    assert_eq!(decision["commit"], Value::Null);
    assert_eq!(decision["runner"], Value::Null);

    // The human summary says the same in one line.
    let out = flakehound(tmp.path())
        .args(["ingest", "artifacts"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(&format!(
            "{n} files → {n} runs (one run per file: they hold the same tests again"
        )),
        "{text}"
    );

    let report = json(flakehound(tmp.path()).args(["report", "--json"]));
    let got = verdicts(&report);
    let mut missed = Vec::new();
    let mut flaky_found = 0;
    let mut flaky_planted = 0;
    for (id, truth) in &h.truth {
        let verdict = got.get(id).map(String::as_str).unwrap_or("stable");
        match truth {
            Truth::Broken { .. } | Truth::Fixed { .. } | Truth::Regression { .. }
                if verdict != truth.verdict() =>
            {
                missed.push(format!("{id}: planted {truth}, reported {verdict}"));
            }
            Truth::Flaky { .. } => {
                flaky_planted += 1;
                // Runner-, OS- and hour-bound tests need metadata these files do not carry;
                // every flaky test must at least be reported as not stable.
                if verdict == "flaky" {
                    flaky_found += 1;
                } else if verdict == "stable" {
                    missed.push(format!("{id}: planted {truth}, reported stable"));
                }
            }
            Truth::Stable if verdict != "stable" && verdict != "infra" => {
                missed.push(format!("{id}: stable, reported {verdict}"));
            }
            _ => {}
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
    assert!(
        flaky_found * 10 >= flaky_planted * 8,
        "only {flaky_found} of {flaky_planted} flaky tests reported flaky: {got:#?}"
    );

    let incidents = json(flakehound(tmp.path()).args(["incidents", "--json"]));
    assert_eq!(
        incidents.as_array().unwrap().len(),
        h.incidents.len(),
        "{incidents:#}"
    );
}

#[test]
fn one_run_for_all_is_still_available_by_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let h = generate(&Config::small(4));
    write_junit_bare(&h, &tmp.path().join("artifacts"), None).unwrap();
    let summary =
        json(flakehound(tmp.path()).args(["ingest", "--json", "--run-per", "one", "artifacts"]));
    assert_eq!(summary["runs_created"], 1);
    assert_eq!(summary["decision"]["rule"], "one");
    let other = tempfile::tempdir().unwrap();
    let per_dir = json(
        flakehound(other.path())
            .args(["ingest", "--json", "--run-per", "dir"])
            .arg(tmp.path().join("artifacts")),
    );
    assert_eq!(per_dir["runs_created"], 1);
}
