//! Verdicts: is a failing test flaky, or did we witness a real (possibly intermittent) bug?
//!
//! # The model
//!
//! Every stored run of a test is one Bernoulli trial: the run *failed* the test when its first
//! executed attempt failed (retries are evidence of flakiness, not extra trials). Runs are
//! ordered by time; commits by the first run that saw them.
//!
//! 1. **Infrastructure first.** Runs where many unrelated tests fail together with infra-shaped
//!    messages are incidents ([`crate::incidents`]); their failures are attributed to the
//!    incident and removed from every test's trials. A test whose only failures were in
//!    incidents is `infra`.
//! 2. **History shape.** Per commit, the test's (failed runs, runs) feed a Bayesian single
//!    change-point model ([`crate::changepoint`]): one failure rate throughout (M0) versus a
//!    rate that changes at some commit (M1).
//!    - `broken`: healthy history, then every run fails from some commit on.
//!    - `regression`: at least [`MIN_CLEAN_RUNS`] clean runs, then failures from the change
//!      point on at an intermittent rate, with `P(M1) ≥` [`P_CHANGE`]; one consistent failure
//!      fingerprint raises confidence (a race introduced by a commit looks like this).
//!    - `fixed`: failed (almost) every run for a while, and every run since some commit passed.
//!    - `flaky`: failures spread through history with no such change, usually with passes on
//!      retry or disagreement between runs of the same commit.
//! 3. **Confidence** is the model's posterior for the chosen shape, combined with independent
//!    evidence as odds multipliers (each factor is documented at its use):
//!    `odds = prior_odds · Π likelihood_ratio_i`, `confidence = odds / (1 + odds)`.
//! 4. **Category** (flaky tests): the strongest of order (a preceding test present in failing
//!    runs and rare in passing ones), time of day (failures concentrated in a 3-hour window),
//!    weekday, runner/OS/CI-job concentration (environment), durations at a limit (timeout), then the
//!    dominant message shape ([`crate::category`]), else `unknown`.
//! 5. **Impact**: builds broken (runs whose last attempt failed), reruns caused, CI minutes
//!    spent on failed attempts and reruns, branches affected, last seen.

use crate::category::{self, Category};
use crate::changepoint;
use crate::fingerprint::{self, Cluster};
use crate::incidents::{self, Incident, RunFailures};
use crate::stats::{self, Rate};
use flakehound_model::Outcome;
use flakehound_store::Evidence;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Clean runs needed before a change point to call the change a regression.
pub const MIN_CLEAN_RUNS: u64 = 8;
/// `P(M1 | data)` needed to call a change.
pub const P_CHANGE: f64 = 0.95;
/// Share of runs after the change that must fail to call the test broken.
pub const BROKEN_RATE: f64 = 0.95;
/// Share of runs inside the failing stretch for a test later fixed.
pub const FIXED_RATE: f64 = 0.8;
/// Half-life of the recency-weighted failure rate.
pub const HALF_LIFE_DAYS: f64 = 14.0;
/// Probability of the clean streak since the last failure, at the earlier failure rate, below
/// which an intermittently failing test counts as recovered (`fixed`).
pub const RECOVERED_P: f64 = 0.001;
/// Share of incidents a test must fail in, and nothing else, to be `infra`.
pub const INFRA_SHARE: f64 = 0.75;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Stable,
    Flaky,
    Broken,
    Regression,
    Fixed,
    Infra,
    /// Stored only as skipped: never executed, so neither stable nor unstable. Calling it
    /// stable would claim evidence that does not exist.
    #[serde(rename = "not-run")]
    NotRun,
}

impl Verdict {
    /// Whether the verdict is neither stable nor not-run: what `report` lists and counts.
    pub fn is_unstable(self) -> bool {
        !matches!(self, Verdict::Stable | Verdict::NotRun)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Flaky => "flaky",
            Verdict::Broken => "broken",
            Verdict::Regression => "regression",
            Verdict::Fixed => "fixed",
            Verdict::Infra => "infra",
            Verdict::NotRun => "not-run",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs of local experiments on a test (hunt, diagnose, ...), outside incidents: evidence shown
/// apart from the CI cost in [`Impact`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Experiments {
    pub runs: u64,
    /// Runs whose first attempt failed.
    pub failed_runs: u64,
}

/// Cost of a test to the team, from CI runs only (see [`RunSource::is_experiment`](flakehound_model::RunSource::is_experiment)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Impact {
    /// Runs whose last attempt of the test failed (outside incidents): red builds.
    pub broken_builds: u64,
    /// Runs in which the test was retried, plus whole-job re-runs after a run it failed.
    pub reruns: u64,
    /// Minutes spent on failed attempts and on retries.
    pub ci_minutes: f64,
    pub branches: u64,
    /// Pull/merge requests whose runs it failed.
    pub pull_requests: u64,
    pub last_seen: Option<String>,
    /// Ranking key: `broken_builds + 0.5·reruns + ci_minutes/10`.
    pub score: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Culprit {
    pub commit: String,
    /// `P(change at this commit | a change)`.
    pub posterior: f64,
    /// First and last commit of the 90% credible range.
    pub range: (String, String),
}

/// A condition under which a flaky test fails more often: where (runner, OS, CI job), when
/// (hour, weekday) or after what (a preceding test). It contributes to the failures; the
/// category names the mechanism (a timeout on a slow runner is category `timeout` with factor
/// `runner`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Factor {
    /// `runner`, `os`, `ci-job`, `hour`, `weekday` or `order`.
    pub kind: String,
    /// The runner, OS or job name, the UTC hour window (`23:00-02:00`), the weekday, or the
    /// preceding test.
    pub value: String,
    pub evidence: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TestVerdict {
    pub id: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    pub verdict: Verdict,
    /// For regressions: fails only some of the time.
    pub intermittent: bool,
    pub confidence: f64,
    /// The evidence odds' probability before [`calibrated`] (for refitting the calibration).
    #[serde(skip)]
    pub raw_confidence: f64,
    pub category: Option<Category>,
    /// Flaky tests: conditions that make it fail more often, strongest first (see [`Factor`]).
    pub factors: Vec<Factor>,
    pub culprit: Option<Culprit>,
    pub reasons: Vec<String>,
    pub recommendation: String,
    pub runs: u64,
    pub failed_runs: u64,
    pub incident_failures: u64,
    pub retry_passes: u64,
    pub flaky_commits: u64,
    pub failure_rate: Rate,
    /// Failure rate with exponential decay (half-life [`HALF_LIFE_DAYS`]): recent runs count
    /// more, so a test that stopped failing fades.
    pub recent_failure_rate: f64,
    pub flip_rate: f64,
    pub clusters: Vec<Cluster>,
    pub impact: Impact,
    pub experiments: Experiments,
}

/// An incident with the run it happened in.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RunIncident {
    /// Key of the run.
    pub run: String,
    pub commit: Option<String>,
    pub runner: Option<String>,
    pub started_at: String,
    pub failed_tests: u64,
    pub tests_executed: u64,
    /// Share of its failure messages that look like infrastructure.
    pub infra_share: f64,
    pub top_fingerprint: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Analysis {
    /// One per test, non-stable first by impact, then stable ones by id.
    pub verdicts: Vec<TestVerdict>,
    pub incidents: Vec<RunIncident>,
    /// Failure fingerprints shared by several tests (outside incidents), most tests first: one
    /// cause (a shared fixture, a common dependency) behind several failing tests.
    pub shared_clusters: Vec<SharedCluster>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct SharedCluster {
    pub fingerprint: String,
    pub example: String,
    pub failures: u64,
    /// Number of distinct tests with this failure.
    pub test_count: u64,
    /// Up to 10 of those tests, by id.
    pub tests: Vec<String>,
}

/// Fingerprints of first-attempt failures outside incidents that several tests share.
fn shared_clusters(
    ev: &Evidence,
    runs_of: &[Vec<TestRun>],
    incident_runs: &HashSet<u32>,
) -> Vec<SharedCluster> {
    let mut by_fp: HashMap<String, (String, u64, std::collections::BTreeSet<u32>)> = HashMap::new();
    for (test, runs) in runs_of.iter().enumerate() {
        for r in runs
            .iter()
            .filter(|r| r.failed_first && !incident_runs.contains(&r.run))
        {
            let Some(m) = r.message else { continue };
            let message = ev.messages[m as usize].as_str();
            let fp = fingerprint::fingerprint(message);
            if fp.is_empty() {
                continue;
            }
            let e = by_fp
                .entry(fp)
                .or_insert_with(|| (message.to_string(), 0, Default::default()));
            e.1 += 1;
            e.2.insert(test as u32);
        }
    }
    let mut out: Vec<SharedCluster> = by_fp
        .into_iter()
        .filter(|(_, (_, _, tests))| tests.len() >= 2)
        .map(|(fingerprint, (example, failures, tests))| SharedCluster {
            fingerprint,
            example,
            failures,
            test_count: tests.len() as u64,
            tests: tests
                .iter()
                .take(10)
                .map(|&t| ev.tests[t as usize].id.clone())
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.test_count
            .cmp(&a.test_count)
            .then(b.failures.cmp(&a.failures))
            .then(a.fingerprint.cmp(&b.fingerprint))
    });
    out
}

/// One run of one test.
#[derive(Clone, Debug, Default)]
struct TestRun {
    run: u32,
    /// First executed attempt failed.
    failed_first: bool,
    /// Last executed attempt failed.
    failed_last: bool,
    retried: bool,
    retry_pass: bool,
    position: u32,
    /// Message of the first failure.
    message: Option<u32>,
    fail_seconds: f64,
    retry_seconds: f64,
    first_duration: Option<f32>,
}

/// Runs whose execution order the order evidence may fetch, and its samples per test.
pub const ORDER_RUNS: usize = 400;
const ORDER_FAILING: usize = 20;
const ORDER_PASSING: usize = 40;

/// Execution order of a run (by index into [`Evidence::runs`]): (test id, position).
pub type OrderFetch<'a> = dyn FnMut(usize) -> Vec<(String, u32)> + 'a;

/// Run orders fetched so far, within the [`ORDER_RUNS`] budget.
struct Orders<'a> {
    fetch: &'a mut OrderFetch<'a>,
    cache: HashMap<u32, std::rc::Rc<Vec<(String, u32)>>>,
}

impl Orders<'_> {
    fn get(&mut self, run: u32) -> Option<std::rc::Rc<Vec<(String, u32)>>> {
        if let Some(o) = self.cache.get(&run) {
            return Some(o.clone());
        }
        if self.cache.len() >= ORDER_RUNS {
            return None;
        }
        let order = std::rc::Rc::new((self.fetch)(run as usize));
        self.cache.insert(run, order.clone());
        Some(order)
    }
}

