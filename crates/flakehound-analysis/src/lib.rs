//! Turns stored evidence into verdicts ([`verdict`]) and the report ([`report`]).
//!
//! Besides the verdict, each report entry carries an evidence score ([`Ranked`]): a test is
//! flaky when the same code both passed
//! and failed. The strongest evidence is a pass on retry within one run and a pass and a failure on
//! the same commit; a failure rate strictly between 0 and 1 across runs is weaker evidence (the
//! code may have changed between runs). The score combines them:
//!
//! `score = 3·retry_passes + 2·flaky_commits + intermittency`, where
//! `intermittency = failed_runs·(runs − failed_runs)/runs` is largest for a test that fails in
//! about half its runs and 0 for tests that always pass or always fail.
//!
//! `flaky_signals = retry_passes + flaky_commits`.

pub mod category;
pub mod changepoint;
pub mod fingerprint;
pub mod incidents;
pub mod stats;
pub mod verdict;

use flakehound_store::{Store, StoreError, TestStats};
use serde::Serialize;

/// A test's evidence with its flakiness score. Serialises flat: the stats' fields, then the
/// derived ones.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Ranked {
    #[serde(flatten)]
    pub stats: TestStats,
    /// Failed attempts / executed attempts.
    pub failure_rate: f64,
    pub flaky_signals: u64,
    pub score: f64,
}

impl std::ops::Deref for Ranked {
    type Target = TestStats;
    fn deref(&self) -> &TestStats {
        &self.stats
    }
}

