//! Failure-rate statistics: Beta posteriors, intervals, flip rate, recency decay, honest claims.
//!
//! # Model
//!
//! A test's failures are modelled as Bernoulli trials with an unknown failure rate `p`.
//!
//! * **Posterior** ([`Rate`]): with `f` failures in `n` trials and a `Beta(a, b)` prior the
//!   posterior is `Beta(a + f, b + n − f)`. The default prior is **Jeffreys, `Beta(½, ½)`**: it is
//!   invariant to reparametrisation, adds only one pseudo-observation in total, and keeps mass near
//!   0 and 1 (a stable test's rate really is near 0). Posterior mean `(f + ½)/(n + 1)`.
//!   [`Rate::uniform`] uses `Beta(1, 1)` (mean `(f + 1)/(n + 2)`, Laplace's rule).
//! * **Credible interval**: the 95% *equal-tailed* interval, the 2.5% and 97.5% quantiles of the
//!   posterior ([`beta_quantile`]: Newton on statrs' regularised incomplete beta). Edge cases follow Brown, Cai &
//!   DasGupta's Jeffreys interval: the lower bound is 0 when `f = 0` and the upper bound 1 when
//!   `f = n`, so `0 of 0` is `[0, 1]`. Failures beyond the trials are clamped to the trials.
//! * **Wilson score interval** ([`wilson`]), the frequentist counterpart: with `p̂ = f/n`, `z = 1.96`,
//!   `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`; `[0, 1]` when `n = 0`.
//! * **Flip rate** ([`flip_rate`]): over outcomes in order (by commit or time), the fraction of
//!   consecutive pairs that differ, `#{i : oᵢ ≠ oᵢ₋₁} / (len − 1)` (0 for fewer than 2 outcomes).
//!   Independent failures at rate `p` flip at rate `2p(1 − p)` ([`expected_flip_rate`]); a test
//!   that broke once and stayed broken flips once in total, so its flip rate tends to 0 with
//!   history length even though its failure rate does not: a low flip rate relative to
//!   `2p(1 − p)` points to a regime change, not a flake.
//! * **Recency** ([`decayed_rate`]): an event `a` days old weighs `w = 2^(−a/h)` for half-life `h`;
//!   the decayed rate is `Σ w·failed / Σ w`. Weights are taken relative to the youngest event, so
//!   very old histories do not underflow (the ratio is unchanged). [`decayed_counts`] gives the
//!   absolute effective counts `(Σ w·failed, Σ w)` (age 0 = now) for a posterior that forgets.
//! * **Honest claim** ([`honest_claim`]): after `n` passes and no failure, the failure rate is
//!   below `1 − 0.05^{1/n}` with 95% confidence (exact one-sided Clopper–Pearson bound; ≈ 3/n,
//!   the rule of three).

use serde::Serialize;
use statrs::function::beta::{beta_reg, ln_beta};
use statrs::function::erf::erf_inv;

/// Two-sided 95% standard normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A failure-rate posterior summary: posterior mean and 95% equal-tailed credible interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Rate {
    pub failures: u64,
    pub trials: u64,
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    /// Jeffreys `Beta(½, ½)` prior, 95% interval (the default).
    pub fn new(failures: u64, trials: u64) -> Rate {
        Rate::with_prior(failures, trials, 0.5, 0.5, 0.95)
    }

    /// Uniform `Beta(1, 1)` prior, 95% interval.
    pub fn uniform(failures: u64, trials: u64) -> Rate {
        Rate::with_prior(failures, trials, 1.0, 1.0, 0.95)
    }

    /// Any `Beta(a, b)` prior (`a, b > 0`, otherwise Jeffreys is used) and credible `level` in
    /// `(0, 1)` (otherwise 0.95).
    pub fn with_prior(failures: u64, trials: u64, a: f64, b: f64, level: f64) -> Rate {
        let failures = failures.min(trials);
        let valid = |x: f64| x.is_finite() && x > 0.0;
        let (a, b) = if valid(a) && valid(b) {
            (a, b)
        } else {
            (0.5, 0.5)
        };
        let level = if level > 0.0 && level < 1.0 {
            level
        } else {
            0.95
        };
        let pa = a + failures as f64;
        let pb = b + (trials - failures) as f64;
        let mean = pa / (pa + pb);
        let tail = (1.0 - level) / 2.0;
        let low = if failures == 0 {
            0.0
        } else {
            beta_quantile(pa, pb, tail).min(mean)
        };
        let high = if failures == trials {
            1.0
        } else {
            beta_quantile(pa, pb, 1.0 - tail).max(mean)
        };
        Rate {
            failures,
            trials,
            mean,
            low,
            high,
        }
    }

    /// Observed rate `failures / trials` (0 when there were no trials).
    pub fn observed(&self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.failures as f64 / self.trials as f64
        }
    }
}

