//! Which reports form a run, and which metadata of the surroundings (CI job, checkout, host)
//! is attached to them: decided per ingest and printed.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn flakehound(dir: &Path) -> Command {
    flakehound_testkit::flakehound_in(dir)
}

fn ingest_json(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = flakehound(dir);
    cmd.arg("ingest").arg("--json").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out));
    })
}

/// A JUnit report with the given test names in class `class`, the first one failing.
fn junit(class: &str, names: &[&str]) -> String {
    let mut s = String::from("<testsuite name=\"s\">\n");
    for (i, n) in names.iter().enumerate() {
        if i == 0 {
            s.push_str(&format!(
                "<testcase classname=\"{class}\" name=\"{n}\"><failure message=\"boom\"/></testcase>\n"
            ));
        } else {
            s.push_str(&format!("<testcase classname=\"{class}\" name=\"{n}\"/>\n"));
        }
    }
    s.push_str("</testsuite>\n");
    s
}

/// Writes `content` to `rel`, made unique by a comment naming the file (reports are identified
/// by content: two identical files are one report).
fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, format!("{content}<!-- {rel} -->\n")).unwrap();
}

fn age(dir: &Path, rel: &str, days: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join(rel))
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(days * 24 * 3600))
        .unwrap();
}

#[test]
fn layout_and_content_decide_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let suite = ["t1", "t2", "t3"];
    // The same tests three times, no metadata: three runs.
    for i in 0..3 {
        write(
            d,
            &format!("history/report-{i}.xml"),
            &junit("pkg.A", &suite),
        );
    }
    // A retry pair by name: one run.
    write(d, "job/attempt-1.xml", &junit("pkg.A", &suite));
    write(d, "job/attempt-2.xml", &junit("pkg.A", &suite[..1]));
    // Shards / one file per class (surefire): other tests, one run.
    write(d, "surefire/TEST-pkg.A.xml", &junit("pkg.A", &suite));
    write(d, "surefire/TEST-pkg.B.xml", &junit("pkg.B", &suite));
    // Two runs with retries in one folder: the attempt-1 of another run starts it.
    write(d, "flat/r1-attempt-1.xml", &junit("pkg.A", &suite));
    write(d, "flat/r1-attempt-2.xml", &junit("pkg.A", &suite[..1]));
    write(d, "flat/r2-attempt-1.xml", &junit("pkg.A", &suite));

    // Directories named by attempt: re-runs of the whole job, each its own run.
    write(d, "run-7/attempt-1/junit.xml", &junit("pkg.A", &suite));
    write(d, "run-7/attempt-2/junit.xml", &junit("pkg.A", &suite));

    for (dir, runs) in [
        ("history", 3),
        ("job", 1),
        ("surefire", 1),
        ("flat", 2),
        ("run-7", 2),
    ] {
        let v = ingest_json(d, &[dir], &[]);
        assert_eq!(v["runs_created"], runs, "{dir}: {:#}", v["decision"]);
        assert_eq!(v["decision"]["runs"], runs, "{dir}");
    }
    // The flag overrides.
    let v = ingest_json(d, &["--run-per", "file", "--db", "y.db", "job"], &[]);
    assert_eq!(v["decision"]["rule"], "file");
    assert_eq!(v["runs_created"], 2);
}

#[test]
fn retry_pair_in_one_folder_still_counts_as_pass_on_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "ci/attempt-1.xml", &junit("pkg.A", &["flaky", "ok"]));
    write(
        d,
        "ci/attempt-2.xml",
        "<testsuite><testcase classname=\"pkg.A\" name=\"flaky\"/></testsuite>",
    );
    ingest_json(d, &["ci"], &[]);
    let out = flakehound(d)
        .args(["report", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report[0]["id"], "pkg.A::flaky");
    assert_eq!(report[0]["retry_passes"], 1);
}

const GITHUB: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_RUN_ID", "4242"),
    ("GITHUB_RUN_ATTEMPT", "1"),
    ("GITHUB_JOB", "test"),
    ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
];

