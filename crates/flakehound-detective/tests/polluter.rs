//! `polluter::find` driving real pytest on the fixture projects under `tests/fixtures/` (each
//! copied to a temporary directory for each test):
//!
//! | fixture | victim | what it exercises |
//! |---|---|---|
//! | `single` | `test_victims.py::test_victim_{a,b,c}` | one polluter among 30 candidates (2nd, 18th, 30th): the run bound, the reproduction command |
//! | `sibling` | `test_cache.py::test_lookup_miss` | the polluter is the victim's own module sibling |
//! | `scoped` | `test_settings.py::test_retries_default` | pollution through a module-scoped fixture |
//! | `scoped` | `test_zz_mode.py::test_default_mode` | a class attribute built by one test, used by another: two tests of one class needed |
//! | `pair` | `test_z_victim.py::test_mode_normal` | two polluters in different modules needed together |
//! | `cleaner` | `test_c_victim.py::test_production_mode` | cleaners among the candidates and later in the suite |
//! | `brittle` | `test_d_query.py::test_query_users` | fails alone; the state-setter |
//! | `noisy` | `test_victim.py::test_flaky_victim` | also fails every 5th run on its own (a counter file): confirmation |
//!
//! The python is `$FLAKEHOUND_TEST_PYTHON`, else `<workspace>/target/test-venv/bin/python`
//! (created by `scripts/test-venv.sh`). Without either the tests are skipped, unless
//! `FLAKEHOUND_REQUIRE_PYTEST=1`, which makes them fail instead.

use std::path::Path;

use flakehound_detective::Lab;
use flakehound_detective::polluter::{self, Options, Purpose, Report, Search, Verdict};
use flakehound_runner::{Adapter, TestRef};

mod common;

use flakehound_testkit::pytest_python as python;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" || name == ".noise-counter" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh copy of a fixture project, its pytest adapter and its collected tests.
struct Project {
    dir: tempfile::TempDir,
    scratch: tempfile::TempDir,
    adapter: Box<dyn Adapter>,
    /// Every test, in collection order.
    tests: Vec<TestRef>,
}

impl Project {
    fn new(fixture: &str) -> Option<Project> {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(fixture),
            dir.path(),
        );
        let (adapter, tests) = common::pytest_tests(&python, dir.path());
        let scratch = tempfile::tempdir().unwrap();
        assert!(!tests.is_empty(), "{fixture}: nothing collected");
        Some(Project {
            dir,
            scratch,
            adapter,
            tests,
        })
    }

    fn test(&self, id: &str) -> TestRef {
        self.tests
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("{id} not collected: {:?}", self.ids()))
            .clone()
    }

    fn ids(&self) -> Vec<&str> {
        self.tests.iter().map(|t| t.id.as_str()).collect()
    }

    /// The tests collected before `victim`, except those whose id contains one of `skip`.
    fn before(&self, victim: &str, skip: &[&str]) -> Vec<TestRef> {
        self.tests
            .iter()
            .take_while(|t| t.id != victim)
            .filter(|t| !skip.iter().any(|s| t.id.contains(s)))
            .cloned()
            .collect()
    }

    fn find(&self, victim: &str, candidates: &[TestRef], opts: &Options) -> Report {
        let mut lab = Lab::new(self.adapter.as_ref(), self.scratch.path().to_path_buf());
        lab.cwd = Some(self.dir.path().to_path_buf());
        let report = polluter::find(&lab, &self.test(victim), candidates, opts).unwrap();
        assert_eq!(report.runs, lab.executions());
        eprintln!(
            "{victim}: {} ({} search runs, bound {})",
            report.summary, report.search_runs, report.run_bound
        );
        report
    }
}

