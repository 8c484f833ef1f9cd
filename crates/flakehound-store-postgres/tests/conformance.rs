//! The engine-neutral store suite (`flakehound_store::conformance`) against PostgreSQL.
//!
//! Needs `FLAKEHOUND_TEST_POSTGRES` (a URL of a database the tests may create schemas in, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); without it every test skips with a message, or
//! fails when `FLAKEHOUND_REQUIRE_POSTGRES=1`. Each test works in schemas of its own (one per
//! store it opens), dropped at its end even when it fails.

use flakehound_store::conformance::Harness;
use flakehound_store::{OpenMode, Store};
use flakehound_store_postgres::PostgresStore;

/// Schemas of one test; dropped with it.
struct Schemas {
    url: String,
    prefix: String,
    made: Vec<usize>,
}

fn server() -> Option<String> {
    match std::env::var("FLAKEHOUND_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLAKEHOUND_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "FLAKEHOUND_REQUIRE_POSTGRES=1 but FLAKEHOUND_TEST_POSTGRES is not set"
            );
            eprintln!("skipped: set FLAKEHOUND_TEST_POSTGRES=postgres://… to run");
            None
        }
    }
}

fn harness() -> Option<Schemas> {
    let url = server()?;
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let prefix = format!(
        "fh_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    Some(Schemas {
        url,
        prefix,
        made: Vec::new(),
    })
}

impl Schemas {
    fn schema(&self, db: usize) -> String {
        format!("{}_{db}", self.prefix)
    }

    fn url(&self, db: usize) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-csearch_path%3D{}",
            self.url,
            self.schema(db)
        )
    }
}

impl Harness for Schemas {
    fn open(&mut self, db: usize, project: &str) -> Box<dyn Store> {
        if !self.made.contains(&db) {
            self.made.push(db);
        }
        // The store creates its schema (the first of the search path) when it does not exist.
        Box::new(PostgresStore::open(&self.url(db), project, OpenMode::Create).unwrap())
    }

    fn admin(&mut self, db: usize) -> Option<Box<dyn flakehound_store::Admin>> {
        if !self.made.contains(&db) {
            self.made.push(db);
        }
        Some(Box::new(
            PostgresStore::open(&self.url(db), "default", OpenMode::Create).unwrap(),
        ))
    }

    fn alerts(&mut self, db: usize) -> Option<Box<dyn flakehound_store::AlertStore>> {
        if !self.made.contains(&db) {
            self.made.push(db);
        }
        Some(Box::new(
            PostgresStore::open(&self.url(db), "default", OpenMode::Create).unwrap(),
        ))
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        if self.made.is_empty() {
            return;
        }
        match postgres::Client::connect(&self.url, postgres::NoTls) {
            Ok(mut c) => {
                for db in &self.made {
                    let _ = c.batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {} CASCADE",
                        self.schema(*db)
                    ));
                }
            }
            Err(e) => eprintln!("cannot drop test schemas {}_*: {e}", self.prefix),
        }
    }
}

flakehound_store::conformance_tests!(harness());