/// Classifies every test in `ev`, which holds every test's results (run orders come from it).
pub fn analyse(ev: &Evidence) -> Analysis {
    let mut by_run: Vec<Vec<(String, u32)>> = vec![Vec::new(); ev.runs.len()];
    for r in &ev.results {
        if r.attempt == 1 && r.outcome != Outcome::Skipped {
            by_run[r.run as usize].push((ev.tests[r.test as usize].id.clone(), r.position));
        }
    }
    let mut fetch = |run: usize| std::mem::take(&mut by_run[run]);
    analyse_with(ev, &mut fetch)
}

/// Classifies every test in `ev`, fetching run orders (for the order evidence) with `order`. `ev`
/// may hold only the tests that ever failed ([`flakehound_store::Store::failing_evidence`]):
/// tests without failures are stable by definition.
pub fn analyse_with<'a>(ev: &'a Evidence, order: &'a mut OrderFetch<'a>) -> Analysis {
    let runs_of = collect_runs(ev);
    // Commit order: first run that saw the commit; runs without a commit stand alone.
    let mut commit_of_run: Vec<usize> = Vec::with_capacity(ev.runs.len());
    let mut commits: Vec<String> = Vec::new();
    let mut commit_index: HashMap<String, usize> = HashMap::new();
    for r in &ev.runs {
        // A run without a commit stands for itself, named by its start (what a reader can
        // find) and its key (what keeps two runs started in the same second apart).
        let c = r
            .commit
            .clone()
            .unwrap_or_else(|| format!("{RUN_PREFIX}{} {}", r.started_at, r.key));
        let next = commits.len();
        let i = *commit_index.entry(c.clone()).or_insert_with(|| {
            commits.push(c);
            next
        });
        commit_of_run.push(i);
    }

    let found = find_incidents(ev, &runs_of);
    let incident_runs: HashSet<u32> = found.iter().map(|i| i.run as u32).collect();
    let incidents = found
        .into_iter()
        .map(|incident| {
            let r = &ev.runs[incident.run];
            RunIncident {
                run: r.key.clone(),
                commit: r.commit.clone(),
                runner: r.runner.clone(),
                started_at: r.started_at.clone(),
                failed_tests: incident.failed_tests,
                tests_executed: incident.tests_executed,
                infra_share: incident.infra_share,
                top_fingerprint: incident.top_fingerprint,
                reason: incident.reason,
            }
        })
        .collect();

    let ctx = Context {
        ev,
        runs_of: &runs_of,
        orders: std::cell::RefCell::new(Orders {
            fetch: order,
            cache: HashMap::new(),
        }),
        commit_of_run: &commit_of_run,
        commits: &commits,
        incident_runs: &incident_runs,
    };
    let mut verdicts: Vec<TestVerdict> = (0..ev.tests.len()).map(|t| ctx.classify(t)).collect();
    verdicts.sort_by(|a, b| {
        (!a.verdict.is_unstable())
            .cmp(&!b.verdict.is_unstable())
            .then((a.verdict == Verdict::NotRun).cmp(&(b.verdict == Verdict::NotRun)))
            .then(b.impact.score.total_cmp(&a.impact.score))
            // Equal CI cost (often none, in a store of local experiments): most failures first.
            .then(b.failed_runs.cmp(&a.failed_runs))
            .then(a.id.cmp(&b.id))
    });
    let shared_clusters = shared_clusters(ev, &runs_of, &incident_runs);
    Analysis {
        verdicts,
        incidents,
        shared_clusters,
    }
}

/// Infrastructure incidents: runs where many tests fail together (see [`crate::incidents`]),
/// judged on each test's first attempt.
fn find_incidents(ev: &Evidence, runs_of: &[Vec<TestRun>]) -> Vec<Incident> {
    let mut per_run: Vec<RunFailures<u32, &str>> = (0..ev.runs.len())
        .map(|run| RunFailures {
            run,
            tests_executed: 0,
            failed_tests: Vec::new(),
        })
        .collect();
    let sizes_known = ev.run_sizes.len() == ev.runs.len();
    for (run, size) in ev.run_sizes.iter().enumerate().filter(|_| sizes_known) {
        per_run[run].tests_executed = *size;
    }
    for (test, runs) in runs_of.iter().enumerate() {
        for tr in runs {
            let slot = &mut per_run[tr.run as usize];
            if !sizes_known {
                slot.tests_executed += 1;
            }
            if tr.failed_first {
                let m = tr
                    .message
                    .map(|m| ev.messages[m as usize].as_str())
                    .unwrap_or("");
                slot.failed_tests.push((test as u32, m));
            }
        }
    }
    incidents::detect(&per_run)
}

