//! The jest and vitest adapters, through the crate's public API.
//!
//! Always: command lines built for wrapped commands, and results read back from reports captured
//! from real jest 30 / vitest 4 runs of `tests/fixtures/nodeproj` (in
//! `crates/flakehound-ingest/tests/data/`).
//!
//! With `FLAKEHOUND_NODE_MODULES` pointing at a `node_modules` directory holding jest and vitest
//! (`npm install jest vitest` anywhere): real runs of the fixture project, copied to a temporary
//! directory with that `node_modules` linked in. Without it, those tests print why they skip.
//! The real runs change the process's working directory (flakehound runs where the tests run,
//! and its paths are relative to that), so they are all in one test function.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{
    Adapter, Plan, ReportSource, Request, RunnerKind, TestRef, detect, detect_kind,
};
use flakehound_testkit::copy_to_tempdir;

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn adapter(line: &str) -> Box<dyn Adapter> {
    detect(&argv(line), None, None).unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../flakehound-ingest/tests/data")
        .join(name)
}

fn select(refs: &[TestRef]) -> Request {
    Request {
        selection: Some(refs.to_vec()),
        invocation: 1,
        ..Request::default()
    }
}

fn ids(cases: &[TestCase]) -> Vec<&str> {
    cases.iter().map(|c| c.id.as_str()).collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn find<'a>(cases: &'a [TestCase], id: &str) -> &'a TestCase {
    cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no record {id} in {:?}", ids(cases)))
}

fn report_path(plan: &Plan) -> PathBuf {
    match &plan.report {
        ReportSource::Files { paths, .. } => paths[0].clone(),
        other => panic!("a report file expected, got {other:?}"),
    }
}

/// A jest-JSON record as `read` returns it, turned into a selection entry.
fn jest_ref(file: &str, suite: &[&str], name: &str) -> TestRef {
    let mut id = vec![file];
    id.extend(suite);
    id.push(name);
    TestRef {
        id: id.join(" › "),
        classname: (!suite.is_empty()).then(|| suite.join(" › ")),
        name: name.into(),
        file: Some(file.into()),
        suite: suite.iter().map(|s| s.to_string()).collect(),
    }
}

/// A vitest JUnit record, turned into a selection entry.
fn vitest_ref(file: &str, name: &str) -> TestRef {
    TestRef {
        id: format!("{file}::{name}"),
        classname: Some(file.into()),
        name: name.into(),
        file: None,
        suite: vec![file.into()],
    }
}

// ---------------------------------------------------------------------------------------------
// Always run
// ---------------------------------------------------------------------------------------------

#[test]
fn wrapped_commands_get_report_flags() {
    for (line, kind) in [
        ("npx jest --ci", RunnerKind::Jest),
        ("yarn jest", RunnerKind::Jest),
        ("pnpm exec vitest run", RunnerKind::Vitest),
        ("npx vitest", RunnerKind::Vitest),
    ] {
        assert_eq!(detect_kind(&argv(line)), Some(kind), "{line}");
    }
    let scratch = Path::new("/scratch");
    let plan = adapter("npx jest --ci")
        .plan(&Request::default(), scratch)
        .unwrap();
    assert_eq!(
        plan.cmd.display(),
        "npx jest --ci --json --outputFile=/scratch/jest-0.json --testLocationInResults"
    );
    let plan = adapter("npx vitest")
        .plan(&Request::default(), scratch)
        .unwrap();
    assert_eq!(
        plan.cmd.display(),
        "npx vitest run --reporter=default --reporter=junit \
         --outputFile.junit=/scratch/vitest-0.xml"
    );
    let sel = [jest_ref("src/a b.test.js", &["it's"], "works (1)")];
    let plan = adapter("yarn jest").plan(&select(&sel), scratch).unwrap();
    assert_eq!(
        plan.cmd.display(),
        r"yarn jest --json --outputFile=/scratch/jest-1.json --testLocationInResults '(?:^|/)src/a b\.test\.js$' -t '^(?:it'\''s works \(1\))$'"
    );
}

