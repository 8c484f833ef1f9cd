//! Writing one report into PostgreSQL, all-or-nothing.
//!
//! Records are buffered in memory while the report is parsed and written at commit in one
//! transaction (retried when the server aborts it for a deadlock or a serialization failure).
//! A report with more than [`BUFFER_BYTES`] of records is streamed instead: its transaction is
//! opened and its rows locked as soon as the buffer overflows, and records are written in chunks
//! as they come; dropping the writer rolls the transaction back.
//!
//! Lock order, the same in every writer so that concurrent writers cannot deadlock on one
//! report: the run row (`FOR UPDATE`, serialising the reports of one run), the report's hash
//! (unique index), then new test rows in key order.

use crate::store::{PostgresStore, backend, clean, clean_opt, now, props_json};
use flakehound_model::{Outcome, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, Numbering, ReportWriter, Result, RunKey, StoreError, Written};
use foldhash::HashMap;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Statement, Transaction};

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

fn prep(tx: &mut Transaction<'_>, stmts: &mut Stmts, sql: &'static str) -> WResult<Statement> {
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
            buffer: Vec::new(),
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

    /// Leaves buffered mode: opens the transaction, starts the report and writes the buffer.
    fn start_streaming(&mut self) -> WResult<()> {
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        // Tests created in this transaction vanish if it rolls back: the cache must not keep
        // them, so streamed reports neither read nor fill it.
        store.test_ids.clear();
        store.unsynced = true;
        let PostgresStore { client, stmts, .. } = store;
        let mut tx = client.transaction()?;
        let mut started = start(&mut tx, stmts, &self.project, &self.header)?;
        let buffer = std::mem::take(&mut self.buffer);
        if let Some(st) = started.as_mut() {
            write_cases(
                &mut tx,
                stmts,
                &self.project,
                st,
                &mut HashMap::default(),
                &buffer,
            )?;
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
                write_cases(
                    tx,
                    stmts,
                    &self.project,
                    st,
                    &mut HashMap::default(),
                    &chunk,
                )?;
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
            write_cases(
                &mut tx,
                stmts,
                &self.project,
                &mut st,
                &mut HashMap::default(),
                &chunk,
            )?;
            finish(&mut tx, stmts, &st, info)?;
            tx.commit()?;
            return Ok(written(&st));
        }
        let Some(store) = self.store.take() else {
            return Err(StoreError::Backend("report committed twice".into()).into());
        };
        store.unsynced = true;
        let mut tries = 0;
        loop {
            match write_buffered(store, &self.project, &self.header, &self.buffer, info) {
                Ok(w) => return Ok(w),
                Err(e) => {
                    // The transaction rolled back: tests it created are gone.
                    store.test_ids.clear();
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

/// The whole buffered report in one transaction.
fn write_buffered(
    store: &mut PostgresStore,
    project: &str,
    header: &Header,
    cases: &[TestCase],
    info: &ReportInfo,
) -> WResult<Written> {
    let PostgresStore {
        client,
        stmts,
        test_ids,
        ..
    } = store;
    let mut tx = client.transaction()?;
    let Some(mut st) = start(&mut tx, stmts, project, header)? else {
        tx.rollback()?;
        return Ok(duplicate());
    };
    if test_ids.len() > CACHE_ENTRIES {
        test_ids.clear();
    }
    write_cases(&mut tx, stmts, project, &mut st, test_ids, cases)?;
    finish(&mut tx, stmts, &st, info)?;
    tx.commit()?;
    Ok(written(&st))
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
        run!(
            tx,
            stmts,
            query,
            "SELECT test_id, max(attempt)::int8 FROM results WHERE run_id = $1 GROUP BY test_id",
            &[&run],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
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

/// Row ids of the tests of `cases`, creating the missing ones (in key order) and giving a file
/// to tests stored without one when a record names it.
fn test_ids(
    tx: &mut Transaction<'_>,
    stmts: &mut Stmts,
    project: &str,
    cache: &mut TestIds,
    cases: &[TestCase],
) -> WResult<HashMap<String, i64>> {
    let mut ids: HashMap<String, i64> = HashMap::default();
    // Per unknown test: the first record's fields, and the first file a record names.
    let mut missing: std::collections::BTreeMap<&str, (&TestCase, Option<&TestCase>)> =
        Default::default();
    let mut give_file: HashMap<i64, &TestCase> = HashMap::default();
    for c in cases {
        match cache.get(&c.id) {
            Some(&(id, has_file)) => {
                ids.insert(c.id.clone(), id);
                if !has_file && c.file.is_some() {
                    give_file.entry(id).or_insert(c);
                }
            }
            None => {
                let e = missing.entry(&c.id).or_insert((c, None));
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
            keys.push(clean(key));
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
            if let Some((_, Some(with_file))) = missing.get(key.as_str()) {
                if !has_file {
                    // Created by another report without a file: this one names it.
                    give_file.entry(id).or_insert(with_file);
                }
            }
            cache.insert(key.clone(), (id, has_file || give_file.contains_key(&id)));
            ids.insert(key, id);
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
            if let Some(e) = cache.get_mut(&c.id) {
                e.1 = true;
            }
        }
    }
    // Any id still missing means a test row vanished under the cache: refuse rather than
    // write results pointing nowhere.
    for c in cases {
        if !ids.contains_key(&c.id) {
            cache.clear();
            return Err(StoreError::Backend(format!("test {:?} has no row", c.id)).into());
        }
    }
    Ok(ids)
}

const RESULT_TYPES: &[Type] = &[
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// Writes the results of `cases` with one binary COPY.
fn write_cases(
    tx: &mut Transaction<'_>,
    stmts: &mut Stmts,
    project: &str,
    st: &mut Started,
    cache: &mut TestIds,
    cases: &[TestCase],
) -> WResult<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let ids = test_ids(tx, stmts, project, cache, cases)?;
    let sink = run!(
        tx,
        stmts,
        copy_in,
        "COPY results (run_id, test_id, attempt, report_id, position, outcome, duration,
             timestamp, failure_kind, message, details, stdout, stderr, properties)
         FROM STDIN (FORMAT binary)",
    )?;
    let mut w = BinaryCopyInWriter::new(sink, RESULT_TYPES);
    let mut rows = 0u64;
    let mut executed = 0u64;
    for case in cases {
        let test = ids[&case.id];
        let props = props_json(&case.properties);
        let timestamp = flakehound_store::time::canonical_or_raw(case.timestamp.as_deref());
        let timestamp = timestamp.as_deref().map(clean);
        for (i, a) in case.attempts.iter().enumerate() {
            let (number, position) = st.numbering.next(test);
            if number == 1 && a.outcome != Outcome::Skipped {
                executed += 1;
            }
            let f = a.failure.as_ref();
            let row: [&(dyn ToSql + Sync); 14] = [
                &st.run,
                &test,
                &int4(number, "attempt")?,
                &st.report,
                &int4(position, "position")?,
                &i16::from(a.outcome.severity()),
                &a.duration,
                &timestamp,
                &clean_opt(f.and_then(|f| f.kind.as_deref())),
                &clean_opt(f.and_then(|f| f.message.as_deref())),
                &clean_opt(f.and_then(|f| f.details.as_deref())),
                &clean_opt(a.stdout.as_deref()),
                &clean_opt(a.stderr.as_deref()),
                &if i == 0 { props.as_deref() } else { None },
            ];
            w.write(&row)?;
            rows += 1;
        }
        st.records += 1;
    }
    w.finish()?;
    st.results += rows;
    st.executed += executed;
    Ok(())
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
