//! The simulated half of `benches/bisect.sh`: the search engine against simulated tests over a
//! grid of scenarios, and in the same run the usual baseline, `git bisect` with a script that
//! runs the test 20 times per step and calls the commit bad if any run fails.
//!
//! `cargo run --release -p flakehound-bisect --example bisect_bench -- [REPS] [COMMITS]`
//! prints a Markdown table: per scenario, the share of right answers (the culprit commit, or
//! "no culprit" when there is none) and the mean executions, for both.

use flakehound_bisect::search::{Answer, Config, Search};

/// A deterministic pseudo-random source (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Scenario {
    name: String,
    /// Culprit position, or none.
    culprit: Option<usize>,
    before: f64,
    after: f64,
}

impl Scenario {
    fn rate(&self, i: usize) -> f64 {
        match self.culprit {
            Some(k) if i >= k => self.after,
            _ => self.before,
        }
    }
}

/// Ours: returns (right, executions).
fn ours(s: &Scenario, m: usize, rng: &mut Rng) -> (bool, u64) {
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let c = Config::default();
    let config = Config {
        prior_none: env("FH_NONE", c.prior_none),
        prior_stable: env("FH_STABLE", c.prior_stable),
        prior_broken: env("FH_BROKEN", c.prior_broken),
        setup_cost: env("FH_SETUP", c.setup_cost),
        min_ratio: env("FH_RATIO", c.min_ratio),
        robust: env("FH_ROBUST", c.robust),
        ..c
    };
    let mut search = Search::new(m, config);
    while let Some(step) = search.next() {
        search.prepare(step.commit);
        for _ in 0..step.runs {
            let failed = rng.next() < s.rate(step.commit);
            search.observe(step.commit, failed);
            if search.done() {
                break;
            }
        }
    }
    let answer = search.answer();
    let right = match (&answer, s.culprit) {
        (Answer::None { .. }, None) => true,
        (Answer::Culprit { positions, .. }, Some(k)) => positions == &[k],
        _ => false,
    };
    if !right && std::env::var_os("BISECT_BENCH_DEBUG").is_some() {
        eprintln!("{}: {answer:?} after {}", s.name, search.executions());
    }
    (right, search.executions())
}

fn entropy(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
    }
}

/// A floor no method reaches: a search **told** the scenario's two rates and that one commit
/// changes them, choosing each run where it tells the most about that commit (the expected
/// information of one run, the same rule as ours with nothing else to learn), stopping at the
/// same confidence. Returns (right, executions); `None` for "no culprit" scenarios, where a
/// search told the rates would know the answer before running anything.
fn told_the_rates(s: &Scenario, m: usize, confidence: f64, rng: &mut Rng) -> Option<(bool, u64)> {
    let k_true = s.culprit?;
    let (before, after) = (s.before, s.after);
    // Culprit k in 1..m, uniform.
    let mut post = vec![0.0; m];
    for p in post.iter_mut().skip(1) {
        *p = 1.0 / (m - 1) as f64;
    }
    let mut runs = 0u64;
    while post.iter().copied().fold(0.0, f64::max) < confidence && runs < 10_000 {
        let mut best = (f64::NEG_INFINITY, 0);
        let mut after_mass = 0.0;
        for (i, p) in post.iter().enumerate() {
            // P(commit i is at or after the culprit).
            after_mass += p;
            let q = after_mass * after + (1.0 - after_mass) * before;
            let info =
                entropy(q) - after_mass * entropy(after) - (1.0 - after_mass) * entropy(before);
            if info > best.0 {
                best = (info, i);
            }
        }
        let i = best.1;
        let failed = rng.next() < s.rate(i);
        runs += 1;
        for (k, p) in post.iter_mut().enumerate().skip(1) {
            let r = if i >= k { after } else { before };
            *p *= if failed { r } else { 1.0 - r };
        }
        let total: f64 = post.iter().sum();
        post.iter_mut().for_each(|p| *p /= total);
    }
    let guess = (1..m)
        .max_by(|a, b| post[*a].total_cmp(&post[*b]))
        .unwrap_or(1);
    Some((guess == k_true, runs))
}

/// A bound no method beats when told the two rates: naming one of `k` commits with error at
/// most `1 − confidence` needs `log2 k − h(ε) − ε·log2(k − 1)` bits (Fano's inequality), and
/// one run tells at most `max_a h(a·after + (1 − a)·before) − a·h(after) − (1 − a)·h(before)`
/// bits about which side of the change it ran on. `None` for "no culprit".
fn fano_bound(s: &Scenario, m: usize, confidence: f64) -> Option<f64> {
    s.culprit?;
    let k = (m - 1) as f64;
    let eps = 1.0 - confidence;
    let needed = k.log2() - entropy(eps) - eps * (k - 1.0).log2();
    let per_run = (0..=1000)
        .map(|i| {
            let a = f64::from(i) / 1000.0;
            entropy(a * s.after + (1.0 - a) * s.before)
                - a * entropy(s.after)
                - (1.0 - a) * entropy(s.before)
        })
        .fold(0.0, f64::max);
    Some(needed / per_run)
}

