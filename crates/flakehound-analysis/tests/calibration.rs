//! Fits the confidence calibration ([`verdict::CALIBRATION`]) on **tuning** histories: Platt
//! scaling (logistic regression of "verdict right" on the logit of the raw evidence probability)
//! over the reported verdicts of `Config::small` seeds 21–40 and `Config::large` seeds 41–42,
//! each as generated and shortened to 30 commits with retry rate 0.2. The held-out histories
//! (`tests/heldout.rs`) never enter the fit.
//!
//! `cargo test -p flakehound-analysis --test calibration -- --ignored --nocapture` prints the
//! fitted parameters; the test that always runs checks that the constants in `verdict.rs` are
//! near the fit and no worse than the raw probabilities on these histories.

use flakehound_analysis::verdict::{self, analyse};
use flakehound_store::Store;
use flakehound_store_sqlite::SqliteStore;
use flakehound_synth::Config;

fn configs() -> Vec<Config> {
    let mut out = Vec::new();
    for seed in 21..=40 {
        out.push(Config::small(seed));
        out.push(Config {
            commits: 30,
            retry_rate: 0.2,
            ..Config::small(seed)
        });
    }
    for seed in 41..=42 {
        out.push(Config::large(seed));
        out.push(Config {
            commits: 60,
            retry_rate: 0.2,
            ..Config::large(seed)
        });
    }
    out
}

/// (raw confidence, right) of every reported verdict the calibration applies to.
fn samples() -> Vec<(f64, bool)> {
    let mut out = Vec::new();
    for cfg in configs() {
        let history = flakehound_synth::generate(&cfg);
        let mut store = SqliteStore::in_memory().unwrap();
        flakehound_synth::write_to_store(&history, &mut store).unwrap();
        for v in analyse(&store.evidence().unwrap()).verdicts {
            if !v.verdict.is_unstable() || v.verdict == verdict::Verdict::Infra {
                continue;
            }
            let right = history
                .truth
                .get(&v.id)
                .is_some_and(|t| t.verdict() == v.verdict.as_str());
            out.push((v.raw_confidence, right));
        }
    }
    out
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Maximum-likelihood (a, b) of `P(right) = σ(a·logit(raw) + b)`, by Newton's method, with
/// Platt's target smoothing (targets (n₊+1)/(n₊+2) and 1/(n₋+2) instead of 1 and 0).
fn platt(samples: &[(f64, bool)]) -> (f64, f64) {
    let pos = samples.iter().filter(|s| s.1).count() as f64;
    let neg = samples.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..100 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(raw, right) in samples {
            let z = logit(raw);
            let p = 1.0 / (1.0 + (-(a * z + b)).exp());
            let t = if right { hi } else { lo };
            let w = (p * (1.0 - p)).max(1e-12);
            g0 += (p - t) * z;
            g1 += p - t;
            h00 += w * z * z;
            h01 += w * z;
            h11 += w;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (h11 * g0 - h01 * g1) / det;
        let db = (h00 * g1 - h01 * g0) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a, b)
}

fn brier(samples: &[(f64, bool)], f: impl Fn(f64) -> f64) -> f64 {
    samples
        .iter()
        .map(|&(raw, ok)| (f(raw) - f64::from(u8::from(ok))).powi(2))
        .sum::<f64>()
        / samples.len() as f64
}

#[test]
#[ignore = "refits the calibration: run by hand, copy the constants into verdict.rs"]
fn fit_calibration() {
    let s = samples();
    let (a, b) = platt(&s);
    eprintln!(
        "{} verdicts, {} wrong: CALIBRATION = ({a:.3}, {b:.3}); Brier raw {:.4}, fitted {:.4}",
        s.len(),
        s.iter().filter(|x| !x.1).count(),
        brier(&s, |r| r),
        brier(&s, |r| 1.0 / (1.0 + (-(a * logit(r) + b)).exp()))
    );
}

#[test]
fn the_calibration_is_no_worse_than_the_raw_odds_on_tuning_histories() {
    let s = samples();
    let raw = brier(&s, |r| r);
    let cal = brier(&s, verdict::calibrated);
    eprintln!("tuning Brier: raw {raw:.4}, calibrated {cal:.4}");
    assert!(cal <= raw + 1e-9, "calibrated {cal:.4} vs raw {raw:.4}");
}
