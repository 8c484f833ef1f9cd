//! The pytest and generic adapters driving real pytest on the fixture project
//! `tests/fixtures/pyproj` (copied to a temporary directory for each test).
//!
//! The python is `$FLAKEHOUND_TEST_PYTHON`, else `<workspace>/target/test-venv/bin/python`
//! (created by `scripts/test-venv.sh`). Without either the tests are skipped, unless
//! `FLAKEHOUND_REQUIRE_PYTEST=1`, which makes them fail instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::exec::{Execution, execute};
use flakehound_runner::{
    Adapter, Error, Order, Plan, ReportSource, Request, Results, RunnerKind, TestRef, detect,
};
use flakehound_testkit::{copy_to_tempdir, pytest_python};

/// Every test of the fixture project, by node id, in collection order.
const ALL: [&str; 10] = [
    "tests/test_basic.py::test_pass",
    "tests/test_basic.py::TestGroup::test_in_class",
    "tests/test_basic.py::test_param[with space]",
    "tests/test_basic.py::test_param[br[ack]et]",
    "tests/test_basic.py::test_fresh_fixture",
    "tests/test_basic.py::test_fail",
    "tests/test_flaky.py::test_counter",
    "tests/test_inherit.py::TestInherit::test_inherited",
    "tests/test_order.py::test_victim",
    "tests/test_order.py::test_polluter",
];
const INHERITED: &str = "tests/test_inherit.py::TestInherit::test_inherited";
const PARAM_SPACE: &str = "tests/test_basic.py::test_param[with space]";
const PARAM_BRACKETS: &str = "tests/test_basic.py::test_param[br[ack]et]";
const IN_CLASS: &str = "tests/test_basic.py::TestGroup::test_in_class";
const COUNTER: &str = "tests/test_flaky.py::test_counter";
const FRESH: &str = "tests/test_basic.py::test_fresh_fixture";
const VICTIM: &str = "tests/test_order.py::test_victim";
const POLLUTER: &str = "tests/test_order.py::test_polluter";
/// Collected only with `--doctest-modules`.
const DOCTEST: &str = "tests/test_basic.py::test_basic.double";

/// A fresh copy of the fixture project, and a scratch directory.
struct Project {
    python: PathBuf,
    dir: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

impl Project {
    fn new() -> Option<Project> {
        let python = pytest_python()?;
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyproj");
        Some(Project {
            python,
            dir: copy_to_tempdir(&fixture),
            scratch: tempfile::tempdir().unwrap(),
        })
    }

