//! Staging a large report outside the store's write lock.
//!
//! A report too large to buffer in memory (a 1 GB JUnit file) used to be written in a
//! transaction of its own that stayed open for its whole parse: every other writer of the store
//! (a small `ingest` next to it, a `run` in another job) waited for the busy timeout and failed
//! with "database is locked". Now its records go to a private staging database while it is
//! parsed, and only at commit are they copied into the store (set-wise `INSERT … SELECT`, one
//! key probe per test) in one transaction. The store's lock is held for the copy, not for the
//! parse: about 1.8 s for a 100 MiB report whose ingest takes 5 s (benches/concurrent_ingest.sh).
//! The copy is still proportional to the report; bounding it would need rows written in batches
//! yet invisible until the report commits, which every query of the store would have to honour.
//!
//! What the store promises is kept:
//! - **All-or-nothing**: nothing reaches the store before the copy, and the copy is one
//!   transaction. A crash while staging leaves nothing in the store, and no file either: the
//!   staging file is unlinked right after it is attached (SQLite keeps using the open file; it
//!   checks that a database was not moved only when opening an on-disk rollback journal, which
//!   the staging database never has: `journal_mode=OFF`).
//! - **Idempotence by content hash**: whether the report is stored is decided again under the
//!   copy's write lock; another ingest of the same file may have stored it during the parse.
//! - **Numbering across the reports of a run**: staging numbers attempts and positions from
//!   zero within the report; the copy, under the lock, offsets positions by the run's next
//!   position and attempts by each test's last attempt in the run, since another process may
//!   have added reports to the same run meanwhile.
//!
//! The staging file lives next to the store (same filesystem, which must hold the report's rows
//! anyway; a system temp directory may be small or in memory), else in the temp directory.

use crate::store::{backend, now, props_json};
use flakehound_model::{ReportInfo, TestCase};
use flakehound_store::{Result, StoreError};
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Name of the attached staging schema.
const SCHEMA: &str = "fh_staging";

/// Distinct tests whose staging id and attempt count are kept in memory (a few MB); beyond,
/// counts are written back to the staging database and the cache starts over.
const CACHE_ENTRIES: usize = 100_000;

/// Rows per multi-row INSERT into the staging results (6 × 64 parameters).
const ROWS_PER_INSERT: usize = 64;

const STAGING_SCHEMA: &str = "
    CREATE TABLE fh_staging.tests (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, classname TEXT, name TEXT NOT NULL,
        file TEXT, line INTEGER,
        -- Attempts staged for this test, and whether its first one was executed (not skipped).
        attempts INTEGER NOT NULL DEFAULT 0, first_exec INTEGER NOT NULL DEFAULT 0);
    -- Filled in by the copy, under the store's lock: the store's test id of each staged test
    -- and the test's last attempt number in the run before this report.
    CREATE TABLE fh_staging.ids (
        id INTEGER PRIMARY KEY, main_id INTEGER NOT NULL, prev INTEGER NOT NULL);
    -- Staged tests the store already had before the copy, found without its lock.
    CREATE TABLE fh_staging.known (
        id INTEGER PRIMARY KEY, main_id INTEGER NOT NULL, has_file INTEGER NOT NULL);
    CREATE TABLE fh_staging.results (
        position INTEGER PRIMARY KEY, test INTEGER NOT NULL, attempt INTEGER NOT NULL,
        outcome INTEGER NOT NULL, duration REAL, timestamp TEXT, output INTEGER);
    CREATE TABLE fh_staging.outputs (
        id INTEGER PRIMARY KEY, failure_kind TEXT, message TEXT, details TEXT, stdout TEXT,
        stderr TEXT, properties TEXT);";

struct Cached {
    id: i64,
    /// The staged test has a file (else a later record's file is filled in).
    has_file: bool,
    attempts: i64,
    first_exec: bool,
    dirty: bool,
}

/// A report being staged; the connection has the staging database attached and a transaction
/// open on it (only on it: the store itself is neither locked nor read).
pub(crate) struct Staging {
    cache: HashMap<String, Cached>,
    positions: i64,
    pub(crate) records: u64,
    /// Set when the file could not be unlinked while attached: removed on detach.
    remove_on_detach: Option<PathBuf>,
}

/// What the copy did.
pub(crate) struct Copied {
    pub(crate) duplicate: bool,
    pub(crate) run_existed: bool,
    pub(crate) results: u64,
}

/// Finds or creates the report's run: (run id, existed, next position).
pub(crate) type FindRun<'a> = dyn Fn(&Connection) -> Result<(i64, bool, i64)> + 'a;

