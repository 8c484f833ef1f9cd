use super::*;
use flakehound_model::Attempt;

fn case(id: &str, outcomes: &[Outcome]) -> TestCase {
    TestCase {
        id: id.into(),
        classname: None,
        name: id.into(),
        file: None,
        line: None,
        suite: vec![],
        outcome: *outcomes.last().unwrap(),
        attempts: outcomes.iter().map(|&o| Attempt::new(o)).collect(),
        properties: vec![],
        timestamp: None,
    }
}

fn entry(id: &str) -> Entry {
    Entry {
        id: id.into(),
        reason: "r".into(),
        owner: "o".into(),
        added: jiff::civil::date(2026, 1, 1),
        expires: jiff::civil::date(2026, 2, 1),
        issue: None,
    }
}

fn run_with(exit: i32, statuses: &[RunStatus]) -> WrappedRun {
    WrappedRun {
        runner_exit: exit,
        tests: statuses
            .iter()
            .enumerate()
            .map(|(i, &status)| WrappedTest {
                case: case(&format!("t{i}"), &[Outcome::Passed]),
                status,
                quarantine: None,
                owner: None,
            })
            .collect(),
        ..WrappedRun::default()
    }
}

#[test]
fn statuses_follow_the_attempts() {
    use Outcome::*;
    assert_eq!(status_of(&case("a", &[Passed]), false), RunStatus::Passed);
    assert_eq!(
        status_of(&case("a", &[Failed, Passed]), false),
        RunStatus::Flaky
    );
    assert_eq!(
        status_of(&case("a", &[Failed, Failed]), false),
        RunStatus::Failed
    );
    assert_eq!(
        status_of(&case("a", &[Errored]), true),
        RunStatus::Quarantined
    );
    assert_eq!(status_of(&case("a", &[Skipped]), false), RunStatus::Skipped);
    // Failed, then skipped on the retry: not a pass.
    assert_eq!(
        status_of(&case("a", &[Failed, Skipped]), false),
        RunStatus::Failed
    );
    // A quarantined test that passes is just passed.
    assert_eq!(status_of(&case("a", &[Passed]), true), RunStatus::Passed);
}

#[test]
fn never_turns_green_red_nor_unexplained_red_green() {
    use RunStatus::*;
    // Green stays green, even if the report disagrees (warned).
    let mut r = run_with(0, &[Passed, Failed]);
    assert_eq!(decide(&mut r, true, &[]), 0);
    assert_eq!(r.warnings.len(), 1);
    // Unless the runner's own retries hid a flaky test and the user asked to fail on those.
    assert_eq!(decide(&mut run_with(0, &[Flaky]), false, &[]), 0);
    let mut r = run_with(0, &[Passed, Flaky]);
    assert_eq!(decide(&mut r, true, &[]), 1);
    assert!(r.reason.unwrap().starts_with("--fail-on-flaky"));
    // Red with a real failure stays red with the runner's own code.
    assert_eq!(decide(&mut run_with(3, &[Flaky, Failed]), false, &[]), 3);
    // Red explained by flaky and quarantined tests turns green...
    assert_eq!(
        decide(&mut run_with(1, &[Passed, Flaky, Quarantined]), false, &[]),
        0
    );
    // ...unless flaky must fail.
    assert_eq!(decide(&mut run_with(1, &[Flaky]), true, &[]), 1);
    assert_eq!(decide(&mut run_with(1, &[Quarantined]), true, &[]), 0);
    // Red without any failed test in the report: unexplained, stays red.
    let mut r = run_with(2, &[Passed, Skipped]);
    assert_eq!(decide(&mut r, false, &[]), 2);
    assert!(r.warnings[0].contains("no failed test"), "{:?}", r.warnings);
}

#[test]
fn quarantine_entries_cover_their_children() {
    let entries = vec![entry("tests/a.py::test_x"), entry("tests/a.py::TestY")];
    let id = |s: &str| find_entry(&entries, s).map(|e| e.id.as_str());
    assert_eq!(id("tests/a.py::test_x"), Some("tests/a.py::test_x"));
    assert_eq!(id("tests/a.py::test_x[1-2]"), Some("tests/a.py::test_x"));
    assert_eq!(id("tests/a.py::TestY::test_z"), Some("tests/a.py::TestY"));
    assert_eq!(id("tests/a.py::test_xy"), None);
    assert_eq!(id("tests/a.py::test"), None);
}

#[test]
fn recording_is_idempotent_and_retries_are_attempts_of_one_run() {
    let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
    let meta = RunMeta::default();
    let key = run_key(&meta);
    let invocations = vec![
        Invocation {
            number: 1,
            command: "pytest".into(),
            exit: 1,
            info: None,
            cases: vec![case("a", &[Outcome::Failed]), case("b", &[Outcome::Passed])],
        },
        Invocation {
            number: 2,
            command: "pytest a".into(),
            exit: 0,
            info: None,
            cases: vec![case("a", &[Outcome::Passed])],
        },
    ];
    let n = record(&mut store, &invocations, &meta, &key).unwrap();
    assert_eq!(n, 3);
    assert_eq!(record(&mut store, &invocations, &meta, &key).unwrap(), 0);
    use flakehound_store::Store;
    let stats = store.test_stats().unwrap();
    let a = stats.iter().find(|s| s.id == "a").unwrap();
    assert_eq!((a.runs, a.failures, a.passes, a.retry_passes), (1, 1, 1, 1));
}

