//! Writing one report into the SQLite store, all-or-nothing, fast.
//!
//! Two modes, chosen by report size:
//! - Buffered (almost every report): records are kept in memory while the report is parsed and
//!   written only at [`ReportWriter::commit`], inside the store's open batch transaction. A report
//!   whose parse fails never touches the database, so no savepoint is needed; savepoints cost
//!   ~30% of ingest time, journaling every index page a report touches.
//! - Streaming (reports beyond [`BUFFER_BYTES`] of records, e.g. a 1 GB JUnit file): the batch is
//!   committed, the report gets a transaction of its own and records are written as they come,
//!   so memory stays bounded. Dropping the writer rolls that transaction back.
//!
//! Test ids and attempt numbers are cached in foldhash maps: SipHash was 9% of ingest time;
//! foldhash is several times faster and still seeded per process, so crafted test ids in a
//! report cannot force collisions.
//!
//! If a buffered write fails half-way (I/O error, disk full), the whole open batch is rolled
//! back and [`StoreError::BatchLost`] tells the caller that every uncommitted report is gone.

use crate::sqlite::{Batch, backend, flush, now, props_json};
use crate::{NewReport, ReportWriter, Result, RunKey, StoreError, Written};
use flakehound_model::{ReportInfo, RunMeta, TestCase};
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension, params};

/// Most bytes of records buffered per report before switching to streaming.
pub const BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// Entries kept in the test-id and attempt-number caches (a few MB each).
const CACHE_ENTRIES: usize = 100_000;

