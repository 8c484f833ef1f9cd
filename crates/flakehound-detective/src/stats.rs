//! Comparing two failure rates.

/// Failures over runs; 0 without runs.
pub fn rate(failures: u64, runs: u64) -> f64 {
    if runs == 0 {
        0.0
    } else {
        failures as f64 / runs as f64
    }
}

/// Holm–Bonferroni adjusted p-values, in the order given: the k-th smallest of m p-values is
/// multiplied by m − k + 1, and an adjusted p-value is never smaller than that of a smaller raw
/// p-value (capped at 1). Rejecting every hypothesis whose adjusted p-value is below α keeps the
/// chance of any false rejection among the m below α, whatever their dependence.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![1.0; m];
    let mut running = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Two-sided Fisher exact test p-value for failures `a` of `n1` runs against `b` of `n2`:
/// the probability, under "both conditions fail at the same rate", of a table at most as likely
/// as the one observed. Exact (hypergeometric), fine for the small counts of experiments.
pub fn fisher_two_sided(a: u64, n1: u64, b: u64, n2: u64) -> f64 {
    let (a, b) = (a.min(n1), b.min(n2));
    let k = a + b; // failures in total
    let n = n1 + n2;
    if n == 0 || k == 0 || k == n {
        return 1.0;
    }
    let lf = |x: u64| ln_factorial(x);
    // log P(X = x) for X ~ Hypergeometric(n, k, n1): x failures among the first condition's runs.
    let logp = |x: u64| {
        lf(k) - lf(x) - lf(k - x) + lf(n - k)
            - lf(n1 - x)
            - lf(n - k - (n1 - x))
            - (lf(n) - lf(n1) - lf(n - n1))
    };
    let lo = k.saturating_sub(n - n1);
    let hi = k.min(n1);
    let observed = logp(a);
    let mut p = 0.0;
    for x in lo..=hi {
        let l = logp(x);
        // Relative tolerance, as usual for this test, so ties count as "as extreme".
        if l <= observed + 1e-7 {
            p += l.exp();
        }
    }
    p.clamp(0.0, 1.0)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits), for beta-binomial weights.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Beta-binomial probabilities of 0..=n failures in `n` more runs, for a failure rate with a
/// Beta(a, b) posterior.
pub fn beta_binomial(n: u64, a: f64, b: f64) -> Vec<f64> {
    let lnc = |k: u64| ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k);
    (0..=n)
        .map(|k| (lnc(k) + ln_beta(k as f64 + a, (n - k) as f64 + b) - ln_beta(a, b)).exp())
        .collect()
}

/// One arm of an experiment for [`predictive_power`]: failures and runs so far, and prior
/// pseudo-counts (failures, passes) on top of Jeffreys' Beta(½, ½).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arm {
    pub failures: u64,
    pub runs: u64,
    pub prior: (f64, f64),
}

impl Arm {
    pub fn new(failures: u64, runs: u64) -> Arm {
        Arm {
            failures,
            runs,
            prior: (0.0, 0.0),
        }
    }

    fn posterior(&self) -> (f64, f64) {
        (
            0.5 + self.failures as f64 + self.prior.0,
            0.5 + (self.runs - self.failures.min(self.runs)) as f64 + self.prior.1,
        )
    }
}

/// Predictive probability that, once both arms have `max_runs` runs, Fisher's test compares
/// them with p < `alpha` (and, unless `either_direction`, with the condition failing more than
/// the control): the futility rule of the sequential experiments. Each arm's remaining runs are
/// beta-binomial under its own posterior, so what has been seen (a condition that failed 3 of 4)
/// and what the store knows (its prior) both count.
pub fn predictive_power(
    control: Arm,
    condition: Arm,
    max_runs: u64,
    alpha: f64,
    either_direction: bool,
) -> f64 {
    let r0 = max_runs.saturating_sub(control.runs);
    let r1 = max_runs.saturating_sub(condition.runs);
    let (a0, b0) = control.posterior();
    let (a1, b1) = condition.posterior();
    let p0 = beta_binomial(r0, a0, b0);
    let p1 = beta_binomial(r1, a1, b1);
    let (n0, n1) = (control.runs + r0, condition.runs + r1);
    let mut power = 0.0;
    for (x0, w0) in p0.iter().enumerate() {
        if *w0 < 1e-12 {
            continue;
        }
        let f0 = control.failures + x0 as u64;
        for (x1, w1) in p1.iter().enumerate() {
            let f1 = condition.failures + x1 as u64;
            let telling = either_direction || f1 * n0 > f0 * n1;
            if telling && fisher_two_sided(f0, n0, f1, n1) < alpha {
                power += w0 * w1;
            }
        }
    }
    power.clamp(0.0, 1.0)
}

