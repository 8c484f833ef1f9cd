//! The embedded SQLite store (bundled SQLite: no system library needed).
//!
//! - WAL journal with `synchronous=NORMAL`: a crash can lose the last committed reports but
//!   never corrupts the store or leaves half a report (re-running the ingest restores them).
//! - Migrations are SQL files embedded in the binary, applied in order and tracked with
//!   `PRAGMA user_version`.
//! - Test ids are cached in memory across reports of one session; rows created by a rolled-back
//!   report are evicted from the cache.

use crate::{NewReport, ReportWriter, Result, Store, StoreError, TestStats, Totals, Written};
use flakehound_model::{Counts, ReportInfo, TestCase};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Embedded migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/001_initial.sql")];

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub struct SqliteStore {
    conn: Connection,
    test_ids: HashMap<String, i64>,
}

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
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        Self::init(conn).map_err(|e| match e {
            StoreError::Backend(reason) => open_err(reason),
            other => other,
        })
    }

    /// A private in-memory store (tests, `parse`-like dry runs).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn,
            test_ids: HashMap::new(),
        })
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::TooNew {
            found: version,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

fn props_json(props: &[(String, String)]) -> Option<String> {
    if props.is_empty() {
        return None;
    }
    let obj: serde_json::Map<String, serde_json::Value> = props
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(obj).to_string())
}

struct SqliteWriter<'s> {
    tx: Option<Transaction<'s>>,
    test_ids: &'s mut HashMap<String, i64>,
    /// Test keys inserted by this (uncommitted) report.
    new_tests: Vec<String>,
    run: i64,
    report: i64,
    run_existed: bool,
    position: i64,
    attempts: HashMap<i64, i64>,
    records: u64,
    results: u64,
}

impl Store for SqliteStore {
    fn has_report(&mut self, hash: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM reports WHERE hash = ?1", [hash], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(backend)
    }

    fn begin_report<'s>(
        &'s mut self,
        report: &NewReport<'_>,
    ) -> Result<Box<dyn ReportWriter + 's>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let m = report.run;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM runs WHERE key = ?1",
                [&report.run_key.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        let (run, run_existed) = match existing {
            Some(id) => (id, true),
            None => {
                tx.execute(
                    "INSERT INTO runs (key, source, commit_sha, branch, provider, job, ci_run_id, run_attempt,
                        runner, os, started_at, duration, url, pull_request, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    params![
                        report.run_key.0,
                        report.source,
                        m.commit,
                        m.branch,
                        m.provider,
                        m.job,
                        m.run_id,
                        m.run_attempt,
                        m.runner,
                        m.os,
                        m.started_at,
                        m.duration,
                        m.url,
                        m.pull_request,
                        now()
                    ],
                )
                .map_err(backend)?;
                (tx.last_insert_rowid(), false)
            }
        };
        let position: i64 = if run_existed {
            tx.query_row(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM results WHERE run_id = ?1",
                [run],
                |r| r.get(0),
            )
            .map_err(backend)?
        } else {
            0
        };
        // Placeholder counts; finalised in commit().
        tx.execute(
            "INSERT INTO reports (run_id, hash, path, format, records, results, ingested_at)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5)",
            params![
                run,
                report.hash,
                report.path,
                report.format.map_or("unknown", |f| f.as_str()),
                now()
            ],
        )
        .map_err(backend)?;
        let report_id = tx.last_insert_rowid();
        Ok(Box::new(SqliteWriter {
            tx: Some(tx),
            test_ids: &mut self.test_ids,
            new_tests: Vec::new(),
            run,
            report: report_id,
            run_existed,
            position,
            attempts: HashMap::new(),
            records: 0,
            results: 0,
        }))
    }

    fn test_stats(&mut self) -> Result<Vec<TestStats>> {
        let sql = "
            WITH per_run AS (
                SELECT r.test_id, r.run_id, ru.commit_sha,
                       COALESCE(ru.started_at, ru.created_at) AS started_at,
                       SUM(r.outcome = 1) AS p, SUM(r.outcome >= 2) AS f, SUM(r.outcome = 0) AS s,
                       MAX(CASE WHEN r.outcome = 1 THEN r.attempt END) AS last_pass,
                       MIN(CASE WHEN r.outcome >= 2 THEN r.attempt END) AS first_fail
                FROM results r JOIN runs ru ON ru.id = r.run_id
                GROUP BY r.test_id, r.run_id
            ),
            tr AS (
                SELECT test_id, SUM(p + f > 0) AS runs, SUM(p) AS passes, SUM(f) AS failures, SUM(s) AS skips,
                       SUM(f > 0) AS failed_runs,
                       SUM(COALESCE(last_pass > first_fail, 0)) AS retry_passes,
                       MAX(CASE WHEN p + f > 0 THEN started_at END) AS last_seen
                FROM per_run GROUP BY test_id
            ),
            per_commit AS (
                SELECT test_id, commit_sha, SUM(p) AS p, SUM(f) AS f
                FROM per_run WHERE commit_sha IS NOT NULL GROUP BY test_id, commit_sha
            ),
            tc AS (
                SELECT test_id, SUM(p + f > 0) AS commits, SUM(p > 0 AND f > 0) AS flaky_commits
                FROM per_commit GROUP BY test_id
            )
            SELECT t.key, t.classname, t.name, t.file, tr.runs, tr.passes, tr.failures, tr.skips,
                   tr.failed_runs, tr.retry_passes, COALESCE(tc.flaky_commits, 0), COALESCE(tc.commits, 0),
                   tr.last_seen,
                   CASE WHEN tr.failures > 0 THEN
                     (SELECT COALESCE(x.message, x.failure_kind) FROM results x
                      WHERE x.test_id = t.id AND x.outcome >= 2 ORDER BY x.id DESC LIMIT 1) END
            FROM tests t JOIN tr ON tr.test_id = t.id LEFT JOIN tc ON tc.test_id = t.id";
        let mut stmt = self.conn.prepare(sql).map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
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

    fn totals(&mut self) -> Result<Totals> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM reports), (SELECT COUNT(*) FROM tests),
                        (SELECT COUNT(*) FROM results),
                        COALESCE(SUM(agg_tests), 0), COALESCE(SUM(agg_passed), 0), COALESCE(SUM(agg_failed), 0),
                        COALESCE(SUM(agg_errored), 0), COALESCE(SUM(agg_skipped), 0)
                 FROM reports",
                [],
                |r| {
                    let g = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
                    Ok(Totals {
                        runs: g(0)?,
                        reports: g(1)?,
                        tests: g(2)?,
                        results: g(3)?,
                        aggregate: Counts { tests: g(4)?, passed: g(5)?, failed: g(6)?, errored: g(7)?, skipped: g(8)? },
                    })
                },
            )
            .map_err(backend)
    }
}

