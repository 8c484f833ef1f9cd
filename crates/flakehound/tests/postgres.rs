//! The PostgreSQL engine through the command line: the same history ingested into SQLite and
//! into PostgreSQL gives the same report, a SQLite store merged into PostgreSQL too, and an
//! unreachable server is one clear error line (exit 2), never a panic.
//!
//! Needs `FLAKEHOUND_TEST_POSTGRES` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without it
//! the tests that need a server skip with a message, or fail when `FLAKEHOUND_REQUIRE_POSTGRES=1`.
//! Each test uses schemas of its own, dropped at its end even when it fails.

use assert_cmd::Command;
use std::path::Path;

use flakehound_testkit::{PgSchema as Schema, test_postgres as server};

fn fh(dir: &Path, db: &str) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env_remove("FLAKEHOUND_DB")
        .env("COLUMNS", "200")
        .args(["--color", "never", "--db", db]);
    c
}

/// A small history: 10 CI runs of a suite with a stable, a flaky (some retried), a newly broken
/// and a skipped test, two runs per commit; written as JUnit files under `dir/runs/N`.
fn history(dir: &Path) -> Vec<std::path::PathBuf> {
    (0..10)
        .map(|i| {
            let flaky_fails = [1, 4, 5, 8].contains(&i);
            let flaky = if flaky_fails {
                r#"<testcase classname="m" name="flaky" time="0.2"><failure message="timeout waiting for db">trace</failure></testcase>"#
                    .to_string()
                    + if i == 4 {
                        r#"<testcase classname="m" name="flaky" time="0.2"/>"#
                    } else {
                        ""
                    }
            } else {
                r#"<testcase classname="m" name="flaky" time="0.2"/>"#.to_string()
            };
            let broken = if i >= 6 {
                r#"<testcase classname="m" name="broken" time="0.1"><failure message="assert 1 == 2">x</failure></testcase>"#
            } else {
                r#"<testcase classname="m" name="broken" time="0.1"/>"#
            };
            let body = format!(
                r#"<testsuite name="s" timestamp="2026-11-{:02}T10:00:00"><testcase classname="m" name="stable" time="0.1"/>{flaky}{broken}<testcase classname="m" name="skip"><skipped/></testcase></testsuite>"#,
                i + 1
            );
            let run = dir.join("runs").join(i.to_string());
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(run.join("r.xml"), body).unwrap();
            run
        })
        .collect()
}

fn ingest(dir: &Path, db: &str, runs: &[std::path::PathBuf]) {
    for (i, run) in runs.iter().enumerate() {
        fh(dir, db)
            .args(["ingest", "--quiet", "--run-id", &i.to_string()])
            .args(["--commit", &format!("c{}", i / 2)])
            .arg(run)
            .assert()
            .success();
    }
}

fn report(dir: &Path, db: &str) -> serde_json::Value {
    let out = fh(dir, db)
        .args(["report", "--json", "--all"])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<_> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn postgres_reports_what_sqlite_reports_and_merge_moves_a_store() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let runs = history(tmp.path());
    let sqlite = tmp.path().join("fh.db");
    let sqlite = sqlite.to_str().unwrap();
    ingest(tmp.path(), sqlite, &runs);
    let pg = Schema::new(&server, "ingest");
    ingest(tmp.path(), &pg.url(), &runs);
    let (from_sqlite, from_pg) = (report(tmp.path(), sqlite), report(tmp.path(), &pg.url()));
    let v = verdicts(&from_sqlite);
    assert!(
        v.iter()
            .any(|(id, verdict)| id == "m::flaky" && verdict == "flaky"),
        "{v:?}"
    );
    assert_eq!(verdicts(&from_pg), v);
    assert_eq!(from_pg, from_sqlite, "the whole report is the same");
    // Ingesting again stores nothing new.
    ingest(tmp.path(), &pg.url(), &runs);
    assert_eq!(report(tmp.path(), &pg.url()), from_sqlite);

    // One command moves the SQLite store into PostgreSQL; twice changes nothing.
    let moved = Schema::new(&server, "merge");
    for expect in ["10 reports merged", "0 reports merged"] {
        let out = fh(tmp.path(), &moved.url())
            .args(["merge", sqlite])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(expect), "{text}");
    }
    assert_eq!(report(tmp.path(), &moved.url()), from_sqlite);
    // And back: PostgreSQL into a new SQLite file.
    let back = tmp.path().join("back.db");
    let back = back.to_str().unwrap();
    fh(tmp.path(), back)
        .args(["merge", &pg.url()])
        .assert()
        .success();
    assert_eq!(report(tmp.path(), back), from_sqlite);
}