#[test]
fn the_ci_job_names_the_run_only_of_reports_it_plausibly_produced() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "junit.xml", &junit("pkg.A", &["t1", "t2"]));
    let v = ingest_json(d, &["junit.xml"], GITHUB);
    assert_eq!(v["runs"][0], "github-actions/4242/1/test");
    assert_eq!(v["decision"]["rule"], "ci");
    assert_eq!(
        v["decision"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );

    // A downloaded history: several runs, so not this job's.
    for i in 0..3 {
        write(
            d,
            &format!("history/r{i}.xml"),
            &junit("pkg.B", &["t1", "t2"]),
        );
    }
    let v = ingest_json(d, &["history"], GITHUB);
    assert_eq!(v["runs_created"], 3);
    assert_eq!(v["decision"]["commit"], Value::Null);
    let assumed = v["decision"]["assumed"].to_string();
    assert!(
        assumed.contains("not from this github-actions job"),
        "{assumed}"
    );

    // A single report written long before this job ran.
    write(d, "old/junit.xml", &junit("pkg.C", &["t1"]));
    age(d, "old/junit.xml", 30);
    let v = ingest_json(d, &["old"], GITHUB);
    assert!(
        v["runs"][0].as_str().unwrap().starts_with("local/"),
        "{v:#}"
    );
    assert_eq!(v["decision"]["commit"], Value::Null);
    assert_eq!(v["decision"]["runner"], Value::Null);
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap())
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn the_checkout_commit_is_attached_only_to_reports_written_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "main"]);
    write(d, "README", "x");
    git(d, &["add", "README"]);
    git(d, &["commit", "-q", "-m", "init"]);

    write(d, "fresh/junit.xml", &junit("pkg.A", &["t1"]));
    let v = ingest_json(d, &["fresh"], &[]);
    let commit = v["decision"]["commit"].as_str().expect("commit attached");
    assert_eq!(commit.len(), 40);
    assert_eq!(v["decision"]["branch"], "main");
    assert!(
        v["decision"]["assumed"][0]
            .as_str()
            .unwrap()
            .starts_with("commit ")
    );

    write(d, "stale/junit.xml", &junit("pkg.B", &["t1"]));
    age(d, "stale/junit.xml", 3);
    let v = ingest_json(d, &["stale"], &[]);
    assert_eq!(v["decision"]["commit"], Value::Null);
    assert_eq!(v["decision"]["branch"], Value::Null);
    let assumed = v["decision"]["assumed"].to_string();
    assert!(
        assumed.contains("older than the checkout's last commit"),
        "{assumed}"
    );
}

#[test]
fn a_missing_path_creates_no_store_and_claims_no_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    flakehound(d)
        .args(["ingest", "/nonexistent/x.xml"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains(
            "/nonexistent/x.xml: no such file or directory",
        ));
    assert!(!d.join("x.db").exists());
}

#[test]
fn stdin_is_spooled_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let report = junit("pkg.A", &["t1", "t2"]);
    let out = flakehound(d)
        .args(["ingest", "--json", "-"])
        .write_stdin(report.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["files"][0]["file"], "<stdin>");
    assert_eq!(v["files"][0]["status"], "ingested");
    assert_eq!(v["records"], 2);
    // The same content again, from stdin: identified by content, stored once.
    let out = flakehound(d)
        .args(["ingest", "--json", "-"])
        .write_stdin(report)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["files"][0]["status"], "duplicate");
}

#[test]
fn a_report_from_elsewhere_keeps_its_own_host_and_time() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (i, host) in ["ci-7", "ci-8"].iter().enumerate() {
        write(
            d,
            &format!("history/r{i}.xml"),
            &format!(
                "<testsuite name=\"s\" hostname=\"{host}\" timestamp=\"2024-05-0{}T10:00:00\">\
                 <testcase classname=\"pkg.A\" name=\"t1\"><failure message=\"x\"/></testcase>\
                 </testsuite>\n",
                i + 1
            ),
        );
    }
    let v = ingest_json(d, &["history"], &[]);
    assert_eq!(v["runs_created"], 2);
    let out = flakehound(d)
        .args(["explain", "pkg.A::t1", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let e: Value = serde_json::from_slice(&out).unwrap();
    let runners: Vec<&str> = e["dossier"]["runners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(runners, ["ci-7", "ci-8"], "{:#}", e["dossier"]);
}

#[test]
fn run_id_and_per_file_grouping_contradict_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "junit.xml", &junit("pkg.A", &["t1"]));
    flakehound(d)
        .args(["ingest", "--run-id", "5", "--run-per", "file", "junit.xml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--run-id names one run"));
    assert!(!d.join("x.db").exists());
}
