//! Writing one report into PostgreSQL, all-or-nothing.
//!
//! Records are buffered in memory while the report is parsed and written at commit into the
//! store's batch: the transaction holding every report committed since the last flush, under the
//! project's write lock (a failed first report of a batch is retried when the server aborted it
//! for a deadlock or a serialization failure; a later one loses the batch).
//! A report with more than [`BUFFER_BYTES`] of records is streamed instead: its transaction is
//! opened and its rows locked as soon as the buffer overflows, and records are written in chunks
//! as they come; dropping the writer rolls the transaction back.
//!
//! Lock order, the same in every writer: the project's write lock, the run row (`FOR UPDATE`,
//! serialising the reports of one run), the report's hash (unique index), then new test rows in
//! key order.

use crate::conn::{COPY_HEADER, COPY_TRAILER, Conn, ReportRow, RunRow};
use crate::store::{PostgresStore, backend, clean, clean_opt, now, props_json};
use flakehound_model::{Outcome, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, Numbering, ReportWriter, Result, RunKey, StoreError, Written};
use foldhash::{HashMap, HashSet};
use postgres::error::SqlState;
use postgres::{Client, GenericClient, Statement, Transaction};
use std::borrow::Cow;
use std::io::Write;

/// Most bytes of records buffered per report before streaming it.
pub const BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// Records written at a time when streaming.
const CHUNK: usize = 4096;

/// Entries kept in the test-id cache.
const CACHE_ENTRIES: usize = 100_000;

/// Times a report aborted by the server (deadlock, serialization failure) is written again.
const RETRIES: usize = 5;

/// Test row ids by test id, and whether the stored test has a file: a cache across the
/// reports of one handle. Emptied whenever a transaction that may have created tests is rolled
/// back.
pub(crate) type TestIds = HashMap<String, (i64, bool)>;

/// Statements prepared on the store's connection, by SQL text: a statement prepared once is one
/// round trip per use instead of two (and no parse or plan on the server).
pub(crate) type Stmts = HashMap<&'static str, Statement>;

/// `tx.method(&prepared(sql), params…)`.
macro_rules! run {
    ($tx:expr, $stmts:expr, $m:ident, $sql:expr, $($p:tt)*) => {{
        let stmt = prep($tx, $stmts, $sql)?;
        $tx.$m(&stmt, $($p)*)
    }};
}

fn prep(tx: &mut impl GenericClient, stmts: &mut Stmts, sql: &'static str) -> WResult<Statement> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = tx.prepare(sql)?;
    stmts.insert(sql, s.clone());
    Ok(s)
}

/// What the report row needs, owned.
struct Header {
    hash: String,
    path: Option<String>,
    format: Option<&'static str>,
    run_key: RunKey,
    run: RunMeta,
    source: String,
}

/// Rows of the report once started in its transaction.
struct Started {
    run: i64,
    report: i64,
    new_run: bool,
    numbering: Numbering<i64>,
    records: u64,
    results: u64,
    /// Tests whose first attempt in the run was written by this report and executed.
    executed: u64,
}

pub(crate) struct PgWriter<'s> {
    store: Option<&'s mut PostgresStore>,
    header: Header,
    buffer: Vec<TestCase>,
    buffered_bytes: usize,
    /// Set once streaming: the open transaction and the report's rows (None: a duplicate,
    /// whose records are discarded).
    streaming: Option<(Transaction<'s>, Option<Started>, &'s mut Stmts)>,
    project: String,
    shown: String,
}

/// A failure while writing: the server's (retried when it aborted the transaction for a
/// deadlock or a serialization failure) or the store's own (a value out of range).
pub(crate) enum WriteError {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for WriteError {
    fn from(e: postgres::Error) -> Self {
        WriteError::Pg(e)
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl WriteError {
    fn retryable(&self) -> bool {
        matches!(self, WriteError::Pg(e) if e.code().is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
        }))
    }

    fn into_store(self) -> StoreError {
        match self {
            WriteError::Pg(e) => backend(e),
            WriteError::Store(e) => e,
        }
    }
}

type WResult<T> = std::result::Result<T, WriteError>;

impl<'s> PgWriter<'s> {
    pub(crate) fn new(store: &'s mut PostgresStore, report: &NewReport<'_>) -> Self {
        let buffer = std::mem::take(&mut store.spare);
        PgWriter {
            project: store.project.clone(),
            shown: store.shown.clone(),
            store: Some(store),
            header: Header {
                hash: clean(report.hash).into_owned(),
                path: report.path.map(|p| clean(p).into_owned()),
                format: report.format.map(|f| f.as_str()),
                run_key: RunKey(clean(&report.run_key.0).into_owned()),
                run: report.run.clone(),
                source: report.source.to_string(),
            },
            buffer,
            buffered_bytes: 0,
            streaming: None,
        }
    }

    fn write_error(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Backend(reason) => StoreError::Write {
                path: self.shown.clone(),
                reason,
            },
            other => other,
        }
    }

    /// Leaves buffered mode: ends the store's batch, opens the report's own transaction, starts
    /// the report and writes the buffer.
    fn start_streaming(&mut self) -> WResult<()> {
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        // The reports committed before go first (the caller learns of a failure at its next
        // flush, which is where it accounts for them).
        if let Err(e) = end_batch(store, false) {
            store.lost = Some(e.to_string());
            return Err(e.into());
        }
        // Tests created in this transaction vanish if it rolls back: the cache must not keep
        // them, so streamed reports neither read nor fill it.
        store.test_ids.clear();
        store.unsynced = true;
        let PostgresStore { client, stmts, .. } = store;
        let mut tx = client.get()?.transaction()?;
        lock_project(&mut tx, &self.project)?;
        let mut started = start(&mut tx, stmts, &self.project, &self.header)?;
        let buffer = std::mem::take(&mut self.buffer);
        if let Some(st) = started.as_mut() {
            write_cases(&mut tx, stmts, &self.project, st, &buffer)?;
        }
        self.streaming = Some((tx, started, stmts));
        Ok(())
    }

