//! Retention in the SQLite store (schema 9; see flakehound-store's `retention` module).

use crate::store::{SqliteStore, backend, now};
use flakehound_store::retention::{Aggregator, PruneRow};
use flakehound_store::{HistoryRow, Pruned, Result, Store};
use rusqlite::{OptionalExtension, params};

/// A store opened read-only before schema 9 has no retention tables: nothing was pruned.
fn missing_table(e: &rusqlite::Error) -> bool {
    let s = e.to_string();
    s.contains("no such table") || s.contains("no such column")
}

/// The runs a prune at `before` removes: unpinned, started before the cutoff, and on a commit
/// none of whose runs is pinned or newer (runs without a commit one by one).
const PRUNABLE: &str = "
    SELECT ru.id, ru.commit_sha, COALESCE(ru.started_at, ru.created_at) FROM runs ru
    WHERE ru.project = ?1 AND ru.pinned = 0 AND COALESCE(ru.started_at, ru.created_at) < ?2
      AND (ru.commit_sha IS NULL OR NOT EXISTS (
            SELECT 1 FROM runs o WHERE o.project = ru.project AND o.commit_sha = ru.commit_sha
              AND (o.pinned <> 0 OR COALESCE(o.started_at, o.created_at) >= ?2)))
    ORDER BY ru.id";

