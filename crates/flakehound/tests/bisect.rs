//! `flakehound bisect` on real git repositories built here: pytest and cargo projects whose
//! test starts failing (always, or some of the time) at one commit, one that was flaky all
//! along, a commit that does not build, a merge. The failure "rates" are driven by a counter
//! file outside the repository, so every run of this suite sees the same outcomes.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A git repository in a temporary directory, with fixed author and dates (stable shas).
struct Repo {
    dir: tempfile::TempDir,
    commits: u32,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let r = Repo { dir, commits: 0 };
        r.git(&["init", "-q", "-b", "main"]);
        r.git(&["config", "user.email", "dev@example.com"]);
        r.git(&["config", "user.name", "Dev"]);
        r.git(&["config", "commit.gpgsign", "false"]);
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let date = format!("2024-01-01T12:{:02}:00+00:00", self.commits % 60);
        let out = std::process::Command::new("git")
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes the files and commits them; the new sha.
    fn commit(&mut self, message: &str, files: &[(&str, &str)]) -> String {
        for (name, text) in files {
            let path = self.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        self.commits += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn worktrees(&self) -> usize {
        self.git(&["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count()
    }
}

/// `flakehound` in the repository, with its own store and counter file.
fn flakehound(repo: &Repo, state: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(repo.path())
        .env("FLAKEHOUND_DB", state.join("store.db"))
        .env("BISECT_COUNTER", state.join("counter"))
        .env_remove("FLAKEHOUND_PROJECT")
        .env("NO_COLOR", "1");
    cmd
}

/// The `--json` output, checked against `schemas/bisect.schema.json`.
fn json(out: &std::process::Output) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("schemas/bisect.schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}\n{value:#}", errors.join("\n"));
    value
}

/// A test body in Python that fails at `rate` (0: never, 1: always), by a deterministic
/// pseudo-random draw from the execution's number (counted in the counter file).
fn py_test(rate: f64) -> String {
    format!(
        r#"import os, random

def bump():
    path = os.environ["BISECT_COUNTER"]
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(n))
    return n

def test_total():
    n = bump()
    assert random.Random(n).random() >= {rate}, f"run {{n}} fails"

def test_other():
    assert True
"#
    )
}

/// The pytest repository: 8 commits; the test starts failing half of the time at commit 5, or
/// fails 30% of the time all along.
fn pytest_repo(flaky_all_along: bool) -> (Repo, Vec<String>) {
    let mut r = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=8 {
        let rate = match (flaky_all_along, i >= 5) {
            (true, _) => 0.3,
            (false, true) => 0.5,
            (false, false) => 0.0,
        };
        shas.push(r.commit(
            &format!("change {i}"),
            &[
                ("test_shop.py", &py_test(rate)),
                ("VERSION", &format!("{i}\n")),
            ],
        ));
    }
    (r, shas)
}

fn python() -> Option<PathBuf> {
    let py = flakehound_testkit::pytest_python();
    if py.is_none() {
        eprintln!("skipping: no pytest (set FLAKEHOUND_TEST_PYTHON, see scripts/test-venv.sh)");
    }
    py
}

#[test]
fn pytest_culprit_with_json_evidence_and_a_clean_checkout() {
    let Some(py) = python() else { return };
    let (repo, shas) = pytest_repo(false);
    // The user's uncommitted work must survive untouched.
    std::fs::write(repo.path().join("VERSION"), "work in progress\n").unwrap();
    std::fs::write(repo.path().join("notes.txt"), "mine\n").unwrap();
    let status_before = repo.git(&["status", "--porcelain"]);
    let state = tempfile::tempdir().unwrap();
    let py = py.to_string_lossy().into_owned();
    let out = flakehound(&repo, state.path())
        .args([
            "bisect",
            "test_shop.py::test_total",
            "--good",
            &shas[0],
            "--bad",
            &shas[7],
            "--json",
            "--",
            &py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_shop.py",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["culprit"], shas[4].as_str(), "{v:#}");
    assert!(v["probability"].as_f64().unwrap() >= 0.95, "{v:#}");
    let executions = v["executions"].as_u64().unwrap();
    assert!(executions > 0 && executions <= 60, "{v:#}");
    assert_eq!(v["rate_before"]["failures"], 0);
    assert!(v["rate_after"]["failures"].as_u64().unwrap() > 0);
    assert!(v["rate_after"]["mean"].as_f64().unwrap() > 0.3);
    let tested = v["tested"].as_array().unwrap();
    let runs: u64 = tested.iter().map(|t| t["runs"].as_u64().unwrap()).sum();
    assert_eq!(runs, executions);
    assert_eq!(v["culprit_commit"]["subject"], "change 5");
    assert_eq!(v["culprit_commit"]["author"], "Dev");
    assert!(v["decided"].as_bool().unwrap());

    // Untouched: the same status, the same file contents, no worktree left behind.
    assert_eq!(repo.git(&["status", "--porcelain"]), status_before);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("VERSION")).unwrap(),
        "work in progress\n"
    );
    assert_eq!(repo.worktrees(), 1);
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), shas[7]);

    // The executions are evidence (source bisect, at the commits they tested), the result a
    // note that `explain` shows.
    let out = flakehound(&repo, state.path())
        .args(["explain", "test_shop.py::test_total", "--json"])
        .output()
        .unwrap();
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = e["verdict"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{e:#}");
    let text = notes[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("bisect: culprit {}", &shas[4][..10])),
        "{text}"
    );
    assert_eq!(notes[0]["kind"], "diagnosis");
    assert_eq!(
        e["verdict"]["experiments"]["runs"].as_u64().unwrap(),
        executions
    );
    // The runs carry the tested commits: the dossier's timeline lists them.
    let timeline = e["dossier"].to_string();
    assert!(timeline.contains(&shas[4][..7]), "{timeline}");
}

#[test]
fn pytest_flaky_all_along_has_no_culprit() {
    let Some(py) = python() else { return };
    let (repo, shas) = pytest_repo(true);
    let state = tempfile::tempdir().unwrap();
    let py = py.to_string_lossy().into_owned();
    let out = flakehound(&repo, state.path())
        .args([
            "bisect",
            "test_shop.py::test_total",
            "--good",
            &shas[0],
            "--bad",
            &shas[7],
            "--json",
            "--no-record",
            "--",
            &py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_shop.py",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    assert!(v["culprit"].is_null(), "{v:#}");
    assert!(v["probability"].as_f64().unwrap() >= 0.95, "{v:#}");
    // One rate for the whole range, about a third.
    assert_eq!(v["rate_before"], v["rate_after"]);
    let rate = v["rate_before"]["mean"].as_f64().unwrap();
    assert!((0.2..0.5).contains(&rate), "{v:#}");
    assert!(out.status.success());
    assert_eq!(repo.worktrees(), 1);
    assert!(!state.path().join("store.db").exists());
}

/// A tiny cargo crate whose test fails every `every`-th run (0: never) after reading the counter
/// file; `broken` adds a syntax error (the commit does not build).
fn cargo_files(every: u32, broken: bool) -> Vec<(&'static str, String)> {
    vec![
        (
            "Cargo.toml",
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
                .to_string(),
        ),
        (
            "src/lib.rs",
            format!(
                r#"pub fn every() -> u32 {{ {every} }}{}

#[cfg(test)]
mod tests {{
    fn bump() -> u32 {{
        let path = std::env::var("BISECT_COUNTER").unwrap();
        let n = std::fs::read_to_string(&path).map(|s| s.trim().parse().unwrap()).unwrap_or(0) + 1;
        std::fs::write(&path, n.to_string()).unwrap();
        n
    }}

    #[test]
    fn totals() {{
        let n = bump();
        assert!(super::every() == 0 || n % super::every() != 0, "run {{n}} fails");
    }}
}}
"#,
                if broken { " fn broken( {" } else { "" }
            ),
        ),
    ]
}

#[test]
fn cargo_culprit_with_a_commit_that_does_not_build() {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=8 {
        // Commit 3 does not build; from commit 6 on the test fails every run.
        let files = cargo_files(u32::from(i >= 6), i == 3);
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        shas.push(repo.commit(&format!("step {i}"), &files));
    }
    let state = tempfile::tempdir().unwrap();
    let target = state.path().join("target");
    let out = flakehound(&repo, state.path())
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "bisect",
            "tests::totals",
            "--good",
            &shas[0],
            "--bad",
            &shas[7],
            "--setup",
            "cargo build --tests --offline -q",
            "--json",
            "--",
            "cargo",
            "test",
            "--offline",
            "-q",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["culprit"], shas[5].as_str(), "{v:#}");
    assert!(out.status.success(), "{v:#}");
    assert!(v["candidates"].as_array().unwrap().is_empty());
    // If the search asked for commit 3, it was skipped, not blamed.
    for t in v["tested"].as_array().unwrap() {
        if t["sha"] == shas[2].as_str() {
            assert!(
                t["skipped"].as_str().unwrap().contains("--setup failed"),
                "{t}"
            );
            assert_eq!(t["runs"], 0);
        } else {
            assert!(t["skipped"].is_null(), "{t}");
        }
    }
    assert_eq!(repo.worktrees(), 1);
}

#[test]
fn skipped_commits_next_to_the_culprit_leave_candidates() {
    // Exit-status mode: 125 skips (as for `git bisect run`).
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=6 {
        let script = match i {
            4 => "exit 125\n",
            5.. => "exit 1\n",
            _ => "exit 0\n",
        };
        shas.push(repo.commit(&format!("s{i}"), &[("t.sh", script)]));
    }
    let state = tempfile::tempdir().unwrap();
    let out = flakehound(&repo, state.path())
        .args([
            "bisect", "t", "--good", &shas[0], "--bad", &shas[5], "--json", "--", "sh", "t.sh",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    let candidates: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(candidates, [shas[3].as_str(), shas[4].as_str()], "{v:#}");
    assert_eq!(v["culprit"], shas[4].as_str());
    let skipped: Vec<&serde_json::Value> = v["tested"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["skipped"].is_string())
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["sha"], shas[3].as_str());
}

#[test]
fn a_merge_culprit_is_narrowed_into_the_merged_branch() {
    let mut repo = Repo::new();
    let base = repo.commit("m1", &[("t.sh", "exit 0\n"), ("main.txt", "1\n")]);
    repo.commit("m2", &[("main.txt", "2\n")]);
    repo.git(&["checkout", "-q", "-b", "feature", &base]);
    repo.commit("f1", &[("feature.txt", "1\n")]);
    let f2 = repo.commit("f2: the bug", &[("t.sh", "exit 1\n")]);
    repo.commit("f3", &[("feature.txt", "3\n")]);
    repo.git(&["checkout", "-q", "main"]);
    repo.commits += 1;
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    repo.commit("m3", &[("main.txt", "3\n")]);
    let state = tempfile::tempdir().unwrap();
    let out = flakehound(&repo, state.path())
        .args(["bisect", "t", "--good", &base, "--json", "--", "sh", "t.sh"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["culprit"], f2.as_str(), "{v:#}");
    assert_eq!(v["merge"]["merge"], merge.as_str());
    assert_eq!(v["merge"]["narrowed"], true);
    assert!(
        v["tested"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["branch"] == true)
    );
    assert!(out.status.success());
    assert_eq!(repo.worktrees(), 1);
    // Without narrowing, the merge itself.
    let out = flakehound(&repo, state.path())
        .args([
            "bisect",
            "t",
            "--good",
            &base,
            "--json",
            "--no-merges",
            "--no-record",
            "--",
            "sh",
            "t.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["culprit"], merge.as_str());
}

#[test]
fn the_human_output() {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=10 {
        let script = if i >= 7 { "exit 1\n" } else { "exit 0\n" };
        shas.push(repo.commit(&format!("commit {i}"), &[("t.sh", script)]));
    }
    let state = tempfile::tempdir().unwrap();
    let events = state.path().join("events.jsonl");
    let out = flakehound(&repo, state.path())
        .args([
            "bisect",
            "t.sh",
            "--good",
            &shas[0],
            "--bad",
            &shas[9],
            "--events-json",
            events.to_str().unwrap(),
            "--",
            "sh",
            "t.sh",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The progress events: started, a run per execution, a step per visit, finished.
    let kinds: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("started"));
    assert_eq!(kinds.last().map(String::as_str), Some("finished"));
    assert_eq!(kinds.iter().filter(|k| *k == "bisect-run").count(), 11);
    assert!(kinds.iter().any(|k| k == "bisect-step"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    insta::with_settings!({filters => vec![(r"in \d+\.\ds", "in [secs]")]}, {
        insta::assert_snapshot!(stdout);
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("over 10 commits") && stderr.contains("judged by the exit status"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let mut repo = Repo::new();
    let a = repo.commit("a", &[("t.sh", "exit 0\n")]);
    let b = repo.commit("b", &[("t.sh", "exit 1\n")]);
    let state = tempfile::tempdir().unwrap();
    let err = |args: &[&str]| {
        let out = flakehound(&repo, state.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["bisect", "t", "--good", "nope", "--", "sh", "t.sh"]);
    assert!(e.contains("\"nope\" does not name a commit"), "{e}");
    let e = err(&["bisect", "t", "--good", &b, "--bad", &a, "--", "sh", "t.sh"]);
    assert!(e.contains("is not an ancestor of the bad commit"), "{e}");
    let e = err(&["bisect", "t", "--good", &a, "--bad", &a, "--", "sh", "t.sh"]);
    assert!(e.contains("nothing to bisect"), "{e}");
    // No --good and nothing in the store.
    let e = err(&["bisect", "t", "--", "sh", "t.sh"]);
    assert!(e.contains("pass --good"), "{e}");
    let e = err(&[
        "bisect",
        "t",
        "--good",
        &a,
        "--confidence",
        "2",
        "--",
        "sh",
        "t.sh",
    ]);
    assert!(e.contains("--confidence"), "{e}");
    assert_eq!(repo.worktrees(), 1);
}

#[test]
fn the_range_defaults_to_what_the_store_knows() {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=6 {
        let script = if i >= 4 { "exit 1\n" } else { "exit 0\n" };
        shas.push(repo.commit(&format!("c{i}"), &[("t.sh", script)]));
    }
    let state = tempfile::tempdir().unwrap();
    // CI history: passes at c1 and c2, failures at c5 and c6.
    for (i, outcome) in [(0, "pass"), (1, "pass"), (4, "fail"), (5, "fail")] {
        let report = state.path().join(format!("r{i}.xml"));
        let case = if outcome == "fail" {
            r#"<testcase classname="t" name="t.sh"><failure message="boom"/></testcase>"#
        } else {
            r#"<testcase classname="t" name="t.sh"/>"#
        };
        std::fs::write(
            &report,
            format!(
                r#"<testsuite name="s" tests="1" timestamp="2024-02-0{}T10:00:00">{case}</testsuite>"#,
                i + 1
            ),
        )
        .unwrap();
        let out = flakehound(&repo, state.path())
            .args([
                "ingest",
                report.to_str().unwrap(),
                "--commit",
                &shas[i],
                "--run-id",
                &format!("ci-{i}"),
                "--timestamp",
                &format!("2024-02-0{}T10:00:00Z", i + 1),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let out = flakehound(&repo, state.path())
        .args(["bisect", "t::t.sh", "--json", "--", "sh", "t.sh"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["culprit"], shas[3].as_str(), "{v:#}");
    let good = v["good"].as_str().unwrap();
    assert!(good == shas[1] || good == shas[0], "{v:#}");
}

#[test]
fn ctrl_c_removes_the_worktrees() {
    let mut repo = Repo::new();
    let a = repo.commit("a", &[("t.sh", "exit 0\n")]);
    for i in 0..4 {
        repo.commit(&format!("slow {i}"), &[("t.sh", "sleep 30\n")]);
    }
    let state = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("flakehound");
    let child = std::process::Command::new(bin)
        .current_dir(repo.path())
        .env("FLAKEHOUND_DB", state.path().join("store.db"))
        .env("TMPDIR", state.path())
        .args(["bisect", "t", "--good", &a, "--", "sh", "t.sh"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Until a worktree exists (the first execution is under way).
    let t0 = std::time::Instant::now();
    while repo.worktrees() < 2 && t0.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(repo.worktrees(), 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(25));
    assert_eq!(repo.worktrees(), 1);
    let left: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("flakehound-bisect"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_command_runs_in_the_directory_it_was_given_from() {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=5 {
        let script = if i >= 3 { "exit 1\n" } else { "exit 0\n" };
        shas.push(repo.commit(&format!("c{i}"), &[("app/t.sh", script)]));
    }
    let state = tempfile::tempdir().unwrap();
    let out = flakehound(&repo, state.path())
        .current_dir(repo.path().join("app"))
        .args([
            "bisect", "t", "--good", &shas[0], "--json", "--", "sh", "t.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["culprit"], shas[2].as_str());
}

#[test]
fn the_range_defaults_to_the_verdicts_culprit_range() {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 1..=12 {
        let script = if i >= 9 { "exit 1\n" } else { "exit 0\n" };
        shas.push(repo.commit(&format!("c{i}"), &[("t.sh", script)]));
    }
    let state = tempfile::tempdir().unwrap();
    // CI history: two runs a commit, failing from c9 on (the verdict finds the change).
    let mut n = 0;
    for (i, sha) in shas.iter().enumerate() {
        for _ in 0..2 {
            n += 1;
            let case = if i >= 8 {
                r#"<testcase classname="t" name="t.sh"><failure message="boom"/></testcase>"#
            } else {
                r#"<testcase classname="t" name="t.sh"/>"#
            };
            let report = state.path().join("r.xml");
            std::fs::write(
                &report,
                // Its own timestamp: identical reports would be one report.
                format!(
                    r#"<testsuite name="s" tests="1" timestamp="2024-03-01T10:{n:02}:00">{case}</testsuite>"#
                ),
            )
            .unwrap();
            let out = flakehound(&repo, state.path())
                .args([
                    "ingest",
                    report.to_str().unwrap(),
                    "--commit",
                    sha,
                    "--run-id",
                    &format!("ci-{n}"),
                    "--timestamp",
                    &format!("2024-03-01T10:{n:02}:00Z"),
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        }
    }
    let out = flakehound(&repo, state.path())
        .args(["explain", "t::t.sh", "--json"])
        .output()
        .unwrap();
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let range = &e["verdict"]["culprit"]["range"];
    assert!(range.is_array(), "{e:#}");
    let out = flakehound(&repo, state.path())
        .args(["bisect", "t::t.sh", "--json", "--", "sh", "t.sh"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["culprit"], shas[8].as_str(), "{v:#}");
    // The range is the verdict's: from the parent of its first commit to its last.
    let first = range[0].as_str().unwrap();
    let parent = repo.git(&["rev-parse", &format!("{first}^")]);
    assert_eq!(v["good"], parent.as_str());
    assert_eq!(
        v["bad"],
        repo.git(&["rev-parse", range[1].as_str().unwrap()])
            .as_str()
    );
}

#[test]
fn a_test_that_is_never_in_the_results_is_an_error() {
    let Some(py) = python() else { return };
    let (repo, shas) = pytest_repo(false);
    let state = tempfile::tempdir().unwrap();
    let py = py.to_string_lossy().into_owned();
    let out = flakehound(&repo, state.path())
        .args([
            "bisect",
            "test_shop.py::test_missing",
            "--good",
            &shas[0],
            "--",
            &py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_shop.py",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no commit gave a result for \"test_shop.py::test_missing\""),
        "{stderr}"
    );
    assert_eq!(repo.worktrees(), 1);
}