    fn add_case(&mut self, case: TestCase) -> WResult<()> {
        if let Some((tx, started, stmts)) = self.streaming.as_mut() {
            let Some(st) = started.as_mut() else {
                return Ok(());
            };
            self.buffer.push(case);
            if self.buffer.len() >= CHUNK {
                let mut chunk = std::mem::take(&mut self.buffer);
                write_cases(tx, stmts, &self.project, st, &chunk)?;
                // Keeps the allocation for the next chunk.
                chunk.clear();
                self.buffer = chunk;
            }
            return Ok(());
        }
        self.buffered_bytes += approx_size(&case);
        self.buffer.push(case);
        if self.buffered_bytes > BUFFER_BYTES {
            self.start_streaming()?;
        }
        Ok(())
    }

    fn commit_report(&mut self, info: &ReportInfo) -> WResult<Written> {
        if let Some((mut tx, started, stmts)) = self.streaming.take() {
            let Some(mut st) = started else {
                // Stored by another writer meanwhile: nothing of ours was written.
                tx.rollback()?;
                return Ok(duplicate());
            };
            let chunk = std::mem::take(&mut self.buffer);
            write_cases(&mut tx, stmts, &self.project, &mut st, &chunk)?;
            finish(&mut tx, stmts, &st, info)?;
            tx.commit()?;
            return Ok(written(&st));
        }
        let Some(store) = self.store.take() else {
            return Err(StoreError::Backend("report committed twice".into()).into());
        };
        let mut tries = 0;
        loop {
            let earlier = store.batch.reports;
            match write_buffered(store, &self.project, &self.header, &self.buffer, info) {
                Ok(w) => {
                    if !w.duplicate {
                        store.unsynced = true;
                    }
                    // The next report's buffer: its allocation grew to this report's size
                    // (growing a vector of records one push at a time was 7% of the writer).
                    self.buffer.clear();
                    store.spare = std::mem::take(&mut self.buffer);
                    return Ok(w);
                }
                Err(e) => {
                    // The batch rolls back, with the tests it created.
                    if let Some(c) = store.client.reset()
                        && store.batch.open
                    {
                        let _ = c.batch_execute("ROLLBACK");
                    }
                    store.batch = Batch::default();
                    store.test_ids.clear();
                    if earlier > 0 {
                        let e = store.write_error(e.into_store());
                        return Err(StoreError::BatchLost(e.to_string()).into());
                    }
                    tries += 1;
                    if !e.retryable() || tries > RETRIES {
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl ReportWriter for PgWriter<'_> {
    fn add(&mut self, case: TestCase) -> Result<()> {
        self.add_case(case)
            .map_err(|e| self.write_error(e.into_store()))
    }

    fn commit(mut self: Box<Self>, info: &ReportInfo) -> Result<Written> {
        self.commit_report(info)
            .map_err(|e| self.write_error(e.into_store()))
    }
}

fn duplicate() -> Written {
    Written {
        duplicate: true,
        ..Written::default()
    }
}

fn written(st: &Started) -> Written {
    Written {
        records: st.records,
        results: st.results,
        new_run: st.new_run,
        duplicate: false,
    }
}

/// A string literal for the simple query protocol. Safe for any text: the session runs with
/// `standard_conforming_strings = on` (checked at connect), where a backslash is an ordinary
/// character and a doubled quote the only escape; NUL, which PostgreSQL text cannot hold, is
/// replaced first.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", clean(s).replace('\'', "''"))
}

fn lit_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), lit)
}

/// Where the store's open batch stands: one transaction holding the reports committed since
/// the last [`end_batch`], under the project's write lock.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) open: bool,
    /// When the batch took the write lock.
    pub(crate) since: Option<std::time::Instant>,
    /// Reports written in it (duplicates write nothing).
    pub(crate) reports: usize,
    /// Runs written to in it, by id: their numbering and the update they get at the end.
    runs: HashMap<i64, RunState>,
    /// Run ids by key, for the runs above.
    run_ids: HashMap<String, i64>,
    /// Result rows encoded for binary COPY, not yet sent.
    copy: Vec<u8>,
    /// Whether result rows are streamed ([`crate::conn`]): an ingest announced its reports.
    stream: bool,
    /// Expected reports and runs not stored when the batch took the lock, not written yet.
    fresh_hashes: HashSet<String>,
    fresh_runs: HashSet<String>,
    /// Ids reserved from the sequences, the next at the end.
    free_run_ids: Vec<i64>,
    free_report_ids: Vec<i64>,
}

/// A run the batch wrote to: its rows are locked by the batch, so its numbering state is
/// authoritative here until the batch ends.
struct RunState {
    numbering: Numbering<i64>,
    executed: i64,
    started: Option<String>,
    runner: Option<String>,
}

/// Encoded rows sent in one COPY while the batch stays open (when it does not stream).
const COPY_BYTES: usize = 8 * 1024 * 1024;

/// Encoded rows handed to the streaming COPY at a time (see [`crate::conn`]); also the size of
/// the messages of a COPY sent at once. Small enough that the server starts inserting soon
/// after the writer starts encoding, large enough that a chunk is not a context switch per
/// report.
pub(crate) const STREAM_CHUNK: usize = 256 * 1024;

