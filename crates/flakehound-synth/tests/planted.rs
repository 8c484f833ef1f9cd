//! The planted truth holds in the generated data, for several seeds and both sizes.

use flakehound_model::{Outcome, TestCase};
use flakehound_synth::{Category, Config, History, Truth, generate};
use std::collections::{BTreeMap, BTreeSet};

/// Small histories of several seeds, two variants of the knobs, and a large one.
fn configs() -> Vec<Config> {
    let mut out: Vec<Config> = (1..=6).map(Config::small).collect();
    out.push(Config {
        macos_runners: 0,
        linux_runners: 5,
        incidents: 3,
        flaky_per_category: 2,
        stable_tests: 80,
        commits: 60,
        ..Config::small(7)
    });
    out.push(Config {
        retry_rate: 1.0,
        rerun_rate: 0.0,
        shuffle_rate: 0.8,
        incidents: 4,
        ..Config::small(8)
    });
    out.push(Config::large(11));
    out
}

fn histories() -> Vec<History> {
    configs().iter().map(generate).collect()
}

/// Masks digits and hex runs, as a verdict engine's fingerprint would.
fn fingerprint(message: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('#');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

fn hour(h: &History, run: usize) -> u32 {
    let s = h.runs[run].meta.started_at.as_deref().unwrap();
    s[11..13].parse().unwrap()
}

/// Per test: (run, record index in run, record) for every record.
fn records(h: &History) -> BTreeMap<&str, Vec<(usize, usize, &TestCase)>> {
    let mut out: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (r, run) in h.runs.iter().enumerate() {
        for (i, c) in run.cases.iter().enumerate() {
            out.entry(c.id.as_str()).or_default().push((r, i, c));
        }
    }
    out
}

#[test]
fn invalid_configs_are_refused() {
    assert!(Config::small(1).validate().is_ok());
    assert!(Config::large(1).validate().is_ok());
    let bad = [
        Config {
            commits: 5,
            ..Config::small(1)
        },
        Config {
            incidents: 1,
            ..Config::small(1)
        },
        Config {
            linux_runners: 1,
            macos_runners: 0,
            ..Config::small(1)
        },
        Config {
            stable_tests: 2,
            ..Config::small(1)
        },
        Config {
            retry_rate: 1.5,
            ..Config::small(1)
        },
    ];
    for cfg in bad {
        assert!(cfg.validate().is_err(), "{cfg:?}");
        assert!(std::panic::catch_unwind(|| generate(&cfg)).is_err());
    }
}

#[test]
fn deterministic_per_seed() {
    let a = generate(&Config::small(5));
    let b = generate(&Config::small(5));
    assert_eq!(a, b);
    let c = generate(&Config::small(6));
    assert_ne!(a.commits, c.commits);
    assert_ne!(a.truth, c.truth);
    let l1 = generate(&Config::large(5));
    assert_eq!(l1, generate(&Config::large(5)));
}

#[test]
fn planted_counts() {
    for (cfg, runs) in [(Config::small(3), 55..130), (Config::large(3), 450..900)] {
        let h = generate(&cfg);
        let counts = h.counts();
        let k = cfg.flaky_per_category;
        assert_eq!(h.truth.len(), cfg.total_tests());
        assert_eq!(counts["stable"], cfg.stable_tests);
        assert_eq!(counts["flaky"], 12 * k + cfg.bad_runner_victims);
        assert_eq!(counts["broken"], cfg.broken);
        assert_eq!(counts["regression"], cfg.regressions);
        assert_eq!(counts["fixed"], cfg.fixed);
        assert_eq!(counts["infra"], cfg.infra_tests);
        let cats = h.category_counts();
        for c in Category::ALL {
            let want = if c == Category::Environment {
                k + cfg.bad_runner_victims
            } else {
                k
            };
            assert_eq!(cats.get(&c), Some(&want), "{c}");
        }
        assert_eq!(h.commits.len(), cfg.commits);
        assert!(
            h.commits
                .iter()
                .all(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(h.incidents.len(), cfg.incidents);
        assert!(runs.contains(&h.runs.len()), "{} runs", h.runs.len());
        assert!(h.bad_runner.is_some());
        // Unconditional flaky rates spread from 2% to 50%.
        let rates: Vec<f64> = h
            .truth
            .values()
            .filter_map(|t| match t {
                Truth::Flaky { category, rate }
                    if !matches!(
                        category,
                        Category::Order | Category::Time | Category::Environment
                    ) =>
                {
                    Some(*rate)
                }
                _ => None,
            })
            .collect();
        let min = rates.iter().copied().fold(1.0, f64::min);
        let max = rates.iter().copied().fold(0.0, f64::max);
        assert!(min <= 0.021 && max >= 0.49, "{min} {max}");
        for t in h.truth.values() {
            if let Truth::Regression { rate, .. } = t {
                assert!((0.2..=0.6).contains(rate));
            }
        }
    }
}

#[test]
fn runs_are_realistic() {
    for cfg in configs() {
        let h = generate(&cfg);
        let mut first_run_of_commit: Vec<Option<&str>> = vec![None; h.commits.len()];
        let mut keys = BTreeSet::new();
        let mut hours = BTreeSet::new();
        let mut runners = BTreeSet::new();
        let mut per_commit = vec![0; h.commits.len()];
        let mut shuffled = 0;
        for (i, run) in h.runs.iter().enumerate() {
            let m = &run.meta;
            assert!(keys.insert(run.key.clone()), "duplicate run key");
            assert_eq!(
                m.commit.as_deref(),
                Some(h.commits[run.commit_index].as_str())
            );
            assert_eq!(m.branch.as_deref(), Some("main"));
            assert_eq!(m.provider.as_deref(), Some("github-actions"));
            let start = m.started_at.as_deref().unwrap();
            assert!(start.ends_with('Z') && start.len() == 20, "{start}");
            if i > 0 {
                assert!(h.runs[i - 1].meta.started_at.as_deref().unwrap() <= start);
            }
            hours.insert(hour(&h, i));
            runners.insert(m.runner.clone().unwrap());
            if m.run_attempt == Some(2) {
                // A whole-job re-run follows a first attempt with the same id and commit.
                assert!(h.runs[..i].iter().any(|r| r.meta.run_id == m.run_id
                    && r.meta.run_attempt == Some(1)
                    && r.commit_index == run.commit_index));
            } else {
                per_commit[run.commit_index] += 1;
                first_run_of_commit[run.commit_index].get_or_insert(start);
            }
            let session = &run.cases[..run.session_len];
            assert_eq!(
                session.len(),
                h.truth.len(),
                "every test runs once per session"
            );
            // Collection order: files by path, definitions by line.
            let in_order = session
                .windows(2)
                .all(|w| (&w[0].file, w[0].line) <= (&w[1].file, w[1].line));
            shuffled += usize::from(!in_order);
            for c in &run.cases {
                let d = c.attempts[0].duration.unwrap();
                assert!(d > 0.0 && d < 60.0);
                assert!(c.file.is_some() && c.classname.is_some() && c.line.is_some());
                assert!(c.id.starts_with("tests/") && c.id.contains(".py::"));
            }
        }
        // Commit order is the order of first runs; every commit ran 1–3 times.
        let firsts: Vec<&str> = first_run_of_commit.iter().map(|f| f.unwrap()).collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        assert!(
            per_commit.iter().all(|&n| (1..=3).contains(&n)),
            "{per_commit:?}"
        );
        assert!(per_commit.iter().any(|&n| n > 1));
        let reruns = h
            .runs
            .iter()
            .filter(|r| r.meta.run_attempt == Some(2))
            .count();
        assert_eq!(reruns > 0, cfg.rerun_rate > 0.0);
        assert!(hours.contains(&23) || hours.contains(&0));
        assert!(hours.len() >= 12, "{hours:?}");
        assert!(runners.len() >= 4);
        let share = shuffled as f64 / h.runs.len() as f64;
        assert!((share - cfg.shuffle_rate).abs() < 0.2, "{share}");
    }
}

#[test]
fn retries_are_later_records_of_failed_tests() {
    for h in histories() {
        let mut retries = 0;
        let mut retry_passes = 0;
        for run in &h.runs {
            let split = run.session_len;
            let (session, rest) = run.cases.split_at(split);
            let mut seen = BTreeSet::new();
            for c in rest {
                assert!(seen.insert(&c.id), "one retry per test per run");
                let first = session
                    .iter()
                    .find(|s| s.id == c.id)
                    .expect("retry of a test");
                assert!(first.outcome.is_failure(), "only failed tests are retried");
                retries += 1;
                retry_passes += usize::from(c.outcome == Outcome::Passed);
            }
            for c in &run.cases {
                assert_eq!(c.attempts.len(), 1);
                assert_eq!(c.outcome, c.attempts[0].outcome);
                let f = c.attempts[0].failure.as_ref();
                assert_eq!(c.outcome == Outcome::Passed, f.is_none());
            }
        }
        assert!(retries > 10 && retry_passes > 5, "{retries} {retry_passes}");
    }
}

#[test]
fn truth_holds_in_the_data() {
    for h in histories() {
        let recs = records(&h);
        let k = h.incidents.len();
        let fail_outside = |id: &str| -> Vec<(usize, usize, &TestCase)> {
            recs[id]
                .iter()
                .filter(|(r, _, c)| c.outcome.is_failure() && !h.is_incident(*r))
                .copied()
                .collect()
        };
        for (id, truth) in &h.truth {
            let d = h.details.get(id);
            let fails = fail_outside(id);
            let failed_runs: BTreeSet<usize> = fails.iter().map(|f| f.0).collect();
            let failed_incidents = h
                .incidents
                .iter()
                .filter(|&&r| {
                    recs[id.as_str()]
                        .iter()
                        .any(|(rr, _, c)| *rr == r && c.outcome.is_failure())
                })
                .count();
            match truth {
                Truth::Stable => {
                    assert!(fails.is_empty(), "stable {id} failed outside incidents");
                    assert!(
                        failed_incidents <= k / 2,
                        "stable {id} hit by too many incidents"
                    );
                }
                Truth::Infra => {
                    assert!(fails.is_empty(), "{id}");
                    assert_eq!(failed_incidents, k, "infra {id} is hit by every incident");
                    for &r in &h.incidents {
                        for (_, _, c) in recs[id.as_str()].iter().filter(|x| x.0 == r) {
                            assert_eq!(c.outcome, Outcome::Errored);
                        }
                    }
                }
                Truth::Flaky { category, .. } => {
                    assert!(
                        failed_runs.len() >= 3,
                        "flaky {id}: {} failing runs",
                        failed_runs.len()
                    );
                    let d = d.expect("details of a flaky test");
                    for &(r, i, c) in &fails {
                        let run = &h.runs[r];
                        let retry = i >= run.session_len;
                        match category {
                            Category::Order => {
                                assert!(!retry, "order victims pass on retry");
                                let polluter = d.polluter.as_deref().unwrap();
                                let p = run.cases.iter().position(|c| c.id == polluter).unwrap();
                                assert!(p < i, "{id} failed without its polluter before it");
                            }
                            Category::Time => {
                                let hr = hour(&h, r);
                                assert!(hr == 23 || hr == 0, "{id} failed at {hr}h");
                            }
                            Category::Environment => {
                                if let Some(runner) = &d.runner {
                                    assert_eq!(run.meta.runner.as_ref(), Some(runner));
                                } else {
                                    assert_eq!(run.meta.os, d.os);
                                }
                            }
                            Category::Timeout => {
                                let limit = d.timeout.unwrap();
                                let dur = c.attempts[0].duration.unwrap();
                                assert!(dur >= limit && dur < limit + 0.05, "{dur} vs {limit}");
                            }
                            _ => {}
                        }
                    }
                    if *category == Category::Timeout {
                        let limit = d.timeout.unwrap();
                        for (_, _, c) in &recs[id.as_str()] {
                            if c.outcome == Outcome::Passed {
                                assert!(c.attempts[0].duration.unwrap() < limit);
                            }
                        }
                    }
                    if d.runner.is_some() && d.runner == h.bad_runner {
                        assert_eq!(*category, Category::Environment);
                    }
                }
                Truth::Broken { culprit } => {
                    let from = h.commit_index(culprit).unwrap();
                    let mut shapes = BTreeSet::new();
                    for (r, _, c) in &recs[id.as_str()] {
                        let after = h.runs[*r].commit_index >= from;
                        if after {
                            assert!(c.outcome.is_failure(), "broken {id} passed after culprit");
                            if !h.is_incident(*r) {
                                shapes.insert(fingerprint(
                                    c.attempts[0]
                                        .failure
                                        .as_ref()
                                        .unwrap()
                                        .message
                                        .as_deref()
                                        .unwrap(),
                                ));
                            }
                        } else if !h.is_incident(*r) {
                            assert!(!c.outcome.is_failure(), "broken {id} failed before culprit");
                        }
                    }
                    assert_eq!(shapes.len(), 1, "{shapes:?}");
                    let example = d.unwrap().message.as_deref().unwrap();
                    assert!(shapes.contains(&fingerprint(example)), "{example}");
                }
                Truth::Regression { culprit, .. } => {
                    let from = h.commit_index(culprit).unwrap();
                    let mut shapes = BTreeSet::new();
                    for &(r, _, c) in &fails {
                        assert!(
                            h.runs[r].commit_index >= from,
                            "regression {id} failed early"
                        );
                        shapes.insert(fingerprint(
                            c.attempts[0]
                                .failure
                                .as_ref()
                                .unwrap()
                                .message
                                .as_deref()
                                .unwrap(),
                        ));
                    }
                    assert_eq!(shapes.len(), 1, "{shapes:?}");
                    let example = d.unwrap().message.as_deref().unwrap();
                    assert!(shapes.contains(&fingerprint(example)), "{example}");
                    assert!(failed_runs.len() >= 3);
                    let first = h.runs.iter().position(|r| r.commit_index == from).unwrap();
                    assert!(
                        failed_runs.contains(&first),
                        "the culprit's first run fails"
                    );
                    // It passes sometimes after the culprit: intermittent.
                    assert!(recs[id.as_str()].iter().any(|(r, _, c)| {
                        h.runs[*r].commit_index >= from && c.outcome == Outcome::Passed
                    }));
                }
                Truth::Fixed { fix_commit } => {
                    let to = h.commit_index(fix_commit).unwrap();
                    let from = h
                        .commit_index(d.unwrap().broken_since.as_deref().unwrap())
                        .unwrap();
                    assert!(from < to);
                    for (r, _, c) in &recs[id.as_str()] {
                        let ci = h.runs[*r].commit_index;
                        if (from..to).contains(&ci) {
                            assert!(c.outcome.is_failure());
                        } else if !h.is_incident(*r) {
                            assert!(
                                !c.outcome.is_failure(),
                                "fixed {id} failed outside its window"
                            );
                        }
                    }
                    assert!(failed_runs.len() >= 3);
                }
            }
        }
    }
}

#[test]
fn incidents_hit_many_tests_with_infra_messages() {
    for h in histories() {
        assert!(!h.incidents.is_empty());
        for &r in &h.incidents {
            let run = &h.runs[r];
            assert_eq!(run.meta.run_attempt, Some(1));
            let session = &run.cases[..run.session_len];
            let failed: Vec<&TestCase> =
                session.iter().filter(|c| c.outcome.is_failure()).collect();
            let share = failed.len() as f64 / session.len() as f64;
            assert!((0.2..=0.75).contains(&share), "incident share {share}");
            let infra = failed
                .iter()
                .filter(|c| {
                    let m = c.attempts[0]
                        .failure
                        .as_ref()
                        .unwrap()
                        .message
                        .as_deref()
                        .unwrap();
                    [
                        "Connection refused",
                        "could not resolve host",
                        "No space left",
                        "OOM killed",
                    ]
                    .iter()
                    .any(|p| m.contains(p))
                })
                .count();
            assert!(infra * 5 >= session.len(), "{infra} infra failures");
            assert!(
                infra * 10 >= failed.len() * 6,
                "{infra} of {} failures are infra",
                failed.len()
            );
        }
        // Outside incidents no run has more than a handful of failing tests.
        let planted = h.truth.values().filter(|t| **t != Truth::Stable).count();
        for (i, run) in h.runs.iter().enumerate() {
            if h.is_incident(i) {
                continue;
            }
            let failed = run.cases[..run.session_len]
                .iter()
                .filter(|c| c.outcome.is_failure())
                .count();
            assert!(failed <= planted, "run {i}: {failed} failures");
        }
    }
}

#[test]
fn flaky_messages_have_category_shapes() {
    let h = generate(&Config::large(2));
    let recs = records(&h);
    let expect: &[(Category, &[&str])] = &[
        (
            Category::Network,
            &["Connection", "timed out", "Timeout", "host"],
        ),
        (Category::Timeout, &["Timeout"]),
        (
            Category::Resource,
            &["open files", "MemoryError", "allocate memory"],
        ),
        (Category::Filesystem, &["/tmp/"]),
        (Category::Float, &["0000000000", "0.3", "round("]),
        (Category::Unordered, &["assert"]),
    ];
    for (id, t) in &h.truth {
        let Some(cat) = t.category() else { continue };
        let Some((_, needles)) = expect.iter().find(|(c, _)| *c == cat) else {
            continue;
        };
        for (r, _, c) in &recs[id.as_str()] {
            if h.is_incident(*r) || !c.outcome.is_failure() {
                continue;
            }
            let m = c.attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref()
                .unwrap();
            assert!(needles.iter().any(|n| m.contains(n)), "{cat}: {m}");
        }
    }
}