#[test]
fn a_failure_that_is_not_a_tests_keeps_the_build_red() {
    use RunStatus::*;
    // A flaky test passed on retry, but the command also failed for another reason.
    let mut r = run_with(1, &[Passed, Flaky]);
    let code = decide(&mut r, false, &["a coverage gate".to_string()]);
    assert_eq!(code, 1);
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("other than its tests: a coverage gate"),
        "{reason}"
    );
    // Quarantined failures do not excuse it either.
    assert_eq!(
        decide(&mut run_with(1, &[Quarantined]), false, &["x".into()]),
        1
    );
    // A green runner stays green whatever flakehound thinks.
    assert_eq!(decide(&mut run_with(0, &[Passed]), false, &["x".into()]), 0);
}

#[test]
fn fail_on_flaky_names_the_flaky_tests() {
    use RunStatus::*;
    let mut r = run_with(1, &[Passed, Flaky, Flaky]);
    assert_eq!(decide(&mut r, true, &[]), 1);
    assert_eq!(
        r.reason.as_deref(),
        Some("--fail-on-flaky: 2 tests passed only on retry: t1, t2")
    );
    let mut r = run_with(1, &[Flaky; 7]);
    decide(&mut r, true, &[]);
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .ends_with("t0, t1, t2, t3, t4 and 2 more"),
        "{:?}",
        r.reason
    );
}

/// First run: `false`, with `f` failed and `g` passed; a retry: `true`, with `f` passed.
struct Flaky;

impl Adapter for Flaky {
    fn kind(&self) -> flakehound_runner::RunnerKind {
        flakehound_runner::RunnerKind::Generic
    }
    fn capabilities(&self) -> flakehound_runner::Capabilities {
        flakehound_runner::Capabilities {
            select: true,
            ..Default::default()
        }
    }
    fn plan(&self, req: &Request, _: &Path) -> flakehound_runner::Result<Plan> {
        let program = if req.invocation == 1 { "false" } else { "true" };
        Ok(Plan {
            cmd: Cmd::from_argv(&[program.to_string()]).unwrap(),
            report: flakehound_runner::ReportSource::Files {
                paths: vec![],
                format: None,
                fresh_after: None,
            },
        })
    }
    fn read(&self, plan: &Plan) -> flakehound_runner::Result<flakehound_runner::Results> {
        let cases = if plan.cmd.program == "false" {
            vec![case("f", &[Outcome::Failed]), case("g", &[Outcome::Passed])]
        } else {
            vec![case("f", &[Outcome::Passed])]
        };
        Ok(flakehound_runner::Results {
            info: vec![],
            cases,
        })
    }
}

#[test]
fn a_wrapped_run_reports_attempts_and_retries_as_events() {
    use flakehound_events::{Ending, Event, EventKind};
    let scratch = tempfile::tempdir().unwrap();
    let argv = vec!["fake".to_string()];
    let opts = Options {
        retries: 2,
        fail_on_flaky: false,
        quarantine: None,
        today: jiff::civil::date(2024, 1, 1),
        scratch: scratch.path().to_path_buf(),
        argv: &argv,
        timeout: None,
        attempt_timeout: None,
        grace: Duration::from_secs(1),
        retry_delay: Duration::from_millis(1),
        only_rerun: vec![],
    };
    let mut got: Vec<Event> = Vec::new();
    let mut out = Vec::new();
    let w = wrap(&Flaky, &opts, &mut out, &mut |e| got.push(e.clone()));
    assert_eq!(w.run.exit, 0, "{:?}", w.run);
    assert!(out.is_empty(), "the wrapper prints nothing of its own");
    let names: Vec<String> = got.iter().map(|e| short(&e.kind)).collect();
    assert_eq!(
        names,
        [
            "started",
            "execution-started 1",
            "execution-finished 1",
            "test f failed",
            "retry-delay 1",
            "retry-scheduled 1/2",
            "execution-started 2",
            "execution-finished 2",
            "test f passed-on-retry",
            "finished",
        ],
        "{got:?}"
    );
    match &got[2].kind {
        EventKind::ExecutionFinished {
            exit,
            passed,
            failed,
            counted,
            ..
        } => assert_eq!((*exit, *passed, *failed, *counted), (Some(1), 1, 1, true)),
        k => panic!("{k:?}"),
    }
    match &got.last().unwrap().kind {
        EventKind::Finished {
            ending, summary, ..
        } => {
            assert_eq!(*ending, Ending::Completed);
            assert!(summary.contains("1 flaky"), "{summary}");
        }
        k => panic!("{k:?}"),
    }
}

/// A short name of an event, for comparing sequences.
fn short(k: &flakehound_events::EventKind) -> String {
    use flakehound_events::{EventKind, TestResult};
    match k {
        EventKind::Started { .. } => "started".into(),
        EventKind::ExecutionStarted { number, .. } => format!("execution-started {number}"),
        EventKind::ExecutionFinished { number, .. } => format!("execution-finished {number}"),
        EventKind::Test { test, result, .. } => format!(
            "test {test} {}",
            match result {
                TestResult::Failed => "failed",
                TestResult::PassedOnRetry => "passed-on-retry",
            }
        ),
        EventKind::RetryDelay { retry, .. } => format!("retry-delay {retry}"),
        EventKind::RetryScheduled { retry, retries, .. } => {
            format!("retry-scheduled {retry}/{retries}")
        }
        EventKind::Warning { message } => format!("warning {message}"),
        EventKind::Finished { .. } => "finished".into(),
        k => format!("{k:?}"),
    }
}
