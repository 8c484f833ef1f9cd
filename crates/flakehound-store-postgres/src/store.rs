//! Connecting, migrating, and every read.

use crate::writer::{Batch, PgWriter, TestIds, end_batch};
use flakehound_model::{Counts, Outcome, RunSource};
use flakehound_store::{
    Evidence, FailureText, Location, NewReport, Note, NoteKind, OpenMode, ReportWriter, Result,
    ResultRow, RunRow, Store, StoreError, StoredReport, TestRow, TestStats, Totals,
};
use foldhash::HashMap;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::time::Duration;

/// Embedded migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_results_brin.sql"),
    include_str!("../migrations/003_server.sql"),
    include_str!("../migrations/004_alerts.sql"),
    include_str!("../migrations/005_ci_jobs.sql"),
    include_str!("../migrations/006_retention.sql"),
    include_str!("../migrations/007_server_extras.sql"),
    include_str!("../migrations/008_codeowners_uploads.sql"),
];

/// How long connecting may take unless the URL says (`connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether commits wait for the WAL to reach disk. Off: [`Store::flush`] makes them durable.
const ASYNC_COMMIT: bool = true;

pub struct PostgresStore {
    pub(crate) client: crate::conn::Conn,
    pub(crate) project: String,
    /// The location for messages (password redacted).
    pub(crate) shown: String,
    pub(crate) test_ids: TestIds,
    pub(crate) stmts: crate::writer::Stmts,
    /// Reports committed since the last durable point.
    pub(crate) unsynced: bool,
    /// The transaction holding the reports committed since the last flush.
    pub(crate) batch: Batch,
    /// The reports an ingest announced (`Store::expect_reports`), until written.
    pub(crate) expected: crate::writer::Expected,
    /// An emptied record buffer kept for the next report (its allocation, not its records).
    pub(crate) spare: Vec<flakehound_model::TestCase>,
    /// Why reports committed to a batch were rolled back, when the caller could not be told at
    /// the time (reported by the next flush).
    pub(crate) lost: Option<String>,
}

/// Fewest announced reports worth checking at once (see `Store::expect_reports`).
pub const EXPECT_AT_LEAST: usize = 16;

/// Longest a batch should hold the project's write lock before [`Store::flush_due`] asks for a
/// flush (as SQLite's batches).
pub const BATCH_HOLD: Duration = Duration::from_secs(1);

/// The server's message for `e`: its own words for errors it reported (with detail and hint),
/// else the client's, with their causes.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        source = c.source();
    }
    s
}

pub(crate) fn backend(e: postgres::Error) -> StoreError {
    StoreError::Backend(describe(&e))
}

/// Text as PostgreSQL stores it: `text` cannot hold NUL, which reports may contain.
/// The check is the `memchr` crate's vectorised search: every text of every result passes here,
/// and `str::contains` (a word at a time) was 10% of the writer's instructions.
pub(crate) fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(0, s.as_bytes()).is_some() {
        std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

pub(crate) fn clean_opt(s: Option<&str>) -> Option<std::borrow::Cow<'_, str>> {
    s.map(clean)
}

pub(crate) use flakehound_store::properties_to_json as props_json;
pub(crate) use flakehound_store::time::now;

