//! What the pages are drawn from: one [`Snapshot`] per project and store generation, built once
//! (the expensive part: the store's failing evidence, its analysis, every test's aggregates) and
//! shared by every request until the evidence changes.
//!
//! The snapshot keeps the *failing* evidence ([`flakehound_store::Store::failing_evidence`]):
//! every run, and the results of the tests that ever failed. A test that never failed has no
//! timeline to draw (it passed every time); its aggregates come from
//! [`flakehound_store::Store::test_stats`].

use flakehound_analysis::fingerprint;
use flakehound_analysis::verdict::Verdict;
use flakehound_analysis::{Report, ReportEntry};
use flakehound_model::{Category, Outcome};
use flakehound_store::{Evidence, QuarantineRecord, Store, TestStats};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One run of one test (of the failing evidence).
#[derive(Clone, Copy, Debug)]
pub struct TestRun {
    /// Index into [`Evidence::runs`].
    pub run: u32,
    /// The first executed attempt failed.
    pub failed_first: bool,
    /// The last executed attempt failed.
    pub failed_last: bool,
    /// More than one executed attempt.
    pub retried: bool,
    /// Message of the first failure (index into [`Evidence::messages`]).
    pub message: Option<u32>,
}

impl TestRun {
    pub fn retry_pass(&self) -> bool {
        self.failed_first && !self.failed_last
    }
}

/// A line of the tests table: every test of the project.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub id: String,
    pub verdict: Verdict,
    pub intermittent: bool,
    pub category: Option<Category>,
    pub owners: Vec<String>,
    pub runs: u64,
    pub failed_runs: u64,
    pub retry_passes: u64,
    pub failure_rate: f64,
    pub confidence: f64,
    pub ci_minutes: f64,
    pub reruns: u64,
    pub broken_builds: u64,
    /// The report's impact score (its order).
    pub cost: f64,
    pub last_seen: Option<String>,
    /// Branches and runners (indexes into [`Snapshot::branches`], [`Snapshot::runners`]) of
    /// the runs it failed in.
    #[serde(skip)]
    pub failed_branches: Vec<u32>,
    #[serde(skip)]
    pub failed_runners: Vec<u32>,
    /// Lowercased id, for the text search.
    #[serde(skip)]
    pub needle: String,
}

/// Per day (UTC) of CI runs.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub runs: u64,
    /// Runs where no test failed its first attempt.
    pub green_first: u64,
    /// Runs where every test's last attempt passed (retries included).
    pub green_final: u64,
    /// First-attempt failures, by the failing test's verdict as of the end of that day
    /// (`incident` for failures in incident runs), for the days of [`TREND_DAYS`]; by today's
    /// verdict before them.
    pub failures: BTreeMap<String, u64>,
    /// Tests by verdict as of the end of that day (unstable verdicts only), for the days of
    /// [`TREND_DAYS`] with runs.
    pub verdicts: BTreeMap<String, u64>,
    /// The same for the main branch only.
    pub main_runs: u64,
    pub main_green_first: u64,
    pub main_green_final: u64,
}

/// Everything the pages need, for one project at one store generation.
pub struct Snapshot {
    pub project: String,
    /// Whether `rows` holds every test (see [`AllTests`]), not only those that ever failed.
    pub complete: bool,
    /// When every test's aggregates were read (see [`Snapshot::adopt`]).
    pub counted_at: std::time::Instant,
    /// How long building it took.
    pub built_ms: u64,
    pub ev: Evidence,
    pub report: Report,
    pub rows: Vec<Row>,
    pub row_of: HashMap<String, usize>,
    /// Index into `report.entries` by test id.
    pub entry_of: HashMap<String, usize>,
    /// Index into `ev.tests` by test id.
    pub ev_test_of: HashMap<String, u32>,
    /// Per `ev.tests`: its runs in run order.
    pub runs_of: Vec<Vec<TestRun>>,
    /// Per run: the tests (into `ev.tests`) whose first attempt failed, and whose last did.
    pub run_failed_first: Vec<Vec<u32>>,
    pub run_failed_last: Vec<u32>,
    /// Incident (index into `report.incidents`) by run index.
    pub incident_of: HashMap<u32, usize>,
    pub run_of_key: HashMap<String, u32>,
    /// Fingerprint index of each message (`u32::MAX`: no fingerprint).
    pub message_fp: Vec<u32>,
    pub fingerprints: Vec<String>,
    pub fp_index: HashMap<String, u32>,
    /// Distinct branches, runners and owners, sorted (the filters' choices).
    pub branches: Vec<String>,
    pub runners: Vec<String>,
    pub owners: Vec<String>,
    pub main_branch: Option<String>,
    /// Days with CI runs, oldest first.
    pub days: Vec<Day>,
    /// CI runs (experiments excluded).
    pub ci_runs: u64,
    /// The commits in the order their first run came.
    pub commit_order: HashMap<String, usize>,
    /// The verdicts as of each recent day (kept for the next snapshot: see [`DayVerdicts`]).
    pub day_verdicts: Arc<Vec<DayVerdicts>>,
    /// How many of them this snapshot analysed (the others came from the earlier one).
    pub days_analysed: usize,
    /// Days of the trend not analysed yet (shown by today's verdicts meanwhile).
    pub days_pending: bool,
}