/// Report content reaches the server as parameters and, in the batch's run updates, as literals
/// in a simple query: hostile text
/// (quotes, backslashes, statement separators, NUL) must be stored exactly (NUL as U+FFFD) and
/// never run.
#[test]
fn hostile_text_is_stored_as_written() {
    use flakehound_model::{Outcome, ReportInfo, RunMeta};
    use flakehound_store::{NewReport, RunKey};
    let Some(mut h) = harness() else { return };
    let mut s = h.open(0, "p'; DROP TABLE runs; --");
    let evil = "x'); DROP TABLE runs; -- \\' \\\\ $$ $q$ \u{0} é \n end";
    let mut c = flakehound_store::conformance::case(evil, &[Outcome::Failed]);
    c.attempts[0].stdout = Some(evil.into());
    let meta = RunMeta {
        commit: Some(evil.into()),
        runner: Some(evil.into()),
        duration: Some(f64::INFINITY),
        ..Default::default()
    };
    let key = RunKey(evil.into());
    let nr = NewReport::ci_junit(evil, &key, &meta);
    let info = ReportInfo {
        tool: Some(evil.into()),
        hostname: Some(evil.into()),
        duration: Some(f64::NAN),
        properties: vec![(evil.into(), evil.into())],
        ..Default::default()
    };
    let w = flakehound_store::write_report(s.as_mut(), &nr, [&c], &info)
        .unwrap()
        .unwrap();
    assert_eq!(w.results, 1);
    assert!(s.has_report(evil).unwrap());
    let stored = evil.replace('\0', "\u{FFFD}");
    let mut got = Vec::new();
    s.export(&mut |r| {
        got.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.hash, stored);
    assert_eq!(r.run_key.0, stored);
    assert_eq!(r.run.commit.as_deref(), Some(stored.as_str()));
    assert_eq!(r.info.tool.as_deref(), Some(stored.as_str()));
    // Properties are stored as JSON, which escapes NUL: they come back exactly.
    assert_eq!(
        r.info.properties,
        vec![(evil.to_string(), evil.to_string())]
    );
    assert_eq!(r.run.duration, Some(f64::INFINITY));
    assert!(r.info.duration.is_some_and(f64::is_nan));
    assert_eq!(r.cases[0].id, stored);
    assert_eq!(
        r.cases[0].attempts[0].stdout.as_deref(),
        Some(stored.as_str())
    );
    assert_eq!(s.totals().unwrap().runs, 1);
    assert_eq!(s.projects().unwrap(), ["p'; DROP TABLE runs; --"]);
}

/// A store made by schema version 1 (results keyed by a B-tree primary key) is upgraded in
/// place: its results stay, the key gives way to the BRIN index, and a report appended to a run
/// stored before the upgrade continues its numbering.
#[test]
fn a_version_1_store_is_upgraded_and_keeps_numbering() {
    use flakehound_model::Outcome::{Failed, Passed};
    use flakehound_store::conformance::case;
    use flakehound_store::{NewReport, RunKey};
    let Some(mut h) = harness() else { return };
    h.made.push(0);
    let mut c = postgres::Client::connect(&h.url(0), postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "CREATE SCHEMA {s}; SET search_path = {s};
         CREATE TABLE flakehound_schema (version bigint NOT NULL);
         INSERT INTO flakehound_schema VALUES (1);",
        s = h.schema(0)
    ))
    .unwrap();
    c.batch_execute(include_str!("../migrations/001_initial.sql"))
        .unwrap();
    c.batch_execute(
        "INSERT INTO runs (project, key, next_position, tests_executed, created_at)
             VALUES ('p', 'r1', 2, 2, '2026-01-01T00:00:00Z');
         INSERT INTO tests (project, key, name) VALUES ('p', 'a', 'a'), ('p', 'b', 'b');
         INSERT INTO reports (project, run_id, hash, format, records, results, ingested_at)
             SELECT 'p', id, 'h1', 'junit', 2, 2, '2026-01-01T00:00:00Z' FROM runs;
         INSERT INTO results (run_id, test_id, attempt, report_id, position, outcome)
             SELECT ru.id, t.id, 1, re.id, t.id - 1, 2 FROM runs ru, tests t, reports re;",
    )
    .unwrap();
    drop(c);
    let mut s = PostgresStore::open(&h.url(0), "p", OpenMode::Create).unwrap();
    let key = RunKey("r1".into());
    let meta = flakehound_model::RunMeta::default();
    let info = flakehound_model::ReportInfo::default();
    let a = case("a", &[Passed]);
    let b = case("b", &[Failed, Passed]);
    let w = flakehound_store::write_report(
        &mut s,
        &NewReport::ci_junit("h2", &key, &meta),
        [&a, &b],
        &info,
    )
    .unwrap()
    .unwrap();
    assert_eq!((w.results, w.new_run), (3, false));
    s.flush().unwrap();
    let ev = s.evidence().unwrap();
    let mut got: Vec<(String, u32, u32)> = Vec::new();
    for r in &ev.results {
        got.push((ev.tests[r.test as usize].id.clone(), r.attempt, r.position));
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("a".to_string(), 1, 0),
            ("a".to_string(), 2, 2),
            ("b".to_string(), 1, 1),
            ("b".to_string(), 2, 3),
            ("b".to_string(), 3, 4),
        ]
    );
    drop(s);
    let mut c = postgres::Client::connect(&h.url(0), postgres::NoTls).unwrap();
    let indexes: Vec<String> = c
        .query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
                 AND tablename = 'results' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes, ["results_failed", "results_run"]);
    let version: i64 = c
        .query_one("SELECT version FROM flakehound_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 8);
}