impl SqliteWriter<'_> {
    fn tx(&self) -> &Transaction<'_> {
        self.tx.as_ref().expect("transaction present until commit")
    }

    fn test_id(&mut self, case: &TestCase) -> Result<i64> {
        if let Some(&id) = self.test_ids.get(&case.id) {
            return Ok(id);
        }
        let tx = self.tx.as_ref().expect("transaction present until commit");
        let existing: Option<i64> = tx
            .prepare_cached("SELECT id FROM tests WHERE key = ?1")
            .and_then(|mut s| s.query_row([&case.id], |r| r.get(0)).optional())
            .map_err(backend)?;
        let id = match existing {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO tests (key, classname, name, file, line) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .and_then(|mut s| s.execute(params![case.id, case.classname, case.name, case.file, case.line]))
                    .map_err(backend)?;
                self.new_tests.push(case.id.clone());
                tx.last_insert_rowid()
            }
        };
        self.test_ids.insert(case.id.clone(), id);
        Ok(id)
    }

    /// Next attempt number of `test` in this run (attempts continue across reports of a run).
    fn next_attempt(&mut self, test: i64) -> Result<i64> {
        if let Some(a) = self.attempts.get_mut(&test) {
            *a += 1;
            return Ok(*a);
        }
        let previous: i64 = if self.run_existed {
            self.tx()
                .prepare_cached("SELECT COALESCE(MAX(attempt), 0) FROM results WHERE test_id = ?1 AND run_id = ?2")
                .and_then(|mut s| s.query_row(params![test, self.run], |r| r.get(0)))
                .map_err(backend)?
        } else {
            0
        };
        self.attempts.insert(test, previous + 1);
        Ok(previous + 1)
    }
}

