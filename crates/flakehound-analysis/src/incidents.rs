//! Infrastructure incidents: runs where many unrelated tests fail together, or fail the way
//! infrastructure fails.
//!
//! # Model
//!
//! Input: the runs in time order, each with the number of tests it executed and its failing
//! tests with one message each. Per run let `d` be the number of *distinct* failing tests, `n`
//! the tests executed (at least `d`), `s = #{infra-shaped messages}/d` the infra share (one
//! message per test, the first; shapes from [`crate::category::is_infra`]).
//!
//! The baseline is robust: `med` and `MAD` of the failing fractions `d/n` over all runs (an
//! outage in a minority of runs moves neither), `σ = 1.4826·MAD`. A run has a **mass failure**
//! when
//!
//! `d ≥ τ = max(min_failed, ⌈min_fraction·n⌉, ⌊(med + k·σ)·n⌋ + 1)` (defaults 5, 5%, `k = 5`).
//!
//! A run is an **incident** when either
//!
//! 1. *infra-shaped*: `d ≥ infra_min_tests` (3) and `s ≥ infra_share` (½): several tests failed
//!    together and most of them with outage messages (connection refused, DNS, disk full, OOM
//!    kill, lost runner); or
//! 2. *mass and transient*: a mass failure with `s ≥ mass_infra_share` (0.2), or a mass failure
//!    that does not persist: fewer than half its failing tests fail again in each of the next
//!    `window` (3) runs, and there is a next run.
//!
//! The persistence check keeps real breakages out: a commit that breaks 200 tests keeps breaking
//! them in the runs that follow, an outage does not. A mass failure in the newest run, with no
//! run after it yet, is an incident only through its messages. An outage that lasts several
//! runs with no recognisable messages is (conservatively) not detected. Attributing a run's
//! failures to an incident is the caller's business (verdicts should not count them against the
//! tests).

use crate::category::{infra_evidence, is_infra};
use crate::fingerprint::cluster;
use crate::stats::{mad, median};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// One run's failures: `failed_tests` holds `(test, message)`; a test may appear more than once
/// (retries), and counts once.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFailures<T, M = String> {
    pub run: usize,
    pub tests_executed: u64,
    pub failed_tests: Vec<(T, M)>,
}

/// Tunables of the model (see the module docs); `Default` gives the documented values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IncidentConfig {
    /// Robust z: how many scaled MADs above the median failing fraction is unusual.
    pub k: f64,
    /// Mass-failure floor in tests.
    pub min_failed: u64,
    /// Mass-failure floor as a fraction of the run's tests.
    pub min_fraction: f64,
    /// Infra-shaped rule: minimum distinct failing tests.
    pub infra_min_tests: u64,
    /// Infra-shaped rule: minimum share of infra-shaped messages.
    pub infra_share: f64,
    /// A mass failure with at least this infra share is an incident even if it persists.
    pub mass_infra_share: f64,
    /// Runs after a mass failure looked at for persistence.
    pub window: usize,
    /// A failing set persists when this share of it fails again in a later run of the window.
    pub persistence: f64,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            k: 5.0,
            min_failed: 5,
            min_fraction: 0.05,
            infra_min_tests: 3,
            infra_share: 0.5,
            mass_infra_share: 0.2,
            window: 3,
            persistence: 0.5,
        }
    }
}

/// A run whose failures are blamed on the infrastructure.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Incident {
    pub run: usize,
    /// Distinct failing tests.
    pub failed_tests: u64,
    pub tests_executed: u64,
    /// Share of the failing tests with an infra-shaped message.
    pub infra_share: f64,
    /// Most common fingerprint among the run's failure messages.
    pub top_fingerprint: String,
    /// The mass-failure threshold `τ` for this run.
    pub threshold: u64,
    pub reason: String,
}

struct RunView<'a, T> {
    tests: HashSet<&'a T>,
    messages: Vec<&'a str>,
    d: u64,
    n: u64,
}

/// [`detect_with`] with the default configuration.
pub fn detect<T: Eq + Hash, M: AsRef<str>>(runs: &[RunFailures<T, M>]) -> Vec<Incident> {
    detect_with(runs, &IncidentConfig::default())
}

