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

/// Report content reaches the server as literals in the writer's simple queries: hostile text
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
