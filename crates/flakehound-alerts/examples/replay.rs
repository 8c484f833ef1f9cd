//! The alerting benchmark (`benches/alerts.sh`): replays histories with planted changes
//! (`flakehound_synth::changes`) run by run into a SQLite store, runs the same check as
//! `flakehound alerts check` after every run, and scores the notifications against the plant.
//!
//! `cargo run --release -p flakehound-alerts --example replay -- [SEEDS] [RUNS]`

use flakehound_alerts::{Config, Deliver, Notification, Options, Sent};
use flakehound_synth::{Change, ChangesConfig};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

/// Records what would be sent.
struct Recorder(RefCell<Vec<Notification>>);

impl Deliver for Recorder {
    fn route(&self, _: &[String]) -> Vec<String> {
        vec!["recorder".into()]
    }
    fn send(&self, _: &str, n: &Notification) -> Sent {
        self.0.borrow_mut().push(n.clone());
        Sent {
            attempts: 1,
            error: None,
        }
    }
}

#[derive(Default)]
struct Score {
    planted: BTreeMap<&'static str, (u64, u64)>,
    delays_20: Vec<f64>,
    delays: BTreeMap<&'static str, Vec<f64>>,
    alerts_per_change: Vec<f64>,
    stable_alerts: u64,
    stable_tests: u64,
    early: u64,
    early_rate: u64,
    unobservable: u64,
    incidents: u64,
    incident_alerts: Vec<u64>,
    false_incidents: u64,
    digests: u64,
    notifications: u64,
    check_ms: Vec<f64>,
    report_ms: f64,
}

fn kind(c: &Change) -> &'static str {
    match c {
        Change::Stable => "stable",
        Change::TurnsFlaky { .. } => "turns flaky",
        Change::Rises { .. } => "rate rises",
        Change::Breaks { .. } => "breaks",
        Change::Recovers { .. } => "recovers",
    }
}

fn replay(seed: u64, runs: usize, score: &mut Score) {
    let cfg_h = ChangesConfig {
        runs,
        ..ChangesConfig::standard(seed)
    };
    let h = flakehound_synth::changes(&cfg_h);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("replay.db");
    let mut store = flakehound_store_sqlite::SqliteStore::open(&path)
        .and_then(|s| s.with_project("bench"))
        .expect("store");
    let mut alerts = flakehound_store_sqlite::SqliteStore::open(&path).expect("alert store");
    let mut cfg = Config::default();
    cfg.throttle.max_per_hour = 1000;
    let rec = Recorder(RefCell::new(Vec::new()));
    // (notification, run index it came after)
    let mut got: Vec<(Notification, usize)> = Vec::new();
    for i in 0..h.history.runs.len() {
        let mut part = h.history.clone();
        part.runs.truncate(i + 1);
        // Only the newest run is new; earlier ones are stored and skipped by hash.
        let mut one = part.clone();
        one.runs = part.runs.clone();
        flakehound_synth::write_to_store(&one, &mut store).expect("write");
        let started: jiff::Timestamp = h.history.runs[i]
            .meta
            .started_at
            .as_deref()
            .and_then(|t| t.parse().ok())
            .expect("run time");
        let opts = Options {
            now: started + jiff::SignedDuration::from_mins(1),
            no_baseline: true,
            ..Options::new()
        };
        let t = Instant::now();
        flakehound_alerts::check(
            &mut store,
            &mut alerts,
            &cfg,
            &opts,
            &Default::default(),
            &rec,
        )
        .expect("check");
        score.check_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        for n in rec.0.borrow_mut().drain(..) {
            got.push((n, i));
        }
    }
    if std::env::var_os("REPLAY_VERBOSE").is_some() {
        debug_incidents(&mut store);
    }
    let t = Instant::now();
    let _ = flakehound_analysis::report_from_store(&mut store, false).expect("report");
    score.report_ms = score.report_ms.max(t.elapsed().as_secs_f64() * 1000.0);
    score.notifications += got.len() as u64;
    // Score per planted test.
    for (id, change) in &h.planted {
        let about: Vec<&(Notification, usize)> = got
            .iter()
            .filter(|(n, _)| n.test.as_deref() == Some(id.as_str()) && n.monitor != "digest")
            .collect();
        let k = kind(change);
        match change.onset() {
            None => {
                score.stable_tests += 1;
                score.stable_alerts += about.len() as u64;
            }
            Some(at) => {
                let wanted: &[&str] = match change {
                    Change::TurnsFlaky { .. } => &["new_flaky", "failure_rate"],
                    Change::Rises { .. } => &["failure_rate", "new_flaky"],
                    Change::Breaks { .. } => &["broken"],
                    Change::Recovers { .. } => &["fixed"],
                    Change::Stable => &[],
                };
                let hit = about
                    .iter()
                    .filter(|(n, r)| *r >= at && wanted.contains(&n.monitor.as_str()))
                    .map(|(_, r)| *r)
                    .min();
                let e = score.planted.entry(k).or_default();
                e.1 += 1;
                if let Some(r) = hit {
                    e.0 += 1;
                    let delay = (r - at) as f64;
                    score.delays.entry(k).or_default().push(delay);
                    if matches!(change, Change::TurnsFlaky { rate, .. } if (*rate - 0.2).abs() < 1e-9)
                    {
                        score.delays_20.push(delay);
                    }
                } else {
                    eprintln!(
                        "seed {seed}: missed {k} of {id} at run {at} (failed in runs {:?}): {:?}",
                        h.history.failed_runs(id),
                        about
                            .iter()
                            .map(|(n, r)| (n.monitor.clone(), *r))
                            .collect::<Vec<_>>()
                    );
                }
                if std::env::var_os("REPLAY_VERBOSE").is_some() {
                    eprintln!("  failed runs: {:?}", h.history.failed_runs(id));
                    eprintln!(
                        "seed {seed}: {k} {id} at {at}: {:?}",
                        about
                            .iter()
                            .map(|(n, r)| format!("{}@{r} {}", n.monitor, n.title))
                            .collect::<Vec<_>>()
                    );
                }
                // Alerts after the onset about this change (an alarm, later its recovery).
                let after = about.iter().filter(|(_, r)| *r >= at).count();
                score.alerts_per_change.push(after as f64);
                // Alarms before a stable test changes are false, and so are rate alarms before
                // a rate changed.
                if matches!(change, Change::TurnsFlaky { .. } | Change::Breaks { .. }) {
                    score.early += about.iter().filter(|(_, r)| *r < at).count() as u64;
                } else {
                    score.early_rate += about
                        .iter()
                        .filter(|(n, r)| *r < at && n.monitor == "failure_rate")
                        .count() as u64;
                }
                // Observable: the test failed outside outages after the onset (a rise or a
                // recovery is always observable given runs after it).
                let own_failures = h
                    .history
                    .failed_runs(id)
                    .into_iter()
                    .filter(|r| *r >= at && !h.outages.contains(r))
                    .count();
                if matches!(change, Change::TurnsFlaky { .. } | Change::Breaks { .. })
                    && own_failures == 0
                {
                    score.unobservable += 1;
                }
            }
        }
    }
    for &o in &h.outages {
        let key = &h.history.runs[o].key;
        score.incidents += 1;
        score.incident_alerts.push(
            got.iter()
                .filter(|(n, _)| n.monitor == "incident" && &n.subject == key)
                .count() as u64,
        );
    }
    for (n, r) in got.iter().filter(|(n, _)| {
        n.monitor == "incident"
            && !h
                .outages
                .iter()
                .any(|&o| h.history.runs[o].key == n.subject)
    }) {
        eprintln!(
            "seed {seed}: incident alert for run {r} that was no outage: {}",
            n.title
        );
    }
    score.false_incidents += got
        .iter()
        .filter(|(n, _)| {
            n.monitor == "incident"
                && !h
                    .outages
                    .iter()
                    .any(|&o| h.history.runs[o].key == n.subject)
        })
        .count() as u64;
    score.digests += got.iter().filter(|(n, _)| n.monitor == "digest").count() as u64;
}