/// Runs a reproduction's shell line; its exit status and output.
fn sh(line: &str) -> (bool, String) {
    let out = std::process::Command::new("sh")
        .args(["-c", line])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn one_of_thirty(victim: &str, polluter: &str) {
    let Some(p) = Project::new("single") else {
        return;
    };
    let candidates = p.before("test_victims.py::test_victim_a", &[]);
    assert_eq!(candidates.len(), 30, "{:?}", p.ids());
    let r = p.find(victim, &candidates, &Options::default());
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(r.search, Search::Polluter);
    assert_eq!(r.culprits, [polluter]);
    assert_eq!(r.candidates, 30);
    assert!(
        r.search_runs <= polluter::run_bound(30),
        "{} runs > {}",
        r.search_runs,
        r.run_bound
    );
    assert_eq!(r.run_bound, 13);
    // No cleaner among the 29 others: two group runs tell (they do not clean after the
    // polluter, and on their own they do not pollute, so no cleaner hides behind a second
    // polluter).
    assert!(r.cleaners.is_empty() && r.cleaners_complete);
    assert_eq!((r.cleaner_pool, r.cleaner_runs), (29, 2));
    assert_eq!(r.alone.passed, 1);
    assert!(!r.noisy && !r.confirmed && r.confidence == 1.0);
    // The reproduction runs the polluter then the victim, which fails.
    assert_eq!(r.reproductions.len(), 1);
    let repro = &r.reproductions[0];
    assert_eq!(repro.tests, [polluter, victim]);
    assert!(!repro.victim_passes);
    let (ok, out) = sh(&repro.command);
    assert!(
        !ok && out.contains("1 failed, 1 passed"),
        "{}\n{out}",
        repro.command
    );
}

#[test]
fn one_polluter_among_thirty_second() {
    one_of_thirty(
        "test_victims.py::test_victim_a",
        "test_alpha.py::test_enable_a",
    );
}

#[test]
fn one_polluter_among_thirty_eighteenth_in_a_class() {
    one_of_thirty(
        "test_victims.py::test_victim_b",
        "test_delta.py::TestGamma::test_enable_b",
    );
}

#[test]
fn one_polluter_among_thirty_last() {
    one_of_thirty(
        "test_victims.py::test_victim_c",
        "test_omega.py::test_enable_c",
    );
}

#[test]
fn not_reproduced_without_the_polluter() {
    let Some(p) = Project::new("single") else {
        return;
    };
    let candidates = p.before("test_victims.py::test_victim_a", &["test_enable_a"]);
    let r = p.find(
        "test_victims.py::test_victim_a",
        &candidates,
        &Options::default(),
    );
    assert_eq!(r.verdict, Verdict::NotReproduced);
    assert_eq!(r.runs, 2);
    assert!(r.culprits.is_empty() && r.reproductions.is_empty());
    assert!(r.summary.contains("not reproducible"), "{}", r.summary);
}

#[test]
fn polluter_in_the_victims_own_module() {
    let Some(p) = Project::new("sibling") else {
        return;
    };
    let victim = "test_cache.py::test_lookup_miss";
    let r = p.find(victim, &p.before(victim, &[]), &Options::default());
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(r.culprits, ["test_cache.py::test_warm_cache"]);
    assert!(r.search_runs <= r.run_bound);
}

#[test]
fn pollution_of_a_module_scoped_fixture() {
    let Some(p) = Project::new("scoped") else {
        return;
    };
    let victim = "test_settings.py::test_retries_default";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 12);
    let r = p.find(victim, &candidates, &Options::default());
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(r.culprits, ["test_settings.py::test_bump_retries"]);
    assert!(r.search_runs <= r.run_bound);
    // Tests of another module "clean up": leaving the module tears its fixture down.
    assert!(
        r.cleaners.iter().all(|c| c.starts_with("test_aa.py::")),
        "{r:#?}"
    );
    assert!(!r.cleaners.is_empty());
    assert!(
        r.notes.iter().any(|n| n.contains("module scope")),
        "{:?}",
        r.notes
    );
    // The state lives in the module's fixture: another module in between resets it, so the
    // victim passes after the polluter then a test of another module.
    let (ok, out) = sh(&format!(
        "cd '{}' && '{}' -m pytest -q -p no:cacheprovider \
         test_settings.py::test_bump_retries test_aa.py::test_aa_0 {victim}",
        p.dir.path().display(),
        python().unwrap().display()
    ));
    assert!(ok, "{out}");
}

#[test]
fn class_attribute_pollution_needs_two_tests_of_the_class() {
    let Some(p) = Project::new("scoped") else {
        return;
    };
    let victim = "test_zz_mode.py::test_default_mode";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 14);
    let r = p.find(victim, &candidates, &Options::default());
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(
        r.culprits,
        [
            "test_pipeline.py::TestPipeline::test_add_stage",
            "test_pipeline.py::TestPipeline::test_build"
        ]
    );
    // The class was kept whole as long as other modules were in the experiment: every
    // experiment with a test of another module ran the class's four tests or none of them.
    let positions_of = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, t)| pred(&t.id))
            .map(|(i, _)| i + 1)
            .collect()
    };
    let class = positions_of(&|id| id.contains("::TestPipeline::"));
    let others = positions_of(&|id| !id.starts_with("test_pipeline.py::"));
    assert_eq!(class.len(), 4);
    let mut mixed = 0;
    for step in r.steps.iter().filter(|s| s.positions.is_some()) {
        let pos = step.positions.as_deref().unwrap();
        let has = |i: &usize| {
            pos.split(", ").any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                (a.parse::<usize>().unwrap()..=b.parse().unwrap()).contains(i)
            })
        };
        if others.iter().any(has) {
            let inside = class.iter().filter(|i| has(i)).count();
            assert!(inside == 0 || inside == class.len(), "{step:?}");
            mixed += 1;
        }
    }
    assert!(mixed >= 2, "{:#?}", r.steps);
    assert!(r.steps.iter().any(|s| s.purpose == Purpose::Interference));
}