/// Quantile `p` of `Beta(a, b)` (`a, b > 0`), in `[0, 1]`.
///
/// Safeguarded Newton iteration on statrs' regularised incomplete beta `I_x(a, b)`, started at
/// the normal approximation and falling back to bisection (geometric when the bracket spans
/// orders of magnitude) whenever a step leaves the bracket; at most 200 steps. (statrs'
/// `inv_beta_reg` does not terminate for some skewed large parameters, such as
/// `Beta(1.5, 10⁷)`, which 0 failures in 10 million runs produce.)
pub fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    if p.is_nan() || !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
        return 0.5;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let s = a + b;
    let sd = (a * b / (s * s * (s + 1.0))).sqrt();
    let z = std::f64::consts::SQRT_2 * erf_inv(2.0 * p - 1.0);
    let mut x = (a / s + z * sd).clamp(1e-300, 1.0 - f64::EPSILON);
    let ln_b = ln_beta(a, b);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let f = beta_reg(a, b, x) - p;
        if f == 0.0 || f.is_nan() {
            break;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let pdf = ((a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - ln_b).exp();
        let mut next = x - f / pdf;
        if !(next > lo && next < hi) {
            next = if lo > 0.0 && hi / lo > 4.0 {
                (lo * hi).sqrt()
            } else {
                0.5 * (lo + hi)
            };
        }
        let done = (next - x).abs() <= 4.0 * f64::EPSILON * x || hi - lo <= 4.0 * f64::EPSILON * hi;
        x = next;
        if done {
            break;
        }
    }
    x.clamp(0.0, 1.0)
}

/// Posterior probability (Jeffreys prior) that the failure rate exceeds `threshold`:
/// `1 − I_t(f + ½, n − f + ½)`.
pub fn prob_rate_above(failures: u64, trials: u64, threshold: f64) -> f64 {
    let failures = failures.min(trials);
    if threshold.is_nan() || threshold <= 0.0 {
        return 1.0;
    }
    if threshold >= 1.0 {
        return 0.0;
    }
    let a = failures as f64 + 0.5;
    let b = (trials - failures) as f64 + 0.5;
    (1.0 - beta_reg(a, b, threshold)).clamp(0.0, 1.0)
}

/// Wilson score interval at 95% for `failures` of `trials`; `(0, 1)` when `trials == 0`.
pub fn wilson(failures: u64, trials: u64) -> (f64, f64) {
    wilson_z(failures, trials, Z95)
}

/// Wilson score interval for a given normal quantile `z`.
pub fn wilson_z(failures: u64, trials: u64, z: f64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = failures.min(trials) as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    let low = if failures == 0 { 0.0 } else { center - half };
    let high = if failures >= trials {
        1.0
    } else {
        center + half
    };
    (low.clamp(0.0, 1.0), high.clamp(0.0, 1.0))
}

/// `P(X ≥ k)` for `X ~ Binomial(n, q)`: how surprising `k` of `n` failures in a place holding a
/// share `q` of the runs are, if place did not matter. Via the regularised incomplete beta:
/// `P(X ≥ k) = I_q(k, n − k + 1)`.
pub fn binomial_sf(k: u64, n: u64, q: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    beta_reg(k as f64, (n - k + 1) as f64, q).clamp(0.0, 1.0)
}

