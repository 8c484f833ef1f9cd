//! The engine-neutral store suite (`flakehound_store::conformance`) against SQLite: each store
//! of a test is a file in the test's temporary directory.

use flakehound_store::Store;
use flakehound_store_sqlite::SqliteStore;

fn harness() -> Option<impl flakehound_store::conformance::Harness> {
    let dir = tempfile::tempdir().expect("temporary directory");
    Some(move |db: usize, project: &str| -> Box<dyn Store> {
        let path = dir.path().join(format!("store-{db}.db"));
        Box::new(
            SqliteStore::open(&path)
                .and_then(|s| s.with_project(project))
                .expect("open store"),
        )
    })
}

flakehound_store::conformance_tests!(harness());
