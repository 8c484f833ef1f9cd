//! Measurement, not a timed test: the SQLite-only merge (`ATTACH`, `INSERT … SELECT`) against the
//! engine-neutral replay (`flakehound_store::merge`) on a real store, and whether both give the
//! same evidence. Run by hand:
//! `FLAKEHOUND_MERGE_SRC=store.db cargo test --release -p flakehound-store-sqlite --test merge_speed -- --ignored --nocapture`

use flakehound_store::Store;
use flakehound_store_sqlite::SqliteStore;

#[test]
#[ignore = "a measurement: needs FLAKEHOUND_MERGE_SRC"]
fn sqlite_merge_against_replay() {
    let Ok(src) = std::env::var("FLAKEHOUND_MERGE_SRC") else {
        eprintln!("set FLAKEHOUND_MERGE_SRC to a store file");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("attach.db"), dir.path().join("replay.db"));
    let t = std::time::Instant::now();
    let m = SqliteStore::open(&a)
        .unwrap()
        .merge_from(src.as_ref())
        .unwrap();
    let attach = t.elapsed();
    let t = std::time::Instant::now();
    let mut from = SqliteStore::open(src.as_ref()).unwrap();
    let mut to = SqliteStore::open(&b).unwrap();
    let r = flakehound_store::merge(&mut to, &mut from).unwrap();
    to.flush().unwrap();
    let replay = t.elapsed();
    eprintln!(
        "attach: {:.2} s ({} reports), replay: {:.2} s ({} reports)",
        attach.as_secs_f64(),
        m.reports,
        replay.as_secs_f64(),
        r.reports
    );
    let mut sa = SqliteStore::open(&a).unwrap();
    let same = flakehound_store::conformance::snapshot(&mut sa)
        == flakehound_store::conformance::snapshot(&mut to);
    eprintln!("same evidence: {same}");
}
