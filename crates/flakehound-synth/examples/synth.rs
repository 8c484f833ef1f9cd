//! Generates a synthetic history and prints what was planted; with an output directory, also
//! writes it as JUnit files (`runs/NNNN/attempt-*.xml`, `runs.tsv`, `truth.json`).
//!
//! ```text
//! cargo run --release -p flakehound-synth --example synth -- small|large|held-out [SEED] [OUT_DIR]
//! ```

use flakehound_synth::{Config, generate, write_junit};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let cfg = match args.first().map(String::as_str) {
        Some("large") => Config::large(seed),
        // Held-out histories: for evaluating the verdict engine, never for tuning it.
        Some("held-out") => Config::held_out(seed),
        Some("small") | None => Config::small(seed),
        Some(other) => {
            eprintln!("usage: synth small|large|held-out [SEED] [OUT_DIR] (got {other})");
            std::process::exit(2);
        }
    };
    let t = Instant::now();
    let h = generate(&cfg);
    let took = t.elapsed();
    println!(
        "seed {seed}: {} commits, {} runs, {} tests, {} attempts, generated in {:.3} s",
        h.commits.len(),
        h.runs.len(),
        h.truth.len(),
        h.attempts(),
        took.as_secs_f64()
    );
    println!("verdicts: {:?}", h.counts());
    println!("categories: {:?}", h.category_counts());
    println!("bad runner: {:?}", h.bad_runner);
    for &i in &h.incidents {
        let r = &h.runs[i];
        let failed = r.cases[..r.session_len]
            .iter()
            .filter(|c| c.outcome.is_failure())
            .count();
        println!(
            "incident: run {i:04} {} ({failed} of {} tests failed)",
            r.key, r.session_len
        );
    }
    for (id, d) in &h.details {
        println!(
            "{id}\n    {} ({} failing runs)",
            d.note,
            h.failed_runs(id).len()
        );
    }
    if let Some(out) = args.get(2) {
        let t = Instant::now();
        write_junit(&h, out.as_ref()).expect("write history");
        println!("wrote {out} in {:.3} s", t.elapsed().as_secs_f64());
    }
}
