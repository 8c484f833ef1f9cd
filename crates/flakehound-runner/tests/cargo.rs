//! The `cargo test` and `cargo nextest run` adapters against the real tools, on the fixture crate
//! `tests/fixtures/rustproj`: a full run, a selection re-running only the failures (one of them
//! flaky: it passes on even runs of a counter file), and a listing.
//!
//! The fixture is built in one target directory under cargo's `CARGO_TARGET_TMPDIR`, shared by
//! the tests and kept between runs, so only the first run builds it. The plans are spawned here
//! with `std::process::Command` (exec.rs is not used).
//!
//! The nextest test needs cargo-nextest: without it, it says so and passes, unless
//! `FLAKEHOUND_REQUIRE_NEXTEST=1` (then it fails).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{Adapter, Plan, ReportSource, Request, RunnerKind, TestRef, detect};
use flakehound_testkit::{nextest_available, outcomes};

const PKG: &str = "fixture-proj";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rustproj")
}

fn manifest() -> String {
    fixture().join("Cargo.toml").display().to_string()
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixture-target")
}

/// A request for invocation `invocation` of `selection` (`None`: every test), with the
/// environment of every run.
fn request(invocation: u32, selection: Option<Vec<TestRef>>, counter: &Path) -> Request {
    Request {
        selection,
        invocation,
        env: env(counter),
        ..Request::default()
    }
}

/// The environment of every run: the shared target directory and this test's counter file.
fn env(counter: &Path) -> Vec<(String, String)> {
    vec![
        (
            "CARGO_TARGET_DIR".into(),
            target_dir().display().to_string(),
        ),
        (
            "FLAKEHOUND_FIXTURE_COUNTER".into(),
            counter.display().to_string(),
        ),
    ]
}

fn adapter(argv: &[&str], kind: RunnerKind) -> Box<dyn Adapter> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let adapter = detect(&argv, None, None).unwrap();
    assert_eq!(adapter.kind(), kind);
    adapter
}

/// Spawns a plan as exec.rs would: a captured stdout (with stderr in the same file when asked,
/// through one shared file description, so that the order is kept) or a plain log.
fn spawn(plan: &Plan, log: &Path) -> ExitStatus {
    let cmd = &plan.cmd;
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args).stdin(Stdio::null());
    for k in &cmd.env_remove {
        c.env_remove(k);
    }
    c.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &cmd.cwd {
        c.current_dir(dir);
    }
    let log_file = File::create(log).unwrap();
    match &plan.report {
        ReportSource::Stdout {
            capture,
            merge_stderr,
        } => {
            let out = File::create(capture).unwrap();
            if *merge_stderr {
                c.stderr(out.try_clone().unwrap());
            } else {
                c.stderr(log_file);
            }
            c.stdout(out);
        }
        ReportSource::Files { .. } => {
            c.stdout(log_file.try_clone().unwrap()).stderr(log_file);
        }
    }
    c.status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd.display()))
}

/// What a run printed, for failure messages.
fn printed(plan: &Plan, log: &Path) -> String {
    let mut out = std::fs::read_to_string(log).unwrap_or_default();
    if let ReportSource::Stdout { capture, .. } = &plan.report {
        out.push_str(&std::fs::read_to_string(capture).unwrap_or_default());
    }
    out
}

/// Plans `req`, runs it and reads its results.
fn run(a: &dyn Adapter, req: &Request, scratch: &Path) -> (Plan, Vec<TestCase>) {
    let plan = a.plan(req, scratch).unwrap();
    let log = scratch.join(format!("run-{}.log", req.invocation));
    spawn(&plan, &log);
    match a.read(&plan) {
        Ok(results) => (plan, results.cases),
        Err(e) => panic!(
            "{}: {e}\n--- output ---\n{}",
            plan.cmd.display(),
            printed(&plan, &log)
        ),
    }
}

/// Lists the tests of `a` (with the environment of the runs).
fn list(a: &dyn Adapter, counter: &Path, scratch: &Path) -> BTreeSet<String> {
    let mut plan = a.list(scratch).unwrap().unwrap();
    plan.cmd.env.extend(env(counter));
    let log = scratch.join("list.log");
    spawn(&plan, &log);
    let ReportSource::Stdout { capture, .. } = &plan.report else {
        panic!("a listing is read from stdout")
    };
    let out = std::fs::read_to_string(capture).unwrap();
    match a.parse_list(&out) {
        Ok(refs) => refs.into_iter().map(|r| r.id).collect(),
        Err(e) => panic!("{e}\n--- output ---\n{}", printed(&plan, &log)),
    }
}

fn id(rest: &str) -> String {
    format!("{PKG}::{rest}")
}

/// Every test of the fixture with the outcome of a first run (flaky fails: the counter is 1),
/// as `cargo test` reports them.
fn cargo_first_run() -> BTreeMap<String, Outcome> {
    [
        ("tests::passes", Outcome::Passed),
        ("tests::fails", Outcome::Failed),
        ("tests::flaky", Outcome::Failed),
        ("tests::ignored", Outcome::Skipped),
        ("it::it_passes", Outcome::Passed),
        ("it::nested::inner", Outcome::Passed),
        ("odd::odd(paren)", Outcome::Passed),
        ("odd::close)paren", Outcome::Passed),
        ("odd::with, comma", Outcome::Passed),
        ("odd::back\\slash", Outcome::Passed),
        ("odd::sp ace", Outcome::Passed),
        ("odd::uni/é", Outcome::Passed),
        ("odd::fail, always)", Outcome::Failed),
        ("doctest::src/lib.rs - add (line 6)", Outcome::Passed),
    ]
    .into_iter()
    .map(|(k, v)| (id(k), v))
    .collect()
}