fn median(v: &[f64]) -> f64 {
    flakehound_analysis::stats::median(v)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3);
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut score = Score::default();
    let t = Instant::now();
    for seed in 1..=seeds {
        replay(seed, runs, &mut score);
    }
    println!(
        "alerts replay: {seeds} histories of {runs} runs (120 tests each), a check after every run ({:.1} s)",
        t.elapsed().as_secs_f64()
    );
    println!();
    println!("| measured | value | goal |");
    println!("|---|---|---|");
    let (mut hit, mut all) = (0, 0);
    for (k, (h, a)) in &score.planted {
        hit += h;
        all += a;
        println!(
            "| recall, {k} | {h} / {a} (median delay {} runs) | |",
            median(score.delays.get(k).map(Vec::as_slice).unwrap_or(&[]))
        );
    }
    println!(
        "| **recall of planted changes** | **{hit} / {all} ({:.0}%)** | 100% |",
        100.0 * hit as f64 / all.max(1) as f64
    );
    println!(
        "| alerts about stable tests | {} (over {} stable tests) | 0 |",
        score.stable_alerts, score.stable_tests
    );
    println!(
        "| alarms before a test changed (turns flaky, breaks) | {} | 0 |",
        score.early
    );
    println!(
        "| failure-rate alarms before the rate changed (rises, recovers) | {} | 0 |",
        score.early_rate
    );
    println!(
        "| planted changes never observable (no failure of its own after the onset) | {} | |",
        score.unobservable
    );
    let per_incident: Vec<f64> = score.incident_alerts.iter().map(|&n| n as f64).collect();
    println!(
        "| alerts per incident | {} incidents: {} alerted once, {} missed, {} more than once; {} alerts for runs that were no incident | 1 |",
        score.incidents,
        score.incident_alerts.iter().filter(|&&n| n == 1).count(),
        score.incident_alerts.iter().filter(|&&n| n == 0).count(),
        score.incident_alerts.iter().filter(|&&n| n > 1).count(),
        score.false_incidents
    );
    let _ = per_incident;
    println!(
        "| median delay, onset to alert, test turning flaky at 20% | {} runs (n = {}, max {}) | ≤ 5 runs |",
        median(&score.delays_20),
        score.delays_20.len(),
        score.delays_20.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "| notifications per planted change (alarm, then recovery) | median {} | |",
        median(&score.alerts_per_change)
    );
    println!(
        "| notifications in all | {} ({} weekly digests) | |",
        score.notifications, score.digests
    );
    println!(
        "| check after a run: median, max | {:.1} ms, {:.1} ms (`report` over the final store: {:.1} ms; ratio {:.2}×) | |",
        median(&score.check_ms),
        score.check_ms.iter().cloned().fold(0.0, f64::max),
        score.report_ms,
        median(&score.check_ms) / score.report_ms.max(1e-9)
    );
}

#[allow(dead_code)]
fn debug_incidents(store: &mut dyn flakehound_store::Store) {
    let snap =
        flakehound_alerts::monitors::Snapshot::load(store, &Config::default()).expect("snapshot");
    eprintln!(
        "engine incidents: {:?}; all incident runs: {:?}",
        snap.report
            .incidents
            .iter()
            .map(|i| (i.run.clone(), i.failed_tests, i.reason.clone()))
            .collect::<Vec<_>>(),
        snap.incidents
    );
}