/// Days of the trend whose verdicts are computed as of that day (the overview shows 30 or 90).
/// `FLAKEHOUND_TREND_DAYS` sets another number (0: every day by today's verdicts, as before;
/// what `benches/dashboard.sh` compares against).
pub const TREND_DAYS: i64 = 90;

/// Days a quick snapshot of a large store analyses at most (the newest: what an upload
/// changed); the complete snapshot built next analyses the others.
pub const QUICK_DAYS: usize = 2;

fn trend_days() -> i64 {
    std::env::var("FLAKEHOUND_TREND_DAYS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|&n| (0..=3660).contains(&n))
        .unwrap_or(TREND_DAYS)
}

/// The verdict of every test as of the end of one day: the verdict engine over the evidence up
/// to that day's last run. Past days do not change when runs arrive, so a snapshot reuses the
/// previous one's days whose evidence is the same (same runs and results up to that day, same
/// last run): after an upload only its day is analysed again.
#[derive(Clone, Debug)]
pub struct DayVerdicts {
    pub day: String,
    /// Runs and results of the evidence up to that day, and the last run's key.
    pub runs: usize,
    pub results: usize,
    pub last_run: String,
    /// Tests whose verdict that day was not stable.
    pub verdicts: HashMap<String, Verdict>,
}

/// The days of `ev` (runs in run order) from `TREND_DAYS` before its newest day, and the last
/// day before them, each analysed over the evidence up to it (or taken from `earlier`).
fn day_verdicts(
    ev: &Evidence,
    store: &mut dyn Store,
    earlier: &[DayVerdicts],
    budget: usize,
) -> (Vec<DayVerdicts>, usize, bool) {
    // Where each day's runs end; runs are in run order, which is by start time.
    let mut ends: Vec<(String, usize)> = Vec::new();
    for (i, r) in ev.runs.iter().enumerate() {
        let Some(day) = r.started_at.get(..10) else {
            continue;
        };
        match ends.last_mut() {
            Some((d, end)) if d.as_str() == day => *end = i + 1,
            _ => ends.push((day.to_string(), i + 1)),
        }
    }
    // Run order is by start time; a day seen again later (a run without a time) would make
    // prefixes mix days: keep the last end of each day, in day order.
    let mut by_day: BTreeMap<String, usize> = BTreeMap::new();
    for (d, end) in ends {
        let e = by_day.entry(d).or_default();
        *e = (*e).max(end);
    }
    let trend_days = trend_days();
    if trend_days == 0 {
        return (Vec::new(), 0, false);
    }
    let Some(newest) = by_day
        .keys()
        .next_back()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    else {
        return (Vec::new(), 0, false);
    };
    let first = newest
        .checked_sub(jiff::Span::new().days(trend_days - 1))
        .unwrap_or(newest)
        .to_string();
    let before = by_day
        .range(..first.clone())
        .next_back()
        .map(|(d, e)| (d.clone(), *e));
    let wanted: Vec<(String, usize)> = before
        .into_iter()
        .chain(by_day.range(first..).map(|(d, e)| (d.clone(), *e)))
        .collect();
    // Result prefixes: results are ordered by run.
    let result_end = |runs: usize| ev.results.partition_point(|r| (r.run as usize) < runs);
    let keys: Vec<String> = ev.runs.iter().map(|r| r.key.clone()).collect();
    let mut orders: HashMap<usize, Vec<(String, u32)>> = HashMap::new();
    let mut out = Vec::with_capacity(wanted.len());
    let mut analysed = 0;
    let mut pending = false;
    // Newest first: within the budget, the days an upload changed.
    for (day, runs) in wanted.into_iter().rev() {
        let results = result_end(runs);
        let last_run = keys[runs - 1].clone();
        if let Some(e) = earlier.iter().find(|e| {
            e.day == day && e.runs == runs && e.results == results && e.last_run == last_run
        }) {
            out.push(e.clone());
            continue;
        }
        if analysed >= budget {
            pending = true;
            continue;
        }
        let prefix = Evidence {
            runs: ev.runs[..runs].to_vec(),
            tests: ev.tests.clone(),
            results: ev.results[..results].to_vec(),
            messages: ev.messages.clone(),
            run_sizes: ev.run_sizes[..runs.min(ev.run_sizes.len())].to_vec(),
        };
        let mut fetch = |run: usize| {
            orders
                .entry(run)
                .or_insert_with(|| store.run_order(&keys[run]).unwrap_or_default())
                .clone()
        };
        let analysis = flakehound_analysis::verdict::analyse_with(&prefix, &mut fetch);
        analysed += 1;
        let verdicts = analysis
            .verdicts
            .into_iter()
            .filter(|v| v.verdict.is_unstable())
            .map(|v| (v.id, v.verdict))
            .collect();
        out.push(DayVerdicts {
            day,
            runs,
            results,
            last_run,
            verdicts,
        });
    }
    out.reverse();
    (out, analysed, pending)
}

/// Stores with more results than this get their snapshot in two steps (see [`AllTests`]).
pub const LARGE: u64 = 1_000_000;

/// Whether a snapshot lists the tests that never failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllTests {
    /// Always: every test's aggregates ([`Store::test_stats`], which reads every result: about
    /// 40 s and 1 GB of SQLite sorting at 10M results).
    Always,
    /// Only for stores of at most this many results (the dashboard uses [`LARGE`]); a larger
    /// store's snapshot lists the tests that ever failed (from the failing evidence, seconds at
    /// 10M results) and is [`Snapshot::complete`] `false` until the caller builds the full one.
    IfAtMost(u64),
}