fn collect_runs(ev: &Evidence) -> Vec<Vec<TestRun>> {
    let mut runs_of: Vec<Vec<TestRun>> = vec![Vec::new(); ev.tests.len()];
    // Results are ordered by run, then position, then attempt: attempts of one test in one run
    // are not necessarily adjacent (retries come later in the run), so index by (test, run).
    let mut open: HashMap<(u32, u32), usize> = HashMap::new();
    let mut current_run = u32::MAX;
    for r in &ev.results {
        if r.run != current_run {
            open.clear();
            current_run = r.run;
        }
        if r.outcome == Outcome::Skipped {
            continue;
        }
        let failed = r.outcome.is_failure();
        let list = &mut runs_of[r.test as usize];
        match open.get(&(r.test, r.run)) {
            None => {
                open.insert((r.test, r.run), list.len());
                list.push(TestRun {
                    run: r.run,
                    failed_first: failed,
                    failed_last: failed,
                    position: r.position,
                    message: if failed { r.message } else { None },
                    fail_seconds: if failed {
                        r.duration.unwrap_or(0.0) as f64
                    } else {
                        0.0
                    },
                    first_duration: r.duration,
                    ..Default::default()
                });
            }
            Some(&i) => {
                let tr = &mut list[i];
                tr.retried = true;
                if !failed && tr.failed_last {
                    tr.retry_pass = true;
                }
                tr.failed_last = failed;
                tr.retry_seconds += r.duration.unwrap_or(0.0) as f64;
                if failed {
                    tr.fail_seconds += r.duration.unwrap_or(0.0) as f64;
                    tr.message = tr.message.or(r.message);
                }
            }
        }
    }
    runs_of
}

struct Context<'a> {
    ev: &'a Evidence,
    runs_of: &'a [Vec<TestRun>],
    /// Execution orders of runs, fetched on demand.
    orders: std::cell::RefCell<Orders<'a>>,
    commit_of_run: &'a [usize],
    commits: &'a [String],
    incident_runs: &'a HashSet<u32>,
}

