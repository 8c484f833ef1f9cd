//! Bayesian single change-point detection on a test's failure rate along commit order.
//!
//! # Model
//!
//! Input: per commit, in commit order, `(failures, trials)` of one test (failures beyond the
//! trials are clamped; commits without trials are allowed and carry no evidence). With
//! `F, S` the failures and passes of a stretch of commits and a `Beta(a, b)` prior on its rate,
//! the Beta–Binomial marginal likelihood (binomial coefficients dropped: both models share them)
//! is
//!
//! `m(F, S) = B(a + F, b + S) / B(a, b)`.
//!
//! * **M0**, one rate throughout: `p(D | M0) = m(F, S)` over all commits.
//! * **M1**, the rate changes at index `k` (commits `< k` before, `≥ k` after, independent rates,
//!   each with the same prior), `k` uniform over `1..n` (both regimes non-empty):
//!   `p(D | M1, k) = m(F<k, S<k) · m(F≥k, S≥k)`, `p(D | M1) = (1/(n−1)) Σₖ p(D | M1, k)`.
//!
//! The rate prior is **Jeffreys, `Beta(½, ½)`**, as in [`crate::stats`]: it favours rates near 0
//! and 1, which is where healthy and broken regimes live, and it makes M1 pay an Occam penalty
//! for its extra rate, so constant flakiness prefers M0.
//!
//! Outputs: the posterior over `k` under M1, `P(k | D, M1) ∝ p(D | M1, k)`; its MAP (ties go to
//! the latest index, i.e. to the first commit with data in the new regime when commits without
//! trials sit in between); the smallest contiguous index range containing the MAP with ≥ 90% of
//! that posterior (found exactly with a two-pointer sweep over prefix sums); and
//! `P(M1 | D) = π·p(D|M1) / (π·p(D|M1) + (1−π)·p(D|M0))` with prior `P(M1) = π`
//! (**default `π = ½`, prior odds 1:1**; [`detect_with`] takes another). The rates before and
//! after are posterior means `(F + ½)/(F + S + 1)` at the MAP split.
//!
//! Everything is in log space (`ln B` from statrs' `ln_gamma`) with log-sum-exp normalisation,
//! and `O(n)` with prefix sums, so thousands of commits are fine.

use serde::Serialize;
use statrs::function::beta::ln_beta;

/// Jeffreys prior on each regime's failure rate.
pub const PRIOR_A: f64 = 0.5;
pub const PRIOR_B: f64 = 0.5;
/// Default prior probability of a change, `P(M1)`.
pub const DEFAULT_PRIOR_CHANGE: f64 = 0.5;
/// Posterior mass the culprit range must hold.
pub const RANGE_MASS: f64 = 0.9;

/// Whether the failure rate went up (a regression or breakage) or down (a fix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Increase,
    Decrease,
}

/// The most likely change point and how sure we are about it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ChangePoint {
    /// First index of the new regime (MAP of `P(k | D, M1)`).
    pub index: usize,
    /// `P(k = index | D, M1)`.
    pub posterior: f64,
    /// `P(M1 | D)`: probability that the rate changed at all (prior `P(M1)` documented above).
    pub p_change: f64,
    /// Smallest contiguous index range `(first, last)` (inclusive) around `index` with ≥ 90%
    /// of `P(k | D, M1)`.
    pub range: (usize, usize),
    /// Posterior mean rate before / after `index` (Jeffreys).
    pub rate_before: f64,
    pub rate_after: f64,
    pub direction: Direction,
    /// `ln p(D|M1) − ln p(D|M0)`, the log Bayes factor for a change.
    pub log_bayes_factor: f64,
    pub failures_before: u64,
    pub trials_before: u64,
    pub failures_after: u64,
    pub trials_after: u64,
}

impl ChangePoint {
    /// The rate went up at `index` (regression or breakage).
    pub fn is_increase(&self) -> bool {
        self.direction == Direction::Increase
    }
}

/// Whether the rate rose or fell at the detected change point (`None` when none can be
/// computed). Shorthand for `detect(points).map(|c| c.direction)`.
pub fn detect_direction(points: &[(u64, u64)]) -> Option<Direction> {
    detect(points).map(|c| c.direction)
}

/// [`detect_with`] with the default prior `P(M1) = ½`.
pub fn detect(points: &[(u64, u64)]) -> Option<ChangePoint> {
    detect_with(points, DEFAULT_PRIOR_CHANGE)
}

/// Log marginal likelihood of `f` failures and `s` passes under the Jeffreys prior.
fn log_ml(f: u64, s: u64) -> f64 {
    ln_beta(PRIOR_A + f as f64, PRIOR_B + s as f64) - ln_beta(PRIOR_A, PRIOR_B)
}

