//! Comparing two failure rates.

/// Failures over runs; 0 without runs.
pub fn rate(failures: u64, runs: u64) -> f64 {
    if runs == 0 {
        0.0
    } else {
        failures as f64 / runs as f64
    }
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

fn ln_factorial(x: u64) -> f64 {
    (2..=x).map(|i| (i as f64).ln()).sum()
}

#[cfg(test)]
mod tests {
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
}