/// `git bisect run` with "run 20 times, bad if any fails": always 20 runs a step.
fn baseline(s: &Scenario, m: usize, rng: &mut Rng) -> (bool, u64) {
    let (mut good, mut bad) = (0usize, m - 1);
    let mut runs = 0;
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        let mut failed = false;
        for _ in 0..20 {
            runs += 1;
            failed |= rng.next() < s.rate(mid);
        }
        if failed {
            bad = mid;
        } else {
            good = mid;
        }
    }
    // git bisect always names a commit: "no culprit" is never its answer.
    (s.culprit == Some(bad), runs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let commits: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let m = commits + 1;
    let mut scenarios = Vec::new();
    for (label, before, after) in [
        ("0 → always", 0.0, 1.0),
        ("0 → 10%", 0.0, 0.1),
        ("10% → 50%", 0.1, 0.5),
    ] {
        for (at, k) in [("start", 1), ("middle", m / 2), ("end", m - 1)] {
            scenarios.push(Scenario {
                name: format!("{label}, culprit at the {at}"),
                culprit: Some(k),
                before,
                after,
            });
        }
    }
    for rate in [0.1, 0.3] {
        scenarios.push(Scenario {
            name: format!("no culprit, {:.0}% all along", rate * 100.0),
            culprit: None,
            before: rate,
            after: rate,
        });
    }
    println!(
        "{commits} commits in the range, {reps} repetitions per scenario, confidence {}",
        Config::default().confidence
    );
    println!();
    println!(
        "| Scenario | bisect: right | bisect: mean executions | git bisect ×20: right | git bisect ×20: mean executions | told the rates (floor): right | told the rates: mean executions | any method told the rates: at least |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let confidence = Config::default().confidence;
    let (mut tot_ok, mut tot_runs, mut tot_bok, mut tot_bruns) = (0u64, 0u64, 0u64, 0u64);
    let (mut tot_oruns, mut tot_fano) = (0u64, 0.0);
    for (si, s) in scenarios.iter().enumerate() {
        let (mut ok, mut runs, mut bok, mut bruns) = (0u64, 0u64, 0u64, 0u64);
        let (mut ook, mut oruns) = (0u64, 0u64);
        for rep in 0..reps {
            let mut rng = Rng(((si as u64) << 32) ^ rep);
            let (r, n) = ours(s, m, &mut rng);
            ok += u64::from(r);
            runs += n;
            let (r, n) = baseline(s, m, &mut rng);
            bok += u64::from(r);
            bruns += n;
            if let Some((r, n)) = told_the_rates(s, m, confidence, &mut rng) {
                ook += u64::from(r);
                oruns += n;
            }
        }
        let fano = fano_bound(s, m, confidence).unwrap_or(0.0);
        tot_fano += fano * reps as f64;
        let floor = if s.culprit.is_some() {
            format!(
                "{:.1}% | {:.1}",
                100.0 * ook as f64 / reps as f64,
                oruns as f64 / reps as f64
            )
        } else {
            "– | 0".to_string()
        };
        println!(
            "| {} | {:.1}% | {:.1} | {:.1}% | {:.1} | {floor} | {fano:.1} |",
            s.name,
            100.0 * ok as f64 / reps as f64,
            runs as f64 / reps as f64,
            100.0 * bok as f64 / reps as f64,
            bruns as f64 / reps as f64
        );
        tot_ok += ok;
        tot_runs += runs;
        tot_bok += bok;
        tot_bruns += bruns;
        tot_oruns += oruns;
    }
    let n = (reps * scenarios.len() as u64) as f64;
    println!(
        "| **all** | **{:.1}%** | **{:.1}** | **{:.1}%** | **{:.1}** | | **{:.1}** | **{:.1}** |",
        100.0 * tot_ok as f64 / n,
        tot_runs as f64 / n,
        100.0 * tot_bok as f64 / n,
        tot_bruns as f64 / n,
        tot_oruns as f64 / n,
        tot_fano / n
    );
    println!();
    println!(
        "Executions, bisect / baseline: {:.2} (goal ≤ 0.33); accuracy goal ≥ 95%.",
        tot_runs as f64 / tot_bruns.max(1) as f64
    );
    println!(
        "Executions, told the rates / baseline: {:.2} (a floor: told both rates and whether a \
         commit changed them, \"no culprit\" counted as free).",
        tot_oruns as f64 / tot_bruns.max(1) as f64
    );
    println!(
        "Executions, Fano's bound for any method told the rates / baseline: {:.2} (\"no culprit\" \
         again free).",
        tot_fano / tot_bruns.max(1) as f64
    );
}