/// Detects the most likely single change point. `None` when there are fewer than two points or
/// no trials at all; otherwise always a result, to be read through `p_change`. `prior_change`
/// is `P(M1)`, clamped to `[1e-9, 1 − 1e-9]` (NaN means the default).
pub fn detect_with(points: &[(u64, u64)], prior_change: f64) -> Option<ChangePoint> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    // Prefix sums of failures and passes.
    let mut pf = Vec::with_capacity(n + 1);
    let mut ps = Vec::with_capacity(n + 1);
    pf.push(0u64);
    ps.push(0u64);
    for &(f, t) in points {
        let f = f.min(t);
        pf.push(pf.last().unwrap_or(&0).saturating_add(f));
        ps.push(ps.last().unwrap_or(&0).saturating_add(t - f));
    }
    let (ft, st) = (pf[n], ps[n]);
    if ft.saturating_add(st) == 0 {
        return None;
    }
    let l0 = log_ml(ft, st);
    // ll[k - 1] = ln p(D | M1, k) for k in 1..n.
    let ll: Vec<f64> = (1..n)
        .map(|k| log_ml(pf[k], ps[k]) + log_ml(ft - pf[k], st - ps[k]))
        .collect();
    let (mut best, mut max) = (0, f64::NEG_INFINITY);
    for (j, &l) in ll.iter().enumerate() {
        if l >= max {
            max = l;
            best = j;
        }
    }
    let sum: f64 = ll.iter().map(|l| (l - max).exp()).sum();
    let lse = max + sum.ln();
    let post: Vec<f64> = ll.iter().map(|l| (l - lse).exp()).collect();
    let l1 = lse - ((n - 1) as f64).ln();
    let log_bf = l1 - l0;
    let prior = if prior_change.is_nan() {
        DEFAULT_PRIOR_CHANGE
    } else {
        prior_change.clamp(1e-9, 1.0 - 1e-9)
    };
    let log_odds = (prior / (1.0 - prior)).ln() + log_bf;
    let p_change = sigmoid(log_odds);
    let (lo, hi) = credible_range(&post, best, RANGE_MASS);

    let k = best + 1;
    let (fb, sb) = (pf[k], ps[k]);
    let (fa, sa) = (ft - fb, st - sb);
    let rate = |f: u64, s: u64| (f as f64 + PRIOR_A) / (f as f64 + s as f64 + PRIOR_A + PRIOR_B);
    let (rate_before, rate_after) = (rate(fb, sb), rate(fa, sa));
    Some(ChangePoint {
        index: k,
        posterior: post[best].clamp(0.0, 1.0),
        p_change,
        range: (lo + 1, hi + 1),
        rate_before,
        rate_after,
        direction: if rate_after > rate_before {
            Direction::Increase
        } else {
            Direction::Decrease
        },
        log_bayes_factor: log_bf,
        failures_before: fb,
        trials_before: fb.saturating_add(sb),
        failures_after: fa,
        trials_after: fa.saturating_add(sa),
    })
}

