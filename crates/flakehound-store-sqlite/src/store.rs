//! The embedded SQLite store (bundled SQLite: no system library needed).
//!
//! - WAL journal with `synchronous=NORMAL`: a crash can lose the last committed reports but
//!   never corrupts the store or leaves half a report (re-running the ingest restores them).
//! - Batched writes: reports are written inside one transaction per batch (see
//!   [`crate::writer`] for how each report stays all-or-nothing); the batch commits on
//!   [`Store::flush`] (the caller decides how often) and on drop. Committing per report instead
//!   made ingest 5× slower: every commit rewrote the same scattered index pages into the WAL.
//!   A process killed mid-batch loses only uncommitted reports, which the next ingest adds.
//! - Migrations are SQL files embedded in the binary, applied in order and tracked with
//!   `PRAGMA user_version`.
//! - Test ids are cached in memory across reports of one session; rows created by a rolled-back
//!   report are evicted from the cache (the whole cache is dropped if a batch commit fails).

use crate::writer::SqliteWriter;
use flakehound_model::{Category, Counts, Outcome, RunSource};
use flakehound_store::{
    Evidence, FailureText, NewReport, Note, NoteKind, ReportWriter, Result, ResultRow, RunRow,
    Store, StoreError, TestRow, TestStats, Totals,
};
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Embedded migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[Migration] = &[
    Migration::Sql(include_str!("../migrations/001_initial.sql")),
    Migration::Sql(include_str!("../migrations/002_sparse.sql")),
    Migration::Sql(include_str!("../migrations/003_notes.sql")),
    Migration::Code(migrate_4_utc_timestamps),
    Migration::Sql(include_str!("../migrations/005_projects.sql")),
    Migration::Sql(include_str!("../migrations/006_server.sql")),
    Migration::Sql(include_str!("../migrations/007_alerts.sql")),
    Migration::Sql(include_str!("../migrations/008_ci_jobs.sql")),
    Migration::Sql(include_str!("../migrations/009_retention.sql")),
    Migration::Sql(include_str!("../migrations/010_server_extras.sql")),
    Migration::Sql(include_str!("../migrations/011_codeowners_uploads.sql")),
];

/// Schema version 4: every stored timestamp in the one canonical form of [`flakehound_store::time`]
/// (earlier versions stored what reports and CI wrote, offsets and fractions included, so "last
/// seen" and run order compared text instead of instants). A run start that is not a date-time
/// is dropped (the run falls back to when it was stored); report and attempt times that are not
/// date-times stay as written, since they are only shown.
fn migrate_4_utc_timestamps(conn: &Connection) -> Result<()> {
    // (table, key columns, column, drop unreadable values)
    const COLUMNS: &[(&str, &str, &str, bool)] = &[
        ("runs", "id", "started_at", true),
        ("runs", "id", "created_at", false),
        ("reports", "id", "timestamp", false),
        ("reports", "id", "ingested_at", false),
        ("results", "run_id, test_id, attempt", "timestamp", false),
        ("notes", "id", "created_at", false),
    ];
    for &(table, key, column, drop_unreadable) in COLUMNS {
        let keys = key.split(", ").count();
        // Rows already canonical (every row of a store written by this version) are not read.
        let select = format!(
            "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT GLOB '{}'",
            flakehound_store::time::CANONICAL_GLOB
        );
        let mut changes: Vec<(Vec<i64>, Option<String>)> = Vec::new();
        {
            let mut stmt = conn.prepare(&select).map_err(backend)?;
            let mut rows = stmt.query([]).map_err(backend)?;
            while let Some(r) = rows.next().map_err(backend)? {
                let ids = (0..keys)
                    .map(|i| r.get::<_, i64>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?;
                // A column stored as a non-text value is left alone.
                let Ok(raw) = r.get::<_, String>(keys) else {
                    continue;
                };
                let new = match flakehound_store::time::canonical(&raw) {
                    Some(c) => Some(c),
                    None if drop_unreadable => None,
                    None => continue,
                };
                changes.push((ids, new));
            }
        }
        let filter = key
            .split(", ")
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(" AND ");
        let mut update = conn
            .prepare(&format!("UPDATE {table} SET {column} = ?1 WHERE {filter}"))
            .map_err(backend)?;
        for (ids, new) in changes {
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&new];
            params.extend(ids.iter().map(|i| i as &dyn rusqlite::ToSql));
            update.execute(params.as_slice()).map_err(backend)?;
        }
    }
    Ok(())
}

/// Oldest schema version the queries can read without migrating (version 5 added the project
/// columns every query filters on): what a read-only open accepts.
const READABLE_FROM: i64 = 5;

