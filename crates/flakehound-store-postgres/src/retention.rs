//! Retention in the PostgreSQL store (schema version 6; see flakehound-store's `retention`
//! module), and leadership of background jobs across server replicas (advisory locks).

use crate::store::{PostgresStore, backend, clean};
use flakehound_store::retention::{Aggregator, PruneRow};
use flakehound_store::{HistoryRow, Pruned, Result, Store, StoreError};
use postgres::{Client, NoTls};

/// A store opened before schema 6 has no retention tables: nothing was pruned.
fn missing(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == postgres::error::SqlState::UNDEFINED_TABLE
            || *c == postgres::error::SqlState::UNDEFINED_COLUMN
    })
}

/// Runs whose results are read (and deleted) at a time.
const PRUNE_CHUNK: usize = 256;

/// See the SQLite engine's query of the same name.
const PRUNABLE: &str = "
    SELECT ru.id, ru.commit_sha, COALESCE(ru.started_at, ru.created_at) FROM runs ru
    WHERE ru.project = $1 AND NOT ru.pinned AND COALESCE(ru.started_at, ru.created_at) < $2
      AND (ru.commit_sha IS NULL OR NOT EXISTS (
            SELECT 1 FROM runs o WHERE o.project = ru.project AND o.commit_sha = ru.commit_sha
              AND (o.pinned OR COALESCE(o.started_at, o.created_at) >= $2)))
    ORDER BY ru.id";