impl PostgresStore {
    /// Connects to the database at `url`, applies pending migrations (creating the store in
    /// [`OpenMode::Create`]) and scopes the handle to `project`. Every failure to reach or use
    /// the server is one [`StoreError::Open`] naming the location with its password redacted.
    pub fn open(url: &str, project: &str, mode: OpenMode) -> Result<Self> {
        let project = flakehound_store::valid_project(project)?.to_string();
        let shown = Location::Postgres(url.to_string()).to_string();
        let open_err = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| open_err(format!("invalid URL: {}", describe(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("flakehound");
        }
        let mut client = config.connect(NoTls).map_err(|e| open_err(describe(&e)))?;
        // standard_conforming_strings: the writer's literals rely on it (see `writer::lit`).
        let settings = if ASYNC_COMMIT {
            "SET synchronous_commit = off; SET client_min_messages = warning;
             SET standard_conforming_strings = on"
        } else {
            "SET client_min_messages = warning; SET standard_conforming_strings = on"
        };
        client
            .batch_execute(settings)
            .map_err(|e| open_err(describe(&e)))?;
        migrate(&mut client, mode).map_err(|e| match e {
            StoreError::Backend(reason) => open_err(reason),
            other => other,
        })?;
        Ok(PostgresStore {
            client: crate::conn::Conn::new(client, &project),
            project,
            shown,
            test_ids: HashMap::default(),
            stmts: HashMap::default(),
            unsynced: false,
            batch: Batch::default(),
            expected: crate::writer::Expected::default(),
            spare: Vec::new(),
            lost: None,
        })
    }

    /// Ends the open batch before a read or a write of another kind: reads see every committed
    /// report, and the batch never holds anything but reports. A failure loses the batch, which
    /// the next flush reports too.
    pub(crate) fn settle(&mut self) -> Result<()> {
        end_batch(self, false).inspect_err(|e| {
            if matches!(e, StoreError::BatchLost(_)) {
                self.lost = Some(e.to_string());
            }
        })
    }

    pub(crate) fn write_error(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Backend(reason) => StoreError::Write {
                path: self.shown.clone(),
                reason,
            },
            other => other,
        }
    }
}

/// The current schema, creating the first one of the search path when none exists (and the
/// store may be created).
fn ensure_schema(client: &mut Client, mode: OpenMode) -> Result<()> {
    let current: Option<String> = client
        .query_one("SELECT current_schema()", &[])
        .map_err(backend)?
        .get(0);
    if current.is_some() {
        return Ok(());
    }
    let path: String = client
        .query_one("SHOW search_path", &[])
        .map_err(backend)?
        .get(0);
    let first = path.split(',').next().unwrap_or("").trim();
    let name = first
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map(|s| s.replace("\"\"", "\""))
        .unwrap_or_else(|| first.to_ascii_lowercase());
    if name.is_empty() || name == "$user" || mode == OpenMode::Existing {
        return Err(StoreError::Backend(format!(
            "no schema of the search path ({path}) exists"
        )));
    }
    // `IF NOT EXISTS` is not safe against a concurrent creation: two writers opening a new
    // store at once can both find it missing, and the second insert into the catalogue fails
    // with a unique violation (seen: two ingests racing on a fresh schema). Created is created.
    match client.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
        name.replace('"', "\"\"")
    )) {
        Err(e)
            if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
                || e.code() == Some(&postgres::error::SqlState::DUPLICATE_SCHEMA) =>
        {
            Ok(())
        }
        r => r.map_err(backend),
    }
}

fn schema_version(client: &mut Client) -> Result<Option<i64>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('flakehound_schema') IS NOT NULL", &[])
        .map_err(backend)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt("SELECT version FROM flakehound_schema", &[])
        .map_err(backend)?;
    Ok(Some(row.map_or(0, |r| r.get::<_, i64>(0))))
}

