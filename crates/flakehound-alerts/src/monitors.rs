//! The monitors: what each one sees in a project's evidence ([`Snapshot`]) and whether each of
//! its subjects is alarming, recovered, or in between ([`Level`]).
//!
//! Per-test monitors read every test's *trials*: a run's first executed attempt (as the
//! verdict engine does), in run order, leaving out the runs that are incidents (many tests
//! failing together: the incident is alerted once, its failures are not each test's change).
//!
//! **Surprise.** `new_flaky` and `failure_rate` ask how unlikely the recent failures are at the
//! test's earlier rate. For each split of the test's last [`WINDOW`] trials at a failure, with
//! `f0` failures in the `n0` trials before it and `f1` in the `n1` from it on, the earlier rate
//! is `p0 = (f0 + ½)/(n0 + 1)` (Jeffreys) and the surprise is the binomial tail
//! `P(X ≥ f1 | n1, p0)`; the monitor's confidence is one minus the smallest tail over the splits.
//! A test that passed 100 runs and then failed once scores `1 − 0.005 = 0.995`; one that
//! passed 10 runs, `0.95`.

use crate::config::Config;
use flakehound_analysis::verdict::Verdict;
use flakehound_analysis::{Report, ReportEntry};
use flakehound_model::Outcome;
use flakehound_store::{AlertState, Evidence, QuarantineRecord, Store, StoreError};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// Trials (newest) where a change may start.
pub const WINDOW: usize = 60;

/// One run of the project.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub key: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub started_at: String,
    /// Tests it executed.
    pub size: u64,
    /// Tests whose first attempt failed.
    pub failed: u64,
}

/// One run of one test.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// Index into [`Snapshot::runs`].
    pub run: u32,
    pub failed_first: bool,
    pub failed_last: bool,
    pub message: Option<u32>,
}

/// A test that failed at least once.
#[derive(Clone, Debug)]
pub struct Series {
    pub id: String,
    pub file: Option<String>,
    pub points: Vec<Point>,
}

/// A quarantined test, from the repository's file or the server.
#[derive(Clone, Debug)]
pub struct QuarantineItem {
    pub test: String,
    pub owner: String,
    /// `YYYY-MM-DD`: the last day it is current.
    pub expires: String,
    /// `file` or `server`.
    pub source: String,
}

/// What the monitors read about a project.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub project: String,
    pub runs: Vec<RunInfo>,
    pub tests: Vec<Series>,
    pub messages: Vec<String>,
    pub report: Report,
    /// Runs that are incidents (the verdict engine's, and runs where many tests failed together
    /// and did not go on failing in the next run).
    pub incidents: BTreeSet<u32>,
    pub quarantine: Vec<QuarantineItem>,
}

impl Snapshot {
    /// Reads the evidence of the tests that ever failed and runs the verdict engine over it.
    pub fn load(store: &mut dyn Store, cfg: &Config) -> Result<Snapshot, StoreError> {
        let ev = store.failing_evidence()?;
        Ok(Snapshot::from_evidence(store.project(), &ev, cfg))
    }

