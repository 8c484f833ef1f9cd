//! `flakehound report`: its closing count line in every case, never-run tests, `--fail-on`, and
//! local experiments kept out of the CI cost.

use assert_cmd::Command;
use flakehound_testkit::{QUIET_PYTEST, pytest_python};
use std::path::Path;

fn fh(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env("FLAKEHOUND_DB", dir.join("x.db"))
        .env("COLUMNS", "200")
        .args(["--color", "never"]);
    c
}

/// One CI run per entry of `runs`; each entry lists `(test name, outcome)` with outcome one of
/// `pass`, `fail`, `skip`.
fn ingest(dir: &Path, runs: &[&[(&str, &str)]]) {
    for (i, cases) in runs.iter().enumerate() {
        let body: String = cases
            .iter()
            .map(|(name, outcome)| {
                let inner = match *outcome {
                    "fail" => r#"<failure message="boom">trace</failure>"#,
                    "skip" => r#"<skipped message="no gpu"/>"#,
                    _ => "",
                };
                format!(r#"<testcase classname="m" name="{name}" time="0.1">{inner}</testcase>"#)
            })
            .collect();
        let run = dir.join(format!("run{i}"));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("r.xml"),
            format!(r#"<testsuite name="s">{body}</testsuite>"#),
        )
        .unwrap();
        fh(dir)
            .args(["ingest", "--quiet", "--run-id", &i.to_string()])
            .args(["--commit", &format!("c{i}")])
            .args(["--timestamp", &format!("2026-11-{:02}T10:00:00Z", i + 1)])
            .arg(&run)
            .assert()
            .success();
    }
}

/// The closing count line of a human report.
fn last_line(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("non-stable tests") || l.starts_with("No unstable tests"))
        .unwrap_or_else(|| panic!("no count line in:\n{text}"))
        .to_string()
}

#[test]
fn printed_commands_run_as_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let runs: Vec<Vec<(&str, &str)>> = (0..4)
        .map(|i| {
            vec![
                ("ok", "pass"),
                ("it's flaky", if i % 2 == 0 { "fail" } else { "pass" }),
            ]
        })
        .collect();
    let runs: Vec<&[(&str, &str)]> = runs.iter().map(Vec::as_slice).collect();
    ingest(dir, &runs);
    // A store given by --db (not the default) must be named in the commands.
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(dir)
        .env_remove("FLAKEHOUND_DB")
        .args(["--color", "never", "--db"])
        .arg(dir.join("x.db"))
        .arg("report")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.ends_with("Why, and the evidence, for the first one:"))
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(commands.len(), 2, "{text}");
    for (c, expect) in commands.iter().zip(["Verdict: FLAKY", "Timeline"]) {
        let run = std::process::Command::new("sh")
            .arg("-c")
            .arg(c)
            .current_dir(dir)
            .env_remove("FLAKEHOUND_DB")
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success() && got.contains(expect) && got.contains("m::it's flaky"),
            "{c}\n{got}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[test]
fn no_unstable_test_is_said_so_and_a_skipped_test_is_not_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run: &[(&str, &str)] = &[("a", "pass"), ("b", "pass"), ("gpu", "skip")];
    ingest(dir, &[run, run, run]);
    let out = fh(dir).arg("report").output().unwrap();
    assert!(out.status.success());
    assert_eq!(last_line(&out), "No unstable tests among 3 tests.");

    let out = fh(dir).args(["report", "--all"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("No unstable tests among 3 tests. Also listed: 2 stable, 1 never run"),
        "{text}"
    );
    let gpu = text.lines().find(|l| l.contains("m::gpu")).unwrap();
    assert!(gpu.contains("not-run"), "{gpu}");

    let json: serde_json::Value = serde_json::from_slice(
        &fh(dir)
            .args(["report", "--all", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let verdict = |id: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["verdict"]
            .clone()
    };
    assert_eq!(verdict("m::gpu"), "not-run");
    assert_eq!(verdict("m::a"), "stable");
}

#[test]
fn counts_are_right_with_all_and_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let runs: Vec<Vec<(&str, &str)>> = (0..6)
        .map(|i| {
            vec![
                ("ok", "pass"),
                ("flaky", if i % 2 == 0 { "fail" } else { "pass" }),
                ("broken", "fail"),
            ]
        })
        .collect();
    let runs: Vec<&[(&str, &str)]> = runs.iter().map(Vec::as_slice).collect();
    ingest(dir, &runs);
    let line = |args: &[&str]| last_line(&fh(dir).arg("report").args(args).output().unwrap());
    assert!(line(&[]).starts_with("2 non-stable tests, most costly first."));
    assert!(line(&["--limit", "1"]).starts_with("1 of 2 non-stable tests shown"));
    assert!(
        line(&["--all"])
            .starts_with("2 non-stable tests, most costly first. Also listed: 1 stable."),
        "{}",
        line(&["--all"])
    );
    assert!(
        line(&["--all", "--limit", "2"]).contains("(2 of 3 rows shown)"),
        "{}",
        line(&["--all", "--limit", "2"])
    );
}

#[test]
fn fail_on_exits_1_naming_the_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let runs: Vec<Vec<(&str, &str)>> = (0..6)
        .map(|i| {
            vec![
                ("ok", "pass"),
                ("flaky", if i % 2 == 0 { "fail" } else { "pass" }),
                ("gpu", "skip"),
            ]
        })
        .collect();
    let runs: Vec<&[(&str, &str)]> = runs.iter().map(Vec::as_slice).collect();
    ingest(dir, &runs);
    let out = fh(dir)
        .args(["report", "--limit", "0", "--fail-on", "broken,flaky"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--fail-on matched 1 test:") && err.contains("m::flaky (flaky)"),
        "every test is judged, not only the --limit shown: {err}"
    );
    let out = fh(dir)
        .args(["report", "--fail-on", "not-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("m::gpu (not-run)"));
    let out = fh(dir)
        .args(["report", "--fail-on", "broken,regression"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = fh(dir)
        .args(["report", "--fail-on", "wobbly"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error, not a match");
}

#[test]
fn hunt_executions_are_evidence_not_ci_cost() {
    let Some(py) = pytest_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.db");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt-py");
    Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(&fixture)
        .env("FLAKEHOUND_DB", &db)
        .args([
            "hunt",
            "--runs",
            "2",
            "--workers",
            "1",
            "--seed",
            "7",
            "test_always_broken",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .assert()
        .success();
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", &db)
        .args(["report", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &json[0];
    assert_eq!(e["verdict"], "broken", "{e:#}");
    assert_eq!(
        e["impact"]["broken_builds"], 0,
        "a hunt is no red build: {e:#}"
    );
    assert_eq!(e["impact"]["ci_minutes"], 0.0);
    let runs = e["experiments"]["runs"].as_u64().unwrap();
    assert!(runs >= 2, "{e:#}");
    assert_eq!(e["experiments"]["failed_runs"].as_u64(), Some(runs));

    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", &db)
        .args([
            "--color",
            "never",
            "classify",
            "tests/test_a_victim.py::test_always_broken",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Impact: 0 red build(s)"), "{text}");
    assert!(
        text.contains(&format!(
            "Local experiments (hunt, diagnose, repro, verify): failed {runs} of {runs} runs"
        )),
        "{text}"
    );
}
