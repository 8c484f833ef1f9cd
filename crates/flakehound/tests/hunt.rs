//! `flakehound hunt` against real pytest on a fixture whose every kind of flakiness is
//! deterministic for a given `--seed` (`tests/fixtures/hunt-py`): an order victim and its
//! polluter, a non-idempotent test, a test that fails for odd `PYTHONHASHSEED`s, a broken test,
//! and stable tests.

use assert_cmd::Command;
use flakehound_testkit::{
    QUIET_PYTEST, copy_dir, go_available, pytest_python, success_json, workspace_root,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt-py")
}

fn hunt(py: &Path, db: &Path, args: &[&str]) -> Value {
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", db)
        .arg("hunt")
        .args(args)
        .args(["--json", "--"])
        .arg(py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    success_json(&out)
}

/// `flakehound report --all --json` of the store `db`.
fn report(db: &Path) -> Value {
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", db)
        .args(["report", "--all", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn finding<'a>(h: &'a Value, id: &str) -> &'a Value {
    h["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding for {id} in {h:#}"))
}

#[test]
fn classifies_every_kind_and_records_the_evidence() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    let h = hunt(&py, &db, &["--runs", "8", "--workers", "1", "--seed", "7"]);
    let class = |id: &str| finding(&h, id)["class"].as_str().unwrap().to_string();
    assert_eq!(h["tests"], 11);
    assert_eq!(h["seed"], 7);
    for (id, expected) in [
        ("tests/test_a_victim.py::test_always_broken", "broken"),
        (
            "tests/test_a_victim.py::test_prices_in_euros",
            "order-dependent",
        ),
        (
            "tests/test_a_victim.py::test_register_once",
            "non-idempotent",
        ),
        ("tests/test_a_victim.py::test_hash_seed_parity", "flaky"),
        ("tests/test_z_polluter.py::test_switches_currency", "stable"),
        ("tests/test_m_stable.py::test_strings", "stable"),
        ("tests/test_m_stable.py::test_square[3]", "stable"),
    ] {
        assert_eq!(class(id), expected, "{id}");
    }
    let victim = finding(&h, "tests/test_a_victim.py::test_prices_in_euros");
    assert!(
        victim["detail"].as_str().unwrap().starts_with("victim"),
        "{victim:#}"
    );
    assert!(
        victim["failing_order"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "tests/test_z_polluter.py::test_switches_currency"),
        "the failing order holds the polluter: {victim:#}"
    );
    let parity = finding(&h, "tests/test_a_victim.py::test_hash_seed_parity");
    assert!(
        parity["detail"].as_str().unwrap().contains("isolation"),
        "{parity:#}"
    );
    // Failing hash seeds are odd: the recorded seeds are the ones the processes got.
    for s in parity["failing_hash_seeds"].as_array().unwrap() {
        assert_eq!(s.as_u64().unwrap() % 2, 1, "{parity:#}");
    }
    // A stable test states how rarely it can fail, at most.
    for id in [
        "tests/test_z_polluter.py::test_switches_currency",
        "tests/test_m_stable.py::test_strings",
        "tests/test_m_stable.py::test_square[3]",
    ] {
        let claim = finding(&h, id)["claim"].as_str().unwrap().to_string();
        assert!(
            claim.starts_with("p < ") && claim.contains("at 95% confidence"),
            "{claim}"
        );
    }

    // Every execution is evidence: the store's verdicts see the hunt's runs.
    let entries = report(&db);
    let runs = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "tests/test_m_stable.py::test_strings")
        .unwrap()["runs"]
        .as_u64()
        .unwrap();
    // One stored run per execution that ran it: every round, plus replays that included it.
    assert!(
        runs >= 8 && runs <= h["executions"].as_u64().unwrap(),
        "{runs} runs stored, {} executions",
        h["executions"]
    );
}

/// Issue 13: in a parallel hunt, a non-idempotent test was labelled plain flaky (one repeat
/// round in the budget, and first runs beside other executions). One repeat round that shows
/// "passed, then failed in the same process" now asks the idempotence check (alone, repeated,
/// nothing beside it), which names it.
#[test]
fn a_parallel_hunt_names_a_non_idempotent_test_from_one_repeat_round() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let h = hunt(
        &py,
        &dir.path().join("hunt.db"),
        &["--runs", "4", "--workers", "2", "--seed", "7"],
    );
    let f = finding(&h, "tests/test_a_victim.py::test_register_once");
    assert_eq!(f["class"], "non-idempotent", "{f:#}");
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("repeated runs alone, with nothing beside it"),
        "{detail}"
    );
    assert_eq!(f["observations"]["idem_runs"], 3, "{f:#}");
}