    /// A project of the given files instead of the fixture.
    fn of(files: &[(&str, &str)]) -> Option<Project> {
        let python = pytest_python()?;
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Some(Project {
            python,
            dir,
            scratch: tempfile::tempdir().unwrap(),
        })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `<python> -m pytest ARGS`, as the given runner.
    fn adapter_as(
        &self,
        kind: RunnerKind,
        args: &[&str],
        report: Option<&Path>,
    ) -> Box<dyn Adapter> {
        let mut argv = vec![
            self.python.display().to_string(),
            "-m".into(),
            "pytest".into(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        detect(&argv, Some(kind), report).unwrap()
    }

    fn adapter(&self, args: &[&str]) -> Box<dyn Adapter> {
        self.adapter_as(RunnerKind::Pytest, args, None)
    }

    /// A request with the fixture's environment.
    fn request(&self) -> Request {
        Request {
            repeat: 1,
            invocation: 1,
            env: vec![
                (
                    "FLAKEHOUND_FIXTURE_COUNTER".into(),
                    self.path("counter").display().to_string(),
                ),
                // Plugins installed next to a custom test python (pytest-randomly...) must not
                // change the order these tests check.
                ("PYTEST_DISABLE_PLUGIN_AUTOLOAD".into(), "1".into()),
            ],
            ..Request::default()
        }
    }

    fn plan(&self, adapter: &dyn Adapter, req: &Request) -> Plan {
        let mut plan = adapter.plan(req, self.scratch.path()).unwrap();
        plan.cmd.cwd = Some(self.dir.path().to_path_buf());
        plan
    }

    fn execute(&self, adapter: &dyn Adapter, plan: &Plan) -> Execution {
        execute(adapter, plan, &mut std::io::sink()).unwrap()
    }

    /// Plans, runs and reads one request.
    fn run(&self, adapter: &dyn Adapter, req: &Request) -> (Execution, Results) {
        let plan = self.plan(adapter, req);
        let exec = self.execute(adapter, &plan);
        let results = adapter.read(&plan).unwrap_or_else(|e| {
            panic!("{e}\ncommand: {}", plan.cmd.display());
        });
        (exec, results)
    }

    /// The whole suite, once; the counter test fails (first call).
    fn full_run(&self) -> Results {
        let adapter = self.adapter(&["-p", "no:terminal"]);
        self.run(adapter.as_ref(), &self.request()).1
    }

    fn counter(&self) -> Option<String> {
        std::fs::read_to_string(self.path("counter")).ok()
    }
}

// `-p no:terminal` in most tests: pytest's stdout is inherited, and would clutter cargo's output.

fn ids(results: &Results) -> Vec<&str> {
    results.cases.iter().map(|c| c.id.as_str()).collect()
}

/// The first record of `results` that `wanted` accepts; `what` names it when there is none.
fn find<'a>(results: &'a Results, what: &str, wanted: impl Fn(&TestCase) -> bool) -> &'a TestCase {
    results
        .cases
        .iter()
        .find(|c| wanted(c))
        .unwrap_or_else(|| panic!("no record {what} in {:?}", ids(results)))
}

fn case<'a>(results: &'a Results, id: &str) -> &'a TestCase {
    find(results, id, |c| c.id == id)
}

fn by_name<'a>(results: &'a Results, name: &str) -> &'a TestCase {
    find(results, &format!("named {name}"), |c| c.name == name)
}

fn outcomes(results: &Results) -> BTreeMap<&str, Vec<Outcome>> {
    let mut map: BTreeMap<&str, Vec<Outcome>> = BTreeMap::new();
    for c in &results.cases {
        map.entry(c.id.as_str()).or_default().push(c.outcome);
    }
    map
}

/// Node ids of the results: the records' ids, except the inherited test's (see below).
fn node_ids(results: &Results) -> Vec<String> {
    results
        .cases
        .iter()
        .map(|c| {
            if c.name == "test_inherited" {
                INHERITED.to_string()
            } else {
                c.id.clone()
            }
        })
        .collect()
}

fn refs(results: &Results, wanted: &[&str]) -> Vec<TestRef> {
    wanted
        .iter()
        .map(|id| TestRef::from(case(results, id)))
        .collect()
}

