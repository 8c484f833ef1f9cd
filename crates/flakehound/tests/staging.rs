//! A large report next to other writers, through the binary: real processes on a real store.
//!
//! The large ingest is paused mid-report by a test hook (`FLAKEHOUND_TEST_PAUSE_STAGING=DIR`:
//! it creates `DIR/staging` once the report is being staged and waits for `DIR/resume`), so
//! the tests act at a known point instead of racing the machine's speed.

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

fn fh(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLAKEHOUND_DB")
        .env_remove("FLAKEHOUND_TEST_PAUSE_STAGING")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("CI");
    cmd
}

/// Test cases in the large report: well over the 16 MiB of records buffered in memory.
const BIG_CASES: usize = 60_000;

/// A JUnit report large enough to be staged, one failure in ten.
fn big_report(dir: &Path) -> PathBuf {
    let mut xml = String::from("<testsuites><testsuite name=\"big\">\n");
    for i in 0..BIG_CASES {
        if i % 10 == 0 {
            xml.push_str(&format!(
                "<testcase classname=\"big.mod{}\" name=\"test_{i}\" time=\"0.01\">\
                 <failure message=\"boom {i}\">trace</failure></testcase>\n",
                i % 100
            ));
        } else {
            xml.push_str(&format!(
                "<testcase classname=\"big.mod{}\" name=\"test_{i}\" time=\"0.01\"/>\n",
                i % 100
            ));
        }
    }
    xml.push_str("</testsuite></testsuites>\n");
    let path = dir.join("big.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

fn small_report(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(
        &path,
        format!(
            "<testsuite name=\"{name}\"><testcase classname=\"{name}\" name=\"a\"/>\
             <testcase classname=\"{name}\" name=\"b\"><failure message=\"x\"/></testcase></testsuite>"
        ),
    )
    .unwrap();
    path
}

/// Starts `ingest big --run-id big`, paused by the hook in `signal` once it stages the report;
/// returns when it is paused there.
fn start_paused_big_ingest(work: &Path, db: &Path, big: &Path, signal: &Path) -> Child {
    std::fs::create_dir_all(signal).unwrap();
    let mut child = std::process::Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(work)
        .env("NO_COLOR", "1")
        .env("FLAKEHOUND_TEST_PAUSE_STAGING", signal)
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(big)
        .args(["--run-id", "big"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A condition, not a timing: the bound only turns a broken hook into a failure, not a hang.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !signal.join("staging").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the large ingest ended before staging: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the large ingest never reached staging"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

fn totals(db: &Path) -> flakehound_store::Totals {
    use flakehound_store::Store;
    open_store(db).totals().unwrap()
}

/// The store the binary wrote, read as its one project (the binary derives the project from
/// the directory it ran in; a library handle reads `default` unless told).
fn open_store(db: &Path) -> flakehound_store_sqlite::SqliteStore {
    use flakehound_store::Store;
    let mut store = flakehound_store_sqlite::SqliteStore::open(db).unwrap();
    match store.projects().unwrap().as_slice() {
        [only] => {
            let only = only.clone();
            store.with_project(&only).unwrap()
        }
        _ => store,
    }
}

/// Names in `dir` that are not the store's own files.
fn strays(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["fh.db", "fh.db-wal", "fh.db-shm"].contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

/// The regression (issue 12): a small ingest next to a long one failed with "database is
/// locked" after 30 s, because the large report's transaction was open for its whole parse.
#[test]
fn a_small_ingest_completes_while_a_large_report_is_being_staged() {
    let work = tempfile::tempdir().unwrap();
    let store_dir = work.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let db = store_dir.join("fh.db");
    let big = big_report(work.path());
    let small = small_report(work.path(), "small");
    let signal = work.path().join("signal");
    let child = start_paused_big_ingest(work.path(), &db, &big, &signal);

    // The large ingest is inside its report now. The small one must not wait for it.
    let small_out = fh(work.path())
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(&small)
        .args(["--run-id", "small"])
        .output()
        .unwrap();
    // While staging, nothing of the large report is in the store, and its staging file has
    // no name in any directory.
    let during = totals(&db);
    let strays_during = strays(&store_dir);
    std::fs::write(signal.join("resume"), "").unwrap();
    let big_out = child.wait_with_output().unwrap();

    assert!(
        small_out.status.success(),
        "small ingest: {}",
        String::from_utf8_lossy(&small_out.stderr)
    );
    assert_eq!((during.reports, during.results), (1, 2));
    assert!(strays_during.is_empty(), "{strays_during:?}");
    assert!(
        big_out.status.success(),
        "large ingest: {}",
        String::from_utf8_lossy(&big_out.stderr)
    );
    let t = totals(&db);
    assert_eq!((t.reports, t.runs), (2, 2));
    assert_eq!(t.results, BIG_CASES as u64 + 2);
    assert_eq!(t.tests, BIG_CASES as u64 + 2);
    assert!(strays(&store_dir).is_empty());
    // The same report again changes nothing.
    fh(work.path())
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(&big)
        .args(["--run-id", "big"])
        .assert()
        .success();
    assert_eq!(totals(&db), t);
}

/// `kill -9` while the large report is staged: the store is as before, no staging file is left
/// behind, and ingesting the report again stores it whole.
#[test]
fn a_large_ingest_killed_while_staging_leaves_no_trace() {
    let work = tempfile::tempdir().unwrap();
    let store_dir = work.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let db = store_dir.join("fh.db");
    let big = big_report(work.path());
    let small = small_report(work.path(), "before");
    fh(work.path())
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(&small)
        .assert()
        .success();
    let before = totals(&db);

    let signal = work.path().join("signal");
    let mut child = start_paused_big_ingest(work.path(), &db, &big, &signal);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert_eq!(totals(&db), before);
    assert!(strays(&store_dir).is_empty(), "{:?}", strays(&store_dir));
    fh(work.path())
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(&big)
        .args(["--run-id", "big"])
        .assert()
        .success();
    let t = totals(&db);
    assert_eq!(t.reports, before.reports + 1);
    assert_eq!(t.results, before.results + BIG_CASES as u64);
}
