//! Reading reports back for `merge` ([`flakehound_store::Store::export`]).

use crate::store::{SqliteStore, backend};
use flakehound_model::{
    Attempt, Counts, Failure, Format, Outcome, ReportInfo, RunMeta, RunSource, TestCase,
};
use flakehound_store::{Result, RunKey, Store, StoredReport, properties_from_json};

pub(crate) fn export(
    store: &mut SqliteStore,
    each: &mut dyn FnMut(StoredReport) -> Result<()>,
) -> Result<()> {
    store.flush()?;
    let project = store.project().to_string();
    let conn = store.conn_mut();
    // Headers first (one row per report), so that no statement is open while `each` runs.
    let headers: Vec<(i64, i64, StoredReport)> = {
        let mut stmt = conn
            .prepare(
                "SELECT rp.id, rp.run_id, rp.hash, rp.path, rp.format, rp.tool, rp.timestamp,
                        rp.hostname, rp.duration, rp.properties, rp.agg_tests, rp.agg_passed,
                        rp.agg_failed, rp.agg_errored, rp.agg_skipped,
                        ru.key, ru.source, ru.commit_sha, ru.branch, ru.provider, ru.job,
                        ru.ci_run_id, ru.run_attempt, ru.runner, ru.os,
                        COALESCE(ru.started_at, ru.created_at), ru.duration, ru.url,
                        ru.pull_request
                 FROM reports rp JOIN runs ru ON ru.id = rp.run_id
                 WHERE rp.project = ?1 ORDER BY rp.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([&project], |r| {
                let format = Format::parse(&r.get::<_, String>(4)?);
                let count = |i: usize| -> rusqlite::Result<u64> {
                    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
                };
                let aggregate = match r.get::<_, Option<i64>>(10)? {
                    None => None,
                    Some(tests) => Some(Counts {
                        tests: tests.max(0) as u64,
                        passed: count(11)?,
                        failed: count(12)?,
                        errored: count(13)?,
                        skipped: count(14)?,
                    }),
                };
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    StoredReport {
                        hash: r.get(2)?,
                        path: r.get(3)?,
                        format,
                        run_key: RunKey(r.get(15)?),
                        source: RunSource::parse(&r.get::<_, String>(16)?),
                        run: RunMeta {
                            commit: r.get(17)?,
                            branch: r.get(18)?,
                            provider: r.get(19)?,
                            job: r.get(20)?,
                            run_id: r.get(21)?,
                            run_attempt: r
                                .get::<_, Option<i64>>(22)?
                                .and_then(|a| u32::try_from(a).ok()),
                            runner: r.get(23)?,
                            os: r.get(24)?,
                            started_at: r.get(25)?,
                            duration: r.get(26)?,
                            url: r.get(27)?,
                            pull_request: r.get(28)?,
                        },
                        info: ReportInfo {
                            format,
                            tool: r.get(5)?,
                            timestamp: r.get(6)?,
                            hostname: r.get(7)?,
                            duration: r.get(8)?,
                            properties: properties_from_json(
                                r.get::<_, Option<String>>(9)?.as_deref(),
                            ),
                            aggregate,
                        },
                        cases: Vec::new(),
                    },
                ))
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)?
    };
    for (id, run, mut report) in headers {
        {
            // By run first: the results' primary key (run_id, test_id, attempt).
            let mut stmt = conn
                .prepare_cached(
                    "SELECT t.key, t.classname, t.name, t.file, t.line, r.outcome, r.duration,
                            r.timestamp, o.failure_kind, o.message, o.details, o.stdout,
                            o.stderr, o.properties
                     FROM results r JOIN tests t ON t.id = r.test_id
                     LEFT JOIN outputs o ON o.id = r.output_id
                     WHERE r.run_id = ?1 AND r.report_id = ?2 ORDER BY r.position",
                )
                .map_err(backend)?;
            let mut rows = stmt.query([run, id]).map_err(backend)?;
            while let Some(r) = rows.next().map_err(backend)? {
                let get_s = |i: usize| r.get::<_, Option<String>>(i).map_err(backend);
                let key: String = r.get(0).map_err(backend)?;
                let props = get_s(13)?;
                let failure = Failure {
                    kind: get_s(8)?,
                    message: get_s(9)?,
                    details: get_s(10)?,
                };
                let outcome = Outcome::from_severity(
                    r.get::<_, i64>(5).map_err(backend)?.clamp(0, 255) as u8,
                );
                let attempt = Attempt {
                    outcome,
                    duration: r.get(6).map_err(backend)?,
                    failure: (!failure.is_empty()).then_some(failure),
                    stdout: get_s(11)?,
                    stderr: get_s(12)?,
                };
                // Consecutive attempts of one test are one record, unless an attempt carries
                // properties (only a record's first attempt does).
                match report.cases.last_mut() {
                    Some(c) if c.id == key && props.is_none() => {
                        c.outcome = c.outcome.worst(outcome);
                        c.attempts.push(attempt);
                    }
                    _ => report.cases.push(TestCase {
                        id: key,
                        classname: get_s(1)?,
                        name: r.get(2).map_err(backend)?,
                        file: get_s(3)?,
                        line: r
                            .get::<_, Option<i64>>(4)
                            .map_err(backend)?
                            .and_then(|l| u32::try_from(l).ok()),
                        suite: Vec::new(),
                        outcome,
                        attempts: vec![attempt],
                        properties: properties_from_json(props.as_deref()),
                        timestamp: get_s(7)?,
                    }),
                }
            }
        }
        each(report)?;
    }
    Ok(())
}