/// Builds a snapshot from `store`. `owners` names a test's owners (CODEOWNERS locally; nobody
/// on the server, where the quarantine's owner is used); `quarantine` adds its owners.
pub fn build(
    store: &mut dyn Store,
    owners: &dyn Fn(&str, Option<&str>) -> Vec<String>,
    quarantine: &[QuarantineRecord],
    all: AllTests,
) -> anyhow::Result<Snapshot> {
    build_with(store, owners, quarantine, all, &[])
}

/// [`build`], reusing the verdicts per day of an earlier snapshot where the evidence up to
/// that day is unchanged.
pub fn build_with(
    store: &mut dyn Store,
    owners: &dyn Fn(&str, Option<&str>) -> Vec<String>,
    quarantine: &[QuarantineRecord],
    all: AllTests,
    earlier: &[DayVerdicts],
) -> anyhow::Result<Snapshot> {
    let started = std::time::Instant::now();
    let project = store.project().to_string();
    let (mut report, ev) = flakehound_analysis::report_and_evidence(store)?;
    // Every run lists how many tests it executed: the store's size, for free.
    let results: u64 = ev.run_sizes.iter().sum();
    let complete = match all {
        AllTests::Always => true,
        AllTests::IfAtMost(n) => results <= n,
    };
    let stats: Vec<TestStats> = if complete {
        store.test_stats()?
    } else {
        flakehound_analysis::stats_from_evidence(&ev)
    };
    let quarantine_owner: HashMap<&str, &str> = quarantine
        .iter()
        .map(|q| (q.test.as_str(), q.owner.as_str()))
        .collect();
    for e in &mut report.entries {
        e.owners = owners(&e.ranked.id, e.ranked.file.as_deref());
    }
    let entry_of: HashMap<String, usize> = report
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.ranked.id.clone(), i))
        .collect();

    // Runs of each failing test. Results are ordered by run, so a test's attempts in one run
    // are the tail of its list; within a run they may come in any attempt order (a retry's
    // report numbers its positions from 0), hence the attempt numbers.
    let mut runs_of: Vec<Vec<TestRun>> = vec![Vec::new(); ev.tests.len()];
    // Per test: the first, last and first failed attempt numbers of its latest run.
    let mut attempts: Vec<(u32, u32, u32)> = vec![(0, 0, 0); ev.tests.len()];
    for r in &ev.results {
        if r.outcome == Outcome::Skipped {
            continue;
        }
        let failed = matches!(r.outcome, Outcome::Failed | Outcome::Errored);
        let list = &mut runs_of[r.test as usize];
        let (first_a, last_a, failed_a) = &mut attempts[r.test as usize];
        match list.last_mut() {
            Some(last) if last.run == r.run => {
                last.retried = true;
                if r.attempt < *first_a {
                    *first_a = r.attempt;
                    last.failed_first = failed;
                }
                if r.attempt > *last_a {
                    *last_a = r.attempt;
                    last.failed_last = failed;
                }
                if failed && r.attempt < *failed_a {
                    *failed_a = r.attempt;
                    last.message = r.message;
                }
            }
            _ => {
                list.push(TestRun {
                    run: r.run,
                    failed_first: failed,
                    failed_last: failed,
                    retried: false,
                    message: if failed { r.message } else { None },
                });
                *first_a = r.attempt;
                *last_a = r.attempt;
                *failed_a = if failed { r.attempt } else { u32::MAX };
            }
        }
    }
    drop(attempts);
    let mut run_failed_first: Vec<Vec<u32>> = vec![Vec::new(); ev.runs.len()];
    let mut run_failed_last: Vec<u32> = vec![0; ev.runs.len()];
    for (t, list) in runs_of.iter().enumerate() {
        for tr in list {
            if tr.failed_first {
                run_failed_first[tr.run as usize].push(t as u32);
            }
            if tr.failed_last {
                run_failed_last[tr.run as usize] += 1;
            }
        }
    }
    let run_of_key: HashMap<String, u32> = ev
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.clone(), i as u32))
        .collect();
    let incident_of: HashMap<u32, usize> = report
        .incidents
        .iter()
        .enumerate()
        .filter_map(|(i, inc)| run_of_key.get(&inc.run).map(|&r| (r, i)))
        .collect();
    let mut fp_index: HashMap<String, u32> = HashMap::new();
    let mut fingerprints = Vec::new();
    let message_fp: Vec<u32> = ev
        .messages
        .iter()
        .map(|m| {
            let fp = fingerprint::fingerprint(m);
            if fp.is_empty() {
                return u32::MAX;
            }
            *fp_index.entry(fp.clone()).or_insert_with(|| {
                fingerprints.push(fp);
                (fingerprints.len() - 1) as u32
            })
        })
        .collect();
    let mut commit_order: HashMap<String, usize> = HashMap::new();
    for r in &ev.runs {
        if let Some(c) = &r.commit {
            let n = commit_order.len();
            commit_order.entry(c.clone()).or_insert(n);
        }
    }

    // Branches and runners.
    let mut branches: Vec<String> = ev.runs.iter().filter_map(|r| r.branch.clone()).collect();
    branches.sort();
    branches.dedup();
    let mut runners: Vec<String> = ev.runs.iter().filter_map(|r| r.runner.clone()).collect();
    runners.sort();
    runners.dedup();
    let branch_ix: HashMap<&str, u32> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| (b.as_str(), i as u32))
        .collect();
    let runner_ix: HashMap<&str, u32> = runners
        .iter()
        .enumerate()
        .map(|(i, b)| (b.as_str(), i as u32))
        .collect();
    let main_branch = main_branch(&ev);

    // Rows: every test, the report's entries first (by cost), then the others by id.
    let ev_test_of: HashMap<String, u32> = ev
        .tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i as u32))
        .collect();
    let mut rows: Vec<Row> = Vec::with_capacity(stats.len());
    let mut stats_by_id: HashMap<String, TestStats> =
        stats.into_iter().map(|s| (s.id.clone(), s)).collect();
    let failed_where = |id: &str| -> (Vec<u32>, Vec<u32>) {
        let Some(&t) = ev_test_of.get(id) else {
            return (Vec::new(), Vec::new());
        };
        let mut b = Vec::new();
        let mut r = Vec::new();
        for tr in runs_of[t as usize].iter().filter(|tr| tr.failed_first) {
            let run = &ev.runs[tr.run as usize];
            if let Some(x) = run.branch.as_deref().and_then(|x| branch_ix.get(x)) {
                b.push(*x);
            }
            if let Some(x) = run.runner.as_deref().and_then(|x| runner_ix.get(x)) {
                r.push(*x);
            }
        }
        b.sort_unstable();
        b.dedup();
        r.sort_unstable();
        r.dedup();
        (b, r)
    };
    let with_quarantine_owner = |id: &str, mut o: Vec<String>| {
        if let Some(q) = quarantine_owner.get(id) {
            if !q.is_empty() && !o.iter().any(|x| x == q) {
                o.push(q.to_string());
            }
        }
        o
    };
    for e in &report.entries {
        stats_by_id.remove(&e.ranked.id);
        let (fb, fr) = failed_where(&e.ranked.id);
        rows.push(row_of_entry(
            e,
            with_quarantine_owner(&e.ranked.id, e.owners.clone()),
            fb,
            fr,
        ));
    }
    let mut rest: Vec<TestStats> = stats_by_id.into_values().collect();
    rest.sort_by(|a, b| a.id.cmp(&b.id));
    for s in rest {
        let (fb, fr) = failed_where(&s.id);
        let executed = s.passes + s.failures;
        rows.push(Row {
            needle: s.id.to_lowercase(),
            owners: with_quarantine_owner(&s.id, Vec::new()),
            verdict: if s.runs == 0 {
                Verdict::NotRun
            } else {
                Verdict::Stable
            },
            intermittent: false,
            category: None,
            runs: s.runs,
            failed_runs: s.failed_runs,
            retry_passes: s.retry_passes,
            failure_rate: if executed == 0 {
                0.0
            } else {
                s.failures as f64 / executed as f64
            },
            confidence: 0.0,
            ci_minutes: 0.0,
            reruns: 0,
            broken_builds: 0,
            cost: 0.0,
            last_seen: s.last_seen,
            failed_branches: fb,
            failed_runners: fr,
            id: s.id,
        });
    }
    let row_of: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let mut owners: Vec<String> = rows.iter().flat_map(|r| r.owners.clone()).collect();
    owners.sort();
    owners.dedup();

    // Days: the verdicts as of each recent day, and today's before them.
    // A complete snapshot analyses every day it lacks; the quick first one of a large store
    // (see [`AllTests`]) only the newest few (an upload's), leaving the rest to the complete
    // one built next in the background.
    let budget = if complete { usize::MAX } else { QUICK_DAYS };
    let (day_verdicts, days_analysed, days_pending) = day_verdicts(&ev, store, earlier, budget);
    let as_of: HashMap<&str, &DayVerdicts> =
        day_verdicts.iter().map(|d| (d.day.as_str(), d)).collect();
    let verdict_of_ev_test: Vec<&'static str> = ev
        .tests
        .iter()
        .map(|t| {
            row_of
                .get(&t.id)
                .map_or("stable", |&i| rows[i].verdict.as_str())
        })
        .collect();
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    let mut ci_runs = 0;
    for (i, run) in ev.runs.iter().enumerate() {
        if run.source.is_experiment() {
            continue;
        }
        ci_runs += 1;
        let Some(day) = run.started_at.get(..10) else {
            continue;
        };
        let d = days.entry(day.to_string()).or_insert_with(|| Day {
            day: day.to_string(),
            ..Day::default()
        });
        let green_first = run_failed_first[i].is_empty();
        let green_final = run_failed_last[i] == 0;
        d.runs += 1;
        d.green_first += u64::from(green_first);
        d.green_final += u64::from(green_final);
        if main_branch.is_some() && run.branch == main_branch {
            d.main_runs += 1;
            d.main_green_first += u64::from(green_first);
            d.main_green_final += u64::from(green_final);
        }
        let incident = incident_of.contains_key(&(i as u32));
        let that_day = as_of.get(day);
        for &t in &run_failed_first[i] {
            let v = if incident {
                "incident"
            } else if let Some(dv) = that_day {
                dv.verdicts
                    .get(&ev.tests[t as usize].id)
                    .map_or("stable", |v| v.as_str())
            } else {
                verdict_of_ev_test[t as usize]
            };
            *d.failures.entry(v.to_string()).or_default() += 1;
        }
    }
    for dv in &day_verdicts {
        if let Some(d) = days.get_mut(&dv.day) {
            for v in dv.verdicts.values() {
                *d.verdicts.entry(v.as_str().to_string()).or_default() += 1;
            }
        }
    }
    Ok(Snapshot {
        project,
        complete,
        counted_at: std::time::Instant::now(),
        built_ms: started.elapsed().as_millis() as u64,
        ev,
        report,
        rows,
        row_of,
        entry_of,
        ev_test_of,
        runs_of,
        run_failed_first,
        run_failed_last,
        incident_of,
        run_of_key,
        message_fp,
        fingerprints,
        fp_index,
        branches,
        runners,
        owners,
        main_branch,
        days: days.into_values().collect(),
        ci_runs,
        commit_order,
        day_verdicts: Arc::new(day_verdicts),
        days_analysed,
        days_pending,
    })
}

