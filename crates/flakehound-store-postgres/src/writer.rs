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
use postgres::{Client, GenericClient, SimpleQueryMessage, Statement, Transaction};
use std::borrow::Cow;

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

fn lit_f64(v: Option<f64>) -> String {
    // Display of f64 never uses an exponent; inf and NaN read as float8 too.
    v.map_or_else(|| "NULL".to_string(), |x| format!("'{x}'::float8"))
}

fn lit_i64(v: Option<u64>) -> String {
    v.map_or_else(
        || "NULL".to_string(),
        |x| i64::try_from(x).unwrap_or(i64::MAX).to_string(),
    )
}

/// The whole buffered report in one transaction, in few round trips (each costs a context
/// switch to the server and back, which on a busy machine was most of the ingest's time): the
/// run, the report row and the run's last attempts in one simple query, the results in one
/// COPY, the run's update with the commit in one more. New tests add one or two.
fn write_buffered(
    store: &mut PostgresStore,
    project: &str,
    h: &Header,
    cases: &[TestCase],
    info: &ReportInfo,
) -> WResult<Written> {
    let PostgresStore {
        client,
        stmts,
        test_ids,
        ..
    } = store;
    let r = write_buffered_in(client, stmts, test_ids, project, h, cases, info);
    if r.is_err() {
        // The transaction may be open (and aborted): end it, whatever state it is in.
        let _ = client.batch_execute("ROLLBACK");
    }
    r
}

fn write_buffered_in(
    client: &mut Client,
    stmts: &mut Stmts,
    test_ids: &mut TestIds,
    project: &str,
    h: &Header,
    cases: &[TestCase],
    info: &ReportInfo,
) -> WResult<Written> {
    let m = &h.run;
    let p = lit(project);
    let run_where = format!("project = {p} AND key = {}", lit(&h.run_key.0));
    let results: u64 = cases.iter().map(|c| c.attempts.len() as u64).sum();
    let agg = info.aggregate;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let sql = format!(
        "BEGIN;
         INSERT INTO runs (project, key, source, commit_sha, branch, provider, job, ci_run_id,
             run_attempt, runner, os, started_at, duration, url, pull_request, created_at)
         VALUES ({p}, {key}, {source}, {commit}, {branch}, {provider}, {job}, {run_id},
             {attempt}, {runner}, {os}, {started}, {duration}, {url}, {pr}, {now})
         ON CONFLICT (project, key) DO NOTHING;
         SELECT id, next_position FROM runs WHERE {run_where} FOR UPDATE;
         INSERT INTO reports (project, run_id, hash, path, format, tool, timestamp, hostname,
             duration, properties, records, results, agg_tests, agg_passed, agg_failed,
             agg_errored, agg_skipped, ingested_at)
         SELECT {p}, id, {hash}, {path}, {format}, {tool}, {timestamp}, {hostname},
             {rduration}, {props}, {records}, {results}, {at}, {ap}, {af}, {ae}, {as_}, {now}
         FROM runs WHERE {run_where}
         ON CONFLICT (project, hash) DO NOTHING RETURNING id;
         SELECT test_id, max(attempt) FROM results
         WHERE run_id = (SELECT id FROM runs WHERE {run_where} AND next_position > 0)
         GROUP BY test_id",
        key = lit(&h.run_key.0),
        source = lit(&h.source),
        commit = lit_opt(m.commit.as_deref()),
        branch = lit_opt(m.branch.as_deref()),
        provider = lit_opt(m.provider.as_deref()),
        job = lit_opt(m.job.as_deref()),
        run_id = lit_opt(m.run_id.as_deref()),
        attempt = m.run_attempt.map_or_else(
            || "NULL".to_string(),
            |a| int4(i64::from(a), "run attempt")
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "NULL".into())
        ),
        runner = lit_opt(m.runner.as_deref()),
        os = lit_opt(m.os.as_deref()),
        started = lit_opt(
            m.started_at
                .as_deref()
                .and_then(flakehound_store::time::canonical)
                .as_deref()
        ),
        duration = lit_f64(m.duration),
        url = lit_opt(m.url.as_deref()),
        pr = lit_opt(m.pull_request.as_deref()),
        now = lit(&now()),
        hash = lit(&h.hash),
        path = lit_opt(h.path.as_deref()),
        format = lit(info
            .format
            .map(|f| f.as_str())
            .or(h.format)
            .unwrap_or("unknown")),
        tool = lit_opt(info.tool.as_deref()),
        timestamp =
            lit_opt(flakehound_store::time::canonical_or_raw(info.timestamp.as_deref()).as_deref()),
        hostname = lit_opt(info.hostname.as_deref()),
        rduration = lit_f64(info.duration),
        props = lit_opt(props_json(&info.properties).as_deref()),
        records = n(cases.len() as u64),
        results = n(results),
        at = lit_i64(agg.map(|a| a.tests)),
        ap = lit_i64(agg.map(|a| a.passed)),
        af = lit_i64(agg.map(|a| a.failed)),
        ae = lit_i64(agg.map(|a| a.errored)),
        as_ = lit_i64(agg.map(|a| a.skipped)),
    );
    // Statement k's rows and count: k advances at each command's completion. A new run (no
    // position given yet) has no rows to read.
    let (mut k, mut new_run, mut run, mut next_position, mut report) = (0, false, None, 0, None);
    let mut last: Vec<(i64, i64)> = Vec::new();
    let num = |row: &postgres::SimpleQueryRow, i: usize| -> WResult<i64> {
        row.get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Backend("unexpected answer from the server".into()).into())
    };
    for msg in client.simple_query(&sql)? {
        match msg {
            SimpleQueryMessage::CommandComplete(count) => {
                if k == 1 {
                    new_run = count == 1;
                }
                k += 1;
            }
            SimpleQueryMessage::Row(row) => match k {
                2 => {
                    run = Some(num(&row, 0)?);
                    next_position = num(&row, 1)?;
                }
                3 => report = Some(num(&row, 0)?),
                4 => last.push((num(&row, 0)?, num(&row, 1)?)),
                _ => {}
            },
            _ => {}
        }
    }
    let (Some(run), Some(report)) = (run, report) else {
        // Stored by another writer meanwhile (the report insert found it).
        client.batch_execute("ROLLBACK")?;
        return Ok(duplicate());
    };
    let mut st = Started {
        run,
        report,
        new_run,
        numbering: Numbering::new(next_position, last),
        records: 0,
        results: 0,
        executed: 0,
    };
    if test_ids.len() > CACHE_ENTRIES {
        test_ids.clear();
    }
    write_cases(client, stmts, project, &mut st, test_ids, cases)?;
    client.batch_execute(&format!(
        "UPDATE runs SET next_position = {pos}, started_at = COALESCE(started_at, {started}),
             tests_executed = tests_executed + {executed}, runner = COALESCE(runner, {runner})
         WHERE id = {run};
         COMMIT",
        pos = st.numbering.next_position(),
        started = lit_opt(
            info.timestamp
                .as_deref()
                .and_then(flakehound_store::time::canonical)
                .as_deref()
        ),
        executed = n(st.executed),
        runner = lit_opt(info.hostname.as_deref()),
    ))?;
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