/// The report's identity and run, as [`crate::writer`] keeps them.
pub(crate) struct Target<'a> {
    pub(crate) project: &'a str,
    pub(crate) hash: &'a str,
    pub(crate) path: Option<&'a str>,
    pub(crate) format: Option<&'static str>,
    /// Finds or creates the run under the lock: (run id, existed, next position).
    pub(crate) run: &'a FindRun<'a>,
}

impl Staging {
    /// Creates and attaches a staging database for a store at `store` (`None`: in memory).
    /// The connection must have no open transaction.
    pub(crate) fn attach(conn: &Connection, store: Option<&Path>) -> Result<Staging> {
        let dirs = store
            .and_then(|p| {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                dir.map_or_else(|| std::env::current_dir().ok(), |d| Some(d.to_path_buf()))
            })
            .into_iter()
            .chain([std::env::temp_dir()]);
        let stem = store
            .and_then(|p| p.file_name())
            .map_or_else(|| "flakehound".into(), |n| n.to_string_lossy().into_owned());
        let mut last_err = None;
        for dir in dirs {
            match attach_in(conn, &dir, &stem) {
                Ok(s) => return Ok(s),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| StoreError::Backend("no staging directory".into())))
    }

    fn test(&mut self, conn: &Connection, case: &TestCase) -> Result<&mut Cached> {
        if let Some(c) = self.cache.get_mut(&case.id) {
            if !c.has_file && case.file.is_some() {
                conn.prepare_cached(
                    "UPDATE fh_staging.tests SET file = ?2, line = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![c.id, case.file, case.line]))
                .map_err(backend)?;
                c.has_file = true;
            }
        } else {
            if self.cache.len() >= CACHE_ENTRIES {
                self.write_back(conn)?;
                self.cache.clear();
            }
            let found: Option<(i64, i64, bool, bool)> = conn
                .prepare_cached(
                    "SELECT id, attempts, first_exec, file IS NOT NULL FROM fh_staging.tests
                     WHERE key = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([&case.id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                })
                .map_err(backend)?;
            let (id, attempts, first_exec, has_file) = match found {
                Some((id, attempts, first_exec, has_file)) => {
                    if !has_file && case.file.is_some() {
                        conn.prepare_cached(
                            "UPDATE fh_staging.tests SET file = ?2, line = ?3 WHERE id = ?1",
                        )
                        .and_then(|mut s| s.execute(params![id, case.file, case.line]))
                        .map_err(backend)?;
                    }
                    (id, attempts, first_exec, has_file || case.file.is_some())
                }
                None => {
                    conn.prepare_cached(
                        "INSERT INTO fh_staging.tests (key, classname, name, file, line)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            case.id,
                            case.classname,
                            case.name,
                            case.file,
                            case.line
                        ])
                    })
                    .map_err(backend)?;
                    (conn.last_insert_rowid(), 0, false, case.file.is_some())
                }
            };
            self.cache.insert(
                case.id.clone(),
                Cached {
                    id,
                    has_file,
                    attempts,
                    first_exec,
                    dirty: false,
                },
            );
        }
        Ok(self.cache.get_mut(&case.id).expect("inserted above"))
    }

    /// Stores the cached attempt counts in the staging database.
    fn write_back(&mut self, conn: &Connection) -> Result<()> {
        let mut stmt = conn
            .prepare_cached(
                "UPDATE fh_staging.tests SET attempts = ?2, first_exec = ?3 WHERE id = ?1",
            )
            .map_err(backend)?;
        for c in self.cache.values_mut().filter(|c| c.dirty) {
            stmt.execute(params![c.id, c.attempts, c.first_exec])
                .map_err(backend)?;
            c.dirty = false;
        }
        Ok(())
    }

    /// Stages the results of `cases`, in report order.
    pub(crate) fn add(&mut self, conn: &Connection, cases: &[TestCase]) -> Result<()> {
        // (position, test, attempt, outcome, duration, timestamp, output)
        type Row<'c> = (i64, i64, i64, i64, Option<f64>, Option<String>, Option<i64>);
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(cases.len());
        for case in cases {
            let props = props_json(&case.properties);
            let timestamp = flakehound_store::time::canonical_or_raw(case.timestamp.as_deref());
            // Registered even without attempts, as the buffered writer does.
            self.test(conn, case)?;
            for (i, a) in case.attempts.iter().enumerate() {
                let t = self.cache.get_mut(&case.id).expect("registered above");
                t.attempts += 1;
                t.dirty = true;
                if t.attempts == 1 {
                    t.first_exec = a.outcome != flakehound_model::Outcome::Skipped;
                }
                let (test, attempt) = (t.id, t.attempts);
                let props = if i == 0 { props.as_deref() } else { None };
                let f = a.failure.as_ref();
                let output = if f.is_none()
                    && a.stdout.is_none()
                    && a.stderr.is_none()
                    && props.is_none()
                    && case.timestamp.is_none()
                {
                    None
                } else {
                    conn.prepare_cached(
                        "INSERT INTO fh_staging.outputs (failure_kind, message, details, stdout,
                            stderr, properties) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            f.and_then(|f| f.kind.as_deref()),
                            f.and_then(|f| f.message.as_deref()),
                            f.and_then(|f| f.details.as_deref()),
                            a.stdout,
                            a.stderr,
                            props,
                        ])
                    })
                    .map_err(backend)?;
                    Some(conn.last_insert_rowid())
                };
                rows.push((
                    self.positions,
                    test,
                    attempt,
                    a.outcome.severity() as i64,
                    a.duration,
                    timestamp.clone(),
                    output,
                ));
                self.positions += 1;
            }
            self.records += 1;
        }
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO fh_staging.results (position, test, attempt, outcome, duration, \
                 timestamp, output) VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 {
                    "(?,?,?,?,?,?,?)"
                } else {
                    ",(?,?,?,?,?,?,?)"
                });
            }
            let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
            let mut col = 0;
            let mut bind = |v: &dyn rusqlite::ToSql| {
                col += 1;
                stmt.raw_bind_parameter(col, v).map_err(backend)
            };
            for r in chunk {
                bind(&r.0)?;
                bind(&r.1)?;
                bind(&r.2)?;
                bind(&r.3)?;
                bind(&r.4)?;
                bind(&r.5)?;
                bind(&r.6)?;
            }
            stmt.raw_execute().map_err(backend)?;
        }
        Ok(())
    }

    /// Copies the staged report into the store in one transaction, under the store's write
    /// lock. On error nothing of it is in the store.
    pub(crate) fn copy(
        &mut self,
        conn: &Connection,
        target: &Target<'_>,
        info: &ReportInfo,
    ) -> Result<Copied> {
        self.write_back(conn)?;
        resolve_known(conn)?;
        // The staging transaction ends here, so that the store's lock is taken by a transaction
        // of its own, with the busy handler (a deferred one upgrading to write would not wait).
        conn.execute_batch("COMMIT").map_err(backend)?;
        #[cfg(test)]
        tests::before_lock();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        let copied = copy_locked(conn, self.positions, self.records, target, info);
        match copied {
            Ok(c) if c.duplicate => {
                conn.execute_batch("ROLLBACK").map_err(backend)?;
                Ok(c)
            }
            Ok(c) => {
                conn.execute_batch("COMMIT").map_err(backend)?;
                Ok(c)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Rolls back whatever is open and detaches (and so deletes) the staging database.
    pub(crate) fn discard(self, conn: &Connection) {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.detach(conn);
    }

    /// Detaches the staging database, whose file is then gone.
    pub(crate) fn detach(self, conn: &Connection) {
        // Cached statements naming the staging schema would keep it busy.
        conn.flush_prepared_statement_cache();
        let _ = conn.execute_batch(&format!("DETACH DATABASE {SCHEMA}"));
        if let Some(p) = self.remove_on_detach {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn attach_in(conn: &Connection, dir: &Path, stem: &str) -> Result<Staging> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let failed = |path: &Path, e: &dyn std::fmt::Display| {
        StoreError::Backend(format!(
            "cannot create the staging file {}: {e}",
            path.display()
        ))
    };
    // A fresh name, created here, so that an existing file is never attached or removed.
    let (path, _file) = loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            "{stem}-staging-{}-{n}-{nanos:x}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => break (path, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(failed(&path, &e)),
        }
    };
    let Some(name) = path.to_str() else {
        let _ = std::fs::remove_file(&path);
        return Err(failed(&path, &"path is not valid UTF-8"));
    };
    // A relative name could read as a URI (`file:...`): attach by absolute path.
    if let Err(e) = conn.execute(&format!("ATTACH DATABASE ?1 AS {SCHEMA}"), [name]) {
        let _ = std::fs::remove_file(&path);
        return Err(failed(&path, &e));
    }
    let mut staging = Staging {
        cache: HashMap::default(),
        positions: 0,
        records: 0,
        remove_on_detach: Some(path.clone()),
    };
    // Throwaway data: no journal (never rolled back, only discarded), no fsync; a cache of
    // its own so that staging does not evict the store's pages.
    let setup = conn
        .execute_batch(&format!(
            "PRAGMA {SCHEMA}.journal_mode = OFF; PRAGMA {SCHEMA}.synchronous = OFF;
             PRAGMA {SCHEMA}.cache_size = -16384;"
        ))
        .and_then(|()| conn.execute_batch(STAGING_SCHEMA))
        .and_then(|()| conn.execute_batch("BEGIN"));
    if let Err(e) = setup {
        staging.discard(conn);
        return Err(failed(&path, &e));
    }
    // Gone from the directory now: a crash cannot leave it behind.
    if std::fs::remove_file(&path).is_ok() {
        staging.remove_on_detach = None;
    }
    Ok(staging)
}

/// Finds the staged tests the store already has, before taking its lock: most of a large
/// report's tests usually are (the same suite, another run), and finding them was most of the
/// copy's time (one probe of the store's key index per test: 5.8 s of 7.6 s for 1.1 M tests).
/// Probed in first-seen order, which is the store's id order for a suite it has seen, and
/// appends to `known` in rowid order (key order measured slower: its `known` inserts are
/// random). Sound because tests are never deleted nor re-keyed: an id read now is still right
/// under the lock. Tests another writer adds meanwhile are found under the lock.
fn resolve_known(conn: &Connection) -> Result<()> {
    let mut read = conn
        .prepare("SELECT id, key FROM fh_staging.tests ORDER BY id")
        .map_err(backend)?;
    let mut find = conn
        .prepare_cached("SELECT id, file IS NOT NULL FROM main.tests WHERE key = ?1")
        .map_err(backend)?;
    let mut known = conn
        .prepare_cached("INSERT INTO fh_staging.known (id, main_id, has_file) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    let mut rows = read.query([]).map_err(backend)?;
    while let Some(r) = rows.next().map_err(backend)? {
        let staged: i64 = r.get(0).map_err(backend)?;
        let key: String = r.get(1).map_err(backend)?;
        let found: Option<(i64, bool)> = find
            .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        if let Some((id, has_file)) = found {
            known
                .execute(params![staged, id, has_file])
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// The copy, inside the store's write transaction.
fn copy_locked(
    conn: &Connection,
    positions: i64,
    records: u64,
    target: &Target<'_>,
    info: &ReportInfo,
) -> Result<Copied> {
    let stored = conn
        .prepare_cached("SELECT 1 FROM main.reports WHERE project = ?1 AND hash = ?2")
        .and_then(|mut s| s.exists([target.project, target.hash]))
        .map_err(backend)?;
    if stored {
        return Ok(Copied {
            duplicate: true,
            run_existed: false,
            results: 0,
        });
    }
    let (run, run_existed, offset) = (target.run)(conn)?;
    let exec = |sql: &str, p: &[&dyn rusqlite::ToSql]| conn.execute(sql, p).map_err(backend);
    // Each staged test's id in the store, in first-seen order (new tests get ids in the order the
    // buffered writer would give them). One probe of the store's key index per test; a stored
    // test without a file gets the one this report names, as in the buffered writer.
    let mut executed: i64 = 0;
    {
        let mut read = conn
            .prepare(
                "SELECT id, key, classname, name, file, line, first_exec FROM fh_staging.tests
                 ORDER BY id",
            )
            .map_err(backend)?;
        let mut find = conn
            .prepare_cached("SELECT id, file IS NULL FROM main.tests WHERE key = ?1")
            .map_err(backend)?;
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO main.tests (key, classname, name, file, line) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(backend)?;
        let mut fill = conn
            .prepare_cached(
                "UPDATE main.tests SET file = ?2, line = ?3 WHERE id = ?1 AND file IS NULL",
            )
            .map_err(backend)?;
        let mut pre = conn
            .prepare_cached("SELECT main_id, NOT has_file FROM fh_staging.known WHERE id = ?1")
            .map_err(backend)?;
        let mut last = conn
            .prepare_cached(
                "SELECT COALESCE(MAX(attempt), 0) FROM main.results WHERE run_id = ?1 AND test_id = ?2",
            )
            .map_err(backend)?;
        let mut map = conn
            .prepare_cached("INSERT INTO fh_staging.ids (id, main_id, prev) VALUES (?1, ?2, ?3)")
            .map_err(backend)?;
        let mut rows = read.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let get = |e| backend(e);
            let staged: i64 = r.get(0).map_err(get)?;
            let key: String = r.get(1).map_err(get)?;
            let file: Option<String> = r.get(4).map_err(get)?;
            let line: Option<i64> = r.get(5).map_err(get)?;
            let first_exec: bool = r.get(6).map_err(get)?;
            let pre: Option<(i64, bool)> = pre
                .query_row([staged], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(backend)?;
            let found = match pre {
                Some(p) => Some(p),
                // New, or added by another writer since resolve_known.
                None => find
                    .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(backend)?,
            };
            let (main_id, prev) = match found {
                Some((id, no_file)) => {
                    if no_file && file.is_some() {
                        fill.execute(params![id, file, line]).map_err(backend)?;
                    }
                    let prev: i64 = if run_existed {
                        last.query_row([run, id], |r| r.get(0)).map_err(backend)?
                    } else {
                        0
                    };
                    (id, prev)
                }
                None => {
                    let classname: Option<String> = r.get(2).map_err(get)?;
                    let name: String = r.get(3).map_err(get)?;
                    insert
                        .execute(params![key, classname, name, file, line])
                        .map_err(backend)?;
                    (conn.last_insert_rowid(), 0)
                }
            };
            if prev == 0 && first_exec {
                executed += 1;
            }
            map.execute([staged, main_id, prev]).map_err(backend)?;
        }
    }
    let outputs_base: i64 = conn
        .query_row("SELECT COALESCE(MAX(id), 0) FROM main.outputs", [], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    exec(
        "INSERT INTO main.outputs (id, failure_kind, message, details, stdout, stderr, properties)
         SELECT id + ?1, failure_kind, message, details, stdout, stderr, properties
         FROM fh_staging.outputs ORDER BY id",
        &[&outputs_base],
    )?;
    let agg = info.aggregate;
    exec(
        "INSERT INTO main.reports (run_id, hash, path, format, tool, timestamp, hostname, duration,
            properties, records, results, agg_tests, agg_passed, agg_failed, agg_errored,
            agg_skipped, ingested_at, project)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        &[
            &run,
            &target.hash,
            &target.path,
            &info
                .format
                .map(|f| f.as_str())
                .or(target.format)
                .unwrap_or("unknown"),
            &info.tool,
            &flakehound_store::time::canonical_or_raw(info.timestamp.as_deref()),
            &info.hostname,
            &info.duration,
            &props_json(&info.properties),
            &(records as i64),
            &positions,
            &agg.map(|a| a.tests as i64),
            &agg.map(|a| a.passed as i64),
            &agg.map(|a| a.failed as i64),
            &agg.map(|a| a.errored as i64),
            &agg.map(|a| a.skipped as i64),
            &now(),
            &target.project,
        ],
    )?;
    let report = conn.last_insert_rowid();
    let results = exec(
        "INSERT INTO main.results (test_id, run_id, attempt, report_id, position, outcome, duration,
            timestamp, output_id)
         SELECT t.main_id, ?1, s.attempt + t.prev, ?2, s.position + ?3, s.outcome, s.duration,
            s.timestamp, s.output + ?4
         FROM fh_staging.results s JOIN fh_staging.ids t ON t.id = s.test",
        &[&run, &report, &offset, &outputs_base],
    )?;
    exec(
        "UPDATE main.runs SET next_position = ?2, started_at = COALESCE(started_at, ?3),
            tests_executed = tests_executed + ?4 WHERE id = ?1",
        &[
            &run,
            &(offset + positions),
            &info
                .timestamp
                .as_deref()
                .and_then(flakehound_store::time::canonical),
            &executed,
        ],
    )?;
    Ok(Copied {
        duplicate: false,
        run_existed,
        results: results as u64,
    })
}

#[cfg(test)]
mod tests {
    //! Staged reports against the buffered writer (the reference), on real files; and a second
    //! writer while a staged report is paused mid-parse (a hook, never a timing race).
    use crate::store::SqliteStore;
    use std::cell::RefCell;

    thread_local! {
        /// Run by `Staging::copy` between finding known tests and taking the lock (this
        /// thread's copies only): another writer acting in that window, deterministically.
        static BEFORE_LOCK: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    pub(super) fn before_lock() {
        if let Some(f) = BEFORE_LOCK.with(|h| h.borrow_mut().take()) {
            f();
        }
    }

    /// Tests another writer creates after `resolve_known` looked (so they are not "known") are
    /// found under the lock and shared, not inserted twice (a UNIQUE error would lose the
    /// report); a file it gave a test is kept.
    #[test]
    fn tests_created_by_another_writer_just_before_the_copy_are_shared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fh.db");
        let mut s = SqliteStore::open(&path).unwrap();
        s.set_buffer_bytes(0);
        let key = RunKey("r1".into());
        let meta = RunMeta::default();
        let nr = NewReport::ci_junit("mine", &key, &meta);
        let mut w = s.begin_report(&nr).unwrap();
        w.add(case("x", &[Outcome::Failed], Some("mine.py")))
            .unwrap();
        w.add(case("y", &[Outcome::Passed], None)).unwrap();
        let other_path = path.clone();
        BEFORE_LOCK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move || {
                let mut o = SqliteStore::open(&other_path).unwrap();
                let key = RunKey("r2".into());
                let meta = RunMeta::default();
                let nr = NewReport::ci_junit("theirs", &key, &meta);
                let mut w = o.begin_report(&nr).unwrap();
                w.add(case("x", &[Outcome::Passed], Some("theirs.py")))
                    .unwrap();
                w.add(case("y", &[Outcome::Passed], None)).unwrap();
                w.commit(&ReportInfo::default()).unwrap();
                o.flush().unwrap();
            }))
        });
        let written = w.commit(&ReportInfo::default()).unwrap();
        assert_eq!(written.results, 2);
        let t = s.totals().unwrap();
        assert_eq!((t.reports, t.tests, t.results), (2, 2, 4));
        let stats = s.test_stats().unwrap();
        let x = stats.iter().find(|t| t.id == "x").unwrap();
        assert_eq!((x.runs, x.failures), (2, 1));
        assert_eq!(x.file.as_deref(), Some("theirs.py"));
    }
    use flakehound_model::{Attempt, Failure, Format, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::{NewReport, RunKey, Store};
    use rusqlite::Connection;
    use std::path::Path;

    fn case(id: &str, outcomes: &[Outcome], file: Option<&str>) -> TestCase {
        TestCase {
            id: id.into(),
            classname: Some("C".into()),
            name: id.into(),
            file: file.map(str::to_string),
            line: file.map(|_| 7),
            suite: vec![],
            outcome: *outcomes.last().unwrap_or(&Outcome::Skipped),
            attempts: outcomes
                .iter()
                .map(|&o| {
                    let mut a = Attempt::new(o);
                    a.duration = Some(0.5);
                    if o == Outcome::Failed {
                        a.failure = Some(Failure {
                            kind: Some("AssertionError".into()),
                            message: Some(format!("{id} boom")),
                            details: Some("trace".into()),
                        });
                        a.stdout = Some("out".into());
                    }
                    a
                })
                .collect(),
            properties: if id.ends_with('3') {
                vec![("k".into(), "v".into())]
            } else {
                vec![]
            },
            timestamp: None,
        }
    }

    type Report = (&'static str, &'static str, Vec<TestCase>);

    /// Reports covering what numbering depends on: a run spread over several reports (attempts
    /// and positions continue), retries inside a report, a test first seen without a file,
    /// skips, failures with text, a test with no attempts, and the same content twice.
    fn reports() -> Vec<Report> {
        use Outcome::*;
        let many: Vec<TestCase> = (0..300)
            .map(|i| {
                let o: &[Outcome] = match i % 5 {
                    0 => &[Failed, Passed],
                    1 => &[Skipped],
                    2 => &[Failed],
                    _ => &[Passed],
                };
                case(&format!("t{i}"), o, None)
            })
            .collect();
        vec![
            ("h1", "run-a", many.clone()),
            (
                "h2",
                "run-a",
                vec![
                    case("t0", &[Failed], Some("tests/t0.py")),
                    case("new", &[Passed, Passed], None),
                    case("t1", &[Passed], None),
                    case("empty", &[], None),
                ],
            ),
            ("h3", "run-b", many[..50].to_vec()),
            ("h1", "run-a", many),
        ]
    }

    fn write_all(s: &mut SqliteStore) {
        for (hash, run, cases) in reports() {
            if s.has_report(hash).unwrap() {
                continue;
            }
            let key = RunKey(run.into());
            let meta = RunMeta {
                commit: Some("c1".into()),
                ..RunMeta::default()
            };
            let nr = NewReport {
                hash,
                path: Some(hash),
                format: None,
                run_key: &key,
                run: &meta,
                source: flakehound_model::RunSource::Ci,
            };
            let mut w = s.begin_report(&nr).unwrap();
            for c in cases {
                w.add(c).unwrap();
            }
            let info = ReportInfo {
                format: Some(Format::Junit),
                tool: Some("pytest".into()),
                timestamp: Some("2024-05-01T10:00:00Z".into()),
                ..ReportInfo::default()
            };
            let written = w.commit(&info).unwrap();
            assert!(!written.duplicate);
        }
        s.flush().unwrap();
    }

    /// Everything stored, with store-local ids replaced by what they name.
    fn dump(path: &Path) -> Vec<String> {
        let c = Connection::open(path).unwrap();
        let q = |sql: &str| -> Vec<String> {
            let mut st = c.prepare(sql).unwrap();
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let mut all = q(
            "SELECT key || '|' || source || '|' || IFNULL(started_at, '-') || '|' ||
                next_position || '|' || tests_executed FROM runs ORDER BY key",
        );
        all.extend(q(
            "SELECT hash || '|' || IFNULL(path, '-') || '|' || format || '|' ||
                IFNULL(tool, '-') || '|' || records || '|' || results FROM reports ORDER BY hash",
        ));
        all.extend(q(
            "SELECT key || '|' || IFNULL(classname, '-') || '|' || name || '|' ||
                IFNULL(file, '-') || '|' || IFNULL(line, '-') FROM tests ORDER BY key",
        ));
        all.extend(q(
            "SELECT ru.key || '|' || t.key || '|' || r.attempt || '|' || rp.hash || '|' ||
                r.position || '|' || r.outcome || '|' || IFNULL(r.duration, '-') || '|' ||
                IFNULL(o.failure_kind, '-') || IFNULL(o.message, '-') || IFNULL(o.details, '-') ||
                IFNULL(o.stdout, '-') || IFNULL(o.stderr, '-') || IFNULL(o.properties, '-')
             FROM results r JOIN runs ru ON ru.id = r.run_id JOIN tests t ON t.id = r.test_id
             JOIN reports rp ON rp.id = r.report_id LEFT JOIN outputs o ON o.id = r.output_id
             ORDER BY ru.key, t.key, r.attempt",
        ));
        all.extend(q("SELECT 'outputs ' || COUNT(*) FROM outputs"));
        all
    }

    #[test]
    fn a_staged_report_is_stored_exactly_as_a_buffered_one() {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("buffered.db"), dir.path().join("staged.db"));
        let mut a = SqliteStore::open(&pa).unwrap();
        write_all(&mut a);
        let mut b = SqliteStore::open(&pb).unwrap();
        // Every report is staged.
        b.set_buffer_bytes(0);
        write_all(&mut b);
        let (da, db) = (dump(&pa), dump(&pb));
        assert!(da.len() > 700, "{}", da.len());
        let differ: Vec<_> = da.iter().zip(&db).filter(|(x, y)| x != y).take(5).collect();
        assert!(differ.is_empty() && da.len() == db.len(), "{differ:?}");
        assert_eq!(a.test_stats().unwrap(), b.test_stats().unwrap());
        assert_eq!(a.evidence().unwrap(), b.evidence().unwrap());
        // Staging leaves no file behind.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("staging"))
            .collect();
        names.sort();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn a_staged_report_that_fails_or_is_stored_meanwhile_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fh.db");
        let mut s = SqliteStore::open(&path).unwrap();
        s.set_buffer_bytes(0);
        let key = RunKey("r".into());
        let meta = RunMeta::default();
        let nr = NewReport::ci_junit("h", &key, &meta);
        // Dropped mid-report (the parse failed): nothing stored.
        {
            let mut w = s.begin_report(&nr).unwrap();
            w.add(case("x", &[Outcome::Passed], None)).unwrap();
            w.add(case("y", &[Outcome::Failed], None)).unwrap();
        }
        let t = s.totals().unwrap();
        assert_eq!((t.reports, t.runs, t.tests, t.results), (0, 0, 0, 0));
        // Stored by another writer while this one staged it: a duplicate, nothing added.
        let mut other = SqliteStore::open(&path).unwrap();
        let mut w = s.begin_report(&nr).unwrap();
        w.add(case("x", &[Outcome::Passed], None)).unwrap();
        {
            let mut o = other.begin_report(&nr).unwrap();
            o.add(case("x", &[Outcome::Passed], None)).unwrap();
            o.commit(&ReportInfo::default()).unwrap();
            other.flush().unwrap();
        }
        let written = w.commit(&ReportInfo::default()).unwrap();
        assert!(written.duplicate);
        let t = s.totals().unwrap();
        assert_eq!((t.reports, t.runs, t.tests, t.results), (1, 1, 1, 1));
    }

    /// The regression: a large report used to hold the store's write lock for its whole parse,
    /// so a small write next to it waited for the busy timeout and failed. The large writer is
    /// paused mid-report by the hook; the small one must complete while it waits.
    #[test]
    fn a_small_write_completes_while_a_large_report_is_being_staged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fh.db");
        let signal = dir.path().join("signal");
        std::fs::create_dir(&signal).unwrap();
        let mut big = SqliteStore::open(&path).unwrap();
        big.set_buffer_bytes(0);
        big.pause_staging_in(Some(signal.clone()));
        let large = std::thread::spawn(move || {
            let key = RunKey("big".into());
            let meta = RunMeta::default();
            let nr = NewReport::ci_junit("big", &key, &meta);
            let mut w = big.begin_report(&nr).unwrap();
            for i in 0..2000 {
                w.add(case(&format!("big{i}"), &[Outcome::Passed], None))
                    .unwrap();
            }
            let written = w.commit(&ReportInfo::default()).unwrap();
            big.flush().unwrap();
            written
        });
        while !signal.join("staging").exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The large writer is now inside its report, paused.
        let mut small = SqliteStore::open(&path).unwrap();
        // Fails fast instead of after 30 s if the lock is held (it is not held at all).
        small
            .conn_mut()
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let key = RunKey("small".into());
        let meta = RunMeta::default();
        let nr = NewReport::ci_junit("small", &key, &meta);
        let mut w = small.begin_report(&nr).unwrap();
        w.add(case("s", &[Outcome::Passed], None)).unwrap();
        let written = w.commit(&ReportInfo::default()).map(|w| w.results);
        let flushed = small.flush();
        std::fs::write(signal.join("resume"), "").unwrap();
        let big_written = large.join().unwrap();
        assert_eq!(written.unwrap(), 1);
        flushed.unwrap();
        assert_eq!(big_written.results, 2000);
        let t = small.totals().unwrap();
        assert_eq!((t.reports, t.runs, t.results), (2, 2, 2001));
    }
}

#[cfg(test)]
mod write_error_tests {
    //! A write that fails names the store and SQLite's reason. The fault is real: SQLite's own
    //! page limit (`max_page_count`) makes the store "full" as a full disk would.
    use crate::store::SqliteStore;
    use flakehound_model::{Attempt, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::{NewReport, RunKey, Store, StoreError};

    fn case(i: usize) -> TestCase {
        let mut a = Attempt::new(Outcome::Failed);
        a.stdout = Some("x".repeat(2000));
        TestCase {
            id: format!("t{i}"),
            classname: None,
            name: format!("t{i}"),
            file: None,
            line: None,
            suite: vec![],
            outcome: Outcome::Failed,
            attempts: vec![a],
            properties: vec![],
            timestamp: None,
        }
    }

    fn write(s: &mut SqliteStore, hash: &str) -> flakehound_store::Result<()> {
        let key = RunKey(hash.into());
        let meta = RunMeta::default();
        let nr = NewReport::ci_junit(hash, &key, &meta);
        let mut w = s.begin_report(&nr)?;
        for i in 0..200 {
            w.add(case(i))?;
        }
        w.commit(&ReportInfo::default())?;
        s.flush()
    }

    #[test]
    fn a_failed_write_names_the_store_and_the_reason() {
        for staged in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("full.db");
            let mut s = SqliteStore::open(&path).unwrap();
            if staged {
                s.set_buffer_bytes(0);
            }
            write(&mut s, "first").unwrap();
            let pages: i64 = s
                .conn_mut()
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            s.conn_mut()
                .pragma_update(None, "max_page_count", pages)
                .unwrap();
            let err = write(&mut s, "second").unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&path.display().to_string()) && msg.contains("full"),
                "staged {staged}: {msg}"
            );
            if !staged {
                assert!(matches!(err, StoreError::BatchLost(_)), "{err:?}");
            }
            // Nothing of the failed report; the first is intact.
            s.conn_mut()
                .pragma_update(None, "max_page_count", 1_000_000)
                .unwrap();
            let t = s.totals().unwrap();
            assert_eq!((t.reports, t.results), (1, 200), "staged {staged}");
        }
    }
}