/// Finds the incidents among `runs` (in time order); results keep the input order.
pub fn detect_with<T: Eq + Hash, M: AsRef<str>>(
    runs: &[RunFailures<T, M>],
    cfg: &IncidentConfig,
) -> Vec<Incident> {
    let views: Vec<RunView<'_, T>> = runs
        .iter()
        .map(|r| {
            let mut tests = HashSet::new();
            let mut messages = Vec::new();
            for (t, m) in &r.failed_tests {
                if tests.insert(t) {
                    messages.push(m.as_ref());
                }
            }
            let d = tests.len() as u64;
            RunView {
                tests,
                messages,
                d,
                n: r.tests_executed.max(d),
            }
        })
        .collect();
    let fractions: Vec<f64> = views
        .iter()
        .map(|v| {
            if v.n == 0 {
                0.0
            } else {
                v.d as f64 / v.n as f64
            }
        })
        .collect();
    let med = median(&fractions);
    let sigma = 1.4826 * mad(&fractions);
    let k = if cfg.k.is_finite() {
        cfg.k.max(0.0)
    } else {
        5.0
    };

    let mut incidents = Vec::new();
    for (i, (run, v)) in runs.iter().zip(&views).enumerate() {
        if v.d == 0 {
            continue;
        }
        let baseline = ((med + k * sigma) * v.n as f64).floor();
        let baseline = if baseline.is_finite() {
            baseline.max(0.0) as u64 + 1
        } else {
            u64::MAX
        };
        let floor_frac = (cfg.min_fraction.max(0.0) * v.n as f64).ceil() as u64;
        let threshold = cfg.min_failed.max(floor_frac).max(baseline);
        let infra: Vec<&str> = v.messages.iter().copied().filter(|m| is_infra(m)).collect();
        let infra_share = infra.len() as f64 / v.d as f64;

        let infra_shaped = v.d >= cfg.infra_min_tests && infra_share >= cfg.infra_share;
        let mass = v.d >= threshold;
        let has_next = i + 1 < views.len();
        let persistent = views[i + 1..]
            .iter()
            .take(cfg.window.max(1))
            .any(|w| v.tests.intersection(&w.tests).count() as f64 >= cfg.persistence * v.d as f64);
        let mass_infra = mass && infra_share >= cfg.mass_infra_share;
        let mass_transient = mass && has_next && !persistent;
        if !(infra_shaped || mass_infra || mass_transient) {
            continue;
        }

        let clusters = cluster(v.messages.iter().copied());
        let top_fingerprint = clusters
            .first()
            .map(|c| c.fingerprint.clone())
            .unwrap_or_default();
        let mut reasons = Vec::new();
        if mass {
            reasons.push(format!(
                "{} of {} tests failed together (threshold {threshold})",
                v.d, v.n
            ));
        }
        if !infra.is_empty() {
            let mut phrases: HashMap<&str, usize> = HashMap::new();
            for m in &infra {
                if let Some(p) = infra_evidence(m) {
                    *phrases.entry(p).or_default() += 1;
                }
            }
            let top = phrases
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map_or("", |p| p.0);
            reasons.push(format!(
                "{} of {} failing tests have infra-shaped messages ({:.0}%, e.g. \"{top}\")",
                infra.len(),
                v.d,
                100.0 * infra_share
            ));
        }
        if mass_transient && !infra_shaped && !mass_infra {
            reasons.push("the failures did not persist in the following runs".to_string());
        }
        if !top_fingerprint.is_empty() {
            reasons.push(format!("top message: \"{top_fingerprint}\""));
        }
        incidents.push(Incident {
            run: run.run,
            failed_tests: v.d,
            tests_executed: v.n,
            infra_share,
            top_fingerprint,
            threshold,
            reason: reasons.join("; "),
        });
    }
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n.max(1)
        }
    }

    fn normal_run(rng: &mut Rng, run: usize, tests: u64) -> RunFailures<u64> {
        let k = rng.below(3);
        RunFailures {
            run,
            tests_executed: tests,
            failed_tests: (0..k)
                .map(|_| {
                    let t = rng.below(tests);
                    (t, format!("AssertionError: assert x == {}", rng.below(100)))
                })
                .collect(),
        }
    }

    fn history(seed: u64) -> Vec<RunFailures<u64>> {
        let mut rng = Rng(seed);
        let mut runs: Vec<RunFailures<u64>> = (0..60)
            .map(|r| {
                let n = 400 + rng.below(50);
                normal_run(&mut rng, r, n)
            })
            .collect();
        // Run 20: the database is down, 80 tests fail.
        runs[20].failed_tests = (100..180)
            .map(|t| {
                (t, format!("psycopg2.OperationalError: could not connect to server: Connection refused (host=db-{} port=5432)", t % 3))
            })
            .collect();
        // Run 35: a small outage, 4 tests with infra messages.
        runs[35].failed_tests = (0..4)
            .map(|t| (t, "Temporary failure in name resolution".to_string()))
            .collect();
        // Run 45: a crashed runner, 50 tests fail with assorted messages, then all is well.
        runs[45].failed_tests = (200..250)
            .map(|t| {
                (
                    t,
                    format!(
                        "Error {t}: worker exited unexpectedly {}",
                        "x".repeat((t % 7) as usize)
                    ),
                )
            })
            .collect();
        // Runs 50..: a commit breaks 30 tests for good (not an incident).
        for r in &mut runs[50..] {
            r.failed_tests.extend(
                (300..330).map(|t| (t, "ImportError: cannot import name 'Order'".to_string())),
            );
        }
        // Run 10: one real failure with an infra-looking message (not an incident).
        runs[10].failed_tests = vec![(7, "could not connect to server".to_string())];
        runs
    }

    #[test]
    fn planted_incidents_are_found() {
        for seed in 1..=10 {
            let inc = detect(&history(seed));
            let runs: Vec<usize> = inc.iter().map(|i| i.run).collect();
            assert_eq!(runs, vec![20, 35, 45], "seed {seed}: {inc:#?}");
            let db = &inc[0];
            assert_eq!(db.failed_tests, 80);
            assert_eq!(db.infra_share, 1.0);
            assert_eq!(
                db.top_fingerprint,
                "psycopg2.OperationalError: could not connect to server: Connection refused (host=<v> port=<n>)"
            );
            assert!(db.reason.contains("80 of"), "{}", db.reason);
            assert!(db.reason.contains("connection refused"), "{}", db.reason);
            assert_eq!(inc[1].failed_tests, 4);
            assert!(inc[1].threshold > 4);
            assert_eq!(inc[2].infra_share, 0.0);
            assert!(
                inc[2].reason.contains("did not persist"),
                "{}",
                inc[2].reason
            );
        }
    }

    #[test]
    fn normal_runs_are_not_incidents() {
        let mut rng = Rng(99);
        let mut runs: Vec<RunFailures<u64>> =
            (0..30).map(|r| normal_run(&mut rng, r, 300)).collect();
        runs[5].failed_tests = vec![(1, "AssertionError: assert 1 == 2".into())];
        assert!(detect(&runs).is_empty());
        // Retries of one test count once.
        runs[6].failed_tests = vec![(2, "connection refused".to_string()); 10];
        assert!(detect(&runs).is_empty());
    }

    #[test]
    fn newest_mass_failure_needs_infra_messages() {
        let mut rng = Rng(5);
        let mut runs: Vec<RunFailures<u64>> =
            (0..20).map(|r| normal_run(&mut rng, r, 300)).collect();
        runs[19].failed_tests = (0..40)
            .map(|t| (t, format!("assert f({t}) == 1")))
            .collect();
        assert!(detect(&runs).is_empty());
        runs[19].failed_tests = (0..40)
            .map(|t| {
                let m = if t % 3 == 0 {
                    "No space left on device"
                } else {
                    "assert 1 == 2"
                };
                (t, m.to_string())
            })
            .collect();
        let inc = detect(&runs);
        assert_eq!(inc.len(), 1);
        assert!(inc[0].infra_share > 0.3);
    }

    #[test]
    fn string_ids_and_empty_input() {
        assert!(detect::<u64, String>(&[]).is_empty());
        let runs = vec![
            RunFailures {
                run: 0,
                tests_executed: 0,
                failed_tests: vec![
                    ("a", "runner lost"),
                    ("b", "runner lost"),
                    ("c", "The operation was canceled."),
                ],
            },
            RunFailures {
                run: 1,
                tests_executed: 10,
                failed_tests: vec![],
            },
        ];
        let inc = detect(&runs);
        assert_eq!(inc.len(), 1);
        assert_eq!(inc[0].tests_executed, 3);
        assert_eq!(inc[0].top_fingerprint, "runner lost");
    }

    proptest! {
        #[test]
        fn never_panics(runs in proptest::collection::vec(
            (0u64..200, proptest::collection::vec((0u32..50, prop_oneof![
                Just("connection refused"), Just("assert 1 == 2"), Just(""), Just("timeout")
            ]), 0..60)), 0..40)) {
            let runs: Vec<RunFailures<u32, &str>> = runs
                .into_iter()
                .enumerate()
                .map(|(i, (n, f))| RunFailures { run: i, tests_executed: n, failed_tests: f })
                .collect();
            let inc = detect(&runs);
            let mut last = None;
            for i in &inc {
                prop_assert!((0.0..=1.0).contains(&i.infra_share));
                prop_assert!(i.failed_tests <= i.tests_executed);
                prop_assert!(i.failed_tests >= 1 && i.threshold >= 1);
                prop_assert!(last < Some(i.run));
                last = Some(i.run);
                prop_assert!(!i.reason.is_empty());
            }
        }
    }
}
