//! What the observations of a hunt say about each test, with honest statistics.
//!
//! Rules, strongest evidence first (counts are executions; see [`crate::schedule`]):
//! - **broken**: failed every execution (at least [`MIN_BROKEN`]).
//! - **non-idempotent**: in repeat rounds it passed first and then failed in the same process
//!   at least twice, in at least 80% of those rounds, and never failed as the first execution of
//!   a process.
//! - **order-dependent, victim**: failed in the suite, passed every time alone (≥
//!   [`crate::schedule::ALONE_RUNS`]), and failed again in at least 2 of 3 replays of the
//!   failing order (a randomly flaky test fails one replay in three often enough).
//! - **order-dependent, brittle**: failed every time alone (≥ 3) but passed in the suite, and
//!   the brittle check confirmed it: under the hash seed and time zone of a suite execution it
//!   passed in, it failed alone and passed after the tests that preceded it there (2 of 3 each).
//!   Without that check (the runner cannot order, the hunt stopped first) the other tests are
//!   not known to matter: it is flaky, and the finding says what was not checked.
//! - **parallel**: failed in executions that ran beside another one, never in one that ran
//!   alone (a parallel hunt's follow-ups run with nothing beside them), significantly so
//!   (one-sided Fisher exact test, p < 0.05): it fails when the suite runs in parallel with
//!   itself, not on its own.
//! - **flaky**: any other failure; when it failed alone too, it is flaky in isolation. When its
//!   outcome follows a condition the hunt varied (the time zone; the hash seed, by the brittle
//!   check), the finding names it in [`Finding::factor`].
//! - **stable**: never failed; the claim says how rare a failure could still be.

use flakehound_analysis::stats::{rate_claim as claim, wilson};
use serde::Serialize;

use crate::schedule::Observations;

/// A condition the hunt varied that a test's outcome follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Factor {
    /// The environment variable: `TZ` or `PYTHONHASHSEED`.
    pub variable: String,
    /// Values it failed under every time (`machine`: the machine's own time zone).
    pub fails_under: Vec<String>,
    /// Values it passed under every time.
    pub passes_under: Vec<String>,
}

/// Fewest executions, all failed, to call a test broken.
pub const MIN_BROKEN: u64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Broken,
    OrderDependent,
    NonIdempotent,
    /// Fails only when another execution of the suite runs at the same time (a shared relative
    /// directory, port or file): a problem of running the suite in parallel with itself.
    Parallel,
    Flaky,
    Stable,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Broken => "broken",
            Class::OrderDependent => "order-dependent",
            Class::NonIdempotent => "non-idempotent",
            Class::Parallel => "parallel",
            Class::Flaky => "flaky",
            Class::Stable => "stable",
        }
    }
}

/// The finding on one test.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: String,
    pub class: Class,
    /// Executions and failures over all contexts.
    pub runs: u64,
    pub failures: u64,
    pub rate: f64,
    /// Wilson 95% interval of the failure rate.
    pub interval: (f64, f64),
    /// The plain-words claim: "8.1% [5.9, 10.9]" or "p < 1.0% at 95% confidence after 300 runs".
    pub claim: String,
    /// Why, in a sentence.
    pub detail: String,
    /// The varied condition its outcome follows, when one does.
    pub factor: Option<Factor>,
    /// For order-dependent victims: the tests that ran before it in the failing order.
    pub failing_order: Vec<String>,
    /// Hash seeds (`PYTHONHASHSEED`) of the processes it failed in.
    pub failing_hash_seeds: Vec<u32>,
    pub message: Option<String>,
    /// Per-context counts. Nested, not flattened: flattening repeated `runs`, `failures` and
    /// `message` in one object.
    pub observations: Observations,
    /// Commands to run next, exactly as they can be pasted (filled in by the CLI, which knows
    /// the test command).
    pub hints: Vec<String>,
}