impl Context<'_> {
    fn classify(&self, test: usize) -> TestVerdict {
        let ev = self.ev;
        let t = &ev.tests[test];
        // `bisect` runs ran past commits just now: out of commit order, and chosen around a
        // change, so they would distort the timeline and the rates. They are its note's
        // evidence, and counted as local experiments only.
        let (bisected, all): (Vec<&TestRun>, Vec<&TestRun>) = self.runs_of[test]
            .iter()
            .partition(|r| ev.runs[r.run as usize].source == flakehound_model::RunSource::Bisect);
        let (runs, in_incidents): (Vec<&TestRun>, Vec<&TestRun>) = all
            .iter()
            .copied()
            .partition(|r| !self.incident_runs.contains(&r.run));
        let incident_failures = in_incidents.iter().filter(|r| r.failed_first).count() as u64;
        let failed: Vec<&TestRun> = runs.iter().copied().filter(|r| r.failed_first).collect();
        let retry_passes = runs.iter().filter(|r| r.retry_pass).count() as u64;

        // Per-commit trials, in commit order.
        let mut per_commit: BTreeMap<usize, (u64, u64, u64, u64)> = BTreeMap::new(); // fails, runs, final-pass runs, final-fail runs
        for r in &runs {
            let e = per_commit
                .entry(self.commit_of_run[r.run as usize])
                .or_default();
            e.0 += u64::from(r.failed_first);
            e.1 += 1;
            e.2 += u64::from(!r.failed_last);
            e.3 += u64::from(r.failed_last);
        }
        let flaky_commits = per_commit.values().filter(|v| v.2 > 0 && v.3 > 0).count() as u64;
        let points: Vec<(u64, u64)> = per_commit.values().map(|v| (v.0, v.1)).collect();
        let commit_at = |i: usize| -> &str {
            per_commit
                .keys()
                .nth(i)
                .map(|&c| self.commits[c].as_str())
                .unwrap_or("")
        };

        let outcomes: Vec<bool> = runs.iter().map(|r| r.failed_first).collect();
        let rate = Rate::new(failed.len() as u64, runs.len() as u64);
        let flip = stats::flip_rate(&outcomes);
        let days = |r: &TestRun| {
            ev.runs[r.run as usize]
                .started_at
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_second() as f64 / 86_400.0)
                .unwrap_or(0.0)
        };
        let newest = runs.iter().map(|r| days(r)).fold(f64::MIN, f64::max);
        let events: Vec<(f64, bool)> = runs
            .iter()
            .map(|r| (newest - days(r), r.failed_first))
            .collect();
        let recent = stats::decayed_rate(&events, HALF_LIFE_DAYS);
        let messages: Vec<&str> = failed
            .iter()
            .filter_map(|r| r.message.map(|m| ev.messages[m as usize].as_str()))
            .collect();
        let clusters = fingerprint::cluster(messages.iter().copied());
        let (experiment_runs, ci_runs): (Vec<&TestRun>, Vec<&TestRun>) = runs
            .iter()
            .copied()
            .partition(|r| ev.runs[r.run as usize].source.is_experiment());
        let impact = self.impact(&ci_runs);
        let experiments = Experiments {
            runs: (experiment_runs.len() + bisected.len()) as u64,
            failed_runs: experiment_runs
                .iter()
                .chain(&bisected)
                .filter(|r| r.failed_first)
                .count() as u64,
        };

        let mut v = TestVerdict {
            id: t.id.clone(),
            classname: t.classname.clone(),
            name: t.name.clone(),
            file: t.file.clone(),
            verdict: Verdict::Stable,
            intermittent: false,
            confidence: 0.0,
            raw_confidence: 0.0,
            category: None,
            factors: Vec::new(),
            culprit: None,
            reasons: Vec::new(),
            recommendation: String::new(),
            runs: runs.len() as u64,
            failed_runs: failed.len() as u64,
            incident_failures,
            retry_passes,
            flaky_commits,
            failure_rate: rate,
            recent_failure_rate: recent,
            flip_rate: flip,
            clusters: clusters.iter().take(5).cloned().collect(),
            impact,
            experiments,
        };

        if all.is_empty() && !bisected.is_empty() {
            // Only `bisect` has run it: no history of its own to judge (see its note).
            v.verdict = Verdict::NotRun;
            v.confidence = 1.0;
            v.reasons.push(format!(
                "no runs but {} by `bisect` at past commits, which are not history: see its note",
                bisected.len()
            ));
            v.recommendation = "ingest or `run` its CI results to judge it".into();
            v.raw_confidence = v.confidence;
            return v;
        }
        if all.is_empty() {
            v.verdict = Verdict::NotRun;
            v.confidence = 1.0;
            v.reasons
                .push("never executed: skipped in every run that reported it".into());
            v.recommendation = "check why it is always skipped (a skip marker, a missing \
                                condition): a test that never runs protects nothing"
                .into();
            v.raw_confidence = v.confidence;
            return v;
        }

        if failed.is_empty() {
            let hit = in_incidents.iter().filter(|r| r.failed_first).count();
            let incidents = self.incident_runs.len();
            // A test that fails in (nearly) every incident and nowhere else depends on the
            // infrastructure; one hit by some incidents is a bystander: stable.
            if incident_failures > 0
                && incidents >= 2
                && hit as f64 >= INFRA_SHARE * incidents as f64
            {
                v.verdict = Verdict::Infra;
                // Odds 3:1 per incident it failed in, with a clean record otherwise.
                v.confidence = odds_to_p(3f64.powi(hit.min(8) as i32)).min(0.99);
                v.reasons.push(format!(
                    "failed in {hit} of {incidents} infrastructure incidents and in none of its {} other runs",
                    runs.len()
                ));
                v.recommendation = "nothing to fix in the test; see `flakehound incidents`".into();
            } else {
                v.verdict = Verdict::Stable;
                let claim = stats::honest_claim(runs.len() as u64).min(1.0);
                v.confidence = 1.0 - claim / 2.0;
                v.reasons.push(if runs.is_empty() {
                    "no executed runs".to_string()
                } else {
                    format!(
                        "0 failures in {} runs: failure rate < {:.1}% at 95% confidence",
                        runs.len(),
                        100.0 * claim
                    )
                });
                if incident_failures > 0 {
                    v.reasons.push(format!(
                        "{incident_failures} failure(s) during infrastructure incidents attributed to the incidents"
                    ));
                }
            }
            v.raw_confidence = v.confidence;
            return v;
        }

        // Segments along commits: clean before the first failing commit, the failing stretch,
        // clean after the last failing commit.
        let first_fail = points.iter().position(|p| p.0 > 0).unwrap_or(0);
        let last_fail = points.iter().rposition(|p| p.0 > 0).unwrap_or(0);
        let sum = |range: std::ops::Range<usize>| {
            points[range]
                .iter()
                .fold((0u64, 0u64), |a, p| (a.0 + p.0, a.1 + p.1))
        };
        let (_, clean_before) = sum(0..first_fail);
        let (fails_within, runs_within) = sum(first_fail..last_fail + 1);
        let (_, clean_after) = sum(last_fail + 1..points.len());
        let (fails_since, runs_since) = sum(first_fail..points.len());
        let top = fingerprint::top_share(&clusters);
        let cp = changepoint::detect(&points);
        let p_change = cp.as_ref().map_or(0.0, |c| c.p_change);
        let culprit = |index: usize| -> Culprit {
            let (posterior, range) = match &cp {
                Some(c) if c.index == index => (c.posterior, c.range),
                Some(c) => (0.0, (c.range.0.min(index), c.range.1.max(index))),
                None => (0.0, (index, index)),
            };
            Culprit {
                commit: commit_at(index).to_string(),
                posterior,
                range: (
                    commit_at(range.0).to_string(),
                    commit_at(range.1).to_string(),
                ),
            }
        };
        // Prior odds from the change-point model; a consistent message (one fingerprint for
        // ≥ 80% of failures) doubles them, varied messages (< 50%) halve them.
        let message_factor = if top >= 0.8 {
            2.0
        } else if top < 0.5 {
            0.5
        } else {
            1.0
        };
        let change_odds = (p_change / (1.0 - p_change).max(1e-12)) * message_factor;

        if fails_within as f64 >= FIXED_RATE * runs_within as f64
            && clean_after >= 3
            && runs_within >= 2
        {
            v.verdict = Verdict::Fixed;
            let fix = (last_fail + 1).min(points.len() - 1);
            v.culprit = Some(culprit(fix));
            v.confidence =
                odds_to_p(change_odds.max(1.0) * 1.5f64.powi(clean_after.min(8) as i32)).min(0.99);
            v.reasons.push(format!(
                "failed {fails_within} of {runs_within} runs from {} to {}, then 0 of {clean_after} since {}",
                short(commit_at(first_fail)),
                short(commit_at(last_fail)),
                short(commit_at(fix))
            ));
            v.recommendation = "healthy since the fix; nothing to do".into();
        } else if first_fail == 0
            && clean_after == 0
            && runs_within >= 2
            && fails_within as f64 >= BROKEN_RATE * runs_within as f64
        {
            // Failing in every run since the first one stored: broken before the history began.
            v.verdict = Verdict::Broken;
            // Odds 2:1 per failing run (capped): two failures in a row are weak, ten are not.
            v.confidence = odds_to_p(2f64.powi(runs_within.min(10) as i32)).min(0.99);
            v.reasons.push(format!(
                "failed {fails_within} of {runs_within} runs, every run since the first one stored; the culprit predates the stored history"
            ));
            v.recommendation = "fix or quarantine it: it fails every time".into();
        } else if clean_before >= MIN_CLEAN_RUNS && p_change >= P_CHANGE && runs_since > 0 {
            let always = fails_since as f64 >= BROKEN_RATE * runs_since as f64;
            v.verdict = if always {
                Verdict::Broken
            } else {
                Verdict::Regression
            };
            v.intermittent = !always;
            v.culprit = Some(culprit(first_fail));
            let mut odds = change_odds;
            if v.intermittent {
                // Passes on retry are also what flakes do: 4:5 per retry pass, capped.
                odds *= 0.8f64.powi(retry_passes.min(6) as i32);
            }
            v.confidence = odds_to_p(odds).min(0.99);
            v.reasons.push(format!(
                "0 failures in {clean_before} runs before {}, {fails_since} of {runs_since} after (change point, Bayesian, P(change) {p_change:.2})",
                short(commit_at(first_fail)),
            ));
            v.recommendation = format!(
                "investigate {} for {}",
                short(commit_at(first_fail)),
                if v.intermittent {
                    "an intermittent bug (race, ordering, timing)"
                } else {
                    "the change that broke it"
                }
            );
        }
        // Recency: an intermittent failure that stopped. At the test's overall failure rate
        // (clean streak included: the rate up to the last failure is biased upward by choosing
        // where the streak starts), a clean streak this long has probability
        // (1 − rate)^clean_after; below RECOVERED_P the test has recovered (fixed), otherwise the
        // streak is luck and the test is still flaky.
        if v.verdict == Verdict::Stable && clean_after > 0 {
            let rate_then = rate.mean;
            let p_streak = (1.0 - rate_then).powf(clean_after as f64);
            if p_streak < RECOVERED_P {
                let fix = (last_fail + 1).min(points.len() - 1);
                v.verdict = Verdict::Fixed;
                v.culprit = Some(culprit(fix));
                v.confidence = (1.0 - p_streak).min(0.99);
                v.reasons.push(format!(
                    "failed {:.1}% of runs overall, the last time at {}, then 0 of {clean_after} since {}: that clean streak has probability {p_streak:.4} at that rate",
                    100.0 * rate_then,
                    short(commit_at(last_fail)),
                    short(commit_at(fix))
                ));
                v.recommendation = "recovered; nothing to do unless it comes back".into();
            }
        }
        if v.verdict == Verdict::Stable {
            v.verdict = Verdict::Flaky;
            // Prior odds 1:1 that a test failing intermittently without a change point is flaky.
            // Each pass on retry or same-commit disagreement is strong evidence (3:1 each,
            // capped); varied messages 1.5:1; no direct evidence at all lowers it (1:2).
            let direct = retry_passes + flaky_commits;
            let mut odds = 3f64.powi(direct.min(8) as i32);
            if direct == 0 {
                odds = 0.5;
            }
            if top < 0.5 {
                odds *= 1.5;
            }
            if let Some(cp) = &cp {
                // A competing change-point explanation weakens the flaky claim.
                odds *= (1.0 - cp.p_change).max(0.05) * 2.0;
            }
            v.confidence = odds_to_p(odds).min(0.99);
            if retry_passes > 0 {
                v.reasons
                    .push(format!("passed on retry in {retry_passes} run(s)"));
            }
            if flaky_commits > 0 {
                v.reasons.push(format!(
                    "passed and failed on the same commit {flaky_commits} time(s)"
                ));
            }
            v.reasons.push(format!(
                "failure rate {:.1}% [{:.1}, {:.1}] over {} runs, spread through history (flip rate {:.2}; recent rate {:.1}%, half-life {HALF_LIFE_DAYS} days)",
                100.0 * rate.mean,
                100.0 * rate.low,
                100.0 * rate.high,
                runs.len(),
                flip,
                100.0 * recent
            ));
            let (category, evidence, factors) = self.category(test, &runs, &failed, &messages);
            v.category = Some(category);
            v.reasons
                .push(format!("likely cause: {category} ({evidence})"));
            if !factors.is_empty() {
                v.reasons.push(format!(
                    "contributing factors: {}",
                    factors
                        .iter()
                        .map(|f| format!("{} {} ({})", f.kind, f.value, f.evidence))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            v.factors = factors;
            v.recommendation = recommendation(category).into();
        }
        match clusters.len() {
            0 => {}
            1 => v.reasons.push(format!(
                "one failure message cluster: \"{}\"",
                clusters[0].fingerprint
            )),
            n => v.reasons.push(format!(
                "{n} failure message clusters; largest \"{}\" ({} of {})",
                clusters[0].fingerprint,
                clusters[0].count,
                messages.len()
            )),
        }
        if incident_failures > 0 {
            v.reasons.push(format!(
                "{incident_failures} failure(s) during infrastructure incidents not counted"
            ));
        }
        v.raw_confidence = v.confidence;
        v.confidence = calibrated(v.confidence);
        v
    }

    fn impact(&self, runs: &[&TestRun]) -> Impact {
        let ev = self.ev;
        let mut imp = Impact::default();
        let mut branches = HashSet::new();
        let mut prs = HashSet::new();
        for r in runs {
            let meta = &ev.runs[r.run as usize];
            if r.failed_last {
                imp.broken_builds += 1;
            }
            if r.retried {
                imp.reruns += 1;
            }
            if r.failed_first || r.failed_last {
                if let Some(b) = &meta.branch {
                    branches.insert(b.as_str());
                }
                if let Some(pr) = &meta.pull_request {
                    prs.insert(pr.as_str());
                }
                if imp
                    .last_seen
                    .as_deref()
                    .is_none_or(|l| l < meta.started_at.as_str())
                {
                    imp.last_seen = Some(meta.started_at.clone());
                }
            }
            imp.ci_minutes += (r.fail_seconds + r.retry_seconds) / 60.0;
        }
        imp.branches = branches.len() as u64;
        imp.pull_requests = prs.len() as u64;
        imp.score = imp.broken_builds as f64 + 0.5 * imp.reruns as f64 + imp.ci_minutes / 10.0;
        imp
    }

    /// The most likely root-cause category of a flaky test, with its evidence and the
    /// contributing factors.
    ///
    /// Two kinds of evidence are told apart. **Conditions** say where or when the test fails:
    /// after a preceding test (order), in a window of hours or on one weekday (time), on one
    /// runner, OS or CI job (environment). **Mechanisms** say how it fails: the dominant message
    /// shape ([`crate::category`]), durations at a limit (timeout), values that change on every
    /// failure against a fixed expectation ([`fingerprint::value_variation`]: randomness). The
    /// category is:
    /// 1. `order` when a preceding test explains the failures (the leak is the mechanism);
    /// 2. `timeout` when the mechanism is a timeout, whatever the condition (a timeout on a slow
    ///    runner is a timeout; the runner is a factor);
    /// 3. `time` when failures cluster in hours or on a weekday; `environment` when they
    ///    cluster on a runner, OS or job (≥ 80% of failures where ≤ 60% of runs happen);
    /// 4. otherwise the mechanism, else `unknown`.
    ///
    /// Every condition found is also reported as a [`Factor`], including weaker ones: a place
    /// holding at least half of the failures where failing that often has binomial probability
    /// below [`FACTOR_P`] at its share of runs.
    fn category(
        &self,
        test: usize,
        runs: &[&TestRun],
        failed: &[&TestRun],
        messages: &[&str],
    ) -> (Category, String, Vec<Factor>) {
        let ev = self.ev;
        let n_fail = failed.len() as f64;
        let mut factors: Vec<Factor> = Vec::new();
        // Conditions, strongest first: (category they imply, evidence).
        let mut condition: Option<(Category, String)> = None;
        if let Some((polluter, e)) = self.order_evidence(test, runs, failed) {
            factors.push(Factor {
                kind: "order".into(),
                value: polluter,
                evidence: e.clone(),
            });
            return (Category::Order, e, factors);
        }
        // Time of day: ≥ 80% of failures within a 3-hour window that holds ≤ 35% of runs.
        if failed.len() >= 3 {
            let hour = |r: &TestRun| hour_of(&ev.runs[r.run as usize].started_at);
            let mut best = (0u32, 0.0f64, 0.0f64);
            for h in 0..24u32 {
                let inside = |r: &&&TestRun| hour(r).is_some_and(|x| (x + 24 - h) % 24 < 3);
                let f = failed.iter().filter(inside).count() as f64 / n_fail;
                let all = runs.iter().filter(inside).count() as f64 / runs.len().max(1) as f64;
                if f > best.1 {
                    best = (h, f, all);
                }
            }
            if best.1 >= 0.8 && best.2 <= 0.35 {
                let e = format!(
                    "{:.0}% of failures between {:02}:00 and {:02}:00 UTC, where {:.0}% of runs happen",
                    100.0 * best.1,
                    best.0,
                    (best.0 + 3) % 24,
                    100.0 * best.2
                );
                factors.push(Factor {
                    kind: "hour".into(),
                    value: format!("{:02}:00-{:02}:00", best.0, (best.0 + 3) % 24),
                    evidence: e.clone(),
                });
                condition.get_or_insert((Category::Time, e));
            }
        }
        // Weekday: ≥ 80% of failures on one day of the week that holds ≤ 30% of runs (weekend
        // jobs, date arithmetic around week boundaries).
        if failed.len() >= 3 {
            let day = |r: &TestRun| weekday_of(&ev.runs[r.run as usize].started_at);
            let mut per_day = [(0u64, 0u64); 7];
            for r in runs {
                if let Some(d) = day(r) {
                    per_day[d].1 += 1;
                    per_day[d].0 += u64::from(r.failed_first);
                }
            }
            if let Some((d, (f, all))) = per_day.iter().enumerate().max_by_key(|(_, v)| v.0) {
                let share = *f as f64 / n_fail;
                let run_share = *all as f64 / runs.len().max(1) as f64;
                if share >= 0.8 && run_share <= 0.3 {
                    let name = jiff::civil::Weekday::from_monday_zero_offset(d as i8)
                        .map_or_else(|_| "?".to_string(), |w| format!("{w:?}"));
                    let e = format!(
                        "{:.0}% of failures on {name}s, which have {:.0}% of runs",
                        100.0 * share,
                        100.0 * run_share
                    );
                    factors.push(Factor {
                        kind: "weekday".into(),
                        value: name,
                        evidence: e.clone(),
                    });
                    condition.get_or_insert((Category::Time, e));
                }
            }
        }
        // Places: ≥ 80% of failures on one runner (or OS, or CI job) that has ≤ 60% of the runs
        // make the environment the condition; a weaker but unlikely concentration is a factor.
        let mut place_failures: Vec<u64> = Vec::new();
        if failed.len() >= 3 {
            for (label, kind, key) in [
                ("runner", "runner", 0),
                ("OS", "os", 1),
                ("CI job", "ci-job", 2),
            ] {
                let get = |r: &TestRun| {
                    let m = &ev.runs[r.run as usize];
                    match key {
                        0 => m.runner.clone(),
                        1 => m.os.clone(),
                        _ => m.job.clone(),
                    }
                };
                let mut counts: HashMap<Option<String>, (u64, u64)> = HashMap::new();
                for r in runs {
                    let e = counts.entry(get(r)).or_default();
                    e.1 += 1;
                    e.0 += u64::from(r.failed_first);
                }
                if counts.len() < 2 {
                    continue;
                }
                let Some((name, (f, all))) = counts
                    .iter()
                    .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
                else {
                    continue;
                };
                let share = *f as f64 / n_fail;
                let run_share = *all as f64 / runs.len() as f64;
                let strict = share >= 0.8 && run_share <= 0.6;
                let p = stats::binomial_sf(*f, failed.len() as u64, run_share);
                if !(strict || (share >= 0.5 && p < FACTOR_P)) {
                    continue;
                }
                let value = name.clone().unwrap_or_else(|| "?".into());
                let e = format!(
                    "{:.0}% of failures on {label} {value} ({:.0}% of runs)",
                    100.0 * share,
                    100.0 * run_share
                );
                // A runner's concentration shows again in its OS or job when it is the only one
                // of them failing: report the narrowest place once.
                if !place_failures.contains(f) {
                    place_failures.push(*f);
                    factors.push(Factor {
                        kind: kind.into(),
                        value,
                        evidence: e.clone(),
                    });
                }
                if strict {
                    condition.get_or_insert((Category::Environment, e));
                }
            }
        }
        let mechanism = self.mechanism(runs, failed, messages);
        let (category, evidence) = match (condition, mechanism) {
            (_, Some((Category::Timeout, e))) => (Category::Timeout, e),
            (Some(c), _) => c,
            (None, Some(m)) => m,
            (None, None) => (
                Category::Unknown,
                "no distinctive message, value, time, runner, order or duration pattern".into(),
            ),
        };
        (category, evidence, factors)
    }

    /// How the test fails, from its messages and durations: failing durations at a limit
    /// (timeout), unless the messages say network (a read or connect timeout is a network
    /// symptom first); else the most common recognised message shape if it covers at least a
    /// third of the messages (flaky tests often fail with a few different messages); else values
    /// varying against a fixed expectation (randomness).
    fn mechanism(
        &self,
        runs: &[&TestRun],
        failed: &[&TestRun],
        messages: &[&str],
    ) -> Option<(Category, String)> {
        let tally = category::tally(messages.iter().copied());
        let shape = tally
            .iter()
            .find(|(c, _, _)| *c != Category::Unknown)
            .filter(|(_, n, _)| *n as f64 >= messages.len() as f64 / 3.0)
            .map(|(c, n, evidence)| {
                (
                    *c,
                    format!("{n} of {} failure messages: {evidence}", messages.len()),
                )
            });
        // Timeout: failing durations at a limit (≥ 90% of the longest), passing ones well below,
        // and the limit long enough to be one: under TIMEOUT_MIN_SECONDS, scheduling noise and
        // JUnit's millisecond rounding make any two durations look "at a limit" (a 0.3 ms
        // failure against 0.1 ms passes is no timeout).
        let fail_d: Vec<f32> = failed.iter().filter_map(|r| r.first_duration).collect();
        let pass_d: Vec<f32> = runs
            .iter()
            .filter(|r| !r.failed_first)
            .filter_map(|r| r.first_duration)
            .collect();
        if fail_d.len() >= 3
            && !pass_d.is_empty()
            && shape.as_ref().is_none_or(|s| s.0 != Category::Network)
        {
            let max = fail_d.iter().copied().fold(0.0f32, f32::max);
            let near =
                fail_d.iter().filter(|&&d| d >= 0.9 * max).count() as f64 / fail_d.len() as f64;
            let pass_med = median(&pass_d);
            if max >= TIMEOUT_MIN_SECONDS && near >= 0.8 && pass_med < 0.6 * max {
                return Some((
                    Category::Timeout,
                    format!(
                        "{:.0}% of failures last ≥ 90% of {max:.1}s; passes take {pass_med:.1}s",
                        100.0 * near
                    ),
                ));
            }
        }
        if shape.is_some() {
            return shape;
        }
        let v = fingerprint::value_variation(messages.iter().copied())?;
        (v.failures as f64 >= messages.len() as f64 / 3.0).then(|| {
            (
                Category::Randomness,
                format!(
                    "{} of {} failures share the shape \"{}\" with {} different values{}: non-deterministic state",
                    v.failures,
                    messages.len(),
                    v.shape,
                    v.distinct,
                    if v.fixed_slot {
                        " against a fixed expectation"
                    } else {
                        ""
                    }
                ),
            )
        })
    }

    /// A test that ran before this one in (almost) every failing run and rarely in passing runs.
    fn order_evidence(
        &self,
        test: usize,
        runs: &[&TestRun],
        failed: &[&TestRun],
    ) -> Option<(String, String)> {
        if failed.len() < 3 {
            return None;
        }
        // A test that always runs at the same position sees the same predecessors in every run:
        // order cannot explain why it fails only sometimes.
        let (lo, hi) = runs.iter().fold((u32::MAX, 0), |(lo, hi), r| {
            (lo.min(r.position), hi.max(r.position))
        });
        if lo == hi {
            return None;
        }
        let own = self.ev.tests[test].id.as_str();
        let preceding = |r: &TestRun| -> Option<HashSet<String>> {
            let order = self.orders.borrow_mut().get(r.run)?;
            Some(
                order
                    .iter()
                    .filter(|(t, pos)| t != own && *pos < r.position)
                    .map(|(t, _)| t.clone())
                    .collect(),
            )
        };
        let passing: Vec<&&TestRun> = runs
            .iter()
            .filter(|r| !r.failed_first)
            .take(ORDER_PASSING)
            .collect();
        if passing.len() < 3 {
            return None;
        }
        let mut in_failing: HashMap<String, u64> = HashMap::new();
        let sample: Vec<&&TestRun> = failed.iter().take(ORDER_FAILING).collect();
        for r in &sample {
            for t in preceding(r)? {
                *in_failing.entry(t).or_default() += 1;
            }
        }
        let n_f = sample.len() as f64;
        let candidates: Vec<String> = in_failing
            .iter()
            .filter(|e| *e.1 as f64 >= 0.9 * n_f)
            .map(|e| e.0.clone())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let mut in_passing: HashMap<&str, u64> = HashMap::new();
        for r in &passing {
            let before = preceding(r)?;
            for t in &candidates {
                if before.contains(t) {
                    *in_passing.entry(t.as_str()).or_default() += 1;
                }
            }
        }
        let (best, share) = candidates
            .iter()
            .map(|t| {
                (
                    t,
                    *in_passing.get(t.as_str()).unwrap_or(&0) as f64 / passing.len() as f64,
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)))?;
        (share <= 0.4).then(|| {
            (
                best.clone(),
                format!(
                    "{best} ran before it in {:.0}% of failing runs but only {:.0}% of passing runs",
                    100.0 * in_failing[best] as f64 / n_f,
                    100.0 * share
                ),
            )
        })
    }
}

/// What to do about a flaky test of category `c`.
pub fn recommendation(c: Category) -> &'static str {
    match c {
        Category::Order => {
            "run `flakehound polluter` to find the test leaking state; reset that state in a fixture"
        }
        Category::Time => "freeze or inject the clock; compare dates in one time zone",
        Category::Environment => {
            "compare the failing runner's setup (versions, resources, network) with the others"
        }
        Category::Timeout => "raise the limit or make the wait event-driven instead of time-based",
        Category::Concurrency => {
            "look for shared state between threads/tasks; wait on conditions, not sleeps"
        }
        Category::Network => "mock the external service or add retries with backoff in the client",
        Category::Randomness => "seed the random generator and log the seed on failure",
        Category::Unordered => "compare collections order-independently (sort or use sets)",
        Category::Resource => "release files/sockets/memory in teardown; check for leaks",
        Category::Filesystem => "use a unique temporary directory per test",
        Category::Float => "compare floats with a tolerance",
        Category::Unknown => "quarantine it and hunt it with repeated runs",
    }
}