#[test]
fn an_unreachable_server_is_one_clear_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = history(tmp.path());
    for (db, args) in [
        ("postgres://postgres@127.0.0.1:1/x", vec!["report"]),
        (
            "postgres://fh:s3cret@127.0.0.1:1/x",
            vec!["ingest", runs[0].to_str().unwrap()],
        ),
        (
            "postgres://127.0.0.1:1/x?connect_timeout=nope",
            vec!["report"],
        ),
    ] {
        let out = fh(tmp.path(), db).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{db} {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with("flakehound: error: cannot open store postgres://"),
            "{err}"
        );
        assert!(
            !err.contains("s3cret") && !err.contains("panicked"),
            "{err}"
        );
    }
    // A source that is missing or not a store fails, naming it.
    std::fs::write(tmp.path().join("junk.db"), b"junk").unwrap();
    for src in ["missing.db", "junk.db"] {
        let out = fh(tmp.path(), tmp.path().join("d.db").to_str().unwrap())
            .args(["merge", src])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{src}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&format!("{src}: error: ")), "{err}");
    }
    // Merging from an unreachable server names it and fails.
    let db = tmp.path().join("fh.db");
    let out = fh(tmp.path(), db.to_str().unwrap())
        .args(["merge", "postgres://fh:s3cret@127.0.0.1:1/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://fh:***@127.0.0.1:1/x"), "{err}");
    assert!(
        !err.contains("s3cret") && !err.contains("panicked"),
        "{err}"
    );
}

/// Two processes ingesting the same folder into one PostgreSQL store at once both succeed, and
/// every report is stored once: what one ingest into SQLite stores.
#[test]
fn concurrent_ingests_of_one_folder_store_each_report_once() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("all");
    std::fs::create_dir_all(&dir).unwrap();
    let (files, tests) = (40, 150);
    for f in 0..files {
        let cases: String = (0..tests)
            .map(|t| {
                if (f + t) % 37 == 0 {
                    format!(r#"<testcase classname="m{}" name="t{t}" time="0.1"><failure message="boom {f}">x</failure></testcase>"#, t % 7)
                } else {
                    format!(r#"<testcase classname="m{}" name="t{t}" time="0.1"/>"#, t % 7)
                }
            })
            .collect();
        std::fs::write(
            dir.join(format!("r{f:03}.xml")),
            format!(
                r#"<testsuite name="s" timestamp="2026-11-01T10:{:02}:00">{cases}</testsuite>"#,
                f % 60
            ),
        )
        .unwrap();
    }
    let pg = Schema::new(&server, "concurrent");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"))
            .current_dir(tmp.path())
            .env_remove("FLAKEHOUND_DB")
            .args(["--color", "never", "--db", &pg.url(), "ingest", "--quiet"])
            .arg(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let counts: Vec<i64> = ["runs", "reports", "results", "tests"]
        .iter()
        .map(|t| {
            c.query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap()
                .get(0)
        })
        .collect();
    assert_eq!(counts, vec![files, files, files * tests, tests]);
    let sqlite = tmp.path().join("one.db");
    let sqlite = sqlite.to_str().unwrap();
    fh(tmp.path(), sqlite)
        .args(["ingest", "--quiet"])
        .arg(&dir)
        .assert()
        .success();
    assert_eq!(
        verdicts(&report(tmp.path(), &pg.url())),
        verdicts(&report(tmp.path(), sqlite))
    );
}
