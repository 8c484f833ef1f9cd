//! Writing one report into the SQLite store, all-or-nothing, fast.
//!
//! Two modes, chosen by report size:
//! - Buffered (almost every report): records are kept in memory while the report is parsed and
//!   written only at [`ReportWriter::commit`], inside the store's open batch transaction. A report
//!   whose parse fails never touches the database, so no savepoint is needed; savepoints cost
//!   ~30% of ingest time, journaling every index page a report touches.
//! - Staged (reports beyond [`BUFFER_BYTES`] of records, e.g. a 1 GB JUnit file): the batch is
//!   committed, and records go to a private staging database as they come, so memory stays
//!   bounded; at commit they are copied into the store in one transaction that lasts only the
//!   copy ([`crate::staging`]). The store is not locked while such a report is parsed,
//!   so other writers wait for the copy at most. Dropping the writer discards the staged
//!   records.
//!
//! Test ids and attempt numbers are cached in foldhash maps: SipHash was 9% of ingest time;
//! foldhash is several times faster and still seeded per process, so crafted test ids in a
//! report cannot force collisions.
//!
//! If a buffered write fails half-way (I/O error, disk full), the whole open batch is rolled
//! back and [`StoreError::BatchLost`] tells the caller that every uncommitted report is gone.

use crate::staging::{Staging, Target};
use crate::store::{Batch, backend, flush, now, props_json, write_error};
use flakehound_model::{ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, ReportWriter, Result, RunKey, StoreError, Written};
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension, params};
use std::borrow::Cow;

/// Most bytes of records buffered per report before switching to staging.
pub const BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// Store test ids by test key, and whether the stored test has a file: a cache across reports
/// (entries for rows a rolled-back report created are removed).
pub(crate) type TestIds = HashMap<String, (i64, bool)>;

/// Records handed to the staging database at a time.
const STAGE_CHUNK: usize = 256;

/// What the store tells its writers about itself.
#[derive(Clone, Copy)]
pub(crate) struct WriterEnv<'s> {
    /// The store's file (`None`: in memory): staging goes next to it.
    pub(crate) path: Option<&'s std::path::Path>,
    /// Records beyond this many bytes are staged ([`BUFFER_BYTES`]; smaller in tests).
    pub(crate) buffer_bytes: usize,
    /// Test hook: a directory in which to signal and wait once staging has begun.
    pub(crate) pause: Option<&'s std::path::Path>,
}

/// Test hook (`FLAKEHOUND_TEST_PAUSE_STAGING=DIR`): once a report is being staged, create
/// `DIR/staging` and wait until `DIR/resume` exists. Lets a test act at a known point of a large
/// ingest (another writer, `kill -9`) without racing its speed. Bounded, so a forgotten resume
/// cannot hang a process forever.
fn pause_for_test(dir: &std::path::Path) {
    let _ = std::fs::write(dir.join("staging"), std::process::id().to_string());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !dir.join("resume").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Entries kept in the test-id and attempt-number caches (a few MB each).
const CACHE_ENTRIES: usize = 100_000;

/// What the report row needs, owned (the writer outlives the caller's borrow).
struct Header {
    project: String,
    hash: String,
    path: Option<String>,
    format: Option<&'static str>,
    run_key: RunKey,
    run: RunMeta,
    source: String,
}

/// Rows of the report once started in the database.
struct Started {
    run: i64,
    report: i64,
    run_existed: bool,
    position: i64,
    /// Attempt numbers given in this run so far, by test. Complete (so a miss means "none yet")
    /// while `attempts_complete`; a bounded cache backed by the database otherwise.
    attempts: HashMap<i64, i64>,
    attempts_complete: bool,
}

pub(crate) struct SqliteWriter<'s> {
    conn: &'s Connection,
    batch: &'s mut Batch,
    test_ids: &'s mut TestIds,
    header: Header,
    buffer: Vec<TestCase>,
    buffered_bytes: usize,
    /// Set once rows are being written (during a buffered commit).
    started: Option<Started>,
    /// Set once the report outgrew the buffer: its records are staged outside the store.
    staging: Option<Staging>,
    env: WriterEnv<'s>,
    committed: bool,
    /// Found stored by another writer once this one held the write lock: the rest is discarded.
    duplicate: bool,
    /// Test keys inserted by this report (evicted from the cache on rollback).
    new_tests: Vec<String>,
    /// More new tests than `new_tests` keeps: on rollback, clear the whole cache.
    forget_all_on_rollback: bool,
    records: u64,
    results: u64,
    /// Tests whose first attempt in the run was written by this report and executed.
    executed: u64,
}