fn row_of_entry(e: &ReportEntry, owners: Vec<String>, fb: Vec<u32>, fr: Vec<u32>) -> Row {
    Row {
        id: e.ranked.id.clone(),
        needle: e.ranked.id.to_lowercase(),
        verdict: e.verdict,
        intermittent: e.intermittent,
        category: e.category,
        owners,
        runs: e.ranked.runs,
        failed_runs: e.ranked.failed_runs,
        retry_passes: e.ranked.retry_passes,
        failure_rate: e.ranked.failure_rate,
        confidence: e.confidence,
        ci_minutes: e.impact.ci_minutes,
        reruns: e.impact.reruns,
        broken_builds: e.impact.broken_builds,
        cost: e.impact.score,
        last_seen: e.ranked.last_seen.clone(),
        failed_branches: fb,
        failed_runners: fr,
    }
}

/// The main branch: `main` or `master` when runs name it, else the branch with most CI runs.
fn main_branch(ev: &Evidence) -> Option<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for r in ev.runs.iter().filter(|r| !r.source.is_experiment()) {
        if let Some(b) = r.branch.as_deref() {
            *counts.entry(b).or_default() += 1;
        }
    }
    for name in ["main", "master", "trunk", "develop"] {
        if counts.contains_key(name) {
            return Some(name.to_string());
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(b, _)| b.to_string())
}