impl SqliteStore {
    pub(crate) fn read_history(&mut self) -> Result<Vec<HistoryRow>> {
        let project = self.project().to_string();
        let mut stmt = match self.conn_mut().prepare(
            "SELECT t.key, t.classname, t.name, t.file, h.commit_sha, h.runs, h.passes,
                    h.failures, h.skips, h.failed_runs, h.retry_passes, h.runs_passed,
                    h.runs_failed, h.last_seen, h.last_failure
             FROM test_history h JOIN tests t ON t.id = h.test_id
             WHERE h.project = ?1 ORDER BY t.key, h.commit_sha",
        ) {
            Ok(s) => s,
            Err(e) if missing_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        let u = |v: i64| v.max(0) as u64;
        let rows = stmt
            .query_map([&project], |r| {
                let commit: String = r.get(4)?;
                Ok(HistoryRow {
                    test: r.get(0)?,
                    classname: r.get(1)?,
                    name: r.get(2)?,
                    file: r.get(3)?,
                    commit: (!commit.is_empty()).then_some(commit),
                    runs: u(r.get(5)?),
                    passes: u(r.get(6)?),
                    failures: u(r.get(7)?),
                    skips: u(r.get(8)?),
                    failed_runs: u(r.get(9)?),
                    retry_passes: u(r.get(10)?),
                    runs_passed: u(r.get(11)?),
                    runs_failed: u(r.get(12)?),
                    last_seen: r.get(13)?,
                    last_failure: r.get(14)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    pub(crate) fn prune_before(&mut self, before: &str) -> Result<Pruned> {
        Store::flush(self)?;
        let project = self.project().to_string();
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let runs: Vec<(i64, Option<String>, String)> = {
            let mut st = tx.prepare(PRUNABLE).map_err(backend)?;
            st.query_map(params![project, before], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?
        };
        let mut pruned = Pruned::default();
        let mut agg = Aggregator::default();
        let at = now();
        {
            let mut read = tx
                .prepare(
                    "SELECT r.test_id, r.attempt, r.outcome, COALESCE(o.message, o.failure_kind)
                     FROM results r LEFT JOIN outputs o ON o.id = r.output_id
                     WHERE r.run_id = ?1",
                )
                .map_err(backend)?;
            for (id, commit, started) in &runs {
                let rows: Vec<PruneRow> = read
                    .query_map([id], |r| {
                        Ok(PruneRow {
                            test_id: r.get(0)?,
                            attempt: r.get::<_, i64>(1)?.max(0) as u32,
                            outcome: r.get::<_, i64>(2)?.clamp(0, 3) as u8,
                            message: r.get(3)?,
                        })
                    })
                    .map_err(backend)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(backend)?;
                pruned.results += rows.len() as u64;
                agg.add_run(commit.as_deref(), started, &rows);
                tx.execute(
                    "DELETE FROM outputs WHERE id IN
                       (SELECT output_id FROM results WHERE run_id = ?1 AND output_id IS NOT NULL)",
                    [id],
                )
                .map_err(backend)?;
                tx.execute("DELETE FROM results WHERE run_id = ?1", [id])
                    .map_err(backend)?;
                tx.execute(
                    "INSERT INTO pruned_reports (project, hash, pruned_at)
                     SELECT project, hash, ?2 FROM reports WHERE run_id = ?1
                     ON CONFLICT DO NOTHING",
                    params![id, at],
                )
                .map_err(backend)?;
                pruned.reports += tx
                    .execute("DELETE FROM reports WHERE run_id = ?1", [id])
                    .map_err(backend)? as u64;
                pruned.runs += tx
                    .execute("DELETE FROM runs WHERE id = ?1", [id])
                    .map_err(backend)? as u64;
            }
        }
        {
            let mut up = tx
                .prepare(
                    "INSERT INTO test_history (project, test_id, commit_sha, runs, passes, failures,
                       skips, failed_runs, retry_passes, runs_passed, runs_failed, last_seen,
                       last_failure)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (project, test_id, commit_sha) DO UPDATE SET
                       runs = runs + excluded.runs, passes = passes + excluded.passes,
                       failures = failures + excluded.failures, skips = skips + excluded.skips,
                       failed_runs = failed_runs + excluded.failed_runs,
                       retry_passes = retry_passes + excluded.retry_passes,
                       runs_passed = runs_passed + excluded.runs_passed,
                       runs_failed = runs_failed + excluded.runs_failed,
                       last_seen = CASE WHEN excluded.last_seen > COALESCE(last_seen, '')
                                   THEN excluded.last_seen ELSE last_seen END,
                       last_failure = COALESCE(excluded.last_failure, last_failure)",
                )
                .map_err(backend)?;
            for ((test, commit), a) in &agg.rows {
                up.execute(params![
                    project,
                    test,
                    commit.as_deref().unwrap_or(""),
                    a.runs as i64,
                    a.passes as i64,
                    a.failures as i64,
                    a.skips as i64,
                    a.failed_runs as i64,
                    a.retry_passes as i64,
                    a.runs_passed as i64,
                    a.runs_failed as i64,
                    a.last_seen,
                    a.last_failure,
                ])
                .map_err(backend)?;
                pruned.history_rows += 1;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(pruned)
    }

    pub(crate) fn set_pinned(&mut self, key: &str, pinned: bool) -> Result<bool> {
        Store::flush(self)?;
        let project = self.project().to_string();
        let n = self
            .conn_mut()
            .execute(
                "UPDATE runs SET pinned = ?3 WHERE project = ?1 AND key = ?2",
                params![project, key, i64::from(pinned)],
            )
            .map_err(backend)?;
        Ok(n > 0)
    }

    pub(crate) fn pinned_keys(&mut self) -> Result<Vec<String>> {
        let project = self.project().to_string();
        let mut stmt = match self
            .conn_mut()
            .prepare("SELECT key FROM runs WHERE project = ?1 AND pinned <> 0 ORDER BY key")
        {
            Ok(s) => s,
            Err(e) if missing_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        let rows = stmt.query_map([&project], |r| r.get(0)).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(backend)
    }

    pub(crate) fn write_retention(
        &mut self,
        project: &str,
        days: Option<u32>,
        at: &str,
    ) -> Result<()> {
        let conn = self.conn_mut();
        match days {
            Some(d) => conn.execute(
                "INSERT INTO retention (project, days, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (project) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at",
                params![project, d, at],
            ),
            None => conn.execute("DELETE FROM retention WHERE project = ?1", [project]),
        }
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) fn read_retentions(&mut self) -> Result<Vec<(String, u32)>> {
        let mut stmt = self
            .conn_mut()
            .prepare("SELECT project, days FROM retention ORDER BY project")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u32)))
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    /// Whether a report with `hash` was stored and then pruned (still a duplicate).
    pub(crate) fn was_pruned(
        conn: &rusqlite::Connection,
        project: &str,
        hash: &str,
    ) -> Result<bool> {
        match conn
            .prepare_cached("SELECT 1 FROM pruned_reports WHERE project = ?1 AND hash = ?2")
            .and_then(|mut s| s.query_row([project, hash], |_| Ok(())).optional())
        {
            Ok(r) => Ok(r.is_some()),
            Err(e) if missing_table(&e) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }
}

/// The leader of a background job among processes sharing a SQLite store: an exclusive
/// transaction held open on a small SQLite file beside it (`DB.JOB.lock`, rollback journal).
/// SQLite's file locks are released by the OS when the process dies, so another process's next
/// try succeeds. (std's `File::try_lock` would do, but is newer than this crate's MSRV.)
pub(crate) struct FileLease(#[allow(dead_code)] rusqlite::Connection);

impl flakehound_store::Lease for FileLease {
    fn held(&mut self) -> bool {
        true
    }
}

pub(crate) fn try_lead(path: &std::path::Path, job: &str) -> Result<Option<FileLease>> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{job}.lock"));
    let lock = std::path::PathBuf::from(name);
    let open_err = |e: rusqlite::Error| flakehound_store::StoreError::Open {
        path: lock.display().to_string(),
        reason: e.to_string(),
    };
    let conn = rusqlite::Connection::open(&lock).map_err(open_err)?;
    // No waiting: a lock held elsewhere means another process leads.
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(open_err)?;
    match conn.execute_batch("BEGIN EXCLUSIVE") {
        Ok(()) => Ok(Some(FileLease(conn))),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(open_err(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_leader_per_job_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = super::try_lead(&db, "retention").unwrap();
        assert!(first.is_some());
        assert!(super::try_lead(&db, "retention").unwrap().is_none());
        assert!(super::try_lead(&db, "alerts").unwrap().is_some());
        drop(first);
        assert!(super::try_lead(&db, "retention").unwrap().is_some());
    }
}

#[cfg(test)]
mod all_or_nothing {
    use flakehound_store::Store;
    use flakehound_store::conformance::{retention_fixture, snapshot};

    /// A prune that fails after deleting (its aggregates cannot be written) leaves the store
    /// as it was; once repaired, the same prune succeeds.
    #[test]
    fn a_failed_prune_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::SqliteStore::open(&dir.path().join("s.db"))
            .and_then(|s| s.with_project("p"))
            .unwrap();
        let cutoff = retention_fixture(&mut s);
        let before = snapshot(&mut s);
        s.conn_mut()
            .execute_batch("ALTER TABLE test_history RENAME TO test_history_away")
            .unwrap();
        let err = s.prune(cutoff).unwrap_err().to_string();
        assert!(err.contains("test_history"), "{err}");
        s.conn_mut()
            .execute_batch("ALTER TABLE test_history_away RENAME TO test_history")
            .unwrap();
        assert_eq!(snapshot(&mut s), before);
        assert!(s.has_report("fixture0").unwrap());
        assert_eq!(s.prune(cutoff).unwrap().runs, 2);
        assert_eq!(snapshot(&mut s).stats, before.stats);
    }
}