/// A prune that fails after deleting (its aggregates cannot be written) leaves the store as it
/// was: one transaction. Once repaired, the same prune succeeds.
#[test]
fn a_failed_prune_changes_nothing() {
    use flakehound_store::conformance::{retention_fixture, snapshot};
    let Some(mut h) = harness() else { return };
    let mut s = h.open(0, "p");
    let cutoff = retention_fixture(s.as_mut());
    let before = snapshot(s.as_mut());
    let mut c = postgres::Client::connect(&h.url(0), postgres::NoTls).unwrap();
    c.batch_execute("ALTER TABLE test_history RENAME TO test_history_away")
        .unwrap();
    let err = s.prune(cutoff).unwrap_err().to_string();
    assert!(err.contains("test_history"), "{err}");
    c.batch_execute("ALTER TABLE test_history_away RENAME TO test_history")
        .unwrap();
    assert_eq!(snapshot(s.as_mut()), before);
    assert!(s.has_report("fixture0").unwrap());
    assert_eq!(s.prune(cutoff).unwrap().runs, 2);
    assert_eq!(snapshot(s.as_mut()).stats, before.stats);
}

/// The connection dies while an announced ingest streams its results (`Store::expect_reports`,
/// rows sent by a thread while reports are still being written): the writes fail with errors,
/// never a panic or a hang, and nothing of the batch is stored.
#[test]
fn a_connection_lost_while_streaming_loses_the_batch_and_nothing_else() {
    use flakehound_model::{Outcome, ReportInfo, RunMeta};
    use flakehound_store::{NewReport, RunKey, StoreError};
    let Some(mut h) = harness() else { return };
    // Stores the schema's creation and one report first, through a handle of the harness.
    let mut first = h.open(0, "p");
    flakehound_store::write_report(
        first.as_mut(),
        &NewReport::ci_junit("before", &RunKey("before".into()), &RunMeta::default()),
        [&flakehound_store::conformance::case(
            "t",
            &[Outcome::Passed],
        )],
        &ReportInfo::default(),
    )
    .unwrap();
    first.flush().unwrap();
    let app = format!("{}_victim", h.prefix);
    let url = format!("{}&application_name={app}", h.url(0));
    let mut s = PostgresStore::open(&url, "p", OpenMode::Create).unwrap();
    let keys: Vec<RunKey> = (0..20).map(|i| RunKey(format!("r{i}"))).collect();
    let hashes: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    let announced: Vec<(&str, &RunKey)> = hashes.iter().map(String::as_str).zip(&keys).collect();
    s.expect_reports(&announced);
    let cases: Vec<_> = (0..3000)
        .map(|i| flakehound_store::conformance::case(&format!("t{i}"), &[Outcome::Passed]))
        .collect();
    let meta = RunMeta::default();
    let mut errors = Vec::new();
    for (i, (hash, key)) in announced.iter().enumerate() {
        if i == 3 {
            // Three reports of 3,000 results are more than one streamed chunk: the COPY runs.
            let mut admin = postgres::Client::connect(&h.url, postgres::NoTls).unwrap();
            let killed = admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1",
                    &[&app],
                )
                .unwrap();
            assert_eq!(killed, 1);
        }
        let nr = NewReport::ci_junit(hash, key, &meta);
        let r = (|| {
            let mut w = s.begin_report(&nr)?;
            for c in &cases {
                w.add(c.clone())?;
            }
            w.commit(&ReportInfo::default())
        })();
        if let Err(e) = r {
            errors.push(e);
        }
    }
    if let Err(e) = s.flush() {
        errors.push(e);
    }
    assert!(!errors.is_empty(), "a dead connection went unnoticed");
    assert!(
        errors.iter().any(|e| matches!(e, StoreError::BatchLost(_))),
        "the reports written before the connection died are reported lost: {errors:?}"
    );
    drop(s);
    let t = first.totals().unwrap();
    assert_eq!((t.runs, t.reports, t.results), (1, 1, 1));
    assert!(!first.has_report("h0").unwrap());
}