/// Ids reserved from a sequence at a time for reports and runs written without a round trip.
const RESERVE: usize = 1024;

/// The COPY of result rows.
const COPY_SQL: &str = "COPY results (run_id, test_id, attempt, report_id, position, outcome,
     duration, timestamp, failure_kind, message, details, stdout, stderr, properties)
 FROM STDIN (FORMAT binary)";

fn copy_capacity(stream: bool) -> usize {
    if stream {
        STREAM_CHUNK + STREAM_CHUNK / 4
    } else {
        COPY_BYTES + COPY_BYTES / 8
    }
}

/// The prepared COPY of result rows (prepared on first use, which needs the connection).
fn copy_statement(conn: &mut Conn, stmts: &mut Stmts) -> WResult<Statement> {
    match stmts.get(COPY_SQL) {
        Some(s) => Ok(s.clone()),
        None => prep(conn.get()?, stmts, COPY_SQL),
    }
}

/// What an ingest announced it will write (see `Store::expect_reports`): content hashes and run
/// keys, as stored (without NUL).
#[derive(Default)]
pub(crate) struct Expected {
    pub(crate) hashes: HashSet<String>,
    pub(crate) runs: HashSet<String>,
}

/// Under the batch's write lock: which of the expected reports and runs are not stored. No
/// other writer of the project can store them before the batch ends, so the batch may write
/// them without asking again (see `write_buffered`). Reserves the first ids for them.
fn verify_expected(
    client: &mut Client,
    project: &str,
    expected: &Expected,
    batch: &mut Batch,
) -> WResult<()> {
    if expected.hashes.is_empty() {
        return Ok(());
    }
    let hashes: Vec<&str> = expected.hashes.iter().map(String::as_str).collect();
    let runs: Vec<&str> = expected.runs.iter().map(String::as_str).collect();
    let rows = client.query(
        "SELECT true, hash FROM reports WHERE project = $1 AND hash = ANY($2)
         UNION ALL SELECT false, key FROM runs WHERE project = $1 AND key = ANY($3)",
        &[&project, &hashes, &runs],
    )?;
    let mut stored_hashes: HashSet<String> = HashSet::default();
    let mut stored_runs: HashSet<String> = HashSet::default();
    for r in rows {
        if r.get::<_, bool>(0) {
            stored_hashes.insert(r.get(1));
        } else {
            stored_runs.insert(r.get(1));
        }
    }
    // Pruned reports count as stored (retention keeps them out).
    let pruned = client.query(
        "SELECT hash FROM pruned_reports WHERE project = $1 AND hash = ANY($2)",
        &[&project, &hashes],
    )?;
    stored_hashes.extend(pruned.iter().map(|r| r.get::<_, String>(0)));
    batch.fresh_hashes = expected
        .hashes
        .iter()
        .filter(|h| !stored_hashes.contains(*h))
        .cloned()
        .collect();
    batch.fresh_runs = expected
        .runs
        .iter()
        .filter(|k| !stored_runs.contains(*k))
        .cloned()
        .collect();
    batch.stream = true;
    Ok(())
}

/// Makes sure a report id (and a run id when `new_run`) is reserved for a report written without
/// a round trip, reserving the next ids when none is left (one round trip per [`RESERVE`]
/// reports). False when the sequences could not be asked (the report takes the usual path).
fn reserve(conn: &mut Conn, batch: &mut Batch, new_run: bool) -> WResult<bool> {
    let runs_needed = new_run && batch.free_run_ids.is_empty();
    if !batch.free_report_ids.is_empty() && !runs_needed {
        return Ok(true);
    }
    let reports = if batch.free_report_ids.is_empty() {
        batch.fresh_hashes.len().min(RESERVE)
    } else {
        0
    };
    let runs = if runs_needed {
        batch.fresh_runs.len().min(RESERVE)
    } else {
        0
    };
    let row = conn.get()?.query_one(
        "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('runs', 'id'))
                      FROM generate_series(1, $1::int8)),
                ARRAY(SELECT nextval(pg_get_serial_sequence('reports', 'id'))
                      FROM generate_series(1, $2::int8))",
        &[&(runs as i64), &(reports as i64)],
    )?;
    // Popped from the end: the ids are used in ascending order.
    let mut run_ids: Vec<i64> = row.get(0);
    let mut report_ids: Vec<i64> = row.get(1);
    run_ids.reverse();
    report_ids.reverse();
    batch.free_run_ids.extend(run_ids);
    batch.free_report_ids.extend(report_ids);
    Ok(!batch.free_report_ids.is_empty() && (!new_run || !batch.free_run_ids.is_empty()))
}

/// The test row ids of `cases` from the cache alone, when it knows every test and none needs
/// its file set.
fn cached_tests(cache: &TestIds, cases: &[TestCase]) -> Option<Vec<i64>> {
    cases
        .iter()
        .map(|c| match cache.get(clean(&c.id).as_ref()) {
            Some(&(id, has_file)) if has_file || c.file.is_none() => Some(id),
            _ => None,
        })
        .collect()
}

/// The statements opening a batch: the transaction and the project's write lock. Writers of one
/// project take turns a batch at a time (as SQLite's do): batches lock rows of several runs,
/// reports and tests, and without the turn two batches could deadlock on them.
fn open_sql(project: &str) -> String {
    format!(
        "BEGIN; SELECT pg_advisory_xact_lock(hashtext('flakehound.write ' || current_schema()),
             hashtext({}));",
        lit(project)
    )
}

