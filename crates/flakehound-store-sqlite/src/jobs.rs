//! Job-level evidence ([`CiJobs`]) in the SQLite store (schema 8).

use crate::store::{SqliteStore, backend, now};
use flakehound_store::{CiJob, CiJobs, Result, Store};
use rusqlite::params;

/// A store opened read-only before schema 8 has no job tables: it has no jobs.
fn missing_table(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table")
}

impl CiJobs for SqliteStore {
    fn record_import(&mut self, provider: &str, unit: &str, jobs: &[CiJob]) -> Result<bool> {
        Store::flush(self)?;
        let project = self.project().to_string();
        let tx = self.conn_mut().transaction().map_err(backend)?;
        let new = tx
            .execute(
                "INSERT INTO ci_imports (project, provider, unit, imported_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![project, provider, unit, now()],
            )
            .map_err(backend)?
            == 1;
        if !new {
            return Ok(false);
        }
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO ci_jobs (project, provider, run_id, attempt, job_id, name, workflow,
                       commit_sha, branch, pull_request, conclusion, started_at, completed_at,
                       duration_secs, runner)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(backend)?;
            for j in jobs {
                st.execute(params![
                    project,
                    j.provider,
                    j.run_id,
                    j.attempt,
                    j.job_id,
                    j.name,
                    j.workflow,
                    j.commit,
                    j.branch,
                    j.pull_request,
                    j.conclusion,
                    j.started_at,
                    j.completed_at,
                    j.duration_secs,
                    j.runner,
                ])
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(true)
    }

    fn imported_units(&mut self, provider: &str) -> Result<std::collections::HashSet<String>> {
        Store::flush(self)?;
        let project = self.project().to_string();
        let conn = self.conn_mut();
        let mut st = match conn
            .prepare("SELECT unit FROM ci_imports WHERE project = ?1 AND provider = ?2")
        {
            Ok(st) => st,
            Err(e) if missing_table(&e) => return Ok(Default::default()),
            Err(e) => return Err(backend(e)),
        };
        let rows = st
            .query_map(params![project, provider], |r| r.get(0))
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }

    fn jobs(&mut self) -> Result<Vec<CiJob>> {
        Store::flush(self)?;
        let project = self.project().to_string();
        let conn = self.conn_mut();
        let mut st = match conn.prepare(
            "SELECT provider, run_id, attempt, job_id, name, workflow, commit_sha, branch,
                    pull_request, conclusion, started_at, completed_at, duration_secs, runner
             FROM ci_jobs WHERE project = ?1
             ORDER BY provider, run_id, attempt, name, job_id",
        ) {
            Ok(st) => st,
            Err(e) if missing_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        let rows = st
            .query_map(params![project], |r| {
                Ok(CiJob {
                    provider: r.get(0)?,
                    run_id: r.get(1)?,
                    attempt: r.get(2)?,
                    job_id: r.get(3)?,
                    name: r.get(4)?,
                    workflow: r.get(5)?,
                    commit: r.get(6)?,
                    branch: r.get(7)?,
                    pull_request: r.get(8)?,
                    conclusion: r.get(9)?,
                    started_at: r.get(10)?,
                    completed_at: r.get(11)?,
                    duration_secs: r.get(12)?,
                    runner: r.get(13)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }
}
