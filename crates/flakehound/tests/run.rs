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
fn events_json_streams_attempts_and_retries_and_stdout_is_unchanged() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(&py, &["--events-json", "events.jsonl"], &["FH_FLAKY"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // The retry line is still on stdout, and no event is.
    assert!(
        text.contains("flakehound: retry 1/2: 1 failed test"),
        "{text}"
    );
    assert!(!text.contains(r#"{"at":"#), "{text}");
    let raw = std::fs::read_to_string(p.path().join("events.jsonl")).unwrap();
    let ev: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"started"), "{raw}");
    assert_eq!(ev[0]["engine"], "run");
    assert_eq!(ev[0]["planned"], 2);
    assert_eq!(kinds.last(), Some(&"finished"), "{raw}");
    assert_eq!(ev.last().unwrap()["ending"], "completed");
    assert_eq!(
        kinds.iter().filter(|k| **k == "execution-started").count(),
        2
    );
    assert_eq!(kinds.iter().filter(|k| **k == "retry-scheduled").count(), 1);
    let recovered: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"] == "test" && e["result"] == "passed-on-retry")
        .collect();
    assert_eq!(recovered.len(), 1, "{raw}");
    assert_eq!(recovered[0]["test"], "tests/test_app.py::test_flaky");
    assert_eq!(recovered[0]["execution"], 2);
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

// ---- The build status never lies (issue 12) -------------------------------------------------

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_failure_that_is_not_a_tests_keeps_a_flaky_build_red() {
    let Some(py) = pytest_python() else { return };
    // A flaky test passes on retry, but something else failed too: a hook that sets the exit
    // status after the tests (also on the retry), a hook that crashes, a coverage gate that
    // fails the full run only (seen by flakehound's pytest plugin), a non-test exit status.
    for (mode, code, why) in [
        (
            "status1",
            1,
            "retry 1 exited 1 although none of its tests failed",
        ),
        (
            "raise",
            1,
            "a pytest_sessionfinish hook raised RuntimeError",
        ),
        ("cov", 1, "pytest counted 1 failure that is no failed test"),
        (
            "status3",
            3,
            "exit 3 is not pytest's status for failed tests (1)",
        ),
    ] {
        let p = Project::new("wrap-py");
        let out = p
            .run_pytest(&py, &[], &["FH_FLAKY"])
            .env("FH_AFTER", mode)
            .output()
            .unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(code), "{mode}: {text}");
        assert!(
            text.contains("for a reason other than its tests"),
            "{mode}: {text}"
        );
        assert!(text.contains(why), "{mode}: {text}");
        assert_eq!(
            status_of(&p.json(), "tests/test_app.py::test_flaky"),
            "flaky",
            "{mode}: the test itself is still flaky"
        );
    }
}

#[test]
fn retries_under_pytest_cov_skip_the_coverage_gate() {
    let Some(py) = pytest_python() else { return };
    // The full run meets the gate; a retry of one test alone would not, unless --no-cov.
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(&py, &[], &["FH_FLAKY", "FH_FAKE_COV"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        status_of(&p.json(), "tests/test_app.py::test_flaky"),
        "flaky"
    );
}

#[test]
fn fail_on_flaky_names_the_flaky_tests() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(&py, &["--fail-on-flaky"], &["FH_FLAKY"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "--fail-on-flaky: 1 test passed only on retry: tests/test_app.py::test_flaky"
        ),
        "{text}"
    );
    assert!(!text.contains("without a failed test"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_command_that_cannot_be_executed_is_126_and_a_missing_one_127() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new("wrap-py");
    // `pytest` (a runner flakehound knows) and `check.sh` (one it does not), not executable.
    for name in ["pytest", "check.sh"] {
        let path = p.path().join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = p
            .flakehound()
            .args(["run", "--"])
            .arg(format!("./{name}"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(126),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    for name in ["./pytest-missing", "./missing.sh"] {
        let out = p.flakehound().args(["run", "--", name]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(127),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn an_unusable_tmpdir_falls_back_to_the_runners_own_status() {
    let Some(py) = pytest_python() else { return };
    // TMPDIR names a file: no scratch directory can be made there.
    for (switch, expected) in [("FH_NOTHING", 0), ("FH_BUG", 1)] {
        let p = Project::new("wrap-py");
        let file = p.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let out = p
            .run_pytest(&py, &[], &[switch])
            .env("TMPDIR", &file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{switch}: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains("scratch directory"),
            "{}",
            stderr(&out)
        );
    }
}

/// A tmpfs of 64 KiB, filled up, for as long as it lives (root only: `mount` needs it).
struct FullFs {
    dir: tempfile::TempDir,
}

impl FullFs {
    fn new() -> Option<FullFs> {
        let fs = FullFs::with_size("64k")?;
        // Fill it: writes fail with "No space left on device" from here on.
        let _ = std::fs::write(fs.dir.path().join("fill"), vec![0u8; 256 * 1024]);
        Some(fs)
    }

    /// An empty tmpfs of `size`.
    fn with_size(size: &str) -> Option<FullFs> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipping: cannot mount a tmpfs (not root?)");
            return None;
        }
        Some(FullFs { dir })
    }
}

impl Drop for FullFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_tmpdir_falls_back_to_the_runners_own_status() {
    let Some(py) = pytest_python() else { return };
    let Some(full) = FullFs::new() else { return };
    for (switch, expected) in [("FH_NOTHING", 0), ("FH_BUG", 1)] {
        let p = Project::new("wrap-py");
        let out = p
            .run_pytest(&py, &[], &[switch])
            .env("TMPDIR", full.dir.path())
            .output()
            .unwrap();
        let text = stdout(&out) + &stderr(&out);
        assert_eq!(out.status.code(), Some(expected), "{switch}: {text}");
        assert!(text.contains("scratch"), "{text}");
    }
    // cargo test, whose report is its captured output.
    let p = Project::new("wrap-rs");
    let out = p
        .flakehound()
        .env("CARGO_TARGET_DIR", cargo_target())
        .env("TMPDIR", full.dir.path())
        .args(["run", "--", "cargo", "test", "-q", "--lib"])
        .output()
        .unwrap();
    let text = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[test]
fn a_tmpdir_that_fills_up_during_the_run_falls_back_to_the_runners_own_status() {
    let Some(py) = pytest_python() else { return };
    let Some(fs) = FullFs::with_size("4m") else {
        return;
    };
    // The scratch probe passes, then a test fills the filesystem: pytest cannot write the
    // report flakehound asked for and fails (exit 1), although every test passed.
    let p = Project::new("wrap-hang");
    let out = p
        .flakehound()
        .env("TMPDIR", fs.dir.path())
        .env("FH_FILL", fs.dir.path().join("fill"))
        .args(["run", "--json-out", "run.json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .arg("tests")
        .output()
        .unwrap();
    let text = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("running the command again unchanged for its own status"),
        "{text}"
    );
}

/// `flakehound run` on the hanging fixture, started in the background; returns the child and
/// the pids (pytest, its grandchild) once the hanging test has started.
struct Hanging {
    project: Project,
    tmp: tempfile::TempDir,
    child: std::process::Child,
    pids: Vec<u32>,
}

impl Hanging {
    fn start(py: &Path, options: &[&str]) -> Hanging {
        let project = Project::new("wrap-hang");
        let tmp = tempfile::tempdir().unwrap();
        let started = project.path().join("started");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"))
            .current_dir(project.path())
            .env("FLAKEHOUND_DB", project.db())
            .env("TMPDIR", tmp.path())
            .env("FH_STARTED", &started)
            // Far beyond any timeout or wait in these tests.
            .env("FH_SLEEP", "300")
            .env("FLAKEHOUND_KILL_GRACE", "5s")
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .arg("run")
            .args(options)
            .args(["--json-out", "run.json", "--"])
            .arg(py)
            .args(QUIET_PYTEST)
            .arg("tests")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the condition (the test runs), not for an amount of time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !started.exists() {
            // Or the command ended first: a timeout shorter than pytest's start on a loaded
            // machine stops it before the test begins (what `finish` then checks still holds).
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the test never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pids = std::fs::read_to_string(&started)
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        Hanging {
            project,
            tmp,
            child,
            pids,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for flakehound; asserts it left no process and no scratch directory behind.
    fn finish(self) -> (Option<i32>, String, Project) {
        let out = self.child.wait_with_output().unwrap();
        for pid in &self.pids {
            let stat = Path::new("/proc").join(pid.to_string()).join("stat");
            // A killed orphan is reaped by init at its own pace: wait for that condition.
            let mut gone = false;
            for _ in 0..500 {
                gone = std::fs::read_to_string(&stat)
                    .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"));
                if gone {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert!(gone, "process {pid} was left running");
        }
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "scratch left behind: {left:?}");
        let text = stdout(&out) + &stderr(&out);
        (out.status.code(), text, self.project)
    }
}

#[cfg(unix)]
#[test]
fn sigterm_and_sigint_stop_the_whole_command_and_exit_128_plus_the_signal() {
    let Some(py) = pytest_python() else { return };
    for (sig, code) in [("TERM", 143), ("INT", 130)] {
        let h = Hanging::start(&py, &[]);
        h.signal(sig);
        let (status, text, p) = h.finish();
        assert_eq!(status, Some(code), "SIG{sig}: {text}");
        assert!(text.contains(&format!("interrupted by SIG{sig}")), "{text}");
        // The partial result is written out, without a record for the interrupted test.
        let run = p.json();
        assert_eq!(run["exit"], code, "SIG{sig}");
        for t in run["tests"].as_array().unwrap() {
            assert_ne!(t["case"]["name"], "", "SIG{sig}: {run:#}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_hung_command_is_stopped_at_its_timeout() {
    let Some(py) = pytest_python() else { return };
    for option in ["--attempt-timeout", "--timeout"] {
        let h = Hanging::start(&py, &[option, "1s"]);
        let (status, text, p) = h.finish();
        assert_eq!(status, Some(143), "{option}: {text}");
        assert!(
            text.contains("timed out after") && text.contains(&format!("({option})")),
            "{option}: {text}"
        );
        assert_eq!(p.json()["exit"], 143);
    }
}

// ---- Settings: flag > environment > .flakehound/config.toml > default (issue 11) -------------

#[test]
fn run_settings_come_from_flags_environment_and_config() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    std::fs::create_dir_all(p.path().join(".flakehound")).unwrap();
    std::fs::write(
        p.path().join(".flakehound/config.toml"),
        "[quarantine]\nauto = false\n\n[run]\nretries = 0\nretires = 3\n",
    )
    .unwrap();
    // `git init` so that the project is its own repository root.
    let _ = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(p.path())
        .status();
    let code = |options: &[&str], env: Option<&str>| {
        let _ = std::fs::remove_file(p.path().join("counter"));
        let mut cmd = p.run_pytest(&py, options, &["FH_FLAKY"]);
        match env {
            Some(v) => cmd.env("FLAKEHOUND_RETRIES", v),
            None => cmd.env_remove("FLAKEHOUND_RETRIES"),
        };
        let out = cmd.output().unwrap();
        (out.status.code(), stdout(&out) + &stderr(&out))
    };
    // The config says no retries: the flaky failure stands. Its typo is reported with its line.
    let (status, text) = code(&[], None);
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.contains(".flakehound/config.toml:6:11: unknown key `retires` in [run]"),
        "{text}"
    );
    // The environment overrides the config...
    assert_eq!(code(&[], Some("1")).0, Some(0));
    // ...and the flag overrides both.
    assert_eq!(code(&["--retries", "0"], Some("1")).0, Some(1));
}

#[test]
fn only_rerun_retries_matching_failures_and_retry_delay_waits() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let out = p
        .run_pytest(
            &py,
            &["--only-rerun", "flaky: first", "--retry-delay", "10ms"],
            &["FH_FLAKY", "FH_BUG"],
        )
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let run = p.json();
    assert_eq!(status_of(&run, "tests/test_app.py::test_flaky"), "flaky");
    assert_eq!(status_of(&run, "tests/test_app.py::test_bug"), "failed");
    assert_eq!(run["invocations"], 2, "{text}");
    assert!(
        text.contains("flakehound: retry 1/2: 1 failed test"),
        "{text}"
    );
    assert!(text.contains("waiting 10ms before retry 1"), "{text}");
    assert!(text.contains("1 failed test was not retried"), "{text}");
}

// ---- pytest plugins underneath (issue 11) ---------------------------------------------------

/// A stand-in distribution `pytest-randomly` 9.9.9 (entry point `randomly`, seed 4242 unless
/// `--randomly-seed` says otherwise) in `dir`, to put on PYTHONPATH.
fn fake_randomly(dir: &Path) {
    let info = dir.join("fake_randomly-9.9.9.dist-info");
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(
        dir.join("fake_randomly.py"),
        "def pytest_addoption(parser):\n    parser.addoption('--randomly-seed', dest='randomly_seed', type=int, default=None)\n\n\
         def pytest_configure(config):\n    if config.option.randomly_seed is None:\n        config.option.randomly_seed = 4242\n",
    )
    .unwrap();
    std::fs::write(
        info.join("METADATA"),
        "Metadata-Version: 2.1\nName: pytest-randomly\nVersion: 9.9.9\n",
    )
    .unwrap();
    std::fs::write(
        info.join("entry_points.txt"),
        "[pytest11]\nrandomly = fake_randomly\n",
    )
    .unwrap();
}

#[test]
fn rerunfailures_reruns_count_as_failed_attempts_and_randomly_seed_is_noted() {
    let Some(py) = pytest_python() else { return };
    let p = Project::new("wrap-py");
    let site = p.path().join("site");
    fake_randomly(&site);
    // The flaky test fails, pytest-rerunfailures reruns it and it passes: pytest exits 0 and its
    // JUnit report shows a pass. flakehound still sees the failed attempt.
    let out = p
        .run_pytest(&py, &[], &["FH_FLAKY", "FH_RERUNS"])
        .env("PYTHONPATH", &site)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let run = p.json();
    assert_eq!(status_of(&run, "tests/test_app.py::test_flaky"), "flaky");
    assert_eq!(status_of(&run, "tests/test_app.py::test_ok"), "passed");
    assert_eq!(run["invocations"], 1);
    assert!(
        text.contains("pytest-rerunfailures is active: its 1 rerun is counted as failed attempts"),
        "{text}"
    );
    assert!(text.contains("--randomly-seed=4242"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_second_signal_kills_a_command_that_ignores_the_first() {
    let p = Project::new("wrap-py");
    let started = p.path().join("started");
    // Ignores SIGTERM and SIGINT (inherited by the sleep, 300 s: far beyond this test's waits).
    let script = "trap '' TERM INT; echo $$ > started.tmp && mv started.tmp started; sleep 300";
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"))
        .current_dir(p.path())
        .env("FLAKEHOUND_DB", p.db())
        .args(["run", "--report", "none.xml", "--", "sh", "-c", script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
    };
    // Two different signals: two of the same could merge into one while pending.
    kill("-TERM");
    kill("-INT");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline + std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("flakehound did not end after a second signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(matches!(status.code(), Some(130) | Some(143)), "{status:?}");
}