fn age(path: &Path, by: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn a_full_run_reads_every_record_with_node_ids() {
    let Some(p) = Project::new() else { return };
    // A realistic command line: terminal output on.
    let adapter = p.adapter(&["-q"]);
    let (exec, results) = p.run(adapter.as_ref(), &p.request());
    assert_eq!(exec.code, 1, "one real failure, one flaky failure");
    assert_eq!(node_ids(&results), ALL);
    // Every canonical id is the node id, except for a test inherited from another file, whose
    // xunit1 `file` is where it is defined (the id then follows the file; selecting it works
    // through its classname and name, see `selection_runs_only_the_chosen_tests`).
    let inherited = by_name(&results, "test_inherited");
    assert_eq!(
        inherited.classname.as_deref(),
        Some("tests.test_inherit.TestInherit")
    );
    assert_eq!(inherited.file.as_deref(), Some("tests/base_mixin.py"));

    let expected: BTreeMap<&str, Vec<Outcome>> = ALL
        .iter()
        .filter(|id| **id != INHERITED)
        .map(|&id| {
            let failed = id.ends_with("::test_fail") || id == COUNTER;
            (
                id,
                vec![if failed {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                }],
            )
        })
        .collect();
    let mut got = outcomes(&results);
    got.retain(|id, _| !id.ends_with("::test_inherited"));
    assert_eq!(got, expected);
    // xunit1: every record has a location.
    let pass = case(&results, "tests/test_basic.py::test_pass");
    assert_eq!(pass.file.as_deref(), Some("tests/test_basic.py"));
    assert!(pass.line.is_some());
    assert_eq!(pass.classname.as_deref(), Some("tests.test_basic"));
    assert_eq!(p.counter().as_deref(), Some("1"));
}

#[test]
fn selection_runs_only_the_chosen_tests() {
    let Some(p) = Project::new() else { return };
    let full = p.full_run();
    let adapter = p.adapter(&["-p", "no:terminal"]);
    let mut selection = refs(&full, &[PARAM_BRACKETS, PARAM_SPACE, IN_CLASS]);
    // As a store would give it: its report id is not its node id.
    selection.push(TestRef::from(by_name(&full, "test_inherited")));
    // Only an id (no classname): matched by node id.
    selection.push(TestRef {
        id: "tests/test_order.py::test_polluter".into(),
        classname: None,
        name: "whatever".into(),
        file: None,
        suite: vec![],
    });
    let req = Request {
        selection: Some(selection),
        invocation: 2,
        ..p.request()
    };
    let (exec, results) = p.run(adapter.as_ref(), &req);
    assert_eq!(exec.code, 0, "no failing test selected");
    // Selection keeps pytest's order.
    assert_eq!(
        node_ids(&results),
        [IN_CLASS, PARAM_SPACE, PARAM_BRACKETS, INHERITED, POLLUTER]
    );
    assert_eq!(
        p.counter().as_deref(),
        Some("1"),
        "the flaky test did not run again"
    );
}

#[test]
fn reverse_order_runs_the_polluter_first() {
    let Some(p) = Project::new() else { return };
    let full = p.full_run();
    assert_eq!(case(&full, VICTIM).outcome, Outcome::Passed);
    let adapter = p.adapter(&["-p", "no:terminal"]);
    let req = Request {
        order: Order::Reversed,
        invocation: 2,
        ..p.request()
    };
    let (_, results) = p.run(adapter.as_ref(), &req);
    let mut reversed = node_ids(&full);
    reversed.reverse();
    assert_eq!(node_ids(&results), reversed);
    assert_eq!(case(&results, VICTIM).outcome, Outcome::Failed);
}

#[test]
fn given_order_is_the_order_of_the_selection() {
    let Some(p) = Project::new() else { return };
    let full = p.full_run();
    let adapter = p.adapter(&["-p", "no:terminal"]);
    let wanted = [POLLUTER, PARAM_BRACKETS, VICTIM, IN_CLASS];
    let req = Request {
        selection: Some(refs(&full, &wanted)),
        order: Order::AsGiven,
        invocation: 2,
        ..p.request()
    };
    let (exec, results) = p.run(adapter.as_ref(), &req);
    assert_eq!(ids(&results), wanted);
    assert_eq!(case(&results, VICTIM).outcome, Outcome::Failed);
    assert_eq!(exec.code, 1);
}

#[test]
fn shuffle_is_deterministic_per_seed() {
    let Some(p) = Project::new() else { return };
    let adapter = p.adapter(&["-p", "no:terminal"]);
    let order = |seed: u64, hash_seed: &str, invocation: u32| {
        let mut req = Request {
            order: Order::Shuffled(seed),
            invocation,
            ..p.request()
        };
        req.env.push(("PYTHONHASHSEED".into(), hash_seed.into()));
        node_ids(&p.run(adapter.as_ref(), &req).1)
    };
    let a = order(7, "1", 1);
    let b = order(7, "2", 2);
    let c = order(8, "1", 3);
    assert_eq!(a, b, "same seed, same order, whatever PYTHONHASHSEED");
    let mut sorted = a.clone();
    sorted.sort();
    let mut all = ALL.map(String::from).to_vec();
    all.sort();
    assert_eq!(sorted, all, "a permutation of every test");
    assert_ne!(a, ALL, "shuffled");
    assert_ne!(a, c, "another seed, another order");
}

#[test]
fn repeat_gives_one_record_per_run() {
    let Some(p) = Project::new() else { return };
    let full = p.full_run();
    let adapter = p.adapter(&["-p", "no:terminal", "--doctest-modules"]);
    // A doctest empties its namespace after a run: repeating it needs care.
    let doctest = TestRef {
        id: DOCTEST.into(),
        classname: None,
        name: "test_basic.double".into(),
        file: Some("tests/test_basic.py".into()),
        suite: vec![],
    };
    let mut selection = refs(&full, &[COUNTER, FRESH, IN_CLASS]);
    selection.push(doctest);
    let req = Request {
        selection: Some(selection),
        repeat: 3,
        invocation: 2,
        ..p.request()
    };
    let (exec, results) = p.run(adapter.as_ref(), &req);
    assert_eq!(exec.code, 1);
    let got = outcomes(&results);
    let passed = vec![Outcome::Passed; 3];
    // Counter calls 2, 3, 4 (the full run made call 1): pass, fail, pass.
    let flaky = vec![Outcome::Passed, Outcome::Failed, Outcome::Passed];
    let expected = BTreeMap::from([
        (DOCTEST, passed.clone()),
        (COUNTER, flaky),
        // Its function-scoped fixture is new in every run, its module-scoped one is not.
        (FRESH, passed.clone()),
        (IN_CLASS, passed),
    ]);
    assert_eq!(got, expected);
    assert_eq!(p.counter().as_deref(), Some("4"));
    // The runs of one test are separate records with the same classname and name.
    let counters: Vec<_> = results.cases.iter().filter(|c| c.id == COUNTER).collect();
    assert!(
        counters
            .iter()
            .all(|c| c.classname == counters[0].classname && c.name == "test_counter")
    );
}

#[test]
fn list_parses_the_collection() {
    let Some(p) = Project::new() else { return };
    // -v would turn `-q` into a tree; the adapter sets the verbosity outright.
    let adapter = p.adapter(&["-v"]);
    let mut plan = adapter.list(p.scratch.path()).unwrap().unwrap();
    plan.cmd.cwd = Some(p.dir.path().to_path_buf());
    let ReportSource::Stdout { capture, .. } = &plan.report else {
        panic!("{:?}", plan.report)
    };
    let mut shown = Vec::new();
    let exec = execute(adapter.as_ref(), &plan, &mut shown).unwrap();
    assert_eq!(exec.code, 0);
    let stdout = std::fs::read_to_string(capture).unwrap();
    let listed = adapter.parse_list(&stdout).unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(listed_ids, ALL);
    let param = listed.iter().find(|t| t.id == PARAM_BRACKETS).unwrap();
    assert_eq!(param.classname.as_deref(), Some("tests.test_basic"));
    assert_eq!(param.name, "test_param[br[ack]et]");
    assert_eq!(param.file.as_deref(), Some("tests/test_basic.py"));
    // Nothing ran.
    assert_eq!(p.counter(), None);

    // The listed refs select what they name (their classname and name are pytest's).
    let run = p.adapter(&["-p", "no:terminal"]);
    let req = Request {
        selection: Some(
            listed
                .into_iter()
                .filter(|t| t.id == PARAM_BRACKETS)
                .collect(),
        ),
        ..p.request()
    };
    assert_eq!(ids(&p.run(run.as_ref(), &req).1), [PARAM_BRACKETS]);
}

#[test]
fn the_users_junitxml_is_read_then_left_intact() {
    let Some(p) = Project::new() else { return };
    let theirs = p.path("user.xml");
    let arg = format!("--junitxml={}", theirs.display());
    let adapter = p.adapter(&["-p", "no:terminal", &arg]);

    let first = p.plan(adapter.as_ref(), &p.request());
    assert!(!first.cmd.args.iter().any(|a| a.contains("junit_family")));
    p.execute(adapter.as_ref(), &first);
    let results = adapter.read(&first).unwrap();
    // Their family (pytest 8's default xunit2: no file attribute), ids derived from classnames.
    assert!(results.cases.iter().all(|c| c.file.is_none()));
    assert_eq!(ids(&results), ALL);
    let written = std::fs::read(&theirs).unwrap();

    let req = Request {
        selection: Some(refs(&results, &[PARAM_SPACE, INHERITED])),
        invocation: 2,
        ..p.request()
    };
    let (_, retry) = p.run(adapter.as_ref(), &req);
    // Same family, same ids.
    assert_eq!(ids(&retry), [PARAM_SPACE, INHERITED]);
    assert!(retry.cases.iter().all(|c| c.file.is_none()));
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        written,
        "their report is untouched"
    );
}