/// Takes the write lock in a transaction of its own (a streamed report).
fn lock_project(tx: &mut Transaction<'_>, project: &str) -> WResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('flakehound.write ' || current_schema()),
             hashtext($1))",
        &[&project],
    )?;
    Ok(())
}

/// Ends the open batch: the pending results, the runs' updates and the commit in two round
/// trips; `durable`: the commit waits for the WAL (which is [`Store::flush`]). On failure
/// everything since the batch began is rolled back: [`StoreError::BatchLost`] when that held
/// reports.
///
/// [`Store::flush`]: flakehound_store::Store::flush
pub(crate) fn end_batch(store: &mut PostgresStore, durable: bool) -> Result<()> {
    if !store.batch.open {
        return Ok(());
    }
    let PostgresStore {
        client,
        stmts,
        batch,
        ..
    } = store;
    let r = (|| -> WResult<()> {
        if client.streaming() && !batch.copy.is_empty() {
            let copy = copy_statement(client, stmts)?;
            client.send(std::mem::take(&mut batch.copy), &copy)?;
        }
        // Ends the stream and inserts the deferred run and report rows first.
        let client = client.get()?;
        send_copy(client, stmts, &mut batch.copy)?;
        let mut sql = run_updates(&batch.runs);
        if durable {
            sql.push_str("SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); ");
        }
        sql.push_str("COMMIT");
        client.batch_execute(&sql)?;
        Ok(())
    })();
    let reports = batch.reports;
    // The COPY buffer's allocation serves the next batch.
    let mut copy = std::mem::take(&mut batch.copy);
    copy.clear();
    *batch = Batch::default();
    batch.copy = copy;
    match r {
        Ok(()) => {
            if reports > 0 {
                store.unsynced = !durable;
            }
            Ok(())
        }
        Err(e) => {
            if let Some(c) = store.client.reset() {
                let _ = c.batch_execute("ROLLBACK");
            }
            store.test_ids.clear();
            let e = store.write_error(e.into_store());
            Err(if reports > 0 {
                StoreError::BatchLost(e.to_string())
            } else {
                e
            })
        }
    }
}

/// One statement updating every run the batch wrote to (its next position, executed tests, and
/// start time and runner when it has none), or nothing.
fn run_updates(runs: &HashMap<i64, RunState>) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut order: Vec<_> = runs.iter().collect();
    order.sort_by_key(|(id, _)| **id);
    let values: Vec<String> = order
        .iter()
        .map(|(id, r)| {
            format!(
                "({id}::int8, {}::int8, {}::text, {}::int8, {}::text)",
                r.numbering.next_position(),
                lit_opt(r.started.as_deref()),
                r.executed,
                lit_opt(r.runner.as_deref()),
            )
        })
        .collect();
    format!(
        "UPDATE runs SET next_position = v.pos, started_at = COALESCE(runs.started_at, v.started),
             tests_executed = runs.tests_executed + v.executed,
             runner = COALESCE(runs.runner, v.runner)
         FROM (VALUES {}) AS v(id, pos, started, executed, runner)
         WHERE runs.id = v.id; ",
        values.join(", ")
    )
}