impl Snapshot {
    /// Completes a snapshot that lists only the tests that ever failed with the other tests of
    /// an earlier complete one (their aggregates as of [`Snapshot::counted_at`]), so that a
    /// large store is not recounted after every upload.
    pub fn adopt(&mut self, earlier: &Snapshot) {
        if self.complete || !earlier.complete {
            return;
        }
        for r in &earlier.rows {
            if !self.row_of.contains_key(&r.id) {
                let mut r = r.clone();
                // Its failures (if any) are in this snapshot's evidence; it has none there.
                r.failed_branches.clear();
                r.failed_runners.clear();
                self.rows.push(r);
            }
        }
        let first_other = self.report.entries.len().min(self.rows.len());
        self.rows[first_other..].sort_by(|a, b| a.id.cmp(&b.id));
        self.row_of = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let mut owners: Vec<String> = self.rows.iter().flat_map(|r| r.owners.clone()).collect();
        owners.sort();
        owners.dedup();
        self.owners = owners;
        self.complete = true;
        self.counted_at = earlier.counted_at;
    }

    pub fn entry(&self, id: &str) -> Option<&ReportEntry> {
        self.entry_of.get(id).map(|&i| &self.report.entries[i])
    }

    pub fn row(&self, id: &str) -> Option<&Row> {
        self.row_of.get(id).map(|&i| &self.rows[i])
    }

    /// The runs of test `id` (empty for a test that never failed).
    pub fn test_runs(&self, id: &str) -> &[TestRun] {
        self.ev_test_of
            .get(id)
            .map_or(&[][..], |&t| &self.runs_of[t as usize])
    }

    pub fn fingerprint_of(&self, message: Option<u32>) -> Option<u32> {
        let m = message?;
        self.message_fp
            .get(m as usize)
            .copied()
            .filter(|&f| f != u32::MAX)
    }
}