/// Platt scaling of the evidence odds, `confidence = σ(A · logit(raw) + B)`, fitted by maximum
/// likelihood on **tuning** histories only (`tests/calibration.rs`: `Config::small` seeds
/// 21–40 and `Config::large` seeds 41–42, each as generated and shortened to 30 commits with
/// few retries, where verdicts are harder). The odds of a verdict multiply likelihood ratios
/// that are not independent (retry passes and same-commit disagreements come from the same
/// failures), so raw probabilities near 0.99 are overconfident on short histories and the
/// middling ones underconfident; a two-parameter monotone map keeps the ranking and makes the
/// stated number mean the observed accuracy. Applied to the flaky, broken, regression and fixed
/// verdicts.
pub const CALIBRATION: (f64, f64) = (0.408, 2.324);

/// The calibrated confidence of a raw evidence probability (see [`CALIBRATION`]): the fitted
/// map where it lowers the raw probability, the raw probability elsewhere. The fit raises weak
/// evidence (few verdicts below 0.9 were wrong in the tuning histories), but those are few
/// (about 2% of the fit) and come from short histories where one more run changes the picture,
/// so confidence is only ever lowered: a 3-run history must not be quarantined on a fit.
pub fn calibrated(raw: f64) -> f64 {
    let p = raw.clamp(1e-6, 1.0 - 1e-6);
    let z = (p / (1.0 - p)).ln();
    let (a, b) = CALIBRATION;
    raw.min(1.0 / (1.0 + (-(a * z + b)).exp()))
}