/// Writes the buffered report into the store's batch (opening it), in one round trip when its
/// run is known to the batch and its tests to the handle: the report row (and the run, and
/// what the run holds when the batch does not know it yet) in one simple query; the results are
/// encoded for the batch's COPY. New tests add one or two round trips.
fn write_buffered(
    store: &mut PostgresStore,
    project: &str,
    h: &Header,
    cases: &[TestCase],
    info: &ReportInfo,
) -> WResult<Written> {
    let PostgresStore {
        client: conn,
        stmts,
        test_ids,
        batch,
        expected,
        ..
    } = store;
    let m = &h.run;
    let results: u64 = cases.iter().map(|c| c.attempts.len() as u64).sum();
    let agg = info.aggregate;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let agg_n = |f: fn(&flakehound_model::Counts) -> u64| agg.as_ref().map(|a| n(f(a)));
    if !batch.open {
        let client = conn.get()?;
        let opened = client.batch_execute(&open_sql(project));
        // BEGIN went through with the lock, or an error left the connection in a failed
        // transaction, or none of it ran: ROLLBACK ends each of them.
        batch.open = true;
        batch.since = Some(std::time::Instant::now());
        opened?;
        verify_expected(client, project, expected, batch)?;
    }
    let known_run = batch.run_ids.get(&h.run_key.0).copied();
    let format = info
        .format
        .map(|f| f.as_str())
        .or(h.format)
        .unwrap_or("unknown");
    let tool = clean_opt(info.tool.as_deref());
    let timestamp = flakehound_store::time::canonical_or_raw(info.timestamp.as_deref());
    let timestamp = clean_opt(timestamp.as_deref());
    let hostname = clean_opt(info.hostname.as_deref());
    let props = props_json(&info.properties);
    let props = clean_opt(props.as_deref());
    let (records, results) = (n(cases.len() as u64), n(results));
    let (at, ap, af) = (agg_n(|a| a.tests), agg_n(|a| a.passed), agg_n(|a| a.failed));
    let (ae, as_) = (agg_n(|a| a.errored), agg_n(|a| a.skipped));
    let now = now();
    let run_attempt = m
        .run_attempt
        .and_then(|a| int4(i64::from(a), "run attempt").ok());
    let started = m
        .started_at
        .as_deref()
        .and_then(flakehound_store::time::canonical);
    // The report's parameters, after the run's (or the run id) and the shared ones.
    let (mut run, mut report, mut new_run, mut next_position) = (known_run, None, false, 0);
    // Without a round trip: a report this batch knows to be new (see `verify_expected`), of a
    // run it created or knows to be new, with ids reserved from the sequences. Its rows are
    // inserted with the others before the connection is next used for anything else.
    let fresh = batch.fresh_hashes.contains(&h.hash)
        && (known_run.is_some() || batch.fresh_runs.contains(&h.run_key.0));
    if fresh && reserve(conn, batch, known_run.is_none())? {
        batch.fresh_hashes.remove(&h.hash);
        expected.hashes.remove(&h.hash);
        let run_id = match known_run {
            Some(id) => id,
            None => {
                batch.fresh_runs.remove(&h.run_key.0);
                let id = batch.free_run_ids.pop().unwrap_or_default();
                new_run = true;
                let text = |v: &Option<String>| clean_opt(v.as_deref()).map(Cow::into_owned);
                conn.deferred.runs.push(RunRow {
                    id,
                    key: h.run_key.0.clone(),
                    source: clean(&h.source).into_owned(),
                    meta: RunMeta {
                        commit: text(&m.commit),
                        branch: text(&m.branch),
                        provider: text(&m.provider),
                        job: text(&m.job),
                        run_id: text(&m.run_id),
                        // As the statement of the usual path binds it: out of range is none.
                        run_attempt: m.run_attempt.filter(|_| run_attempt.is_some()),
                        runner: text(&m.runner),
                        os: text(&m.os),
                        started_at: started.clone(),
                        duration: m.duration,
                        url: text(&m.url),
                        pull_request: text(&m.pull_request),
                    },
                    created_at: now.clone(),
                });
                id
            }
        };
        let id = batch.free_report_ids.pop().unwrap_or_default();
        let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        conn.deferred.reports.push(ReportRow {
            id,
            run_id,
            hash: h.hash.clone(),
            path: h.path.clone(),
            format: format.to_string(),
            tool: owned(tool),
            timestamp: owned(timestamp),
            hostname: owned(hostname),
            duration: info.duration,
            properties: owned(props),
            records,
            results,
            agg: [at, ap, af, ae, as_],
            ingested_at: now,
        });
        run = Some(run_id);
        report = Some(id);
    } else if let Some(id) = known_run {
        let client = conn.get()?;
        // One prepared statement (parsed and planned once per connection): the report row.
        let row =
            run!(
            client,
            stmts,
            query_opt,
            "INSERT INTO reports (project, run_id, hash, path, format, tool, timestamp, hostname,
                 duration, properties, records, results, agg_tests, agg_passed, agg_failed,
                 agg_errored, agg_skipped, ingested_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18)
             ON CONFLICT (project, hash) DO NOTHING RETURNING id",
            &[
                &project, &id, &h.hash, &h.path, &format, &tool, &timestamp, &hostname,
                &info.duration, &props, &records, &results, &at, &ap, &af, &ae, &as_, &now,
            ],
        )?;
        report = row.map(|r| r.get::<_, i64>(0));
    } else {
        let client = conn.get()?;
        // One prepared statement: the run (created unless the report is stored already, else
        // found and locked) and the report row. `old` does not see a run `ins` creates (one
        // snapshot per statement), so exactly one of them yields it; no other writer of the
        // project can create it meanwhile (the batch holds the project's write lock).
        let row = run!(
            client,
            stmts,
            query_opt,
            "WITH ins AS (
                 INSERT INTO runs (project, key, source, commit_sha, branch, provider, job,
                     ci_run_id, run_attempt, runner, os, started_at, duration, url, pull_request,
                     created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
                 WHERE NOT EXISTS (SELECT 1 FROM reports WHERE project = $1 AND hash = $17)
                 ON CONFLICT (project, key) DO NOTHING
                 RETURNING id, next_position),
             old AS (SELECT id, next_position FROM runs WHERE project = $1 AND key = $2
                     FOR UPDATE),
             run AS (SELECT id, next_position, true AS new FROM ins
                     UNION ALL SELECT id, next_position, false FROM old),
             rep AS (
                 INSERT INTO reports (project, run_id, hash, path, format, tool, timestamp,
                     hostname, duration, properties, records, results, agg_tests, agg_passed,
                     agg_failed, agg_errored, agg_skipped, ingested_at)
                 SELECT $1, run.id, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28,
                     $29, $30, $31, $16
                 FROM run
                 ON CONFLICT (project, hash) DO NOTHING RETURNING id)
             SELECT run.id, run.next_position, run.new, (SELECT id FROM rep) FROM run",
            &[
                &project,
                &h.run_key.0,
                &clean(&h.source),
                &clean_opt(m.commit.as_deref()),
                &clean_opt(m.branch.as_deref()),
                &clean_opt(m.provider.as_deref()),
                &clean_opt(m.job.as_deref()),
                &clean_opt(m.run_id.as_deref()),
                &run_attempt,
                &clean_opt(m.runner.as_deref()),
                &clean_opt(m.os.as_deref()),
                &started,
                &m.duration,
                &clean_opt(m.url.as_deref()),
                &clean_opt(m.pull_request.as_deref()),
                &now,
                &h.hash,
                &h.path,
                &format,
                &tool,
                &timestamp,
                &hostname,
                &info.duration,
                &props,
                &records,
                &results,
                &at,
                &ap,
                &af,
                &ae,
                &as_,
            ],
        )?;
        if let Some(r) = row {
            run = Some(r.get::<_, i64>(0));
            next_position = r.get::<_, i64>(1);
            new_run = r.get::<_, bool>(2);
            report = r.get::<_, Option<i64>>(3);
        }
    }
    let (Some(run), Some(report)) = (run, report) else {
        // Stored already, by this batch or another writer: nothing was written.
        return Ok(duplicate());
    };
    if test_ids.len() > CACHE_ENTRIES {
        test_ids.clear();
    }
    // The last attempt per test of a run that held results already (a report appended to a run
    // stored earlier): one more round trip, only then. Asked separately rather than in the query
    // above, where it would run for every new run too: without a B-tree on run_id, the planner
    // scans the results the open batch has written so far for each of them (measured: 6x).
    let last: Vec<(i64, i64)> = if known_run.is_none() && next_position > 0 {
        let client = conn.get()?;
        let rows = run!(
            client,
            stmts,
            query,
            "SELECT test_id, max(attempt)::int8 FROM results WHERE run_id = $1 GROUP BY test_id",
            &[&run],
        )?;
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    } else {
        Vec::new()
    };
    let ids = match cached_tests(test_ids, cases) {
        Some(ids) => ids,
        None => resolve_tests(conn.get()?, stmts, project, test_ids, cases)?,
    };
    let state = match batch.runs.entry(run) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            batch.run_ids.insert(h.run_key.0.clone(), run);
            e.insert(RunState {
                numbering: Numbering::new(next_position, last),
                executed: 0,
                started: None,
                runner: None,
            })
        }
    };
    if batch.copy.capacity() == 0 {
        // Sent at STREAM_CHUNK or COPY_BYTES (after the report that crosses it): grown once,
        // not doubling its way there for every batch.
        batch.copy.reserve(copy_capacity(batch.stream));
    }
    let (rows, executed) = encode_cases(
        &mut batch.copy,
        &mut state.numbering,
        run,
        report,
        &ids,
        cases,
    )?;
    state.executed += executed as i64;
    // What each report's own update did: the first report with a time starts a run without one,
    // the first with a host name names its runner.
    if state.started.is_none() {
        state.started = info
            .timestamp
            .as_deref()
            .and_then(flakehound_store::time::canonical);
    }
    if state.runner.is_none() {
        state.runner = info.hostname.as_deref().map(|s| clean(s).into_owned());
    }
    batch.reports += 1;
    if batch.stream && batch.copy.len() >= STREAM_CHUNK {
        let copy = copy_statement(conn, stmts)?;
        let chunk = std::mem::replace(&mut batch.copy, Vec::with_capacity(copy_capacity(true)));
        conn.send(chunk, &copy)?;
    } else if batch.copy.len() >= COPY_BYTES {
        send_copy(conn.get()?, stmts, &mut batch.copy)?;
    }
    Ok(Written {
        records: cases.len() as u64,
        results: rows,
        new_run,
        duplicate: false,
    })
}