#[test]
fn two_polluters_needed_together() {
    let Some(p) = Project::new("pair") else {
        return;
    };
    let victim = "test_z_victim.py::test_mode_normal";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 12);
    let r = p.find(victim, &candidates, &Options::default());
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(
        r.culprits,
        [
            "test_a_flags.py::test_turn_on_feature",
            "test_m_apply.py::test_apply_feature"
        ]
    );
    assert!(r.summary.contains("2 polluters"), "{}", r.summary);
    assert_eq!(r.reproductions[0].tests.len(), 3);
}

#[test]
fn cleaners_before_the_polluter_and_later_in_the_suite() {
    let Some(p) = Project::new("cleaner") else {
        return;
    };
    let victim = "test_c_victim.py::test_production_mode";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 7);
    let opts = Options {
        suite: p.tests.clone(),
        ..Options::default()
    };
    let r = p.find(victim, &candidates, &opts);
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(r.culprits, ["test_b_debug.py::test_set_debug_mode"]);
    assert_eq!(
        r.cleaners,
        [
            "test_a_env.py::test_reset_env_early",
            "test_d_later.py::test_restore_environment"
        ]
    );
    assert!(r.cleaners_complete);
    assert_eq!(r.cleaner_pool, 10);
    // Group-tested: no more runs than two per test (a group that does not clean is also run
    // on its own, to rule out a second polluter hiding a cleaner).
    assert!(r.cleaner_runs <= 2 * 10, "{}", r.cleaner_runs);
    assert_eq!(r.reproductions.len(), 2);
    let clean = &r.reproductions[1];
    assert!(clean.victim_passes);
    assert_eq!(
        clean.tests,
        [
            "test_b_debug.py::test_set_debug_mode",
            "test_a_env.py::test_reset_env_early",
            victim
        ]
    );
    // The last reproduction's command is still runnable (its scratch files are current).
    let (ok, out) = sh(&clean.command);
    assert!(ok && out.contains("3 passed"), "{}\n{out}", clean.command);
}

#[test]
fn brittle_victim_and_its_state_setter() {
    let Some(p) = Project::new("brittle") else {
        return;
    };
    let victim = "test_d_query.py::test_query_users";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 8);
    let r = p.find(victim, &candidates, &Options::default());
    assert_eq!(r.search, Search::StateSetter, "{r:#?}");
    assert_eq!(r.verdict, Verdict::Found);
    assert_eq!(r.culprits, ["test_b_db.py::test_connect"]);
    assert_eq!((r.alone.runs, r.alone.failed), (3, 3));
    assert_eq!(r.reproductions.len(), 2);
    assert!(!r.reproductions[0].victim_passes && r.reproductions[1].victim_passes);
    // Alone: `votes` runs to call it brittle, then the same bound.
    assert!(r.search_runs <= r.run_bound + 2);
}

fn noisy(opts: &Options, counter_start: Option<u32>) -> Option<Report> {
    let p = Project::new("noisy")?;
    if let Some(c) = counter_start {
        std::fs::write(p.dir.path().join(".noise-counter"), c.to_string()).unwrap();
    }
    let victim = "test_victim.py::test_flaky_victim";
    let candidates = p.before(victim, &[]);
    assert_eq!(candidates.len(), 20);
    let r = p.find(victim, &candidates, opts);
    assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
    assert_eq!(r.culprits, ["test_b.py::test_pollute"], "{r:#?}");
    assert!(r.confirmed);
    Some(r)
}

#[test]
fn noisy_victim_confirmed_from_the_start() {
    let opts = Options {
        confirm: true,
        cleaners: false,
        ..Options::default()
    };
    let Some(r) = noisy(&opts, None) else {
        return;
    };
    assert!(
        r.steps.iter().all(|s| s.tally.runs >= 2),
        "every experiment confirmed: {:#?}",
        r.steps
    );
    assert_eq!(r.votes, 3);
    if r.noisy {
        assert!(r.confidence < 1.0 && r.noise_rate > 0.0);
    }
}

#[test]
fn noisy_victim_detected_alone() {
    let opts = Options {
        cleaners: false,
        ..Options::default()
    };
    // The first run alone is the counter's 5th: it fails.
    let Some(r) = noisy(&opts, Some(4)) else {
        return;
    };
    assert!(r.noisy);
    assert_eq!((r.alone.runs, r.alone.passed), (3, 2));
    assert!(r.notes[0].contains("flaky on its own"), "{:?}", r.notes);
    assert!(
        r.noise_rate > 0.0 && r.confidence < 1.0 && r.confidence > 0.5,
        "{r:#?}"
    );
}

#[test]
fn noisy_victim_caught_by_a_contradiction() {
    let opts = Options {
        cleaners: false,
        ..Options::default()
    };
    // Alone (3rd), all candidates (4th), then the first bisection step, the first module
    // (no polluter in it) fails at random (5th): the search goes the wrong way until the
    // final check contradicts it, and starts again confirming every step.
    let Some(r) = noisy(&opts, Some(2)) else {
        return;
    };
    assert!(
        r.notes.iter().any(|n| n.contains("searching again")),
        "{:?}",
        r.notes
    );
}
