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
//! - **order-dependent, brittle**: failed every time alone (≥ 3) but passed in the suite.
//! - **flaky**: any other failure; when it failed alone too, it is flaky in isolation.
//! - **stable**: never failed; the claim says how rare a failure could still be.

use flakehound_analysis::stats::{rate_claim as claim, wilson};
use serde::Serialize;

use crate::schedule::Observations;

/// Fewest executions, all failed, to call a test broken.
pub const MIN_BROKEN: u64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Broken,
    OrderDependent,
    NonIdempotent,
    Flaky,
    Stable,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Broken => "broken",
            Class::OrderDependent => "order-dependent",
            Class::NonIdempotent => "non-idempotent",
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
    let (class, detail) = decide(o);
    Finding {
        id: id.to_string(),
        class,
        runs: o.runs,
        failures: o.failures,
        rate: if o.runs == 0 {
            0.0
        } else {
            o.failures as f64 / o.runs as f64
        },
        interval: wilson(o.failures, o.runs),
        claim: claim(o.failures, o.runs),
        detail,
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

fn decide(o: &Observations) -> (Class, String) {
    if o.failures == 0 {
        return (Class::Stable, "never failed".into());
    }
    if o.failures == o.runs && o.runs >= MIN_BROKEN {
        return (Class::Broken, format!("failed all {} executions", o.runs));
    }
    let first_failures = o.suite_failures + o.alone_failures;
    let repeat_rounds = o.repeat_pass_then_fail + o.repeat_clean;
    if o.repeat_pass_then_fail >= 2
        && o.repeat_pass_then_fail * 10 >= repeat_rounds * 8
        && first_failures == 0
    {
        return (
            Class::NonIdempotent,
            format!(
                "passed its first run and failed when run again in the same process in {} of {} repeat rounds; never failed as a process's first run",
                o.repeat_pass_then_fail, repeat_rounds
            ),
        );
    }
    if o.alone_runs >= 3 && o.alone_failures == o.alone_runs && o.suite_failures < o.suite_runs {
        return (
            Class::OrderDependent,
            format!(
                "brittle: failed all {} runs alone but passed {} of {} suite runs (another test sets up what it needs)",
                o.alone_runs,
                o.suite_runs - o.suite_failures,
                o.suite_runs
            ),
        );
    }
    // Replaying the failing order must fail again most of the time: one failure in three
    // replays is what a randomly flaky test does too.
    if o.alone_runs > 0
        && o.alone_failures == 0
        && o.replay_failures * 3 >= o.replay_runs * 2
        && o.replay_failures > 0
    {
        return (
            Class::OrderDependent,
            format!(
                "victim: passed all {} runs alone, failed {} of {} replays of the order of execution #{} ({} tests before it)",
                o.alone_runs,
                o.replay_failures,
                o.replay_runs,
                o.failing_order_of.unwrap_or_default(),
                o.failing_order.len()
            ),
        );
    }
    if o.alone_failures > 0 {
        return (
            Class::Flaky,
            format!(
                "fails in isolation: {} of {} runs alone failed",
                o.alone_failures, o.alone_runs
            ),
        );
    }
    if o.replay_runs > 0 {
        return (
            Class::Flaky,
            format!(
                "failed in the suite, passed alone ({} runs) and failed only {} of {} replays of the failing order: not order, likely timing, resources or randomness",
                o.alone_runs, o.replay_failures, o.replay_runs
            ),
        );
    }
    // Failures only in repeat rounds, too few for non-idempotent: say where it failed rather
    // than "failed 0 of N suite runs".
    if first_failures == 0 && o.repeat_pass_then_fail > 0 {
        return (
            Class::Flaky,
            format!(
                "failed only when run again in the same process ({} of {} repeat rounds); more rounds tell whether it is non-idempotent",
                o.repeat_pass_then_fail, repeat_rounds
            ),
        );
    }
    (
        Class::Flaky,
        format!("failed {} of {} suite runs", o.suite_failures, o.suite_runs),
    )
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

        let brittle = obs(|o| {
            o.runs = 15;
            o.failures = 5;
            o.suite_runs = 10;
            o.alone_runs = 5;
            o.alone_failures = 5;
        });
        assert!(classify("t", &brittle).detail.starts_with("brittle"));

        let non_idem = obs(|o| {
            o.runs = 9;
            o.failures = 4;
            o.suite_runs = 5;
            o.repeat_pass_then_fail = 2;
        });
        assert_eq!(classify("t", &non_idem).class, Class::NonIdempotent);

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
