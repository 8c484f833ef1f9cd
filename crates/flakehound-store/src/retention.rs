//! Retention: a project's raw results older than N days are dropped, and what the counting
//! needs is kept as per-test, per-commit aggregates ([`HistoryRow`]), so that `report` still
//! counts the pruned runs.
//!
//! # What is kept
//! - For every (test, commit) of the pruned runs: runs, passes, failures, skips, failed runs,
//!   passes on retry, runs whose verdict (last executed attempt) passed and failed, the newest
//!   run's start and the newest failure message. These are exactly the quantities
//!   [`crate::TestStats`] sums, so [`add_history`] gives the same stats as before the prune:
//!   runs are pruned **by commit** (a commit's runs go together, when its newest run is older
//!   than the cutoff and none of its runs is pinned), so a commit is counted either from raw
//!   results or from history, never from both, and "flaky commits" stays exact.
//! - The content hashes of the pruned reports, so that uploading one of them again is still a
//!   duplicate (it would otherwise be counted twice, once raw and once in history).
//! - Tests, notes, tokens, the quarantine and everything else of the project.
//!
//! # What goes
//! The results of the pruned runs with their failure texts and captured output, their report
//! rows and run rows. The verdict engine reads raw evidence only: the verdict of a test whose
//! history lies in the window is the same as before the prune; a test with older history is
//! judged on the window, with its counts (runs, failures, retry passes, flaky commits) still
//! whole. One approximation: a test's "last failure" message is the newest raw one when the
//! window has any (before the prune it was the one of the most recently *stored* run, which
//! may be an old run stored late).
//!
//! A pinned run ([`crate::Store::pin_run`]) is never pruned, nor the other runs of its commit.

use crate::TestStats;
use std::collections::HashMap;

/// The aggregates of one test on one commit, over pruned runs (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRow {
    pub test: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    /// `None`: runs without a commit.
    pub commit: Option<String>,
    pub runs: u64,
    pub passes: u64,
    pub failures: u64,
    pub skips: u64,
    pub failed_runs: u64,
    pub retry_passes: u64,
    /// Runs whose last executed attempt passed / failed.
    pub runs_passed: u64,
    pub runs_failed: u64,
    pub last_seen: Option<String>,
    pub last_failure: Option<String>,
}

/// What a prune removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub runs: u64,
    pub reports: u64,
    pub results: u64,
    /// (test, commit) aggregate rows written or added to.
    pub history_rows: u64,
}

/// One stored attempt of a run being pruned.
#[derive(Clone, Debug)]
pub struct PruneRow {
    pub test_id: i64,
    pub attempt: u32,
    /// 0 skipped, 1 passed, 2 failed, 3 errored (the engines' encoding).
    pub outcome: u8,
    pub message: Option<String>,
}

/// The aggregate an engine writes for one (test id, commit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub runs: u64,
    pub passes: u64,
    pub failures: u64,
    pub skips: u64,
    pub failed_runs: u64,
    pub retry_passes: u64,
    pub runs_passed: u64,
    pub runs_failed: u64,
    pub last_seen: Option<String>,
    pub last_failure: Option<String>,
}

/// Folds runs into per-(test id, commit) aggregates with the meaning of the engines'
/// `test_stats` queries. Feed runs oldest stored first (by run id): the newest failure message
/// wins.
#[derive(Debug, Default)]
pub struct Aggregator {
    pub rows: HashMap<(i64, Option<String>), Aggregate>,
}

impl Aggregator {
    /// Adds one run's attempts (any order).
    pub fn add_run(&mut self, commit: Option<&str>, started_at: &str, attempts: &[PruneRow]) {
        #[derive(Default)]
        struct PerTest {
            p: u64,
            f: u64,
            s: u64,
            last_pass: Option<u32>,
            first_fail: Option<u32>,
            last_exec: Option<u32>,
            /// (attempt, message) of the latest failure with a message.
            message: Option<(u32, String)>,
        }
        let mut per: HashMap<i64, PerTest> = HashMap::new();
        for a in attempts {
            let t = per.entry(a.test_id).or_default();
            match a.outcome {
                0 => t.s += 1,
                1 => {
                    t.p += 1;
                    t.last_pass = t.last_pass.max(Some(a.attempt));
                }
                _ => {
                    t.f += 1;
                    t.first_fail = Some(t.first_fail.map_or(a.attempt, |f| f.min(a.attempt)));
                    if let Some(m) = &a.message {
                        if t.message.as_ref().is_none_or(|(at, _)| *at < a.attempt) {
                            t.message = Some((a.attempt, m.clone()));
                        }
                    }
                }
            }
            if a.outcome >= 1 {
                t.last_exec = t.last_exec.max(Some(a.attempt));
            }
        }
        for (test, t) in per {
            let agg = self
                .rows
                .entry((test, commit.map(str::to_string)))
                .or_default();
            let executed = t.p + t.f > 0;
            agg.runs += u64::from(executed);
            agg.passes += t.p;
            agg.failures += t.f;
            agg.skips += t.s;
            agg.failed_runs += u64::from(t.f > 0);
            if let (Some(p), Some(f)) = (t.last_pass, t.first_fail) {
                agg.retry_passes += u64::from(p > f);
            }
            if executed && agg.last_seen.as_deref().is_none_or(|s| s < started_at) {
                agg.last_seen = Some(started_at.to_string());
            }
            if commit.is_some() {
                if let Some(last) = t.last_exec {
                    if t.last_pass == Some(last) {
                        agg.runs_passed += 1;
                    } else {
                        agg.runs_failed += 1;
                    }
                }
            }
            if let Some((_, m)) = t.message {
                agg.last_failure = Some(m);
            }
        }
    }
}