pub fn classify(id: &str, o: &Observations) -> Finding {
    let (runs, failures) = o.samples();
    let (class, mut detail, mut factor) = decide(o, runs, failures);
    if factor.is_none() && matches!(class, Class::Flaky) {
        if let Some(f) = zone_factor(o) {
            detail = format!(
                "{detail}; it follows the time zone: failed every run under TZ={} and passed every run under TZ={}",
                f.fails_under.join(", TZ="),
                f.passes_under.join(", TZ=")
            );
            factor = Some(f);
        }
    }
    Finding {
        id: id.to_string(),
        class,
        runs,
        failures,
        rate: if runs == 0 {
            0.0
        } else {
            failures as f64 / runs as f64
        },
        interval: wilson(failures, runs),
        claim: claim(failures, runs),
        detail,
        factor,
        failing_order: if class == Class::OrderDependent {
            o.failing_order.iter().map(|t| t.id.clone()).collect()
        } else {
            Vec::new()
        },
        failing_hash_seeds: o.failed_in.iter().map(|(_, h)| *h).collect(),
        message: o.message.clone(),
        observations: o.clone(),
        hints: Vec::new(),
    }
}

/// The time zones a test failed under every time against those it passed under every time
/// (at least 2 runs each, every zone one or the other), when it failed at all.
fn zone_factor(o: &Observations) -> Option<Factor> {
    let (mut fails, mut passes) = (Vec::new(), Vec::new());
    for (zone, &(runs, failures)) in &o.by_zone {
        if runs < 2 {
            return None;
        }
        if failures == runs {
            fails.push(zone.clone());
        } else if failures == 0 {
            passes.push(zone.clone());
        } else {
            return None;
        }
    }
    (!fails.is_empty() && !passes.is_empty()).then(|| Factor {
        variable: "TZ".into(),
        fails_under: fails,
        passes_under: passes,
    })
}

/// A class, why, and the factor it follows when one was found.
type Decision = (Class, String, Option<Factor>);

fn plain((class, detail): (Class, String)) -> Decision {
    (class, detail, None)
}