/// `file:` URI of `path` with `immutable=1`, percent-encoding what URIs reserve.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' | b'\0'..=b' ' | 0x7f..=0xff => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// One schema step: SQL, or Rust code for what SQL cannot express.
enum Migration {
    Sql(&'static str),
    Code(fn(&Connection) -> Result<()>),
}

impl Migration {
    fn apply(&self, conn: &Connection) -> Result<()> {
        match self {
            Migration::Sql(sql) => conn.execute_batch(sql).map_err(backend),
            Migration::Code(f) => f(conn),
        }
    }
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Names the store in the error of a write to it ("disk I/O error" alone does not say which
/// file, nor that the store is where it failed). In-memory stores keep the bare error.
pub(crate) fn write_error(path: Option<&Path>, e: StoreError) -> StoreError {
    match (e, path) {
        (StoreError::Backend(reason), Some(path)) => {
            let hint = if reason.contains("readonly") {
                " (the file or its directory is not writable here)"
            } else {
                ""
            };
            StoreError::Write {
                path: path.display().to_string(),
                reason: format!("{reason}{hint}"),
            }
        }
        (e, _) => e,
    }
}

pub struct SqliteStore {
    conn: Connection,
    test_ids: crate::writer::TestIds,
    batch: Batch,
    /// The store's file; `None` in memory.
    path: Option<PathBuf>,
    /// Reports with more bytes of records are staged (see [`crate::writer`]).
    buffer_bytes: usize,
    /// Test hook: see `FLAKEHOUND_TEST_PAUSE_STAGING` in [`crate::writer`].
    pause_staging: Option<PathBuf>,
    /// Longest a batch should hold the write lock ([`BATCH_HOLD`]).
    batch_hold: Duration,
    /// See [`Store::project`]; [`flakehound_store::DEFAULT_PROJECT`] until
    /// [`SqliteStore::with_project`].
    project: String,
}

/// How long a batch of committed reports may hold the store's write lock before the caller is
/// asked to flush ([`Store::flush_due`]). The batch also holds it while the next reports are
/// parsed, so without a bound a run of large reports (big captured output, few results) kept
/// other writers out for as long as `FLUSH_RESULTS` results took. A commit costs a few
/// milliseconds, so once a second is invisible in ingest time; other writers wait about a
/// second at worst, far below the busy timeout.
pub const BATCH_HOLD: Duration = Duration::from_secs(1);

/// The open batch transaction, if any.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) open: bool,
    /// When the open batch took the write lock.
    pub(crate) since: Option<std::time::Instant>,
    /// Results written in the open batch.
    pub(crate) results: u64,
    /// The record buffer of the last report written, with its records, until the caller takes
    /// them ([`Store::spent_records`](flakehound_store::Store::spent_records): an ingest drops
    /// them on the parser thread that made them, where freeing is cheaper than here) or the
    /// next report's writer empties it and reuses its allocation: growing a new one by
    /// doubling for every report moved each record about twice (7% of the writer's
    /// instructions on a history of 400-test reports). Bounded by the buffered size
    /// ([`crate::writer::BUFFER_BYTES`]) and never kept above [`SPARE_RECORDS`].
    pub(crate) spent: Vec<flakehound_model::TestCase>,
    /// How many records the last report had: the capacity of a new buffer when the last one
    /// was taken.
    pub(crate) last_records: usize,
}

/// Most records a spare buffer keeps room for (about 2 MB).
pub(crate) const SPARE_RECORDS: usize = 8192;

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        configure_sqlite();
        let new = !path.exists();
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::init(conn).map_err(|e| match e {
            StoreError::Backend(reason) if reason.contains("readonly") => open_err(format!(
                "{reason} (the file or its directory is not writable here; commands that only \
                 read the store open it read-only)"
            )),
            StoreError::Backend(reason) => open_err(reason),
            other => other,
        })?;
        store.path = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        if new {
            if let Some(dir) = path.parent() {
                flakehound_store::ensure_gitignore(dir);
            }
        }
        Ok(store)
    }

    /// Opens an existing store for reading only: for stores on read-only mounts, in directories
    /// the user cannot write, or files without write permission. Never creates, migrates or
    /// writes anything; writes through it fail with SQLite's "readonly database".
    ///
    /// A WAL store needs its `-shm` index, which SQLite cannot create in a read-only directory;
    /// then the store is opened `immutable` (no locking, no index): correct as long as nobody
    /// writes it meanwhile, which nobody can on a read-only mount.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(open_err("not a regular file".into())),
            Err(e) => return Err(open_err(e.to_string())),
        }
        configure_sqlite();
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let plain = Connection::open_with_flags(path, flags)
            .map_err(backend)
            .and_then(Self::init_read_only);
        match plain {
            Ok(s) => Ok(s),
            Err(first @ StoreError::TooNew { .. }) => Err(first),
            Err(first) => Connection::open_with_flags(immutable_uri(path), flags)
                .map_err(backend)
                .and_then(Self::init_read_only)
                .map_err(|e| match e {
                    StoreError::Backend(_) => open_err(first.to_string()),
                    other => other,
                }),
        }
        .map_err(|e| match e {
            StoreError::Backend(reason) => open_err(reason),
            other => other,
        })
    }

    fn init_read_only(conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(backend)?;
        // Reading the version also makes SQLite open the WAL index: a store it cannot read
        // fails here, not in the first query of a command.
        let version = user_version(&conn)?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew {
                found: version,
                supported,
            });
        }
        if version < READABLE_FROM {
            return Err(StoreError::Backend(format!(
                "schema version {version} needs an upgrade, which needs write access; \
                 open the store once where it is writable"
            )));
        }
        Ok(SqliteStore::new(conn))
    }

    fn new(conn: Connection) -> Self {
        SqliteStore {
            conn,
            test_ids: HashMap::default(),
            batch: Batch::default(),
            path: None,
            buffer_bytes: crate::writer::BUFFER_BYTES,
            pause_staging: std::env::var_os("FLAKEHOUND_TEST_PAUSE_STAGING").map(PathBuf::from),
            batch_hold: BATCH_HOLD,
            project: flakehound_store::DEFAULT_PROJECT.to_string(),
        }
    }

    /// Scopes this handle to `project` (see [`Store::project`]).
    pub fn with_project(mut self, project: &str) -> Result<Self> {
        self.project = flakehound_store::valid_project(project)?.to_string();
        Ok(self)
    }

    /// Test hook: how long a batch may hold the write lock before [`Store::flush_due`].
    #[doc(hidden)]
    pub fn set_batch_hold(&mut self, hold: Duration) {
        self.batch_hold = hold;
    }

    /// Test hook: reports with more than `bytes` of records are staged (default
    /// [`crate::writer::BUFFER_BYTES`]), so tests exercise staging with small reports.
    #[doc(hidden)]
    pub fn set_buffer_bytes(&mut self, bytes: usize) {
        self.buffer_bytes = bytes;
    }

    /// Test hook: once a report is being staged, signal `dir/staging` and wait for
    /// `dir/resume` (like `FLAKEHOUND_TEST_PAUSE_STAGING=dir`).
    #[doc(hidden)]
    pub fn pause_staging_in(&mut self, dir: Option<PathBuf>) {
        self.pause_staging = dir;
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// A private in-memory store (tests, `parse`-like dry runs).
    pub fn in_memory() -> Result<Self> {
        configure_sqlite();
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(BUSY_WAIT).map_err(backend)?;
        // Before the journal-mode switch: a new store's switch is a rollback-journal
        // transaction, which `NORMAL` syncs once less than the default `FULL` (each `fsync` is
        // milliseconds on a real disk, a good part of ingesting one small report).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        // Switching a new store to WAL needs an exclusive lock, and SQLite answers "database is
        // locked" to a writer racing for it without calling the busy handler: several processes
        // creating one store at once must wait their turn, not fail. The mode is persistent, so
        // an existing store is only read.
        retry_busy(|| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                conn.pragma_update(None, "journal_mode", "WAL")?;
            }
            Ok(())
        })
        .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        // 32 MiB page cache (default 2 MiB): a batch's dirty index pages stay in memory instead of
        // spilling to the WAL again and again. 64 MiB measured no faster and cost 30 MiB of RSS.
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(backend)?;
        // Temporary tables and journals in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(backend)?;
        // Foreign keys are declared but not enforced: the writer is the only producer of rows and
        // always inserts parents first in the same transaction; enforcing them cost three B-tree
        // probes per result row (~15% of ingest time).
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(backend)?;
        migrate(&mut conn)?;
        Ok(SqliteStore::new(conn))
    }
}

