//! Job-level flakiness and what flakiness costs, from imported jobs (and the evidence of the
//! reports imported with them).
//!
//! - A job is flaky on a commit when one of its executions on that commit failed and a later
//!   execution of the same job (a re-run attempt, or another run of the same workflow) passed.
//!   Each such failed execution is a **re-run lost** to flakiness, and its duration is the **CI
//!   time lost**.
//! - Tests: the time and re-runs lost to a flaky job execution are shared among the tests that
//!   failed in the reports of that execution's run attempt, so tests rank by what they cost.
//! - Per week: over the span of the imported jobs (at least one week).

use flakehound_model::Outcome;
use flakehound_store::{CiJob, Evidence};
use std::collections::{BTreeMap, HashMap};

/// A job that failed then passed on the same commit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FlakyJob {
    pub provider: String,
    pub workflow: Option<String>,
    pub name: String,
    /// Executions of the job.
    pub executions: u64,
    /// Commits on which it failed then passed.
    pub flaky_commits: u64,
    /// Failed executions followed by a pass on the same commit.
    pub reruns: u64,
    pub minutes_lost: f64,
    /// Newest flaky failure (RFC 3339).
    pub last_seen: Option<String>,
}

/// What a test's failures cost in re-runs of flaky jobs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TestCost {
    pub test: String,
    pub reruns: f64,
    pub minutes_lost: f64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Totals {
    /// Jobs imported.
    pub jobs: u64,
    /// Span of the imported history, in weeks (at least 1).
    pub weeks: f64,
    pub reruns: u64,
    pub minutes_lost: f64,
    pub reruns_per_week: f64,
    pub minutes_lost_per_week: f64,
    /// CI minutes of every imported job.
    pub minutes_total: f64,
}

/// The job-level report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct JobsReport {
    /// Ranked by minutes lost, then re-runs.
    pub flaky_jobs: Vec<FlakyJob>,
    /// Tests whose failures made flaky jobs fail, ranked by minutes lost.
    pub tests: Vec<TestCost>,
    pub totals: Totals,
}

fn ts(s: &Option<String>) -> Option<jiff::Timestamp> {
    s.as_deref()?.parse().ok()
}