fn decide(o: &Observations, runs: u64, failures: u64) -> Decision {
    if failures == 0 {
        return plain((Class::Stable, "never failed".into()));
    }
    if failures == runs && runs >= MIN_BROKEN {
        return plain((Class::Broken, format!("failed all {runs} executions")));
    }
    let first_failures = o.suite_failures + o.alone_failures;
    let repeat_rounds = o.repeat_pass_then_fail + o.repeat_clean;
    // The idempotence check ran it repeated in one process with nothing beside it: passing
    // first and failing on a later run there, most of the time, and never failing a first run
    // alone, is non-idempotence, whatever first runs beside other executions did (a parallel
    // hunt's suite rounds can see another process's leftovers).
    if o.idem_runs >= 2
        && o.idem_pass_then_fail * 3 >= o.idem_runs * 2
        && o.idem_first_failures == 0
        && o.alone_failures == 0
    {
        let beside = if o.suite_failures > 0 {
            format!(
                "; its {} failures as a first run were in suite rounds, beside other tests or executions",
                o.suite_failures
            )
        } else {
            "; never failed as a process's first run".to_string()
        };
        return plain((
            Class::NonIdempotent,
            format!(
                "passed its first run and failed when run again in the same process: {} of {} repeated runs alone, with nothing beside it, and {} of {} repeat rounds{beside}",
                o.idem_pass_then_fail, o.idem_runs, o.repeat_pass_then_fail, repeat_rounds
            ),
        ));
    }
    if o.repeat_pass_then_fail >= 2
        && o.repeat_pass_then_fail * 10 >= repeat_rounds * 8
        && first_failures == 0
    {
        return plain((
            Class::NonIdempotent,
            format!(
                "passed its first run and failed when run again in the same process in {} of {} repeat rounds; never failed as a process's first run",
                o.repeat_pass_then_fail, repeat_rounds
            ),
        ));
    }
    if o.alone_runs >= 3 && o.alone_failures == o.alone_runs && o.suite_failures < o.suite_runs {
        return brittle(o);
    }
    // Replaying the failing order must fail again most of the time: one failure in three
    // replays is what a randomly flaky test does too.
    if o.alone_runs > 0
        && o.alone_failures == 0
        && o.replay_failures * 3 >= o.replay_runs * 2
        && o.replay_failures > 0
    {
        // With the random generator reseeded before each test, the order no longer matters:
        // the tests before it only moved a generator seeded once for all (shared random state).
        let (ar, af) = (o.reseeded_alone_runs, o.reseeded_alone_failures);
        let (wr, wf) = (o.reseeded_others_runs, o.reseeded_others_failures);
        if ar >= 2 && wr >= 2 && af == 0 && wf == 0 {
            return (
                Class::OrderDependent,
                format!(
                    "shared random state: failed {} of {} replays of the order of execution #{} but 0 of {wr} once Python's random was reseeded before each test (and 0 of {ar} alone): the tests before it draw from a random generator seeded once for all (e.g. random.seed(...) at import), so what it gets depends on how many draws came before; give it its own generator (random.Random(seed)) or seed it in the test",
                    o.replay_failures,
                    o.replay_runs,
                    o.failing_order_of.unwrap_or_default()
                ),
                Some(Factor {
                    variable: "random state".into(),
                    fails_under: vec!["after the tests before it".into()],
                    passes_under: vec!["reseeded before each test".into()],
                }),
            );
        }
        return plain((
            Class::OrderDependent,
            format!(
                "victim: passed all {} runs alone, failed {} of {} replays of the order of execution #{} ({} tests before it)",
                o.alone_runs,
                o.replay_failures,
                o.replay_runs,
                o.failing_order_of.unwrap_or_default(),
                o.failing_order.len()
            ),
        ));
    }
    if let Some(p) = parallel_only(o) {
        return plain((
            Class::Parallel,
            format!(
                "fails only when run in parallel with itself: failed {} of {} executions that ran beside another one, 0 of {} with nothing beside them (alone, replays; one-sided Fisher {}); give each worker its own directory, port and files, or run this suite serially",
                o.overlap_failures,
                o.overlap_runs,
                o.exclusive_runs,
                if p < 0.001 {
                    "p < 0.001".to_string()
                } else {
                    format!("p = {p:.3}")
                }
            ),
        ));
    }
    if o.alone_failures > 0 {
        return plain((
            Class::Flaky,
            format!(
                "fails in isolation: {} of {} runs alone failed",
                o.alone_failures, o.alone_runs
            ),
        ));
    }
    if o.replay_runs > 0 {
        return plain((
            Class::Flaky,
            format!(
                "failed in the suite, passed alone ({} runs) and failed only {} of {} replays of the failing order: not order, likely timing, resources or randomness",
                o.alone_runs, o.replay_failures, o.replay_runs
            ),
        ));
    }
    // Failures only in repeat rounds, too few for non-idempotent: say where it failed rather
    // than "failed 0 of N suite runs".
    if first_failures == 0 && o.repeat_pass_then_fail > 0 {
        return plain((
            Class::Flaky,
            format!(
                "failed only when run again in the same process ({} of {} repeat rounds); more rounds tell whether it is non-idempotent",
                o.repeat_pass_then_fail, repeat_rounds
            ),
        ));
    }
    plain((
        Class::Flaky,
        format!("failed {} of {} suite runs", o.suite_failures, o.suite_runs),
    ))
}

/// The one-sided Fisher p-value of "fails more beside another execution than with nothing
/// beside it", when it never failed with nothing beside it and the difference is significant
/// (p < 0.05).
fn parallel_only(o: &Observations) -> Option<f64> {
    if o.exclusive_failures > 0 || o.overlap_failures < 2 || o.exclusive_runs < 3 {
        return None;
    }
    let p = fisher_greater(
        o.overlap_failures,
        o.overlap_runs,
        o.exclusive_failures,
        o.exclusive_runs,
    );
    (p < 0.05).then_some(p)
}

/// One-sided Fisher exact test: the probability, if both conditions failed at the same rate,
/// that the first would hold `a` or more of the `a + b` failures (hypergeometric tail).
fn fisher_greater(a: u64, n1: u64, b: u64, n2: u64) -> f64 {
    use statrs::distribution::{DiscreteCDF, Hypergeometric};
    let (a, b) = (a.min(n1), b.min(n2));
    match Hypergeometric::new(n1 + n2, a + b, n1) {
        Ok(h) if a > 0 => h.sf(a - 1),
        _ => 1.0,
    }
}