/// Runs `f` again while SQLite says the database is busy or locked where its busy handler does
/// not apply (journal-mode switches, WAL recovery), for at most [`BUSY_WAIT`] like the handler.
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// How long a writer waits for another one before giving up.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Process-wide SQLite settings, applied once before the first connection is used.
///
/// Memory statistics are turned off: SQLite otherwise takes a global mutex on every allocation
/// to keep them, about 5% of ingest time; flakehound never reads them.
#[allow(unsafe_code)]
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is documented as callable before sqlite3_initialize() and from one
        // thread only; Once guarantees both for this call. If SQLite was already initialised
        // elsewhere in the process it returns SQLITE_MISUSE and changes nothing, which is fine.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            );
        }
    });
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let supported = MIGRATIONS.len() as i64;
    let check = |version: i64| {
        if version > supported {
            return Err(StoreError::TooNew {
                found: version,
                supported,
            });
        }
        Ok(version)
    };
    let version = check(retry_busy(|| user_version_raw(conn)).map_err(backend)?)?;
    if version == supported {
        // Up to date: no write lock, so read-only stores and busy stores open without waiting.
        return Ok(());
    }
    // Several processes may open a new (or old) store at once: the first to take the write lock
    // migrates; the others wait for it (busy timeout) and then find the version already current.
    // Reading the version again under the lock is what makes this safe: the value read above may
    // be stale by now. Every pending step runs in this one transaction, so a crash mid-way leaves
    // the old version intact.
    let c: &Connection = conn;
    let tx = retry_busy(move || {
        rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)
    })
    .map_err(backend)?;
    let version = check(user_version(&tx)?)?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        step.apply(&tx)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn user_version(conn: &Connection) -> Result<i64> {
    user_version_raw(conn).map_err(backend)
}