fn ln_factorial(x: u64) -> f64 {
    // Exact sums for the small counts of experiments; ln Γ for the large ones (a verification
    // weighs a long stored history), where summing would be slow.
    if x < 1024 {
        (2..=x).map(|i| (i as f64).ln()).sum()
    } else {
        ln_gamma(x as f64 + 1.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn holm_adjusts_in_rank_order_and_stays_monotone() {
        let a = super::holm(&[0.01, 0.04, 0.03, 0.005]);
        // Sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 = 0.04 → max so far 0.06.
        let want = [0.03, 0.06, 0.06, 0.02];
        for (x, w) in a.iter().zip(want) {
            assert!((x - w).abs() < 1e-12, "{a:?}");
        }
        assert_eq!(super::holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(super::holm(&[]).is_empty());
        // One of ten experiments at p = 0.047 is what chance gives: not significant.
        let mut ten = vec![0.5; 10];
        ten[3] = 0.047;
        assert!(super::holm(&ten)[3] >= 0.05);
    }

    use super::*;

    #[test]
    fn known_values() {
        // R: fisher.test(matrix(c(0,10,10,0),2))$p.value = 1.0825e-05
        assert!((fisher_two_sided(0, 10, 10, 10) - 1.0825e-5).abs() < 1e-8);
        // fisher.test(matrix(c(3,7,1,9),2)) p = 0.5820
        assert!((fisher_two_sided(3, 10, 1, 10) - 0.5820).abs() < 1e-3);
        assert_eq!(fisher_two_sided(0, 10, 0, 10), 1.0);
        assert_eq!(fisher_two_sided(5, 5, 5, 5), 1.0);
        // Symmetric.
        assert!((fisher_two_sided(2, 12, 9, 15) - fisher_two_sided(9, 15, 2, 12)).abs() < 1e-12);
    }

    #[test]
    fn beta_binomial_sums_to_one_and_matches_a_known_case() {
        for (n, a, b) in [
            (0, 0.5, 0.5),
            (5, 0.5, 0.5),
            (24, 3.5, 9.5),
            (16, 0.5, 40.5),
        ] {
            let p = beta_binomial(n, a, b);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{n} {a} {b}");
        }
        // Beta(1, 1) is uniform: every count equally likely.
        for p in beta_binomial(4, 1.0, 1.0) {
            assert!((p - 0.2).abs() < 1e-9);
        }
    }

    #[test]
    fn predictive_power_separates_promising_from_futile() {
        // Nothing failed in 4 runs of either arm: little hope of a difference by 24.
        let futile = predictive_power(Arm::new(0, 4), Arm::new(0, 4), 24, 0.05, false);
        // The condition failed 3 of 4 against 0 of 4: very likely significant by 24.
        let promising = predictive_power(Arm::new(0, 4), Arm::new(3, 4), 24, 0.05, false);
        assert!(futile < 0.1, "{futile}");
        assert!(promising > 0.9, "{promising}");
        // Already there: certain.
        assert!(predictive_power(Arm::new(0, 24), Arm::new(20, 24), 24, 0.05, false) > 0.999);
        // A condition that can only count when failing more: failing less is no power.
        assert!(predictive_power(Arm::new(4, 4), Arm::new(0, 4), 8, 0.05, false) < 0.01);
        assert!(predictive_power(Arm::new(4, 4), Arm::new(0, 4), 8, 0.05, true) > 0.5);
        // A clean history (prior) makes the same zeros more convincing.
        let mut clean = Arm::new(0, 4);
        clean.prior = (0.0, 20.0);
        let with_history = predictive_power(clean, clean, 24, 0.05, false);
        assert!(with_history < futile, "{with_history} vs {futile}");
    }
}
