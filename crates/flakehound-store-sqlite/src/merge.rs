//! Merging another SQLite store into this one (`flakehound merge`): how the stores of parallel
//! CI jobs (hunt shards, matrix jobs) become one.
//!
//! Reports are identified by their content hash, so a report already present is skipped and
//! merging twice changes nothing. A report's run is found by key or created; when the run
//! already exists here (two jobs writing the same CI run), the merged results come after the
//! run's own: positions continue from the run's next position and attempt numbers continue from
//! each test's last attempt. All of it is one transaction.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, params};

use crate::store::{SqliteStore, backend};
use flakehound_store::{Result, StoreError};

/// What a merge added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Merged {
    pub reports: u64,
    pub skipped: u64,
    pub runs: u64,
    pub results: u64,
}

impl SqliteStore {
    /// Copies every report of the store at `src` that this store does not have.
    pub fn merge_from(&mut self, src: &Path) -> Result<Merged> {
        use flakehound_store::Store;
        self.flush()?;
        if !src.is_file() {
            return Err(StoreError::Open {
                path: src.display().to_string(),
                reason: "no such file".into(),
            });
        }
        let src_str = src.to_str().ok_or_else(|| StoreError::Open {
            path: src.display().to_string(),
            reason: "path is not valid UTF-8".into(),
        })?;
        let conn = self.conn_mut();
        conn.execute("ATTACH DATABASE ?1 AS src", [src_str])
            .map_err(|e| StoreError::Open {
                path: src.display().to_string(),
                reason: e.to_string(),
            })?;
        let result = merge(conn, src);
        let _ = conn.execute("DETACH DATABASE src", []);
        self.forget_cached_ids();
        result
    }
}