impl ReportWriter for SqliteWriter<'_> {
    fn add(&mut self, case: &TestCase) -> Result<()> {
        let test = self.test_id(case)?;
        let props = props_json(&case.properties);
        self.records += 1;
        for (i, a) in case.attempts.iter().enumerate() {
            let attempt = self.next_attempt(test)?;
            let f = a.failure.as_ref();
            let outcome = a.outcome.severity() as i64;
            let (run, report, position) = (self.run, self.report, self.position);
            self.tx()
                .prepare_cached(
                    "INSERT INTO results (run_id, report_id, test_id, attempt, position, outcome, duration,
                        failure_kind, message, details, stdout, stderr, properties, timestamp)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        run,
                        report,
                        test,
                        attempt,
                        position,
                        outcome,
                        a.duration,
                        f.and_then(|f| f.kind.as_deref()),
                        f.and_then(|f| f.message.as_deref()),
                        f.and_then(|f| f.details.as_deref()),
                        a.stdout,
                        a.stderr,
                        if i == 0 { props.as_deref() } else { None },
                        case.timestamp,
                    ])
                })
                .map_err(backend)?;
            self.position += 1;
            self.results += 1;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>, info: &ReportInfo) -> Result<Written> {
        let agg = info.aggregate;
        let tx = self.tx.take().expect("transaction present until commit");
        if let Some(ts) = &info.timestamp {
            tx.execute(
                "UPDATE runs SET started_at = ?2 WHERE id = ?1 AND started_at IS NULL",
                params![self.run, ts],
            )
            .map_err(backend)?;
        }
        tx.execute(
            "UPDATE reports SET format = COALESCE(?14, format), tool = ?2, timestamp = ?3, hostname = ?4, duration = ?5, properties = ?6,
                records = ?7, results = ?8, agg_tests = ?9, agg_passed = ?10, agg_failed = ?11,
                agg_errored = ?12, agg_skipped = ?13
             WHERE id = ?1",
            params![
                self.report,
                info.tool,
                info.timestamp,
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
        tx.commit().map_err(backend)?;
        self.new_tests.clear();
        Ok(Written {
            records: self.records,
            results: self.results,
            new_run: !self.run_existed,
        })
    }
}

impl Drop for SqliteWriter<'_> {
    fn drop(&mut self) {
        // Not committed: the transaction rolls back, and test rows it created are gone.
        for key in self.new_tests.drain(..) {
            self.test_ids.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunKey;
    use flakehound_model::{Attempt, Format, Outcome, RunMeta};

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
        let nr = NewReport {
            hash,
            path: None,
            format: Some(Format::Junit),
            run_key: &key,
            run: &meta,
            source: "ci",
        };
        let mut w = store.begin_report(&nr)?;
        for c in cases {
            w.add(c)?;
        }
        w.commit(&ReportInfo::default())
    }

    #[test]
    fn attempts_continue_across_reports_of_a_run_and_stats_see_flakiness() {
        let mut s = SqliteStore::in_memory().unwrap();
        use Outcome::*;
        write(
            &mut s,
            "h1",
            "r1",
            "c1",
            &[case("a", &[Failed, Passed]), case("b", &[Passed])],
        )
        .unwrap();
        // A second report of the same run: a rerun of b that fails.
        write(&mut s, "h2", "r1", "c1", &[case("b", &[Failed])]).unwrap();
        write(
            &mut s,
            "h3",
            "r2",
            "c2",
            &[case("a", &[Passed]), case("b", &[Passed])],
        )
        .unwrap();
        let attempts: Vec<i64> = s
            .conn
            .prepare("SELECT attempt FROM results r JOIN tests t ON t.id = r.test_id WHERE t.key = 'b' ORDER BY r.id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(attempts, vec![1, 2, 1]);
        let stats = s.test_stats().unwrap();
        let a = stats.iter().find(|t| t.id == "a").unwrap();
        assert_eq!(
            (
                a.runs,
                a.passes,
                a.failures,
                a.retry_passes,
                a.flaky_commits,
                a.commits
            ),
            (2, 2, 1, 1, 1, 2)
        );
        let b = stats.iter().find(|t| t.id == "b").unwrap();
        assert_eq!(
            (
                b.runs,
                b.passes,
                b.failures,
                b.retry_passes,
                b.flaky_commits
            ),
            (2, 2, 1, 0, 1)
        );
        let t = s.totals().unwrap();
        assert_eq!((t.runs, t.reports, t.tests, t.results), (2, 3, 2, 6));
    }

    #[test]
    fn uncommitted_report_leaves_nothing_and_cache_stays_valid() {
        let mut s = SqliteStore::in_memory().unwrap();
        {
            let meta = RunMeta::default();
            let key = RunKey("r".into());
            let nr = NewReport {
                hash: "h",
                path: None,
                format: Some(Format::Junit),
                run_key: &key,
                run: &meta,
                source: "ci",
            };
            let mut w = s.begin_report(&nr).unwrap();
            w.add(&case("x", &[Outcome::Passed])).unwrap();
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
}