/// A test that failed every run alone but passed in the suite: brittle only when the check
/// under the same conditions says the other tests matter.
fn brittle(o: &Observations) -> Decision {
    let passed = o.suite_runs - o.suite_failures;
    let of = o.confirm_of.unwrap_or_default();
    let (ar, af) = (o.confirm_alone_runs, o.confirm_alone_failures);
    let (wr, wf) = (o.confirm_others_runs, o.confirm_others_failures);
    if ar < 2 || wr < 2 {
        return plain((
            Class::Flaky,
            format!(
                "failed all {} runs alone but passed {passed} of {} suite runs; not known to be order-dependent: the alone runs had other hash seeds, time zones and load than the suite runs, and the check under the same conditions did not run (the runner cannot select and order tests, or the hunt stopped first)",
                o.alone_runs, o.suite_runs
            ),
        ));
    }
    if af * 3 >= ar * 2 && wf * 3 <= wr {
        return plain((
            Class::OrderDependent,
            format!(
                "brittle: failed all {} runs alone, and {af} of {ar} alone under the hash seed and time zone of execution #{of}, where after the tests that preceded it it passed {} of {wr}: another test sets up what it needs",
                o.alone_runs,
                wr - wf
            ),
        ));
    }
    if af * 3 <= ar {
        // It passes alone under the conditions of a suite execution it passed in: the
        // process's conditions decide, not the other tests. Which condition: the time zone
        // when the zones tell (the alone runs kept the failing execution's zone), else the hash
        // seed when the zone was the same.
        let passing = o.last_pass.as_ref();
        let seed = passing.map(|p| p.hash_seed.to_string()).unwrap_or_default();
        let passed_alone = format!(
            "failed all {} runs alone, yet passed {} of {ar} alone under the hash seed and time zone of execution #{of}",
            o.alone_runs,
            ar - af
        );
        if let Some(f) = zone_factor(o) {
            return (
                Class::Flaky,
                format!(
                    "{passed_alone}: it follows the time zone, not the other tests: failed every run under TZ={} and passed every run under TZ={}",
                    f.fails_under.join(", TZ="),
                    f.passes_under.join(", TZ=")
                ),
                Some(f),
            );
        }
        let passing_tz = passing.and_then(|p| p.tz.clone());
        if passing_tz != o.alone_tz {
            let (sr, sf) = (o.confirm_seed_runs, o.confirm_seed_failures);
            let zones = format!(
                "TZ={} there, TZ={} in the alone runs",
                crate::schedule::zone_key(&passing_tz),
                crate::schedule::zone_key(&o.alone_tz)
            );
            if sr >= 2 && sf * 3 >= sr * 2 {
                // The passing seed in the alone runs' zone fails: the zone decides.
                let factor = Factor {
                    variable: "TZ".into(),
                    fails_under: vec![crate::schedule::zone_key(&o.alone_tz)],
                    passes_under: vec![crate::schedule::zone_key(&passing_tz)],
                };
                return (
                    Class::Flaky,
                    format!(
                        "{passed_alone} ({zones}), and failed {sf} of {sr} alone under that hash seed in the alone runs' zone: its outcome follows the time zone, not the other tests"
                    ),
                    Some(factor),
                );
            }
            if !(sr >= 2 && sf * 3 <= sr) {
                return plain((
                    Class::Flaky,
                    format!(
                        "{passed_alone} (PYTHONHASHSEED={seed}, {zones}): its outcome follows the process's conditions, the time zone or the hash seed, not the other tests"
                    ),
                ));
            }
        }
        let failing_seeds: std::collections::BTreeSet<String> =
            o.failed_in.iter().map(|(_, h)| h.to_string()).collect();
        let factor = Factor {
            variable: "PYTHONHASHSEED".into(),
            fails_under: failing_seeds.into_iter().take(10).collect(),
            passes_under: vec![seed.clone()],
        };
        return (
            Class::Flaky,
            format!(
                "{passed_alone} (PYTHONHASHSEED={seed}; it passes under that seed in the alone runs' time zone too): its outcome follows the hash seed, not the other tests (set or dict iteration order, or hashing)"
            ),
            Some(factor),
        );
    }
    plain((
        Class::Flaky,
        format!(
            "failed all {} runs alone, and also {af} of {ar} alone and {wf} of {wr} after the tests before it, under the hash seed and time zone of execution #{of} where it had passed: the other tests do not decide it; its suite passes were chance (timing or load)",
            o.alone_runs
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obs(f: impl FnOnce(&mut Observations)) -> Observations {
        let mut o = Observations::default();
        f(&mut o);
        o
    }

    #[test]
    fn classes() {
        let stable = obs(|o| {
            o.runs = 300;
            o.suite_runs = 300;
        });
        let f = classify("t", &stable);
        assert_eq!(f.class, Class::Stable);
        assert_eq!(f.claim, "p < 1.0% at 95% confidence after 300 runs");

        let broken = obs(|o| {
            o.runs = 5;
            o.failures = 5;
            o.suite_runs = 5;
            o.suite_failures = 5;
        });
        assert_eq!(classify("t", &broken).class, Class::Broken);

        let victim = obs(|o| {
            o.runs = 20;
            o.failures = 4;
            o.suite_runs = 12;
            o.suite_failures = 1;
            o.alone_runs = 5;
            o.replay_runs = 3;
            o.replay_failures = 3;
        });
        let f = classify("t", &victim);
        assert_eq!(f.class, Class::OrderDependent);
        assert!(f.detail.starts_with("victim"), "{}", f.detail);

        // Failed every run alone, passed in the suite: not brittle until the check under the
        // same conditions says so.
        let unconfirmed = obs(|o| {
            o.runs = 15;
            o.failures = 5;
            o.suite_runs = 10;
            o.alone_runs = 5;
            o.alone_failures = 5;
        });
        let f = classify("t", &unconfirmed);
        assert_eq!(f.class, Class::Flaky, "{}", f.detail);
        assert!(
            f.detail.contains("not known to be order-dependent"),
            "{}",
            f.detail
        );
        let confirmed = Observations {
            confirm_alone_runs: 3,
            confirm_alone_failures: 3,
            confirm_others_runs: 3,
            confirm_of: Some(4),
            ..unconfirmed.clone()
        };
        let f = classify("t", &confirmed);
        assert_eq!(f.class, Class::OrderDependent);
        assert!(f.detail.starts_with("brittle"), "{}", f.detail);
        assert!(f.detail.contains("execution #4"), "{}", f.detail);
        // Passes alone under the passing execution's hash seed: the seed decides.
        let seeded = Observations {
            confirm_alone_failures: 0,
            failed_in: vec![(2, 11), (5, 13)],
            ..confirmed.clone()
        };
        let f = classify("t", &seeded);
        assert_eq!(f.class, Class::Flaky);
        assert!(f.detail.contains("follows the hash seed"), "{}", f.detail);
        let factor = f.factor.expect("a factor");
        assert_eq!(factor.variable, "PYTHONHASHSEED");
        assert_eq!(factor.fails_under, ["11", "13"]);
        // The passing execution ran in another zone than the alone runs: the passing seed in
        // the alone runs' zone tells which.
        let zoned = Observations {
            alone_tz: Some("W+12".into()),
            confirm_seed_runs: 3,
            confirm_seed_failures: 3,
            ..seeded.clone()
        };
        let f = classify("t", &zoned);
        assert_eq!(f.factor.as_ref().unwrap().variable, "TZ", "{}", f.detail);
        assert_eq!(f.factor.as_ref().unwrap().fails_under, ["W+12"]);
        let seed_decides = Observations {
            confirm_seed_failures: 0,
            ..zoned.clone()
        };
        let f = classify("t", &seed_decides);
        assert_eq!(f.factor.unwrap().variable, "PYTHONHASHSEED", "{}", f.detail);
        let unasked = Observations {
            confirm_seed_runs: 0,
            confirm_seed_failures: 0,
            ..zoned.clone()
        };
        let f = classify("t", &unasked);
        assert!(
            f.factor.is_none() && f.detail.contains("the time zone or the hash seed"),
            "{}",
            f.detail
        );
        // Fails alone and after the others alike under the same conditions: chance or load.
        let timing = Observations {
            confirm_others_failures: 3,
            ..confirmed.clone()
        };
        let f = classify("t", &timing);
        assert_eq!(f.class, Class::Flaky);
        assert!(f.detail.contains("timing or load"), "{}", f.detail);

        let non_idem = obs(|o| {
            o.runs = 9;
            o.failures = 4;
            o.suite_runs = 5;
            o.repeat_pass_then_fail = 2;
        });
        assert_eq!(classify("t", &non_idem).class, Class::NonIdempotent);

        // In a parallel hunt: a first run failed in a suite round (beside another execution),
        // one repeat round passed then failed, and the idempotence check (repeated alone, with
        // nothing beside it) passed first and failed later 3 of 3 times: non-idempotent.
        let parallel_non_idem = obs(|o| {
            o.runs = 12;
            o.failures = 3;
            o.suite_runs = 6;
            o.suite_failures = 1;
            o.alone_runs = 5;
            o.repeat_pass_then_fail = 1;
            o.idem_runs = 3;
            o.idem_pass_then_fail = 3;
        });
        let f = classify("t", &parallel_non_idem);
        assert_eq!(f.class, Class::NonIdempotent, "{}", f.detail);
        assert!(
            f.detail.contains("3 of 3 repeated runs alone"),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("beside other tests"), "{}", f.detail);
        // Its first run alone failing too is not non-idempotence.
        let also_alone = Observations {
            alone_failures: 1,
            ..parallel_non_idem.clone()
        };
        assert_ne!(classify("t", &also_alone).class, Class::NonIdempotent);
        // A check that mostly passed every repetition is not enough.
        let weak = Observations {
            idem_pass_then_fail: 1,
            ..parallel_non_idem.clone()
        };
        assert_ne!(classify("t", &weak).class, Class::NonIdempotent);

        let one_replay = obs(|o| {
            o.runs = 20;
            o.failures = 3;
            o.suite_runs = 12;
            o.suite_failures = 1;
            o.alone_runs = 5;
            o.replay_runs = 3;
            o.replay_failures = 1;
        });
        let f = classify("t", &one_replay);
        assert_eq!(f.class, Class::Flaky, "{}", f.detail);

        let one_repeat = obs(|o| {
            o.runs = 9;
            o.failures = 2;
            o.suite_runs = 4;
            o.repeat_pass_then_fail = 1;
        });
        let f = classify("t", &one_repeat);
        assert_eq!(f.class, Class::Flaky);
        assert!(
            f.detail
                .starts_with("failed only when run again in the same process (1 of 1"),
            "{}",
            f.detail
        );

        let isolated = obs(|o| {
            o.runs = 30;
            o.failures = 3;
            o.suite_runs = 25;
            o.suite_failures = 2;
            o.alone_runs = 5;
            o.alone_failures = 1;
        });
        let f = classify("t", &isolated);
        assert_eq!(f.class, Class::Flaky);
        assert!(f.detail.contains("isolation"));
        assert_eq!(f.claim, "10.0% [3.5, 25.6] (3/30)");
    }

    #[test]
    fn failing_only_beside_another_execution_is_parallel() {
        let o = obs(|o| {
            o.runs = 18;
            o.failures = 8;
            o.suite_runs = 10;
            o.suite_failures = 8;
            o.alone_runs = 5;
            o.replay_runs = 3;
            o.overlap_runs = 10;
            o.overlap_failures = 8;
            o.exclusive_runs = 8;
        });
        let f = classify("t", &o);
        assert_eq!(f.class, Class::Parallel, "{}", f.detail);
        assert!(f.detail.contains("8 of 10"), "{}", f.detail);
        // A rare flake that happened to fail beside another execution: not significant.
        let rare = Observations {
            failures: 2,
            suite_failures: 2,
            overlap_failures: 2,
            ..o.clone()
        };
        assert_eq!(classify("t", &rare).class, Class::Flaky);
        // One failure with nothing beside it: not parallel.
        let alone = Observations {
            exclusive_failures: 1,
            alone_failures: 1,
            ..o.clone()
        };
        assert_eq!(classify("t", &alone).class, Class::Flaky);
        // The tail: 8 of 10 against 0 of 8 is C(10,8)/C(18,8) = 45/43758.
        let p = fisher_greater(8, 10, 0, 8);
        assert!((p - 45.0 / 43758.0).abs() < 1e-9, "{p}");
        assert_eq!(fisher_greater(0, 10, 0, 8), 1.0);
    }

    #[test]
    fn a_victim_that_passes_once_random_is_reseeded_is_shared_random_state() {
        let victim = obs(|o| {
            o.runs = 20;
            o.failures = 2;
            o.suite_runs = 12;
            o.suite_failures = 2;
            o.alone_runs = 5;
            o.replay_runs = 3;
            o.replay_failures = 3;
            o.failing_order_of = Some(3);
        });
        assert!(classify("t", &victim).detail.starts_with("victim"));
        let random = Observations {
            reseeded_alone_runs: 2,
            reseeded_others_runs: 2,
            ..victim.clone()
        };
        let f = classify("t", &random);
        assert_eq!(f.class, Class::OrderDependent);
        assert!(f.detail.starts_with("shared random state"), "{}", f.detail);
        assert_eq!(f.factor.unwrap().variable, "random state");
        // Still failing after the others with random reseeded: a real polluter.
        let polluted = Observations {
            reseeded_others_failures: 2,
            ..random.clone()
        };
        assert!(classify("t", &polluted).detail.starts_with("victim"));
    }

    #[test]
    fn repeated_orders_that_always_failed_are_one_observation() {
        let mut o = obs(|o| {
            o.runs = 12;
            o.failures = 4;
            o.suite_runs = 12;
            o.suite_failures = 4;
        });
        // Four reversed rounds, all failed: one observation.
        o.same_order.insert("reversed", (4, 4));
        o.same_order.insert("as written", (1, 0));
        let f = classify("t", &o);
        assert_eq!((f.runs, f.failures), (9, 1), "{}", f.claim);
        // Mixed outcomes in one order are independent samples: all count.
        o.same_order.insert("reversed", (4, 3));
        o.failures = 3;
        let f = classify("t", &o);
        assert_eq!((f.runs, f.failures), (12, 3));
    }

    #[test]
    fn a_time_zone_it_follows_is_named() {
        let mut o = obs(|o| {
            o.runs = 12;
            o.failures = 4;
            o.suite_runs = 12;
            o.suite_failures = 4;
        });
        o.by_zone.insert("machine".into(), (4, 0));
        o.by_zone.insert("Etc/GMT+12".into(), (4, 4));
        o.by_zone.insert("Pacific/Kiritimati".into(), (4, 0));
        let f = classify("t", &o);
        assert_eq!(f.class, Class::Flaky);
        let factor = f.factor.clone().expect("the zone is named");
        assert_eq!(factor.variable, "TZ");
        assert_eq!(factor.fails_under, ["Etc/GMT+12"]);
        assert_eq!(factor.passes_under, ["Pacific/Kiritimati", "machine"]);
        assert!(f.detail.contains("follows the time zone"), "{}", f.detail);
        // A failure under a zone it otherwise passes in: no factor.
        o.by_zone.insert("machine".into(), (4, 1));
        assert!(classify("t", &o).factor.is_none());
    }

    proptest! {
        #[test]
        fn never_panics_and_stable_iff_no_failure(
            runs in 0u64..1000, failures in 0u64..1000, alone in 0u64..20, alone_f in 0u64..20,
            replay in 0u64..5, replay_f in 0u64..5, pf in 0u64..5, clean in 0u64..5,
        ) {
            let failures = failures.min(runs);
            let o = obs(|o| {
                o.runs = runs;
                o.failures = failures;
                o.suite_runs = runs;
                o.suite_failures = failures;
                o.alone_runs = alone;
                o.alone_failures = alone_f.min(alone);
                o.replay_runs = replay;
                o.replay_failures = replay_f.min(replay);
                o.repeat_pass_then_fail = pf;
                o.repeat_clean = clean;
            });
            let f = classify("t", &o);
            prop_assert_eq!(f.class == Class::Stable, failures == 0);
            prop_assert!(f.interval.0 <= f.rate + 1e-9 && f.rate <= f.interval.1 + 1e-9);
        }
    }
}