/// Applies pending migrations. Several processes may open a new store at once: each takes a
/// transaction-scoped advisory lock (keyed by the schema) and reads the version again under it,
/// so exactly one creates the tables and the others find them. All pending steps are one
/// transaction (PostgreSQL's DDL is transactional): a failure leaves the old version intact.
fn migrate(client: &mut Client, mode: OpenMode) -> Result<()> {
    let supported = MIGRATIONS.len() as i64;
    let too_new = |found: i64| StoreError::TooNew { found, supported };
    match schema_version(client)? {
        Some(v) if v == supported => return Ok(()),
        Some(v) if v > supported => return Err(too_new(v)),
        None if mode == OpenMode::Existing => {
            return Err(StoreError::Backend(
                "no flakehound store in this database (schema); run `flakehound ingest` first"
                    .into(),
            ));
        }
        _ => {}
    }
    ensure_schema(client, mode)?;
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('flakehound.migrate'), hashtext(current_schema()))",
        &[],
    )
    .map_err(backend)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS flakehound_schema (version bigint NOT NULL)")
        .map_err(backend)?;
    let version: i64 = match tx
        .query_opt("SELECT version FROM flakehound_schema", &[])
        .map_err(backend)?
    {
        Some(r) => r.get(0),
        None => {
            tx.execute("INSERT INTO flakehound_schema (version) VALUES (0)", &[])
                .map_err(backend)?;
            0
        }
    };
    if version > supported {
        return Err(too_new(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(backend)?;
        tx.execute(
            "UPDATE flakehound_schema SET version = $1",
            &[&(i as i64 + 1)],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store for PostgresStore {
    /// One parser: the PostgreSQL server doing the writes usually runs on the same machine and
    /// needs the second core (two parsers measured slower there: 0.37-0.42 s against
    /// 0.35-0.39 s for the benchmark history).
    fn parsers(&self) -> usize {
        1
    }

    fn project(&self) -> &str {
        &self.project
    }

    fn job_evidence(&mut self) -> Option<&mut dyn flakehound_store::CiJobs> {
        Some(self)
    }

    fn projects(&mut self) -> Result<Vec<String>> {
        self.settle()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT project FROM runs UNION SELECT project FROM notes ORDER BY 1",
                &[],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn has_report(&mut self, hash: &str) -> Result<bool> {
        let stored = self
            .client
            .get()?
            .query_opt(
                "SELECT 1 FROM reports WHERE project = $1 AND hash = $2",
                &[&self.project, &clean(hash)],
            )
            .map_err(backend)?
            .is_some();
        Ok(stored || !self.pruned_of(&[clean(hash).into_owned()])?.is_empty())
    }

    fn history(&mut self) -> Result<Vec<flakehound_store::HistoryRow>> {
        self.settle()?;
        self.read_history()
    }

    fn prune(&mut self, before: &str) -> Result<flakehound_store::Pruned> {
        self.prune_before(before).map_err(|e| self.write_error(e))
    }

    fn pin_run(&mut self, run_key: &str, pinned: bool) -> Result<bool> {
        self.set_pinned(run_key, pinned)
    }

    fn pinned_runs(&mut self) -> Result<Vec<String>> {
        self.settle()?;
        self.pinned_keys()
    }

    fn stored_reports(&mut self, hashes: &[&str]) -> Result<Vec<bool>> {
        let cleaned: Vec<String> = hashes.iter().map(|h| clean(h).into_owned()).collect();
        let stored: std::collections::HashSet<String> = self
            .client
            .get()?
            .query(
                "SELECT hash FROM reports WHERE project = $1 AND hash = ANY($2)",
                &[&self.project, &cleaned],
            )
            .map_err(backend)?
            .into_iter()
            .map(|row| row.get(0))
            .collect();
        let mut stored = stored;
        if stored.len() < cleaned.len() {
            stored.extend(self.pruned_of(&cleaned)?);
        }
        Ok(cleaned.iter().map(|h| stored.contains(h)).collect())
    }

    /// Used from [`EXPECT_AT_LEAST`] reports on: checking them and reserving their ids costs
    /// about three round trips once per batch, which a few reports (a server's upload) do not
    /// win back.
    fn expect_reports(&mut self, reports: &[(&str, &flakehound_store::RunKey)]) {
        if reports.len() < EXPECT_AT_LEAST {
            self.expected = crate::writer::Expected::default();
            return;
        }
        self.expected.hashes = reports.iter().map(|(h, _)| clean(h).into_owned()).collect();
        self.expected.runs = reports
            .iter()
            .map(|(_, k)| clean(&k.0).into_owned())
            .collect();
    }

    fn begin_report<'s>(
        &'s mut self,
        report: &NewReport<'_>,
    ) -> Result<Box<dyn ReportWriter + 's>> {
        Ok(Box::new(PgWriter::new(self, report)))
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(reason) = self.lost.take() {
            let _ = end_batch(self, true);
            return Err(StoreError::BatchLost(reason));
        }
        if self.batch.open {
            // The batch's own commit waits for the WAL.
            end_batch(self, true)?;
            self.unsynced = false;
            return Ok(());
        }
        if !self.unsynced {
            return Ok(());
        }
        // A synchronous commit that writes WAL waits for the WAL up to its own record, which
        // follows every asynchronous commit before it.
        self.client
            .get()?
            .batch_execute(
                "BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT",
            )
            .map_err(|e| self.write_error(backend(e)))?;
        self.unsynced = false;
        Ok(())
    }

    fn flush_due(&self) -> bool {
        self.batch.open && self.batch.since.is_some_and(|t| t.elapsed() >= BATCH_HOLD)
    }

    fn test_stats(&mut self) -> Result<Vec<TestStats>> {
        self.settle()?;
        let sql = "
            WITH per_run AS (
                SELECT r.test_id, ru.id AS run_id, ru.commit_sha,
                       COALESCE(ru.started_at, ru.created_at) AS started_at,
                       count(*) FILTER (WHERE r.outcome = 1) AS p,
                       count(*) FILTER (WHERE r.outcome >= 2) AS f,
                       count(*) FILTER (WHERE r.outcome = 0) AS s,
                       max(r.attempt) FILTER (WHERE r.outcome = 1) AS last_pass,
                       min(r.attempt) FILTER (WHERE r.outcome >= 2) AS first_fail,
                       max(r.attempt) FILTER (WHERE r.outcome >= 1) AS last_exec
                FROM results r JOIN runs ru ON ru.id = r.run_id
                WHERE ru.project = $1
                GROUP BY ru.id, r.test_id
            ),
            tr AS (
                SELECT test_id, count(*) FILTER (WHERE p + f > 0) AS runs, sum(p)::int8 AS passes,
                       sum(f)::int8 AS failures, sum(s)::int8 AS skips,
                       count(*) FILTER (WHERE f > 0) AS failed_runs,
                       count(*) FILTER (WHERE last_pass > first_fail) AS retry_passes,
                       max(started_at) FILTER (WHERE p + f > 0) AS last_seen
                FROM per_run GROUP BY test_id
            ),
            -- A run's verdict on a test is its last executed attempt.
            per_commit AS (
                SELECT test_id, commit_sha,
                       count(*) FILTER (WHERE last_exec IS NOT NULL
                                        AND last_pass IS NOT DISTINCT FROM last_exec) AS runs_passed,
                       count(*) FILTER (WHERE last_exec IS NOT NULL
                                        AND last_pass IS DISTINCT FROM last_exec) AS runs_failed
                FROM per_run WHERE commit_sha IS NOT NULL GROUP BY test_id, commit_sha
            ),
            tc AS (
                SELECT test_id, count(*) FILTER (WHERE runs_passed + runs_failed > 0) AS commits,
                       count(*) FILTER (WHERE runs_passed > 0 AND runs_failed > 0) AS flaky_commits
                FROM per_commit GROUP BY test_id
            ),
            lf AS (
                SELECT DISTINCT ON (r.test_id) r.test_id, COALESCE(r.message, r.failure_kind) AS m
                FROM results r JOIN tests t ON t.id = r.test_id
                WHERE t.project = $1 AND r.outcome >= 2
                  AND COALESCE(r.message, r.failure_kind) IS NOT NULL
                ORDER BY r.test_id, r.run_id DESC, r.attempt DESC
            )
            SELECT t.key, t.classname, t.name, t.file, tr.runs, tr.passes, tr.failures, tr.skips,
                   tr.failed_runs, tr.retry_passes, COALESCE(tc.flaky_commits, 0),
                   COALESCE(tc.commits, 0), tr.last_seen, lf.m
            FROM tests t JOIN tr ON tr.test_id = t.id LEFT JOIN tc ON tc.test_id = t.id
                 LEFT JOIN lf ON lf.test_id = t.id
            WHERE t.project = $1";
        let rows = self
            .client
            .get()?
            .query(sql, &[&self.project])
            .map_err(backend)?;
        let mut stats = rows
            .iter()
            .map(|r| TestStats {
                id: r.get(0),
                classname: r.get(1),
                name: r.get(2),
                file: r.get(3),
                runs: u(r.get(4)),
                passes: u(r.get(5)),
                failures: u(r.get(6)),
                skips: u(r.get(7)),
                failed_runs: u(r.get(8)),
                retry_passes: u(r.get(9)),
                flaky_commits: u(r.get(10)),
                commits: u(r.get(11)),
                last_seen: r.get(12),
                last_failure: r.get(13),
            })
            .collect::<Vec<_>>();
        flakehound_store::add_history(&mut stats, self.read_history()?);
        Ok(stats)
    }

    fn totals(&mut self) -> Result<Totals> {
        self.settle()?;
        // A report's `results` is the number of result rows written with it: their sum is the
        // count of results without reading them.
        let r = self
            .client
            .get()?
            .query_one(
                "SELECT (SELECT count(*) FROM runs WHERE project = $1),
                        count(*), (SELECT count(*) FROM tests WHERE project = $1),
                        COALESCE(sum(results), 0)::int8,
                        COALESCE(sum(agg_tests), 0)::int8, COALESCE(sum(agg_passed), 0)::int8,
                        COALESCE(sum(agg_failed), 0)::int8, COALESCE(sum(agg_errored), 0)::int8,
                        COALESCE(sum(agg_skipped), 0)::int8
                 FROM reports WHERE project = $1",
                &[&self.project],
            )
            .map_err(backend)?;
        let g = |i: usize| u(r.get::<_, i64>(i));
        Ok(Totals {
            runs: g(0),
            reports: g(1),
            tests: g(2),
            results: g(3),
            aggregate: Counts {
                tests: g(4),
                passed: g(5),
                failed: g(6),
                errored: g(7),
                skipped: g(8),
            },
        })
    }

    fn evidence(&mut self) -> Result<Evidence> {
        self.load_evidence(false)
    }

    fn failing_evidence(&mut self) -> Result<Evidence> {
        self.load_evidence(true)
    }

    fn run_order(&mut self, run_key: &str) -> Result<Vec<(String, u32)>> {
        self.settle()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT t.key, r.position FROM runs ru
                 JOIN results r ON r.run_id = ru.id
                 JOIN tests t ON t.id = r.test_id
                 WHERE ru.project = $1 AND ru.key = $2 AND r.attempt = 1 AND r.outcome >= 1",
                &[&self.project, &clean(run_key)],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i32>(1).max(0) as u32))
            .collect())
    }

    fn add_note(&mut self, note: &Note) -> Result<i64> {
        self.settle()?;
        let created = flakehound_store::time::canonical(&note.created_at).unwrap_or_else(now);
        let row = self
            .client
            .get()?
            .query_one(
                "INSERT INTO notes (project, test, kind, category, text, link, author, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &self.project,
                    &clean(&note.test),
                    &note.kind.as_str(),
                    &note.category.map(|c| c.as_str()),
                    &clean(&note.text),
                    &clean_opt(note.link.as_deref()),
                    &clean_opt(note.author.as_deref()),
                    &created,
                ],
            )
            .map_err(|e| self.write_error(backend(e)))?;
        self.unsynced = true;
        Ok(row.get(0))
    }

    fn failure_texts(&mut self, test: &str, limit: usize) -> Result<Vec<FailureText>> {
        self.settle()?;
        // Through the partial index of failed results (test_id, run_id).
        let rows = self
            .client
            .get()?
            .query(
                "SELECT r.message, r.details, ru.started_at FROM tests t
                 JOIN results r ON r.test_id = t.id AND r.outcome >= 2
                 JOIN runs ru ON ru.id = r.run_id
                 WHERE t.project = $1 AND t.key = $2
                 ORDER BY r.run_id DESC, r.attempt LIMIT $3",
                &[&self.project, &clean(test), &(limit as i64)],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| FailureText {
                message: r.get(0),
                details: r.get(1),
                started_at: r.get(2),
            })
            .collect())
    }

    fn notes(&mut self, test: Option<&str>) -> Result<Vec<Note>> {
        self.settle()?;
        let test = test.map(clean);
        let rows = self
            .client
            .get()?
            .query(
                "SELECT id, test, kind, category, text, link, author, created_at FROM notes
                 WHERE project = $1 AND ($2::text IS NULL OR test = $2) ORDER BY id",
                &[&self.project, &test],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Note {
                id: r.get(0),
                test: r.get(1),
                kind: NoteKind::parse(r.get(2)),
                category: r.get::<_, Option<&str>>(3).map(|c| {
                    flakehound_model::Category::parse(c)
                        .unwrap_or(flakehound_model::Category::Unknown)
                }),
                text: r.get(4),
                link: r.get(5),
                author: r.get(6),
                created_at: r.get(7),
            })
            .collect())
    }

    fn remove_note(&mut self, id: i64) -> Result<bool> {
        self.settle()?;
        let n = self
            .client
            .get()?
            .execute(
                "DELETE FROM notes WHERE id = $1 AND project = $2",
                &[&id, &self.project],
            )
            .map_err(|e| self.write_error(backend(e)))?;
        self.unsynced = true;
        Ok(n > 0)
    }

    fn export(&mut self, each: &mut dyn FnMut(StoredReport) -> Result<()>) -> Result<()> {
        self.settle()?;
        crate::export::export(self, each)
    }
}

