//! `flakehound repro` and `flakehound verify`: a failure rate under given conditions, with its
//! interval; and, after a fix, enough clean runs for a strong claim.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use flakehound_analysis::stats::{honest_claim, wilson};
use flakehound_runner::{Order, TestRef};
use serde::Serialize;

use crate::{Lab, Result};

/// Conditions of the runs.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub env: Vec<(String, String)>,
    /// Every core busy while running.
    pub load: bool,
    /// Pinned to one core (`taskset -c 0`).
    pub pin: bool,
    /// Instances at once (1 = one at a time).
    pub parallel: usize,
    /// Run twice in one process (counts a failure of either run).
    pub twice: bool,
    /// Without network (`unshare -n`).
    pub no_network: bool,
}

impl Conditions {
    fn wrapper(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.no_network {
            w.extend(["unshare".to_string(), "-n".to_string()]);
        }
        if self.pin {
            w.extend(["taskset".to_string(), "-c".to_string(), "0".to_string()]);
        }
        w
    }

    /// In words, for the report.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if self.load {
            parts.push("every core busy".into());
        }
        if self.pin {
            parts.push("pinned to one core".into());
        }
        if self.parallel > 1 {
            parts.push(format!("{} instances at once", self.parallel));
        }
        if self.twice {
            parts.push("twice per process".into());
        }
        if self.no_network {
            parts.push("no network".into());
        }
        if parts.is_empty() {
            "as is".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub test: String,
    pub conditions: String,
    pub runs: u64,
    pub failures: u64,
    /// Runs without a result for the test.
    pub missing: u64,
    pub rate: f64,
    pub interval: (f64, f64),
    /// "8.1% [5.9, 10.9] (8/99)" or "p < 1.0% at 95% confidence after 299 runs".
    pub claim: String,
    /// Message of the first failure.
    pub first_failure: Option<String>,
    pub stopped_at_first_failure: bool,
    /// Stopped by Ctrl-C before `runs`.
    pub interrupted: bool,
    pub seconds: f64,
}