impl Ranked {
    pub fn from_stats(s: TestStats) -> Ranked {
        let executed = s.passes + s.failures;
        let failure_rate = if executed == 0 {
            0.0
        } else {
            s.failures as f64 / executed as f64
        };
        let intermittency = if s.runs == 0 {
            0.0
        } else {
            (s.failed_runs * s.runs.saturating_sub(s.failed_runs)) as f64 / s.runs as f64
        };
        let score = 3.0 * s.retry_passes as f64 + 2.0 * s.flaky_commits as f64 + intermittency;
        Ranked {
            flaky_signals: s.retry_passes + s.flaky_commits,
            score,
            failure_rate,
            stats: s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stats(id: &str, runs: u64, failed_runs: u64, retry: u64, commits: u64) -> TestStats {
        TestStats {
            id: id.into(),
            name: id.into(),
            runs,
            passes: runs - failed_runs + retry,
            failures: failed_runs,
            failed_runs,
            retry_passes: retry,
            flaky_commits: commits,
            ..Default::default()
        }
    }

    #[test]
    fn flaky_evidence_scores_above_plain_failures() {
        let score = |st: TestStats| Ranked::from_stats(st).score;
        let flaky = Ranked::from_stats(stats("flaky", 10, 2, 2, 1));
        assert_eq!(flaky.flaky_signals, 3);
        assert!(flaky.score > score(stats("once", 10, 1, 0, 0)));
        assert!(score(stats("once", 10, 1, 0, 0)) > score(stats("broken", 10, 10, 0, 0)));
        assert_eq!(score(stats("broken", 10, 10, 0, 0)), 0.0);
    }

    proptest! {
        #[test]
        fn rates_and_scores_are_sane(runs in 0u64..1000, failed in 0u64..1000, retry in 0u64..100, commits in 0u64..100) {
            let failed = failed.min(runs);
            let r = Ranked::from_stats(stats("t", runs, failed, retry.min(failed), commits));
            prop_assert!((0.0..=1.0).contains(&r.failure_rate));
            prop_assert!(r.score.is_finite() && r.score >= 0.0);
        }
    }
}

/// One line of `flakehound report`: the evidence ranking fields, then the verdict.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ReportEntry {
    #[serde(flatten)]
    pub ranked: Ranked,
    pub verdict: verdict::Verdict,
    pub intermittent: bool,
    pub confidence: f64,
    pub category: Option<category::Category>,
    /// Conditions that make a flaky test fail more often (runner, OS, hour, order, ...): the
    /// category names the mechanism, these contribute ([`verdict::Factor`]).
    pub factors: Vec<verdict::Factor>,
    pub culprit_commit: Option<String>,
    pub culprit: Option<verdict::Culprit>,
    pub reasons: Vec<String>,
    pub recommendation: String,
    pub flip_rate: f64,
    /// Failure rate weighting recent runs more (see [`verdict::HALF_LIFE_DAYS`]).
    pub recent_failure_rate: f64,
    pub impact: verdict::Impact,
    /// Runs of local experiments (hunt, diagnose, ...): evidence, not cost.
    pub experiments: verdict::Experiments,
    /// Root-cause notes and stored diagnoses of the test, oldest first.
    pub notes: Vec<flakehound_store::Note>,
    /// Owners (CODEOWNERS or git blame), filled in by callers that know the repository.
    pub owners: Vec<String>,
}

impl ReportEntry {
    /// Runs that failed the test (first attempt), outside incidents.
    pub fn failed_runs(&self) -> u64 {
        self.ranked.failed_runs
    }
}

/// The report from a store. Without `include_stable` it reads only the tests that ever failed
/// ([`Store::failing_evidence`]) and fetches run orders on demand, so its cost follows the
/// failures, not the size of the store; with it, every result is read.
pub fn report_from_store(
    store: &mut dyn Store,
    include_stable: bool,
) -> Result<Report, StoreError> {
    if !include_stable {
        return Ok(report_and_evidence(store)?.0);
    }
    let stats = store.test_stats()?;
    let ev = store.evidence()?;
    let mut report = join(stats, verdict::analyse(&ev), true);
    attach_notes(&mut report.entries, store.notes(None)?);
    Ok(report)
}

/// [`report_from_store`] without stable tests, with the evidence it read (the tests that ever
/// failed, every run): what the dashboard keeps in memory to draw its pages from.
pub fn report_and_evidence(
    store: &mut dyn Store,
) -> Result<(Report, flakehound_store::Evidence), StoreError> {
    let ev = store.failing_evidence()?;
    let mut stats = stats_from_evidence(&ev);
    // Runs pruned by retention still count (see flakehound_store::retention).
    flakehound_store::add_history(&mut stats, store.history()?);
    let keys: Vec<String> = ev.runs.iter().map(|r| r.key.clone()).collect();
    let mut fetch = |run: usize| store.run_order(&keys[run]).unwrap_or_default();
    let analysis = verdict::analyse_with(&ev, &mut fetch);
    let mut report = join(stats, analysis, false);
    attach_notes(&mut report.entries, store.notes(None)?);
    Ok((report, ev))
}

/// Gives each entry its notes. The newest note naming a category (a `flakehound diagnose`
/// experiment, or a person's `flakehound note --category`) is the entry's category: evidence
/// from an experiment or a person beats a guess from message shapes. A flaky test's
/// recommendation follows it.
pub fn attach_notes(entries: &mut [ReportEntry], notes: Vec<flakehound_store::Note>) {
    let mut by_test: std::collections::HashMap<String, Vec<flakehound_store::Note>> =
        std::collections::HashMap::new();
    for n in notes {
        by_test.entry(n.test.clone()).or_default().push(n);
    }
    for e in entries {
        if let Some(n) = by_test.remove(&e.ranked.id) {
            let named = n.iter().rev().find_map(|note| {
                let c = note.category?;
                // "No recognisable cause" from an experiment does not undo a guess.
                (c != category::Category::Unknown).then_some((c, note.id, note.kind))
            });
            if let Some((c, id, kind)) = named {
                if e.category != Some(c) {
                    e.reasons
                        .push(format!("cause named by note #{id} ({kind}): {c}"));
                    e.category = Some(c);
                    if e.verdict == verdict::Verdict::Flaky {
                        e.recommendation = verdict::recommendation(c).to_string();
                    }
                }
            }
            e.notes = n;
        }
    }
}

/// What `report`, `classify`, `incidents` and `clusters` print.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Report {
    /// Non-stable tests first by impact (stable ones only when asked for).
    pub entries: Vec<ReportEntry>,
    pub incidents: Vec<verdict::RunIncident>,
    pub shared_clusters: Vec<verdict::SharedCluster>,
}

/// Verdicts joined with the evidence ranking (for callers holding full evidence).
pub fn report(
    stats: Vec<TestStats>,
    ev: &flakehound_store::Evidence,
    include_stable: bool,
) -> Report {
    join(stats, verdict::analyse(ev), include_stable)
}

/// Non-stable tests first by impact (stable ones only with `include_stable`), plus incidents.
fn join(stats: Vec<TestStats>, analysis: verdict::Analysis, include_stable: bool) -> Report {
    let mut ranked: std::collections::HashMap<String, Ranked> = stats
        .into_iter()
        .map(|s| (s.id.clone(), Ranked::from_stats(s)))
        .collect();
    let entries = analysis
        .verdicts
        .into_iter()
        .filter(|v| include_stable || v.verdict.is_unstable())
        .filter_map(|v| {
            let ranked = ranked.remove(&v.id)?;
            Some(ReportEntry {
                ranked,
                verdict: v.verdict,
                intermittent: v.intermittent,
                confidence: v.confidence,
                category: v.category,
                factors: v.factors,
                culprit_commit: v.culprit.as_ref().map(|c| c.commit.clone()),
                culprit: v.culprit,
                reasons: v.reasons,
                recommendation: v.recommendation,
                flip_rate: v.flip_rate,
                recent_failure_rate: v.recent_failure_rate,
                impact: v.impact,
                experiments: v.experiments,
                notes: Vec::new(),
                owners: Vec::new(),
            })
        })
        .collect();
    Report {
        entries,
        incidents: analysis.incidents,
        shared_clusters: analysis.shared_clusters,
    }
}

