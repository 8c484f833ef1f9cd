//! The search engine: pure and deterministic (no clock, no randomness, no I/O).
//!
//! # Model
//! The range is `m` commits in first-parent order, position 0 the good end and `m - 1` the bad
//! end. A hypothesis is either *culprit `k`* (`1 ≤ k < m`): every commit before `k` fails at rate
//! `p0` and every commit from `k` on at the higher rate `p1`; or *no culprit*: every commit fails
//! at the same rate `p`. The rates are unknown and integrated out over a grid:
//!
//! - `p0` (the rate before): 0 with prior mass ½ (a test that was stable), the rest spread over
//!   rates up to 0.8 (a test that was already flaky);
//! - `p1 = p0 + δ·(1 − p0)`, `δ ≥ 0.1` (a change that matters), `δ = 1` (always failing after:
//!   broken) with prior mass 0.3;
//! - `p` (no culprit) over the same grid as `p0` and 1.
//!
//! Observations are the failures and runs at each tested commit; given a hypothesis and its
//! rates they are independent Bernoulli trials, so the posterior is exact on the grid. Requiring
//! the after rate to exceed the before rate by a margin is what lets "no culprit" win: with
//! unconstrained rates the evidence for "no change" would grow only like √runs.
//!
//! # Choosing the next step
//! For every commit that can still be tested and every batch size `r ≤` [`Config::max_batch`],
//! the expected information about the hypothesis from the number of failures in `r` runs
//! (`I(H; S) = H(S) − E_h H(S | h)`, `S | h` binomial at the hypothesis' mean rate there) is
//! divided by its cost: `r` executions, plus [`Config::setup_cost`] for a commit not checked out
//! yet. The best ratio wins. The caller runs the batch, updating after every run, and asks again.
//!
//! # Stopping
//! When one answer holds [`Config::confidence`] of the posterior. A commit that cannot be tested
//! (skipped) cannot be told from the next one, so answers are *blocks*: a run of skipped commits
//! and the first testable commit after it (usually a block is one commit).

use serde::Serialize;

/// Tuning of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Posterior probability at which an answer is final.
    pub confidence: f64,
    /// The most executions in all.
    pub max_runs: u64,
    /// The cost of checking a commit out and running `--setup`, in executions.
    pub setup_cost: f64,
    /// The largest batch of runs at one commit chosen at once.
    pub max_batch: u32,
    /// Prior probability that no commit of the range changed the rate.
    pub prior_none: f64,
    /// Prior probability that the test never failed before the change (rate 0).
    pub prior_stable: f64,
    /// Prior probability that the test always fails after the change.
    pub prior_broken: f64,
    /// The smallest change the search looks for: the rate after is at least this many times
    /// the rate before (any rise from 0 counts).
    pub min_ratio: f64,
    /// When above 0, an answer is final only if it also holds under a sceptical prior: the
    /// prior masses of "stable before" and "broken after" multiplied by this factor.
    pub robust: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            confidence: 0.95,
            max_runs: 200,
            setup_cost: 1.0,
            max_batch: 8,
            prior_none: 0.2,
            prior_stable: 0.5,
            prior_broken: 0.1,
            min_ratio: 2.0,
            robust: 0.3,
        }
    }
}

/// Rates before a change (the first is 0: stable before).
const P0: [f64; 12] = [
    0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
];