impl<'s> SqliteWriter<'s> {
    pub(crate) fn new(
        conn: &'s Connection,
        project: &str,
        batch: &'s mut Batch,
        test_ids: &'s mut TestIds,
        env: WriterEnv<'s>,
        report: &NewReport<'_>,
    ) -> Self {
        let mut buffer = std::mem::take(&mut batch.spent);
        if buffer.capacity() == 0 {
            buffer.reserve(batch.last_records.min(crate::store::SPARE_RECORDS));
        } else {
            buffer.clear();
        }
        SqliteWriter {
            conn,
            batch,
            test_ids,
            header: Header {
                project: project.to_string(),
                hash: report.hash.to_string(),
                path: report.path.map(str::to_string),
                format: report.format.map(|f| f.as_str()),
                run_key: report.run_key.clone(),
                run: report.run.clone(),
                source: report.source.to_string(),
            },
            buffer,
            buffered_bytes: 0,
            started: None,
            staging: None,
            env,
            committed: false,
            duplicate: false,
            new_tests: Vec::new(),
            forget_all_on_rollback: false,
            records: 0,
            results: 0,
            executed: 0,
        }
    }

    /// Creates (or finds) the run and inserts the report row.
    fn start(&mut self) -> Result<()> {
        let h = &self.header;
        let c = self.conn;
        let (run, run_existed, position) = find_or_create_run(c, h)?;
        // Counts are placeholders until finish().
        // Every statement a report runs is prepared once per connection (cached): parsing the
        // SQL of four statements per report was 6% of the writer's instructions.
        c.prepare_cached(
            "INSERT INTO reports (run_id, hash, path, format, records, results, ingested_at, project)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![run, h.hash, h.path, h.format.unwrap_or("unknown"), now(), h.project])
        })
        .map_err(backend)?;
        self.started = Some(Started {
            run,
            report: c.last_insert_rowid(),
            run_existed,
            position,
            attempts: HashMap::default(),
            attempts_complete: !run_existed,
        });
        Ok(())
    }

    fn test_id(&mut self, case: &TestCase) -> Result<i64> {
        let c = self.conn;
        if let Some(cached) = self.test_ids.get_mut(&case.id) {
            if !cached.1 && case.file.is_some() {
                // A test first seen without a file (a passing cargo test) gets the one a later
                // record names (its panic location): owners are found through it.
                c.prepare_cached("UPDATE tests SET file = ?2, line = ?3 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![cached.0, case.file, case.line]))
                    .map_err(backend)?;
                cached.1 = true;
            }
            return Ok(cached.0);
        }
        let existing: Option<(i64, bool)> = c
            .prepare_cached("SELECT id, file IS NULL FROM tests WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row([&case.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend)?;
        let id = match existing {
            Some((id, no_file)) => {
                // See above.
                if no_file && case.file.is_some() {
                    c.prepare_cached("UPDATE tests SET file = ?2, line = ?3 WHERE id = ?1")
                        .and_then(|mut s| s.execute(params![id, case.file, case.line]))
                        .map_err(backend)?;
                }
                id
            }
            None => {
                c.prepare_cached(
                    "INSERT INTO tests (key, classname, name, file, line) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![case.id, case.classname, case.name, case.file, case.line])
                })
                .map_err(backend)?;
                if self.new_tests.len() < CACHE_ENTRIES {
                    self.new_tests.push(case.id.clone());
                } else {
                    // Too many to remember: a rollback will drop the whole cache instead.
                    self.forget_all_on_rollback = true;
                }
                c.last_insert_rowid()
            }
        };
        self.test_ids.insert(
            case.id.clone(),
            (id, case.file.is_some() || existing.is_some_and(|e| !e.1)),
        );
        Ok(id)
    }

    /// Next attempt number of `test` in this run (attempts continue across reports of a run).
    fn next_attempt(&mut self, test: i64) -> Result<i64> {
        let st = self.started.as_mut().expect("started before write");
        let previous = match st.attempts.get(&test) {
            Some(&a) => a,
            None if !st.attempts_complete => self
                .conn
                .prepare_cached(
                    "SELECT COALESCE(MAX(attempt), 0) FROM results WHERE test_id = ?1 AND run_id = ?2",
                )
                .and_then(|mut s| s.query_row(params![test, st.run], |r| r.get(0)))
                .map_err(backend)?,
            None => 0,
        };
        st.attempts.insert(test, previous + 1);
        Ok(previous + 1)
    }

    /// Writes the results of `cases`, several rows per INSERT statement.
    fn write_many(&mut self, cases: &[TestCase]) -> Result<()> {
        // Keep memory bounded on reports with millions of distinct tests: both maps are caches
        // of what the database knows. Trimmed only here, when every row numbered so far has been
        // inserted, so the database answers exactly what the map forgot.
        if self.test_ids.len() > CACHE_ENTRIES {
            self.test_ids.clear();
        }
        if let Some(st) = self.started.as_mut() {
            if st.attempts.len() > CACHE_ENTRIES {
                st.attempts.clear();
                st.attempts_complete = false;
            }
        }
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(cases.len());
        for case in cases {
            let test = self.test_id(case)?;
            let props = props_json(&case.properties);
            for (i, attempt) in case.attempts.iter().enumerate() {
                let number = self.next_attempt(test)?;
                let st = self.started.as_mut().expect("started before write");
                rows.push(Row {
                    test,
                    number,
                    position: st.position,
                    case,
                    attempt,
                    props: if i == 0 { props.clone() } else { None },
                });
                st.position += 1;
            }
            self.records += 1;
        }
        let st = self.started.as_ref().expect("started before write");
        let (run, report) = (st.run, st.report);
        let mut outputs: Vec<Option<i64>> = Vec::with_capacity(rows.len());
        for r in &rows {
            outputs.push(self.output(r)?);
        }
        let full = full_insert_sql();
        for (chunk, outs) in rows
            .chunks(ROWS_PER_INSERT)
            .zip(outputs.chunks(ROWS_PER_INSERT))
        {
            let sql = if chunk.len() == ROWS_PER_INSERT {
                Cow::Borrowed(full)
            } else {
                Cow::Owned(insert_sql(chunk.len()))
            };
            let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
            // A statement from the cache has every parameter NULL (rusqlite clears the bindings
            // when a statement goes back to the cache, and a new one starts so): only values
            // that are not NULL are bound. The run and the report are one parameter each for
            // the whole statement. Binding was a sixth of the writer's instructions.
            stmt.raw_bind_parameter(1, run).map_err(backend)?;
            stmt.raw_bind_parameter(2, report).map_err(backend)?;
            for (i, (r, out)) in chunk.iter().zip(outs).enumerate() {
                let base = 3 + i * PARAMS_PER_ROW;
                stmt.raw_bind_parameter(base, r.test).map_err(backend)?;
                stmt.raw_bind_parameter(base + 1, r.number)
                    .map_err(backend)?;
                stmt.raw_bind_parameter(base + 2, r.position)
                    .map_err(backend)?;
                stmt.raw_bind_parameter(base + 3, r.attempt.outcome.severity() as i64)
                    .map_err(backend)?;
                if let Some(d) = r.attempt.duration {
                    stmt.raw_bind_parameter(base + 4, d).map_err(backend)?;
                }
                if let Some(t) =
                    flakehound_store::time::canonical_or_raw(r.case.timestamp.as_deref())
                {
                    stmt.raw_bind_parameter(base + 5, t).map_err(backend)?;
                }
                if let Some(o) = out {
                    stmt.raw_bind_parameter(base + 6, *o).map_err(backend)?;
                }
            }
            stmt.raw_execute().map_err(backend)?;
        }
        self.results += rows.len() as u64;
        self.executed += rows
            .iter()
            .filter(|r| r.number == 1 && r.attempt.outcome != flakehound_model::Outcome::Skipped)
            .count() as u64;
        Ok(())
    }

    /// Stores the attempt's text, if it has any, returning its id.
    fn output(&self, r: &Row<'_>) -> Result<Option<i64>> {
        let a = r.attempt;
        let f = a.failure.as_ref();
        if f.is_none()
            && a.stdout.is_none()
            && a.stderr.is_none()
            && r.props.is_none()
            && r.case.timestamp.is_none()
        {
            return Ok(None);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO outputs (failure_kind, message, details, stdout, stderr, properties)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    f.and_then(|f| f.kind.as_deref()),
                    f.and_then(|f| f.message.as_deref()),
                    f.and_then(|f| f.details.as_deref()),
                    a.stdout,
                    a.stderr,
                    r.props,
                ])
            })
            .map_err(backend)?;
        Ok(Some(self.conn.last_insert_rowid()))
    }

    /// Updates the run and report rows with what parsing found.
    fn finish(&mut self, info: &ReportInfo) -> Result<()> {
        let st = self.started.as_ref().expect("started before finish");
        let c = self.conn;
        // The report's own host name names the runner of a run that has none (reports from
        // elsewhere get no runner from flakehound's surroundings).
        c.prepare_cached(
            "UPDATE runs SET next_position = ?2, started_at = COALESCE(started_at, ?3),
                tests_executed = tests_executed + ?4, runner = COALESCE(runner, ?5) WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                st.run,
                st.position,
                info.timestamp
                    .as_deref()
                    .and_then(flakehound_store::time::canonical),
                self.executed as i64,
                info.hostname
            ])
        })
        .map_err(backend)?;
        let agg = info.aggregate;
        c.prepare_cached(
            "UPDATE reports SET format = COALESCE(?14, format), tool = ?2, timestamp = ?3, hostname = ?4,
                duration = ?5, properties = ?6, records = ?7, results = ?8, agg_tests = ?9,
                agg_passed = ?10, agg_failed = ?11, agg_errored = ?12, agg_skipped = ?13
             WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![
                st.report,
                info.tool,
                flakehound_store::time::canonical_or_raw(info.timestamp.as_deref()),
                info.hostname,
                info.duration,
                props_json(&info.properties),
                self.records as i64,
                self.results as i64,
                agg.map(|a| a.tests as i64),
                agg.map(|a| a.passed as i64),
                agg.map(|a| a.failed as i64),
                agg.map(|a| a.errored as i64),
                agg.map(|a| a.skipped as i64),
                info.format.map(|f| f.as_str()),
            ]))
        .map_err(backend)?;
        Ok(())
    }

    /// Whether the report is stored already. Definitive only under the write lock: the caller's
    /// own [`flakehound_store::Store::has_report`] ran before it, and a concurrent ingest of the same file
    /// may have committed it since. That is success, not a UNIQUE violation that would roll back
    /// the whole batch.
    fn stored_meanwhile(&self) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM reports WHERE project = ?1 AND hash = ?2")
            .and_then(|mut s| s.exists([&self.header.project, &self.header.hash]))
            .map_err(backend)
            .and_then(|stored| {
                Ok(stored
                    || crate::store::SqliteStore::was_pruned(
                        self.conn,
                        &self.header.project,
                        &self.header.hash,
                    )?)
            })
    }

    /// Leaves buffered mode: commits the batch (its lock must not be held through the rest of
    /// the parse) and stages the report outside the store ([`Staging`]).
    fn start_staging(&mut self) -> Result<()> {
        flush(self.conn, self.batch, self.test_ids)?;
        let mut staging = Staging::attach(self.conn, self.env.path)?;
        let buffer = std::mem::take(&mut self.buffer);
        for chunk in buffer.chunks(STAGE_CHUNK) {
            if let Err(e) = staging.add(self.conn, chunk) {
                staging.discard(self.conn);
                return Err(e);
            }
        }
        self.staging = Some(staging);
        if let Some(dir) = self.env.pause {
            pause_for_test(dir);
        }
        Ok(())
    }

    /// Buffered commit into the batch; any failure loses the whole batch.
    fn commit_buffered(&mut self, info: &ReportInfo) -> Result<()> {
        if !self.batch.open {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(backend)?;
            self.batch.open = true;
            self.batch.since = Some(std::time::Instant::now());
        }
        let buffer = std::mem::take(&mut self.buffer);
        match self.stored_meanwhile() {
            Ok(false) => {}
            Ok(true) => {
                self.duplicate = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let written = self.start().and_then(|()| {
            self.write_many(&buffer)?;
            self.finish(info)
        });
        self.batch.last_records = buffer.len();
        if buffer.capacity() <= crate::store::SPARE_RECORDS {
            self.batch.spent = buffer;
        }
        if let Err(e) = written {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.batch.open = false;
            self.batch.results = 0;
            self.test_ids.clear();
            self.new_tests.clear();
            return Err(StoreError::BatchLost(
                write_error(self.env.path, e).to_string(),
            ));
        }
        self.batch.results += self.results;
        Ok(())
    }
}

/// Finds the report's run by key, or creates it: (run id, existed, next position). Only under
/// the write lock: the run may have been created, or grown, by another writer since.
fn find_or_create_run(c: &Connection, h: &Header) -> Result<(i64, bool, i64)> {
    let m = &h.run;
    let existing: Option<(i64, i64)> = c
        .prepare_cached("SELECT id, next_position FROM runs WHERE project = ?1 AND key = ?2")
        .and_then(|mut s| {
            s.query_row([&h.project, &h.run_key.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    if let Some((id, pos)) = existing {
        return Ok((id, true, pos));
    }
    c.prepare_cached(
        "INSERT INTO runs (key, source, commit_sha, branch, provider, job, ci_run_id, run_attempt,
            runner, os, started_at, duration, url, pull_request, created_at, project)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .and_then(|mut s| {
        s.execute(params![
            h.run_key.0,
            h.source,
            m.commit,
            m.branch,
            m.provider,
            m.job,
            m.run_id,
            m.run_attempt,
            m.runner,
            m.os,
            m.started_at
                .as_deref()
                .and_then(flakehound_store::time::canonical),
            m.duration,
            m.url,
            m.pull_request,
            now(),
            h.project
        ])
    })
    .map_err(backend)?;
    Ok((c.last_insert_rowid(), false, 0))
}

/// One result row to insert.
struct Row<'c> {
    test: i64,
    number: i64,
    position: i64,
    case: &'c TestCase,
    attempt: &'c flakehound_model::Attempt,
    props: Option<String>,
}

/// Rows per multi-row INSERT: amortises statement overhead (2 + 7 × 32 = 226 parameters).
const ROWS_PER_INSERT: usize = 32;

/// Parameters of one row in [`insert_sql`]: all columns but the run and the report, which are
/// `?1` and `?2` for every row.
const PARAMS_PER_ROW: usize = 7;

/// `INSERT INTO results ... VALUES (...), (...)` for `n` rows (statements are cached by text):
/// `?1` is the run, `?2` the report, then [`PARAMS_PER_ROW`] numbered parameters per row.
fn insert_sql(n: usize) -> String {
    use std::fmt::Write;
    // `OR FAIL`: a constraint violation (never expected: attempts are numbered by the writer)
    // still fails the statement, and the writer then rolls back the whole batch; unlike the
    // default `ABORT`, SQLite needs no statement journal to undo the rows the statement already
    // inserted, which copied every page a report touched (6% of the writer's instructions).
    let mut sql = String::from(
        "INSERT OR FAIL INTO results (test_id, run_id, attempt, report_id, position, outcome, \
         duration, timestamp, output_id) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        let b = 3 + i * PARAMS_PER_ROW;
        let _ = write!(
            sql,
            "(?{b},?1,?{},?2,?{},?{},?{},?{},?{})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        );
    }
    sql
}

/// [`insert_sql`] of a full chunk, built once.
fn full_insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| insert_sql(ROWS_PER_INSERT))
}

fn approx_size(case: &TestCase) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let mut n = 256 + case.id.len() + case.name.len() + opt(&case.classname) + opt(&case.file);
    n += case.suite.iter().map(String::len).sum::<usize>();
    n += case
        .properties
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>();
    for a in &case.attempts {
        n += 64 + opt(&a.stdout) + opt(&a.stderr);
        if let Some(f) = &a.failure {
            n += opt(&f.kind) + opt(&f.message) + opt(&f.details);
        }
    }
    n
}

impl ReportWriter for SqliteWriter<'_> {
    fn add(&mut self, case: TestCase) -> Result<()> {
        self.add_case(case)
            .map_err(|e| write_error(self.env.path, e))
    }

    fn commit(self: Box<Self>, info: &ReportInfo) -> Result<Written> {
        let path = self.env.path;
        self.commit_report(info).map_err(|e| write_error(path, e))
    }
}

impl SqliteWriter<'_> {
    fn add_case(&mut self, case: TestCase) -> Result<()> {
        if self.duplicate {
            return Ok(());
        }
        if let Some(staging) = self.staging.as_mut() {
            self.buffer.push(case);
            if self.buffer.len() >= STAGE_CHUNK {
                let chunk = std::mem::take(&mut self.buffer);
                staging.add(self.conn, &chunk)?;
                // Keeps the allocation for the next chunk.
                self.buffer = chunk;
                self.buffer.clear();
            }
            return Ok(());
        }
        self.buffered_bytes += approx_size(&case);
        self.buffer.push(case);
        if self.buffered_bytes > self.env.buffer_bytes {
            self.start_staging()?;
        }
        Ok(())
    }

    fn commit_report(mut self: Box<Self>, info: &ReportInfo) -> Result<Written> {
        if let Some(mut staging) = self.staging.take() {
            let copied = staging
                .add(self.conn, &std::mem::take(&mut self.buffer))
                .and_then(|()| {
                    let header = &self.header;
                    let run = |c: &Connection| find_or_create_run(c, header);
                    let target = Target {
                        project: &header.project,
                        hash: &header.hash,
                        path: header.path.as_deref(),
                        format: header.format,
                        run: &run,
                    };
                    staging.copy(self.conn, &target, info)
                });
            let records = staging.records;
            staging.discard(self.conn);
            let copied = copied?;
            self.committed = true;
            // Test rows were written behind the cache's back: it knows none of them, and a miss
            // is answered by the database, so the cache stays right.
            return Ok(Written {
                records: if copied.duplicate { 0 } else { records },
                results: copied.results,
                new_run: !copied.duplicate && !copied.run_existed,
                duplicate: copied.duplicate,
            });
        }
        self.commit_buffered(info)?;
        self.committed = true;
        self.new_tests.clear();
        if self.duplicate {
            return Ok(Written {
                duplicate: true,
                ..Written::default()
            });
        }
        let run_existed = self.started.as_ref().is_some_and(|s| s.run_existed);
        Ok(Written {
            records: self.records,
            results: self.results,
            new_run: !run_existed,
            duplicate: false,
        })
    }
}

impl Drop for SqliteWriter<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(staging) = self.staging.take() {
            // Nothing reached the store: drop the staged records.
            staging.discard(self.conn);
        }
        // Buffered and not committed: nothing was written.
        if self.forget_all_on_rollback {
            self.test_ids.clear();
        }
        for key in self.new_tests.drain(..) {
            self.test_ids.remove(&key);
        }
    }
}