/// Row ids of the tests of `cases`, creating the missing ones (in key order) and giving a file
/// to tests stored without one when a record names it.
fn test_ids(
    tx: &mut impl GenericClient,
    stmts: &mut Stmts,
    project: &str,
    cache: &mut TestIds,
    cases: &[TestCase],
) -> WResult<HashMap<String, i64>> {
    let mut ids: HashMap<String, i64> = HashMap::default();
    // Per unknown test: the first record's fields, and the first file a record names.
    let mut missing: std::collections::BTreeMap<Cow<'_, str>, (&TestCase, Option<&TestCase>)> =
        Default::default();
    let mut give_file: HashMap<i64, &TestCase> = HashMap::default();
    for c in cases {
        // Keys as stored (text without NUL).
        let key = clean(&c.id);
        match cache.get(key.as_ref()) {
            Some(&(id, has_file)) => {
                ids.insert(key.into_owned(), id);
                if !has_file && c.file.is_some() {
                    give_file.entry(id).or_insert(c);
                }
            }
            None => {
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
            if let Some(e) = cache.get_mut(clean(&c.id).as_ref()) {
                e.1 = true;
            }
        }
    }
    // Any id still missing means a test row vanished under the cache: refuse rather than
    // write results pointing nowhere.
    for c in cases {
        if !ids.contains_key(clean(&c.id).as_ref()) {
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
    tx: &mut impl GenericClient,
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
        let Some(&test) = ids.get(clean(&case.id).as_ref()) else {
            return Err(StoreError::Backend(format!("test {:?} has no row", case.id)).into());
        };
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