#[test]
fn the_same_seed_replays_the_same_hunt() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--runs",
        "3",
        "--workers",
        "1",
        "--seed",
        "42",
        "--no-record",
    ];
    let a = hunt(&py, &dir.path().join("a.db"), &args);
    let b = hunt(&py, &dir.path().join("b.db"), &args);
    let strip = |h: &Value| {
        h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].clone(),
                    f["class"].clone(),
                    f["runs"].clone(),
                    f["failures"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    assert!(
        !dir.path().join("a.db").exists(),
        "--no-record writes no store"
    );
}

#[test]
fn shards_split_the_suite_and_filters_narrow_it() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let h = hunt(
            &py,
            &dir.path().join(format!("shard-{k}.db")),
            &["--runs", "1", "--workers", "2", "--shard", &shard],
        );
        for f in h["findings"].as_array().unwrap() {
            ids.push(f["id"].as_str().unwrap().to_string());
        }
    }
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "no test in two shards");
    assert_eq!(ids.len(), 11, "the shards cover the suite");
    // The shards' stores merge into one holding every test.
    let merged = dir.path().join("merged.db");
    Command::cargo_bin("flakehound")
        .unwrap()
        .env("FLAKEHOUND_DB", &merged)
        .arg("merge")
        .args((1..=3).map(|k| dir.path().join(format!("shard-{k}.db"))))
        .assert()
        .success();
    let entries = report(&merged);
    assert_eq!(entries.as_array().unwrap().len(), 11);
    let h = hunt(
        &py,
        &dir.path().join("f.db"),
        &["--runs", "1", "test_square"],
    );
    assert_eq!(h["tests"], 5);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_keeps_the_results() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A one-test project whose test leaves a line per run: with one worker, a second line means
    // the first execution is complete (no fixed sleep racing a busy machine's listing).
    let project = dir.path().join("proj");
    std::fs::create_dir_all(project.join("tests")).unwrap();
    std::fs::write(
        project.join("tests/test_m_stable.py"),
        "def test_stable():\n    with open('ran', 'a') as f:\n        f.write('x\\n')\n",
    )
    .unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"))
        .current_dir(&project)
        .env("FLAKEHOUND_DB", dir.path().join("c.db"))
        .args(["hunt", "--budget", "120s", "--workers", "1", "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .arg("tests/test_m_stable.py")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(100);
    while std::fs::read_to_string(project.join("ran"))
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no execution finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGINT to flakehound only: what a terminal's Ctrl-C does to it.
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed().as_secs() < 20, "stopped promptly");
    // The partial result is printed, and the exit says it is partial: 130, as a shell reports
    // a command ended by SIGINT.
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["stopped"], "interrupted");
    assert!(h["executions"].as_u64().unwrap() >= 1, "{h:#}");
}