fn odds_to_p(odds: f64) -> f64 {
    if odds.is_finite() {
        odds / (1.0 + odds)
    } else {
        1.0
    }
}

/// How a run without a commit is named where a commit would be (culprits, ranges, timelines):
/// `run <start> <key>`.
pub const RUN_PREFIX: &str = "run ";

/// A commit as shown: its first 7 characters, or for a run without a commit `run <start>`
/// (the first 7 characters of `run:local/…` said nothing).
pub fn short_commit(commit: &str) -> &str {
    match commit.strip_prefix(RUN_PREFIX) {
        Some(rest) => {
            let end = RUN_PREFIX.len() + rest.find(' ').unwrap_or(rest.len());
            &commit[..end]
        }
        None => commit.get(..7).unwrap_or(commit),
    }
}

fn short(commit: &str) -> &str {
    short_commit(commit)
}

/// Day of the week of an RFC 3339 UTC timestamp, Monday = 0.
fn weekday_of(rfc3339: &str) -> Option<usize> {
    let ts: jiff::Timestamp = rfc3339.parse().ok()?;
    Some(
        ts.to_zoned(jiff::tz::TimeZone::UTC)
            .weekday()
            .to_monday_zero_offset() as usize,
    )
}

fn hour_of(rfc3339: &str) -> Option<u32> {
    rfc3339.get(11..13)?.parse().ok()
}

fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

/// The evidence dossier of one test (`flakehound explain`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Dossier {
    /// Per commit in order: short sha and one symbol per run: `.` passed, `x` failed,
    /// `r` failed then passed on retry, `!` failed during an incident.
    pub timeline: Vec<(String, String)>,
    pub clusters: Vec<Cluster>,
    /// (runner, runs, failed runs), most failures first.
    pub runners: Vec<(String, u64, u64)>,
    /// Per UTC hour: (runs, failed runs).
    pub hours: Vec<(u64, u64)>,
    /// Tests that ran before this one in failing runs: (test id, share of failing runs, share of
    /// passing runs), most suspicious first.
    pub preceding: Vec<(String, f64, f64)>,
    /// Observations: first/last seen, first/last failure, retries, skips, incident failures.
    /// (Human root-cause notes join these once the knowledge base exists.)
    pub notes: Vec<String>,
}

/// Builds the dossier of the test with id `test_id`, if it has any stored result.
pub fn dossier(ev: &Evidence, test_id: &str) -> Option<Dossier> {
    let test = ev.tests.iter().position(|t| t.id == test_id)?;
    let runs_of = collect_runs(ev);
    let analysis_incidents: HashSet<u32> = find_incidents(ev, &runs_of)
        .iter()
        .map(|i| i.run as u32)
        .collect();
    let mine = &runs_of[test];
    let mut d = Dossier {
        hours: vec![(0, 0); 24],
        ..Default::default()
    };
    let mut runners: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut last_commit: Option<&str> = None;
    let mut messages = Vec::new();
    for r in mine {
        let meta = &ev.runs[r.run as usize];
        let commit = meta.commit.as_deref().unwrap_or("?");
        if last_commit != Some(commit) {
            d.timeline.push((short(commit).to_string(), String::new()));
            last_commit = Some(commit);
        }
        let symbol = if !r.failed_first {
            '.'
        } else if analysis_incidents.contains(&r.run) {
            '!'
        } else if r.retry_pass {
            'r'
        } else {
            'x'
        };
        if let Some(last) = d.timeline.last_mut() {
            last.1.push(symbol);
        }
        let e = runners
            .entry(meta.runner.clone().unwrap_or_else(|| "?".into()))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(r.failed_first);
        if let Some(h) = hour_of(&meta.started_at) {
            let slot = &mut d.hours[(h % 24) as usize];
            slot.0 += 1;
            slot.1 += u64::from(r.failed_first);
        }
        if r.failed_first {
            if let Some(m) = r.message {
                messages.push(ev.messages[m as usize].as_str());
            }
        }
    }
    d.clusters = fingerprint::cluster(messages);
    let when = |r: &TestRun| ev.runs[r.run as usize].started_at.clone();
    if let (Some(first), Some(last)) = (mine.first(), mine.last()) {
        d.notes.push(format!(
            "seen in {} runs, from {} to {}",
            mine.len(),
            when(first),
            when(last)
        ));
    }
    let failing: Vec<&TestRun> = mine.iter().filter(|r| r.failed_first).collect();
    if let (Some(first), Some(last)) = (failing.first(), failing.last()) {
        d.notes.push(format!(
            "first failure {}, last failure {}",
            when(first),
            when(last)
        ));
    }
    let retried = mine.iter().filter(|r| r.retried).count();
    if retried > 0 {
        let passed = mine.iter().filter(|r| r.retry_pass).count();
        d.notes.push(format!(
            "retried in {retried} runs; passed on retry in {passed}"
        ));
    }
    let in_incidents = failing
        .iter()
        .filter(|r| analysis_incidents.contains(&r.run))
        .count();
    if in_incidents > 0 {
        d.notes.push(format!(
            "{in_incidents} failure(s) happened during infrastructure incidents"
        ));
    }
    let skipped = ev
        .results
        .iter()
        .filter(|r| r.test as usize == test && r.attempt == 1 && r.outcome == Outcome::Skipped)
        .count();
    if skipped > 0 {
        d.notes.push(format!("skipped in {skipped} runs"));
    }
    d.runners = runners.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
    d.runners.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    // Preceding tests: presence before this test in failing vs passing runs.
    let mut positions: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for (t, runs) in runs_of.iter().enumerate() {
        for tr in runs {
            positions
                .entry(tr.run)
                .or_default()
                .push((t as u32, tr.position));
        }
    }
    let count = |rs: &mut dyn Iterator<Item = &TestRun>| -> (HashMap<u32, u64>, u64) {
        let mut c: HashMap<u32, u64> = HashMap::new();
        let mut n = 0;
        for r in rs {
            n += 1;
            for &(t, pos) in positions.get(&r.run).map(Vec::as_slice).unwrap_or(&[]) {
                if t as usize != test && pos < r.position {
                    *c.entry(t).or_default() += 1;
                }
            }
        }
        (c, n)
    };
    let (in_fail, n_fail) = count(
        &mut mine
            .iter()
            .filter(|r| r.failed_first && !analysis_incidents.contains(&r.run)),
    );
    let (in_pass, n_pass) = count(&mut mine.iter().filter(|r| !r.failed_first));
    if n_fail > 0 {
        let mut pre: Vec<(String, f64, f64)> = in_fail
            .iter()
            .map(|(t, c)| {
                let pf = *c as f64 / n_fail as f64;
                let pp = if n_pass == 0 {
                    0.0
                } else {
                    *in_pass.get(t).unwrap_or(&0) as f64 / n_pass as f64
                };
                (ev.tests[*t as usize].id.clone(), pf, pp)
            })
            // Only tests that tell failing runs apart from passing ones.
            .filter(|p| p.1 >= 0.5 && p.1 - p.2 >= 0.3)
            .collect();
        pre.sort_by(|a, b| (b.1 - b.2).total_cmp(&(a.1 - a.2)).then(a.0.cmp(&b.0)));
        pre.truncate(5);
        d.preceding = pre;
    }
    Some(d)
}

/// Binomial tail probability below which a place (runner, OS, job) holding at least half of a
/// flaky test's failures is reported as a contributing factor.
pub const FACTOR_P: f64 = 0.001;