fn int4(v: i64, what: &str) -> WResult<i32> {
    i32::try_from(v).map_err(|_| {
        WriteError::Store(StoreError::Backend(format!(
            "{what} {v} is beyond what the store holds"
        )))
    })
}

/// Finds (locking) or creates the run, then inserts the report row. `None`: a report with this
/// hash is stored already (committed by another writer since the caller checked).
fn start(
    tx: &mut Transaction<'_>,
    stmts: &mut Stmts,
    project: &str,
    h: &Header,
) -> WResult<Option<Started>> {
    let m = &h.run;
    let run_attempt = m
        .run_attempt
        .map(|a| int4(i64::from(a), "run attempt"))
        .transpose()?;
    let inserted = run!(
        tx,
        stmts,
        query_opt,
        "INSERT INTO runs (project, key, source, commit_sha, branch, provider, job, ci_run_id,
             run_attempt, runner, os, started_at, duration, url, pull_request, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (project, key) DO NOTHING RETURNING id",
        &[
            &project,
            &h.run_key.0,
            &clean(&h.source),
            &clean_opt(m.commit.as_deref()),
            &clean_opt(m.branch.as_deref()),
            &clean_opt(m.provider.as_deref()),
            &clean_opt(m.job.as_deref()),
            &clean_opt(m.run_id.as_deref()),
            &run_attempt,
            &clean_opt(m.runner.as_deref()),
            &clean_opt(m.os.as_deref()),
            &m.started_at
                .as_deref()
                .and_then(flakehound_store::time::canonical),
            &m.duration,
            &clean_opt(m.url.as_deref()),
            &clean_opt(m.pull_request.as_deref()),
            &now(),
        ],
    )?;
    let (run, next_position, new_run) = match inserted {
        Some(r) => (r.get::<_, i64>(0), 0, true),
        None => {
            let r = run!(
                tx,
                stmts,
                query_one,
                "SELECT id, next_position FROM runs WHERE project = $1 AND key = $2 FOR UPDATE",
                &[&project, &h.run_key.0],
            )?;
            (r.get(0), r.get(1), false)
        }
    };
    let Some(report) = run!(
        tx,
        stmts,
        query_opt,
        "INSERT INTO reports (project, run_id, hash, path, format, records, results, ingested_at)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6)
         ON CONFLICT (project, hash) DO NOTHING RETURNING id",
        &[
            &project,
            &run,
            &h.hash,
            &h.path,
            &h.format.unwrap_or("unknown"),
            &now(),
        ],
    )?
    else {
        return Ok(None);
    };
    // Attempts continue from what earlier reports of the run stored.
    let last: Vec<(i64, i64)> = if new_run {
        Vec::new()
    } else {
        let rows = run!(
            tx,
            stmts,
            query,
            "SELECT test_id, max(attempt)::int8 FROM results WHERE run_id = $1 GROUP BY test_id",
            &[&run],
        )?;
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    Ok(Some(Started {
        run,
        report: report.get(0),
        new_run,
        numbering: Numbering::new(next_position, last),
        records: 0,
        results: 0,
        executed: 0,
    }))
}

/// Row ids of the tests of `cases` (one per case, in their order), creating the missing ones (in
/// key order) and giving a file to tests stored without one when a record names it.
fn resolve_tests(
    tx: &mut impl GenericClient,
    stmts: &mut Stmts,
    project: &str,
    cache: &mut TestIds,
    cases: &[TestCase],
) -> WResult<Vec<i64>> {
    // 0 (no row id is 0: identities start at 1) until known.
    let mut ids: Vec<i64> = vec![0; cases.len()];
    let mut pending: Vec<usize> = Vec::new();
    // Per unknown test: the first record's fields, and the first file a record names.
    let mut missing: std::collections::BTreeMap<Cow<'_, str>, (&TestCase, Option<&TestCase>)> =
        Default::default();
    let mut give_file: HashMap<i64, &TestCase> = HashMap::default();
    for (i, c) in cases.iter().enumerate() {
        // Keys as stored (text without NUL).
        let key = clean(&c.id);
        match cache.get(key.as_ref()) {
            Some(&(id, has_file)) => {
                ids[i] = id;
                if !has_file && c.file.is_some() {
                    give_file.entry(id).or_insert(c);
                }
            }
            None => {
                pending.push(i);
                let e = missing.entry(key).or_insert((c, None));
                if e.1.is_none() && c.file.is_some() {
                    e.1 = Some(c);
                }
            }
        }
    }
    if !missing.is_empty() {
        let mut keys = Vec::with_capacity(missing.len());
        let (mut classnames, mut names, mut files, mut lines) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (key, (first, with_file)) in &missing {
            keys.push(key.clone());
            classnames.push(clean_opt(first.classname.as_deref()));
            names.push(clean(&first.name));
            let f = with_file.unwrap_or(first);
            files.push(clean_opt(f.file.as_deref()));
            lines.push(f.line.and_then(|l| i32::try_from(l).ok()));
        }
        run!(
            tx,
            stmts,
            execute,
            "INSERT INTO tests (project, key, classname, name, file, line)
             SELECT $1, k, c, n, f, l
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int4[])
                  WITH ORDINALITY AS u(k, c, n, f, l, i)
             ORDER BY i
             ON CONFLICT (project, key) DO NOTHING",
            &[&project, &keys, &classnames, &names, &files, &lines],
        )?;
        let rows = run!(
            tx,
            stmts,
            query,
            "SELECT id, key, file IS NOT NULL FROM tests WHERE project = $1 AND key = ANY($2)",
            &[&project, &keys],
        )?;
        for r in rows {
            let (id, key, has_file): (i64, String, bool) = (r.get(0), r.get(1), r.get(2));
            if let Some((_, Some(with_file))) = missing.get(&Cow::Borrowed(key.as_str())) {
                if !has_file {
                    // Created by another report without a file: this one names it.
                    give_file.entry(id).or_insert(with_file);
                }
            }
            cache.insert(key, (id, has_file || give_file.contains_key(&id)));
        }
        // The cache now holds every test of the report (a streamed chunk's is its own).
        for i in pending {
            if let Some(&(id, _)) = cache.get(clean(&cases[i].id).as_ref()) {
                ids[i] = id;
            }
        }
    }
    if !give_file.is_empty() {
        let mut order: Vec<(i64, &TestCase)> = give_file.into_iter().collect();
        order.sort_by_key(|(id, _)| *id);
        let tids: Vec<i64> = order.iter().map(|(id, _)| *id).collect();
        let files: Vec<_> = order
            .iter()
            .map(|(_, c)| clean_opt(c.file.as_deref()))
            .collect();
        let lines: Vec<Option<i32>> = order
            .iter()
            .map(|(_, c)| c.line.and_then(|l| i32::try_from(l).ok()))
            .collect();
        run!(
            tx,
            stmts,
            execute,
            "UPDATE tests SET file = u.f, line = u.l
             FROM unnest($1::int8[], $2::text[], $3::int4[]) AS u(id, f, l)
             WHERE tests.id = u.id AND tests.file IS NULL",
            &[&tids, &files, &lines],
        )?;
        for (_, c) in order {
            if let Some(e) = cache.get_mut(clean(&c.id).as_ref()) {
                e.1 = true;
            }
        }
    }
    // Any id still missing means a test row vanished under the cache: refuse rather than
    // write results pointing nowhere.
    if let Some(i) = ids.iter().position(|&id| id == 0) {
        cache.clear();
        return Err(StoreError::Backend(format!("test {:?} has no row", cases[i].id)).into());
    }
    Ok(ids)
}

