//! The engine-neutral store suite (`flakehound_store::conformance`) against SQLite: each store
//! of a test is a file in the test's temporary directory.

use flakehound_store::Store;
use flakehound_store_sqlite::SqliteStore;

/// Stores of one test: files in its temporary directory.
struct Files(tempfile::TempDir);

impl flakehound_store::conformance::Harness for Files {
    fn open(&mut self, db: usize, project: &str) -> Box<dyn Store> {
        let path = self.0.path().join(format!("store-{db}.db"));
        Box::new(
            SqliteStore::open(&path)
                .and_then(|s| s.with_project(project))
                .expect("open store"),
        )
    }

    fn admin(&mut self, db: usize) -> Option<Box<dyn flakehound_store::Admin>> {
        let path = self.0.path().join(format!("store-{db}.db"));
        Some(Box::new(SqliteStore::open(&path).expect("open store")))
    }

    fn alerts(&mut self, db: usize) -> Option<Box<dyn flakehound_store::AlertStore>> {
        let path = self.0.path().join(format!("store-{db}.db"));
        Some(Box::new(SqliteStore::open(&path).expect("open store")))
    }
}

fn harness() -> Option<Files> {
    Some(Files(tempfile::tempdir().expect("temporary directory")))
}

flakehound_store::conformance_tests!(harness());