    pub fn from_evidence(project: &str, ev: &Evidence, cfg: &Config) -> Snapshot {
        let stats = flakehound_analysis::stats_from_evidence(ev);
        let mut report = flakehound_analysis::report(stats, ev, false);
        report.entries.retain(|e| e.verdict != Verdict::NotRun);
        let mut runs: Vec<RunInfo> = ev
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| RunInfo {
                key: r.key.clone(),
                commit: r.commit.clone(),
                branch: r.branch.clone(),
                started_at: r.started_at.clone(),
                size: ev.run_sizes.get(i).copied().unwrap_or(0),
                failed: 0,
            })
            .collect();
        // Per test, per run: first and last executed attempt.
        let mut by_test: Vec<HashMap<u32, Point>> = vec![HashMap::new(); ev.tests.len()];
        for r in &ev.results {
            if r.outcome == Outcome::Skipped {
                continue;
            }
            let failed = r.outcome.is_failure();
            let e = by_test[r.test as usize].entry(r.run).or_insert(Point {
                run: r.run,
                failed_first: failed,
                failed_last: failed,
                message: if failed { r.message } else { None },
            });
            // Results come by run, position, attempt: later attempts overwrite the last.
            e.failed_last = failed;
        }
        let mut tests = Vec::new();
        for (t, points) in by_test.into_iter().enumerate() {
            let mut points: Vec<Point> = points.into_values().collect();
            if !points.iter().any(|p| p.failed_first || p.failed_last) {
                continue;
            }
            points.sort_by_key(|p| p.run);
            for p in points.iter().filter(|p| p.failed_first) {
                runs[p.run as usize].failed += 1;
            }
            tests.push(Series {
                id: ev.tests[t].id.clone(),
                file: ev.tests[t].file.clone(),
                points,
            });
        }
        let mut incidents: BTreeSet<u32> = BTreeSet::new();
        let key_index: HashMap<&str, u32> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.as_str(), i as u32))
            .collect();
        for inc in &report.incidents {
            if let Some(&i) = key_index.get(inc.run.as_str()) {
                incidents.insert(i);
            }
        }
        // Mass failures: provisional incidents unless the same tests fail again in the next run
        // (then it is a change, e.g. a commit that broke many tests).
        let ic = &cfg.monitors.incident;
        let failing_in = |run: u32| -> BTreeSet<usize> {
            tests
                .iter()
                .enumerate()
                .filter(|(_, s)| s.points.iter().any(|p| p.run == run && p.failed_first))
                .map(|(i, _)| i)
                .collect()
        };
        for (i, r) in runs.iter().enumerate() {
            if r.failed < ic.min_tests || (r.failed as f64) < ic.min_share * r.size as f64 {
                continue;
            }
            let here = failing_in(i as u32);
            let persists = (i + 1 < runs.len()) && {
                let next = failing_in(i as u32 + 1);
                here.intersection(&next).count() * 2 >= here.len()
            };
            if !persists {
                incidents.insert(i as u32);
            }
        }
        Snapshot {
            project: project.to_string(),
            runs,
            tests,
            messages: ev.messages.clone(),
            report,
            incidents,
            quarantine: Vec::new(),
        }
    }

    /// Adds quarantine entries (the repository file's, the server's).
    pub fn add_quarantine_file(&mut self, file: &flakehound_quarantine::QuarantineFile) {
        for e in file.entries() {
            self.quarantine.push(QuarantineItem {
                test: e.id.clone(),
                owner: e.owner.clone(),
                expires: e.expires.to_string(),
                source: "file".into(),
            });
        }
    }

    pub fn add_quarantine_records(&mut self, records: &[QuarantineRecord]) {
        for r in records {
            // The repository's entry wins for a test in both.
            if self.quarantine.iter().any(|q| q.test == r.test) {
                continue;
            }
            self.quarantine.push(QuarantineItem {
                test: r.test.clone(),
                owner: r.owner.clone(),
                expires: r.expires.clone(),
                source: "server".into(),
            });
        }
    }

    fn entry(&self, id: &str) -> Option<&ReportEntry> {
        self.report.entries.iter().find(|e| e.ranked.id == id)
    }

    fn is_main(&self, run: u32, branches: &[String]) -> bool {
        match &self.runs[run as usize].branch {
            None => true,
            Some(b) => branches.iter().any(|m| m == b),
        }
    }
}

/// What a monitor says about a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Past the alarm threshold: the subject should be in state [`Observation::state`].
    Alarm,
    /// Below the recover threshold: the subject should be `ok`.
    Clear,
    /// Between the thresholds: it stays as it is.
    Hold,
}

/// One monitor's finding about one subject.
#[derive(Clone, Debug)]
pub struct Observation {
    pub monitor: &'static str,
    pub subject: String,
    pub level: Level,
    /// The state an [`Level::Alarm`] moves to (`alarm`, `expiring`, `expired`, …).
    pub state: String,
    /// The test it is about, when it is about one.
    pub test: Option<String>,
    pub title: String,
    /// Why, in one or two sentences with the numbers.
    pub summary: String,
    pub facts: Vec<(String, String)>,
    /// Run keys of the evidence.
    pub runs: Vec<String>,
    /// Kept with the state (what recovery compares against).
    pub detail: serde_json::Value,
    /// A commit the alert blames (its author is looked up when a repository is at hand).
    pub culprit: Option<String>,
}

impl Observation {
    fn new(monitor: &'static str, subject: &str, level: Level) -> Observation {
        Observation {
            monitor,
            subject: subject.to_string(),
            level,
            state: if level == Level::Clear { "ok" } else { "alarm" }.to_string(),
            test: None,
            title: String::new(),
            summary: String::new(),
            facts: Vec::new(),
            runs: Vec::new(),
            detail: json!({}),
            culprit: None,
        }
    }
}