/// Relative increases `δ` (the after rate is `p0 + δ(1 − p0)`; the last is 1: broken after).
const DELTA: [f64; 11] = [0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// Prior weights over a grid: `first` (or `last`) for one end, the rest shared equally.
fn weights(n: usize, end: usize, mass: f64) -> Vec<f64> {
    let mass = mass.clamp(1e-6, 1.0 - 1e-6);
    (0..n)
        .map(|i| {
            if i == end {
                mass
            } else {
                (1.0 - mass) / (n - 1) as f64
            }
        })
        .collect()
}

/// Rates under "no culprit", with prior weights.
const PNONE: [(f64, f64); 13] = [
    (0.0, 0.5),
    (0.02, 1.0),
    (0.05, 1.0),
    (0.1, 1.0),
    (0.15, 1.0),
    (0.2, 1.0),
    (0.3, 1.0),
    (0.4, 1.0),
    (0.5, 1.0),
    (0.6, 1.0),
    (0.7, 1.0),
    (0.8, 1.0),
    (1.0, 1.0),
];

/// `f·ln q + (n − f)·ln(1 − q)`, with `0·ln 0 = 0`.
fn log_lik(f: u64, n: u64, q: f64) -> f64 {
    let s = n - f.min(n);
    let mut l = 0.0;
    if f > 0 {
        l += if q <= 0.0 {
            f64::NEG_INFINITY
        } else {
            f as f64 * q.ln()
        };
    }
    if s > 0 {
        l += if q >= 1.0 {
            f64::NEG_INFINITY
        } else {
            s as f64 * (1.0 - q).ln()
        };
    }
    l
}

fn log_sum_exp(xs: impl IntoIterator<Item = f64>) -> f64 {
    let xs: Vec<f64> = xs.into_iter().collect();
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Binary entropy in bits of a distribution given by its probabilities.
fn entropy(ps: &[f64]) -> f64 {
    ps.iter().filter(|p| **p > 0.0).map(|p| -p * p.log2()).sum()
}

/// `P(S = s)` for `S ~ Binomial(r, q)`, `s = 0..=r`.
fn binomial(r: u32, q: f64) -> Vec<f64> {
    let mut out = vec![0.0; r as usize + 1];
    if q <= 0.0 {
        out[0] = 1.0;
        return out;
    }
    if q >= 1.0 {
        out[r as usize] = 1.0;
        return out;
    }
    let mut c = 1.0f64;
    for s in 0..=r {
        if s > 0 {
            c = c * f64::from(r - s + 1) / f64::from(s);
        }
        out[s as usize] = c * q.powi(s as i32) * (1.0 - q).powi((r - s) as i32);
    }
    out
}

/// What the search believes now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Posterior {
    /// `P(no culprit)`.
    pub none: f64,
    /// `P(culprit = k)` for each position (`culprit[0]` is always 0: the good end is good).
    pub culprit: Vec<f64>,
    /// Mean rate before and after the change, given culprit `k` (0 at position 0).
    pub before: Vec<f64>,
    pub after: Vec<f64>,
    /// Mean rate given no culprit.
    pub rate_none: f64,
}

/// The next thing to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Position of the commit to test.
    pub commit: usize,
    /// Runs to make there (fewer when the search is decided sooner).
    pub runs: u32,
    /// Expected information per execution (bits).
    pub gain: f64,
}

/// The answer so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Answer {
    /// No commit changed the rate.
    None { probability: f64 },
    /// The culprit is one of these positions (one, unless skipped commits hide it), in order.
    Culprit {
        positions: Vec<usize>,
        probability: f64,
    },
}

impl Answer {
    pub fn probability(&self) -> f64 {
        match self {
            Answer::None { probability } | Answer::Culprit { probability, .. } => *probability,
        }
    }
}

/// Failures and runs at one commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub failures: u64,
    pub runs: u64,
}

/// A flake-aware search over `m` commits.
#[derive(Clone, Debug)]
pub struct Search {
    config: Config,
    counts: Vec<Counts>,
    skipped: Vec<bool>,
    prepared: Vec<bool>,
}