/// The job-level report of `jobs`; `evidence` (failing evidence is enough) attributes lost time
/// to tests.
pub fn jobs_report(jobs: &[CiJob], evidence: Option<&Evidence>) -> JobsReport {
    let mut report = JobsReport::default();
    if jobs.is_empty() {
        return report;
    }
    // (provider, workflow, name, commit) → executions in order.
    let mut groups: BTreeMap<(&str, Option<&str>, &str, &str), Vec<&CiJob>> = BTreeMap::new();
    let mut executions: HashMap<(&str, Option<&str>, &str), u64> = HashMap::new();
    let (mut first, mut last): (Option<jiff::Timestamp>, Option<jiff::Timestamp>) = (None, None);
    for j in jobs {
        report.totals.minutes_total += j.duration_secs.unwrap_or(0.0) / 60.0;
        if let Some(t) = ts(&j.started_at).or_else(|| ts(&j.completed_at)) {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
        }
        *executions
            .entry((&j.provider, j.workflow.as_deref(), &j.name))
            .or_default() += 1;
        if let Some(c) = j.commit.as_deref() {
            groups
                .entry((&j.provider, j.workflow.as_deref(), &j.name, c))
                .or_default()
                .push(j);
        }
    }
    report.totals.jobs = jobs.len() as u64;
    let mut flaky: BTreeMap<(&str, Option<&str>, &str), FlakyJob> = BTreeMap::new();
    // (provider, run id, attempt) of each lost execution → (minutes, re-runs).
    let mut lost: HashMap<(String, String, u32), (f64, f64)> = HashMap::new();
    for ((provider, workflow, name, _), mut execs) in groups {
        execs.sort_by(|a, b| {
            (ts(&a.started_at), a.run_id.parse::<u64>().ok(), a.attempt).cmp(&(
                ts(&b.started_at),
                b.run_id.parse::<u64>().ok(),
                b.attempt,
            ))
        });
        let Some(last_pass) = execs.iter().rposition(|j| j.passed()) else {
            continue;
        };
        let lost_here: Vec<&CiJob> = execs[..last_pass]
            .iter()
            .copied()
            .filter(|j| j.failed())
            .collect();
        if lost_here.is_empty() {
            continue;
        }
        let entry = flaky
            .entry((provider, workflow, name))
            .or_insert_with(|| FlakyJob {
                provider: provider.to_string(),
                workflow: workflow.map(str::to_string),
                name: name.to_string(),
                executions: executions[&(provider, workflow, name)],
                flaky_commits: 0,
                reruns: 0,
                minutes_lost: 0.0,
                last_seen: None,
            });
        entry.flaky_commits += 1;
        for j in lost_here {
            let minutes = j.duration_secs.unwrap_or(0.0) / 60.0;
            entry.reruns += 1;
            entry.minutes_lost += minutes;
            if j.started_at > entry.last_seen {
                entry.last_seen = j.started_at.clone();
            }
            let e = lost
                .entry((j.provider.clone(), j.run_id.clone(), j.attempt))
                .or_default();
            e.0 += minutes;
            e.1 += 1.0;
        }
    }
    let mut flaky_jobs: Vec<FlakyJob> = flaky.into_values().collect();
    flaky_jobs.sort_by(|a, b| {
        b.minutes_lost
            .total_cmp(&a.minutes_lost)
            .then(b.reruns.cmp(&a.reruns))
            .then(a.name.cmp(&b.name))
    });
    let t = &mut report.totals;
    t.reruns = flaky_jobs.iter().map(|j| j.reruns).sum();
    t.minutes_lost = flaky_jobs.iter().map(|j| j.minutes_lost).sum();
    t.weeks = match (first, last) {
        (Some(a), Some(b)) => ((b.as_second() - a.as_second()) as f64 / (7.0 * 86_400.0)).max(1.0),
        _ => 1.0,
    };
    t.reruns_per_week = t.reruns as f64 / t.weeks;
    t.minutes_lost_per_week = t.minutes_lost / t.weeks;
    report.flaky_jobs = flaky_jobs;
    if let Some(ev) = evidence {
        report.tests = test_costs(ev, &lost);
    }
    report
}

