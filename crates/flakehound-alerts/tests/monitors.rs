//! The monitors through `check` on a real SQLite store, with a recording channel: incidents
//! (one alert, no per-test alerts), broken on main with its culprit and author from git,
//! recovery, quarantine expiry, stopped uploads, the weekly digest, throttling.

mod common;

use common::*;
use flakehound_alerts::{Config, Deliver, Notification, Options, Quarantines, Sent};
use flakehound_model::Outcome::{self, *};
use flakehound_store::{AlertStore, QuarantineRecord, Store};
use flakehound_store_sqlite::SqliteStore;
use std::cell::RefCell;

struct Recorder(RefCell<Vec<Notification>>);

impl Deliver for Recorder {
    fn route(&self, _: &[String]) -> Vec<String> {
        vec!["rec".into()]
    }
    fn send(&self, _: &str, n: &Notification) -> Sent {
        self.0.borrow_mut().push(n.clone());
        Sent {
            attempts: 1,
            error: None,
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    alerts: SqliteStore,
    rec: Recorder,
    cfg: Config,
}

fn setup(cfg: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    Setup {
        store: SqliteStore::open(&path)
            .and_then(|s| s.with_project("acme/shop"))
            .unwrap(),
        alerts: SqliteStore::open(&path).unwrap(),
        _dir: dir,
        rec: Recorder(RefCell::new(Vec::new())),
        cfg: Config::parse(cfg, "alerts.toml").unwrap(),
    }
}

impl Setup {
    fn check_at(
        &mut self,
        now: jiff::Timestamp,
        q: &Quarantines,
        repo: Option<&std::path::Path>,
    ) -> Vec<Notification> {
        let opts = Options {
            now,
            no_baseline: true,
            repo: repo.map(|r| r.to_path_buf()),
            ..Options::new()
        };
        flakehound_alerts::check(
            &mut self.store,
            &mut self.alerts,
            &self.cfg,
            &opts,
            q,
            &self.rec,
        )
        .unwrap();
        self.rec.0.borrow_mut().drain(..).collect()
    }
}

const QUIET: &str =
    "[monitors.uploads_stopped]\nenabled = false\n[monitors.digest]\nenabled = false\n";

fn tests(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("tests/test_m{}.py::test_{i}", i % 3))
        .collect()
}

fn run(s: &mut Setup, i: usize, ids: &[String], outcome: impl Fn(usize) -> &'static [Outcome]) {
    let rows: Vec<(&str, &[Outcome])> = ids
        .iter()
        .enumerate()
        .map(|(t, id)| (id.as_str(), outcome(t)))
        .collect();
    write_run(&mut s.store, i, &rows);
}

#[test]
fn an_outage_is_one_alert_and_no_test_alerts() {
    let mut s = setup(QUIET);
    let ids = tests(20);
    for i in 0..60 {
        run(&mut s, i, &ids, |_| &[Passed]);
    }
    assert!(
        s.check_at(after_run(59), &Quarantines::default(), None)
            .is_empty()
    );
    // 12 of 20 tests error together, then everything passes again.
    run(&mut s, 60, &ids, |t| {
        if t < 12 { &[Errored] } else { &[Passed] }
    });
    let got = s.check_at(after_run(60), &Quarantines::default(), None);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].monitor, "incident");
    assert_eq!(got[0].subject, "github-actions/1060/1/test");
    assert!(
        got[0].title.contains("12 of 20 tests failed together"),
        "{}",
        got[0].title
    );
    for i in 61..64 {
        run(&mut s, i, &ids, |_| &[Passed]);
        assert!(
            s.check_at(after_run(i), &Quarantines::default(), None)
                .is_empty()
        );
    }
}

#[test]
fn broken_on_main_names_the_culprit_and_its_author_then_recovers_as_fixed() {
    let mut s = setup(QUIET);
    let ids = tests(3);
    for i in 0..40 {
        run(&mut s, i, &ids, |_| &[Passed]);
    }
    // A repository where the culprit commit exists, by a known author.
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@acme.test")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@acme.test")
            .output()
            .expect("git");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "break refunds"]);
    let sha = git(&["rev-parse", "HEAD"]);
    // Runs 40 and 41 on that commit fail test 1, retries too.
    for i in 40..42 {
        let rows: Vec<(&str, &[Outcome])> = vec![
            (ids[0].as_str(), &[Passed]),
            (ids[1].as_str(), &[Failed, Failed]),
            (ids[2].as_str(), &[Passed]),
        ];
        write_run_on(&mut s.store, i, &sha, &rows);
    }
    let got = s.check_at(after_run(41), &Quarantines::default(), Some(repo.path()));
    let broken: Vec<_> = got.iter().filter(|n| n.monitor == "broken").collect();
    assert_eq!(broken.len(), 1, "{got:#?}");
    let n = broken[0];
    assert_eq!(n.test.as_deref(), Some(ids[1].as_str()));
    assert_eq!(n.culprit.as_deref(), Some(sha.as_str()));
    assert_eq!(n.author.as_deref(), Some("Ada Lovelace <ada@acme.test>"));
    assert!(n.title.ends_with("by Ada Lovelace"), "{}", n.title);
    // Still failing: nothing new. Then two passes: fixed.
    run(
        &mut s,
        42,
        &ids,
        |t| if t == 1 { &[Failed] } else { &[Passed] },
    );
    assert!(
        s.check_at(after_run(42), &Quarantines::default(), None)
            .iter()
            .all(|n| n.monitor != "broken")
    );
    run(&mut s, 43, &ids, |_| &[Passed]);
    run(&mut s, 44, &ids, |_| &[Passed]);
    let got = s.check_at(after_run(44), &Quarantines::default(), None);
    assert!(
        got.iter()
            .any(|n| n.monitor == "fixed" && n.subject == ids[1] && n.state == "ok"),
        "{got:#?}"
    );
}

