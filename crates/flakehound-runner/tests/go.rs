//! The `go test` adapter against the real go tool, on the fixture module `tests/fixtures/goproj`:
//! a full run, a selection re-running only the failures (one of them flaky: it passes on even
//! runs of a counter file), repetition with `-count`, and a listing.
//!
//! Needs go: without it, the test says so and passes, unless `FLAKEHOUND_REQUIRE_GO=1` (then it
//! fails). The plans are spawned here with `std::process::Command` (exec.rs is not used).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{Adapter, Plan, ReportSource, Request, RunnerKind, TestRef, detect};
use flakehound_testkit::{go_available, outcomes};

const MODULE: &str = "example.com/goproj";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/goproj")
}

/// A request for invocation `invocation` of `selection` (`None`: every test), run `repeat`
/// times, with the fixture's environment.
fn request(
    invocation: u32,
    selection: Option<Vec<TestRef>>,
    repeat: u32,
    counter: &Path,
) -> Request {
    Request {
        selection,
        repeat,
        invocation,
        env: env(counter),
        ..Request::default()
    }
}

fn env(counter: &Path) -> Vec<(String, String)> {
    vec![
        (
            "FLAKEHOUND_FIXTURE_COUNTER".into(),
            counter.display().to_string(),
        ),
        // The fixture has no dependencies: never download anything (modules or toolchains).
        ("GOPROXY".into(), "off".into()),
        ("GOTOOLCHAIN".into(), "local".into()),
    ]
}

/// Spawns a plan as exec.rs would (stdout captured; stderr to a log), in the fixture.
fn spawn(plan: &mut Plan, log: &Path) -> String {
    plan.cmd.cwd = Some(fixture());
    let cmd = &plan.cmd;
    let ReportSource::Stdout {
        capture,
        merge_stderr,
    } = &plan.report
    else {
        panic!("go test reports on stdout")
    };
    assert!(!merge_stderr);
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(fixture())
        .stdin(Stdio::null())
        .stdout(File::create(capture).unwrap())
        .stderr(File::create(log).unwrap());
    c.status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd.display()));
    std::fs::read_to_string(capture).unwrap()
}

fn run(a: &dyn Adapter, req: &Request, scratch: &Path) -> (Plan, Vec<TestCase>) {
    let mut plan = a.plan(req, scratch).unwrap();
    let log = scratch.join(format!("run-{}.log", req.invocation));
    let out = spawn(&mut plan, &log);
    match a.read(&plan) {
        Ok(results) => (plan, results.cases),
        Err(e) => panic!(
            "{}: {e}\n--- stdout ---\n{out}\n--- stderr ---\n{}",
            plan.cmd.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    }
}

fn ids(list: &[(&str, Outcome)]) -> BTreeMap<String, Outcome> {
    list.iter()
        .map(|(id, o)| (id.replace("M:", &format!("{MODULE}::")), *o))
        .collect()
}

fn counter_value(counter: &Path) -> String {
    std::fs::read_to_string(counter).unwrap_or_default()
}

#[test]
fn go_test_full_run_selection_repetition_and_listing() {
    if !go_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let counter = scratch.path().join("counter");
    let argv: Vec<String> = ["go", "test", "./..."].map(String::from).to_vec();
    let a = detect(&argv, None, None).unwrap();
    assert_eq!(a.kind(), RunnerKind::Go);

    let (plan, cases) = run(a.as_ref(), &request(1, None, 0, &counter), scratch.path());
    assert_eq!(
        outcomes(&cases),
        ids(&[
            ("M:TestPass", Outcome::Passed),
            ("M:TestFail", Outcome::Failed),
            ("M:TestFlaky", Outcome::Failed),
            ("M:TestSub", Outcome::Failed),
            ("M:TestSub/ok", Outcome::Passed),
            ("M:TestSub/bad_case", Outcome::Failed),
            ("example.com/goproj/sub::TestSubPass", Outcome::Passed),
        ])
    );
    assert_eq!(counter_value(&counter), "1");
    let fail = cases.iter().find(|c| c.name == "TestFail").unwrap();
    let failure = fail.attempts[0].failure.as_ref().unwrap();
    assert!(
        failure.message.as_deref().unwrap().contains("real failure"),
        "{failure:?}"
    );
    // The user sees go's usual text, not JSON.
    let ReportSource::Stdout { capture, .. } = &plan.report else {
        unreachable!()
    };
    let shown: Vec<String> = std::fs::read_to_string(capture)
        .unwrap()
        .lines()
        .filter_map(|l| a.display_line(l).map(|s| s.into_owned()))
        .collect();
    assert!(shown.iter().any(|l| l == "--- FAIL: TestFail (0.00s)"));
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("ok  \texample.com/goproj/sub"))
    );
    assert!(!shown.iter().any(|l| l.starts_with('{')), "{shown:?}");

    // Only the failures run again (a failed subtest re-runs its top-level test), in their
    // package only; the flaky test now passes.
    let failed: Vec<TestRef> = cases
        .iter()
        .filter(|c| c.outcome.is_failure())
        .map(TestRef::from)
        .collect();
    let req = request(2, Some(failed), 0, &counter);
    let (plan, cases) = run(a.as_ref(), &req, scratch.path());
    assert_eq!(
        outcomes(&cases),
        ids(&[
            ("M:TestFail", Outcome::Failed),
            ("M:TestFlaky", Outcome::Passed),
            ("M:TestSub", Outcome::Failed),
            ("M:TestSub/ok", Outcome::Passed),
            ("M:TestSub/bad_case", Outcome::Failed),
        ]),
        "{}",
        plan.cmd.display()
    );
    assert_eq!(counter_value(&counter), "2");

    // Repetition in one process: three runs of the flaky test, alternating.
    let flaky = cases.iter().find(|c| c.name == "TestFlaky").unwrap();
    let req = request(3, Some(vec![TestRef::from(flaky)]), 3, &counter);
    let (plan, cases) = run(a.as_ref(), &req, scratch.path());
    let runs: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
    assert_eq!(
        runs,
        vec![
            ("TestFlaky", Outcome::Failed),
            ("TestFlaky", Outcome::Passed),
            ("TestFlaky", Outcome::Failed)
        ],
        "{}",
        plan.cmd.display()
    );
    assert_eq!(counter_value(&counter), "5");

    // The listing names the top-level tests.
    let mut plan = a.list(scratch.path()).unwrap().unwrap();
    plan.cmd.env.extend(env(&counter));
    let out = spawn(&mut plan, &scratch.path().join("list.log"));
    let listed: BTreeSet<String> = a
        .parse_list(&out)
        .unwrap_or_else(|e| panic!("{e}\n{out}"))
        .into_iter()
        .map(|r| r.id)
        .collect();
    let expected: BTreeSet<String> = [
        "M:TestPass",
        "M:TestFail",
        "M:TestFlaky",
        "M:TestSub",
        "example.com/goproj/sub::TestSubPass",
    ]
    .iter()
    .map(|id| id.replace("M:", &format!("{MODULE}::")))
    .collect();
    assert_eq!(listed, expected);
    assert_eq!(counter_value(&counter), "5");
}