impl PostgresStore {
    fn load_evidence(&mut self, only_failing: bool) -> Result<Evidence> {
        self.settle()?;
        let mut ev = Evidence::default();
        let mut run_index: HashMap<i64, u32> = HashMap::default();
        let rows = self
            .client
            .get()?
            .query(
                "SELECT id, key, source, commit_sha, branch, job, run_attempt, runner, os,
                        COALESCE(started_at, created_at) AS t, tests_executed, pull_request, url
                 FROM runs WHERE project = $1 ORDER BY t, id",
                &[&self.project],
            )
            .map_err(backend)?;
        for r in &rows {
            run_index.insert(r.get(0), ev.runs.len() as u32);
            ev.runs.push(RunRow {
                key: r.get(1),
                source: RunSource::parse(r.get(2)),
                commit: r.get(3),
                branch: r.get(4),
                job: r.get(5),
                run_attempt: r.get::<_, Option<i32>>(6).map(|a| a.max(0) as u32),
                runner: r.get(7),
                os: r.get(8),
                started_at: r.get(9),
                pull_request: r.get(11),
                url: r.get(12),
            });
            ev.run_sizes.push(u(r.get(10)));
        }
        let mut test_index: HashMap<i64, u32> = HashMap::default();
        let rows = self
            .client.get()?
            .query(
                if only_failing {
                    "SELECT id, key, classname, name, file FROM tests
                     WHERE project = $1
                       AND id IN (SELECT test_id FROM results WHERE outcome >= 2)
                     ORDER BY id"
                } else {
                    "SELECT id, key, classname, name, file FROM tests WHERE project = $1 ORDER BY id"
                },
                &[&self.project],
            )
            .map_err(backend)?;
        for r in &rows {
            test_index.insert(r.get(0), ev.tests.len() as u32);
            ev.tests.push(TestRow {
                id: r.get(1),
                classname: r.get(2),
                name: r.get(3),
                file: r.get(4),
            });
        }
        let failing_ids: Vec<i64> = if only_failing {
            rows.iter().map(|r| r.get(0)).collect()
        } else {
            Vec::new()
        };
        let mut messages = flakehound_store::Messages::default();
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = if only_failing {
            vec![&failing_ids]
        } else {
            vec![&self.project]
        };
        let mut it = self
            .client
            .get()?
            .query_raw(
                if only_failing {
                    // A hash join on the failing tests: one pass over the results.
                    "SELECT r.run_id, r.test_id, r.attempt, r.position, r.outcome, r.duration,
                            CASE WHEN r.outcome >= 2 THEN COALESCE(r.message, r.failure_kind) END
                     FROM results r JOIN unnest($1::int8[]) AS f(id) ON f.id = r.test_id"
                } else {
                    "SELECT r.run_id, r.test_id, r.attempt, r.position, r.outcome, r.duration,
                            CASE WHEN r.outcome >= 2 THEN COALESCE(r.message, r.failure_kind) END
                     FROM results r JOIN runs ru ON ru.id = r.run_id WHERE ru.project = $1"
                },
                params,
            )
            .map_err(backend)?;
        while let Some(r) = it.next().map_err(backend)? {
            let (Some(&run), Some(&test)) = (
                run_index.get(&r.get::<_, i64>(0)),
                test_index.get(&r.get::<_, i64>(1)),
            ) else {
                continue;
            };
            let message = r.get::<_, Option<&str>>(6).map(|m| messages.intern(m));
            ev.results.push(ResultRow {
                run,
                test,
                attempt: r.get::<_, i32>(2).max(0) as u32,
                position: r.get::<_, i32>(3).max(0) as u32,
                outcome: Outcome::from_severity(r.get::<_, i16>(4).clamp(0, 255) as u8),
                duration: r.get::<_, Option<f64>>(5).map(|d| d as f32),
                message,
            });
        }
        ev.finish(messages);
        Ok(ev)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Committed reports are whole; make them durable. Errors cannot be reported from drop:
        // callers that care call flush() first.
        let _ = self.flush();
    }
}