/// What the report row needs, owned (the writer outlives the caller's borrow).
struct Header {
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
    test_ids: &'s mut HashMap<String, i64>,
    header: Header,
    buffer: Vec<TestCase>,
    buffered_bytes: usize,
    /// Set once rows are being written (streaming mode, or during a buffered commit).
    started: Option<Started>,
    /// Streaming: the report's own transaction is open.
    streaming: bool,
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
        batch: &'s mut Batch,
        test_ids: &'s mut HashMap<String, i64>,
        report: &NewReport<'_>,
    ) -> Self {
        SqliteWriter {
            conn,
            batch,
            test_ids,
            header: Header {
                hash: report.hash.to_string(),
                path: report.path.map(str::to_string),
                format: report.format.map(|f| f.as_str()),
                run_key: report.run_key.clone(),
                run: report.run.clone(),
                source: report.source.to_string(),
            },
            buffer: Vec::new(),
            buffered_bytes: 0,
            started: None,
            streaming: false,
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
        let m = &h.run;
        let c = self.conn;
        let existing: Option<i64> = c
            .query_row("SELECT id FROM runs WHERE key = ?1", [&h.run_key.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)?;
        let (run, run_existed, position) = match existing {
            Some(id) => {
                let pos: i64 = c
                    .query_row("SELECT next_position FROM runs WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                (id, true, pos)
            }
            None => {
                c.execute(
                    "INSERT INTO runs (key, source, commit_sha, branch, provider, job, ci_run_id, run_attempt,
                        runner, os, started_at, duration, url, pull_request, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    params![
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
                        m.started_at.as_deref().and_then(crate::time::canonical),
                        m.duration,
                        m.url,
                        m.pull_request,
                        now()
                    ],
                )
                .map_err(backend)?;
                (c.last_insert_rowid(), false, 0)
            }
        };
        // Counts are placeholders until finish().
        c.execute(
            "INSERT INTO reports (run_id, hash, path, format, records, results, ingested_at)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5)",
            params![run, h.hash, h.path, h.format.unwrap_or("unknown"), now()],
        )
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
        if let Some(&id) = self.test_ids.get(&case.id) {
            return Ok(id);
        }
        let c = self.conn;
        let existing: Option<(i64, bool)> = c
            .prepare_cached("SELECT id, file IS NULL FROM tests WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row([&case.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend)?;
        let id = match existing {
            Some((id, no_file)) => {
                // A test first seen without a file (a passing cargo test) gets the one a later
                // record names (its panic location): owners are found through it.
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
        self.test_ids.insert(case.id.clone(), id);
        Ok(id)
    }

    fn write(&mut self, case: &TestCase) -> Result<()> {
        self.write_many(std::slice::from_ref(case))
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
        for (chunk, outs) in rows
            .chunks(ROWS_PER_INSERT)
            .zip(outputs.chunks(ROWS_PER_INSERT))
        {
            let mut stmt = self
                .conn
                .prepare_cached(&insert_sql(chunk.len()))
                .map_err(backend)?;
            let mut col = 0;
            let mut bind = |v: &dyn rusqlite::ToSql| {
                col += 1;
                stmt.raw_bind_parameter(col, v).map_err(backend)
            };
            for (r, out) in chunk.iter().zip(outs) {
                bind(&r.test)?;
                bind(&run)?;
                bind(&r.number)?;
                bind(&report)?;
                bind(&r.position)?;
                bind(&(r.attempt.outcome.severity() as i64))?;
                bind(&r.attempt.duration)?;
                bind(&crate::time::canonical_or_raw(r.case.timestamp.as_deref()))?;
                bind(out)?;
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
        c.execute(
            "UPDATE runs SET next_position = ?2, started_at = COALESCE(started_at, ?3),
                tests_executed = tests_executed + ?4, runner = COALESCE(runner, ?5) WHERE id = ?1",
            params![
                st.run,
                st.position,
                info.timestamp.as_deref().and_then(crate::time::canonical),
                self.executed as i64,
                info.hostname
            ],
        )
        .map_err(backend)?;
        let agg = info.aggregate;
        c.execute(
            "UPDATE reports SET format = COALESCE(?14, format), tool = ?2, timestamp = ?3, hostname = ?4,
                duration = ?5, properties = ?6, records = ?7, results = ?8, agg_tests = ?9,
                agg_passed = ?10, agg_failed = ?11, agg_errored = ?12, agg_skipped = ?13
             WHERE id = ?1",
            params![
                st.report,
                info.tool,
                crate::time::canonical_or_raw(info.timestamp.as_deref()),
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
            ],
        )
        .map_err(backend)?;
        Ok(())
    }

    /// Whether the report is stored already. Definitive only under the write lock: the caller's
    /// own [`crate::Store::has_report`] ran before it, and a concurrent ingest of the same file
    /// may have committed it since. That is success, not a UNIQUE violation that would roll back
    /// the whole batch.
    fn stored_meanwhile(&self) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM reports WHERE hash = ?1")
            .and_then(|mut s| s.exists([&self.header.hash]))
            .map_err(backend)
    }

    /// Leaves buffered mode: commits the batch and gives this report its own transaction.
    fn start_streaming(&mut self) -> Result<()> {
        flush(self.conn, self.batch, self.test_ids)?;
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(backend)?;
        if self.stored_meanwhile()? {
            self.conn.execute_batch("ROLLBACK").map_err(backend)?;
            self.duplicate = true;
            self.buffer = Vec::new();
            return Ok(());
        }
        self.streaming = true;
        self.start()?;
        let buffer = std::mem::take(&mut self.buffer);
        self.write_many(&buffer)?;
        Ok(())
    }

    /// Buffered commit into the batch; any failure loses the whole batch.
    fn commit_buffered(&mut self, info: &ReportInfo) -> Result<()> {
        if !self.batch.open {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(backend)?;
            self.batch.open = true;
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
        if let Err(e) = written {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.batch.open = false;
            self.batch.results = 0;
            self.test_ids.clear();
            self.new_tests.clear();
            return Err(StoreError::BatchLost(e.to_string()));
        }
        self.batch.results += self.results;
        Ok(())
    }
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

/// Rows per multi-row INSERT: amortises statement overhead (9 × 32 = 288 parameters).
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO results ... VALUES (...), (...)` for `n` rows (statements are cached by text).
fn insert_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO results (test_id, run_id, attempt, report_id, position, outcome, duration, \
         timestamp, output_id) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?)");
    }
    sql
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
        if self.duplicate {
            return Ok(());
        }
        if self.streaming {
            return self.write(&case);
        }
        self.buffered_bytes += approx_size(&case);
        self.buffer.push(case);
        if self.buffered_bytes > BUFFER_BYTES {
            self.start_streaming()?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>, info: &ReportInfo) -> Result<Written> {
        if self.duplicate {
            // Found stored while streaming: its transaction is already rolled back.
        } else if self.streaming {
            self.finish(info)?;
            self.conn.execute_batch("COMMIT").map_err(backend)?;
            self.streaming = false;
        } else {
            self.commit_buffered(info)?;
        }
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
        if self.streaming {
            // The report's own transaction: undo it and the test rows it created.
            let _ = self.conn.execute_batch("ROLLBACK");
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
