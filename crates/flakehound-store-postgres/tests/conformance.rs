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
