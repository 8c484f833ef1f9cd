//! `flakehound run` against real pytest and real cargo on fixture projects whose failures are
//! switched on by environment variables (FH_FLAKY: fails on the first attempt only, through a
//! counter file; FH_BUG: a real bug; FH_QBUG: a failing quarantined test).
//!
//! pytest comes from the venv `scripts/test-venv.sh` creates (`FLAKEHOUND_TEST_PYTHON`, or
//! `target/test-venv/bin/python`). Without it these tests skip, unless
//! `FLAKEHOUND_REQUIRE_PYTEST=1` (set by `.ci/run`) makes that a failure.

use assert_cmd::Command;
use flakehound_testkit::{QUIET_PYTEST, copy_to_tempdir, pytest_python, workspace_root};
use std::path::{Path, PathBuf};

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(fixture: &str) -> Project {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        Project {
            dir: copy_to_tempdir(&fixtures.join(fixture)),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("evidence.db")
    }

    /// `flakehound run` in the project, with a clean CI environment.
    fn flakehound(&self) -> Command {
        let mut cmd = Command::cargo_bin("flakehound").unwrap();
        cmd.current_dir(self.path())
            .env("FLAKEHOUND_DB", self.db())
            .env("FH_COUNTER", self.path().join("counter"))
            .env("FLAKEHOUND_TODAY", "2026-11-22")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITLAB_CI")
            .env_remove("CI")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `flakehound run OPTIONS --json-out run.json -- <python> -m pytest -q ... tests` with the
    /// fixture's failure `switches` (`FH_FLAKY`...) on.
    fn run_pytest(&self, py: &Path, options: &[&str], switches: &[&str]) -> Command {
        let mut cmd = self.flakehound();
        cmd.arg("run")
            .args(options)
            .args(["--json-out", "run.json", "--"])
            .arg(py)
            .args(QUIET_PYTEST)
            .arg("tests");
        for s in switches {
            cmd.env(s, "1");
        }
        cmd
    }

    fn quarantine(&self, ids: &[&str]) {
        let mut text = String::from("version = 1\n");
        for id in ids {
            text.push_str(&format!(
                "\n[[test]]\nid = \"{id}\"\nreason = \"known flaky\"\nowner = \"@team/qa\"\nadded = 2026-11-01\nexpires = 2026-11-30\n"
            ));
        }
        std::fs::create_dir_all(self.path().join(".flakehound")).unwrap();
        std::fs::write(self.path().join(".flakehound/quarantine.toml"), text).unwrap();
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path().join("run.json")).unwrap()).unwrap()
    }
}