/// Hunts with a counter-controlled flaky test (fails on odd counts): one worker keeps the
/// counter sequence, hence the result, deterministic.
fn hunt_counter_fixture(fixture: &Path, command: &[&str], env: &[(&str, &Path)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(fixture, &dir.path().join("p"));
    let p = dir.path().join("p");
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(&p)
        .env("FLAKEHOUND_DB", dir.path().join("h.db"))
        .env("FH_FLAKY", "1")
        .env("FH_COUNTER", p.join("counter"))
        .env("FLAKEHOUND_FIXTURE_COUNTER", p.join("counter"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args([
            "hunt",
            "--runs",
            "3",
            "--workers",
            "1",
            "--seed",
            "1",
            "--json",
            "--",
        ])
        .args(command)
        .output()
        .unwrap();
    success_json(&out)
}

#[test]
fn hunts_cargo_test_suites() {
    let target = workspace_root().join("target/fixture-target");
    let h = hunt_counter_fixture(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrap-rs"),
        &["cargo", "test"],
        &[("CARGO_TARGET_DIR", &target)],
    );
    assert_eq!(h["runner"], "cargo-test");
    assert_eq!(
        finding(&h, "wrap-rs::tests::flaky")["class"],
        "flaky",
        "{h:#}"
    );
    assert_eq!(finding(&h, "wrap-rs::tests::adds")["class"], "stable");
    assert_eq!(finding(&h, "wrap-rs::tests::bug")["class"], "stable");
    // The detective cannot order libtest's tests: it says so once, plainly.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrap-rs"),
        dir.path(),
    );
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", &target)
        .args(["polluter", "wrap-rs::tests::bug", "--no-record"])
        .args(["--", "cargo", "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().last(),
        Some(
            "flakehound: error: cargo-test cannot run tests in a chosen order (libtest's shuffle is nightly-only)"
        ),
        "{err}"
    );
}

#[test]
fn hunts_go_test_suites() {
    if !go_available() {
        return;
    }
    let h = hunt_counter_fixture(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../flakehound-runner/tests/fixtures/goproj"),
        &["go", "test", "./..."],
        &[],
    );
    assert_eq!(h["runner"], "go");
    assert_eq!(
        finding(&h, "example.com/goproj::TestFlaky")["class"],
        "flaky",
        "{h:#}"
    );
    assert_eq!(
        finding(&h, "example.com/goproj::TestFail")["class"],
        "broken"
    );
    assert_eq!(
        finding(&h, "example.com/goproj::TestPass")["class"],
        "stable"
    );
}

#[test]
fn polluter_takes_the_failing_order_from_the_hunt_and_names_the_polluter() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    hunt(&py, &db, &["--runs", "3", "--workers", "1", "--seed", "7"]);
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", &db)
        .args([
            "polluter",
            "tests/test_a_victim.py::test_prices_in_euros",
            "--json",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("from its latest failing run in the store"),
        "{stderr}"
    );
    let r = success_json(&out);
    assert_eq!(
        r["culprits"],
        serde_json::json!(["tests/test_z_polluter.py::test_switches_currency"]),
        "{r:#}"
    );
    assert!(r["search_runs"].as_u64().unwrap() <= r["run_bound"].as_u64().unwrap());
    let repro = r["reproductions"][0]["command"].as_str().unwrap();
    assert!(
        repro.ends_with(
            "tests/test_z_polluter.py::test_switches_currency tests/test_a_victim.py::test_prices_in_euros"
        ),
        "{repro}"
    );
}

/// The words a POSIX shell makes of `line`.
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "sh cannot parse: {line}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn printed_hints_run_as_printed() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    // `--db` on the command line: the hints must carry it, or they would read another store.
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env_remove("FLAKEHOUND_DB")
        .arg("--db")
        .arg(&db)
        .args(["hunt", "--runs", "3", "--workers", "1", "--seed", "7", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let hint_after = |label: &str| -> Vec<String> {
        lines
            .windows(2)
            .filter(|w| w[0].trim() == label)
            .map(|w| w[1].trim().to_string())
            .collect()
    };
    let polluter = hint_after("find the polluter:");
    let diagnose = hint_after("name the cause:");
    assert_eq!(polluter.len(), 1, "{text}");
    assert!(!diagnose.is_empty(), "{text}");
    for h in polluter.iter().chain(&diagnose) {
        assert!(h.contains(" -- "), "the hint carries the test command: {h}");
    }

    // The polluter line, pasted into a shell as printed, finds the polluter.
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(&polluter[0])
        .current_dir(fixture())
        .env_remove("FLAKEHOUND_DB")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}\n{stdout}\n{}",
        polluter[0],
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("tests/test_z_polluter.py::test_switches_currency"),
        "{stdout}"
    );

    // The diagnose line, split by the shell as printed, is a valid diagnose command of the
    // right test and store. A full diagnosis takes minutes, so `--quick` is added before
    // `--` (stopping at the first explaining experiment); nothing else is changed.
    let hint = diagnose
        .iter()
        .find(|h| h.contains("test_hash_seed_parity"))
        .unwrap_or_else(|| panic!("{text}"));
    let mut words = shell_words(hint);
    assert_eq!(
        words[1..4],
        [
            "--db".to_string(),
            db.display().to_string(),
            "diagnose".into()
        ],
        "{hint}"
    );
    let dashes = words.iter().position(|w| w == "--").unwrap();
    assert_eq!(words[dashes + 1], py.display().to_string(), "{hint}");
    words.insert(dashes, "--quick".into());
    let run = std::process::Command::new(&words[0])
        .args(&words[1..])
        .current_dir(fixture())
        .env_remove("FLAKEHOUND_DB")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("Verdict: unordered"), "{stdout}");
}

#[test]
fn fail_on_exits_1_naming_the_tests_and_0_when_nothing_matches() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |fail_on: &str, filter: &str| {
        Command::cargo_bin("flakehound")
            .unwrap()
            .current_dir(fixture())
            .env("FLAKEHOUND_DB", dir.path().join("f.db"))
            .args(["hunt", "--runs", "3", "--workers", "1", "--seed", "7"])
            .args(["--fail-on", fail_on, filter, "--"])
            .arg(&py)
            .args(QUIET_PYTEST)
            .output()
            .unwrap()
    };
    let out = run("order-dependent,broken", "test_always_broken");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--fail-on matched 1 test:")
            && err.contains("tests/test_a_victim.py::test_always_broken (broken)"),
        "{err}"
    );
    let out = run("flaky", "test_m_stable");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("nonsense", "test_m_stable");
    assert_eq!(out.status.code(), Some(2), "a usage error is not a match");
}

