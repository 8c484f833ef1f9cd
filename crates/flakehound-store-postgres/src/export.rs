//! Reading reports back for `merge` ([`flakehound_store::Store::export`]).

use crate::store::{PostgresStore, backend};
use flakehound_model::{
    Attempt, Counts, Failure, Format, Outcome, ReportInfo, RunMeta, RunSource, TestCase,
};
use flakehound_store::{Result, RunKey, StoredReport};

/// One report's header: its row id, run id and everything but its records.
struct Header {
    id: i64,
    run: i64,
    report: StoredReport,
}

pub(crate) fn export(
    store: &mut PostgresStore,
    each: &mut dyn FnMut(StoredReport) -> Result<()>,
) -> Result<()> {
    // Headers first (one row per report): the connection is then free for each report's rows
    // while `each` runs.
    let rows = store
        .client
        .get()?
        .query(
            "SELECT rp.id, rp.run_id, rp.hash, rp.path, rp.format, rp.tool, rp.timestamp,
                    rp.hostname, rp.duration, rp.properties, rp.agg_tests, rp.agg_passed,
                    rp.agg_failed, rp.agg_errored, rp.agg_skipped,
                    ru.key, ru.source, ru.commit_sha, ru.branch, ru.provider, ru.job,
                    ru.ci_run_id, ru.run_attempt, ru.runner, ru.os,
                    COALESCE(ru.started_at, ru.created_at), ru.duration, ru.url, ru.pull_request
             FROM reports rp JOIN runs ru ON ru.id = rp.run_id
             WHERE rp.project = $1 ORDER BY rp.id",
            &[&store.project],
        )
        .map_err(backend)?;
    let headers: Vec<Header> = rows
        .iter()
        .map(|r| {
            let agg = r.get::<_, Option<i64>>(10).map(|tests| {
                let g = |i: usize| r.get::<_, Option<i64>>(i).unwrap_or(0).max(0) as u64;
                Counts {
                    tests: tests.max(0) as u64,
                    passed: g(11),
                    failed: g(12),
                    errored: g(13),
                    skipped: g(14),
                }
            });
            Header {
                id: r.get(0),
                run: r.get(1),
                report: StoredReport {
                    hash: r.get(2),
                    path: r.get(3),
                    format: Format::parse(r.get(4)),
                    run_key: RunKey(r.get(15)),
                    source: RunSource::parse(r.get(16)),
                    run: RunMeta {
                        commit: r.get(17),
                        branch: r.get(18),
                        provider: r.get(19),
                        job: r.get(20),
                        run_id: r.get(21),
                        run_attempt: r.get::<_, Option<i32>>(22).map(|a| a.max(0) as u32),
                        runner: r.get(23),
                        os: r.get(24),
                        started_at: r.get(25),
                        duration: r.get(26),
                        url: r.get(27),
                        pull_request: r.get(28),
                    },
                    info: ReportInfo {
                        format: Format::parse(r.get(4)),
                        tool: r.get(5),
                        timestamp: r.get(6),
                        hostname: r.get(7),
                        duration: r.get(8),
                        properties: flakehound_store::properties_from_json(r.get(9)),
                        aggregate: agg,
                    },
                    cases: Vec::new(),
                },
            }
        })
        .collect();
    drop(rows);
    let stmt = store
        .client
        .get()?
        .prepare(
            "SELECT t.key, t.classname, t.name, t.file, t.line, r.outcome, r.duration,
                    r.timestamp, r.failure_kind, r.message, r.details, r.stdout, r.stderr,
                    r.properties
             FROM results r JOIN tests t ON t.id = r.test_id
             WHERE r.run_id = $1 AND r.report_id = $2 ORDER BY r.position",
        )
        .map_err(backend)?;
    for h in headers {
        let mut report = h.report;
        let rows = store
            .client
            .get()?
            .query(&stmt, &[&h.run, &h.id])
            .map_err(backend)?;
        for r in &rows {
            let key: &str = r.get(0);
            let props: Option<&str> = r.get(13);
            let failure = Failure {
                kind: r.get(8),
                message: r.get(9),
                details: r.get(10),
            };
            let attempt = Attempt {
                outcome: Outcome::from_severity(r.get::<_, i16>(5).clamp(0, 255) as u8),
                duration: r.get(6),
                failure: (!failure.is_empty()).then_some(failure),
                stdout: r.get(11),
                stderr: r.get(12),
            };
            // Consecutive attempts of one test are one record, unless an attempt carries
            // properties (only a record's first attempt does).
            match report.cases.last_mut() {
                Some(c) if c.id == key && props.is_none() => {
                    c.outcome = c.outcome.worst(attempt.outcome);
                    c.attempts.push(attempt);
                }
                _ => report.cases.push(TestCase {
                    id: key.to_string(),
                    classname: r.get(1),
                    name: r.get(2),
                    file: r.get(3),
                    line: r.get::<_, Option<i32>>(4).map(|l| l.max(0) as u32),
                    suite: Vec::new(),
                    outcome: attempt.outcome,
                    attempts: vec![attempt],
                    properties: flakehound_store::properties_from_json(props),
                    timestamp: r.get(7),
                }),
            }
        }
        drop(rows);
        each(report)?;
    }
    Ok(())
}