fn status_of<'a>(run: &'a serde_json::Value, id: &str) -> &'a str {
    run["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["case"]["id"] == id)
        .unwrap_or_else(|| panic!("no test {id} in {run:#}"))["status"]
        .as_str()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn pytest_flaky_test_passes_on_retry_and_is_recorded_as_flaky() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(&py, &["--junit-out", "merged.xml"], &["FH_FLAKY"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let run = p.json();
    assert_eq!(status_of(&run, "tests/test_app.py::test_flaky"), "flaky");
    assert_eq!(status_of(&run, "tests/test_app.py::test_ok"), "passed");
    assert_eq!(
        status_of(&run, "tests/test_app.py::TestGroup::test_member"),
        "passed"
    );
    assert_eq!(run["invocations"], 2, "only one retry was needed");
    assert!(text.contains("1 flaky"), "{text}");
    // Only the failed test was re-run, and pytest collected only it (its node id replaced the
    // `tests` path on the command line, so nothing had to be deselected).
    let retry = text
        .split("flakehound: retry 1/2")
        .nth(1)
        .unwrap_or_default();
    assert!(retry.contains("1 passed in"), "{retry}");
    assert!(!retry.contains("deselected"), "{retry}");
    let merged = std::fs::read_to_string(p.path().join("merged.xml")).unwrap();
    assert!(merged.contains("<flakyFailure"), "{merged}");
    // Recorded: one run, the flaky test failed then passed within it.
    let report = Command::cargo_bin("flakehound")
        .unwrap()
        .args(["--db"])
        .arg(p.db())
        .args(["report", "--all", "--json"])
        .output()
        .unwrap();
    let entries: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let flaky = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "tests/test_app.py::test_flaky")
        .expect("flaky test recorded");
    assert_eq!(flaky["retry_passes"], 1, "{flaky:#}");
    assert_eq!(flaky["failures"], 1);
    assert_eq!(flaky["passes"], 1);
}

#[test]
fn pytest_real_failure_keeps_the_build_red() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(&py, &["--retries", "2"], &["FH_BUG", "FH_FLAKY"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "pytest's own exit status: {text}"
    );
    let run = p.json();
    assert_eq!(status_of(&run, "tests/test_app.py::test_bug"), "failed");
    assert_eq!(status_of(&run, "tests/test_app.py::test_flaky"), "flaky");
    assert_eq!(run["invocations"], 3, "the bug was retried twice");
    assert!(text.contains("tests/test_app.py::test_bug"), "{text}");
    // The runner's own command for the real failure, ready to paste.
    let rerun = format!(
        "re-run them: {} -m pytest -q -p no:cacheprovider tests/test_app.py::test_bug",
        py.display()
    );
    assert!(text.contains(&rerun), "{text}");
    assert_eq!(run["rerun"].as_str(), rerun.strip_prefix("re-run them: "));
}

#[test]
fn pytest_quarantined_failure_passes_with_a_reminder() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    p.quarantine(&["tests/test_app.py::test_quarantined"]);
    let out = p.run_pytest(&py, &[], &["FH_QBUG"]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let run = p.json();
    assert_eq!(
        status_of(&run, "tests/test_app.py::test_quarantined"),
        "quarantined"
    );
    assert_eq!(run["invocations"], 1, "quarantined tests are not retried");
    assert_eq!(run["quarantine_total"], 1);
    assert!(text.contains("quarantined"), "{text}");
    // The same failure without the quarantine fails the build.
    std::fs::remove_file(p.path().join(".flakehound/quarantine.toml")).unwrap();
    let out = p.run_pytest(&py, &[], &["FH_QBUG"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn expired_quarantine_still_protects_and_every_run_says_so() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    p.quarantine(&["tests/test_app.py::test_quarantined"]);
    let out = p
        .run_pytest(&py, &[], &["FH_QBUG"])
        .env("FLAKEHOUND_TODAY", "2026-12-15")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[EXPIRED]"), "{text}");
    assert!(
        text.contains("1 past expiry") && text.contains("tests/test_app.py::test_quarantined"),
        "{text}"
    );
    assert_eq!(
        p.json()["quarantine_expired"][0],
        "tests/test_app.py::test_quarantined"
    );
}

#[test]
fn broken_store_leaves_the_runner_status_unchanged() {
    let Some(py) = pytest_python() else { return };
    for (env, expected) in [("FH_BUG", 1), ("FH_NOTHING", 0)] {
        let p = Project::new("wrap-py");
        // Not a database: every store operation fails.
        std::fs::write(p.db(), b"this is not a sqlite database, not at all........").unwrap();
        let out = p.run_pytest(&py, &[], &[env]).output().unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(expected), "{env}: {text}");
        assert!(text.contains("not recorded"), "{text}");
    }
}

#[test]
fn missing_report_keeps_the_runner_status() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    // A usage error: pytest exits 4 and writes no report.
    let out = p
        .flakehound()
        .args(["run", "--"])
        .arg(&py)
        .args(["-m", "pytest", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("keeping the runner's exit status 4"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unknown_command_without_report_runs_unchanged() {
    let p = Project::new("wrap-py");
    for code in [0, 3] {
        let out = p
            .flakehound()
            .args(["run", "--", "sh", "-c"])
            .arg(format!("exit {code}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unchanged"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn github_actions_outputs() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let summary = p.path().join("step-summary.md");
    let out = p
        .run_pytest(&py, &[], &["FH_BUG", "FH_FLAKY"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let error = text
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no ::error annotation in {text}"));
    assert!(error.contains("file=tests/test_app.py"), "{error}");
    // The failing assertion's line, not the `def` line.
    assert!(error.contains("line=31,"), "{error}");
    assert!(text.lines().any(|l| l.starts_with("::warning ")), "{text}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("test_bug"), "{md}");
    assert!(md.contains("Flaky"), "{md}");
}

/// Builds of the Rust fixture share one target directory across tests and runs.
fn cargo_target() -> PathBuf {
    workspace_root().join("target/fixture-target")
}

#[test]
fn cargo_test_flaky_passes_and_real_bug_fails() {
    let p = Project::new("wrap-rs");
    let run = |env: &[&str]| {
        let _ = std::fs::remove_file(p.path().join("counter"));
        let mut cmd = p.flakehound();
        cmd.env("CARGO_TARGET_DIR", cargo_target()).args([
            "run",
            "--json-out",
            "run.json",
            "--",
            "cargo",
            "test",
            "-q",
        ]);
        for e in env {
            cmd.env(e, "1");
        }
        let out = cmd.output().unwrap();
        (out.status.code(), stdout(&out), p.json())
    };
    let (code, text, json) = run(&["FH_FLAKY"]);
    assert_eq!(code, Some(0), "{text}");
    let flaky = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["case"]["name"].as_str().unwrap_or("").ends_with("flaky"))
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(flaky["status"], "flaky", "{json:#}");
    let (code, text, json) = run(&["FH_BUG"]);
    assert_eq!(code, Some(101), "cargo's own exit status: {text}");
    assert_eq!(json["invocations"], 3);
    assert!(
        text.contains("re-run them: cargo test -q --lib -- --exact tests::bug"),
        "{text}"
    );
}