#[test]
fn a_stale_report_is_not_read() {
    let Some(p) = Project::new() else { return };
    let full = p.full_run();
    assert_eq!(full.cases.len(), ALL.len());
    // Our own report from invocation 1 is still there; a run that fails before writing one
    // (a usage error) must not be read from it.
    let adapter = p.adapter(&["-p", "no:terminal", "--no-such-option"]);
    let plan = p.plan(adapter.as_ref(), &p.request());
    let ReportSource::Files { paths, .. } = &plan.report else {
        panic!("{:?}", plan.report)
    };
    assert!(paths[0].exists());
    age(&paths[0], Duration::from_secs(5));
    let exec = p.execute(adapter.as_ref(), &plan);
    assert_eq!(exec.code, 4, "pytest's usage error");
    let err = adapter.read(&plan).unwrap_err();
    assert!(matches!(err, Error::MissingReport { .. }), "{err:?}");
    assert!(err.to_string().contains("earlier run"), "{err}");

    // Same for the user's own report path.
    let theirs = p.path("user.xml");
    std::fs::copy(&paths[0], &theirs).unwrap();
    age(&theirs, Duration::from_secs(3600));
    let arg = format!("--junitxml={}", theirs.display());
    let adapter = p.adapter(&["-p", "no:terminal", &arg, "--no-such-option"]);
    let plan = p.plan(adapter.as_ref(), &p.request());
    p.execute(adapter.as_ref(), &plan);
    let err = adapter.read(&plan).unwrap_err();
    assert!(err.to_string().contains("earlier run"), "{err}");

    // And no report at all.
    let fresh_scratch = tempfile::tempdir().unwrap();
    let adapter = p.adapter(&["-p", "no:terminal", "--no-such-option"]);
    let mut plan = adapter.plan(&p.request(), fresh_scratch.path()).unwrap();
    plan.cmd.cwd = Some(p.dir.path().to_path_buf());
    p.execute(adapter.as_ref(), &plan);
    let err = adapter.read(&plan).unwrap_err();
    assert!(err.to_string().contains("was not written"), "{err}");
}