/// Writes the results of `cases` (a chunk of a streamed report) with one binary COPY.
fn write_cases(
    tx: &mut impl GenericClient,
    stmts: &mut Stmts,
    project: &str,
    st: &mut Started,
    cases: &[TestCase],
) -> WResult<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let ids = resolve_tests(tx, stmts, project, &mut HashMap::default(), cases)?;
    let mut buf = Vec::new();
    let (rows, executed) =
        encode_cases(&mut buf, &mut st.numbering, st.run, st.report, &ids, cases)?;
    send_copy(tx, stmts, &mut buf)?;
    st.records += cases.len() as u64;
    st.results += rows;
    st.executed += executed;
    Ok(())
}

/// Sends the encoded rows of `buf` (emptied) in one binary COPY into `results`.
fn send_copy(tx: &mut impl GenericClient, stmts: &mut Stmts, buf: &mut Vec<u8>) -> WResult<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut sink = run!(tx, stmts, copy_in, COPY_SQL,)?;
    // Signature, flags, header extension length; then the rows; then the end marker.
    let io = |e: std::io::Error| WriteError::Store(StoreError::Backend(e.to_string()));
    sink.write_all(COPY_HEADER).map_err(io)?;
    // In slices: the client sends each write of more than 4 kB as its own message, and the
    // server starts on a message once it has all of it.
    for slice in buf.chunks(STREAM_CHUNK) {
        sink.write_all(slice).map_err(io)?;
    }
    sink.write_all(&COPY_TRAILER).map_err(io)?;
    sink.finish()?;
    buf.clear();
    Ok(())
}