impl Search {
    /// A search over `commits` positions (at least 2: the good and the bad end).
    pub fn new(commits: usize, config: Config) -> Search {
        let m = commits.max(2);
        Search {
            config,
            counts: vec![Counts::default(); m],
            skipped: vec![false; m],
            prepared: vec![false; m],
        }
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Records one run at `commit`.
    pub fn observe(&mut self, commit: usize, failed: bool) {
        if let Some(c) = self.counts.get_mut(commit) {
            c.runs += 1;
            c.failures += u64::from(failed);
        }
    }

    /// Marks `commit` as untestable (it does not build, its setup fails, the test is missing).
    pub fn skip(&mut self, commit: usize) {
        if let Some(s) = self.skipped.get_mut(commit) {
            *s = true;
        }
    }

    /// Marks `commit` as checked out and set up (no setup cost any more).
    pub fn prepare(&mut self, commit: usize) {
        if let Some(p) = self.prepared.get_mut(commit) {
            *p = true;
        }
    }

    pub fn counts(&self) -> &[Counts] {
        &self.counts
    }

    pub fn is_skipped(&self, commit: usize) -> bool {
        self.skipped.get(commit).copied().unwrap_or(true)
    }

    /// Executions so far.
    pub fn executions(&self) -> u64 {
        self.counts.iter().map(|c| c.runs).sum()
    }

    /// The posterior over the hypotheses, with the mean rates under each.
    pub fn posterior(&self) -> Posterior {
        let m = self.len();
        // Prefix sums of failures and runs: before(k) = positions < k.
        let mut pf = vec![0u64; m + 1];
        let mut pn = vec![0u64; m + 1];
        for (i, c) in self.counts.iter().enumerate() {
            pf[i + 1] = pf[i] + c.failures;
            pn[i + 1] = pn[i] + c.runs;
        }
        let (tf, tn) = (pf[m], pn[m]);
        let w0 = weights(P0.len(), 0, self.config.prior_stable);
        let wd = weights(DELTA.len(), DELTA.len() - 1, self.config.prior_broken);
        let wn: f64 = PNONE.iter().map(|p| p.1).sum();
        // Per rate before: the rates after a change that matters (at least
        // `min_ratio` times the rate before), with their prior weights renormalised.
        let pairs: Vec<Vec<(f64, f64)>> = P0
            .iter()
            .map(|&p0| {
                let allowed: Vec<(f64, f64)> = DELTA
                    .iter()
                    .zip(&wd)
                    .map(|(&d, &w)| (p0 + d * (1.0 - p0), w))
                    .filter(|&(p1, _)| p1 >= self.config.min_ratio * p0 - 1e-9 || p1 >= 1.0)
                    .collect();
                let total: f64 = allowed.iter().map(|a| a.1).sum();
                allowed.into_iter().map(|(p1, w)| (p1, w / total)).collect()
            })
            .collect();
        let prior_none = self.config.prior_none.clamp(1e-6, 1.0 - 1e-6);
        let prior_k = (1.0 - prior_none) / (m - 1) as f64;

        // log P(data, h) and the rate means, per hypothesis.
        let mut log_joint = vec![f64::NEG_INFINITY; m];
        let mut before = vec![0.0; m];
        let mut after = vec![0.0; m];
        let mut terms = Vec::with_capacity(P0.len() * DELTA.len());
        for k in 1..m {
            let (fb, nb) = (pf[k], pn[k]);
            let (fa, na) = (tf - fb, tn - nb);
            terms.clear();
            for (&p0, a) in P0.iter().zip(&w0) {
                let lb = log_lik(fb, nb, p0) + a.ln();
                for &(p1, b) in &pairs[P0.iter().position(|&x| x == p0).unwrap_or(0)] {
                    terms.push((lb + log_lik(fa, na, p1) + b.ln(), p0, p1));
                }
            }
            let total = log_sum_exp(terms.iter().map(|t| t.0));
            log_joint[k] = total + prior_k.ln();
            if total > f64::NEG_INFINITY {
                let (mut e0, mut e1) = (0.0, 0.0);
                for &(l, p0, p1) in &terms {
                    let w = (l - total).exp();
                    e0 += w * p0;
                    e1 += w * p1;
                }
                before[k] = e0;
                after[k] = e1;
            }
        }
        let none_terms: Vec<(f64, f64)> = PNONE
            .iter()
            .map(|&(p, w)| (log_lik(tf, tn, p) + (w / wn).ln(), p))
            .collect();
        let none_total = log_sum_exp(none_terms.iter().map(|t| t.0));
        let rate_none = if none_total > f64::NEG_INFINITY {
            none_terms
                .iter()
                .map(|&(l, p)| (l - none_total).exp() * p)
                .sum()
        } else {
            0.0
        };
        let log_none = none_total + prior_none.ln();
        let z = log_sum_exp(log_joint.iter().copied().chain([log_none]));
        if z == f64::NEG_INFINITY {
            // Impossible data under every hypothesis (cannot happen with this grid, since a
            // culprit at any rate pair in (0, 1) explains anything); fall back to the prior.
            let mut culprit = vec![prior_k; m];
            culprit[0] = 0.0;
            return Posterior {
                none: prior_none,
                culprit,
                before,
                after,
                rate_none,
            };
        }
        let culprit: Vec<f64> = log_joint.iter().map(|l| (l - z).exp()).collect();
        Posterior {
            none: (log_none - z).exp(),
            culprit,
            before,
            after,
            rate_none,
        }
    }

    /// The blocks of positions that testing cannot tell apart: a run of skipped commits and the
    /// first testable one after it (positions from 1).
    pub fn blocks(&self) -> Vec<Vec<usize>> {
        let mut blocks = Vec::new();
        let mut cur = Vec::new();
        for k in 1..self.len() {
            cur.push(k);
            if !self.skipped[k] {
                blocks.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            blocks.push(cur);
        }
        blocks
    }

    /// The most probable answer and its probability.
    pub fn answer(&self) -> Answer {
        self.answer_of(&self.posterior())
    }

    /// [`Search::answer`] for a posterior already computed.
    pub fn answer_of(&self, post: &Posterior) -> Answer {
        let best = self
            .blocks()
            .into_iter()
            .map(|b| {
                let p: f64 = b.iter().map(|&k| post.culprit[k]).sum();
                (b, p)
            })
            .fold(None::<(Vec<usize>, f64)>, |acc, (b, p)| match acc {
                Some((_, q)) if q >= p => acc,
                _ => Some((b, p)),
            });
        match best {
            Some((positions, probability)) if probability > post.none => Answer::Culprit {
                positions,
                probability,
            },
            _ => Answer::None {
                probability: post.none,
            },
        }
    }

    /// Whether the search is over: an answer at the confidence, the run cap reached, or nothing
    /// left to test.
    pub fn done(&self) -> bool {
        self.executions() >= self.config.max_runs
            || self.skipped.iter().all(|s| *s)
            || self.decided()
    }

    /// Whether the answer holds the confidence, under the prior and (with
    /// [`Config::robust`]) under a sceptical one too.
    pub fn decided(&self) -> bool {
        let answer = self.answer();
        if answer.probability() < self.config.confidence {
            return false;
        }
        if self.config.robust > 0.0 {
            let sceptic = Search {
                config: Config {
                    prior_stable: self.config.prior_stable * self.config.robust,
                    prior_broken: self.config.prior_broken * self.config.robust,
                    robust: 0.0,
                    ..self.config
                },
                counts: self.counts.clone(),
                skipped: self.skipped.clone(),
                prepared: self.prepared.clone(),
            };
            let other = sceptic.answer();
            let same = match (&answer, &other) {
                (Answer::None { .. }, Answer::None { .. }) => true,
                (Answer::Culprit { positions: a, .. }, Answer::Culprit { positions: b, .. }) => {
                    a == b
                }
                _ => false,
            };
            return same && other.probability() >= self.config.confidence;
        }
        true
    }

    /// The next commit to test and how many runs to make there; `None` when [`Search::done`].
    pub fn next(&self) -> Option<Step> {
        if self.done() {
            return None;
        }
        let post = self.posterior();
        let m = self.len();
        let left = self.config.max_runs - self.executions();
        let max_batch = u64::from(self.config.max_batch.max(1)).min(left) as u32;
        let mut best: Option<Step> = None;
        for r in 1..=max_batch {
            let len = r as usize + 1;
            // Under culprit k the rate at position i is `before[k]` for i < k, else `after[k]`.
            // Prefix sums over k of the weighted distributions (and their entropies) of the
            // number of failures give every position's mixture in one pass.
            // after_sum[i] = Σ_{1≤k≤i} w_k·Bin(r, after_k); before_sum[i] = Σ_{k>i} w_k·Bin(r, before_k).
            let mut after_sum = vec![vec![0.0; len]; m];
            let mut after_h = vec![0.0; m];
            let (mut acc, mut acc_h) = (vec![0.0; len], 0.0);
            for k in 0..m {
                if k >= 1 && post.culprit[k] > 0.0 {
                    let d = binomial(r, post.after[k]);
                    acc_h += post.culprit[k] * entropy(&d);
                    for (a, p) in acc.iter_mut().zip(&d) {
                        *a += post.culprit[k] * p;
                    }
                }
                after_sum[k].clone_from(&acc);
                after_h[k] = acc_h;
            }
            let mut before_sum = vec![vec![0.0; len]; m];
            let mut before_h = vec![0.0; m];
            let (mut acc, mut acc_h) = (vec![0.0; len], 0.0);
            for i in (0..m).rev() {
                before_sum[i].clone_from(&acc);
                before_h[i] = acc_h;
                if i >= 1 && post.culprit[i] > 0.0 {
                    let d = binomial(r, post.before[i]);
                    acc_h += post.culprit[i] * entropy(&d);
                    for (a, p) in acc.iter_mut().zip(&d) {
                        *a += post.culprit[i] * p;
                    }
                }
            }
            let none = binomial(r, post.rate_none);
            let none_h = post.none * entropy(&none);
            for i in 0..m {
                if self.skipped[i] {
                    continue;
                }
                let setup = if self.prepared[i] {
                    0.0
                } else {
                    self.config.setup_cost.max(0.0)
                };
                let mix: Vec<f64> = (0..len)
                    .map(|s| after_sum[i][s] + before_sum[i][s] + post.none * none[s])
                    .collect();
                let cond = after_h[i] + before_h[i] + none_h;
                let info = (entropy(&mix) - cond).max(0.0);
                let gain = info / (f64::from(r) + setup);
                // Ties go to the fewer runs and the earlier commit: deterministic.
                if best.is_none_or(|b| gain > b.gain + 1e-12) {
                    best = Some(Step {
                        commit: i,
                        runs: r,
                        gain,
                    });
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a search against rates per position with a deterministic pseudo-random source;
    /// returns the answer and the executions.
    fn simulate(rates: &[f64], skipped: &[usize], seed: u64, config: Config) -> (Answer, u64) {
        let mut s = Search::new(rates.len(), config);
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut draw = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        while let Some(step) = s.next() {
            if skipped.contains(&step.commit) {
                s.skip(step.commit);
                continue;
            }
            s.prepare(step.commit);
            for _ in 0..step.runs {
                let failed = draw() < rates[step.commit];
                s.observe(step.commit, failed);
                if s.done() {
                    break;
                }
            }
        }
        (s.answer(), s.executions())
    }

    fn step_rates(m: usize, k: Option<usize>, p0: f64, p1: f64) -> Vec<f64> {
        (0..m)
            .map(|i| match k {
                Some(k) if i >= k => p1,
                _ => p0,
            })
            .collect()
    }

    #[test]
    fn a_deterministic_break_is_found_by_bisection() {
        for k in 1..17 {
            let (a, runs) = simulate(
                &step_rates(17, Some(k), 0.0, 1.0),
                &[],
                1,
                Config::default(),
            );
            assert_eq!(
                a,
                Answer::Culprit {
                    positions: vec![k],
                    probability: a.probability()
                }
            );
            assert!(runs <= 18, "k {k}: {runs} runs");
        }
    }

    #[test]
    fn a_flaky_test_without_change_is_no_culprit() {
        let (a, runs) = simulate(&step_rates(33, None, 0.3, 0.3), &[], 7, Config::default());
        assert!(matches!(a, Answer::None { .. }), "{a:?} after {runs}");
    }

    #[test]
    fn skipped_commits_make_a_block() {
        let (a, _) = simulate(
            &step_rates(17, Some(8), 0.0, 1.0),
            &[7],
            3,
            Config::default(),
        );
        assert_eq!(
            a,
            Answer::Culprit {
                positions: vec![7, 8],
                probability: a.probability()
            }
        );
        // A skipped commit away from the culprit changes nothing.
        let (a, _) = simulate(
            &step_rates(17, Some(8), 0.0, 1.0),
            &[3, 12],
            3,
            Config::default(),
        );
        assert!(matches!(a, Answer::Culprit { ref positions, .. } if positions == &[8]));
    }

    #[test]
    fn the_first_step_weighs_the_setup_cost() {
        let s = Search::new(9, Config::default());
        let step = s.next().unwrap();
        assert!(step.runs >= 1 && step.commit < 9);
        assert!(step.gain > 0.0);
    }

    #[test]
    fn log_likelihood_edges() {
        assert_eq!(log_lik(0, 5, 0.0), 0.0);
        assert_eq!(log_lik(1, 5, 0.0), f64::NEG_INFINITY);
        assert_eq!(log_lik(5, 5, 1.0), 0.0);
        assert_eq!(log_lik(4, 5, 1.0), f64::NEG_INFINITY);
        let b = binomial(4, 0.3);
        assert!((b.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_posterior_sums_to_one(
            m in 2usize..40,
            obs in proptest::collection::vec((0usize..40, any::<bool>()), 0..60),
            skips in proptest::collection::vec(0usize..40, 0..5),
        ) {
            let mut s = Search::new(m, Config::default());
            for (i, f) in obs {
                s.observe(i % m, f);
            }
            for k in skips {
                s.skip(k % m);
            }
            let p = s.posterior();
            let total = p.none + p.culprit.iter().sum::<f64>();
            prop_assert!((total - 1.0).abs() < 1e-9, "{total}");
            prop_assert!(p.culprit.iter().all(|x| x.is_finite() && *x >= 0.0));
            prop_assert_eq!(p.culprit[0], 0.0);
            prop_assert!((0.0..=1.0).contains(&s.answer().probability()));
            if let Some(step) = s.next() {
                prop_assert!(step.commit < m && !s.is_skipped(step.commit));
                prop_assert!(step.runs >= 1 && step.gain.is_finite());
            }
        }

        #[test]
        fn a_certain_oracle_finds_the_exact_commit(m in 2usize..80, k in 1usize..80, seed in any::<u64>()) {
            let k = 1 + (k - 1) % (m - 1);
            let (a, runs) = simulate(&step_rates(m, Some(k), 0.0, 1.0), &[], seed, Config::default());
            prop_assert_eq!(a.clone(), Answer::Culprit { positions: vec![k], probability: a.probability() });
            prop_assert!(a.probability() >= 0.95);
            // Bisection with a few runs a step to trust each side.
            let bound = 3 * (usize::BITS - (m - 1).leading_zeros()) as u64 + 10;
            prop_assert!(runs <= bound, "{} runs for m {}", runs, m);
        }

        #[test]
        fn the_search_always_ends(m in 2usize..30, p0 in 0.0f64..0.5, p1 in 0.0f64..1.0, seed in any::<u64>()) {
            let config = Config { max_runs: 60, ..Config::default() };
            let (_, runs) = simulate(&step_rates(m, Some(m / 2).filter(|k| *k > 0), p0, p1), &[], seed, config);
            prop_assert!(runs <= 60);
        }
    }
}