#[cfg(test)]
mod batch_hold_tests {
    use crate::store::SqliteStore;
    use flakehound_model::{Attempt, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::{NewReport, RunKey, Store};
    use std::time::Duration;

    fn write(s: &mut SqliteStore, hash: &str) {
        let key = RunKey(hash.into());
        let meta = RunMeta::default();
        let nr = NewReport::ci_junit(hash, &key, &meta);
        let mut w = s.begin_report(&nr).unwrap();
        w.add(TestCase {
            id: "t".into(),
            classname: None,
            name: "t".into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: Outcome::Passed,
            attempts: vec![Attempt::new(Outcome::Passed)],
            properties: vec![],
            timestamp: None,
        })
        .unwrap();
        w.commit(&ReportInfo::default()).unwrap();
    }

    /// Holds are controlled (zero, an hour), never raced against the clock.
    #[test]
    fn a_batch_asks_to_be_flushed_once_it_held_the_write_lock_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("fh.db")).unwrap();
        assert!(!s.flush_due(), "no batch open");
        s.set_batch_hold(Duration::from_secs(3600));
        write(&mut s, "a");
        assert!(!s.flush_due());
        s.set_batch_hold(Duration::ZERO);
        assert!(s.flush_due());
        s.flush().unwrap();
        assert!(!s.flush_due(), "flushed");
        write(&mut s, "b");
        assert!(s.flush_due());
    }
}