/// Copies a captured report to where `plan` expects it, then reads it back.
fn read_captured(adapter: &dyn Adapter, plan: &Plan, captured: &str) -> Vec<TestCase> {
    std::fs::copy(data(captured), report_path(plan)).unwrap();
    adapter.read(plan).unwrap().cases
}

#[test]
fn jest_results_are_those_of_the_selection() {
    let scratch = tempfile::tempdir().unwrap();
    let jest = adapter("jest");
    // The selection of the captured run (paths as in the capture, which are absolute).
    let sel = [
        jest_ref(
            "/w/proj/jest/math.test.js",
            &["math", "edge (cases)|[x]"],
            "divides by $0.50 * 2?",
        ),
        jest_ref("/w/proj/jest/math.test.js", &["math"], "sum 2 + 3 = 5"),
        jest_ref(
            "/w/proj/jest/nested/flaky.test.js",
            &["flaky"],
            "passes on the second try",
        ),
    ];
    let plan = jest.plan(&select(&sel), scratch.path()).unwrap();
    let cases = read_captured(jest.as_ref(), &plan, "jest-30-selected.json");
    // jest reported the 10 other tests of those files as pending: they are dropped.
    let want: Vec<&str> = sel.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids(&cases), want);
    let flaky = &cases[2];
    let attempts: Vec<Outcome> = flaky.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(attempts, [Outcome::Failed, Outcome::Passed]);

    // Without a selection nothing is dropped.
    let plan = jest.plan(&Request::default(), scratch.path()).unwrap();
    let cases = read_captured(jest.as_ref(), &plan, "jest-30-selected.json");
    assert_eq!(cases.len(), 12);
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.outcome == Outcome::Skipped)
            .count(),
        9
    );
}

#[test]
fn vitest_results_are_those_of_the_selection() {
    let scratch = tempfile::tempdir().unwrap();
    let vitest = adapter("vitest run");
    let sel = [
        vitest_ref(
            "vitest/math.test.mjs",
            "math > edge (cases)|[x] > divides by $0.50 * 2?",
        ),
        vitest_ref("vitest/math.test.mjs", "math > sum 2 + 3 = 5"),
        vitest_ref(
            "vitest/nested/flaky.test.mjs",
            "flaky > passes on the second try",
        ),
    ];
    let plan = vitest.plan(&select(&sel), scratch.path()).unwrap();
    assert_eq!(
        plan.cmd.args[4..],
        [
            "vitest/math.test.mjs",
            "vitest/nested/flaky.test.mjs",
            "-t",
            r"^(?:math edge \(cases\)\|\[x\] divides by \$0\.50 \* 2\?|math sum 2 \+ 3 = 5|flaky passes on the second try)$"
        ]
    );
    let cases = read_captured(vitest.as_ref(), &plan, "vitest-4-selected.xml");
    let want: Vec<&str> = sel.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids(&cases), want);
    assert!(cases.iter().all(|c| c.outcome == Outcome::Passed));
}