/// Runs the test `runs` times (or until the first failure with `until_fail`).
pub fn measure(
    lab: &Lab,
    test: &TestRef,
    cond: &Conditions,
    runs: u64,
    until_fail: bool,
    stop: &AtomicBool,
) -> Result<Measurement> {
    let t0 = Instant::now();
    let _load = cond.load.then(crate::diagnose::Load::start);
    let wrapper = cond.wrapper();
    let repeat = if cond.twice { 2 } else { 1 };
    let (done, failures, missing) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let first = std::sync::Mutex::new(None::<String>);
    let batch = cond.parallel.max(1);
    let mut error = None;
    while done.load(Ordering::Relaxed) + missing.load(Ordering::Relaxed) < runs
        && !stop.load(Ordering::Relaxed)
        && !(until_fail && failures.load(Ordering::Relaxed) > 0)
    {
        let left = runs - done.load(Ordering::Relaxed) - missing.load(Ordering::Relaxed);
        let n = batch.min(left as usize).max(1);
        let results: Vec<Result<crate::Trial>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        lab.run_wrapped(
                            std::slice::from_ref(test),
                            Order::AsWritten,
                            repeat,
                            &cond.env,
                            &wrapper,
                        )
                    })
                })
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for r in results {
            let t = match r {
                Ok(t) => t,
                // Killed by the stop: not evidence; the loop ends on the flag.
                Err(e) if e.is_interrupted() => continue,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let attempts: Vec<_> = t
                .cases
                .iter()
                .filter(|c| c.id == test.id)
                .flat_map(|c| c.attempts.iter())
                .filter(|a| a.outcome != flakehound_model::Outcome::Skipped)
                .collect();
            if attempts.is_empty() {
                missing.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            done.fetch_add(1, Ordering::Relaxed);
            if let Some(a) = attempts.iter().find(|a| a.outcome.is_failure()) {
                failures.fetch_add(1, Ordering::Relaxed);
                let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
                if f.is_none() {
                    *f = Some(a.failure_line().unwrap_or_else(|| "failed".into()));
                }
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        if missing.load(Ordering::Relaxed) > runs {
            break;
        }
    }
    let (done, failures, missing) = (
        done.into_inner(),
        failures.into_inner(),
        missing.into_inner(),
    );
    Ok(Measurement {
        test: test.id.clone(),
        conditions: cond.describe(),
        runs: done,
        failures,
        missing,
        rate: crate::stats::rate(failures, done),
        interval: wilson(failures, done),
        claim: crate::claim(failures, done),
        first_failure: first.into_inner().unwrap_or_else(|e| e.into_inner()),
        stopped_at_first_failure: until_fail && failures > 0,
        interrupted: stop.load(Ordering::Relaxed) && done + missing < runs,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Runs needed for "p < target at 95% confidence" after that many clean runs.
pub fn runs_for_claim(target: f64) -> u64 {
    let target = target.clamp(1e-6, 0.999);
    let mut n = ((0.05f64).ln() / (1.0 - target).ln()).ceil() as u64;
    while honest_claim(n) >= target {
        n += 1;
    }
    n.max(1)
}

/// The most runs `verify` makes by default: a claim that needs more is reported as not
/// enough evidence, with the runs it would need.
pub const VERIFY_MAX_RUNS: u64 = 1000;

/// How a verification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// No failure in enough runs: the rate is below the target, and clearly below the rate
    /// before the fix.
    Fixed,
    /// It failed again.
    NotFixed,
    /// No failure, but too few runs to support the claim (the cap, or the before-rate is too
    /// low to tell apart from zero with the runs allowed).
    NotEnoughEvidence,
    /// Stopped by Ctrl-C.
    Interrupted,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub after: Measurement,
    /// The stored rate before the fix: failures and runs.
    pub before: Option<(u64, u64)>,
    pub before_claim: Option<String>,
    /// The claim sought (e.g. 0.01).
    pub target: f64,
    pub outcome: Outcome,
    pub fixed: bool,
    /// Clean runs a fix claim needs: "p < target" at 95%, and (with a before-rate) Fisher's
    /// p < 0.05 against it with the 95% upper bound below it. `None`: no number of runs
    /// within reach can (see `verdict`).
    pub needed: Option<u64>,
    /// Fisher's two-sided p of the after-runs against the before-rate.
    pub p_value: Option<f64>,
    /// One-line conclusion.
    pub verdict: String,
}

/// Whether `runs` clean runs support "fixed" against a before-rate of `before` (failures,
/// runs): Fisher's exact test tells them apart (p < 0.05) and the 95% upper bound of the
/// after-rate is below the before-rate. Both, because with few runs before, Fisher alone can
/// pass while the bound still covers the old rate, and the other way round.
pub fn supports_fix(before: (u64, u64), runs: u64) -> bool {
    let (f, n) = before;
    if f == 0 || n == 0 {
        return false;
    }
    crate::stats::fisher_two_sided(f, n, 0, runs) < 0.05
        && honest_claim(runs) < crate::stats::rate(f, n)
}

/// The fewest clean runs (at most `cap`) for which [`supports_fix`] holds.
pub fn runs_for_fix(before: (u64, u64), cap: u64) -> Option<u64> {
    if before.0 == 0 || !supports_fix(before, cap) {
        return None;
    }
    // Monotone in the runs: bisect.
    let (mut lo, mut hi) = (0, cap);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if supports_fix(before, mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Runs until the claim holds (or a failure shows the fix did not work), and compares with
/// `before`. The claim is "p < target at 95% confidence" and, with a stored before-rate, a
/// significant difference from it ([`supports_fix`]); at most `max_runs` runs.
pub fn verify(
    lab: &Lab,
    test: &TestRef,
    cond: &Conditions,
    target: f64,
    before: Option<(u64, u64)>,
    max_runs: u64,
    stop: &AtomicBool,
) -> Result<Verification> {
    let for_target = runs_for_claim(target);
    // Without a failure before, there is nothing to tell apart: the target claim is all.
    let before_known = before.filter(|(f, n)| *f > 0 && *n > 0);
    let for_fix = before_known.map(|b| runs_for_fix(b, 10_000_000));
    let needed = match for_fix {
        None => Some(for_target),
        Some(None) => None,
        Some(Some(n)) => Some(n.max(for_target)),
    };
    let to_run = needed.unwrap_or(for_target).min(max_runs.max(1));
    let after = measure(lab, test, cond, to_run, true, stop)?;
    let before_claim = before.map(|(f, n)| crate::claim(f, n));
    let p_value =
        before_known.map(|(f, n)| crate::stats::fisher_two_sided(f, n, after.failures, after.runs));
    let bound = honest_claim(after.runs) * 100.0;
    let (outcome, verdict) = if after.failures > 0 {
        (
            Outcome::NotFixed,
            format!(
                "not fixed: failed after {} runs ({})",
                after.runs,
                after.first_failure.as_deref().unwrap_or("failed")
            ),
        )
    } else if stop.load(std::sync::atomic::Ordering::Relaxed) && Some(after.runs) < needed {
        (
            Outcome::Interrupted,
            format!(
                "interrupted: 0 failures in {} runs, p < {bound:.1}% at 95% confidence; not enough to claim a fix",
                after.runs
            ),
        )
    } else if needed.is_some_and(|n| after.runs >= n) {
        (
            Outcome::Fixed,
            format!(
                "fixed: 0 failures in {} runs, p < {bound:.1}% at 95% confidence{}",
                after.runs,
                match p_value {
                    Some(p) => format!(
                        ", below the rate before the fix (Fisher p {})",
                        crate::diagnose::p_text(p)
                    ),
                    None => String::new(),
                }
            ),
        )
    } else {
        let why = match (needed, before_known) {
            (Some(n), _) => format!(
                "{} more clean runs would be needed (--max-runs {n})",
                n - after.runs
            ),
            (None, Some((f, n))) => format!(
                "the rate before the fix ({f} of {n} runs) is too low to tell apart from zero with any reasonable number of runs; measure it better first (`flakehound repro`)"
            ),
            (None, None) => "the claim cannot be made".to_string(),
        };
        (
            Outcome::NotEnoughEvidence,
            format!(
                "not enough evidence: 0 failures in {} runs, p < {bound:.1}% at 95% confidence; {why}",
                after.runs
            ),
        )
    };
    let verdict = match &before_claim {
        Some(b) => format!("{verdict}; before the fix {b}"),
        None => format!("{verdict}; no stored rate from before the fix"),
    };
    Ok(Verification {
        after,
        before,
        before_claim,
        target,
        fixed: outcome == Outcome::Fixed,
        outcome,
        needed,
        p_value,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_for_a_claim() {
        assert_eq!(runs_for_claim(0.01), 299);
        assert!(honest_claim(runs_for_claim(0.05)) < 0.05);
        assert!(honest_claim(runs_for_claim(0.05) - 1) >= 0.05);
    }

    #[test]
    fn a_fix_needs_runs_that_tell_it_apart_from_the_rate_before() {
        // The case: 0 of 9 runs after, 6.9% before (say 9 of 130): the bound (28.3%)
        // covers the old rate, so that is no fix.
        assert!(!supports_fix((9, 130), 9));
        let n = runs_for_fix((9, 130), 100_000).unwrap();
        assert!(supports_fix((9, 130), n));
        assert!(!supports_fix((9, 130), n - 1));
        assert!(honest_claim(n) < 9.0 / 130.0);
        assert!(crate::stats::fisher_two_sided(9, 130, 0, n) < 0.05);
        // A test that always failed before: a few clean runs are a fix.
        assert!(runs_for_fix((20, 20), 1000).unwrap() <= 5);
        // One failure in 10,000 runs cannot be told from zero within 1,000 runs.
        assert_eq!(runs_for_fix((1, 10_000), 1000), None);
        assert_eq!(runs_for_fix((0, 50), 1000), None);
    }
}