/// The same aggregates as [`Store::test_stats`], computed from evidence in memory.
pub fn stats_from_evidence(ev: &flakehound_store::Evidence) -> Vec<TestStats> {
    use flakehound_model::Outcome;
    use std::collections::{BTreeMap, HashMap};
    #[derive(Default)]
    struct PerRun {
        p: u64,
        f: u64,
        s: u64,
        last_pass: Option<u32>,
        first_fail: Option<u32>,
        last_exec: Option<u32>,
    }
    let mut per: Vec<BTreeMap<u32, PerRun>> = Vec::new();
    per.resize_with(ev.tests.len(), BTreeMap::new);
    let mut last_failure: Vec<Option<(u32, u32, u32)>> = vec![None; ev.tests.len()];
    for r in &ev.results {
        let e = per[r.test as usize].entry(r.run).or_default();
        match r.outcome {
            Outcome::Passed => {
                e.p += 1;
                e.last_pass = e.last_pass.max(Some(r.attempt));
            }
            Outcome::Skipped => e.s += 1,
            Outcome::Failed | Outcome::Errored => {
                e.f += 1;
                e.first_fail = Some(e.first_fail.map_or(r.attempt, |a| a.min(r.attempt)));
                if let Some(m) = r.message {
                    let slot = &mut last_failure[r.test as usize];
                    if slot.is_none_or(|old| (old.0, old.1) < (r.run, r.attempt)) {
                        *slot = Some((r.run, r.attempt, m));
                    }
                }
            }
        }
        if r.outcome != Outcome::Skipped {
            e.last_exec = e.last_exec.max(Some(r.attempt));
        }
    }
    ev.tests
        .iter()
        .zip(per)
        .zip(last_failure)
        .filter_map(|((t, runs), last)| {
            let mut st = TestStats {
                id: t.id.clone(),
                classname: t.classname.clone(),
                name: t.name.clone(),
                file: t.file.clone(),
                ..Default::default()
            };
            let mut commits: HashMap<&str, (u64, u64)> = HashMap::new();
            for (run, e) in &runs {
                let meta = &ev.runs[*run as usize];
                st.passes += e.p;
                st.failures += e.f;
                st.skips += e.s;
                if e.p + e.f > 0 {
                    st.runs += 1;
                    if st
                        .last_seen
                        .as_deref()
                        .is_none_or(|l| l < meta.started_at.as_str())
                    {
                        st.last_seen = Some(meta.started_at.clone());
                    }
                }
                st.failed_runs += u64::from(e.f > 0);
                st.retry_passes +=
                    u64::from(matches!((e.last_pass, e.first_fail), (Some(p), Some(f)) if p > f));
                if let (Some(commit), Some(last)) = (meta.commit.as_deref(), e.last_exec) {
                    let c = commits.entry(commit).or_default();
                    if e.last_pass == Some(last) {
                        c.0 += 1
                    } else {
                        c.1 += 1
                    }
                }
            }
            st.commits = commits.len() as u64;
            st.flaky_commits = commits.values().filter(|c| c.0 > 0 && c.1 > 0).count() as u64;
            st.last_failure = last.map(|(_, _, m)| ev.messages[m as usize].clone());
            (st.runs + st.skips > 0).then_some(st)
        })
        .collect()
}

/// What quarantine `sync` needs to know about one test's recent history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Streak {
    pub id: String,
    /// Runs (newest first, counted back) in which every executed attempt passed, since the last
    /// run with a failed attempt.
    pub consecutive_passes: u32,
    /// Start time of the newest run with a failed attempt.
    pub last_failure: Option<String>,
    /// Runs in which the test failed and then passed on a retry: the "strikes" of the
    /// quarantine policy. Failures that stayed failures are not strikes: a test that is simply
    /// broken must keep failing the build, not be quarantined.
    pub retry_passes: u32,
}