#[test]
fn stale_reports_are_not_read() {
    let scratch = tempfile::tempdir().unwrap();
    let jest = adapter("jest");
    let plan = jest.plan(&Request::default(), scratch.path()).unwrap();
    let path = report_path(&plan);
    std::fs::copy(data("jest-30.json"), &path).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let err = jest.read(&plan).unwrap_err().to_string();
    assert!(err.contains("not written by this run"), "{err}");
    std::fs::remove_file(&path).unwrap();
    let err = jest.read(&plan).unwrap_err().to_string();
    assert!(err.contains("was not written"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Real runs
// ---------------------------------------------------------------------------------------------

/// `$FLAKEHOUND_NODE_MODULES` when it holds jest and vitest.
fn node_modules() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("FLAKEHOUND_NODE_MODULES") else {
        eprintln!(
            "skipping real jest/vitest runs: set FLAKEHOUND_NODE_MODULES to a node_modules \
             directory with jest and vitest (`npm install jest vitest`)"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for bin in ["jest", "vitest"] {
        if !dir.join(".bin").join(bin).exists() {
            eprintln!(
                "skipping real jest/vitest runs: no .bin/{bin} in {}",
                dir.display()
            );
            return None;
        }
    }
    Some(dir.canonicalize().unwrap_or(dir))
}

/// Spawns `plan.cmd` (stdout and stderr captured); returns the exit code and stdout.
fn spawn(plan: &Plan) -> (Option<i32>, String) {
    let cmd = &plan.cmd;
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args).stdin(Stdio::null());
    for k in &cmd.env_remove {
        command.env_remove(k);
    }
    command.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    // Colours would only make the captured output harder to read.
    command.env("NO_COLOR", "1").env("CI", "1");
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "$ {}\nexit {:?}; stderr tail:\n{}",
        cmd.display(),
        out.status.code(),
        stderr
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn run(adapter: &dyn Adapter, req: &Request, scratch: &Path) -> Vec<TestCase> {
    let plan = adapter.plan(req, scratch).unwrap();
    spawn(&plan);
    adapter.read(&plan).unwrap_or_else(|e| panic!("{e}")).cases
}

fn outcome_of(cases: &[TestCase], id: &str) -> Vec<Outcome> {
    find(cases, id).attempts.iter().map(|a| a.outcome).collect()
}

#[test]
fn real_jest_and_vitest_runs() {
    let Some(modules) = node_modules() else {
        return;
    };
    let project =
        copy_to_tempdir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nodeproj"));
    let root = project.path().canonicalize().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&modules, root.join("node_modules")).unwrap();
    #[cfg(not(unix))]
    {
        eprintln!("skipping real jest/vitest runs: needs a symlink to node_modules");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    std::env::set_current_dir(&root).unwrap();
    let bin = |name: &str| {
        root.join("node_modules/.bin")
            .join(name)
            .display()
            .to_string()
    };
    real_jest(&bin("jest"), scratch.path());
    real_vitest(&bin("vitest"), scratch.path());
}

fn real_jest(jest_bin: &str, scratch: &Path) {
    let jest = adapter(&format!("{jest_bin} --ci"));
    assert_eq!(jest.kind(), RunnerKind::Jest);

    // The whole suite.
    let req = Request {
        invocation: 1,
        ..Request::default()
    };
    let cases = run(jest.as_ref(), &req, scratch);
    let m = "jest/math.test.js";
    assert_eq!(
        outcome_of(
            &cases,
            &format!("{m} › math › edge (cases)|[x] › fails on purpose")
        ),
        [Outcome::Failed]
    );
    assert_eq!(
        outcome_of(
            &cases,
            "jest/nested/flaky.test.js › flaky › passes on the second try"
        ),
        [Outcome::Failed, Outcome::Passed]
    );
    assert_eq!(
        outcome_of(&cases, "jest/nested/retry.test.js › retry › always fails"),
        [Outcome::Failed; 4]
    );
    assert_eq!(
        outcome_of(&cases, "jest/broken.test.js"),
        [Outcome::Errored]
    );
    assert_eq!(outcome_of(&cases, "jest/hooks.test.js"), [Outcome::Errored]);
    assert_eq!(
        find(&cases, &format!("{m} › math › skipped one")).outcome,
        Outcome::Skipped
    );
    assert_eq!(
        find(&cases, &format!("{m} › parse › parses x")).line,
        Some(31)
    );
    assert_eq!(cases.len(), 16, "{:?}", ids(&cases));

    // The file list.
    let plan = jest.list(scratch).unwrap().unwrap();
    let (_, stdout) = spawn(&plan);
    let mut files: Vec<String> = jest
        .parse_list(&stdout)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "jest/broken.test.js",
            "jest/hooks.test.js",
            "jest/math.test.js",
            "jest/nested/flaky.test.js",
            "jest/nested/retry.test.js"
        ]
    );

    // Exactly the selected tests, read back from the full run's records.
    let pick = |id: &str| TestRef::from(find(&cases, id));
    let sel = [
        pick(&format!(
            "{m} › math › edge (cases)|[x] › divides by $0.50 * 2?"
        )),
        pick(&format!("{m} › math › sum 2 + 3 = 5")),
        pick(&format!("{m} › math › skipped one")),
        pick(&format!("{m} › parse › parses x")),
        pick("jest/nested/flaky.test.js › flaky › passes on the second try"),
    ];
    let mut req = select(&sel);
    req.invocation = 2;
    let got = run(jest.as_ref(), &req, scratch);
    let want: Vec<&str> = sel.iter().map(|r| r.id.as_str()).collect();
    // jest runs files in parallel: their order in the report varies.
    assert_eq!(sorted(ids(&got)), sorted(want.clone()));
    assert_eq!(find(&got, want[2]).outcome, Outcome::Skipped);
    assert_eq!(
        outcome_of(&got, want[4]),
        [Outcome::Failed, Outcome::Passed]
    );

    // The documented limit: same full name, both run.
    req.selection = Some(vec![pick(&format!("{m} › math › adds numbers"))]);
    req.invocation = 3;
    let got = run(jest.as_ref(), &req, scratch);
    assert_eq!(
        ids(&got),
        [
            format!("{m} › math › adds numbers"),
            format!("{m} › math adds numbers")
        ]
    );

    // A whole file (from the list, or its errored record) runs all of it.
    req.selection = Some(vec![
        pick("jest/broken.test.js"),
        pick("jest/hooks.test.js"),
    ]);
    req.invocation = 4;
    let got = run(jest.as_ref(), &req, scratch);
    let mut got_ids = ids(&got);
    got_ids.sort();
    assert_eq!(
        got_ids,
        [
            "jest/broken.test.js",
            "jest/hooks.test.js",
            "jest/hooks.test.js › after all fails › ok one"
        ]
    );
}

fn real_vitest(vitest_bin: &str, scratch: &Path) {
    let vitest = adapter(vitest_bin);
    assert_eq!(vitest.kind(), RunnerKind::Vitest);

    let req = Request {
        invocation: 1,
        ..Request::default()
    };
    let cases = run(vitest.as_ref(), &req, scratch);
    let m = "vitest/math.test.mjs";
    assert_eq!(
        outcome_of(
            &cases,
            &format!("{m}::math > edge (cases)|[x] > fails on purpose")
        ),
        [Outcome::Failed]
    );
    assert_eq!(
        find(&cases, &format!("{m}::math > write more")).outcome,
        Outcome::Skipped
    );
    assert_eq!(
        find(&cases, "vitest/broken.test.mjs").outcome,
        Outcome::Failed
    );
    assert_eq!(cases.len(), 13, "{:?}", ids(&cases));

    // vitest lists nothing while a test file fails to load: list the loadable ones.
    let listing = adapter(&format!("{vitest_bin} run vitest/math vitest/nested"));
    let plan = listing.list(scratch).unwrap().unwrap();
    let (code, stdout) = spawn(&plan);
    assert_eq!(code, Some(0));
    let listed = listing.parse_list(&stdout).unwrap();
    assert_eq!(listed.len(), 10, "{listed:?}");
    for r in &listed {
        // Same ids as the records of a run.
        find(&cases, &r.id);
    }
    let plan = vitest.list(scratch).unwrap().unwrap();
    let (_, stdout) = spawn(&plan);
    assert!(vitest.parse_list(&stdout).is_err());

    let pick = |id: &str| TestRef::from(find(&cases, id));
    let sel = [
        pick(&format!(
            "{m}::math > edge (cases)|[x] > divides by $0.50 * 2?"
        )),
        pick(&format!("{m}::math > sum 2 + 3 = 5")),
        pick(&format!("{m}::math > skipped one")),
        pick(&format!("{m}::parse > parses x")),
        pick("vitest/nested/flaky.test.mjs::flaky > passes on the second try"),
    ];
    let mut req = select(&sel);
    req.invocation = 2;
    let got = run(vitest.as_ref(), &req, scratch);
    let want: Vec<&str> = sel.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(sorted(ids(&got)), sorted(want.clone()));
    assert_eq!(find(&got, want[2]).outcome, Outcome::Skipped);
    assert_eq!(find(&got, want[4]).outcome, Outcome::Passed);

    req.selection = Some(vec![pick(&format!("{m}::math > adds numbers"))]);
    req.invocation = 3;
    let got = run(vitest.as_ref(), &req, scratch);
    assert_eq!(
        ids(&got),
        [
            format!("{m}::math > adds numbers"),
            format!("{m}::math adds numbers")
        ]
    );
}