fn sigmoid(x: f64) -> f64 {
    if x.is_nan() {
        return 0.5;
    }
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Smallest contiguous `[lo, hi]` containing `m` whose mass is ≥ `mass` (ties: more mass).
/// Exact two-pointer sweep: as `lo` moves left, the smallest sufficient `hi` never moves right.
fn credible_range(post: &[f64], m: usize, mass: f64) -> (usize, usize) {
    let n = post.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    for p in post {
        prefix.push(prefix.last().unwrap_or(&0.0) + p);
    }
    // A hair below the mass so sums like 0.1 + 0.5 + 0.3 count as 0.9.
    let target = mass.min(prefix[n]) - 1e-12;
    let within = |lo: usize, hi: usize| prefix[hi + 1] - prefix[lo];
    let mut best: Option<(usize, usize)> = None;
    let mut hi = n - 1;
    for lo in (0..=m).rev() {
        while hi > m && within(lo, hi - 1) >= target {
            hi -= 1;
        }
        if within(lo, hi) >= target {
            let better = match best {
                None => true,
                Some((bl, bh)) => {
                    let (w, bw) = (hi - lo, bh - bl);
                    w < bw || (w == bw && within(lo, hi) > within(bl, bh))
                }
            };
            if better {
                best = Some((lo, hi));
            }
        }
    }
    best.unwrap_or((0, n - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic generator (splitmix64) so the tests don't depend on a seed crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn bern(&mut self, p: f64) -> u64 {
            u64::from(self.next() < p)
        }
    }

    #[test]
    fn too_little_data() {
        assert!(detect(&[]).is_none());
        assert!(detect(&[(1, 1)]).is_none());
        assert!(detect(&[(0, 0), (0, 0)]).is_none());
        assert!(detect(&[(0, 1), (1, 1)]).is_some());
    }

    #[test]
    fn deterministic_step_found_exactly() {
        let mut pts = vec![(0, 1); 200];
        pts.extend(vec![(1, 1); 50]);
        let c = detect(&pts).unwrap();
        assert_eq!(c.index, 200);
        assert_eq!(c.range, (200, 200));
        assert!(c.posterior > 0.9, "{c:?}");
        assert!(c.p_change > 0.999, "{c:?}");
        assert!(c.is_increase());
        assert_eq!(detect_direction(&pts), Some(Direction::Increase));
        assert_eq!((c.failures_before, c.trials_before), (0, 200));
        assert_eq!((c.failures_after, c.trials_after), (50, 50));
        assert!(c.rate_before < 0.01 && c.rate_after > 0.98);
    }

    #[test]
    fn fix_is_a_decrease() {
        let mut pts = vec![(2, 2); 30];
        pts.extend(vec![(0, 2); 100]);
        let c = detect(&pts).unwrap();
        assert_eq!(c.index, 30);
        assert_eq!(c.direction, Direction::Decrease);
        assert!(c.p_change > 0.999);
    }

    #[test]
    fn empty_commits_widen_the_range_and_map_is_first_data() {
        // Passes, three commits without runs, then failures.
        let mut pts = vec![(0, 1); 50];
        pts.extend(vec![(0, 0); 3]);
        pts.extend(vec![(1, 1); 20]);
        let c = detect(&pts).unwrap();
        assert_eq!(c.index, 53);
        assert_eq!(c.range, (50, 53));
    }

    #[test]
    fn intermittent_step_found_within_a_few() {
        // 1% noise before index 100, 30% after, one run per commit. The data reveal the change
        // only at the first failure after it (30%: often a few commits late), and a noise
        // failure near the change may look like its start, so the MAP is within a few commits
        // for most seeds and the 90% range then widens rather than misses.
        let (mut near, mut covered, mut close) = (0, 0, 0);
        let seeds = 60;
        for seed in 1..=seeds {
            let mut rng = Rng(seed);
            let pts: Vec<(u64, u64)> = (0..300)
                .map(|i| {
                    let p = if i < 100 { 0.01 } else { 0.3 };
                    (rng.bern(p), 1)
                })
                .collect();
            let c = detect(&pts).unwrap();
            if c.index.abs_diff(100) <= 25 {
                close += 1;
            }
            assert!(c.range.0 <= c.index && c.index <= c.range.1);
            assert!(c.p_change > 0.99, "seed {seed}: {c:?}");
            assert!(c.is_increase());
            assert!(
                pts[c.index].0 > 0,
                "the MAP of an increase is a failing commit"
            );
            if c.index.abs_diff(100) <= 8 {
                near += 1;
            }
            if c.range.0 <= 100 && 100 <= c.range.1 {
                covered += 1;
            }
        }
        assert!(near * 5 >= seeds * 4, "{near} of {seeds} within ±8");
        assert!(close * 20 >= seeds * 19, "{close} of {seeds} within ±25");
        assert!(
            covered * 100 >= seeds * 85,
            "{covered} of {seeds} ranges hold 100"
        );
    }

    #[test]
    fn clean_intermittent_regression_has_a_sharp_culprit() {
        // Like the example: 0 failures in 213 runs (71 commits × 3), then about a
        // third of the runs fail. Posterior mass leaks to earlier commits by the chance that
        // all their runs would have passed in the new regime (0.7³ ≈ 0.34 per commit back).
        let mut rng = Rng(42);
        let mut pts = vec![(0, 3); 71];
        let mut after: Vec<(u64, u64)> = (0..32)
            .map(|_| ((0..3).map(|_| rng.bern(0.32)).sum(), 3))
            .collect();
        after[0] = (1, 3);
        pts.extend(after);
        let c = detect(&pts).unwrap();
        assert_eq!(c.index, 71, "{c:?}");
        assert!(c.posterior > 0.5, "{c:?}");
        assert!(c.range.0 >= 68 && c.range.1 == 71, "{c:?}");
        assert!(c.p_change > 0.999_999, "{c:?}");
        assert_eq!((c.failures_before, c.trials_before), (0, 213));
    }

    #[test]
    fn intermittent_regression_with_several_runs_per_commit() {
        let mut rng = Rng(7);
        let pts: Vec<(u64, u64)> = (0..200)
            .map(|i| {
                let p = if i < 150 { 0.0 } else { 0.3 };
                let f = (0..3).map(|_| rng.bern(p)).sum();
                (f, 3)
            })
            .collect();
        let c = detect(&pts).unwrap();
        assert!((c.index as i64 - 150).abs() <= 2, "{c:?}");
        assert!(c.p_change > 0.999);
    }

    #[test]
    fn constant_flake_has_low_p_change() {
        let mut high = 0;
        for seed in 1..=30u64 {
            let mut rng = Rng(seed * 1000);
            let pts: Vec<(u64, u64)> = (0..300).map(|_| (rng.bern(0.05), 1)).collect();
            let c = detect(&pts).unwrap();
            assert!(c.p_change < 0.8, "seed {seed}: {c:?}");
            if c.p_change > 0.5 {
                high += 1;
            }
        }
        assert!(high <= 2, "{high} of 30 constant flakes look like changes");
    }

    #[test]
    fn stable_test_has_low_p_change() {
        // The Occam factor of M1 shrinks about as 1/√N: ≈ 0.05 for 1 000 passes.
        let c = detect(&vec![(0, 2); 500]).unwrap();
        assert!(c.p_change < 0.1, "{c:?}");
        let c = detect(&vec![(0, 2); 50_000]).unwrap();
        assert!(c.p_change < 0.02, "{c:?}");
    }

    #[test]
    fn thousands_of_points_are_stable() {
        let mut rng = Rng(3);
        let pts: Vec<(u64, u64)> = (0..20_000)
            .map(|i| (rng.bern(if i < 15_000 { 0.02 } else { 0.5 }), 1))
            .collect();
        let c = detect(&pts).unwrap();
        assert!((c.index as i64 - 15_000).abs() <= 10, "{c:?}");
        assert!(c.p_change.is_finite() && c.posterior.is_finite());
    }

    #[test]
    fn range_is_smallest() {
        let post = [0.05, 0.1, 0.5, 0.3, 0.05];
        assert_eq!(credible_range(&post, 2, 0.9), (1, 3));
        assert_eq!(credible_range(&[1.0], 0, 0.9), (0, 0));
        assert_eq!(credible_range(&[0.45, 0.1, 0.45], 1, 0.9), (0, 2));
        assert_eq!(credible_range(&[0.0, 0.95, 0.05], 1, 0.9), (1, 1));
    }

    proptest! {
        #[test]
        fn never_panics_and_probabilities_are_sane(
            raw in proptest::collection::vec((0u64..20, 0u64..20), 0..300),
            prior in 0.0f64..=1.0,
        ) {
            if let Some(c) = detect_with(&raw, prior) {
                prop_assert!((0.0..=1.0).contains(&c.posterior));
                prop_assert!((0.0..=1.0).contains(&c.p_change));
                prop_assert!(c.log_bayes_factor.is_finite());
                prop_assert!(c.index >= 1 && c.index < raw.len());
                prop_assert!(c.range.0 <= c.index && c.index <= c.range.1 && c.range.1 < raw.len());
                prop_assert!((0.0..=1.0).contains(&c.rate_before) && (0.0..=1.0).contains(&c.rate_after));
                prop_assert_eq!(c.trials_before + c.trials_after,
                    raw.iter().map(|&(f, t)| f.min(t) + (t - f.min(t))).sum::<u64>());
            } else {
                prop_assert!(raw.len() < 2 || raw.iter().all(|p| p.1 == 0));
            }
        }

        #[test]
        fn huge_counts(raw in proptest::collection::vec((0u64..u64::MAX / 1024, 0u64..u64::MAX / 1024), 2..20)) {
            let c = detect(&raw).unwrap();
            prop_assert!(c.p_change.is_finite() && c.posterior.is_finite());
        }

        #[test]
        fn range_mass(post in proptest::collection::vec(0.0f64..1.0, 1..100)) {
            let s: f64 = post.iter().sum();
            prop_assume!(s > 0.0);
            let post: Vec<f64> = post.iter().map(|p| p / s).collect();
            let m = post.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            let (lo, hi) = credible_range(&post, m, 0.9);
            prop_assert!(lo <= m && m <= hi && hi < post.len());
            let mass: f64 = post[lo..=hi].iter().sum();
            prop_assert!(mass >= 0.9 - 1e-9);
            // No strictly shorter window around m reaches the mass.
            let w = hi - lo;
            for l in m.saturating_sub(w)..=m {
                if w == 0 { break; }
                let h = l + w - 1;
                if h >= m && h < post.len() {
                    let s: f64 = post[l..=h].iter().sum();
                    prop_assert!(s < 0.9 * (1.0 - 1e-12) + 1e-12);
                }
            }
        }
    }
}