/// `outcomes` without what nextest leaves out: doc tests (it runs none) and ignored tests (it
/// reports none).
fn nextest_view(mut outcomes: BTreeMap<String, Outcome>) -> BTreeMap<String, Outcome> {
    outcomes.retain(|id, outcome| !id.contains("::doctest::") && *outcome != Outcome::Skipped);
    outcomes
}

/// Runs the failed tests of `cases` again (invocation 2): the flaky test now passes. Returns the
/// plan.
fn rerun_failures(a: &dyn Adapter, cases: &[TestCase], counter: &Path, scratch: &Path) -> Plan {
    let failed: Vec<TestRef> = cases
        .iter()
        .filter(|c| c.outcome.is_failure())
        .map(TestRef::from)
        .collect();
    let (plan, cases) = run(a, &request(2, Some(failed), counter), scratch);
    let expected = [
        (id("tests::fails"), Outcome::Failed),
        (id("tests::flaky"), Outcome::Passed),
        (id("odd::fail, always)"), Outcome::Failed),
    ]
    .into_iter()
    .collect();
    assert_eq!(outcomes(&cases), expected, "{}", plan.cmd.display());
    assert_eq!(counter_value(counter), "2");
    plan
}

fn counter_value(counter: &Path) -> String {
    std::fs::read_to_string(counter).unwrap_or_default()
}

#[test]
fn cargo_test_full_run_selection_and_listing() {
    let scratch = tempfile::tempdir().unwrap();
    let counter = scratch.path().join("counter");
    let a = adapter(
        &["cargo", "test", "--manifest-path", &manifest()],
        RunnerKind::CargoTest,
    );

    let (_, cases) = run(a.as_ref(), &request(1, None, &counter), scratch.path());
    assert_eq!(outcomes(&cases), cargo_first_run());
    assert_eq!(counter_value(&counter), "1");

    let case = |rest: &str| cases.iter().find(|c| c.id == id(rest)).unwrap();
    let fails = case("tests::fails");
    assert_eq!(fails.classname.as_deref(), Some(PKG));
    assert_eq!(fails.name, "tests::fails");
    assert_eq!(
        (fails.file.as_deref(), fails.line),
        (Some("src/lib.rs"), Some(36))
    );
    let failure = fails.attempts[0].failure.as_ref().unwrap();
    assert_eq!(
        failure.message.as_deref(),
        Some("assertion `left == right` failed: real failure")
    );
    assert!(failure.details.as_ref().unwrap().contains("right: 3"));
    let flaky = case("tests::flaky").attempts[0].failure.as_ref().unwrap();
    assert_eq!(
        flaky.message.as_deref(),
        Some("flaky: the counter is odd (1)")
    );
    let ignored = case("tests::ignored").attempts[0].failure.as_ref().unwrap();
    assert_eq!(ignored.message.as_deref(), Some("too slow"));
    assert_eq!(case("odd::fail, always)").line, Some(60));

    // Only the failures run again; the flaky test now passes.
    let plan = rerun_failures(a.as_ref(), &cases, &counter, scratch.path());
    // Restricted to the binaries of the selection: no doc tests were built or run.
    let args = plan.cmd.args.join(" ");
    assert!(args.contains("--lib --test odd"), "{args}");

    // The listing names the same tests as the full run.
    let listed = list(a.as_ref(), &counter, scratch.path());
    assert_eq!(listed, cargo_first_run().into_keys().collect());
    assert_eq!(counter_value(&counter), "2");
}

#[test]
fn nextest_full_run_selection_and_listing_agree_with_cargo_test() {
    if !nextest_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let counter = scratch.path().join("counter");
    let a = adapter(
        &["cargo", "nextest", "run", "--manifest-path", &manifest()],
        RunnerKind::Nextest,
    );

    let (plan, cases) = run(a.as_ref(), &request(1, None, &counter), scratch.path());
    // The report lands in the scratch directory (nextest still creates its empty store
    // directory, `target/nextest/default`, in the fixture: that is nextest's own doing).
    let ReportSource::Files { paths, .. } = &plan.report else {
        panic!("nextest reports through files")
    };
    assert!(paths[0].starts_with(scratch.path()), "{paths:?}");

    // nextest runs no doc tests and reports no ignored tests; every other id is the same as
    // cargo test's, with the same outcome.
    assert_eq!(outcomes(&cases), nextest_view(cargo_first_run()));
    assert_eq!(counter_value(&counter), "1");
    let fails = cases.iter().find(|c| c.id == id("tests::fails")).unwrap();
    assert_eq!(fails.classname.as_deref(), Some(PKG));
    assert_eq!(fails.name, "tests::fails");

    // The ids really are cargo test's: run it (its own counter) and compare.
    let cargo_counter = scratch.path().join("cargo-counter");
    let cargo = adapter(
        &["cargo", "test", "--manifest-path", &manifest()],
        RunnerKind::CargoTest,
    );
    let req = request(9, None, &cargo_counter);
    let (_, cargo_cases) = run(cargo.as_ref(), &req, scratch.path());
    assert_eq!(outcomes(&cases), nextest_view(outcomes(&cargo_cases)));

    // Only the failures run again (selected through an -E filterset with odd names).
    rerun_failures(a.as_ref(), &cases, &counter, scratch.path());

    let listed = list(a.as_ref(), &counter, scratch.path());
    assert_eq!(
        listed,
        nextest_view(cargo_first_run()).into_keys().collect()
    );
}