/// [`write_run`] with a given commit.
fn write_run_on(store: &mut dyn Store, i: usize, sha: &str, tests: &[(&str, &[Outcome])]) {
    use flakehound_model::{Attempt, Failure, ReportInfo, RunMeta, TestCase};
    let meta = RunMeta {
        commit: Some(sha.to_string()),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some((1000 + i).to_string()),
        run_attempt: Some(1),
        started_at: Some((start() + jiff::SignedDuration::from_hours(i as i64)).to_string()),
        ..Default::default()
    };
    let key = flakehound_store::RunKey::from_meta(&meta).unwrap();
    let hash = format!("run-{i}");
    let report = flakehound_store::NewReport::ci_junit(&hash, &key, &meta);
    let cases: Vec<TestCase> = tests
        .iter()
        .map(|(id, outcomes)| TestCase {
            id: id.to_string(),
            classname: None,
            name: id.to_string(),
            file: None,
            line: None,
            suite: vec![],
            outcome: outcomes.iter().fold(Skipped, |a, &o| a.worst(o)),
            attempts: outcomes
                .iter()
                .map(|&o| Attempt {
                    outcome: o,
                    duration: Some(0.1),
                    failure: o.is_failure().then(|| Failure {
                        kind: None,
                        message: Some("KeyError: 'refund_reason'".into()),
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

#[test]
fn quarantine_expiring_then_expired_once_each() {
    let mut s = setup(QUIET);
    write_run(&mut s.store, 0, &[(STEADY, &[Passed])]);
    let q = |expires: &str| Quarantines {
        file: None,
        server: vec![QuarantineRecord {
            test: FLAKY.into(),
            reason: "flaky".into(),
            owner: "@acme/payments".into(),
            added: "2026-10-01".into(),
            expires: expires.into(),
            issue: None,
        }],
    };
    let day = |d: &str| -> jiff::Timestamp { format!("{d}T12:00:00Z").parse().unwrap() };
    assert!(
        s.check_at(day("2026-11-01"), &q("2026-11-30"), None)
            .is_empty()
    );
    let got = s.check_at(day("2026-11-25"), &q("2026-11-30"), None);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].monitor.as_str(), got[0].state.as_str()),
        ("quarantine", "expiring")
    );
    assert!(
        got[0].title.contains("expires on 2026-11-30 (5 days)"),
        "{}",
        got[0].title
    );
    assert!(
        s.check_at(day("2026-11-26"), &q("2026-11-30"), None)
            .is_empty()
    );
    let got = s.check_at(day("2026-12-01"), &q("2026-11-30"), None);
    assert_eq!(got[0].state, "expired");
    // Renewed: back to ok, silently; the file's entry wins over the server's.
    assert!(
        s.check_at(day("2026-12-02"), &q("2027-01-31"), None)
            .is_empty()
    );
    let states = s.alerts.alert_states("acme/shop").unwrap();
    let st = states.iter().find(|x| x.monitor == "quarantine").unwrap();
    assert_eq!(st.state, "ok");
}

#[test]
fn stopped_uploads_and_the_weekly_digest() {
    let mut s = setup(
        "[monitors.uploads_stopped]\nafter = \"2d\"\n[monitors.digest]\nday = \"monday\"\nhour = 9\n",
    );
    let last = turning_flaky(&mut s.store);
    // A Wednesday evening: the flaky alert, nothing else.
    let got = s.check_at(after_run(last), &Quarantines::default(), None);
    assert_eq!(
        got.iter().map(|n| n.monitor.as_str()).collect::<Vec<_>>(),
        ["new_flaky"]
    );
    // Three days later: uploads stopped.
    let later = after_run(last) + jiff::SignedDuration::from_hours(72);
    let got = s.check_at(later, &Quarantines::default(), None);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].monitor, "uploads_stopped");
    assert!(got[0].title.contains("for 3.0 days"), "{}", got[0].title);
    assert!(s.check_at(later, &Quarantines::default(), None).is_empty());
    // Monday 2026-11-09 10:00: the digest, once that week.
    let monday: jiff::Timestamp = "2026-11-09T10:00:00Z".parse().unwrap();
    let got = s.check_at(monday, &Quarantines::default(), None);
    let digest: Vec<_> = got.iter().filter(|n| n.monitor == "digest").collect();
    assert_eq!(digest.len(), 1, "{got:#?}");
    assert_eq!(digest[0].subject, "2026-W46");
    assert!(
        digest[0]
            .title
            .contains("Weekly digest for acme/shop (2026-W46)"),
        "{}",
        digest[0].title
    );
    assert!(digest[0].summary.contains(FLAKY), "{}", digest[0].summary);
    let again = monday + jiff::SignedDuration::from_hours(5);
    assert!(
        s.check_at(again, &Quarantines::default(), None)
            .iter()
            .all(|n| n.monitor != "digest")
    );
    // A new run: uploads arrive again (notified), and the next Monday another digest.
    write_run(
        &mut s.store,
        200,
        &[(FLAKY, &[Passed]), (STEADY, &[Passed])],
    );
    let got = s.check_at(after_run(200), &Quarantines::default(), None);
    assert!(
        got.iter()
            .any(|n| n.monitor == "uploads_stopped" && n.state == "ok"),
        "{got:#?}"
    );
}

#[test]
fn throttling_caps_notifications_per_hour() {
    let mut s = setup(&format!("{QUIET}[throttle]\nmax_per_hour = 2\n"));
    let ids = tests(5);
    for i in 0..60 {
        run(&mut s, i, &ids, |_| &[Passed]);
    }
    // All five turn flaky, one per run (not an outage).
    for (k, t) in [(60usize, 0usize), (61, 1), (62, 2), (63, 3), (64, 4)] {
        run(&mut s, k, &ids, move |x| {
            if x == t { &[Failed, Passed] } else { &[Passed] }
        });
    }
    run(&mut s, 65, &ids, |_| &[Passed]);
    let got = s.check_at(after_run(65), &Quarantines::default(), None);
    assert_eq!(got.len(), 2, "{got:#?}");
    let log = s.alerts.deliveries("acme/shop", 10).unwrap();
    assert_eq!(log.iter().filter(|d| d.status == "throttled").count(), 3);
    assert_eq!(log.iter().filter(|d| d.status == "sent").count(), 2);
}

#[test]
fn a_rising_failure_rate_alarms_once_then_recovers() {
    let mut s = setup(QUIET);
    let id = FLAKY;
    let outcome = |i: usize| -> &'static [Outcome] {
        let fails = if (100..130).contains(&i) {
            !i.is_multiple_of(5) // 80% for 30 runs
        } else {
            i % 10 == 3 // 10% before and after
        };
        if fails { &[Failed, Passed] } else { &[Passed] }
    };
    let mut rate_alerts = Vec::new();
    for i in 0..200 {
        write_run(&mut s.store, i, &[(id, outcome(i)), (STEADY, &[Passed])]);
        for n in s.check_at(after_run(i), &Quarantines::default(), None) {
            if n.monitor == "failure_rate"
                || (n.monitor == "fixed" && n.title.contains("failure rate"))
            {
                rate_alerts.push((i, n.monitor.clone(), n.title.clone()));
            }
        }
    }
    assert!(!rate_alerts.is_empty());
    let (at, monitor, title) = &rate_alerts[0];
    assert_eq!(monitor, "failure_rate", "{rate_alerts:#?}");
    assert!((100..115).contains(at), "{rate_alerts:#?}");
    assert!(title.contains("failure rate up from 10%"), "{title}");
    // One alarm, then its recovery once the rate is back to 10% for 30 runs.
    assert_eq!(rate_alerts.len(), 2, "{rate_alerts:#?}");
    assert_eq!(rate_alerts[1].1, "fixed");
    assert!(rate_alerts[1].0 >= 150, "{rate_alerts:#?}");
}

#[test]
fn a_new_flaky_test_that_recovers_is_told_once_each_way() {
    let mut s = setup(QUIET);
    let mut got = Vec::new();
    for i in 0..140usize {
        // Clean, then failing a third of the runs (passing on retry) for 15 runs, then clean.
        let fails = (60..75).contains(&i) && i.is_multiple_of(3);
        let o: &[Outcome] = if fails { &[Failed, Passed] } else { &[Passed] };
        write_run(&mut s.store, i, &[(FLAKY, o), (STEADY, &[Passed])]);
        for n in s.check_at(after_run(i), &Quarantines::default(), None) {
            got.push((i, n.monitor.clone(), n.state.clone()));
        }
    }
    let monitors: Vec<&str> = got.iter().map(|(_, m, _)| m.as_str()).collect();
    assert_eq!(monitors, ["new_flaky", "fixed"], "{got:#?}");
    // At the failure itself: it passed on retry, so it is intermittent at once.
    assert_eq!(got[0].0, 60, "{got:#?}");
}