impl PostgresStore {
    pub(crate) fn read_history(&mut self) -> Result<Vec<HistoryRow>> {
        let rows = match self.client.get()?.query(
            "SELECT t.key, t.classname, t.name, t.file, h.commit_sha, h.runs, h.passes,
                    h.failures, h.skips, h.failed_runs, h.retry_passes, h.runs_passed,
                    h.runs_failed, h.last_seen, h.last_failure
             FROM test_history h JOIN tests t ON t.id = h.test_id
             WHERE h.project = $1 ORDER BY t.key, h.commit_sha",
            &[&self.project],
        ) {
            Ok(r) => r,
            Err(e) if missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        let u = |v: i64| v.max(0) as u64;
        Ok(rows
            .iter()
            .map(|r| {
                let commit: String = r.get(4);
                HistoryRow {
                    test: r.get(0),
                    classname: r.get(1),
                    name: r.get(2),
                    file: r.get(3),
                    commit: (!commit.is_empty()).then_some(commit),
                    runs: u(r.get(5)),
                    passes: u(r.get(6)),
                    failures: u(r.get(7)),
                    skips: u(r.get(8)),
                    failed_runs: u(r.get(9)),
                    retry_passes: u(r.get(10)),
                    runs_passed: u(r.get(11)),
                    runs_failed: u(r.get(12)),
                    last_seen: r.get(13),
                    last_failure: r.get(14),
                }
            })
            .collect())
    }

    pub(crate) fn prune_before(&mut self, before: &str) -> Result<Pruned> {
        Store::flush(self)?;
        let project = self.project.clone();
        let at = flakehound_store::time::now();
        let mut tx = self.client.get()?.transaction().map_err(backend)?;
        // Under the project's write lock (as writers take it): no report of a pruned run is
        // half-written meanwhile.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('flakehound.write ' || current_schema()),
                 hashtext($1))",
            &[&project],
        )
        .map_err(backend)?;
        let runs: Vec<(i64, Option<String>, String)> = tx
            .query(PRUNABLE, &[&project, &before])
            .map_err(backend)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let mut pruned = Pruned::default();
        if runs.is_empty() {
            tx.commit().map_err(backend)?;
            return Ok(pruned);
        }
        let ids: Vec<i64> = runs.iter().map(|r| r.0).collect();
        let mut agg = Aggregator::default();
        // A few hundred runs at a time: memory bounded by the chunk, not by the store, and
        // still one transaction.
        for chunk in runs.chunks(PRUNE_CHUNK) {
            let chunk_ids: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            let mut by_run: std::collections::HashMap<i64, Vec<PruneRow>> =
                std::collections::HashMap::new();
            for r in tx
                .query(
                    "SELECT run_id, test_id, attempt, outcome, COALESCE(message, failure_kind)
                     FROM results WHERE run_id = ANY($1)",
                    &[&chunk_ids],
                )
                .map_err(backend)?
            {
                by_run.entry(r.get(0)).or_default().push(PruneRow {
                    test_id: r.get(1),
                    attempt: r.get::<_, i32>(2).max(0) as u32,
                    outcome: r.get::<_, i16>(3).clamp(0, 3) as u8,
                    message: r.get(4),
                });
            }
            for (id, commit, started) in chunk {
                let rows = by_run.remove(id).unwrap_or_default();
                pruned.results += rows.len() as u64;
                agg.add_run(commit.as_deref(), started, &rows);
            }
            tx.execute("DELETE FROM results WHERE run_id = ANY($1)", &[&chunk_ids])
                .map_err(backend)?;
        }
        tx.execute(
            "INSERT INTO pruned_reports (project, hash, pruned_at)
             SELECT project, hash, $2 FROM reports WHERE run_id = ANY($1)
             ON CONFLICT DO NOTHING",
            &[&ids, &at],
        )
        .map_err(backend)?;
        pruned.reports = tx
            .execute("DELETE FROM reports WHERE run_id = ANY($1)", &[&ids])
            .map_err(backend)?;
        pruned.runs = tx
            .execute("DELETE FROM runs WHERE id = ANY($1)", &[&ids])
            .map_err(backend)?;
        let up = tx
            .prepare(
                "INSERT INTO test_history AS h (project, test_id, commit_sha, runs, passes,
                   failures, skips, failed_runs, retry_passes, runs_passed, runs_failed,
                   last_seen, last_failure)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (project, test_id, commit_sha) DO UPDATE SET
                   runs = h.runs + excluded.runs, passes = h.passes + excluded.passes,
                   failures = h.failures + excluded.failures, skips = h.skips + excluded.skips,
                   failed_runs = h.failed_runs + excluded.failed_runs,
                   retry_passes = h.retry_passes + excluded.retry_passes,
                   runs_passed = h.runs_passed + excluded.runs_passed,
                   runs_failed = h.runs_failed + excluded.runs_failed,
                   last_seen = CASE WHEN excluded.last_seen > COALESCE(h.last_seen, '')
                               THEN excluded.last_seen ELSE h.last_seen END,
                   last_failure = COALESCE(excluded.last_failure, h.last_failure)",
            )
            .map_err(backend)?;
        for ((test, commit), a) in &agg.rows {
            let n = |v: u64| v as i64;
            tx.execute(
                &up,
                &[
                    &project,
                    test,
                    &commit.as_deref().map(clean).unwrap_or_default().as_ref(),
                    &n(a.runs),
                    &n(a.passes),
                    &n(a.failures),
                    &n(a.skips),
                    &n(a.failed_runs),
                    &n(a.retry_passes),
                    &n(a.runs_passed),
                    &n(a.runs_failed),
                    &a.last_seen,
                    &a.last_failure,
                ],
            )
            .map_err(backend)?;
            pruned.history_rows += 1;
        }
        tx.commit().map_err(backend)?;
        // The writer's cached test ids and run numbering stay valid: tests are kept, and the
        // runs removed are never written to again under their ids.
        Ok(pruned)
    }

    pub(crate) fn set_pinned(&mut self, key: &str, pinned: bool) -> Result<bool> {
        Store::flush(self)?;
        let n = self
            .client
            .get()?
            .execute(
                "UPDATE runs SET pinned = $3 WHERE project = $1 AND key = $2",
                &[&self.project, &key, &pinned],
            )
            .map_err(backend)?;
        Ok(n > 0)
    }

    pub(crate) fn pinned_keys(&mut self) -> Result<Vec<String>> {
        match self.client.get()?.query(
            "SELECT key FROM runs WHERE project = $1 AND pinned ORDER BY key",
            &[&self.project],
        ) {
            Ok(rows) => Ok(rows.iter().map(|r| r.get(0)).collect()),
            Err(e) if missing(&e) => Ok(Vec::new()),
            Err(e) => Err(backend(e)),
        }
    }

    pub(crate) fn write_retention(
        &mut self,
        project: &str,
        days: Option<u32>,
        at: &str,
    ) -> Result<()> {
        Store::flush(self)?;
        match days {
            Some(d) => self.client.get()?.execute(
                "INSERT INTO retention (project, days, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (project) DO UPDATE SET days = excluded.days,
                   updated_at = excluded.updated_at",
                &[&project, &(d.min(i32::MAX as u32) as i32), &at],
            ),
            None => self
                .client
                .get()?
                .execute("DELETE FROM retention WHERE project = $1", &[&project]),
        }
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) fn read_retentions(&mut self) -> Result<Vec<(String, u32)>> {
        Ok(self
            .client
            .get()?
            .query("SELECT project, days FROM retention ORDER BY project", &[])
            .map_err(backend)?
            .iter()
            .map(|r| (r.get(0), r.get::<_, i32>(1).max(0) as u32))
            .collect())
    }

    /// Which of `hashes` were stored and then pruned (still duplicates).
    pub(crate) fn pruned_of(&mut self, hashes: &[String]) -> Result<Vec<String>> {
        match self.client.get()?.query(
            "SELECT hash FROM pruned_reports WHERE project = $1 AND hash = ANY($2)",
            &[&self.project, &hashes],
        ) {
            Ok(rows) => Ok(rows.iter().map(|r| r.get(0)).collect()),
            Err(e) if missing(&e) => Ok(Vec::new()),
            Err(e) => Err(backend(e)),
        }
    }
}

/// Leadership of a background job: a session-level advisory lock held on a connection of its
/// own. PostgreSQL releases it when the connection ends (the process died, the network
/// failed), and another replica's next try takes it.
pub(crate) struct PgLease {
    client: Client,
}

impl flakehound_store::Lease for PgLease {
    fn held(&mut self) -> bool {
        // The lock lives as long as the session: a session that answers still holds it.
        self.client.simple_query("SELECT 1").is_ok()
    }
}

pub(crate) fn try_lead(url: &str, job: &str) -> Result<Option<PgLease>> {
    let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Open {
        path: flakehound_store::Location::Postgres(url.to_string()).to_string(),
        reason: format!("{e}"),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(crate::store::CONNECT_TIMEOUT);
    }
    let mut client = config.connect(NoTls).map_err(|e| StoreError::Open {
        path: flakehound_store::Location::Postgres(url.to_string()).to_string(),
        reason: crate::store::describe(&e),
    })?;
    let got: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('flakehound.lead ' || COALESCE(current_schema(), '')),
                 hashtext($1))",
            &[&job],
        )
        .map_err(backend)?
        .get(0);
    Ok(got.then_some(PgLease { client }))
}