/// Per-test [`Streak`]s over the evidence (runs are ordered by start time), from CI runs only:
/// runs of local experiments ([`flakehound_model::RunSource::is_experiment`]) are skipped.
pub fn streaks(ev: &flakehound_store::Evidence) -> Vec<Streak> {
    use flakehound_model::Outcome;
    #[derive(Default, Clone)]
    struct Acc {
        passes: u32,
        last_failure: Option<u32>,
        retry_passes: u32,
        // Current run being accumulated: (run, failed, passed after failing).
        run: Option<(u32, bool, bool, bool)>,
    }
    fn close(a: &mut Acc) {
        if let Some((run, failed, recovered, executed)) = a.run.take() {
            if failed {
                a.passes = 0;
                a.last_failure = Some(run);
                if recovered {
                    a.retry_passes += 1;
                }
            } else if executed {
                a.passes += 1;
            }
        }
    }
    let mut acc = vec![Acc::default(); ev.tests.len()];
    for r in &ev.results {
        // Release streaks and strikes are about the build: a hunt's hundred clean executions
        // on a laptop must not release a test that still fails in CI, nor its failures add
        // strikes.
        if ev
            .runs
            .get(r.run as usize)
            .is_some_and(|run| run.source.is_experiment())
        {
            continue;
        }
        let a = &mut acc[r.test as usize];
        if a.run.is_some_and(|(run, ..)| run != r.run) {
            close(a);
        }
        let cur = a.run.get_or_insert((r.run, false, false, false));
        match r.outcome {
            Outcome::Failed | Outcome::Errored => cur.1 = true,
            Outcome::Passed => {
                cur.3 = true;
                if cur.1 {
                    cur.2 = true;
                }
            }
            Outcome::Skipped => {}
        }
    }
    ev.tests
        .iter()
        .zip(acc)
        .map(|(t, mut a)| {
            close(&mut a);
            Streak {
                id: t.id.clone(),
                consecutive_passes: a.passes,
                last_failure: a
                    .last_failure
                    .and_then(|run| ev.runs.get(run as usize))
                    .map(|r| r.started_at.clone()),
                retry_passes: a.retry_passes,
            }
        })
        .collect()
}

#[cfg(test)]
mod streak_tests {
    use super::*;
    use flakehound_model::Outcome;
    use flakehound_store::{Evidence, ResultRow, RunRow, TestRow};

    #[test]
    fn counts_passing_runs_since_the_last_failure_and_retry_strikes() {
        let run = |i: u32| RunRow {
            key: format!("r{i}"),
            started_at: format!("2026-11-0{}T00:00:00Z", i + 1),
            ..RunRow::default()
        };
        let res = |run: u32, attempt: u32, outcome: Outcome| ResultRow {
            run,
            test: 0,
            attempt,
            position: 0,
            outcome,
            duration: None,
            message: None,
        };
        let ev = Evidence {
            runs: (0..5).map(run).collect(),
            tests: vec![TestRow {
                id: "t".into(),
                name: "t".into(),
                ..TestRow::default()
            }],
            results: vec![
                res(0, 1, Outcome::Failed),
                res(0, 2, Outcome::Passed),
                res(1, 1, Outcome::Failed),
                res(2, 1, Outcome::Passed),
                res(3, 1, Outcome::Skipped),
                res(4, 1, Outcome::Passed),
            ],
            ..Evidence::default()
        };
        let s = &streaks(&ev)[0];
        assert_eq!(s.consecutive_passes, 2);
        assert_eq!(s.retry_passes, 1);
        assert_eq!(s.last_failure.as_deref(), Some("2026-11-02T00:00:00Z"));
    }

    #[test]
    fn experiments_neither_release_nor_strike() {
        let run = |i: u32, source: &str| RunRow {
            key: format!("r{i}"),
            source: source.into(),
            started_at: format!("2026-11-0{}T00:00:00Z", i + 1),
            ..RunRow::default()
        };
        let res = |run: u32, attempt: u32, outcome: Outcome| ResultRow {
            run,
            test: 0,
            attempt,
            position: 0,
            outcome,
            duration: None,
            message: None,
        };
        let ev = Evidence {
            runs: vec![
                run(0, "ci"),
                run(1, "hunt"),
                run(2, "hunt"),
                run(3, "diagnose"),
                run(4, "run"),
            ],
            tests: vec![TestRow {
                id: "t".into(),
                name: "t".into(),
                ..TestRow::default()
            }],
            results: vec![
                res(0, 1, Outcome::Failed),
                res(1, 1, Outcome::Passed),
                res(2, 1, Outcome::Failed),
                res(2, 2, Outcome::Passed),
                res(3, 1, Outcome::Passed),
                res(4, 1, Outcome::Passed),
            ],
            ..Evidence::default()
        };
        let s = &streaks(&ev)[0];
        assert_eq!(
            s.consecutive_passes, 1,
            "only the CI run after the CI failure"
        );
        assert_eq!(s.retry_passes, 0, "a hunt's pass on retry is no strike");
        assert_eq!(s.last_failure.as_deref(), Some("2026-11-01T00:00:00Z"));
    }
}