#[cfg(test)]
mod race_tests {
    use super::*;

    /// Writers creating a store's schema at the same moment all succeed: the loser of the race
    /// in the catalogue (`CREATE SCHEMA IF NOT EXISTS` is not safe against a concurrent
    /// creation: a unique violation) takes the winner's schema. Seen in CI: two `ingest`s
    /// racing on a fresh schema. 8 connections made first, released together by a barrier, on
    /// 20 fresh schemas (without the fix, some round fails).
    #[test]
    fn concurrent_creations_of_a_schema_all_succeed() {
        let server = match std::env::var("FLAKEHOUND_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var("FLAKEHOUND_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "FLAKEHOUND_REQUIRE_POSTGRES=1 but FLAKEHOUND_TEST_POSTGRES is not set"
                );
                eprintln!("skipped: set FLAKEHOUND_TEST_POSTGRES=postgres://… to run");
                return;
            }
        };
        let sep = if server.contains('?') { '&' } else { '?' };
        for round in 0..20 {
            let schema = format!("fh_race_{}_{round}", std::process::id());
            let url = format!("{server}{sep}options=-csearch_path%3D{schema}");
            let clients: Vec<Client> = (0..8)
                .map(|_| Client::connect(&url, postgres::NoTls).unwrap())
                .collect();
            let barrier = std::sync::Barrier::new(clients.len());
            let results: Vec<Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = clients
                    .into_iter()
                    .map(|mut c| {
                        let barrier = &barrier;
                        s.spawn(move || {
                            barrier.wait();
                            ensure_schema(&mut c, OpenMode::Create)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            if let Ok(mut c) = Client::connect(&server, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
            for r in results {
                if let Err(e) = r {
                    panic!("round {round}: a concurrent creation failed: {e}");
                }
            }
        }
    }
}
