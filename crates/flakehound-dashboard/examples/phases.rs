//! Times the phases of building the dashboard's analysis over a store (for benches/dashboard.sh
//! and profiling): `cargo run --release -p flakehound-dashboard --example phases -- STORE.db`.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).expect("usage: phases STORE.db");
    flakehound_store::install(&flakehound_store_sqlite::BACKEND);
    let location = flakehound_store::Location::parse(&path);
    let project = flakehound_store::open_existing(&location, "default")?.projects()?[0].clone();
    let mut store = flakehound_store::open_existing(&location, &project)?;
    let t = Instant::now();
    let ev = store.failing_evidence()?;
    println!(
        "failing_evidence: {:.2} s ({} runs, {} tests, {} results, {} messages)",
        t.elapsed().as_secs_f64(),
        ev.runs.len(),
        ev.tests.len(),
        ev.results.len(),
        ev.messages.len()
    );
    drop(ev);
    let t = Instant::now();
    let (report, _) = flakehound_analysis::report_and_evidence(store.as_mut())?;
    println!(
        "report_and_evidence: {:.2} s ({} entries)",
        t.elapsed().as_secs_f64(),
        report.entries.len()
    );
    let t = Instant::now();
    let stats = store.test_stats()?;
    println!(
        "test_stats: {:.2} s ({} tests)",
        t.elapsed().as_secs_f64(),
        stats.len()
    );
    for all in [
        flakehound_dashboard::model::AllTests::IfAtMost(flakehound_dashboard::model::LARGE),
        flakehound_dashboard::model::AllTests::Always,
    ] {
        let t = Instant::now();
        let s = flakehound_dashboard::model::build(store.as_mut(), &|_, _| Vec::new(), &[], all)?;
        println!(
            "model::build {all:?}: {:.2} s ({} rows, complete: {})",
            t.elapsed().as_secs_f64(),
            s.rows.len(),
            s.complete
        );
    }
    Ok(())
}
