//! The overview's daily trend counts each day by the verdicts tests had as of that day (the
//! verdict engine over the evidence up to it), not by today's: a test that turns flaky in the
//! middle of the window is flaky only from then. A real SQLite store; the next snapshot
//! analyses only the days whose evidence changed.

use flakehound_dashboard::model::{self, AllTests};
use flakehound_model::{Attempt, Failure, Outcome, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, RunKey, Store};
use flakehound_store_sqlite::SqliteStore;

const TURNS: &str = "tests/test_pay.py::test_refund";
const STEADY: &str = "tests/test_ok.py::test_ok";
const BROKEN_LATE: &str = "tests/test_db.py::test_migrate";

fn day(i: usize) -> jiff::Timestamp {
    let start: jiff::Timestamp = "2026-10-01T08:00:00Z".parse().unwrap();
    start + jiff::SignedDuration::from_hours(24 * i as i64)
}

/// Run `i` on day `i` (two runs a day: `i` and `i + 1000` half a day later).
fn write_run(store: &mut dyn Store, i: usize, at: jiff::Timestamp, tests: &[(&str, &[Outcome])]) {
    let meta = RunMeta {
        commit: Some(format!("{:040x}", i + 1)),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some((1000 + i).to_string()),
        run_attempt: Some(1),
        started_at: Some(at.to_string()),
        ..Default::default()
    };
    let key = RunKey::from_meta(&meta).unwrap();
    let hash = format!("run-{i}");
    let report = NewReport::ci_junit(&hash, &key, &meta);
    let cases: Vec<TestCase> = tests
        .iter()
        .map(|(id, outcomes)| TestCase {
            id: id.to_string(),
            classname: None,
            name: id.to_string(),
            file: id.split_once("::").map(|(f, _)| f.to_string()),
            line: None,
            suite: vec![],
            outcome: outcomes.iter().fold(Outcome::Skipped, |a, &o| a.worst(o)),
            attempts: outcomes
                .iter()
                .map(|&o| Attempt {
                    outcome: o,
                    duration: Some(0.1),
                    failure: o.is_failure().then(|| Failure {
                        kind: Some("AssertionError".into()),
                        message: Some("AssertionError: assert 1 == 3".into()),
                        details: None,
                    }),
                    stdout: None,
                    stderr: None,
                })
                .collect(),
            properties: vec![],
            timestamp: None,
        })
        .collect();
    flakehound_store::write_report(store, &report, &cases, &ReportInfo::default()).unwrap();
    store.flush().unwrap();
}

/// 40 days, two runs a day. `TURNS` passes until day 20, then fails every third run and passes
/// on retry; `BROKEN_LATE` passes until day 34 and fails every run from then (today's verdict
/// is broken; it was stable before day 34).
fn history(store: &mut dyn Store, days: usize) {
    use Outcome::*;
    let mut n = 0;
    for d in 0..days {
        for half in 0..2 {
            let at = day(d) + jiff::SignedDuration::from_hours(12 * half);
            let turns: &[Outcome] = if d >= 20 && n % 3 == 0 {
                &[Failed, Passed]
            } else {
                &[Passed]
            };
            let late: &[Outcome] = if d >= 34 {
                &[Failed, Failed]
            } else {
                &[Passed]
            };
            write_run(
                store,
                n,
                at,
                &[(TURNS, turns), (STEADY, &[Passed]), (BROKEN_LATE, late)],
            );
            n += 1;
        }
    }
}

fn verdict_on(s: &model::Snapshot, day: &str, test: &str) -> &'static str {
    s.day_verdicts
        .iter()
        .rev()
        .find(|d| d.day.as_str() <= day)
        .and_then(|d| d.verdicts.get(test))
        .map_or("stable", |v| v.as_str())
}

