//! Histories whose tests *change* at known runs, for alerting: a stable test that turns flaky,
//! a flaky one whose rate rises, one that breaks, one that recovers, plus infrastructure outages
//! (many tests erroring together in one run). [`changes`] builds one from a [`ChangesConfig`];
//! replaying its runs one by one and checking after each shows when each change is noticed.
//!
//! The history is simple on purpose (the verdict histories of [`crate::generate`] are the rich
//! ones): one run per commit on `main`, one hour apart, every test in every run, a failed test
//! retried once in the same run with probability [`ChangesConfig::retry_rate`] (a fresh draw at
//! the same rate; a broken test fails its retry too). Messages come from the same templates as
//! the other histories' (one shape per test).

use crate::rng::Rng;
use crate::{History, SynthRun, Truth};
use flakehound_model::{Attempt, Failure, Outcome, RunMeta, TestCase};
use serde::Serialize;
use std::collections::BTreeMap;

/// What happens to a test, and at which run (an index into [`History::runs`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Never fails outside outages.
    Stable,
    /// Stable until `at`, then fails `rate` of its attempts.
    TurnsFlaky { at: usize, rate: f64 },
    /// Fails `from` of its attempts until `at`, then `to`.
    Rises { at: usize, from: f64, to: f64 },
    /// Passes until `at`, then fails every attempt.
    Breaks { at: usize },
    /// Fails `rate` of its attempts until `at`, then never.
    Recovers { at: usize, rate: f64 },
}

impl Change {
    /// The run the change happens at (`None` for stable tests).
    pub fn onset(&self) -> Option<usize> {
        match self {
            Change::Stable => None,
            Change::TurnsFlaky { at, .. }
            | Change::Rises { at, .. }
            | Change::Breaks { at }
            | Change::Recovers { at, .. } => Some(*at),
        }
    }

    /// Failure probability of an attempt at `run`.
    pub fn rate_at(&self, run: usize) -> f64 {
        match *self {
            Change::Stable => 0.0,
            Change::TurnsFlaky { at, rate } => {
                if run >= at {
                    rate
                } else {
                    0.0
                }
            }
            Change::Rises { at, from, to } => {
                if run >= at {
                    to
                } else {
                    from
                }
            }
            Change::Breaks { at } => {
                if run >= at {
                    1.0
                } else {
                    0.0
                }
            }
            Change::Recovers { at, rate } => {
                if run >= at {
                    0.0
                } else {
                    rate
                }
            }
        }
    }
}

/// What to plant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangesConfig {
    pub seed: u64,
    pub runs: usize,
    /// Tests that never change.
    pub stable: usize,
    /// Rates of the tests that turn flaky (one test per rate).
    pub turns_flaky: Vec<f64>,
    /// (from, to) of the tests whose rate rises.
    pub rises: Vec<(f64, f64)>,
    /// Tests that break.
    pub breaks: usize,
    /// Rates of the tests that recover.
    pub recovers: Vec<f64>,
    /// Runs that are outages (40% of the tests error with one infrastructure message).
    pub outages: usize,
    pub retry_rate: f64,
}

impl ChangesConfig {
    /// 300 runs of 120 tests: 8 turn flaky at 20% and 8 at 5–50%, 4 rises, 4 breaks, 4
    /// recoveries, 5 outages.
    pub fn standard(seed: u64) -> ChangesConfig {
        ChangesConfig {
            seed,
            runs: 300,
            stable: 90,
            turns_flaky: vec![
                0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.05, 0.1, 0.1, 0.3, 0.3, 0.4, 0.5, 0.5,
            ],
            rises: vec![(0.03, 0.3), (0.05, 0.4), (0.05, 0.25), (0.1, 0.5)],
            breaks: 4,
            recovers: vec![0.2, 0.3, 0.4, 0.5],
            outages: 5,
            retry_rate: 0.5,
        }
    }
}