/// Adds pruned history to stats read from raw results: sums, commits and flaky commits from
/// the history's commits, the newest last-seen, and the history's newest failure message when
/// the raw results have none. Tests known only from history are added.
pub fn add_history(stats: &mut Vec<TestStats>, history: Vec<HistoryRow>) {
    if history.is_empty() {
        return;
    }
    let mut index: HashMap<String, usize> = stats
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    // The newest message per test among its history rows (by the row's last_seen).
    let mut newest_failure: HashMap<String, (Option<String>, String)> = HashMap::new();
    for h in history {
        let i = *index.entry(h.test.clone()).or_insert_with(|| {
            stats.push(TestStats {
                id: h.test.clone(),
                classname: h.classname.clone(),
                name: h.name.clone(),
                file: h.file.clone(),
                ..TestStats::default()
            });
            stats.len() - 1
        });
        let s = &mut stats[i];
        s.runs += h.runs;
        s.passes += h.passes;
        s.failures += h.failures;
        s.skips += h.skips;
        s.failed_runs += h.failed_runs;
        s.retry_passes += h.retry_passes;
        if h.commit.is_some() && h.runs_passed + h.runs_failed > 0 {
            s.commits += 1;
            s.flaky_commits += u64::from(h.runs_passed > 0 && h.runs_failed > 0);
        }
        if let Some(seen) = &h.last_seen {
            if s.last_seen.as_deref().is_none_or(|l| l < seen.as_str()) {
                s.last_seen = Some(seen.clone());
            }
        }
        if let Some(m) = h.last_failure {
            let e = newest_failure.entry(h.test).or_default();
            if e.0.is_none() || e.1 < h.last_seen.clone().unwrap_or_default() {
                *e = (Some(m), h.last_seen.unwrap_or_default());
            }
        }
    }
    for (test, (m, _)) in newest_failure {
        let s = &mut stats[index[&test]];
        if s.last_failure.is_none() {
            s.last_failure = m;
        }
    }
}

/// The cutoff of a retention of `days` days at `now`: runs started before it are pruned.
pub fn cutoff(now: jiff::Timestamp, days: u32) -> String {
    let t = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days)))
        .unwrap_or(now);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test_id: i64, attempt: u32, outcome: u8, message: Option<&str>) -> PruneRow {
        PruneRow {
            test_id,
            attempt,
            outcome,
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn a_pass_on_retry_counts_as_in_test_stats() {
        let mut a = Aggregator::default();
        a.add_run(
            Some("c1"),
            "2024-01-01T00:00:00Z",
            &[
                row(1, 1, 2, Some("boom")),
                row(1, 2, 1, None),
                row(2, 1, 0, None),
            ],
        );
        a.add_run(Some("c1"), "2024-01-02T00:00:00Z", &[row(1, 1, 3, None)]);
        let t1 = &a.rows[&(1, Some("c1".to_string()))];
        assert_eq!(
            (
                t1.runs,
                t1.passes,
                t1.failures,
                t1.failed_runs,
                t1.retry_passes
            ),
            (2, 1, 2, 2, 1)
        );
        assert_eq!((t1.runs_passed, t1.runs_failed), (1, 1));
        assert_eq!(t1.last_seen.as_deref(), Some("2024-01-02T00:00:00Z"));
        assert_eq!(t1.last_failure.as_deref(), Some("boom"));
        let t2 = &a.rows[&(2, Some("c1".to_string()))];
        assert_eq!((t2.runs, t2.skips, t2.last_seen.clone()), (0, 1, None));
    }

    #[test]
    fn history_adds_to_stats_and_counts_flaky_commits() {
        let mut stats = vec![TestStats {
            id: "a".into(),
            name: "a".into(),
            runs: 2,
            passes: 2,
            commits: 1,
            last_seen: Some("2024-02-01T00:00:00Z".into()),
            ..TestStats::default()
        }];
        let h = |test: &str, commit: Option<&str>, passed: u64, failed: u64| HistoryRow {
            test: test.into(),
            name: test.into(),
            commit: commit.map(str::to_string),
            runs: passed + failed,
            passes: passed,
            failures: failed,
            failed_runs: failed,
            runs_passed: passed,
            runs_failed: failed,
            last_seen: Some("2024-01-01T00:00:00Z".into()),
            last_failure: (failed > 0).then(|| "old".to_string()),
            ..HistoryRow::default()
        };
        add_history(
            &mut stats,
            vec![
                h("a", Some("c0"), 1, 1),
                h("a", None, 1, 0),
                h("b", Some("c0"), 0, 1),
            ],
        );
        let a = &stats[0];
        assert_eq!((a.runs, a.passes, a.failures), (5, 4, 1));
        assert_eq!((a.commits, a.flaky_commits), (2, 1));
        assert_eq!(a.last_seen.as_deref(), Some("2024-02-01T00:00:00Z"));
        assert_eq!(a.last_failure.as_deref(), Some("old"));
        assert_eq!(stats[1].id, "b");
        assert_eq!((stats[1].commits, stats[1].flaky_commits), (1, 0));
    }
}