fn merge(conn: &mut rusqlite::Connection, src: &Path) -> Result<Merged> {
    let ours: i64 = conn
        .query_row("PRAGMA main.user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let theirs: i64 = conn
        .query_row("PRAGMA src.user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::Open {
            path: src.display().to_string(),
            reason: format!("not a flakehound store: {e}"),
        })?;
    if theirs != ours {
        return Err(StoreError::Open {
            path: src.display().to_string(),
            reason: format!(
                "schema version {theirs} differs from this store's {ours}; open it once with this \
                 flakehound to upgrade it"
            ),
        });
    }
    let tx = conn.transaction().map_err(backend)?;
    let mut merged = Merged::default();
    // Every project of the source, each into the same project here.
    let reports: Vec<(i64, String, i64, String)> = {
        let mut st = tx
            .prepare("SELECT id, hash, run_id, project FROM src.reports ORDER BY id")
            .map_err(backend)?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?
    };
    let mut runs: HashMap<i64, (i64, bool)> = HashMap::new();
    let mut tests: HashMap<i64, i64> = HashMap::new();
    // (run, test) → last attempt here, for runs that existed before the merge.
    let mut last_attempt: HashMap<(i64, i64), i64> = HashMap::new();
    for (src_report, hash, src_run, project) in reports {
        let present: bool = tx
            .query_row(
                "SELECT 1 FROM main.reports WHERE project = ?1 AND hash = ?2",
                [&project, &hash],
                |_| Ok(true),
            )
            .optional()
            .map_err(backend)?
            .unwrap_or(false);
        if present {
            merged.skipped += 1;
            continue;
        }
        let (run, run_is_new) = match runs.get(&src_run) {
            Some(&r) => r,
            None => {
                let key: String = tx
                    .query_row("SELECT key FROM src.runs WHERE id = ?1", [src_run], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                let existing: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM main.runs WHERE project = ?1 AND key = ?2",
                        [&project, &key],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                let r = match existing {
                    Some(id) => (id, false),
                    None => {
                        tx.execute(
                            "INSERT INTO main.runs (key, source, commit_sha, branch, provider, job,
                                 ci_run_id, run_attempt, runner, os, started_at, duration, url,
                                 pull_request, next_position, created_at, tests_executed, project)
                             SELECT key, source, commit_sha, branch, provider, job, ci_run_id,
                                 run_attempt, runner, os, started_at, duration, url, pull_request,
                                 0, created_at, 0, project
                             FROM src.runs WHERE id = ?1",
                            [src_run],
                        )
                        .map_err(backend)?;
                        merged.runs += 1;
                        (tx.last_insert_rowid(), true)
                    }
                };
                runs.insert(src_run, r);
                r
            }
        };
        tx.execute(
            "INSERT INTO main.reports (run_id, hash, path, format, tool, timestamp, hostname,
                 duration, properties, records, results, agg_tests, agg_passed, agg_failed,
                 agg_errored, agg_skipped, ingested_at, project)
             SELECT ?2, hash, path, format, tool, timestamp, hostname, duration, properties,
                 records, results, agg_tests, agg_passed, agg_failed, agg_errored, agg_skipped,
                 ingested_at, project
             FROM src.reports WHERE id = ?1",
            params![src_report, run],
        )
        .map_err(backend)?;
        let report = tx.last_insert_rowid();
        let offset: i64 = tx
            .query_row(
                "SELECT next_position FROM main.runs WHERE id = ?1",
                [run],
                |r| r.get(0),
            )
            .map_err(backend)?;
        let rows: Vec<ResultRow> = {
            let mut st = tx
                .prepare(
                    "SELECT test_id, attempt, position, outcome, duration, timestamp, output_id
                     FROM src.results WHERE report_id = ?1 ORDER BY position, attempt",
                )
                .map_err(backend)?;
            st.query_map([src_report], |r| {
                Ok(ResultRow {
                    test: r.get(0)?,
                    attempt: r.get(1)?,
                    position: r.get(2)?,
                    outcome: r.get(3)?,
                    duration: r.get(4)?,
                    timestamp: r.get(5)?,
                    output: r.get(6)?,
                })
            })
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?
        };
        let first = rows.iter().map(|r| r.position).min().unwrap_or(0);
        let mut end = offset;
        let mut executed = std::collections::HashSet::new();
        for row in rows {
            let test = match tests.get(&row.test) {
                Some(&t) => t,
                None => {
                    let key: String = tx
                        .query_row("SELECT key FROM src.tests WHERE id = ?1", [row.test], |r| {
                            r.get(0)
                        })
                        .map_err(backend)?;
                    let existing: Option<i64> = tx
                        .query_row("SELECT id FROM main.tests WHERE key = ?1", [&key], |r| {
                            r.get(0)
                        })
                        .optional()
                        .map_err(backend)?;
                    let t = match existing {
                        Some(t) => t,
                        None => {
                            tx.execute(
                                "INSERT INTO main.tests (key, classname, name, file, line)
                                 SELECT key, classname, name, file, line FROM src.tests WHERE id = ?1",
                                [row.test],
                            )
                            .map_err(backend)?;
                            tx.last_insert_rowid()
                        }
                    };
                    tests.insert(row.test, t);
                    t
                }
            };
            let attempt = if run_is_new {
                row.attempt
            } else {
                let base = match last_attempt.get(&(run, test)) {
                    Some(&a) => a,
                    None => {
                        let a: i64 = tx
                            .query_row(
                                "SELECT COALESCE(MAX(attempt), 0) FROM main.results
                                 WHERE run_id = ?1 AND test_id = ?2",
                                [run, test],
                                |r| r.get(0),
                            )
                            .map_err(backend)?;
                        last_attempt.insert((run, test), a);
                        a
                    }
                };
                base + row.attempt
            };
            let output = match row.output {
                None => None,
                Some(o) => {
                    tx.execute(
                        "INSERT INTO main.outputs (failure_kind, message, details, stdout, stderr, properties)
                         SELECT failure_kind, message, details, stdout, stderr, properties
                         FROM src.outputs WHERE id = ?1",
                        [o],
                    )
                    .map_err(backend)?;
                    Some(tx.last_insert_rowid())
                }
            };
            let position = offset + (row.position - first);
            end = end.max(position + 1);
            if row.outcome >= 1 {
                executed.insert(test);
            }
            tx.execute(
                "INSERT INTO main.results (test_id, run_id, attempt, report_id, position, outcome,
                     duration, timestamp, output_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    test,
                    run,
                    attempt,
                    report,
                    position,
                    row.outcome,
                    row.duration,
                    row.timestamp,
                    output
                ],
            )
            .map_err(backend)?;
            merged.results += 1;
        }
        if !run_is_new {
            // Later reports of this run continue after these attempts.
            for t in &executed {
                last_attempt.remove(&(run, *t));
            }
        }
        tx.execute(
            "UPDATE main.runs SET next_position = ?2, tests_executed = tests_executed + ?3
             WHERE id = ?1",
            params![run, end, executed.len() as i64],
        )
        .map_err(backend)?;
        merged.reports += 1;
    }
    tx.commit().map_err(backend)?;
    Ok(merged)
}

struct ResultRow {
    test: i64,
    attempt: i64,
    position: i64,
    outcome: i64,
    duration: Option<f64>,
    timestamp: Option<String>,
    output: Option<i64>,
}