/// Ctrl-C in the middle of a test that would hang for minutes: the hunt ends the running
/// execution (its whole process group), prints the partial result and exits 130 at once.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_a_hung_execution_and_its_children() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p");
    std::fs::create_dir_all(project.join("tests")).unwrap();
    // The test records its pid, starts a grandchild that records its own, and hangs.
    std::fs::write(
        project.join("tests/test_hang.py"),
        r#"import os, subprocess, sys, time

def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["HANG_PIDS"], "a") as f:
        f.write(f"{os.getpid()} {child.pid}\n")
    time.sleep(600)
"#,
    )
    .unwrap();
    let pids = dir.path().join("pids");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"))
        .current_dir(&project)
        .env("FLAKEHOUND_DB", dir.path().join("c.db"))
        .env("HANG_PIDS", &pids)
        .args(["hunt", "--budget", "10m", "--workers", "1", "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the condition (the test is running), however slow the machine is.
    let waited = std::time::Instant::now();
    while std::fs::read_to_string(&pids).map_or(true, |t| !t.ends_with('\n')) {
        assert!(
            waited.elapsed().as_secs() < 300,
            "the hung test never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "hunt ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Without the fix the hunt waits out the test's 600 s; with it, it ends within the grace
    // period. 120 s is far from both.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed().as_secs() > 120 {
            let _ = child.kill();
            panic!("hunt did not stop within 120 s of SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let h: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(h["stopped"], "interrupted", "{h:#}");
    assert_eq!(
        h["executions"], 0,
        "the interrupted execution is not evidence"
    );
    // Neither pytest nor its own child outlive the hunt.
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace() {
        let alive = || {
            std::process::Command::new("kill")
                .args(["-0", pid])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        // A killed process may take a moment to be reaped by init: wait for that, not a time.
        let t = std::time::Instant::now();
        while alive() && t.elapsed().as_secs() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!alive(), "process {pid} outlived the hunt");
    }
}

#[test]
fn a_failing_list_command_is_reported_with_its_output() {
    let dir = tempfile::tempdir().unwrap();
    // A python without pytest (plain `python3 -m pytest` fails the same way): a script that
    // prints what Python prints and exits 1.
    let fake = dir.path().join("python");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '/usr/bin/python3: No module named pytest' >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(dir.path())
        .env("FLAKEHOUND_DB", dir.path().join("h.db"))
        .args(["hunt", "--runs", "1", "--"])
        .arg(&fake)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot list the tests") && err.contains("No module named pytest"),
        "{err}"
    );
}

/// A stand-in for pytest-randomly and pytest-rerunfailures (distributions named as the real
/// ones, so `pytest -VV` lists them) that leave a mark when they act during a test: the hunt
/// must warn about both and keep them from acting.
#[test]
fn pytest_randomly_and_rerunfailures_are_named_and_turned_off_under_hunt() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    let site = dir.path().join("site");
    std::fs::create_dir_all(project.join("tests")).unwrap();
    std::fs::write(project.join("tests/test_a.py"), "def test_a():\n    pass\n").unwrap();
    for (dist, module, code) in [
        (
            "pytest-randomly",
            "fake_randomly",
            "def pytest_runtest_setup(item):\n    open('randomly-acted', 'w').close()\n",
        ),
        (
            "pytest-rerunfailures",
            "fake_rerunfailures",
            "def pytest_addoption(parser):\n    parser.addoption('--reruns', type=int, default=2)\n\n\
             def pytest_runtest_setup(item):\n    if item.config.getoption('reruns'):\n        open('reruns-acted', 'w').close()\n",
        ),
    ] {
        let info = site.join(format!("{module}-9.9.9.dist-info"));
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(site.join(format!("{module}.py")), code).unwrap();
        std::fs::write(
            info.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9.9\n"),
        )
        .unwrap();
        let entry = module.trim_start_matches("fake_");
        std::fs::write(
            info.join("entry_points.txt"),
            format!("[pytest11]\n{entry} = {module}\n"),
        )
        .unwrap();
    }
    let db = dir.path().join("hunt.db");
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(&project)
        .env("FLAKEHOUND_DB", &db)
        .env("PYTHONPATH", &site)
        .args(["hunt", "--runs", "2", "--workers", "1", "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let h = success_json(&out);
    let warnings = h["warnings"].to_string();
    assert!(
        warnings.contains("pytest-randomly is active") && warnings.contains("turns it off"),
        "{warnings}"
    );
    assert!(
        warnings.contains("pytest-rerunfailures is active"),
        "{warnings}"
    );
    assert_eq!(h["tests"], 1, "{h:#}");
    assert!(!project.join("randomly-acted").exists(), "randomly acted");
    assert!(!project.join("reruns-acted").exists(), "reruns acted");
}

/// Ctrl-C while the tests are being listed: the terminal sends SIGINT to the whole foreground
/// process group (flakehound and the list command); the hunt says so and exits 130.
#[cfg(unix)]
#[test]
fn ctrl_c_while_listing_exits_130_and_says_so() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    std::fs::create_dir_all(project.join("tests")).unwrap();
    std::fs::write(project.join("tests/test_a.py"), "def test_a():\n    pass\n").unwrap();
    // Collection announces itself, then takes far longer than this test waits.
    std::fs::write(
        project.join("conftest.py"),
        "import time\n\ndef pytest_collection_finish(session):\n    open('listing', 'w').close()\n    time.sleep(300)\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"));
    cmd.current_dir(&project)
        .env("FLAKEHOUND_DB", dir.path().join("h.db"))
        .args(["hunt", "--runs", "1", "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !project.join("listing").exists() {
        assert!(std::time::Instant::now() < deadline, "never listed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The whole group, as a terminal does.
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", "--", &format!("-{}", child.id())])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted while listing the tests"), "{err}");
}

/// The lines of a `--events-json` file, each parsed (a line that is not one JSON object fails).
fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn events_json_streams_the_hunt_beside_its_json_result() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let path_arg = path.to_str().unwrap();
    // stdout stays the one JSON document of --json (success_json parses all of it).
    let h = hunt(
        &py,
        &dir.path().join("hunt.db"),
        &[
            "--runs",
            "1",
            "--workers",
            "1",
            "--seed",
            "7",
            "--events-json",
            path_arg,
        ],
    );
    let ev = events(&path);
    assert!(ev.len() >= 3, "{ev:#?}");
    assert_eq!(ev[0]["event"], "started", "{:#}", ev[0]);
    assert_eq!(ev[0]["engine"], "hunt");
    assert_eq!(ev[0]["tests"], 11);
    assert_eq!(ev[0]["planned"], 1);
    let last = ev.last().unwrap();
    assert_eq!(last["event"], "finished", "{last:#}");
    assert_eq!(last["ending"], "completed");
    let count = |kind: &str| ev.iter().filter(|e| e["event"] == kind).count();
    let executions = h["executions"].as_u64().unwrap() as usize;
    assert_eq!(count("execution-started"), executions, "{ev:#?}");
    assert_eq!(count("execution-finished"), executions, "{ev:#?}");
    assert_eq!(count("progress"), executions, "{ev:#?}");
    assert!(count("test") >= 1, "the broken test fails: {ev:#?}");
    let mut at = 0.0;
    for e in &ev {
        let t = e["at"].as_f64().unwrap();
        assert!(t >= at, "times go forward: {ev:#?}");
        at = t;
    }
}

fn conditions_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt-conditions")
}

/// `flakehound hunt --json` in the conditions fixture, pytest given `pytest_args`.
fn hunt_conditions(py: &Path, db: &Path, args: &[&str], pytest_args: &[&str]) -> Value {
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(conditions_fixture())
        .env_remove("FLAKEHOUND_DB")
        .arg("--db")
        .arg(db)
        .arg("hunt")
        .args(args)
        .args(["--json", "--"])
        .arg(py)
        .args(QUIET_PYTEST)
        .args(pytest_args)
        .output()
        .unwrap();
    success_json(&out)
}

/// Runs a printed `repro` hint as printed (through `sh`), with `-n 3` added before `--`; its
/// exit status is 1 when the test failed.
fn run_repro_hint(finding: &Value) -> std::process::Output {
    let hint = finding["hints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|h| h.contains(" repro "))
        .unwrap_or_else(|| panic!("no repro hint: {finding:#}"))
        .replacen(" -- ", " -n 3 -- ", 1);
    std::process::Command::new("sh")
        .arg("-c")
        .arg(&hint)
        .current_dir(conditions_fixture())
        .env_remove("FLAKEHOUND_DB")
        .env_remove("TZ")
        .output()
        .unwrap()
}

/// A test that fails every run alone is brittle only when it passes after the others under
/// the same hash seed and time zone (a real brittle test is); a set-order test that failed
/// every run alone under five hash seeds and passed in the suite under another is named
/// hash-seed dependent, not brittle, and its printed reproduction fails.
#[test]
fn brittle_needs_the_same_conditions_and_hash_seed_flakes_are_named() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    let h = hunt_conditions(
        &py,
        &db,
        &["--runs", "12", "--workers", "1", "--seed", "2"],
        &[
            "tests/test_a_setup.py",
            "tests/test_z_report.py",
            "tests/test_m_conditions.py::test_tag_order",
        ],
    );
    let brittle = finding(&h, "tests/test_z_report.py::test_uses_config");
    assert_eq!(brittle["class"], "order-dependent", "{brittle:#}");
    let detail = brittle["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("brittle") && detail.contains("passed 3 of 3"),
        "{detail}"
    );
    let obs = &brittle["observations"];
    assert_eq!(obs["confirm_alone_failures"], 3, "{brittle:#}");
    assert_eq!(obs["confirm_others_failures"], 0, "{brittle:#}");

    let set_order = finding(&h, "tests/test_m_conditions.py::test_tag_order");
    assert_eq!(set_order["class"], "flaky", "{set_order:#}");
    assert!(
        set_order["detail"]
            .as_str()
            .unwrap()
            .contains("follows the hash seed"),
        "{set_order:#}"
    );
    assert_eq!(
        set_order["factor"]["variable"], "PYTHONHASHSEED",
        "{set_order:#}"
    );
    // The confirmations are not samples of the failure rate: rounds and alone runs only.
    let runs = set_order["runs"].as_u64().unwrap();
    assert!(runs <= 12 * 3 + 5, "{set_order:#}");
    let run = run_repro_hint(set_order);
    assert_eq!(
        run.status.code(),
        Some(1),
        "the reproduction fails under the printed seed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Rounds vary `TZ`: a test comparing the local date with the UTC date (which never fails on
/// a UTC machine) is found, named as following the time zone, and its printed reproduction
/// (under a failing zone) fails. At any hour of the day one of the far zones fails it.
#[test]
fn hunts_vary_the_time_zone_and_name_it() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    let h = hunt_conditions(
        &py,
        &db,
        &["--runs", "9", "--workers", "1", "--seed", "3"],
        &["tests/test_m_conditions.py::test_invoice_date_is_today"],
    );
    let f = finding(&h, "tests/test_m_conditions.py::test_invoice_date_is_today");
    assert_eq!(f["class"], "flaky", "{f:#}");
    assert!(f["detail"].as_str().unwrap().contains("time zone"), "{f:#}");
    assert_eq!(f["factor"]["variable"], "TZ", "{f:#}");
    let fails_under: Vec<&str> = f["factor"]["fails_under"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !fails_under.is_empty() && !fails_under.contains(&"machine"),
        "{f:#}"
    );
    let run = run_repro_hint(f);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // The stored evidence carries each execution's zone, and every zone was tried.
    use flakehound_store::Store;
    let mut store = flakehound_store_sqlite::SqliteStore::open(&db).unwrap();
    let project = store.projects().unwrap().pop().unwrap();
    let mut store = store.with_project(&project).unwrap();
    let mut zones = std::collections::BTreeSet::new();
    store
        .export(&mut |r| {
            zones.insert(
                r.info
                    .properties
                    .iter()
                    .find(|(k, _)| k == "TZ")
                    .map(|(_, v)| v.clone()),
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(zones.len(), 3, "{zones:?}");
}

/// Two workers in one working tree: a test that assumes it owns `./out` fails whenever another
/// execution of the suite runs there at the same time. The hunt's follow-ups run with nothing
/// beside them, so it is reported as failing only in parallel (its own class), not as flaky,
/// and the other test stays stable; with one worker nothing fails.
#[test]
fn a_test_failing_only_beside_another_execution_is_parallel_not_flaky() {
    let Some(py) = pytest_python() else { return };
    let hunt_in = |workers: &str| {
        let work = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt-parallel"),
            work.path(),
        );
        let out = Command::cargo_bin("flakehound")
            .unwrap()
            .current_dir(work.path())
            .env("FLAKEHOUND_DB", work.path().join("hunt.db"))
            .args([
                "hunt",
                "--runs",
                "8",
                "--workers",
                workers,
                "--seed",
                "1",
                "--json",
            ])
            .arg("--")
            .arg(&py)
            .args(QUIET_PYTEST)
            .output()
            .unwrap();
        success_json(&out)
    };
    let h = hunt_in("2");
    let export = finding(&h, "tests/test_export.py::test_export_writes_one_report");
    assert_eq!(export["class"], "parallel", "{export:#}");
    let obs = &export["observations"];
    assert_eq!(obs["exclusive_failures"], 0, "{export:#}");
    assert!(obs["exclusive_runs"].as_u64().unwrap() >= 10, "{export:#}");
    assert!(
        export["detail"]
            .as_str()
            .unwrap()
            .starts_with("fails only when run in parallel with itself"),
        "{export:#}"
    );
    assert_eq!(
        finding(&h, "tests/test_export.py::test_totals")["class"],
        "stable"
    );
    let serial = hunt_in("1");
    assert_eq!(
        finding(
            &serial,
            "tests/test_export.py::test_export_writes_one_report"
        )["class"],
        "stable",
        "{serial:#}"
    );
}

/// A randomness flake that looks order-dependent: its module seeds the global generator at
/// import and another test draws from it first. Replaying the failing order fails, but with
/// the generator reseeded before each test it passes after the same tests: the hunt names
/// shared random state, and sends to `diagnose` rather than to a polluter search.
#[test]
fn shared_random_state_is_named_not_a_polluter() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let h = hunt_conditions(
        &py,
        &dir.path().join("hunt.db"),
        &["--runs", "6", "--workers", "1", "--seed", "1"],
        &["tests/test_c_sampling.py", "tests/test_r_lottery.py"],
    );
    let f = finding(
        &h,
        "tests/test_r_lottery.py::test_lottery_draw_is_reproducible",
    );
    assert_eq!(f["class"], "order-dependent", "{f:#}");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .starts_with("shared random state"),
        "{f:#}"
    );
    assert_eq!(f["factor"]["variable"], "random state", "{f:#}");
    let hints: Vec<&str> = f["hints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        hints.iter().all(|h| !h.contains(" polluter "))
            && hints.iter().any(|h| h.contains(" diagnose ")),
        "{hints:?}"
    );
    assert_eq!(
        finding(&h, "tests/test_c_sampling.py::test_sample_size")["class"],
        "stable"
    );
}

/// `polluter` on the same victim: the culprit search finds the test that draws first, then a
/// reseeded replay shows the victim passes after it: the answer is shared random state, with
/// no cleaner search (any test drawing a number would "clean" or "pollute").
#[test]
fn polluter_names_shared_random_state() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(conditions_fixture())
        .env("FLAKEHOUND_DB", dir.path().join("p.db"))
        .args([
            "polluter",
            "tests/test_r_lottery.py::test_lottery_draw_is_reproducible",
            "--json",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let r = success_json(&out);
    assert_eq!(r["verdict"], "found", "{r:#}");
    assert_eq!(
        r["culprits"][0], "tests/test_c_sampling.py::test_sample_size",
        "{r:#}"
    );
    assert_eq!(r["shared_random_state"], true, "{r:#}");
    assert!(r["cleaners"].as_array().unwrap().is_empty(), "{r:#}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .starts_with("shared random state"),
        "{r:#}"
    );
}

/// The newest stored failure of the victim is an in-process repeat (it passed its first
/// attempt and failed the second): not an order. `polluter` skips it, searches the older run
/// where its first attempt failed, and finds the polluter (it used to search the newest run's
/// tests and answer "not reproducible").
#[test]
fn polluter_skips_repeat_rounds_and_falls_back_to_older_failing_orders() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let junit = |stamp: &str, cases: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" timestamp="{stamp}">{cases}</testsuite></testsuites>"#
        )
    };
    let victim = r#"<testcase classname="tests.test_a_victim" name="test_prices_in_euros" file="tests/test_a_victim.py""#;
    let failed = r#"><failure message="AssertionError: assert 'USD' == 'EUR'"/></testcase>"#;
    std::fs::write(
        dir.path().join("old.xml"),
        junit(
            "2026-11-01T10:00:00",
            &format!(
                r#"<testcase classname="tests.test_z_polluter" name="test_switches_currency" file="tests/test_z_polluter.py"/>{victim}{failed}"#
            ),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("new.xml"),
        junit(
            "2026-11-02T10:00:00",
            &format!(
                r#"<testcase classname="tests.test_m_stable" name="test_strings" file="tests/test_m_stable.py"/>{victim}/>{victim}{failed}"#
            ),
        ),
    )
    .unwrap();
    Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", &db)
        .args(["ingest", "--run-per", "file"])
        .arg(dir.path().join("old.xml"))
        .arg(dir.path().join("new.xml"))
        .assert()
        .success();
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", &db)
        .args([
            "polluter",
            "tests/test_a_victim.py::test_prices_in_euros",
            "--json",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let r = success_json(&out);
    assert_eq!(r["verdict"], "found", "{r:#}");
    assert_eq!(
        r["culprits"][0],
        "tests/test_z_polluter.py::test_switches_currency"
    );
    assert_eq!(r["candidates"], 1, "the older run's one test: {r:#}");
}

/// `repro --twice` of a non-idempotent test prints a command that reproduces it: twice in one
/// process needs flakehound (pytest drops a node id given twice), so the printed command is a
/// `flakehound repro … --twice`, and run as printed it fails the test again.
#[test]
fn repro_twice_prints_a_command_that_reproduces() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", dir.path().join("r.db"))
        .args([
            "repro",
            "tests/test_a_victim.py::test_register_once",
            "--twice",
            "-n",
            "2",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "it failed: {text}");
    let command = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("command: "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert!(
        command.contains(" repro ") && command.contains("--twice"),
        "{command}"
    );
    let again = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(fixture())
        .env("FLAKEHOUND_DB", dir.path().join("r.db"))
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "the printed command reproduces: {}\n{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
}

fn module_scope_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/module-scope")
}

/// Pollution in module scope (a module-scoped fixture): the whole suite in collection order
/// passes (another module runs in between and tears the fixture down), so the old order
/// experiment never failed and the polluter search answered "passes after all candidates".
/// Now `diagnose` also runs it after the other tests of its module and after the tests of its
/// stored failing run, names order, and hands the failing condition's tests to the polluter
/// search; `polluter` tries the module's tests before the whole suite.
#[test]
fn pollution_in_module_scope_is_found_by_diagnose_and_polluter() {
    let Some(py) = pytest_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // A stored failing run: test_warm_up, then the victim failing.
    std::fs::write(
        dir.path().join("ci.xml"),
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" timestamp="2026-11-01T10:00:00"><testcase classname="tests.test_cache" name="test_warm_up" file="tests/test_cache.py"/><testcase classname="tests.test_cache" name="test_lookup_starts_empty" file="tests/test_cache.py"><failure message="AssertionError: assert 'stale' not in {'stale': True}"/></testcase></testsuite></testsuites>"#,
    )
    .unwrap();
    Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(module_scope_fixture())
        .env("FLAKEHOUND_DB", &db)
        .arg("ingest")
        .arg(dir.path().join("ci.xml"))
        .assert()
        .success();
    let victim = "tests/test_cache.py::test_lookup_starts_empty";
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(module_scope_fixture())
        .env("FLAKEHOUND_DB", &db)
        .args([
            "diagnose", victim, "--only", "order", "-n", "3", "--json", "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let d = success_json(&out);
    assert_eq!(d["category"], "order", "{d:#}");
    let names: Vec<&str> = d["experiments"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"after the other test of its module")
            && names.contains(&"after the test before it in its stored failing run"),
        "{names:?}"
    );
    assert_eq!(
        d["polluter"]["culprits"][0], "tests/test_cache.py::test_warm_up",
        "{d:#}"
    );
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(module_scope_fixture())
        .env("FLAKEHOUND_DB", dir.path().join("empty.db"))
        .args(["polluter", victim, "--json", "--"])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let r = success_json(&out);
    assert_eq!(r["verdict"], "found", "{r:#}");
    assert_eq!(
        r["culprits"][0], "tests/test_cache.py::test_warm_up",
        "{r:#}"
    );
}
