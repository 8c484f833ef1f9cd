//! Job-level evidence ([`CiJobs`]) in the PostgreSQL store (schema version 5).

use crate::store::{PostgresStore, backend};
use flakehound_store::{CiJob, CiJobs, Result, Store};

/// A store opened before schema 5 (a read-only role never migrates it) has no job tables: it
/// has no jobs.
fn missing_table(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE)
}

impl CiJobs for PostgresStore {
    fn record_import(&mut self, provider: &str, unit: &str, jobs: &[CiJob]) -> Result<bool> {
        self.flush()?;
        let project = self.project.clone();
        let mut tx = self.client.get()?.transaction().map_err(backend)?;
        let new = tx
            .execute(
                "INSERT INTO ci_imports (project, provider, unit, imported_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&project, &provider, &unit, &flakehound_store::time::now()],
            )
            .map_err(backend)?
            == 1;
        if !new {
            return Ok(false);
        }
        let st = tx
            .prepare(
                "INSERT INTO ci_jobs (project, provider, run_id, attempt, job_id, name, workflow,
                   commit_sha, branch, pull_request, conclusion, started_at, completed_at,
                   duration_secs, runner)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(backend)?;
        for j in jobs {
            let attempt = j.attempt as i32;
            tx.execute(
                &st,
                &[
                    &project,
                    &j.provider,
                    &j.run_id,
                    &attempt,
                    &j.job_id,
                    &j.name,
                    &j.workflow,
                    &j.commit,
                    &j.branch,
                    &j.pull_request,
                    &j.conclusion,
                    &j.started_at,
                    &j.completed_at,
                    &j.duration_secs,
                    &j.runner,
                ],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(true)
    }

    fn imported_units(&mut self, provider: &str) -> Result<std::collections::HashSet<String>> {
        self.flush()?;
        let rows = self.client.get()?.query(
            "SELECT unit FROM ci_imports WHERE project = $1 AND provider = $2",
            &[&self.project, &provider],
        );
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) if missing_table(&e) => return Ok(Default::default()),
            Err(e) => return Err(backend(e)),
        };
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn jobs(&mut self) -> Result<Vec<CiJob>> {
        self.flush()?;
        let rows = self.client.get()?.query(
            "SELECT provider, run_id, attempt, job_id, name, workflow, commit_sha, branch,
                        pull_request, conclusion, started_at, completed_at, duration_secs, runner
                 FROM ci_jobs WHERE project = $1
                 ORDER BY provider, run_id, attempt, name, job_id",
            &[&self.project],
        );
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) if missing_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        Ok(rows
            .iter()
            .map(|r| CiJob {
                provider: r.get(0),
                run_id: r.get(1),
                attempt: r.get::<_, i32>(2) as u32,
                job_id: r.get(3),
                name: r.get(4),
                workflow: r.get(5),
                commit: r.get(6),
                branch: r.get(7),
                pull_request: r.get(8),
                conclusion: r.get(9),
                started_at: r.get(10),
                completed_at: r.get(11),
                duration_secs: r.get(12),
                runner: r.get(13),
            })
            .collect())
    }
}