/// A history with changes, and what was planted.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeHistory {
    pub history: History,
    /// Every test's change, by test id.
    pub planted: BTreeMap<String, Change>,
    /// Runs that are outages, ascending.
    pub outages: Vec<usize>,
}

const MODULES: [&str; 6] = [
    "tests/test_orders.py",
    "tests/test_payments.py",
    "tests/test_users.py",
    "tests/test_search.py",
    "tests/test_cache.py",
    "tests/api/test_checkout.py",
];

/// Builds the history of `cfg` (the same config, the same history).
pub fn changes(cfg: &ChangesConfig) -> ChangeHistory {
    let mut rng = Rng::new(cfg.seed, "changes", 0);
    let n = cfg.runs.max(40);
    // Onsets between 25% and 85% of the history, so that every change has history before and
    // runs after it.
    let onset = |rng: &mut Rng| rng.range((n / 4) as i64, (n * 85 / 100) as i64) as usize;
    let mut planted: Vec<(String, Change)> = Vec::new();
    let name = |kind: &str, i: usize| {
        let module = MODULES[(kind.len() + i) % MODULES.len()];
        format!("{module}::test_{kind}_{i:03}")
    };
    for i in 0..cfg.stable {
        planted.push((name("stable", i), Change::Stable));
    }
    for (i, &rate) in cfg.turns_flaky.iter().enumerate() {
        let at = onset(&mut rng);
        planted.push((name("turns_flaky", i), Change::TurnsFlaky { at, rate }));
    }
    for (i, &(from, to)) in cfg.rises.iter().enumerate() {
        let at = onset(&mut rng);
        planted.push((name("rises", i), Change::Rises { at, from, to }));
    }
    for i in 0..cfg.breaks {
        let at = onset(&mut rng);
        planted.push((name("breaks", i), Change::Breaks { at }));
    }
    for (i, &rate) in cfg.recovers.iter().enumerate() {
        let at = onset(&mut rng);
        planted.push((name("recovers", i), Change::Recovers { at, rate }));
    }
    // Outages: spread over the history, never on a change's onset, never two within 5 runs.
    let onsets: Vec<usize> = planted.iter().filter_map(|(_, c)| c.onset()).collect();
    let mut outages: Vec<usize> = Vec::new();
    let mut tries = 0;
    while outages.len() < cfg.outages && tries < 10_000 {
        tries += 1;
        let r = rng.range((n / 10) as i64, n as i64 - 2) as usize;
        if onsets.iter().any(|&o| o.abs_diff(r) <= 1) || outages.iter().any(|&o| o.abs_diff(r) < 5)
        {
            continue;
        }
        outages.push(r);
    }
    outages.sort_unstable();
    let start: jiff::Timestamp = "2026-03-02T08:00:00Z".parse().expect("a valid time");
    let mut commits = Vec::with_capacity(n);
    let mut runs = Vec::with_capacity(n);
    for r in 0..n {
        let mut h = blake3::Hasher::new();
        h.update(&cfg.seed.to_le_bytes());
        h.update(b"changes-commit");
        h.update(&(r as u64).to_le_bytes());
        let sha = h.finalize().to_hex()[..40].to_string();
        commits.push(sha.clone());
        let started = start + jiff::SignedDuration::from_hours(r as i64);
        let run_id = 5_000_000 + r as u64;
        let meta = RunMeta {
            commit: Some(sha),
            branch: Some("main".into()),
            provider: Some("github-actions".into()),
            job: Some("test".into()),
            run_id: Some(run_id.to_string()),
            run_attempt: Some(1),
            runner: Some(format!("gha-ubuntu-{}", r % 4 + 1)),
            os: Some("Linux".into()),
            started_at: Some(started.to_string()),
            ..Default::default()
        };
        let outage = outages.binary_search(&r).is_ok();
        let mut cases = Vec::with_capacity(planted.len());
        let mut draws = Rng::new(cfg.seed, "changes-run", r as u64);
        for (id, change) in &planted {
            let rate = change.rate_at(r);
            let hit = outage && draws.chance(0.4);
            let attempt = |fail: bool, hit: bool, draws: &mut Rng| Attempt {
                outcome: if hit {
                    Outcome::Errored
                } else if fail {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                },
                duration: Some(0.05),
                failure: if hit {
                    Some(Failure {
                        kind: Some("ConnectionRefusedError".into()),
                        message: Some(
                            "ConnectionRefusedError: [Errno 111] Connection refused: db-1.internal:5432"
                                .into(),
                        ),
                        details: None,
                    })
                } else if fail {
                    Some(Failure {
                        kind: Some("AssertionError".into()),
                        message: Some(format!(
                            "AssertionError: assert {} == {}",
                            draws.range(0, 100),
                            draws.range(100, 200)
                        )),
                        details: None,
                    })
                } else {
                    None
                },
                stdout: None,
                stderr: None,
            };
            let fail = draws.chance(rate);
            let first = attempt(fail, hit, &mut draws);
            let mut attempts = vec![first];
            if (fail || hit) && draws.chance(cfg.retry_rate) {
                let again = rate >= 1.0 || draws.chance(rate);
                let hit_again = hit && draws.chance(0.8);
                attempts.push(attempt(again, hit_again, &mut draws));
            }
            let (module, test) = id.split_once("::").unwrap_or(("", id));
            cases.push(TestCase {
                id: id.clone(),
                classname: Some(module.trim_end_matches(".py").replace('/', ".")),
                name: test.to_string(),
                file: Some(module.to_string()),
                outcome: attempts
                    .iter()
                    .map(|a| a.outcome)
                    .fold(Outcome::Skipped, |a, o| a.worst(o)),
                line: None,
                suite: Vec::new(),
                attempts,
                properties: Vec::new(),
                timestamp: None,
            });
        }
        runs.push(SynthRun {
            key: format!("github-actions/{run_id}/1/test"),
            meta,
            commit_index: r,
            session_len: cases.len(),
            cases,
        });
    }
    let truth = planted
        .iter()
        .map(|(id, c)| {
            let t = match c {
                Change::Stable => Truth::Stable,
                Change::TurnsFlaky { rate, .. } | Change::Rises { to: rate, .. } => Truth::Flaky {
                    category: crate::Category::Unknown,
                    rate: *rate,
                },
                Change::Breaks { at } => Truth::Broken {
                    culprit: commits[*at].clone(),
                },
                Change::Recovers { at, .. } => Truth::Fixed {
                    fix_commit: commits[*at].clone(),
                },
            };
            (id.clone(), t)
        })
        .collect();
    ChangeHistory {
        history: History {
            seed: cfg.seed,
            commits,
            runs,
            truth,
            details: BTreeMap::new(),
            incidents: outages.clone(),
            bad_runner: None,
        },
        planted: planted.into_iter().collect(),
        outages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_happen_where_planted() {
        let h = changes(&ChangesConfig::standard(1));
        assert_eq!(h.history.runs.len(), 300);
        assert_eq!(h.outages.len(), 5);
        for (id, c) in &h.planted {
            let failed = h.history.failed_runs(id);
            let outside: Vec<usize> = failed
                .into_iter()
                .filter(|r| !h.outages.contains(r))
                .collect();
            match c {
                Change::Stable => assert!(outside.is_empty(), "{id}"),
                Change::TurnsFlaky { at, .. } => assert!(outside.iter().all(|r| r >= at), "{id}"),
                Change::Breaks { at } => {
                    assert!(outside.iter().all(|r| r >= at), "{id}");
                    let expected = (*at..300).filter(|r| !h.outages.contains(r)).count();
                    assert_eq!(outside.len(), expected, "{id}");
                }
                Change::Recovers { at, .. } => assert!(outside.iter().all(|r| r < at), "{id}"),
                Change::Rises { .. } => {}
            }
        }
        // Same config, same history.
        let again = changes(&ChangesConfig::standard(1));
        assert_eq!(again.history, h.history);
    }
}