fn user_version_raw(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

pub(crate) use flakehound_store::properties_to_json as props_json;
pub(crate) use flakehound_store::time::now;

impl Store for SqliteStore {
    fn project(&self) -> &str {
        &self.project
    }

    fn job_evidence(&mut self) -> Option<&mut dyn flakehound_store::CiJobs> {
        Some(self)
    }

    fn projects(&mut self) -> Result<Vec<String>> {
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare("SELECT project FROM runs UNION SELECT project FROM notes ORDER BY 1")
            .map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(backend)
    }

    fn has_report(&mut self, hash: &str) -> Result<bool> {
        let stored = self
            .conn
            .query_row(
                "SELECT 1 FROM reports WHERE project = ?1 AND hash = ?2",
                [&self.project, hash],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(backend)?;
        Ok(stored || SqliteStore::was_pruned(&self.conn, &self.project, hash)?)
    }

    fn history(&mut self) -> Result<Vec<flakehound_store::HistoryRow>> {
        self.flush()?;
        self.read_history()
    }

    fn prune(&mut self, before: &str) -> Result<flakehound_store::Pruned> {
        self.prune_before(before)
            .map_err(|e| write_error(self.path.as_deref(), e))
    }

    fn pin_run(&mut self, run_key: &str, pinned: bool) -> Result<bool> {
        self.set_pinned(run_key, pinned)
    }

    fn pinned_runs(&mut self) -> Result<Vec<String>> {
        self.pinned_keys()
    }

    fn begin_report<'s>(
        &'s mut self,
        report: &NewReport<'_>,
    ) -> Result<Box<dyn ReportWriter + 's>> {
        let env = crate::writer::WriterEnv {
            path: self.path.as_deref(),
            buffer_bytes: self.buffer_bytes,
            pause: self.pause_staging.as_deref(),
        };
        Ok(Box::new(SqliteWriter::new(
            &self.conn,
            &self.project,
            &mut self.batch,
            &mut self.test_ids,
            env,
            report,
        )))
    }

    fn flush(&mut self) -> Result<()> {
        flush(&self.conn, &mut self.batch, &mut self.test_ids)
            .map_err(|e| write_error(self.path.as_deref(), e))
    }

    fn spent_records(&mut self) -> Vec<flakehound_model::TestCase> {
        std::mem::take(&mut self.batch.spent)
    }

    fn flush_due(&self) -> bool {
        self.batch.open
            && self
                .batch
                .since
                .is_some_and(|t| t.elapsed() >= self.batch_hold)
    }

    fn test_stats(&mut self) -> Result<Vec<TestStats>> {
        self.flush()?;
        let sql = "
            WITH per_run AS (
                SELECT r.test_id, r.run_id, ru.commit_sha,
                       COALESCE(ru.started_at, ru.created_at) AS started_at,
                       SUM(r.outcome = 1) AS p, SUM(r.outcome >= 2) AS f, SUM(r.outcome = 0) AS s,
                       MAX(CASE WHEN r.outcome = 1 THEN r.attempt END) AS last_pass,
                       MIN(CASE WHEN r.outcome >= 2 THEN r.attempt END) AS first_fail,
                       MAX(CASE WHEN r.outcome >= 1 THEN r.attempt END) AS last_exec
                FROM runs ru JOIN results r ON r.run_id = ru.id
                WHERE ru.project = ?1
                GROUP BY r.run_id, r.test_id
            ),
            tr AS (
                SELECT test_id, SUM(p + f > 0) AS runs, SUM(p) AS passes, SUM(f) AS failures, SUM(s) AS skips,
                       SUM(f > 0) AS failed_runs,
                       SUM(COALESCE(last_pass > first_fail, 0)) AS retry_passes,
                       MAX(CASE WHEN p + f > 0 THEN started_at END) AS last_seen
                FROM per_run GROUP BY test_id
            ),
            -- A run's verdict on a test is its last executed attempt: retries inside a run are
            -- counted by retry_passes, this compares runs of the same commit.
            per_commit AS (
                SELECT test_id, commit_sha,
                       SUM(last_exec IS NOT NULL AND last_pass IS last_exec) AS runs_passed,
                       SUM(last_exec IS NOT NULL AND last_pass IS NOT last_exec) AS runs_failed
                FROM per_run WHERE commit_sha IS NOT NULL GROUP BY test_id, commit_sha
            ),
            tc AS (
                SELECT test_id, SUM(runs_passed + runs_failed > 0) AS commits,
                       SUM(runs_passed > 0 AND runs_failed > 0) AS flaky_commits
                FROM per_commit GROUP BY test_id
            )
            SELECT t.key, t.classname, t.name, t.file, tr.runs, tr.passes, tr.failures, tr.skips,
                   tr.failed_runs, tr.retry_passes, COALESCE(tc.flaky_commits, 0), COALESCE(tc.commits, 0),
                   tr.last_seen,
                   CASE WHEN tr.failures > 0 THEN
                     (SELECT COALESCE(o.message, o.failure_kind) FROM results x JOIN outputs o ON o.id = x.output_id
                      JOIN runs xr ON xr.id = x.run_id
                      WHERE x.test_id = t.id AND x.outcome >= 2 AND xr.project = ?1
                        AND COALESCE(o.message, o.failure_kind) IS NOT NULL
                      ORDER BY x.run_id DESC, x.attempt DESC LIMIT 1) END
            FROM tests t JOIN tr ON tr.test_id = t.id LEFT JOIN tc ON tc.test_id = t.id";
        // Its temporary tables on disk, not in memory: the per-(run, test) groups are one row per
        // result (10M rows at 10M results), which `temp_store = MEMORY` kept on the heap (about
        // 1.1 GB for the dashboard's complete analysis). On disk they pass through the OS's page
        // cache instead; put back at the end whatever happens.
        self.conn
            .pragma_update(None, "temp_store", "FILE")
            .map_err(backend)?;
        let stats = test_stats_query(&self.conn, &self.project, sql);
        let restored = self.conn.pragma_update(None, "temp_store", "MEMORY");
        let mut stats = stats?;
        restored.map_err(backend)?;
        flakehound_store::add_history(&mut stats, self.read_history()?);
        Ok(stats)
    }

    fn evidence(&mut self) -> Result<Evidence> {
        self.load_evidence(false)
    }

    fn failing_evidence(&mut self) -> Result<Evidence> {
        self.load_evidence(true)
    }

    fn failure_texts(&mut self, test: &str, limit: usize) -> Result<Vec<FailureText>> {
        self.flush()?;
        // Through the partial index of failed results (test_id, run_id).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.message, o.details, ru.started_at FROM tests t
                 JOIN results r ON r.test_id = t.id AND r.outcome >= 2
                 JOIN runs ru ON ru.id = r.run_id AND ru.project = ?1
                 LEFT JOIN outputs o ON o.id = r.output_id
                 WHERE t.key = ?2
                 ORDER BY r.run_id DESC, r.attempt LIMIT ?3",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params![self.project, test, limit as i64], |r| {
                Ok(FailureText {
                    message: r.get(0)?,
                    details: r.get(1)?,
                    started_at: r.get(2)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn run_order(&mut self, run_key: &str) -> Result<Vec<(String, u32)>> {
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.key, r.position FROM runs ru
                 JOIN results r ON r.run_id = ru.id
                 JOIN tests t ON t.id = r.test_id
                 WHERE ru.project = ?1 AND ru.key = ?2 AND r.attempt = 1 AND r.outcome >= 1",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([self.project.as_str(), run_key], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u32))
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn add_note(&mut self, note: &Note) -> Result<i64> {
        self.flush()?;
        let created = flakehound_store::time::canonical(&note.created_at).unwrap_or_else(now);
        let kind = note.kind.as_str();
        let category = note.category.map(|c| c.as_str());
        self.conn
            .execute(
                "INSERT INTO notes (test, kind, category, text, link, author, created_at, project)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    note.test,
                    kind,
                    category,
                    note.text,
                    note.link,
                    note.author,
                    created,
                    self.project
                ],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn notes(&mut self, test: Option<&str>) -> Result<Vec<Note>> {
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, test, kind, category, text, link, author, created_at FROM notes
                 WHERE project = ?2 AND (?1 IS NULL OR test = ?1) ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params![test, self.project], |r| {
                Ok(Note {
                    id: r.get(0)?,
                    test: r.get(1)?,
                    kind: NoteKind::parse(&r.get::<_, String>(2)?),
                    // A category this version does not know (a newer flakehound wrote it).
                    category: r
                        .get::<_, Option<String>>(3)?
                        .map(|c| Category::parse(&c).unwrap_or(Category::Unknown)),
                    text: r.get(4)?,
                    link: r.get(5)?,
                    author: r.get(6)?,
                    created_at: r.get(7)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn export(
        &mut self,
        each: &mut dyn FnMut(flakehound_store::StoredReport) -> Result<()>,
    ) -> Result<()> {
        crate::export::export(self, each)
    }

    fn remove_note(&mut self, id: i64) -> Result<bool> {
        self.flush()?;
        let n = self
            .conn
            .execute(
                "DELETE FROM notes WHERE id = ?1 AND project = ?2",
                rusqlite::params![id, self.project],
            )
            .map_err(backend)?;
        Ok(n > 0)
    }

    fn totals(&mut self) -> Result<Totals> {
        self.flush()?;
        // With one project in the store, whole-table counts are the project's (and cost
        // nothing); with several, tests and results are counted through the project's runs.
        let sql = if self.shared()? {
            "SELECT (SELECT COUNT(*) FROM runs WHERE project = ?1),
                    (SELECT COUNT(*) FROM reports WHERE project = ?1),
                    (SELECT COUNT(DISTINCT r.test_id) FROM runs ru JOIN results r ON r.run_id = ru.id
                     WHERE ru.project = ?1),
                    (SELECT COUNT(*) FROM runs ru JOIN results r ON r.run_id = ru.id
                     WHERE ru.project = ?1),
                    COALESCE(SUM(agg_tests), 0), COALESCE(SUM(agg_passed), 0), COALESCE(SUM(agg_failed), 0),
                    COALESCE(SUM(agg_errored), 0), COALESCE(SUM(agg_skipped), 0)
             FROM reports WHERE project = ?1"
        } else {
            "SELECT (SELECT COUNT(*) FROM runs WHERE project = ?1),
                    (SELECT COUNT(*) FROM reports WHERE project = ?1),
                    (SELECT COUNT(*) FROM tests WHERE EXISTS (SELECT 1 FROM runs WHERE project = ?1)),
                    (SELECT COUNT(*) FROM results WHERE EXISTS (SELECT 1 FROM runs WHERE project = ?1)),
                    COALESCE(SUM(agg_tests), 0), COALESCE(SUM(agg_passed), 0), COALESCE(SUM(agg_failed), 0),
                    COALESCE(SUM(agg_errored), 0), COALESCE(SUM(agg_skipped), 0)
             FROM reports WHERE project = ?1"
        };
        self.conn
            .query_row(sql, [&self.project], |r| {
                let g = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
                Ok(Totals {
                    runs: g(0)?,
                    reports: g(1)?,
                    tests: g(2)?,
                    results: g(3)?,
                    aggregate: Counts {
                        tests: g(4)?,
                        passed: g(5)?,
                        failed: g(6)?,
                        errored: g(7)?,
                        skipped: g(8)?,
                    },
                })
            })
            .map_err(backend)
    }
}

/// Commits the open batch. On failure the batch is rolled back and the test-id cache dropped.
pub(crate) fn flush(
    conn: &Connection,
    batch: &mut Batch,
    test_ids: &mut crate::writer::TestIds,
) -> Result<()> {
    if !batch.open {
        return Ok(());
    }
    batch.open = false;
    batch.since = None;
    batch.results = 0;
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        test_ids.clear();
        return Err(backend(e));
    }
    Ok(())
}

impl SqliteStore {
    /// Whether runs of another project share this store (then reads join through the
    /// project's runs; see [`SqliteStore::load_evidence`]).
    fn shared(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE project <> ?1)",
                [&self.project],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn load_evidence(&mut self, only_failing: bool) -> Result<Evidence> {
        self.flush()?;
        let mut ev = Evidence::default();
        let mut run_index: HashMap<i64, u32> = HashMap::default();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, key, source, commit_sha, branch, job, run_attempt, runner, os,
                            COALESCE(started_at, created_at) AS t, tests_executed, pull_request, url
                     FROM runs WHERE project = ?1 ORDER BY t, id",
                )
                .map_err(backend)?;
            let mut rows = stmt.query([&self.project]).map_err(backend)?;
            while let Some(r) = rows.next().map_err(backend)? {
                run_index.insert(r.get(0).map_err(backend)?, ev.runs.len() as u32);
                ev.runs.push(RunRow {
                    key: r.get(1).map_err(backend)?,
                    source: RunSource::parse(&r.get::<_, String>(2).map_err(backend)?),
                    commit: r.get(3).map_err(backend)?,
                    branch: r.get(4).map_err(backend)?,
                    job: r.get(5).map_err(backend)?,
                    run_attempt: r.get(6).map_err(backend)?,
                    runner: r.get(7).map_err(backend)?,
                    os: r.get(8).map_err(backend)?,
                    started_at: r.get(9).map_err(backend)?,
                    pull_request: r.get(11).map_err(backend)?,
                    url: r.get(12).map_err(backend)?,
                });
                ev.run_sizes
                    .push(r.get::<_, i64>(10).map_err(backend)? as u64);
            }
        }
        // Several projects in the store: read the tests and results through this project's runs.
        // One: the whole tables are the project's, read without the join (the common case of a
        // local store, and as fast as before projects existed).
        let shared = self.shared()?;
        let mut test_index: HashMap<i64, u32> = HashMap::default();
        {
            let mut stmt = self
                .conn
                .prepare(match (only_failing, shared) {
                    // Tests with a failure, through the partial index on failing results.
                    (true, false) => {
                        "SELECT id, key, classname, name, file FROM tests
                         WHERE id IN (SELECT test_id FROM results WHERE outcome >= 2)
                           AND ?1 = ?1 ORDER BY id"
                    }
                    (false, false) => {
                        "SELECT id, key, classname, name, file FROM tests WHERE ?1 = ?1 ORDER BY id"
                    }
                    (true, true) => {
                        "SELECT id, key, classname, name, file FROM tests
                         WHERE id IN (SELECT r.test_id FROM results r JOIN runs ru ON ru.id = r.run_id
                                      WHERE r.outcome >= 2 AND ru.project = ?1) ORDER BY id"
                    }
                    (false, true) => {
                        "SELECT id, key, classname, name, file FROM tests
                         WHERE id IN (SELECT r.test_id FROM runs ru JOIN results r ON r.run_id = ru.id
                                      WHERE ru.project = ?1) ORDER BY id"
                    }
                })
                .map_err(backend)?;
            let mut rows = stmt.query([&self.project]).map_err(backend)?;
            while let Some(r) = rows.next().map_err(backend)? {
                test_index.insert(r.get(0).map_err(backend)?, ev.tests.len() as u32);
                ev.tests.push(TestRow {
                    id: r.get(1).map_err(backend)?,
                    classname: r.get(2).map_err(backend)?,
                    name: r.get(3).map_err(backend)?,
                    file: r.get(4).map_err(backend)?,
                });
            }
        }
        let mut messages = flakehound_store::Messages::default();
        let mut stmt = self
            .conn
            .prepare(if only_failing {
                // One primary-key probe per (run, test): never a scan of all results.
                "SELECT r.run_id, r.test_id, r.attempt, r.position, r.outcome, r.duration,
                        CASE WHEN r.outcome >= 2 THEN COALESCE(o.message, o.failure_kind) END
                 FROM tests t CROSS JOIN runs ru
                 JOIN results r ON r.run_id = ru.id AND r.test_id = t.id
                 LEFT JOIN outputs o ON o.id = r.output_id
                 WHERE t.id IN (SELECT test_id FROM results WHERE outcome >= 2)
                   AND ru.project = ?1"
            } else if shared {
                "SELECT r.run_id, r.test_id, r.attempt, r.position, r.outcome, r.duration,
                        CASE WHEN r.outcome >= 2 THEN COALESCE(o.message, o.failure_kind) END
                 FROM runs ru JOIN results r ON r.run_id = ru.id
                 LEFT JOIN outputs o ON o.id = r.output_id
                 WHERE ru.project = ?1"
            } else {
                "SELECT r.run_id, r.test_id, r.attempt, r.position, r.outcome, r.duration,
                        CASE WHEN r.outcome >= 2 THEN COALESCE(o.message, o.failure_kind) END
                 FROM results r LEFT JOIN outputs o ON o.id = r.output_id WHERE ?1 = ?1"
            })
            .map_err(backend)?;
        let mut rows = stmt.query([&self.project]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let (Some(&run), Some(&test)) = (
                run_index.get(&r.get::<_, i64>(0).map_err(backend)?),
                test_index.get(&r.get::<_, i64>(1).map_err(backend)?),
            ) else {
                continue;
            };
            let message = r
                .get_ref(6)
                .map_err(backend)?
                .as_str_or_null()
                .map_err(|e| StoreError::Backend(e.to_string()))?
                .map(|m| messages.intern(m));
            ev.results.push(ResultRow {
                run,
                test,
                attempt: r.get::<_, i64>(2).map_err(backend)? as u32,
                position: r.get::<_, i64>(3).map_err(backend)? as u32,
                outcome: Outcome::from_severity(r.get::<_, i64>(4).map_err(backend)? as u8),
                duration: r
                    .get::<_, Option<f64>>(5)
                    .map_err(backend)?
                    .map(|d| d as f32),
                message,
            });
        }
        ev.finish(messages);
        Ok(ev)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Completed reports are whole; commit them. Errors cannot be reported from drop: callers
        // that care call flush() first.
        let _ = flush(&self.conn, &mut self.batch, &mut self.test_ids);
    }
}

/// The per-test aggregates query of [`Store::test_stats`].
fn test_stats_query(conn: &Connection, project: &str, sql: &str) -> Result<Vec<TestStats>> {
    let mut stmt = conn.prepare(sql).map_err(backend)?;
    let rows = stmt
        .query_map([project], |r| {
            Ok(TestStats {
                id: r.get(0)?,
                classname: r.get(1)?,
                name: r.get(2)?,
                file: r.get(3)?,
                runs: r.get::<_, i64>(4)? as u64,
                passes: r.get::<_, i64>(5)? as u64,
                failures: r.get::<_, i64>(6)? as u64,
                skips: r.get::<_, i64>(7)? as u64,
                failed_runs: r.get::<_, i64>(8)? as u64,
                retry_passes: r.get::<_, i64>(9)? as u64,
                flaky_commits: r.get::<_, i64>(10)? as u64,
                commits: r.get::<_, i64>(11)? as u64,
                last_seen: r.get(12)?,
                last_failure: r.get(13)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flakehound_model::{Attempt, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::{RunKey, Written};

    fn case(id: &str, outcomes: &[Outcome]) -> TestCase {
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: *outcomes.last().unwrap(),
            attempts: outcomes.iter().map(|&o| Attempt::new(o)).collect(),
            properties: vec![],
            timestamp: None,
        }
    }

    fn write(
        store: &mut SqliteStore,
        hash: &str,
        run: &str,
        commit: &str,
        cases: &[TestCase],
    ) -> Result<Written> {
        let meta = RunMeta {
            commit: Some(commit.into()),
            ..Default::default()
        };
        let key = RunKey(run.into());
        let nr = NewReport::ci_junit(hash, &key, &meta);
        let mut w = store.begin_report(&nr)?;
        for c in cases {
            w.add(c.clone())?;
        }
        w.commit(&ReportInfo::default())
    }

    #[test]
    fn uncommitted_report_leaves_nothing_and_cache_stays_valid() {
        let mut s = SqliteStore::in_memory().unwrap();
        {
            let meta = RunMeta::default();
            let key = RunKey("r".into());
            let nr = NewReport::ci_junit("h", &key, &meta);
            let mut w = s.begin_report(&nr).unwrap();
            w.add(case("x", &[Outcome::Passed])).unwrap();
            // dropped: rolled back
        }
        assert!(!s.has_report("h").unwrap());
        assert_eq!(s.totals().unwrap(), Totals::default());
        // The cached id of "x" must not point at a rolled-back row.
        write(&mut s, "h", "r", "c", &[case("x", &[Outcome::Passed])]).unwrap();
        assert!(s.has_report("h").unwrap());
        assert_eq!(s.test_stats().unwrap().len(), 1);
    }

    #[test]
    fn file_store_reopens_with_migrations_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/fh.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            write(&mut s, "h", "r", "c", &[case("x", &[Outcome::Passed])]).unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert!(s.has_report("h").unwrap());
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn test_stats_keeps_its_groups_on_disk_and_puts_memory_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("fh.db")).unwrap();
        write(
            &mut s,
            "h",
            "r",
            "c",
            &[case("x", &[Outcome::Failed, Outcome::Passed])],
        )
        .unwrap();
        let temp_store = |s: &SqliteStore| -> i64 {
            s.conn
                .query_row("PRAGMA temp_store", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(temp_store(&s), 2, "MEMORY while writing");
        let stats = s.test_stats().unwrap();
        assert_eq!((stats[0].runs, stats[0].retry_passes), (1, 1));
        assert_eq!(temp_store(&s), 2, "MEMORY again after the aggregates");
    }
}

#[cfg(test)]
mod concurrency_tests {
    //! Several writers with their own connections on one real SQLite file, started together by a
    //! barrier. Assertions are about the data, never about timing.
    use super::*;
    use flakehound_model::{Attempt, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::RunKey;
    use std::sync::{Arc, Barrier};

    fn case(id: &str) -> TestCase {
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: Outcome::Passed,
            attempts: vec![Attempt::new(Outcome::Passed)],
            properties: vec![],
            timestamp: None,
        }
    }

    /// Writes the report like `write_report` does: check, then write (the check can be stale).
    fn write(store: &mut SqliteStore, hash: &str, run: &str) -> Result<()> {
        if store.has_report(hash)? {
            return Ok(());
        }
        let meta = RunMeta::default();
        let key = RunKey(run.into());
        let nr = NewReport::ci_junit(hash, &key, &meta);
        let mut w = store.begin_report(&nr)?;
        w.add(case(&format!("t-{hash}")))?;
        w.add(case("shared"))?;
        w.commit(&ReportInfo::default())?;
        store.flush()
    }

    #[test]
    fn writers_racing_on_a_new_store_all_succeed_and_nothing_is_lost() {
        const WRITERS: usize = 6;
        for round in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("new-{round}.db"));
            let barrier = Arc::new(Barrier::new(WRITERS));
            let handles: Vec<_> = (0..WRITERS)
                .map(|i| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || -> Result<()> {
                        barrier.wait();
                        let mut s = SqliteStore::open(&path)?;
                        // Its own report, then one every writer has (the same file ingested
                        // twice): both writers must succeed, the report stored once.
                        write(&mut s, &format!("own-{i}"), &format!("run-{i}"))?;
                        write(&mut s, "common", "run-common")
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
            let mut s = SqliteStore::open(&path).unwrap();
            let t = s.totals().unwrap();
            assert_eq!(t.reports, WRITERS as u64 + 1, "round {round}");
            assert_eq!(t.runs, WRITERS as u64 + 1);
            assert_eq!(t.results, 2 * (WRITERS as u64 + 1));
            for i in 0..WRITERS {
                assert!(s.has_report(&format!("own-{i}")).unwrap());
            }
        }
    }

    /// Two ingests of the same report: both checked `has_report` before either wrote. The
    /// second writer must find the report stored under its write lock and succeed.
    #[test]
    fn a_report_stored_by_another_writer_meanwhile_is_a_duplicate_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fh.db");
        let mut a = SqliteStore::open(&path).unwrap();
        let mut b = SqliteStore::open(&path).unwrap();
        assert!(!a.has_report("same").unwrap());
        assert!(!b.has_report("same").unwrap());
        let meta = RunMeta::default();
        let key = RunKey("run".into());
        let nr = NewReport::ci_junit("same", &key, &meta);
        for (s, expect_dup) in [(&mut a, false), (&mut b, true)] {
            let mut w = s.begin_report(&nr).unwrap();
            w.add(case("x")).unwrap();
            let written = w.commit(&ReportInfo::default()).unwrap();
            assert_eq!(written.duplicate, expect_dup);
            assert_eq!(written.results, if expect_dup { 0 } else { 1 });
            s.flush().unwrap();
        }
        let t = b.totals().unwrap();
        assert_eq!((t.reports, t.runs, t.results), (1, 1, 1));
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;
    use flakehound_model::{Attempt, Outcome, ReportInfo, RunMeta, TestCase};
    use flakehound_store::RunKey;

    fn write(s: &mut SqliteStore, hash: &str, run: &str, started: Option<&str>, ok: bool) {
        let meta = RunMeta {
            started_at: started.map(str::to_string),
            ..Default::default()
        };
        let key = RunKey(run.into());
        let nr = NewReport::ci_junit(hash, &key, &meta);
        let o = if ok { Outcome::Passed } else { Outcome::Failed };
        let mut w = s.begin_report(&nr).unwrap();
        w.add(TestCase {
            id: "t".into(),
            classname: None,
            name: "t".into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: o,
            attempts: vec![Attempt::new(o)],
            properties: vec![],
            timestamp: started.map(str::to_string),
        })
        .unwrap();
        w.commit(&ReportInfo::default()).unwrap();
    }

    #[test]
    fn new_writes_are_stored_in_utc_and_last_seen_compares_instants() {
        let mut s = SqliteStore::in_memory().unwrap();
        // 12:00+02:00 is 10:00 UTC: earlier than 11:30 UTC although it sorts later as text.
        write(&mut s, "h1", "r1", Some("2024-05-01T11:30:00Z"), true);
        write(&mut s, "h2", "r2", Some("2024-05-01T12:00:00+02:00"), false);
        // Fractions (hunt writes nanoseconds) must not break the order either.
        write(
            &mut s,
            "h3",
            "r3",
            Some("2024-05-01T09:00:00.123456789Z"),
            true,
        );
        let stats = s.test_stats().unwrap();
        assert_eq!(stats[0].last_seen.as_deref(), Some("2024-05-01T11:30:00Z"));
        let ev = s.evidence().unwrap();
        let starts: Vec<_> = ev.runs.iter().map(|r| r.started_at.as_str()).collect();
        assert_eq!(
            starts,
            [
                "2024-05-01T09:00:00Z",
                "2024-05-01T10:00:00Z",
                "2024-05-01T11:30:00Z"
            ]
        );
        let stamps: Vec<String> = s
            .conn
            .prepare("SELECT timestamp FROM results ORDER BY run_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            stamps,
            [
                "2024-05-01T11:30:00Z",
                "2024-05-01T10:00:00Z",
                "2024-05-01T09:00:00Z"
            ]
        );
    }

    #[test]
    fn migration_4_normalises_stored_timestamps_to_utc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            // A store as version 3 left it: offsets, naive times and fractions as written.
            let conn = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..3] {
                m.apply(&conn).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 3;
                 INSERT INTO tests (id, key, name) VALUES (1, 't', 't');
                 INSERT INTO runs (id, key, started_at, created_at) VALUES
                   (1, 'a', '2024-05-01T11:30:00Z', '2024-06-01T00:00:00Z'),
                   (2, 'b', '2024-05-01T12:00:00+02:00', '2024-06-01T00:00:00+00:00'),
                   (3, 'c', '2024-05-01 09:00:00.5', '2024-06-01T00:00:00Z'),
                   (4, 'd', 'not a time', '2024-04-01T00:00:00-01:00');
                 INSERT INTO reports (id, run_id, hash, format, timestamp, records, results, ingested_at)
                   VALUES (1, 2, 'h', 'junit', '2024-05-01T12:00:00+02:00', 1, 1, '2024-06-01T02:00:00+02:00');
                 INSERT INTO results (test_id, run_id, attempt, report_id, position, outcome, timestamp)
                   VALUES (1, 1, 1, 1, 0, 1, NULL), (1, 2, 1, 1, 0, 2, '2024-05-01T12:00:00+02:00'),
                          (1, 3, 1, 1, 0, 1, 'yesterday'), (1, 4, 1, 1, 0, 1, NULL);
                 INSERT INTO notes (test, text, created_at) VALUES ('t', 'x', '2024-05-01T12:00:00+02:00');",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let col = |s: &SqliteStore, sql: &str| -> Vec<Option<String>> {
            s.conn
                .prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let some = |v: &[&str]| v.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
        assert_eq!(
            col(&s, "SELECT started_at FROM runs ORDER BY id"),
            // An unreadable start time is dropped: the run falls back to when it was stored.
            vec![
                Some("2024-05-01T11:30:00Z".into()),
                Some("2024-05-01T10:00:00Z".into()),
                Some("2024-05-01T09:00:00Z".into()),
                None
            ]
        );
        assert_eq!(
            col(&s, "SELECT created_at FROM runs ORDER BY id"),
            some(&[
                "2024-06-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
                "2024-04-01T01:00:00Z"
            ])
        );
        assert_eq!(
            col(&s, "SELECT timestamp || ' ' || ingested_at FROM reports"),
            some(&["2024-05-01T10:00:00Z 2024-06-01T00:00:00Z"])
        );
        assert_eq!(
            col(&s, "SELECT timestamp FROM results ORDER BY run_id"),
            // Attempt times that are not times stay as written (they are only shown).
            vec![
                None,
                Some("2024-05-01T10:00:00Z".into()),
                Some("yesterday".into()),
                None
            ]
        );
        assert_eq!(
            col(&s, "SELECT created_at FROM notes"),
            some(&["2024-05-01T10:00:00Z"])
        );
        assert_eq!(
            s.test_stats().unwrap()[0].last_seen.as_deref(),
            Some("2024-05-01T11:30:00Z")
        );
    }
}

#[cfg(test)]
mod project_tests {
    use super::*;
    use flakehound_model::{Attempt, ReportInfo, RunMeta, TestCase};
    use flakehound_store::RunKey;

    fn write(s: &mut SqliteStore, hash: &str, run: &str, test: &str, o: Outcome) {
        let meta = RunMeta::default();
        let key = RunKey(run.into());
        let nr = NewReport::ci_junit(hash, &key, &meta);
        if s.has_report(hash).unwrap() {
            return;
        }
        let mut w = s.begin_report(&nr).unwrap();
        w.add(TestCase {
            id: test.into(),
            classname: None,
            name: test.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: o,
            attempts: vec![Attempt::new(o)],
            properties: vec![],
            timestamp: None,
        })
        .unwrap();
        w.commit(&ReportInfo::default()).unwrap();
        s.flush().unwrap();
    }

    #[test]
    fn migration_5_puts_existing_evidence_in_the_default_project() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            write(&mut s, "h1", "run-1", "t", Outcome::Failed);
            write(&mut s, "h2", "run-1", "t", Outcome::Passed);
            s.add_note(&Note {
                test: "t".into(),
                text: "x".into(),
                ..Note::default()
            })
            .unwrap();
        }
        {
            // Back to what version 4 looked like: the same rows without projects.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA foreign_keys = OFF;
                 DROP TABLE server_projects; DROP TABLE tokens; DROP TABLE uploads;
                 DROP TABLE server_quarantine; DROP TABLE quarantine_audit;
                 DROP TABLE alert_states; DROP TABLE alert_deliveries; DROP TABLE alert_mutes;
                 DROP TABLE ci_jobs; DROP TABLE ci_imports;
                 DROP TABLE retention; DROP TABLE pruned_reports; DROP TABLE test_history;
                 DROP TABLE public_uploads;
                 DROP TABLE alert_configs; DROP TABLE dashboard_sessions; DROP TABLE project_codeowners;
                 CREATE TABLE runs4 AS SELECT * FROM runs; CREATE TABLE reports4 AS SELECT * FROM reports;
                 DROP TABLE runs; DROP TABLE reports;",
            )
            .unwrap();
            conn.execute_batch(
                include_str!("../migrations/001_initial.sql")
                    .split("CREATE TABLE tests")
                    .next()
                    .unwrap(),
            )
            .unwrap();
            conn.execute_batch(
                "ALTER TABLE runs ADD COLUMN tests_executed INTEGER NOT NULL DEFAULT 0;
                 INSERT INTO runs SELECT id, key, source, commit_sha, branch, provider, job, ci_run_id,
                   run_attempt, runner, os, started_at, duration, url, pull_request, next_position,
                   created_at, tests_executed FROM runs4;
                 INSERT INTO reports SELECT id, run_id, hash, path, format, tool, timestamp, hostname,
                   duration, properties, records, results, agg_tests, agg_passed, agg_failed,
                   agg_errored, agg_skipped, ingested_at FROM reports4;
                 DROP TABLE runs4; DROP TABLE reports4;
                 DROP INDEX notes_test; ALTER TABLE notes DROP COLUMN project;
                 CREATE INDEX notes_test ON notes(test, id);
                 PRAGMA user_version = 4;",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.projects().unwrap(), [flakehound_store::DEFAULT_PROJECT]);
        let t = s.totals().unwrap();
        assert_eq!((t.runs, t.reports, t.tests, t.results), (1, 2, 1, 2));
        let st = &s.test_stats().unwrap()[0];
        assert_eq!((st.runs, st.retry_passes), (1, 1));
        assert_eq!(s.notes(None).unwrap().len(), 1);
        // The run's numbering continues after the migration.
        write(&mut s, "h3", "run-1", "t", Outcome::Passed);
        let ev = s.evidence().unwrap();
        let attempts: Vec<_> = ev.results.iter().map(|r| r.attempt).collect();
        assert_eq!(attempts, [1, 2, 3]);
    }
}