type States<'a> = HashMap<(&'a str, &'a str), &'a AlertState>;

/// The best split of trials `t` (see the module docs): (index, f0, n0, f1, n1, tail). The
/// recent stretch runs from a failure to the newest failure: passes after the newest failure do
/// not make the failures less surprising (they are the recovery's business).
fn best_split(t: &[bool], min_history: usize) -> Option<(usize, u64, u64, u64, u64, f64)> {
    let n = t.len();
    let last = t.iter().rposition(|f| *f)?;
    let start = n.saturating_sub(WINDOW).max(min_history.max(1));
    if start > last {
        return None;
    }
    let mut before_f: u64 = t[..start].iter().filter(|&&f| f).count() as u64;
    let mut after_f: u64 = t[start..=last].iter().filter(|&&f| f).count() as u64;
    let mut best: Option<(usize, u64, u64, u64, u64, f64)> = None;
    for (k, &failed) in t.iter().enumerate().take(last + 1).skip(start) {
        if failed {
            let (f0, n0) = (before_f, k as u64);
            let (f1, n1) = (after_f, (last + 1 - k) as u64);
            let p0 = (f0 as f64 + 0.5) / (n0 as f64 + 1.0);
            if f1 as f64 / n1 as f64 > p0 {
                let tail = flakehound_analysis::stats::binomial_sf(f1, n1, p0);
                if best.is_none_or(|b| tail < b.5) {
                    best = Some((k, f0, n0, f1, n1, tail));
                }
            }
            before_f += 1;
            after_f -= 1;
        }
    }
    best
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn short(c: &str) -> &str {
    flakehound_analysis::verdict::short_commit(c)
}

/// Every monitor over `snap` given the current `states`, at `now`.
pub fn evaluate(
    snap: &Snapshot,
    cfg: &Config,
    states: &[AlertState],
    now: jiff::Timestamp,
) -> Vec<Observation> {
    let st: States = states
        .iter()
        .map(|s| ((s.monitor.as_str(), s.subject.as_str()), s))
        .collect();
    let alarmed = |m: &str, s: &str| st.get(&(m, s)).is_some_and(|x| x.state != "ok");
    let mut out = Vec::new();
    let m = &cfg.monitors;
    let branches = cfg.main_branches();
    for s in &snap.tests {
        let pts: Vec<&Point> = s
            .points
            .iter()
            .filter(|p| !snap.incidents.contains(&p.run))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let trials: Vec<bool> = pts.iter().map(|p| p.failed_first).collect();
        let key = |i: usize| snap.runs[pts[i].run as usize].key.clone();
        let trailing_clean = trials.iter().rev().take_while(|f| !**f).count() as u64;
        let failing_keys = |from: usize| -> Vec<String> {
            (from..pts.len())
                .filter(|&i| trials[i])
                .rev()
                .take(5)
                .map(key)
                .collect()
        };
        let split = best_split(&trials, m.new_flaky.min_history as usize);
        // Where a monitor's alarm on this test started (its `since` run), as a trial index.
        let since_index = |monitor: &str| -> Option<usize> {
            let state = st
                .get(&(monitor, s.id.as_str()))
                .filter(|x| x.state != "ok")?;
            let detail: serde_json::Value = state.detail.parse().ok()?;
            let since = detail["since"].as_str()?;
            pts.iter()
                .position(|p| snap.runs[p.run as usize].key == since)
        };
        let entry = snap.entry(&s.id);

        // new_flaky
        if m.new_flaky.enabled {
            let c = &m.new_flaky;
            if alarmed("new_flaky", &s.id) {
                let detail: serde_json::Value = st[&("new_flaky", s.id.as_str())]
                    .detail
                    .parse()
                    .unwrap_or_default();
                let since = detail["since"].as_str().unwrap_or_default();
                let from = pts
                    .iter()
                    .position(|p| snap.runs[p.run as usize].key == since)
                    .unwrap_or(0);
                // The rate while failing: from the alarm's start to the newest failure (the
                // clean streak since is what is being judged, not part of the rate).
                let end = trials.len() - trailing_clean as usize;
                let f = trials[from.min(end)..end].iter().filter(|f| **f).count() as f64;
                let n = end.saturating_sub(from) as f64;
                let rate = (f / n.max(1.0)).clamp(0.01, 0.99);
                let p_streak = (1.0 - rate).powf(trailing_clean as f64);
                if trailing_clean >= c.recover_runs && p_streak < c.recover_p {
                    let mut o = Observation::new("new_flaky", &s.id, Level::Clear);
                    o.test = Some(s.id.clone());
                    o.title = format!("{} recovered", s.id);
                    o.summary = format!(
                        "{} clean runs in a row since the last failure; at its failure rate while alarming ({} of {} runs, {}) such a streak has probability {:.4}.",
                        trailing_clean,
                        f as u64,
                        n as u64,
                        pct(rate),
                        p_streak
                    );
                    o.facts = vec![
                        ("clean runs".into(), trailing_clean.to_string()),
                        ("failure rate while alarming".into(), pct(rate)),
                    ];
                    o.runs = vec![key(pts.len() - 1)];
                    out.push(o);
                } else {
                    out.push(Observation::new("new_flaky", &s.id, Level::Hold));
                }
            } else {
                let mut fired = false;
                if let Some((k, f0, n0, f1, n1, tail)) = split {
                    let stable_before = f0 as f64 / n0 as f64 <= c.stable_rate;
                    let intermittent = trials[k..].iter().any(|f| !*f)
                        || pts[k..].iter().any(|p| p.failed_first && !p.failed_last);
                    // Not alarming when the recover threshold already holds (the failures are old
                    // news: recovered since), or the alarm would flap with the recovery.
                    let rate = (f1 as f64 / n1 as f64).clamp(0.01, 0.99);
                    let recovered = trailing_clean >= c.recover_runs
                        && (1.0 - rate).powf(trailing_clean as f64) < c.recover_p;
                    if stable_before
                        && n0 >= c.min_history
                        && 1.0 - tail >= c.alarm_confidence
                        && intermittent
                        && !recovered
                    {
                        let mut o = Observation::new("new_flaky", &s.id, Level::Alarm);
                        o.test = Some(s.id.clone());
                        o.title = format!("{} started failing intermittently", s.id);
                        let retried = pts[k..]
                            .iter()
                            .filter(|p| p.failed_first && !p.failed_last)
                            .count();
                        o.summary = format!(
                            "It failed {f1} of {n1} runs from its first recent failure to its newest, after {f0} failures in the {n0} runs before (confidence {:.3} that this is a change, not chance){}.",
                            1.0 - tail,
                            if retried > 0 {
                                format!("; {retried} of those failures passed on retry")
                            } else {
                                String::new()
                            }
                        );
                        o.facts = vec![
                            ("recent".into(), format!("{f1}/{n1} runs failed")),
                            ("before".into(), format!("{f0}/{n0} runs failed")),
                            ("confidence".into(), format!("{:.3}", 1.0 - tail)),
                        ];
                        if let Some(e) = entry {
                            o.facts.push(("verdict".into(), verdict_text(e)));
                        }
                        o.runs = failing_keys(k);
                        o.detail = json!({"since": key(k), "f1": f1, "n1": n1, "f0": f0, "n0": n0, "confidence": 1.0 - tail});
                        out.push(o);
                        fired = true;
                    }
                }
                // The verdict engine's flaky tests, unless a clean streak since their last
                // failure already meets the recover threshold at their failure rate.
                // (The rate the recovery will judge by: from the first failure to the newest.)
                let end = trials.len() - trailing_clean as usize;
                let first = trials.iter().position(|f| *f).unwrap_or(0).min(end);
                let overall = (trials[first..end].iter().filter(|f| **f).count() as f64
                    / (end - first).max(1) as f64)
                    .clamp(0.01, 0.99);
                let quiet = trailing_clean >= c.recover_runs
                    && (1.0 - overall).powf(trailing_clean as f64) < c.recover_p;
                if !fired && !quiet {
                    if let Some(e) = entry.filter(|e| {
                        e.verdict == Verdict::Flaky && e.confidence >= c.verdict_confidence
                    }) {
                        let first = trials.iter().position(|f| *f).unwrap_or(0);
                        let mut o = Observation::new("new_flaky", &s.id, Level::Alarm);
                        o.test = Some(s.id.clone());
                        o.title = format!("{} is flaky", s.id);
                        o.summary = format!(
                            "The verdict engine calls it flaky with confidence {:.2}: it failed {} of {} runs, {} passed on retry, {} commits both passed and failed it.",
                            e.confidence,
                            e.ranked.failed_runs,
                            e.ranked.runs,
                            e.ranked.retry_passes,
                            e.ranked.flaky_commits
                        );
                        o.facts = vec![
                            (
                                "failed runs".into(),
                                format!("{}/{}", e.ranked.failed_runs, e.ranked.runs),
                            ),
                            ("confidence".into(), format!("{:.2}", e.confidence)),
                        ];
                        o.runs = failing_keys(first);
                        o.detail = json!({"since": key(first), "verdict": "flaky", "confidence": e.confidence});
                        out.push(o);
                    }
                }
            }
        }

        // failure_rate
        if m.failure_rate.enabled {
            let c = &m.failure_rate;
            let alarmed_fr = alarmed("failure_rate", &s.id);
            let mut settled = false;
            if alarmed_fr {
                let detail: serde_json::Value = st[&("failure_rate", s.id.as_str())]
                    .detail
                    .parse()
                    .unwrap_or_default();
                let p0 = detail["p0"].as_f64().unwrap_or(0.0);
                let w = (c.recover_runs as usize).min(trials.len());
                let recent = trials[trials.len() - w..].iter().filter(|f| **f).count() as f64
                    / w.max(1) as f64;
                if w as u64 >= c.recover_runs && recent <= c.recover_factor * p0 {
                    let mut o = Observation::new("failure_rate", &s.id, Level::Clear);
                    o.test = Some(s.id.clone());
                    o.title = format!("{}: failure rate back down", s.id);
                    o.summary = format!(
                        "It failed {} of its last {w} runs, back to its earlier rate of {}.",
                        pct(recent),
                        pct(p0)
                    );
                    o.facts = vec![
                        (format!("last {w} runs"), pct(recent)),
                        ("earlier".into(), pct(p0)),
                    ];
                    out.push(o);
                    settled = true;
                }
            }
            // A rise: against the rate since the test became flaky (not the clean history
            // before), or, while alarming, against the rate since the alarm (a further rise is
            // a new state, `alarm:2`, …).
            let from = if alarmed_fr {
                since_index("failure_rate")
            } else {
                Some(since_index("new_flaky").unwrap_or(0))
            };
            let rise = from.filter(|_| !settled).and_then(|from| {
                best_split(&trials[from..], c.min_history as usize)
                    .map(|(k, f0, n0, f1, n1, t)| (k + from, f0, n0, f1, n1, t))
            });
            let mut fired = false;
            if let Some((k, f0, n0, f1, n1, tail)) = rise {
                let p0 = (f0 as f64 + 0.5) / (n0 as f64 + 1.0);
                let rate = f1 as f64 / n1 as f64;
                // The recover threshold must not hold already (else alarm and recovery flap).
                let w = (c.recover_runs as usize).min(trials.len());
                let recent = trials[trials.len() - w..].iter().filter(|f| **f).count() as f64
                    / w.max(1) as f64;
                let recovered = w as u64 >= c.recover_runs
                    && recent <= c.recover_factor * (f0 as f64 / n0 as f64);
                if f0 as f64 / n0 as f64 > m.new_flaky.stable_rate
                    && n0 >= c.min_history
                    && 1.0 - tail >= c.alarm_confidence
                    && rate >= c.alarm_factor * p0
                    && f1 >= c.min_failures
                    && n1 >= c.min_runs
                    && !recovered
                {
                    let mut o = Observation::new("failure_rate", &s.id, Level::Alarm);
                    o.test = Some(s.id.clone());
                    o.title = format!(
                        "{}: failure rate up from {} to {}",
                        s.id,
                        pct(f0 as f64 / n0 as f64),
                        pct(rate)
                    );
                    o.summary = format!(
                        "It failed {f1} of {n1} runs from its first recent failure to its newest ({}) against {f0} of {n0} before ({}); confidence {:.3} that the rate rose.",
                        pct(rate),
                        pct(f0 as f64 / n0 as f64),
                        1.0 - tail
                    );
                    o.facts = vec![
                        ("recent".into(), format!("{f1}/{n1} runs failed")),
                        ("before".into(), format!("{f0}/{n0} runs failed")),
                        ("confidence".into(), format!("{:.3}", 1.0 - tail)),
                    ];
                    o.runs = failing_keys(k);
                    o.detail = json!({"since": key(k), "p0": f0 as f64 / n0 as f64, "p1": rate});
                    if alarmed_fr {
                        let level = st[&("failure_rate", s.id.as_str())]
                            .state
                            .strip_prefix("alarm:")
                            .and_then(|l| l.parse::<u32>().ok())
                            .unwrap_or(1);
                        o.state = format!("alarm:{}", level + 1);
                        o.title = o
                            .title
                            .replace(": failure rate up from", ": failure rate up again, from");
                    }
                    out.push(o);
                    fired = true;
                }
            }
            if alarmed_fr && !settled && !fired {
                out.push(Observation::new("failure_rate", &s.id, Level::Hold));
            }
        }

        // broken (main branch)
        if m.broken.enabled {
            let c = &m.broken;
            let main: Vec<&&Point> = pts
                .iter()
                .filter(|p| snap.is_main(p.run, &branches))
                .collect();
            let failing = main
                .iter()
                .rev()
                .take_while(|p| p.failed_first && p.failed_last)
                .count();
            let passing = main
                .iter()
                .rev()
                .take_while(|p| !p.failed_first && !p.failed_last)
                .count() as u64;
            if alarmed("broken", &s.id) {
                if passing >= c.recover_runs {
                    let mut o = Observation::new("broken", &s.id, Level::Clear);
                    o.test = Some(s.id.clone());
                    o.title = format!("{} passes again on the main branch", s.id);
                    o.summary = format!("Its last {passing} runs on the main branch passed.");
                    o.runs = vec![snap.runs[main[main.len() - 1].run as usize].key.clone()];
                    out.push(o);
                } else {
                    out.push(Observation::new("broken", &s.id, Level::Hold));
                }
            } else if failing as u64 >= c.alarm_runs && failing < main.len() && {
                // A flaky test fails twice in a row now and then: broken needs a test that was
                // healthy before the streak (or the verdict engine's word).
                let before = &main[main.len()
                    - failing
                    - (c.history_runs as usize).min(main.len() - failing)
                    ..main.len() - failing];
                let failed_before = before.iter().filter(|p| p.failed_first).count() as f64;
                failed_before <= m.new_flaky.stable_rate * before.len() as f64
                    || entry.is_some_and(|e| e.verdict == Verdict::Broken)
            } {
                let first = main[main.len() - failing];
                let run = &snap.runs[first.run as usize];
                let engine_culprit = entry
                    .filter(|e| matches!(e.verdict, Verdict::Broken | Verdict::Regression))
                    .and_then(|e| e.culprit_commit.clone());
                let culprit = engine_culprit.or_else(|| run.commit.clone());
                let mut o = Observation::new("broken", &s.id, Level::Alarm);
                o.test = Some(s.id.clone());
                o.title = match &culprit {
                    Some(c) => format!("{} broken on main since {}", s.id, short(c)),
                    None => format!("{} broken on main", s.id),
                };
                let message = first
                    .message
                    .and_then(|m| snap.messages.get(m as usize))
                    .map(|m| format!(" First failure: {m}"))
                    .unwrap_or_default();
                o.summary = format!(
                    "Its last {failing} runs on the main branch failed, retries included, after it passed before.{message}"
                );
                o.facts = vec![("failing runs on main".into(), failing.to_string())];
                if let Some(c) = &culprit {
                    o.facts.push(("culprit commit".into(), c.clone()));
                }
                o.runs = main[main.len() - failing..]
                    .iter()
                    .rev()
                    .take(5)
                    .map(|p| snap.runs[p.run as usize].key.clone())
                    .collect();
                o.detail = json!({"since": run.key, "culprit": culprit});
                o.culprit = culprit;
                out.push(o);
            }
        }
    }

    // incidents among the newest runs
    if m.incident.enabled {
        let c = &m.incident;
        let recent_from = snap.runs.len().saturating_sub(c.recent_runs as usize) as u32;
        for &i in snap.incidents.range(recent_from..) {
            let r = &snap.runs[i as usize];
            if r.failed < c.min_tests || (r.failed as f64) < c.min_share * r.size as f64 {
                continue;
            }
            if st.contains_key(&("incident", r.key.as_str())) {
                continue;
            }
            let engine = snap.report.incidents.iter().find(|x| x.run == r.key);
            let mut o = Observation::new("incident", &r.key, Level::Alarm);
            o.title = format!(
                "Incident in run {}: {} of {} tests failed together",
                r.key, r.failed, r.size
            );
            o.summary = match engine {
                Some(e) => format!(
                    "{} tests failed in one run ({} of its failure messages look like infrastructure: {}). Their failures are attributed to the incident, not to each test.",
                    r.failed,
                    pct(e.infra_share),
                    e.top_fingerprint
                ),
                None => format!(
                    "{} of the {} tests of this run failed together ({}); until they fail again in the next run this is treated as an incident, not as {} test changes.",
                    r.failed,
                    r.size,
                    pct(r.failed as f64 / r.size.max(1) as f64),
                    r.failed
                ),
            };
            o.facts = vec![
                ("failed tests".into(), r.failed.to_string()),
                ("tests in run".into(), r.size.to_string()),
            ];
            if let Some(c) = &r.commit {
                o.facts.push(("commit".into(), c.clone()));
            }
            o.runs = vec![r.key.clone()];
            o.detail = json!({"failed": r.failed, "size": r.size});
            out.push(o);
        }
    }

    // quarantine
    if m.quarantine.enabled {
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut seen = BTreeSet::new();
        for q in &snap.quarantine {
            seen.insert(q.test.as_str());
            let Ok(expires) = q.expires.parse::<jiff::civil::Date>() else {
                continue;
            };
            let days = (expires - today).get_days() as i64;
            let (level, state) = if today > expires {
                (Level::Alarm, "expired")
            } else if days < m.quarantine.warn_days {
                (Level::Alarm, "expiring")
            } else {
                (Level::Clear, "ok")
            };
            let mut o = Observation::new("quarantine", &q.test, level);
            o.state = state.to_string();
            o.test = Some(q.test.clone());
            o.title = match state {
                "expired" => format!("Quarantine of {} expired on {}", q.test, q.expires),
                _ => format!(
                    "Quarantine of {} expires on {} ({} days)",
                    q.test, q.expires, days
                ),
            };
            o.summary = format!(
                "Owner {} ({} quarantine). Fix the test and remove the entry, or renew it with a reason.",
                q.owner, q.source
            );
            o.facts = vec![
                ("expires".into(), q.expires.clone()),
                ("owner".into(), q.owner.clone()),
            ];
            out.push(o);
        }
        for s in states.iter().filter(|s| s.monitor == "quarantine") {
            if s.state != "ok" && !seen.contains(s.subject.as_str()) {
                out.push(Observation::new("quarantine", &s.subject, Level::Clear));
            }
        }
    }

    // uploads stopped
    if m.uploads_stopped.enabled {
        if let Some(last) = snap
            .runs
            .iter()
            .filter_map(|r| r.started_at.parse::<jiff::Timestamp>().ok())
            .max()
        {
            let after = crate::config::parse_duration(&m.uploads_stopped.after)
                .unwrap_or(std::time::Duration::from_secs(3 * 86_400));
            let quiet = now.as_second() - last.as_second();
            let level = if quiet >= after.as_secs() as i64 {
                Level::Alarm
            } else {
                Level::Clear
            };
            let mut o = Observation::new("uploads_stopped", &snap.project, level);
            let days = quiet as f64 / 86_400.0;
            o.title = match level {
                Level::Alarm => format!(
                    "No results uploaded to {} for {:.1} days",
                    snap.project, days
                ),
                _ => format!("Results arrive again for {}", snap.project),
            };
            o.summary = format!(
                "The newest run started at {last}; the alarm is at {} without a run.",
                m.uploads_stopped.after
            );
            o.facts = vec![("last run".into(), last.to_string())];
            if let Some(r) = snap.runs.last() {
                o.runs = vec![r.key.clone()];
            }
            out.push(o);
        }
    }
    out
}

fn verdict_text(e: &ReportEntry) -> String {
    match &e.culprit_commit {
        Some(c) => format!(
            "{} since {} (confidence {:.2})",
            e.verdict,
            short(c),
            e.confidence
        ),
        None => format!("{} (confidence {:.2})", e.verdict, e.confidence),
    }
}

/// The weekly digest's content: top tests by cost with their trend, and what got fixed.
pub fn digest(
    snap: &Snapshot,
    cfg: &Config,
    states: &[AlertState],
    now: jiff::Timestamp,
    week: &str,
) -> Observation {
    let mut o = Observation::new("digest", week, Level::Alarm);
    o.state = "sent".into();
    let mut entries: Vec<&ReportEntry> = snap
        .report
        .entries
        .iter()
        .filter(|e| e.verdict.is_unstable() && e.verdict != Verdict::Fixed)
        .collect();
    entries.sort_by(|a, b| b.impact.score.total_cmp(&a.impact.score));
    let mut lines = Vec::new();
    for e in entries.iter().take(cfg.monitors.digest.top) {
        let overall = e.ranked.failure_rate;
        let recent = e.recent_failure_rate;
        let trend = if recent > overall * 1.25 {
            "rising"
        } else if recent < overall * 0.8 {
            "falling"
        } else {
            "steady"
        };
        lines.push(format!(
            "{} — {}, {} broken builds, {:.0} CI minutes, failure rate {} ({} recently: {trend})",
            e.ranked.id,
            e.verdict,
            e.impact.broken_builds,
            e.impact.ci_minutes,
            pct(overall),
            pct(recent)
        ));
        o.facts
            .push((e.ranked.id.clone(), format!("{} ({trend})", e.verdict)));
    }
    let week_ago = now - jiff::SignedDuration::from_hours(24 * 7);
    let mut fixed: Vec<String> = states
        .iter()
        .filter(|s| {
            matches!(s.monitor.as_str(), "new_flaky" | "failure_rate" | "broken")
                && s.state == "ok"
                && s.version > 1
                && s.changed_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| t >= week_ago)
        })
        .map(|s| s.subject.clone())
        .collect();
    for e in snap
        .report
        .entries
        .iter()
        .filter(|e| e.verdict == Verdict::Fixed)
    {
        if e.impact
            .last_seen
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_some_and(|t| t >= week_ago)
        {
            fixed.push(e.ranked.id.clone());
        }
    }
    fixed.sort();
    fixed.dedup();
    o.title = format!(
        "Weekly digest for {} ({week}): {} unstable tests, {} fixed",
        snap.project,
        entries.len(),
        fixed.len()
    );
    o.summary = if lines.is_empty() {
        "No unstable tests.".to_string()
    } else {
        format!("Top by cost:\n{}", lines.join("\n"))
    };
    if !fixed.is_empty() {
        o.summary
            .push_str(&format!("\nFixed this week: {}", fixed.join(", ")));
    }
    o.detail = json!({"unstable": entries.len(), "fixed": fixed});
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_after_a_long_clean_history_is_a_confident_change() {
        let mut t = vec![false; 100];
        t.push(true);
        let (k, f0, n0, f1, n1, tail) = best_split(&t, 10).unwrap();
        assert_eq!((k, f0, n0, f1, n1), (100, 0, 100, 1, 1));
        assert!(1.0 - tail > 0.99, "{tail}");
        // After ten clean runs the same failure is not enough.
        let mut t = vec![false; 10];
        t.push(true);
        let (.., tail) = best_split(&t, 10).unwrap();
        assert!(1.0 - tail < 0.99, "{tail}");
    }

    proptest::proptest! {
        #[test]
        fn splits_are_sane_and_clean_history_only_adds_surprise(
            t in proptest::collection::vec(proptest::bool::weighted(0.2), 0..150),
            extra in 1usize..100,
        ) {
            if let Some((k, f0, n0, f1, n1, tail)) = best_split(&t, 10) {
                proptest::prop_assert!((0.0..=1.0).contains(&tail));
                proptest::prop_assert!(t[k] && k >= 10 && n0 == k as u64);
                proptest::prop_assert_eq!(f0, t[..k].iter().filter(|f| **f).count() as u64);
                proptest::prop_assert!(f1 >= 1 && f1 <= n1);
                // The same trials after more clean runs: at least as surprising.
                let mut longer = vec![false; extra];
                longer.extend(&t);
                let (.., tail2) = best_split(&longer, 10).expect("a split");
                proptest::prop_assert!(tail2 <= tail + 1e-12, "{tail2} > {tail}");
            }
        }
    }

    #[test]
    fn a_steady_flaky_test_is_no_surprise() {
        // 20% all along.
        let t: Vec<bool> = (0..200).map(|i| i % 5 == 0).collect();
        let best = best_split(&t, 10).map(|b| 1.0 - b.5).unwrap_or(0.0);
        assert!(best < 0.99, "{best}");
    }
}