#[test]
fn generic_reads_the_fresh_reports_of_a_directory() {
    let Some(p) = Project::new() else { return };
    let reports = p.path("reports");
    std::fs::create_dir(&reports).unwrap();
    let old = reports.join("0-old.xml");
    std::fs::write(
        &old,
        r#"<testsuite name="pytest"><testcase classname="tests.test_gone" name="test_old" file="tests/test_gone.py"/></testsuite>"#,
    )
    .unwrap();
    age(&old, Duration::from_secs(60));
    let arg = format!("--junitxml={}", reports.join("junit.xml").display());
    let adapter = p.adapter_as(
        RunnerKind::Generic,
        &["-p", "no:terminal", &arg],
        Some(&reports),
    );
    assert_eq!(adapter.kind(), RunnerKind::Generic);

    let full = Request {
        env: p.request().env,
        ..Request::default()
    };
    let (exec, results) = p.run(adapter.as_ref(), &full);
    assert_eq!(exec.code, 1);
    assert_eq!(
        ids(&results),
        ALL,
        "only the fresh report, read as pytest's"
    );

    let retry = Request {
        selection: Some(refs(&results, &[PARAM_SPACE])),
        ..full
    };
    let err = adapter.plan(&retry, p.scratch.path()).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

/// The plugin's thread modes hold the switch interval against the test's own setting, and
/// `interleave` traces the threads the test starts.
#[test]
fn thread_modes_hold_the_switch_interval() {
    let test = r#"
import os, sys, threading

def test_threads():
    sys.setswitchinterval(0.001)
    mode = os.environ.get("FLAKEHOUND_PYTEST_THREADS")
    seen = []
    t = threading.Thread(target=lambda: seen.append(sys.gettrace() is not None))
    t.start()
    t.join()
    assert sys.getswitchinterval() == {"serial": 1.0, "interleave": 0.005}.get(mode, 0.001)
    assert seen == [mode == "interleave"]
"#;
    let Some(p) = Project::of(&[("test_threads.py", test)]) else {
        return;
    };
    let adapter = p.adapter(&["-p", "no:terminal"]);
    for mode in [None, Some("serial"), Some("interleave")] {
        let mut req = p.request();
        if let Some(m) = mode {
            req.env
                .push(("FLAKEHOUND_PYTEST_THREADS".into(), m.to_string()));
        }
        let (exec, results) = p.run(adapter.as_ref(), &req);
        assert_eq!(exec.code, 0, "mode {mode:?}: {:?}", outcomes(&results));
        assert_eq!(
            outcomes(&results),
            BTreeMap::from([("test_threads.py::test_threads", vec![Outcome::Passed])])
        );
    }
    // An unknown mode is a usage error, not a silent no-op.
    let mut req = p.request();
    req.env
        .push(("FLAKEHOUND_PYTEST_THREADS".into(), "sideways".into()));
    let plan = p.plan(adapter.as_ref(), &req);
    assert_ne!(p.execute(adapter.as_ref(), &plan).code, 0);
}

/// `pytest_plugins` (for hunt) lists what `pytest -VV` reports: here a stand-in
/// `pytest-randomly` distribution put on PYTHONPATH.
#[test]
fn installed_plugins_are_detected_before_running() {
    let Some(py) = flakehound_testkit::pytest_python() else {
        return;
    };
    let argv = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![py.display().to_string(), "-m".into(), "pytest".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let none = flakehound_runner::pytest_plugins(&argv(&["-q", "tests"]), None).unwrap();
    assert!(!none.randomly && !none.rerunfailures, "{none:?}");
    let site = tempfile::tempdir().unwrap();
    let info = site.path().join("fake_randomly-9.9.9.dist-info");
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(site.path().join("fake_randomly.py"), "").unwrap();
    std::fs::write(
        info.join("METADATA"),
        "Metadata-Version: 2.1\nName: pytest-randomly\nVersion: 9.9.9\n",
    )
    .unwrap();
    std::fs::write(
        info.join("entry_points.txt"),
        "[pytest11]\nrandomly = fake_randomly\n",
    )
    .unwrap();
    // The variable reaches the child through our environment, as a user's would.
    let mut cmd_argv = vec![
        "env".to_string(),
        format!("PYTHONPATH={}", site.path().display()),
    ];
    cmd_argv.extend(argv(&["-x"]));
    let found = flakehound_runner::pytest_plugins(&cmd_argv, None).unwrap();
    assert!(found.randomly, "{found:?}");
    assert_eq!(found.all, vec!["pytest-randomly-9.9.9".to_string()]);
    assert_eq!(found.warnings("pytest").len(), 1);
    assert!(flakehound_runner::pytest_plugins(&["make".into(), "test".into()], None).is_none());
}

#[test]
fn plugin_listing_is_parsed() {
    let text = "This is pytest version 8.3.5, imported from /x\nregistered third-party plugins:\n  \
                pytest-rerunfailures-14.0 at /s/pytest_rerunfailures.py\n  pytest_cov-5.0.0 at /s/cov\n  \
                pytest-xdist-3.6.1 at /s/xdist\n";
    let p = flakehound_runner::PytestPlugins::parse(text);
    assert!(p.rerunfailures && p.cov && p.xdist && !p.randomly, "{p:?}");
    assert_eq!(p.all.len(), 3);
}
