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

#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub after: Measurement,
    /// The stored rate before the fix: failures and runs.
    pub before: Option<(u64, u64)>,
    pub before_claim: Option<String>,
    /// The claim sought (e.g. 0.01).
    pub target: f64,
    pub fixed: bool,
    /// One-line conclusion.
    pub verdict: String,
}

/// Runs until the claim "p < target" holds (or a failure shows the fix did not work), and
/// compares with `before`.
pub fn verify(
    lab: &Lab,
    test: &TestRef,
    cond: &Conditions,
    target: f64,
    before: Option<(u64, u64)>,
    stop: &AtomicBool,
) -> Result<Verification> {
    let needed = runs_for_claim(target);
    let after = measure(lab, test, cond, needed, true, stop)?;
    let before_claim = before.map(|(f, n)| crate::claim(f, n));
    let fixed = after.failures == 0 && after.runs >= needed;
    let verdict = if after.failures > 0 {
        format!(
            "not fixed: failed after {} runs ({})",
            after.runs,
            after.first_failure.as_deref().unwrap_or("failed")
        )
    } else if fixed {
        format!(
            "fixed: 0 failures in {} runs, p < {:.1}% at 95% confidence",
            after.runs,
            honest_claim(after.runs) * 100.0
        )
    } else {
        format!(
            "inconclusive: 0 failures in {} runs (stopped before {needed}), p < {:.1}% at 95%",
            after.runs,
            honest_claim(after.runs) * 100.0
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
        fixed,
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
}