/// Fraction of consecutive pairs of outcomes that differ (`true` = failed), in order.
/// 0 for fewer than two outcomes. See the module docs for how to read it.
pub fn flip_rate(outcomes: &[bool]) -> f64 {
    if outcomes.len() < 2 {
        return 0.0;
    }
    let flips = outcomes.windows(2).filter(|w| w[0] != w[1]).count();
    flips as f64 / (outcomes.len() - 1) as f64
}

/// Flip rate expected from independent outcomes failing at rate `p`: `2p(1 − p)`.
pub fn expected_flip_rate(p: f64) -> f64 {
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    2.0 * p * (1.0 - p)
}

fn decay_ln2(half_life_days: f64) -> f64 {
    if half_life_days.is_finite() && half_life_days > 0.0 {
        std::f64::consts::LN_2 / half_life_days
    } else {
        0.0 // no decay
    }
}

fn clean_age(age: f64) -> f64 {
    if age.is_finite() { age.max(0.0) } else { 0.0 }
}

/// Failure rate with exponential recency weights `2^(−age/half_life)` (see the module docs).
/// 0 for no events; a non-positive or non-finite half-life means no decay; negative or
/// non-finite ages count as 0.
pub fn decayed_rate(events: &[(f64, bool)], half_life_days: f64) -> f64 {
    let k = decay_ln2(half_life_days);
    let youngest = events
        .iter()
        .map(|e| clean_age(e.0))
        .fold(f64::INFINITY, f64::min);
    let (mut fails, mut total) = (0.0, 0.0);
    for &(age, failed) in events {
        let w = (-k * (clean_age(age) - youngest)).exp();
        total += w;
        if failed {
            fails += w;
        }
    }
    if total > 0.0 {
        (fails / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Effective `(failures, trials)` with weights `2^(−age/half_life)` on absolute ages (age 0 =
/// now), for a Beta posterior that forgets old evidence.
pub fn decayed_counts(events: &[(f64, bool)], half_life_days: f64) -> (f64, f64) {
    let k = decay_ln2(half_life_days);
    let (mut fails, mut total) = (0.0, 0.0);
    for &(age, failed) in events {
        let w = (-k * clean_age(age)).exp();
        total += w;
        if failed {
            fails += w;
        }
    }
    (fails, total)
}

/// 95% upper bound on the failure rate after `trials` passes and no failure:
/// `1 − 0.05^{1/n}` (1 when `trials == 0`).
pub fn honest_claim(trials: u64) -> f64 {
    honest_claim_at(trials, 0.95)
}

/// The same bound at any confidence in `(0, 1)`: `1 − (1 − confidence)^{1/n}`.
pub fn honest_claim_at(trials: u64, confidence: f64) -> f64 {
    if trials == 0 || confidence.is_nan() || confidence >= 1.0 {
        return 1.0;
    }
    if confidence <= 0.0 {
        return 0.0;
    }
    (-((1.0 - confidence).ln() / trials as f64).exp_m1()).clamp(0.0, 1.0)
}

fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p != 0.0 && p < 0.1 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A failure rate in words: "8.1% [5.9, 10.9] (8/99)" with its Wilson 95% interval, or, with
/// no failure, the honest claim "p < 1.0% at 95% confidence after 299 runs".
pub fn rate_claim(failures: u64, runs: u64) -> String {
    if runs == 0 {
        return "not run".into();
    }
    if failures == 0 {
        return format!(
            "p < {} at 95% confidence after {runs} run{}",
            pct(honest_claim(runs)),
            if runs == 1 { "" } else { "s" }
        );
    }
    let (lo, hi) = wilson(failures, runs);
    format!(
        "{} [{}, {}] ({failures}/{runs})",
        pct(failures as f64 / runs as f64),
        pct(lo).trim_end_matches('%'),
        pct(hi).trim_end_matches('%')
    )
}

/// Median of the finite values (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Median absolute deviation from the median (unscaled; multiply by 1.4826 for a normal σ).
pub fn mad(values: &[f64]) -> f64 {
    let m = median(values);
    let dev: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| (x - m).abs())
        .collect();
    median(&dev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn jeffreys_posterior() {
        let r = Rate::new(0, 0);
        assert_eq!((r.mean, r.low, r.high), (0.5, 0.0, 1.0));
        let r = Rate::new(0, 1000);
        close(r.mean, 0.5 / 1001.0, 1e-12);
        assert_eq!(r.low, 0.0);
        // Jeffreys upper bound for 0/1000 is about 0.0025.
        assert!(r.high > 0.0015 && r.high < 0.003, "{r:?}");
        let r = Rate::new(50, 50);
        assert_eq!(r.high, 1.0);
        assert!(r.low > 0.9 && r.low < 0.999);
        // Known value: Jeffreys interval for 31/96 ≈ [0.233, 0.421].
        let r = Rate::new(31, 96);
        close(r.low, 0.233, 0.005);
        close(r.high, 0.421, 0.005);
        close(r.mean, 31.5 / 97.0, 1e-12);
        // Failures are clamped to trials.
        assert_eq!(Rate::new(9, 3), Rate::new(3, 3));
        let u = Rate::uniform(1, 2);
        close(u.mean, 0.5, 1e-12);
        assert_eq!(Rate::new(1, 4).observed(), 0.25);
    }

    #[test]
    fn quantiles_match_closed_forms() {
        // Beta(½, ½) is the arcsine law: F⁻¹(p) = sin²(πp/2).
        for p in [0.001, 0.025, 0.3, 0.5, 0.975] {
            let want = (std::f64::consts::PI * p / 2.0).sin().powi(2);
            close(beta_quantile(0.5, 0.5, p), want, 1e-12);
        }
        // Beta(1, b): F⁻¹(p) = 1 − (1 − p)^{1/b}.
        close(
            beta_quantile(1.0, 9.0, 0.5),
            1.0 - 0.5f64.powf(1.0 / 9.0),
            1e-12,
        );
        // Large b: Beta(a, b)·b → Gamma(a); Gamma(½) = χ²₁/2, χ²₁ quantiles 0.000982, 5.0239.
        close(
            beta_quantile(0.5, 1e9 + 0.5, 0.025) * 2e9,
            0.000_982_07,
            1e-7,
        );
        close(beta_quantile(0.5, 1e9 + 0.5, 0.975) * 2e9, 5.023_886, 1e-5);
        // Huge balanced: normal with sd √(¼/2e9).
        close(
            beta_quantile(1e9, 1e9, 0.975),
            0.5 + Z95 * (0.25f64 / 2e9).sqrt(),
            1e-9,
        );
        assert_eq!(beta_quantile(2.0, 3.0, 0.0), 0.0);
        assert_eq!(beta_quantile(2.0, 3.0, 1.0), 1.0);
        assert_eq!(beta_quantile(0.0, 3.0, 0.5), 0.5);
    }

    #[test]
    fn wilson_interval() {
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (l, h) = wilson(5, 10);
        close(l, 0.2366, 0.001);
        close(h, 0.7634, 0.001);
        let (l, h) = wilson(0, 100);
        assert_eq!(l, 0.0);
        close(h, 0.037, 0.001);
        assert_eq!(wilson(7, 7).1, 1.0);
    }

    #[test]
    fn flips() {
        assert_eq!(flip_rate(&[]), 0.0);
        assert_eq!(flip_rate(&[true]), 0.0);
        assert_eq!(flip_rate(&[false, true, false, true]), 1.0);
        assert_eq!(flip_rate(&[false, false, true, true]), 1.0 / 3.0);
        assert_eq!(expected_flip_rate(0.5), 0.5);
        assert_eq!(expected_flip_rate(0.0), 0.0);
    }

    #[test]
    fn decay() {
        assert_eq!(decayed_rate(&[], 7.0), 0.0);
        // Old failures, recent passes: a fixed test recovers.
        let mut ev: Vec<(f64, bool)> = (0..20).map(|d| (30.0 + d as f64, true)).collect();
        ev.extend((0..10).map(|d| (d as f64, false)));
        let r = decayed_rate(&ev, 3.0);
        assert!(r < 0.01, "{r}");
        close(decayed_rate(&ev, 0.0), 20.0 / 30.0, 1e-12);
        // Equal ages: plain rate, and old histories don't underflow.
        close(decayed_rate(&[(1e6, true), (1e6, false)], 1.0), 0.5, 1e-12);
        // One half-life apart: weights 1 and 1/2.
        close(
            decayed_rate(&[(0.0, true), (7.0, false)], 7.0),
            2.0 / 3.0,
            1e-12,
        );
        let (f, n) = decayed_counts(&[(0.0, true), (7.0, false)], 7.0);
        close(f, 1.0, 1e-12);
        close(n, 1.5, 1e-12);
    }

    #[test]
    fn honest() {
        assert_eq!(honest_claim(0), 1.0);
        close(honest_claim(1), 0.95, 1e-12);
        close(honest_claim(300), 1.0 - 0.05f64.powf(1.0 / 300.0), 1e-15);
        // Rule of three.
        close(honest_claim(1000) * 1000.0, 3.0, 0.01);
        assert!(honest_claim(u64::MAX) >= 0.0);
    }

    #[test]
    fn robust_location() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), 1.0);
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
    }

    #[test]
    fn prob_above() {
        assert!(prob_rate_above(0, 1000, 0.01) < 1e-3);
        assert!(prob_rate_above(31, 96, 0.1) > 0.999);
        assert_eq!(prob_rate_above(1, 2, 0.0), 1.0);
        assert_eq!(prob_rate_above(1, 2, 1.0), 0.0);
    }

    proptest! {
        #[test]
        fn rate_is_ordered(f in 0u64..5000, n in 0u64..5000) {
            let r = Rate::new(f, n);
            prop_assert!(r.failures <= r.trials);
            prop_assert!(0.0 <= r.low && r.low <= r.mean && r.mean <= r.high && r.high <= 1.0, "{:?}", r);
            let (l, h) = wilson(f.min(n), n);
            prop_assert!(0.0 <= l && l <= h && h <= 1.0);
            if n > 0 {
                let p = f.min(n) as f64 / n as f64;
                prop_assert!(l <= p + 1e-12 && p <= h + 1e-12);
            }
            let u = Rate::uniform(f, n);
            prop_assert!(0.0 <= u.low && u.low <= u.mean && u.mean <= u.high && u.high <= 1.0);
            let pa = prob_rate_above(f, n, 0.05);
            prop_assert!((0.0..=1.0).contains(&pa));
        }

        #[test]
        fn huge_counts_are_finite(f in 0u64..u64::MAX / 4, n in 0u64..u64::MAX / 4) {
            let r = Rate::new(f, n.max(f));
            prop_assert!(r.mean.is_finite() && r.low.is_finite() && r.high.is_finite());
        }

        #[test]
        fn flip_and_decay_bounded(outcomes in proptest::collection::vec(any::<bool>(), 0..200),
                                  ages in proptest::collection::vec(-10.0f64..1e7, 0..200),
                                  h in -1.0f64..100.0) {
            let f = flip_rate(&outcomes);
            prop_assert!((0.0..=1.0).contains(&f));
            let ev: Vec<(f64, bool)> = ages.iter().zip(outcomes.iter().cycle()).map(|(a, o)| (*a, *o)).collect();
            let d = decayed_rate(&ev, h);
            prop_assert!((0.0..=1.0).contains(&d));
            let (fw, nw) = decayed_counts(&ev, h);
            prop_assert!(fw >= 0.0 && fw <= nw + 1e-9 && nw.is_finite());
        }

        #[test]
        fn honest_claim_decreases(n in 1u64..1_000_000) {
            let a = honest_claim(n);
            let b = honest_claim(n + 1);
            prop_assert!(a > 0.0 && a <= 1.0 && b <= a);
            // The Jeffreys upper bound with zero failures is tighter than the exact one-sided bound.
            prop_assert!(Rate::new(0, n).high <= a + 1e-12);
        }
    }
}