/// Binary COPY fields (big-endian, each preceded by its length; -1 is NULL).
fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

fn put_i32(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

fn put_i16(buf: &mut Vec<u8>, v: i16) {
    buf.extend_from_slice(&2i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

fn put_f64(buf: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => {
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&v.to_bits().to_be_bytes());
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// Text without NUL (which PostgreSQL text cannot hold): replaced as [`clean`] does.
fn put_text(buf: &mut Vec<u8>, v: Option<&str>) -> WResult<()> {
    let Some(v) = v else {
        buf.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(());
    };
    let v = clean(v);
    let len = i32::try_from(v.len()).map_err(|_| {
        WriteError::Store(StoreError::Backend(format!(
            "a text of {} bytes is beyond what the store holds",
            v.len()
        )))
    })?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(v.as_bytes());
    Ok(())
}

/// Appends the results of `cases` to `buf` as binary COPY rows numbered by `numbering`; returns
/// the rows and the tests whose first attempt in the run they executed.
fn encode_cases(
    buf: &mut Vec<u8>,
    numbering: &mut Numbering<i64>,
    run: i64,
    report: i64,
    ids: &[i64],
    cases: &[TestCase],
) -> WResult<(u64, u64)> {
    let mut rows = 0u64;
    let mut executed = 0u64;
    for (case, &test) in cases.iter().zip(ids) {
        let props = props_json(&case.properties);
        let timestamp = flakehound_store::time::canonical_or_raw(case.timestamp.as_deref());
        for (i, a) in case.attempts.iter().enumerate() {
            let (number, position) = numbering.next(test);
            if number == 1 && a.outcome != Outcome::Skipped {
                executed += 1;
            }
            let f = a.failure.as_ref();
            buf.extend_from_slice(&14i16.to_be_bytes());
            put_i64(buf, run);
            put_i64(buf, test);
            put_i32(buf, int4(number, "attempt")?);
            put_i64(buf, report);
            put_i32(buf, int4(position, "position")?);
            put_i16(buf, i16::from(a.outcome.severity()));
            put_f64(buf, a.duration);
            put_text(buf, timestamp.as_deref())?;
            put_text(buf, f.and_then(|f| f.kind.as_deref()))?;
            put_text(buf, f.and_then(|f| f.message.as_deref()))?;
            put_text(buf, f.and_then(|f| f.details.as_deref()))?;
            put_text(buf, a.stdout.as_deref())?;
            put_text(buf, a.stderr.as_deref())?;
            put_text(buf, if i == 0 { props.as_deref() } else { None })?;
            rows += 1;
        }
    }
    Ok((rows, executed))
}

/// Updates the run and report rows with what parsing found.
fn finish(
    tx: &mut Transaction<'_>,
    stmts: &mut Stmts,
    st: &Started,
    info: &ReportInfo,
) -> WResult<()> {
    // The report's own host name names the runner of a run that has none.
    run!(
        tx,
        stmts,
        execute,
        "UPDATE runs SET next_position = $2, started_at = COALESCE(started_at, $3),
             tests_executed = tests_executed + $4, runner = COALESCE(runner, $5)
         WHERE id = $1",
        &[
            &st.run,
            &st.numbering.next_position(),
            &info
                .timestamp
                .as_deref()
                .and_then(flakehound_store::time::canonical),
            &(st.executed as i64),
            &clean_opt(info.hostname.as_deref()),
        ],
    )?;
    let agg = info.aggregate;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    run!(
        tx,
        stmts,
        execute,
        "UPDATE reports SET format = COALESCE($14, format), tool = $2, timestamp = $3,
             hostname = $4, duration = $5, properties = $6, records = $7, results = $8,
             agg_tests = $9, agg_passed = $10, agg_failed = $11, agg_errored = $12,
             agg_skipped = $13
         WHERE id = $1",
        &[
            &st.report,
            &clean_opt(info.tool.as_deref()),
            &flakehound_store::time::canonical_or_raw(info.timestamp.as_deref())
                .as_deref()
                .map(clean),
            &clean_opt(info.hostname.as_deref()),
            &info.duration,
            &props_json(&info.properties).as_deref().map(clean),
            &n(st.records),
            &n(st.results),
            &agg.map(|a| n(a.tests)),
            &agg.map(|a| n(a.passed)),
            &agg.map(|a| n(a.failed)),
            &agg.map(|a| n(a.errored)),
            &agg.map(|a| n(a.skipped)),
            &info.format.map(|f| f.as_str()),
        ],
    )?;
    Ok(())
}

fn approx_size(case: &TestCase) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let mut n = 256 + case.id.len() + case.name.len() + opt(&case.classname) + opt(&case.file);
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