/// Shortest failing duration that the duration pattern calls a timeout.
const TIMEOUT_MIN_SECONDS: f32 = 0.1;

#[cfg(test)]
mod tests {

    #[test]
    fn runs_without_commits_are_shown_by_their_start() {
        assert_eq!(short_commit("8fd1be4da9c0ffee"), "8fd1be4");
        assert_eq!(
            short_commit("run 2026-10-18T02:37:00Z local/ab12cd34"),
            "run 2026-10-18T02:37:00Z"
        );
        assert_eq!(short_commit("run x"), "run x");
        assert_eq!(short_commit("abc"), "abc");
    }

    use super::*;
    use flakehound_store::{ResultRow, RunRow, TestRow};

    /// One run per commit `c0, c1, ...`; `plan[i]` lists the attempt outcomes of test `t` in
    /// run i (`"."` pass, `"x"` fail, `"xp"` fail then pass on retry).
    fn history(plan: &[&str]) -> Evidence {
        let mut ev = Evidence {
            tests: vec![TestRow {
                id: "t".into(),
                name: "t".into(),
                ..Default::default()
            }],
            messages: vec!["AssertionError: assert 1 == 2".into()],
            ..Default::default()
        };
        for (i, attempts) in plan.iter().enumerate() {
            ev.runs.push(RunRow {
                key: format!("r{i}"),
                commit: Some(format!("c{i:02}")),
                runner: Some(format!("runner-{}", i % 3)),
                started_at: format!("2026-01-{:02}T{:02}:00:00Z", 1 + i / 20, i % 20),
                ..Default::default()
            });
            for (a, c) in attempts.chars().enumerate() {
                let failed = c == 'x';
                ev.results.push(ResultRow {
                    run: i as u32,
                    test: 0,
                    attempt: a as u32 + 1,
                    position: a as u32,
                    outcome: if failed {
                        Outcome::Failed
                    } else {
                        Outcome::Passed
                    },
                    duration: Some(0.1),
                    message: failed.then_some(0),
                });
            }
        }
        ev
    }

    fn verdict(plan: &[&str]) -> TestVerdict {
        analyse(&history(plan)).verdicts.remove(0)
    }

    #[test]
    fn experiments_are_evidence_but_not_cost() {
        // Ten clean CI runs, then a hunt that saw it fail and pass on retry on one commit.
        let mut plan = vec!["."; 10];
        plan.extend(["x", "xp", ".", "x", "xp", "."]);
        let mut ev = history(&plan);
        for r in &mut ev.runs[10..] {
            r.source = flakehound_model::RunSource::Hunt;
            r.commit = Some("c10".into());
        }
        let v = analyse(&ev).verdicts.remove(0);
        assert_eq!(v.verdict, Verdict::Flaky, "{:?}", v.reasons);
        assert_eq!(v.impact.broken_builds, 0, "no CI build went red");
        assert_eq!(v.impact.reruns, 0);
        assert_eq!(v.impact.ci_minutes, 0.0);
        assert_eq!(v.impact.last_seen, None);
        assert_eq!(
            v.experiments,
            Experiments {
                runs: 6,
                failed_runs: 4
            }
        );
        // The same runs from CI are cost.
        for r in &mut ev.runs[10..] {
            r.source = flakehound_model::RunSource::Ci;
        }
        let v = analyse(&ev).verdicts.remove(0);
        assert_eq!(v.impact.broken_builds, 2);
        assert_eq!(v.impact.reruns, 2);
        assert_eq!(v.experiments, Experiments::default());
    }

    #[test]
    fn a_test_only_ever_skipped_is_not_run_not_stable() {
        let mut ev = history(&[".", "."]);
        ev.tests.push(TestRow {
            id: "skipped".into(),
            name: "skipped".into(),
            ..Default::default()
        });
        for run in 0..2 {
            ev.results.push(ResultRow {
                run,
                test: 1,
                attempt: 1,
                position: 1,
                outcome: Outcome::Skipped,
                duration: None,
                message: None,
            });
        }
        let a = analyse(&ev);
        let v = a.verdicts.iter().find(|v| v.id == "skipped").unwrap();
        assert_eq!(v.verdict, Verdict::NotRun);
        assert!(!v.verdict.is_unstable());
        assert_eq!(a.verdicts.last().unwrap().id, "skipped", "listed last");
        let t = a.verdicts.iter().find(|v| v.id == "t").unwrap();
        assert_eq!(t.verdict, Verdict::Stable);
    }

    #[test]
    fn a_message_shared_by_two_tests_is_a_shared_cluster() {
        let mut ev = history(&["x", ".", "x", ".", "."]);
        ev.tests.push(TestRow {
            id: "u".into(),
            name: "u".into(),
            ..Default::default()
        });
        let extra: Vec<ResultRow> = ev
            .results
            .iter()
            .map(|r| ResultRow {
                test: 1,
                position: 1,
                ..*r
            })
            .collect();
        ev.results.extend(extra);
        ev.results.sort_by_key(|r| (r.run, r.position, r.attempt));
        let a = analyse(&ev);
        assert_eq!(a.shared_clusters.len(), 1);
        assert_eq!(a.shared_clusters[0].test_count, 2);
        assert_eq!(a.shared_clusters[0].failures, 4);
        assert_eq!(
            a.shared_clusters[0].tests,
            vec!["t".to_string(), "u".to_string()]
        );
    }

    #[test]
    fn never_failing_is_stable_with_an_honest_claim() {
        let v = verdict(&["."; 30]);
        assert_eq!(v.verdict, Verdict::Stable);
        assert!(
            v.reasons[0].contains("0 failures in 30 runs"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn failing_every_run_from_the_start_is_broken_without_culprit() {
        let v = verdict(&["x"; 6]);
        assert_eq!(v.verdict, Verdict::Broken);
        assert!(v.culprit.is_none());
    }

    #[test]
    fn clean_history_then_always_failing_is_broken_at_the_first_failure() {
        let mut plan = vec!["."; 20];
        plan.extend(["x"; 10]);
        let v = verdict(&plan);
        assert_eq!(v.verdict, Verdict::Broken);
        assert_eq!(v.culprit.unwrap().commit, "c20");
    }

    #[test]
    fn a_failing_stretch_that_ended_is_fixed() {
        let mut plan = vec!["."; 10];
        plan.extend(["x"; 6]);
        plan.extend(["."; 10]);
        let v = verdict(&plan);
        assert_eq!(v.verdict, Verdict::Fixed);
        assert_eq!(v.culprit.unwrap().commit, "c16");
    }

    /// Failures at a limit, passes well below: a timeout, unless the "limit" is a fraction of
    /// a millisecond.
    #[test]
    fn the_duration_pattern_needs_a_real_limit() {
        let plan: Vec<&str> = (0..30)
            .map(|i| if i % 4 == 1 { "x" } else { "." })
            .collect();
        for (fail, pass, timeout) in [(30.0, 2.0, true), (0.0003, 0.0001, false)] {
            let mut ev = history(&plan);
            ev.messages[0] = "AssertionError: assert 'b a' == 'a b'".into();
            for r in &mut ev.results {
                r.duration = Some(if r.outcome.is_failure() { fail } else { pass });
            }
            let v = analyse(&ev).verdicts.remove(0);
            assert_eq!(
                v.category == Some(Category::Timeout),
                timeout,
                "{fail} s failures, {pass} s passes: {:?}",
                v.category
            );
        }
    }

    #[test]
    fn failures_spread_through_history_with_retry_passes_are_flaky() {
        let plan: Vec<&str> = (0..40)
            .map(|i| if i % 7 == 3 { "xp" } else { "." })
            .collect();
        let v = verdict(&plan);
        assert_eq!(v.verdict, Verdict::Flaky);
        assert_eq!(v.retry_passes, 6);
        assert!(v.confidence > 0.9, "{}", v.confidence);
        assert!(v.category.is_some());
    }
}