/// Shares each lost execution's cost among the tests that failed in its run attempt.
fn test_costs(ev: &Evidence, lost: &HashMap<(String, String, u32), (f64, f64)>) -> Vec<TestCost> {
    // Evidence run → lost execution, from the run key `provider/run id/attempt/job`.
    let mut failing: HashMap<(String, String, u32), std::collections::BTreeSet<u32>> =
        HashMap::new();
    let run_unit: Vec<Option<(String, String, u32)>> = ev
        .runs
        .iter()
        .map(|r| {
            let mut parts = r.key.splitn(4, '/');
            let provider = parts.next()?.to_string();
            let run = parts.next()?.to_string();
            let attempt: u32 = parts.next()?.parse().ok()?;
            let k = (provider, run, attempt);
            lost.contains_key(&k).then_some(k)
        })
        .collect();
    for r in &ev.results {
        if !matches!(r.outcome, Outcome::Failed | Outcome::Errored) {
            continue;
        }
        if let Some(Some(unit)) = run_unit.get(r.run as usize) {
            failing.entry(unit.clone()).or_default().insert(r.test);
        }
    }
    let mut per_test: HashMap<u32, (f64, f64)> = HashMap::new();
    for (unit, tests) in failing {
        let (minutes, reruns) = lost[&unit];
        let share = tests.len() as f64;
        for t in tests {
            let e = per_test.entry(t).or_default();
            e.0 += minutes / share;
            e.1 += reruns / share;
        }
    }
    let mut out: Vec<TestCost> = per_test
        .into_iter()
        .map(|(t, (minutes, reruns))| TestCost {
            test: ev.tests[t as usize].id.clone(),
            reruns,
            minutes_lost: minutes,
        })
        .collect();
    out.sort_by(|a, b| {
        b.minutes_lost
            .total_cmp(&a.minutes_lost)
            .then(a.test.cmp(&b.test))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(
        run: &str,
        attempt: u32,
        name: &str,
        commit: &str,
        conclusion: &str,
        start: &str,
    ) -> CiJob {
        CiJob {
            provider: "github-actions".into(),
            run_id: run.into(),
            attempt,
            job_id: format!("{run}-{attempt}-{name}"),
            name: name.into(),
            workflow: Some("CI".into()),
            commit: Some(commit.into()),
            conclusion: conclusion.into(),
            started_at: Some(start.into()),
            duration_secs: Some(600.0),
            ..CiJob::default()
        }
    }

    #[test]
    fn failed_then_passed_on_one_commit_is_flaky() {
        let jobs = [
            // Re-run attempt passes: flaky.
            job("1", 1, "test", "a", "failure", "2026-01-01T00:00:00Z"),
            job("1", 2, "test", "a", "success", "2026-01-01T01:00:00Z"),
            // Another run on the same commit passes: flaky.
            job("2", 1, "test", "b", "failure", "2026-01-08T00:00:00Z"),
            job("3", 1, "test", "b", "success", "2026-01-08T02:00:00Z"),
            // Fails and never passes: a real failure, not flaky.
            job("4", 1, "lint", "c", "failure", "2026-01-15T00:00:00Z"),
            job("4", 2, "lint", "c", "failure", "2026-01-15T01:00:00Z"),
            // Passes then fails: not a re-run lost to flakiness.
            job("5", 1, "build", "d", "success", "2026-01-15T00:00:00Z"),
            job("6", 1, "build", "d", "failure", "2026-01-15T03:00:00Z"),
        ];
        let r = jobs_report(&jobs, None);
        assert_eq!(r.flaky_jobs.len(), 1, "{r:?}");
        let f = &r.flaky_jobs[0];
        assert_eq!((f.name.as_str(), f.flaky_commits, f.reruns), ("test", 2, 2));
        assert_eq!(f.executions, 4);
        assert!((f.minutes_lost - 20.0).abs() < 1e-9);
        assert!((r.totals.weeks - 2.0).abs() < 0.05, "{:?}", r.totals);
        assert!((r.totals.minutes_lost_per_week - 10.0).abs() < 0.2);
        assert!((r.totals.minutes_total - 80.0).abs() < 1e-9);
    }

    proptest::proptest! {
        /// Whatever the history: what is lost is part of what was spent, re-runs are failed
        /// executions, and a job is flaky on no more commits than it failed on.
        #[test]
        fn losses_are_bounded_by_the_history(
            execs in proptest::collection::vec((0u8..4, 0u8..3, 0u8..5, proptest::bool::ANY, 1u32..3, 0u16..2000), 0..60)
        ) {
            let jobs: Vec<CiJob> = execs
                .iter()
                .enumerate()
                .map(|(i, &(commit, name, hour, ok, attempt, secs))| CiJob {
                    provider: "github-actions".into(),
                    run_id: (i / 2).to_string(),
                    attempt,
                    job_id: i.to_string(),
                    name: format!("job{name}"),
                    commit: Some(format!("c{commit}")),
                    conclusion: if ok { "success" } else { "failure" }.into(),
                    started_at: Some(format!("2026-01-0{}T{:02}:00:00Z", 1 + hour % 5, hour)),
                    duration_secs: Some(f64::from(secs)),
                    ..CiJob::default()
                })
                .collect();
            let r = jobs_report(&jobs, None);
            let failures = jobs.iter().filter(|j| j.failed()).count() as u64;
            proptest::prop_assert!(r.totals.minutes_lost <= r.totals.minutes_total + 1e-9);
            proptest::prop_assert!(r.totals.reruns <= failures);
            proptest::prop_assert!(jobs.is_empty() || r.totals.weeks >= 1.0);
            for f in &r.flaky_jobs {
                proptest::prop_assert!(f.flaky_commits <= f.reruns && f.reruns <= f.executions);
            }
        }
    }

    #[test]
    fn no_jobs_no_report() {
        assert_eq!(jobs_report(&[], None), JobsReport::default());
    }
}