#[test]
fn a_test_turning_flaky_mid_window_is_flaky_only_from_then() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("s.db"))
        .unwrap()
        .with_project("p")
        .unwrap();
    history(&mut store, 40);
    let s = model::build(&mut store, &|_, _| Vec::new(), &[], AllTests::Always).unwrap();
    // Today: unstable (the engine calls a test that starts failing intermittently at a commit
    // an intermittent regression) and broken.
    let now = s.row(TURNS).unwrap().verdict;
    assert!(now.is_unstable(), "{now:?}");
    let now = now.as_str();
    assert_eq!(s.row(BROKEN_LATE).unwrap().verdict.as_str(), "broken");
    // Before day 20 (2026-10-21) the test that turns was stable every day.
    for d in 0..20 {
        let label = day(d).to_string()[..10].to_string();
        assert_eq!(verdict_on(&s, &label, TURNS), "stable", "{label}");
        assert_eq!(verdict_on(&s, &label, BROKEN_LATE), "stable", "{label}");
    }
    // Unstable from a few failures after it turned, and every day after: flaky at first, then
    // (with more evidence of a change at a commit) today's verdict.
    let first_flaky = (0..40)
        .find(|&d| verdict_on(&s, &day(d).to_string()[..10], TURNS) != "stable")
        .expect("unstable some day");
    assert!(
        (20..=26).contains(&first_flaky),
        "unstable from day {first_flaky}"
    );
    let seq: Vec<&str> = (first_flaky..40)
        .map(|d| verdict_on(&s, &day(d).to_string()[..10], TURNS))
        .collect();
    eprintln!("days {first_flaky}..40: {seq:?}");
    assert_eq!(seq[0], "flaky");
    assert!(seq.iter().all(|v| *v != "stable"), "{seq:?}");
    assert_eq!(seq.last(), Some(&now));
    for d in first_flaky..34 {
        // The late breaker was not broken yet.
        assert_eq!(
            verdict_on(&s, &day(d).to_string()[..10], BROKEN_LATE),
            "stable"
        );
    }
    assert_eq!(
        verdict_on(&s, &day(39).to_string()[..10], BROKEN_LATE),
        "broken"
    );
    // The failures per day: the first failures of the test that turned are not counted as
    // flaky before the engine said so, and none counts as broken before day 34.
    for d in &s.days {
        let broken = d.failures.get("broken").copied().unwrap_or(0);
        if d.day.as_str() < &day(34).to_string()[..10] {
            assert_eq!(broken, 0, "{d:?}");
        }
        let unstable: u64 = ["flaky", "regression", "broken", "infra", "fixed"]
            .iter()
            .filter_map(|k| d.verdicts.get(*k))
            .sum();
        if d.day.as_str() < &day(first_flaky).to_string()[..10] {
            assert_eq!(unstable, 0, "{d:?}");
            assert_eq!(d.failures.get("flaky"), None, "{d:?}");
            assert_eq!(d.failures.get("regression"), None, "{d:?}");
        } else {
            assert!(unstable >= 1, "{d:?}");
        }
    }
    assert_eq!(s.days_analysed, 40);

    // One more day: only it is analysed; the others come from the earlier snapshot.
    for (n, half) in (80..).zip(0..2) {
        write_run(
            &mut store,
            n,
            day(40) + jiff::SignedDuration::from_hours(12 * half),
            &[
                (TURNS, &[Outcome::Passed]),
                (STEADY, &[Outcome::Passed]),
                (BROKEN_LATE, &[Outcome::Failed]),
            ],
        );
    }
    let next = model::build_with(
        &mut store,
        &|_, _| Vec::new(),
        &[],
        AllTests::Always,
        &s.day_verdicts,
    )
    .unwrap();
    assert_eq!(next.days_analysed, 1);
    assert_eq!(next.day_verdicts.len(), 41);
    for (a, b) in s.day_verdicts.iter().zip(next.day_verdicts.iter()) {
        assert_eq!((&a.day, &a.verdicts), (&b.day, &b.verdicts));
    }

    assert!(!next.days_pending);

    // A large store's quick snapshot (the tests that ever failed) analyses only the newest
    // days without an earlier snapshot, and says the others are pending (the complete
    // snapshot built next in the background analyses them).
    let quick = model::build(&mut store, &|_, _| Vec::new(), &[], AllTests::IfAtMost(0)).unwrap();
    assert!(!quick.complete);
    assert_eq!(quick.days_analysed, model::QUICK_DAYS);
    assert!(quick.days_pending);
    let full = model::build_with(
        &mut store,
        &|_, _| Vec::new(),
        &[],
        AllTests::Always,
        &quick.day_verdicts,
    )
    .unwrap();
    assert_eq!(full.days_analysed, 41 - model::QUICK_DAYS);
    assert!(!full.days_pending);
    assert_eq!(full.day_verdicts.len(), 41);
}
