//! The project pass: finds the test files, parses them and the project modules they import (in
//! parallel), follows each test through its fixtures, set-up methods and calls, and turns what
//! the rules found into [`Finding`]s that name the tests reaching them.

use crate::config::Config;
use crate::naming::Naming;
use crate::python::{self, Arg, Args, FnFacts, Guard, Hit, ModuleFacts, StateOp, Target};
use crate::rules;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Calls followed from a test (test → helper → module function → …).
pub const MAX_DEPTH: usize = 5;
/// Rounds of import resolution (modules imported by modules imported by tests …).
const IMPORT_ROUNDS: usize = 4;
/// Largest file read: bigger `.py` files are generated, not tests.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// One place a rule found, with the tests that reach it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub category: &'static str,
    pub message: String,
    pub fix: &'static str,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_column: u32,
    /// The source line.
    pub snippet: String,
    /// Test ids (pytest's) that reach this place; empty for code no test reaches.
    pub tests: Vec<String>,
    /// How the first test reaches it: the calls from the test to the function holding it.
    pub via: Vec<String>,
    /// Other places the finding refers to (the test that changes shared state).
    pub related: Vec<Related>,
    /// The weak form of a default rule, shown only with `--pedantic` (or the rule enabled by
    /// name): a test's clock read compared with a value the code computes, a shared-state
    /// reader that pytest's default order runs after every changer. Printed as a note, as a
    /// pedantic rule's finding is; absent from JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pedantic: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Related {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// The result of a scan.
#[derive(Debug, Default, Serialize)]
pub struct Scan {
    pub findings: Vec<Finding>,
    /// Test files scanned, modules followed into, tests found.
    pub files: usize,
    pub modules: usize,
    pub tests: usize,
    /// Files that could not be read or parsed cleanly: (file, reason).
    pub errors: Vec<(String, String)>,
}

impl Scan {
    /// Findings per test id (a finding reached by several tests is listed under each).
    pub fn by_test(&self) -> BTreeMap<&str, Vec<&Finding>> {
        let mut out: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in &self.findings {
            for t in &f.tests {
                out.entry(t.as_str()).or_default().push(f);
            }
        }
        out
    }
}

struct Module {
    path: PathBuf,
    display: String,
    root: usize,
    /// The file relative to its project root (`tests/test_x.py`), for test ids.
    rel: String,
    test_code: bool,
    facts: ModuleFacts,
    src: Arc<[u8]>,
}

fn clean(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    let mut s = s.as_str();
    while let Some(r) = s.strip_prefix("./") {
        s = r;
    }
    s.to_string()
}

/// A module to parse: its path, its root, whether it is test code, the dotted name it was
/// imported by.
type Queued = (PathBuf, usize, bool, Option<String>);

/// Makes the module `found` picks out of the queue test support (test code that pytest does
/// not collect): it was queued in this round as code under test by another import, and holds
/// a base of a test class.
fn make_support(
    pending: &mut [Queued],
    support: &mut HashSet<PathBuf>,
    found: impl Fn(&Queued) -> bool,
) {
    if let Some(q) = pending
        .iter_mut()
        .find(|x| found(x) && !crate::is_test_file(&x.0))
    {
        support.insert(q.0.clone());
        q.2 = true;
    }
}

/// The project root of a file: the nearest directory up with a Python project marker.
fn find_root(dir: &Path, cache: &mut HashMap<PathBuf, PathBuf>) -> PathBuf {
    if let Some(r) = cache.get(dir) {
        return r.clone();
    }
    let markers = [
        "pytest.ini",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        "setup.py",
    ];
    let mut found = None;
    for (i, a) in dir.ancestors().enumerate() {
        if i > 8 {
            break;
        }
        let d = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        if markers.iter().any(|m| d.join(m).is_file()) {
            found = Some(a.to_path_buf());
            break;
        }
    }
    let root = found.unwrap_or_else(|| dir.to_path_buf());
    cache.insert(dir.to_path_buf(), root.clone());
    root
}

fn rel_to(path: &Path, root: &Path) -> String {
    if root.as_os_str().is_empty() || root == Path::new(".") {
        return clean(path);
    }
    path.strip_prefix(root).map_or_else(|_| clean(path), clean)
}

fn dotted_name(rel: &str) -> String {
    let s = rel.strip_suffix(".py").unwrap_or(rel);
    let s = s.strip_suffix("/__init__").unwrap_or(s);
    s.replace('/', ".")
}

fn load(
    path: &Path,
    name: &str,
    test_code: bool,
    naming: &Naming,
) -> Result<(ModuleFacts, Arc<[u8]>), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{} bytes, too big to be a test file; skipped",
            meta.len()
        ));
    }
    let src: Arc<[u8]> = std::fs::read(path).map_err(|e| e.to_string())?.into();
    let facts = python::analyse_with(&src, name, test_code, naming)?;
    Ok((facts, src))
}

/// Scans the Python test files under `paths`. With `only`, reports only findings reached by
/// those test ids (`lint --flaky`), after following every test (state shared between tests
/// needs them all).
pub fn scan(paths: &[PathBuf], config: &Config, only: Option<&HashSet<String>>) -> Scan {
    let mut scan = Scan::default();
    let timing = std::env::var_os("FLAKEHOUND_LINT_TIMING").is_some();
    let t0 = std::time::Instant::now();
    let lap = |what: &str| {
        if timing {
            eprintln!("lint timing: {what} at {:.3} s", t0.elapsed().as_secs_f64());
        }
    };
    // 1. Test files: by name, or as the project's pytest settings name them.
    let mut root_cache = HashMap::new();
    let mut namings: HashMap<PathBuf, Naming> = HashMap::new();
    // Whether pytest collects a Python file by its name, and whether it skips the file's
    // directory (its `norecursedirs`) when recursing from `walked`, the path given.
    let mut pytest_file = |path: &Path, walked: &Path| -> (bool, bool) {
        if path.extension().is_none_or(|e| e != "py") {
            return (false, false);
        }
        let root = find_root(path.parent().unwrap_or(Path::new("")), &mut root_cache);
        let rel = rel_to(path, &root);
        let naming = namings.entry(root).or_insert_with_key(|r| Naming::read(r));
        let below = path.strip_prefix(walked).unwrap_or(path);
        let skipped = below.parent().is_some_and(|d| {
            d.iter()
                .any(|c| c.to_str().is_some_and(|c| naming.skips_dir(c)))
        });
        (naming.is_test_file(&rel), skipped)
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut go_files: Vec<PathBuf> = Vec::new();
    let mut other_files: Vec<(PathBuf, Lang)> = Vec::new();
    for p in paths {
        if p.is_file() {
            if crate::is_go_test_file(p) {
                go_files.push(p.clone());
            } else if let Some(lang) = Lang::of(p) {
                other_files.push((p.clone(), lang));
            } else {
                files.push(p.clone());
            }
            continue;
        }
        if !p.exists() {
            scan.errors
                .push((clean(p), "no such file or directory".into()));
            continue;
        }
        // Skipped directories: pytest's default `norecursedirs` (`build`, `dist`, `*.egg`,
        // `venv`, `_darcs`, `CVS`, `{arch}`, hidden ones: a `pip install .` leaves a copy of
        // the tests under `build/lib`), and other tools' caches and environments.
        let walker = ignore::WalkBuilder::new(p)
            .filter_entry(|e| {
                let dir = e.file_type().is_some_and(|t| t.is_dir());
                let name = e.file_name().to_str();
                !(matches!(
                    name,
                    Some(
                        "node_modules"
                            | "venv"
                            | "site-packages"
                            | "__pycache__"
                            | ".git"
                            | ".tox"
                            | ".nox"
                            | ".venv"
                            | "target"
                    )
                ) || dir
                    && e.depth() > 0
                    && (matches!(name, Some("build" | "dist" | "_darcs" | "CVS" | "{arch}"))
                        || name.is_some_and(|n| n.ends_with(".egg"))))
            })
            .build();
        for entry in walker.flatten() {
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let go = crate::is_go_test_file(path);
            let other = if go { None } else { Lang::of(path) };
            if !go && other.is_none() {
                let (collects, skipped) = pytest_file(path, p);
                if skipped || !(collects || crate::is_test_file(path)) {
                    continue;
                }
            }
            let rel = path.strip_prefix(p).unwrap_or(path);
            if config.excluded(rel) {
                continue;
            }
            if let Some(lang) = other {
                other_files.push((path.to_path_buf(), lang));
            } else if go {
                go_files.push(path.to_path_buf());
            } else {
                files.push(path.to_path_buf());
            }
        }
    }
    files.sort();
    files.dedup();

    lap("walked");
    // 2. Roots, and the conftest files above each test file.
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut root_of = |dir: &Path, roots: &mut Vec<PathBuf>| -> usize {
        let r = find_root(dir, &mut root_cache);
        match roots.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                roots.push(r);
                roots.len() - 1
            }
        }
    };
    let mut wanted: Vec<(PathBuf, usize, bool)> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for f in &files {
        let dir = f.parent().unwrap_or(Path::new(""));
        let r = root_of(dir, &mut roots);
        if seen.insert(f.clone()) {
            wanted.push((f.clone(), r, true));
        }
        for a in dir.ancestors().skip(1) {
            let conftest = a.join("conftest.py");
            if conftest.is_file() && seen.insert(conftest.clone()) {
                wanted.push((conftest, r, true));
            }
            if a == roots[r].as_path() || a.as_os_str().is_empty() {
                break;
            }
        }
    }
    scan.files = files.len();

    // 3. Parse in rounds: test files, then the project modules they import.
    let mut modules: Vec<Module> = Vec::new();
    let mut by_name: HashMap<(usize, String), usize> = HashMap::new();
    let mut exists_cache: HashMap<PathBuf, bool> = HashMap::new();
    let namings: Vec<Naming> = roots
        .iter()
        .map(|r| namings.remove(r).unwrap_or_else(|| Naming::read(r)))
        .collect();
    let mut support: HashSet<PathBuf> = HashSet::new();
    let mut pending: Vec<Queued> = wanted
        .into_iter()
        .map(|(p, r, t)| (p, r, t, None))
        .collect();
    for round in 0..=IMPORT_ROUNDS {
        if pending.is_empty() {
            break;
        }
        let batch = std::mem::take(&mut pending);
        let parsed: Vec<_> = batch
            .par_iter()
            .map(|(path, root, test_code, name)| {
                let rel = rel_to(path, &roots[*root]);
                let name = name.clone().unwrap_or_else(|| dotted_name(&rel));
                let naming = namings[*root].module(&rel);
                (load(path, &name, *test_code, naming), rel, name)
            })
            .collect();
        for ((path, root, test_code, _), (result, rel, name)) in batch.into_iter().zip(parsed) {
            match result {
                Ok((mut facts, src)) => {
                    // Test support (the module of a test class's base, not a test file):
                    // pytest collects nothing from it itself.
                    if test_code && support.contains(&path) {
                        facts.tests.clear();
                    }
                    if let Some(line) = facts.syntax_error {
                        scan.errors.push((
                            clean(&path),
                            format!("syntax error near line {line}; scanned what parsed"),
                        ));
                    }
                    by_name.entry((root, name)).or_insert(modules.len());
                    modules.push(Module {
                        display: clean(&path),
                        path,
                        root,
                        rel,
                        test_code,
                        facts,
                        src,
                    });
                }
                Err(e) => scan.errors.push((clean(&path), e)),
            }
        }
        if round == IMPORT_ROUNDS || modules.len() > 20_000 {
            break;
        }
        // Imports of the modules parsed so far that are files of the project.
        let mut asked: HashSet<(usize, String)> = HashSet::new();
        for m in &modules {
            // What a test class of this module inherits from, itself or through classes of
            // this module: test code wherever it is. Not the base of a helper class
            // (waitress's `class BaseServer(asyncore.dispatcher)` in its tests subclasses the
            // package's own dispatcher, which stays code under test).
            let class_bases: HashSet<&str> = if m.test_code {
                let mut lineage: Vec<&str> =
                    m.facts.test_classes.keys().map(String::as_str).collect();
                let mut on: HashSet<&str> = lineage.iter().copied().collect();
                while let Some(c) = lineage.pop() {
                    for b in m.facts.class_bases.get(c).into_iter().flatten() {
                        if on.insert(b.as_str()) {
                            lineage.push(b.as_str());
                        }
                    }
                }
                on.iter()
                    .filter_map(|c| m.facts.foreign_bases.get(*c))
                    .flatten()
                    .filter_map(|t| match t {
                        Target::Qualified(q) => Some(q.as_str()),
                        Target::Local(_) => None,
                    })
                    .collect()
            } else {
                HashSet::new()
            };
            // In a fixed order: which import of a module comes first decides nothing now, but
            // the aliases and the queue stay the same from run to run.
            let mut imported: Vec<&String> = m.facts.imports.values().collect();
            imported.sort_unstable();
            imported.dedup();
            // Whether the module `dotted` holds a base of a test class of `m`: decided by the
            // module, not by the import that led to it (`from waitress import wasyncore` and a
            // base `wasyncore.dispatcher` reach one file; which import the hash order met first
            // once decided whether it was test support, so a scan could differ from the last).
            // The base must be a class of that very module (`pkg.testing.TestCase` is held by
            // `pkg.testing`, not by `pkg`), and test code by its name or its module's
            // (humanfriendly's `testing.TestCase`, a `…TestSuite`, a `CommonTestMixin`, a
            // `SuiteBase` in `testing.py`): a test-named helper subclassing a class of the
            // package (huey's `class TestConsumer(Consumer)`) leaves that module code under
            // test.
            let holds = |dotted: &str| {
                let module = dotted.rsplit('.').next().unwrap_or(dotted);
                let test_module = module.starts_with("test")
                    || module.ends_with("test")
                    || module.ends_with("tests");
                class_bases.iter().any(|b| {
                    b.strip_prefix(dotted)
                        .and_then(|r| r.strip_prefix('.'))
                        .is_some_and(|class| {
                            !class.contains('.') && (test_module || class.contains("Test"))
                        })
                })
            };
            for q in imported {
                let parts: Vec<&str> = q.split('.').collect();
                for n in (1..=parts.len()).rev() {
                    let dotted = parts[..n].join(".");
                    if by_name.contains_key(&(m.root, dotted.clone())) {
                        break;
                    }
                    if !asked.insert((m.root, dotted.clone())) {
                        if holds(&dotted) {
                            make_support(&mut pending, &mut support, |x| {
                                x.1 == m.root && x.3.as_deref() == Some(dotted.as_str())
                            });
                        }
                        break;
                    }
                    let rel = dotted.replace('.', "/");
                    let root = &roots[m.root];
                    let dir = m.path.parent().unwrap_or(Path::new(""));
                    let mut bases: Vec<PathBuf> = vec![root.clone(), root.join("src")];
                    for a in dir.ancestors() {
                        if a == root.as_path() || a.as_os_str().is_empty() {
                            break;
                        }
                        bases.push(a.to_path_buf());
                    }
                    let mut hit = None;
                    for b in &bases {
                        for cand in [
                            b.join(format!("{rel}.py")),
                            b.join(&rel).join("__init__.py"),
                        ] {
                            let ok = *exists_cache
                                .entry(cand.clone())
                                .or_insert_with(|| cand.is_file());
                            if ok {
                                hit = Some(cand);
                                break;
                            }
                        }
                        if hit.is_some() {
                            break;
                        }
                    }
                    if let Some(path) = hit {
                        let holds_base = holds(&dotted);
                        if !seen.insert(path.clone()) {
                            if holds_base {
                                make_support(&mut pending, &mut support, |x| x.0 == path);
                            }
                            // Loaded under another name: alias it.
                            if let Some(i) = modules.iter().position(|x| x.path == path) {
                                by_name.insert((m.root, dotted), i);
                            }
                            break;
                        }
                        let mut test_code = crate::is_test_file(&path);
                        if holds_base && !test_code {
                            support.insert(path.clone());
                            test_code = true;
                        }
                        pending.push((path, m.root, test_code, Some(dotted)));
                        break;
                    }
                }
            }
        }
    }
    scan.modules = modules.len().saturating_sub(files.len());
    lap("parsed");

    // 4. Follow every test.
    let conftests: Vec<usize> = modules
        .iter()
        .enumerate()
        .filter(|(_, m)| m.rel.ends_with("conftest.py"))
        .map(|(i, _)| i)
        .collect();
    let world = World {
        modules: &modules,
        by_name: &by_name,
        conftests: &conftests,
    };
    let file_set: HashSet<&PathBuf> = files.iter().collect();
    // A file of test code that pytest's naming does not collect and whose test classes test
    // classes of other modules inherit (Beaker's `tests/test_managers/base.py`, which
    // `test_ext_redis.py` imports for `CacheManagerBaseTests`) holds bases: its classes run
    // only as those subclasses. (One nobody inherits from, humanfriendly's `tests.py`, is
    // still taken for a test file: the suite may name it on the command line.)
    let base_holders: HashSet<&PathBuf> = modules
        .iter()
        .enumerate()
        .filter(|(_, m)| m.test_code)
        .flat_map(|(i, m)| {
            let world = &world;
            m.facts.test_classes.keys().flat_map(move |qual| {
                world
                    .lineage(i, qual)
                    .into_iter()
                    .map(|(cm, _)| cm)
                    .filter(move |cm| *cm != i)
            })
        })
        .filter(|cm| !namings[modules[*cm].root].is_test_file(&modules[*cm].rel))
        .map(|cm| &modules[cm].path)
        .collect();
    let collected = |m: &Module| {
        (file_set.contains(&m.path) || (m.test_code && !support.contains(&m.path)))
            && !base_holders.contains(&m.path)
    };
    let inherited: Vec<(usize, python::TestFn)> = modules
        .iter()
        .enumerate()
        .filter(|(_, m)| collected(m))
        .flat_map(|(i, m)| {
            let mut classes: Vec<(&String, &bool)> = m.facts.test_classes.iter().collect();
            classes.sort();
            classes
                .into_iter()
                .flat_map(|(qual, unittest)| {
                    world.foreign_tests(i, qual, *unittest, namings[m.root].module(&m.rel))
                })
                .map(move |t| (i, t))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut tests: Vec<(usize, &python::TestFn)> = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        if collected(m) {
            for t in &m.facts.tests {
                tests.push((i, t));
            }
        }
    }
    tests.extend(inherited.iter().map(|(i, t)| (*i, t)));
    scan.tests = tests.len();
    let reached: Vec<Reached> = tests
        .par_iter()
        .map(|(mi, t)| world.follow(*mi, t, config))
        .collect();

    lap("followed");
    // 5. Findings, one per place, listing the tests.
    let mut places: BTreeMap<(usize, u32, u32, &'static str), Finding> = BTreeMap::new();
    let mut reached_fns: HashSet<(usize, String)> = HashSet::new();
    for r in &reached {
        reached_fns.extend(r.fns.iter().cloned());
        if only.is_some_and(|o| !o.contains(&r.test)) {
            continue;
        }
        for (mi, hit, via) in &r.hits {
            let f = places
                .entry((*mi, hit.line, hit.col, hit.rule.id))
                .or_insert_with(|| world.finding(*mi, hit, via));
            // A place one test reaches in the weaker form and another in the full one is
            // reported in the full form (with `--pedantic`, which lists both tests).
            if f.pedantic && !hit.pedantic {
                let tests = std::mem::take(&mut f.tests);
                *f = world.finding(*mi, hit, via);
                f.tests = tests;
            }
            f.tests.push(r.test.clone());
        }
    }
    // Shared module state between tests.
    state_findings(&world, &reached, only, &mut places, config);
    // What the rules found in test files that no test reaches (helpers, unused fixtures).
    if only.is_none() {
        for (mi, m) in modules.iter().enumerate() {
            if !m.test_code {
                continue;
            }
            for (key, f) in &m.facts.functions {
                if reached_fns.contains(&(mi, key.clone())) {
                    continue;
                }
                // Under a fake clock of its own (a method of a `@freeze_time` class): as when
                // a test reaches it.
                let frozen = frozen_by_decorator(f);
                for hit in &f.hits {
                    if !config.enabled(hit.rule.id)
                        || (hit.pedantic && !config.weak_enabled(hit.rule.id))
                        || hit.rule.id == rules::RETRY_MARKER.id
                        || (frozen && is_clock_hit(hit))
                    {
                        continue;
                    }
                    places
                        .entry((mi, hit.line, hit.col, hit.rule.id))
                        .or_insert_with(|| world.finding(mi, hit, &[]));
                }
            }
            for hit in &m.facts.loose {
                if config.enabled(hit.rule.id)
                    && (!hit.pedantic || config.weak_enabled(hit.rule.id))
                {
                    places
                        .entry((mi, hit.line, hit.col, hit.rule.id))
                        .or_insert_with(|| world.finding(mi, hit, &[]));
                }
            }
        }
    }
    let mut findings: Vec<Finding> = places.into_values().collect();
    findings.extend(go_findings(&go_files, config, only, &mut scan));
    other_files.sort();
    other_files.dedup();
    findings.extend(lang_findings(&other_files, config, only, &mut scan));
    findings.sort_by(|a, b| {
        (a.file.as_str(), a.line, a.column, a.rule).cmp(&(
            b.file.as_str(),
            b.line,
            b.column,
            b.rule,
        ))
    });
    for f in &mut findings {
        f.tests.sort();
        f.tests.dedup();
    }
    scan.findings = findings;
    scan.errors.sort();
    lap("findings");
    scan
}

struct World<'a> {
    modules: &'a [Module],
    by_name: &'a HashMap<(usize, String), usize>,
    /// The conftest.py modules.
    conftests: &'a [usize],
}

/// What one test reaches.
struct Reached {
    test: String,
    test_module: usize,
    hits: Vec<(usize, Hit, Vec<String>)>,
    /// (module, function, fact, whether it is a cache write).
    state: Vec<(usize, String, python::StateFact, bool)>,
    fns: Vec<(usize, String)>,
    /// Calls made to each function reached (a setter called twice: set, then set back).
    edges: HashMap<(usize, String), usize>,
    /// Where pytest runs it by default within its file (the file is `test_module`'s).
    order: InFile,
}

/// A test's place in its file's default order: its line, or its name among the methods of a
/// `unittest.TestCase` class (which unittest sorts by name).
struct InFile {
    line: u32,
    unittest_class: Option<String>,
    method: String,
}

impl World<'_> {
    /// Whether pytest's default order runs `a` before `b`: files by path, each directory's
    /// entries sorted by name (pytest 8); in a file, definition order, except a
    /// `unittest.TestCase`'s methods, run sorted by name.
    fn runs_before(&self, a: &Reached, b: &Reached) -> bool {
        let (fa, fb) = (
            &self.modules[a.test_module].rel,
            &self.modules[b.test_module].rel,
        );
        if fa != fb {
            return fa.split('/').lt(fb.split('/'));
        }
        let (a, b) = (&a.order, &b.order);
        match (&a.unittest_class, &b.unittest_class) {
            (Some(x), Some(y)) if x == y => a.method < b.method,
            _ => a.line < b.line,
        }
    }
}

/// A function to visit: module, function, depth, the calls that led there, the call that led
/// there, whether an exception is expected where it was called, and what of the value it
/// returns its caller uses ([`DRAWS`], [`ORDER`]; see `FnFacts::returns_draw`).
type Step = (usize, String, usize, Vec<String>, Option<Args>, bool, u8);

/// The draws a function returns are used by its caller.
const DRAWS: u8 = 1;
/// The order of the set it returns as a sequence is used by its caller.
const ORDER: u8 = 2;
/// The test compares the value only with values the code under test computes: what is
/// returned is reported as the weaker form (`FnFacts::compared_calls`).
const WEAK: u8 = 4;

/// The order of the set it returns is used by the code under test itself (iterated, stored,
/// passed on), not compared by a test: `set-iteration-order`'s pedantic form ([`INNER_ORDER`]).
const INNER: u8 = 8;

/// Why an order the code under test uses itself is the pedantic form (the detail it adds).
/// Measured: of the rule's findings on real projects' code under test over seventeen rounds
/// (network interfaces bound in a loop, names listed in a usage message, keys iterated), none
/// was on a flaky test; the order that made tests flake reached an assertion through what the
/// code returned (flaky-shop's badges).
pub(crate) const INNER_ORDER: &str =
    ", an order the code under test uses itself (iterates, stores, passes on); no test compares it";

/// Where a call or reference lands.
enum Landing {
    Function(usize, String),
    Global(usize, String),
}

impl Landing {
    /// Whether the target names a class and this is its `__init__` (a constructor call, when
    /// the target is called).
    fn constructs(&self, target: &Target) -> bool {
        let name = match target {
            Target::Local(n) | Target::Qualified(n) => n,
        };
        matches!(self, Landing::Function(_, key)
            if key.ends_with(".__init__") && !name.ends_with("__init__"))
    }
}

/// The HTTP mocking libraries: a call of one anywhere a test reaches
/// mocks its requests (not any `mock`/`patch`, which may patch something else).
const HTTP_MOCKS: &[&str] = &[
    "responses",
    "requests_mock",
    "httpretty",
    "vcr",
    "respx",
    "aioresponses",
    "httpx_mock",
    "httpserver",
];

/// Other names that say a test's HTTP is mocked (fixtures, decorators): with
/// [`HTTP_MOCKS`], the words [`mocks_network`] knows.
const OTHER_MOCKS: &[&str] = &["respx_mock", "mocked_responses", "patch", "mock"];

/// Whether a word (a part of a decorator's, a fixture's or a context manager's name) says the
/// network is mocked.
pub(crate) fn mocks_network(word: &str) -> bool {
    HTTP_MOCKS.contains(&word) || OTHER_MOCKS.contains(&word)
}
/// Whether a dotted name has one of these words as a part (`freezegun.freeze_time`,
/// `mock.patch.object`).
fn names_one_of(name: &str, words: &[&str]) -> bool {
    name.split('.').any(|part| words.contains(&part))
}

const FROZEN_TIME: &[&str] = &[
    "freeze_time",
    "freezegun",
    "time_machine",
    "freezer",
    "frozen_time",
];

impl World<'_> {
    /// Whether a value passed to these arguments of calls made in module `mi` is used in no
    /// way that sees its order, following each callee's parameter ([`python::OrderUse`]);
    /// a callee the scan cannot find may see it.
    fn order_unseen(&self, mi: usize, passes: &[(Target, python::Slot)], depth: usize) -> bool {
        if depth > 6 {
            return false;
        }
        passes.iter().all(|(target, slot)| {
            let Some(Landing::Function(tm, tk)) = self.resolve(mi, target) else {
                return false;
            };
            let Some(f) = self.modules[tm].facts.functions.get(&tk) else {
                return false;
            };
            let offset = usize::from(
                tk.contains('.') && f.params.first().is_some_and(|s| s == "self" || s == "cls"),
            );
            let index = match slot {
                python::Slot::Pos(i) => Some(i + offset),
                python::Slot::Kw(name) => f.params.iter().position(|p| p == name),
            };
            match index.and_then(|i| f.param_order.get(i)) {
                Some(Some(sub)) => self.order_unseen(tm, sub, depth + 1),
                _ => false,
            }
        })
    }

    /// The class a base names (`fixtures.SuiteBase`, imported): its module and name.
    fn class_of(&self, mi: usize, target: &Target) -> Option<(usize, String)> {
        let Target::Qualified(q) = target else {
            return None;
        };
        let root = self.modules[mi].root;
        let (module, class) = q.rsplit_once('.')?;
        let &t = self.by_name.get(&(root, module.to_string()))?;
        self.modules[t]
            .facts
            .classes
            .contains(class)
            .then(|| (t, class.to_string()))
    }

    /// Class `qual` of module `mi` and the classes it derives from, of its module and of the
    /// modules the scan parsed, breadth-first (Python's method resolution order for the usual
    /// single and mixin inheritance; at most 32 classes).
    fn lineage(&self, mi: usize, qual: &str) -> Vec<(usize, String)> {
        let mut classes: Vec<(usize, String)> = vec![(mi, qual.to_string())];
        let mut i = 0;
        while i < classes.len() && classes.len() < 32 {
            let (cm, c) = classes[i].clone();
            let f = &self.modules[cm].facts;
            let mut next: Vec<(usize, String)> = f
                .class_bases
                .get(&c)
                .into_iter()
                .flatten()
                .map(|b| (cm, b.clone()))
                .collect();
            next.extend(
                f.foreign_bases
                    .get(&c)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| self.class_of(cm, t)),
            );
            for n in next {
                if !classes.contains(&n) {
                    classes.push(n);
                }
            }
            i += 1;
        }
        classes
    }

    /// Method `method` as class `qual` of module `mi` has it: its own, else the first base's
    /// that defines it; with `skip_own`, from the bases only (`super().method()`).
    fn method_of(&self, mi: usize, qual: &str, method: &str, skip_own: bool) -> Option<Landing> {
        let classes = self.lineage(mi, qual);
        self.method_in(&classes[usize::from(skip_own).min(classes.len())..], method)
    }

    /// The first of `classes` (a [`Self::lineage`]) that defines `method`, and its key.
    fn method_in(&self, classes: &[(usize, String)], method: &str) -> Option<Landing> {
        classes.iter().find_map(|(cm, c)| {
            let key = format!("{c}.{method}");
            self.modules[*cm]
                .facts
                .functions
                .contains_key(&key)
                .then_some(Landing::Function(*cm, key))
        })
    }

    /// The test methods test class `qual` of module `mi` inherits from classes of other
    /// modules (dogpile.cache's `RedisTest(_TestRedisConn, _GenericBackendTestSuite)`, its
    /// suite in `dogpile/testing/fixtures.py`): pytest collects them under the derived class.
    /// Bases are searched breadth-first, the class's own methods and those of its own
    /// module's bases (already collected) first; the first definition of a name wins. The
    /// derived class's set-up runs first, else the defining class's.
    fn foreign_tests(
        &self,
        mi: usize,
        qual: &str,
        unittest: bool,
        naming: &Naming,
    ) -> Vec<python::TestFn> {
        let classes = self.lineage(mi, qual);
        if classes.iter().all(|(cm, _)| *cm == mi) {
            return Vec::new();
        }
        let methods = |cm: usize, c: &str| -> Vec<(String, &FnFacts)> {
            let prefix = format!("{c}.");
            let mut v: Vec<(String, &FnFacts)> = self.modules[cm]
                .facts
                .functions
                .iter()
                .filter_map(|(k, f)| {
                    k.strip_prefix(&prefix)
                        .filter(|rest| !rest.contains('.'))
                        .map(|rest| (rest.to_string(), f))
                })
                .collect();
            v.sort_by_key(|(_, f)| f.line);
            v
        };
        let mut taken: HashSet<String> = HashSet::new();
        for (cm, c) in classes.iter().filter(|(cm, _)| *cm == mi) {
            taken.extend(methods(*cm, c).into_iter().map(|(n, _)| n));
        }
        let own_setup = python::class_around(&self.modules[mi].facts, qual);
        let mut out = Vec::new();
        for (cm, c) in classes.iter().filter(|(cm, _)| *cm != mi) {
            for (method, f) in methods(*cm, c) {
                let is_test = if unittest {
                    method.starts_with("test")
                } else {
                    naming.is_test_function(&method)
                };
                if !is_test || f.is_fixture || !taken.insert(method.clone()) {
                    continue;
                }
                let setup = if own_setup.is_empty() {
                    python::class_around(&self.modules[*cm].facts, c)
                } else {
                    own_setup.clone()
                };
                out.push(python::TestFn {
                    name: format!("{qual}::{method}"),
                    key: format!("{c}.{method}"),
                    setup,
                    module: Some(*cm),
                });
            }
        }
        out
    }

    fn resolve(&self, mi: usize, target: &Target) -> Option<Landing> {
        let m = &self.modules[mi];
        match target {
            Target::Local(name) => self.local(mi, name),
            Target::Qualified(q) => {
                let mut cut = q.len();
                while let Some(dot) = q[..cut].rfind('.') {
                    let (module, rest) = (&q[..dot], &q[dot + 1..]);
                    if let Some(&t) = self.by_name.get(&(m.root, module.to_string())) {
                        return self.local(t, rest);
                    }
                    cut = dot;
                }
                None
            }
        }
    }

    fn local(&self, mi: usize, name: &str) -> Option<Landing> {
        let f = &self.modules[mi].facts;
        if f.functions.contains_key(name) {
            return Some(Landing::Function(mi, name.to_string()));
        }
        // A class constructed: its `__init__`, or the one it inherits.
        if f.classes.contains(name) {
            return self.method_of(mi, name, "__init__", false);
        }
        if f.globals.contains_key(name) {
            return Some(Landing::Global(mi, name.to_string()));
        }
        // `self.method()` on a method a base defines; `super().method()` (the target
        // `Class.super().method`): the bases' only.
        let (class, method) = name.rsplit_once('.')?;
        match class.strip_suffix(".super()") {
            Some(class) if f.classes.contains(class) => self.method_of(mi, class, method, true),
            None if f.classes.contains(class) => self.method_of(mi, class, method, false),
            _ => None,
        }
    }

    /// Fixture functions a test's parameters name: in its module, else in conftest files.
    fn fixtures(&self, mi: usize, params: &[String]) -> Vec<(usize, String)> {
        let m = &self.modules[mi];
        let mut out = Vec::new();
        for p in params {
            if m.facts.fixtures.contains(p) {
                out.push((mi, p.clone()));
                continue;
            }
            // The nearest conftest defining it.
            let mut best: Option<(usize, usize)> = None;
            for &ci in self.conftests {
                let c = &self.modules[ci];
                if c.root != m.root || !c.facts.fixtures.contains(p) {
                    continue;
                }
                let dir = c.rel.trim_end_matches("conftest.py");
                if m.rel.starts_with(dir) && best.is_none_or(|(_, len)| dir.len() > len) {
                    best = Some((ci, dir.len()));
                }
            }
            if let Some((ci, _)) = best {
                out.push((ci, p.clone()));
            }
        }
        out
    }

    /// Autouse fixtures that apply to a test: of its class, its module, and the conftest files
    /// above it.
    fn autouse(&self, mi: usize, test_key: &str) -> Vec<(usize, String)> {
        let m = &self.modules[mi];
        let class = test_key.rsplit_once('.').map(|(c, _)| c);
        let mut out = Vec::new();
        for k in &m.facts.autouse {
            match k.rsplit_once('.') {
                None => out.push((mi, k.clone())),
                Some((c, _)) if Some(c) == class => out.push((mi, k.clone())),
                _ => {}
            }
        }
        for &ci in self.conftests {
            let c = &self.modules[ci];
            if ci == mi || c.root != m.root {
                continue;
            }
            let dir = c.rel.trim_end_matches("conftest.py");
            if m.rel.starts_with(dir) {
                out.extend(
                    c.facts
                        .autouse
                        .iter()
                        .filter(|k| !k.contains('.'))
                        .map(|k| (ci, k.clone())),
                );
            }
        }
        out
    }

    fn follow(&self, mi: usize, test: &python::TestFn, config: &Config) -> Reached {
        let m = &self.modules[mi];
        let id = format!("{}::{}", m.rel, test.name);
        // The test's function: in its own module, or (inherited) in its base's.
        let fm = test.module.unwrap_or(mi);
        let line = self.modules[fm]
            .facts
            .functions
            .get(&test.key)
            .map_or(u32::MAX, |f| f.line);
        let unittest_class = test.key.rsplit_once('.').and_then(|(class, _)| {
            m.facts
                .test_classes
                .get(class)
                .copied()
                .unwrap_or(false)
                .then(|| class.to_string())
        });
        let method = test.key.rsplit('.').next().unwrap_or_default().to_string();
        let mut out = Reached {
            test: id,
            test_module: mi,
            hits: Vec::new(),
            state: Vec::new(),
            fns: Vec::new(),
            edges: HashMap::new(),
            order: InFile {
                line,
                unittest_class,
                method,
            },
        };
        let Some(facts) = self.modules[fm].facts.functions.get(&test.key) else {
            return out;
        };
        // Each function reached (with the arguments it was reached with, for a function whose
        // findings or calls depend on them), and whether only where an exception is expected so
        // far. A function reached again with other arguments is walked again: what its guards
        // hid the first time may be reached now, whichever path came first.
        type Seen = (usize, String, Option<Args>, u8);
        let mut seen: HashMap<Seen, bool> = HashMap::new();
        let mut walked: HashSet<(usize, String)> = HashSet::new();
        let mut any_repeat = false;
        let mut stack: Vec<Step> = Vec::new();
        stack.push((fm, test.key.clone(), 0, Vec::new(), None, false, 0));
        let mut around: Vec<(usize, String)> = Vec::new();
        for s in &test.setup {
            let sm = if m.facts.functions.contains_key(s) {
                mi
            } else {
                fm
            };
            around.push((sm, s.clone()));
        }
        // The set-up and tear-down methods its class inherits and does not define itself
        // (portpicker's `CommonTestMixin.setUp`, which empties the module's port sets before
        // each test): Python finds each by the class's method resolution order, in its own
        // module or another.
        if let Some((class, _)) = test.name.rsplit_once("::") {
            let classes = self.lineage(mi, &class.replace("::", "."));
            for name in python::SETUP_METHODS.iter().chain(python::TEARDOWN_METHODS) {
                if around
                    .iter()
                    .any(|(_, k)| k.rsplit('.').next() == Some(*name))
                {
                    continue;
                }
                if let Some(Landing::Function(cm, key)) = self.method_in(&classes, name) {
                    around.push((cm, key));
                }
            }
        }
        for (sm, s) in around {
            stack.push((sm, s.clone(), 1, vec![s], None, false, 0));
        }
        // Its parameters, and the fixtures it asks for by name (`usefixtures` on it, its class,
        // or the module's `pytestmark`).
        let asked: Vec<String> = facts
            .params
            .iter()
            .chain(&facts.usefixtures)
            .chain(&m.facts.usefixtures)
            .cloned()
            .collect();
        for (fi, name) in self.fixtures(mi, &asked) {
            let fk = match test.key.rsplit_once('.') {
                Some((class, _))
                    if self.modules[fi]
                        .facts
                        .functions
                        .contains_key(&format!("{class}.{name}")) =>
                {
                    format!("{class}.{name}")
                }
                _ => name.clone(),
            };
            stack.push((fi, fk, 1, vec![format!("fixture {name}")], None, false, 0));
        }
        for (fi, key) in self.autouse(mi, &test.key) {
            let shown = format!("fixture {key}");
            stack.push((fi, key, 1, vec![shown], None, false, 0));
        }
        let mut seeded = m.facts.seeds_random;
        // Each hit with whether it was reached only where an exception is expected.
        let mut hits: Vec<(usize, Hit, Vec<String>, bool)> = Vec::new();
        // Draws the code keeps in an attribute, with its name.
        let mut kept: Vec<(usize, Hit, &str, Vec<String>, bool)> = Vec::new();
        let mut globals_seen: HashSet<(usize, String)> = HashSet::new();
        while let Some((fmi, key, depth, via, edge, failing, used)) = stack.pop() {
            // A function first reached inside `pytest.raises` and now outside it is walked
            // again for what only counts outside (its values, its changes, its callees).
            let Some(f) = self.modules[fmi].facts.functions.get(&key) else {
                continue;
            };
            let args_key = if guarded(f) { edge.clone() } else { None };
            // One that returns a draw is walked again when its value turns out to be used.
            let carries = !f.returns_draw.is_empty()
                || !f.returns_order.is_empty()
                || f.calls.iter().any(|c| c.returned);
            let used = if carries { used } else { 0 };
            let seen_key = (fmi, key.clone(), args_key, used);
            let again = match seen.get(&seen_key) {
                Some(&only_failing) if only_failing && !failing => true,
                Some(_) => continue,
                None => false,
            };
            seen.insert(seen_key, failing);
            // Walked before (again, or with other arguments): the function and the calls it
            // makes are counted once.
            let repeat = !walked.insert((fmi, key.clone())) || again;
            any_repeat |= repeat;
            if !repeat {
                out.fns.push((fmi, key.clone()));
            }
            seeded |= f.seeds_random;
            // A fixture's own parameters are the fixtures it depends on (invoke's
            // `integration(reset_environ, …)`): set up before it, torn down after.
            if f.is_fixture && !repeat && depth < MAX_DEPTH {
                for (xi, name) in self.fixtures(fmi, &f.params) {
                    if xi == fmi && name == key {
                        continue;
                    }
                    let mut v = via.clone();
                    v.push(format!("fixture {name}"));
                    stack.push((xi, name, depth + 1, v, None, failing, 0));
                }
            }
            let offset = usize::from(
                key.contains('.') && f.params.first().is_some_and(|s| s == "self" || s == "cls"),
            );
            let unreached = |guard: &Option<Guard>| -> bool {
                guard
                    .as_ref()
                    .is_some_and(|g| !g.reached(edge.as_ref(), offset))
            };
            // A function under a fake clock of its own (`@freeze_time` on it or on its class,
            // whose marks its methods carry): its clock reads are frozen whoever reaches it
            // (freezegun's subclass test reaching its decorated base's `setUpClass`).
            let frozen_here = frozen_by_decorator(f);
            for h in &f.hits {
                if frozen_here && is_clock_hit(h) {
                    continue;
                }
                if !unreached(&h.guard) && (!again || is_value_hit(h)) {
                    hits.push((fmi, h.clone(), via.clone(), failing));
                }
            }
            for (h, attr) in &f.kept_draws {
                if !unreached(&h.guard) && (!again || is_value_hit(h)) {
                    kept.push((fmi, h.clone(), attr.as_str(), via.clone(), failing));
                }
            }
            // The draws it returns, when its caller uses the value.
            let returned = f
                .returns_draw
                .iter()
                .filter(|_| used & DRAWS != 0)
                .map(|h| (h, false))
                .chain(
                    f.returns_order
                        .iter()
                        .filter(|_| used & ORDER != 0)
                        .map(|h| (h, true)),
                );
            for (h, order) in returned.filter(|(h, _)| !unreached(&h.guard)) {
                let mut h = h.clone();
                if used & WEAK != 0 {
                    h.weaken(", compared only with a value the code under test computes");
                } else if order && used & INNER != 0 {
                    h.weaken(INNER_ORDER);
                }
                hits.push((fmi, h, via.clone(), failing));
            }
            // An upper bound on what a call returned, when the callee returns a measured
            // duration there (in seconds, a bound of 5 s or more guards against a hang).
            for b in &f.bounds_on_results {
                if frozen_here || again || unreached(&b.hit.guard) {
                    continue;
                }
                let returns = match self.resolve(fmi, &b.target) {
                    Some(Landing::Function(tm, tk)) => self.modules[tm]
                        .facts
                        .functions
                        .get(&tk)
                        .and_then(|c| c.returns_duration.as_ref()),
                    _ => None,
                };
                let Some(r) = returns.filter(|r| r.item == b.item) else {
                    continue;
                };
                let at_least = |s: f64| r.seconds && b.bound.is_some_and(|x| x >= s);
                if at_least(rules::clock::HANG_GUARD_SECONDS) {
                    continue;
                }
                let mut h = b.hit.clone();
                // The weaker forms, as for a duration the test measures itself.
                let weak = if r.waits {
                    Some(rules::clock::BOUNDS_A_WAIT)
                } else if at_least(rules::clock::GENEROUS_BUDGET_SECONDS) {
                    Some(rules::clock::GENEROUS)
                } else {
                    None
                };
                if let Some(why) = weak.filter(|_| !h.pedantic) {
                    h.weaken(why);
                }
                hits.push((fmi, h, via.clone(), failing));
            }
            // A cache (`_cache[k] = v` next to a read of `_cache`) is not shared state.
            let lib = !self.modules[fmi].test_code;
            for s in &f.state {
                if unreached(&s.guard)
                    || ((failing || f.ends_process) && s.op != StateOp::Read)
                    || (again && s.op == StateOp::Read)
                {
                    continue;
                }
                let cache = lib
                    && s.op
                        == (StateOp::Mutate {
                            accumulating: false,
                        })
                    && f.state
                        .iter()
                        .any(|r| r.op == StateOp::Read && r.key == s.key);
                out.state.push((fmi, key.clone(), s.clone(), cache));
            }
            // Its decorators of the project that wrap it: their wrappers (nested in them, so
            // walked with them) run around it.
            for t in f
                .decorated_by
                .iter()
                .filter(|_| !repeat && depth < MAX_DEPTH)
            {
                if let Some(Landing::Function(tm, tk)) = self.resolve(fmi, t)
                    && self.modules[tm]
                        .facts
                        .functions
                        .get(&tk)
                        .is_some_and(|d| d.defines_fn)
                {
                    let mut v = via.clone();
                    v.push(format!("decorator {}", short(&tk)));
                    stack.push((tm, tk, depth + 1, v, None, failing, 0));
                }
            }
            for call in &f.calls {
                if unreached(&call.guard) {
                    continue;
                }
                match self
                    .resolve(fmi, &call.target)
                    .filter(|l| !(call.reference && l.constructs(&call.target)))
                {
                    Some(Landing::Function(tm, tk)) => {
                        if !repeat {
                            *out.edges.entry((tm, tk.clone())).or_default() += 1;
                        }
                        if depth < MAX_DEPTH {
                            let mut v = via.clone();
                            v.push(short(&tk));
                            // The arguments matter only to a callee with guards (or that
                            // passes them on): most have none.
                            let args = self.modules[tm]
                                .facts
                                .functions
                                .get(&tk)
                                .filter(|callee| guarded(callee))
                                .map(|_| {
                                    call.args.resolved(
                                        edge.as_ref(),
                                        &f.params,
                                        &f.defaults,
                                        offset,
                                    )
                                });
                            stack.push((
                                tm,
                                tk,
                                depth + 1,
                                v,
                                args,
                                // A process's target: its changes and values stay in the
                                // child, as with a call expected to raise.
                                failing || call.expects_error || call.other_process,
                                // What it returns is used: compared by test code with a fixed
                                // value, or used by the code under test (not only returned on).
                                if self.modules[fmi].test_code {
                                    let compared =
                                        f.compared_calls.iter().filter(|c| c.target == call.target);
                                    let strong = compared.clone().any(|c| !c.weak);
                                    compared.fold(0, |m, c| {
                                        m | DRAWS
                                            | if c.ordered { ORDER } else { 0 }
                                            | if strong { 0 } else { WEAK }
                                    })
                                } else if call.returned {
                                    used
                                } else if call
                                    .kept
                                    .as_ref()
                                    .is_some_and(|passes| self.order_unseen(fmi, passes, 0))
                                {
                                    // Kept where no use sees the order (humanfriendly's
                                    // `format_usage` tests its meta variables with `in`).
                                    DRAWS
                                } else {
                                    DRAWS | ORDER | INNER
                                },
                            ));
                        }
                    }
                    Some(Landing::Global(gm, name)) => {
                        if globals_seen.insert((gm, name.clone()))
                            && let Some(g) = self.modules[gm].facts.globals.get(&name)
                        {
                            let mut v = via.clone();
                            v.push(name.clone());
                            for h in &g.hits {
                                hits.push((gm, h.clone(), v.clone(), false));
                            }
                            // A global's value may call functions (`X = make()`); not followed.
                        }
                    }
                    None => {}
                }
            }
        }
        // What the test's set-up says about itself.
        let marks: Vec<String> = facts
            .decorators
            .iter()
            .chain(facts.params.iter())
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let has = |words: &[&str]| marks.iter().any(|m| names_one_of(m, words));
        // Mocked by a decorator or fixture, or by an HTTP mock anywhere it reaches (`with
        // requests_mock.Mocker() as m: self._do_test(m)`, whose helper makes the requests).
        // Whether a function the test reaches calls something named with one of these words.
        let reaches = |what: &dyn Fn(&FnFacts) -> bool| {
            out.fns
                .iter()
                .any(|(fm, fk)| self.modules[*fm].facts.functions.get(fk).is_some_and(what))
        };
        // The facts of the test code it reaches (the test, its set-up, fixtures and helpers).
        let test_facts = || {
            out.fns
                .iter()
                .filter(|(fm, _)| self.modules[*fm].test_code)
                .filter_map(|(fm, fk)| self.modules[*fm].facts.functions.get(fk))
        };
        let reaches_call = |words: &[&str]| {
            reaches(&|f: &FnFacts| {
                f.calls.iter().any(|c| match &c.target {
                    Target::Qualified(q) | Target::Local(q) => names_one_of(q, words),
                })
            })
        };
        let mocked = has(HTTP_MOCKS) || has(OTHER_MOCKS) || reaches_call(HTTP_MOCKS);
        // Frozen by a decorator or fixture, or by a clock-faking call anywhere it reaches
        // (`freezer = freeze_time(…); freezer.start()`).
        let frozen = has(FROZEN_TIME) || reaches_call(FROZEN_TIME);
        // The clock names of modules its test code replaces (`patch("pkg.mod.datetime",
        // new=fake)` in a helper it calls): that module's reads through the name are the fake's.
        let clock_patches: Vec<&(String, String)> =
            test_facts().flat_map(|f| f.clock_patches.iter()).collect();
        let patched = |hm: usize, h: &Hit| -> bool {
            if clock_patches.is_empty() || h.rule.id != rules::WALL_CLOCK.id {
                return false;
            }
            let dotted = dotted_module(&self.modules[hm].rel);
            // The name the read goes through: `datetime` of "`datetime.today()`".
            let head = h
                .detail
                .trim_start_matches('`')
                .split(['.', '('])
                .next()
                .unwrap_or("");
            clock_patches.iter().any(|(m, n)| {
                n == head
                    && (dotted == *m
                        || dotted
                            .strip_suffix(m.as_str())
                            .is_some_and(|p| p.ends_with('.')))
            })
        };
        // Run in a fresh temporary directory by a fixture or a function it reaches: the
        // relative paths it writes are its own.
        let own_dir = reaches(&|f: &FnFacts| f.enters_temp_dir);
        // A test that reads the local clock itself and reaches code under test that reads only
        // the same clock functions (humanize's `test_date_and_delta` builds its expected values
        // from `dt.datetime.now()`, as `_date_and_delta` does): both reads see the same zone
        // and day, so the code's read is not what makes the outcome depend on the zone or the
        // date. (A test reading `date.today()` against code reading `utcnow()` is still
        // reported: other clocks.)
        let test_clocks = &facts.local_clocks;
        let same_clock = |hm: usize, line: u32| -> bool {
            !test_clocks.is_empty()
                && !self.modules[hm].test_code
                && out.fns.iter().any(|(fm, fk)| {
                    *fm == hm
                        && self.modules[hm].facts.functions.get(fk).is_some_and(|f| {
                            f.hits
                                .iter()
                                .any(|x| x.line == line && x.rule.id == rules::WALL_CLOCK.id)
                                && f.local_clocks.iter().all(|c| test_clocks.contains(c))
                        })
                })
        };
        // The attributes the test code it reached reads, looked up only when a kept draw
        // needs them.
        let read: HashSet<&str> = if kept.is_empty() {
            HashSet::new()
        } else {
            test_facts()
                .flat_map(|f| f.attrs_read.iter().map(String::as_str))
                .collect()
        };
        for (km, mut h, attr, v, failing) in kept {
            if !read.contains(attr) {
                h.weaken(&format!(
                    ", kept in `.{attr}`, which the test does not read"
                ));
            }
            hits.push((km, h, v, failing));
        }
        // A draw or clock read reached only by calls the test expects to raise
        // (python-dateutil's `rrule(…)` with contradictory arguments inside `assertRaises`,
        // whose `dtstart` defaults to `datetime.now()`): the test looks at the exception, not at
        // a value computed from it.
        hits.retain(|(_, h, _, only_failing)| !(*only_failing && is_value_hit(h)));
        hits.retain(|(hm, h, _, _)| {
            let id = h.rule.id;
            !(id == rules::WALL_CLOCK.id && same_clock(*hm, h.line))
                && config.enabled(id)
                && (!h.pedantic || config.weak_enabled(id))
                && !(seeded && id == rules::UNSEEDED_RANDOM.id)
                && !(mocked && id == rules::REAL_NETWORK.id)
                && !(frozen && is_clock_hit(h))
                && !patched(*hm, h)
                && !(own_dir && h.in_cwd)
        });
        // One per place (a function walked again with other arguments finds its unguarded
        // places again).
        if any_repeat {
            let mut places = HashSet::new();
            hits.retain(|(hm, h, _, _)| places.insert((*hm, h.line, h.col, h.rule.id)));
            let mut changes = HashSet::new();
            out.state.retain(|(sm, _, s, _)| {
                changes.insert((*sm, s.line, s.col, s.key.clone(), s.op.clone()))
            });
        }
        out.hits = hits.into_iter().map(|(m, h, v, _)| (m, h, v)).collect();
        out
    }

    fn finding(&self, mi: usize, hit: &Hit, via: &[String]) -> Finding {
        let m = &self.modules[mi];
        let snippet = line_of(&m.src, hit.line);
        Finding {
            rule: hit.rule.id,
            category: hit.rule.category.as_str(),
            message: format!("{}: {}", hit.detail, hit.rule.summary),
            fix: hit.rule.fix,
            file: m.display.clone(),
            line: hit.line,
            column: char_col(&snippet, hit.col),
            end_column: char_col(&snippet, hit.end_col),
            snippet,
            tests: Vec::new(),
            via: via.to_vec(),
            related: Vec::new(),
            pedantic: hit.pedantic,
        }
    }
}

/// Whether what a function finds or calls depends on its arguments: it has a guard, or passes
/// a parameter on to a call (whose guards may test it).
fn guarded(f: &FnFacts) -> bool {
    let passes_on = |a: &Arg| matches!(a, Arg::Param(_));
    f.hits.iter().any(|h| h.guard.is_some())
        || f.state.iter().any(|s| s.guard.is_some())
        || f.calls.iter().any(|c| {
            c.guard.is_some()
                || c.args.pos.iter().any(passes_on)
                || c.args.kw.iter().any(|(_, a)| passes_on(a))
        })
}

/// Under a fake clock of its own: `@freeze_time` on it or on its class (whose marks its
/// methods carry).
fn frozen_by_decorator(f: &FnFacts) -> bool {
    f.decorators
        .iter()
        .any(|d| names_one_of(&d.to_ascii_lowercase(), FROZEN_TIME))
}

/// The dotted name of a module from its path below the root (`src/pkg/mod.py` →
/// `src.pkg.mod`, `pkg/__init__.py` → `pkg`): a patch target names it without the part above
/// the package, so it is matched as a suffix.
fn dotted_module(rel: &str) -> String {
    let stem = rel.strip_suffix(".py").unwrap_or(rel);
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    stem.replace('/', ".")
}

/// What a fake clock makes deterministic.
fn is_clock_hit(h: &Hit) -> bool {
    h.rule.id == rules::WALL_CLOCK.id || h.rule.id == rules::TIMING_ASSERT.id
}

/// A random draw or a clock read: a value, which matters only where it is compared.
fn is_value_hit(h: &Hit) -> bool {
    h.rule.id == rules::WALL_CLOCK.id || h.rule.id == rules::UNSEEDED_RANDOM.id
}

fn short(key: &str) -> String {
    format!("{key}()")
}

/// A 1-based byte column of `line` as a 1-based column in characters (Unicode code points).
fn char_col(line: &str, byte_col: u32) -> u32 {
    let b = (byte_col.saturating_sub(1) as usize).min(line.len());
    let chars = line.char_indices().take_while(|(i, _)| *i < b).count();
    u32::try_from(chars).unwrap_or(u32::MAX).saturating_add(1)
}

/// The text of 1-based line `line`, without its end.
pub fn line_of(src: &[u8], line: u32) -> String {
    let text = String::from_utf8_lossy(src);
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("")
        .trim_end()
        .to_string()
}

type Summary<'a> = (
    HashMap<&'a str, (usize, &'a python::StateFact)>,
    HashMap<&'a str, (usize, &'a python::StateFact)>,
    HashSet<&'a str>,
    HashMap<&'a str, Vec<(usize, &'a python::StateFact)>>,
);

/// What a test changes, grows, resets and reads of module state: the first place of each
/// change, every read (each may look at another part).
fn summary(r: &Reached) -> Summary<'_> {
    let mut changed: HashMap<&str, (usize, &python::StateFact)> = HashMap::new();
    let mut grown: HashMap<&str, (usize, &python::StateFact)> = HashMap::new();
    let mut reset: HashSet<&str> = HashSet::new();
    let mut read: HashMap<&str, Vec<(usize, &python::StateFact)>> = HashMap::new();
    for (mi, _, s, cache) in &r.state {
        match s.op {
            StateOp::Mutate { accumulating } if !cache => {
                changed.entry(&s.key).or_insert((*mi, s));
                if accumulating {
                    grown.entry(&s.key).or_insert((*mi, s));
                }
            }
            StateOp::Mutate { .. } => {}
            StateOp::Reset => {
                reset.insert(&s.key);
            }
            StateOp::Read => {
                read.entry(&s.key).or_default().push((*mi, s));
            }
        }
    }
    (changed, grown, reset, read)
}

/// The parts of `key` a test changes (never reset nor restored): the whole value, or the
/// entries under these literal keys.
fn changed_parts<'a>(r: &'a Reached, key: &str) -> Vec<&'a python::Part> {
    let mut parts: Vec<&python::Part> = r
        .state
        .iter()
        .filter(|(_, _, s, cache)| !cache && s.key == key && matches!(s.op, StateOp::Mutate { .. }))
        .map(|(_, _, s, _)| &s.part)
        .collect();
    parts.dedup();
    parts
}

/// Whether a test changes `key` two or more times (two places, or one setter called twice: set,
/// then set back or delete: the save-and-restore pattern), which counts as restoring it.
fn restored(r: &Reached, key: &str) -> bool {
    let mut places: Vec<(usize, &str, u32, u32)> = r
        .state
        .iter()
        .filter(|(_, _, s, cache)| {
            !cache
                && s.key == key
                && s.op
                    == (StateOp::Mutate {
                        accumulating: false,
                    })
        })
        .map(|(mi, f, s, _)| (*mi, f.as_str(), s.line, s.col))
        .collect();
    places.sort();
    places.dedup();
    let changes: usize = places
        .iter()
        .map(|(mi, f, _, _)| {
            r.edges
                .get(&(*mi, f.to_string()))
                .copied()
                .unwrap_or(1)
                .max(1)
        })
        .sum();
    changes >= 2
}

/// Whether a test that grows a list at one end reads only the entry at that end: the one this
/// run added, whatever earlier runs left (uvicorn's `sys.path.insert(0, app_dir)`, checked as
/// `sys.path[0] == str(app_dir)`).
fn reads_newest(r: &Reached, key: &str) -> bool {
    let facts = || r.state.iter().filter(|(_, _, s, _)| s.key == key);
    let grown = || facts().filter(|(_, _, s, _)| s.op == (StateOp::Mutate { accumulating: true }));
    let Some((_, _, first, _)) = grown().next() else {
        return false;
    };
    let end = &first.part;
    matches!(end, python::Part::Front | python::Part::Back)
        && grown().all(|(_, _, s, _)| s.part == *end)
        && facts()
            .filter(|(_, _, s, _)| s.op == StateOp::Read)
            .all(|(_, _, s, _)| s.part == *end)
}

/// `shared-module-state`: a test that grows module state and reads it back (not idempotent),
/// and a test that reads state another test changes without restoring it (order-dependent).
fn state_findings(
    world: &World,
    reached: &[Reached],
    only: Option<&HashSet<String>>,
    places: &mut BTreeMap<(usize, u32, u32, &'static str), Finding>,
    config: &Config,
) {
    let rule = &rules::SHARED_STATE;
    if !config.enabled(rule.id) {
        return;
    }
    // Per key: the tests that change it and never reset it, with the first place and the
    // parts they change.
    type Changer<'r> = (
        usize,
        &'r python::StateFact,
        &'r Reached,
        Vec<&'r python::Part>,
    );
    let mut changers: HashMap<&str, Vec<Changer>> = HashMap::new();
    let summaries: Vec<_> = reached.iter().map(summary).collect();
    for (r, (changed, _, reset, _)) in reached.iter().zip(&summaries) {
        for (k, (mi, s)) in changed {
            if !reset.contains(k) && !restored(r, k) {
                let parts = changed_parts(r, k);
                changers.entry(k).or_default().push((*mi, s, r, parts));
            }
        }
    }
    let brittle_too = config.weak_enabled(rule.id);
    for (r, (changed, grown, reset, read)) in reached.iter().zip(&summaries) {
        if only.is_some_and(|o| !o.contains(&r.test)) {
            continue;
        }
        let _ = r.test_module;
        // Not idempotent: grows the state and reads it.
        for (k, (mi, s)) in grown {
            if read.contains_key(k) && !reset.contains(k) && !reads_newest(r, k) {
                let m = &world.modules[*mi];
                let f = places
                    .entry((*mi, s.line, s.col, rule.id))
                    .or_insert_with(|| Finding {
                        rule: rule.id,
                        category: rule.category.as_str(),
                        message: format!(
                            "grows module-level `{k}` and reads it back: a second run in the same \
                         process sees the first run's entries; {}",
                            rule.summary
                        ),
                        fix: rule.fix,
                        file: m.display.clone(),
                        line: s.line,
                        column: char_col(&line_of(&m.src, s.line), s.col),
                        end_column: char_col(&line_of(&m.src, s.line), s.end_col),
                        snippet: line_of(&m.src, s.line),
                        tests: Vec::new(),
                        via: Vec::new(),
                        related: Vec::new(),
                        pedantic: false,
                    });
                f.tests.push(r.test.clone());
            }
        }
        // Order-dependent: reads what another test leaves changed (a part of it the read
        // looks at: an entry added under a key of its own is not seen by a read of another
        // entry or of an attribute).
        for (k, reads) in read {
            if changed.contains_key(k) || reset.contains(k) || restored(r, k) {
                continue;
            }
            let Some(all) = changers.get(k) else {
                continue;
            };
            // Each test that changes a part some read sees, with the first such read.
            let others: Vec<_> = all
                .iter()
                .filter_map(|(omi, os, o, parts)| {
                    reads
                        .iter()
                        .find(|(_, s)| parts.iter().any(|p| p.seen_by(&s.part)))
                        .map(|rd| ((*omi, *os, *o), *rd))
                })
                .collect();
            if others.is_empty() {
                continue;
            }
            // A test that pytest's default order runs *before* a test that changes the state
            // passes with the state as the module made it, and fails when an order puts the
            // change first: the order-dependent tests found in real suites are mostly these
            // (iDFlakies' "victims"). One that runs *after* every such test already passes with
            // the change in place on every default run; it fails only if it needs the change
            // and runs without it ("brittle", far rarer): reported with --pedantic.
            // (parsedatetime: a locale one test class installs in its `setUp`, read by the 81
            // tests that run after it; none failed in any order.)
            let other = |victim: bool| {
                others
                    .iter()
                    .find(|((_, _, o), _)| o.test != r.test && (!victim || world.runs_before(r, o)))
            };
            let victim = other(true);
            let brittle = victim.is_none();
            let Some(((omi, os, other), (mi, s))) =
                victim.or_else(|| other(false).filter(|_| brittle_too))
            else {
                continue;
            };
            let otest = other.test.as_str();
            let m = &world.modules[*mi];
            let om = &world.modules[*omi];
            let f = places
                .entry((*mi, s.line, s.col, rule.id))
                .or_insert_with(|| Finding {
                    rule: rule.id,
                    category: rule.category.as_str(),
                    message: format!(
                        "reads module-level `{k}`, which {otest} changes and never restores; {}",
                        rule.summary
                    ),
                    fix: rule.fix,
                    file: m.display.clone(),
                    line: s.line,
                    column: char_col(&line_of(&m.src, s.line), s.col),
                    end_column: char_col(&line_of(&m.src, s.line), s.end_col),
                    snippet: line_of(&m.src, s.line),
                    tests: Vec::new(),
                    via: Vec::new(),
                    related: vec![Related {
                        file: om.display.clone(),
                        line: os.line,
                        column: os.col,
                        message: format!("{otest} changes `{k}` here"),
                    }],
                    pedantic: brittle,
                });
            // Pedantic only while every test it lists is a brittle reader.
            f.pedantic &= brittle;
            f.tests.push(r.test.clone());
        }
    }
}

/// Keeps only the hits of the functions' own file, for callers that need the facts of one
/// file (tests of the rules).
pub fn file_hits(facts: &ModuleFacts) -> Vec<&Hit> {
    let mut v: Vec<&Hit> = facts
        .functions
        .values()
        .chain(facts.globals.values())
        .flat_map(|f: &FnFacts| f.hits.iter())
        .chain(facts.loose.iter())
        .collect();
    v.sort_by_key(|h| (h.line, h.col, h.rule.id));
    v
}

/// The Go test files: parsed in parallel, findings inside their `Test…` functions.
fn go_findings(
    files: &[PathBuf],
    config: &Config,
    only: Option<&HashSet<String>>,
    scan: &mut Scan,
) -> Vec<Finding> {
    let parsed: Vec<_> = files
        .par_iter()
        .map(|path| {
            let src = std::fs::read(path).map_err(|e| e.to_string());
            let facts = src
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|s| crate::golang::analyse(s));
            (path, src, facts)
        })
        .collect();
    let mut out = Vec::new();
    let mut pkgs: HashMap<PathBuf, String> = HashMap::new();
    for (path, src, facts) in parsed {
        let (src, facts) = match (src, facts) {
            (Ok(s), Ok(f)) => (s, f),
            (Err(e), _) | (_, Err(e)) => {
                scan.errors.push((clean(path), e));
                continue;
            }
        };
        scan.files += 1;
        scan.tests += facts.tests;
        if facts.syntax_error {
            scan.errors
                .push((clean(path), "syntax error; scanned what parsed".to_string()));
        }
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let pkg = pkgs
            .entry(dir.clone())
            .or_insert_with(|| crate::golang::package_path(&dir).unwrap_or_else(|| clean(&dir)))
            .clone();
        for (test, hit) in facts.hits {
            let id = format!("{pkg}::{test}");
            if !config.enabled(hit.rule.id) || only.is_some_and(|o| !o.contains(&id)) {
                continue;
            }
            let snippet = line_of(&src, hit.line);
            out.push(Finding {
                rule: hit.rule.id,
                category: hit.rule.category.as_str(),
                message: format!("{}: {}", hit.detail, hit.rule.summary),
                fix: if hit.rule.id == crate::rules::FIXED_TMP_PATH.id {
                    "use t.TempDir() for a directory of the test's own"
                } else {
                    hit.rule.fix
                },
                file: clean(path),
                line: hit.line,
                column: char_col(&snippet, hit.col),
                end_column: char_col(&snippet, hit.end_col),
                snippet,
                tests: vec![id],
                via: Vec::new(),
                related: Vec::new(),
                pedantic: false,
            });
        }
    }
    out
}

/// The languages scanned one file at a time (besides Go).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Lang {
    Js(crate::javascript::Dialect),
    Rust,
}

impl Lang {
    fn of(path: &Path) -> Option<Lang> {
        if crate::rustlang::is_rust_file(path) {
            return Some(Lang::Rust);
        }
        crate::javascript::test_file_dialect(path).map(Lang::Js)
    }
}

/// The directory a JavaScript test id's path is relative to: the nearest one up with a
/// `package.json` (where jest runs), else the path as scanned.
fn js_id_path(path: &Path) -> String {
    for (i, a) in path.ancestors().skip(1).enumerate() {
        if i > 12 {
            break;
        }
        let d = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        if d.join("package.json").is_file() {
            return rel_to(path, a);
        }
    }
    clean(path)
}

/// JavaScript/TypeScript test files and Rust files: parsed in parallel, findings inside their
/// tests (see [`crate::javascript`], [`crate::rustlang`]).
fn lang_findings(
    files: &[(PathBuf, Lang)],
    config: &Config,
    only: Option<&HashSet<String>>,
    scan: &mut Scan,
) -> Vec<Finding> {
    let parsed: Vec<_> = files
        .par_iter()
        .map(|(path, lang)| {
            let src = std::fs::metadata(path)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    if m.len() > MAX_FILE {
                        Err(format!(
                            "{} bytes, too big to be a test file; skipped",
                            m.len()
                        ))
                    } else {
                        std::fs::read(path).map_err(|e| e.to_string())
                    }
                });
            let facts = match (&src, lang) {
                (Err(e), _) => Err(e.clone()),
                // A Rust file without a test attribute has no tests: not parsed.
                (Ok(s), Lang::Rust) if !s.windows(4).any(|w| w == b"test") => {
                    Ok(crate::lang::FileFacts::default())
                }
                (Ok(s), Lang::Rust) => crate::rustlang::analyse(s),
                (Ok(s), Lang::Js(d)) => crate::javascript::analyse(s, *d),
            };
            (path, *lang, src, facts)
        })
        .collect();
    let mut out = Vec::new();
    for (path, lang, src, facts) in parsed {
        let (src, facts) = match (src, facts) {
            (Ok(s), Ok(f)) => (s, f),
            (Err(e), _) | (_, Err(e)) => {
                scan.errors.push((clean(path), e));
                continue;
            }
        };
        if lang == Lang::Rust && facts.tests == 0 && !facts.syntax_error {
            continue;
        }
        scan.files += 1;
        scan.tests += facts.tests;
        if facts.syntax_error {
            scan.errors
                .push((clean(path), "syntax error; scanned what parsed".to_string()));
        }
        let id = |t: &str| match lang {
            Lang::Js(_) => format!("{} › {t}", js_id_path(path)),
            Lang::Rust => {
                let m = crate::rustlang::module_prefix(path);
                if m.is_empty() {
                    t.to_string()
                } else {
                    format!("{m}::{t}")
                }
            }
        };
        for th in facts.hits {
            let hit = th.hit;
            if !config.enabled(hit.rule.id) {
                continue;
            }
            let tests: Vec<String> = th
                .tests
                .iter()
                .map(|t| id(t))
                .filter(|t| only.is_none_or(|o| o.contains(t)))
                .collect();
            if tests.is_empty() {
                continue;
            }
            let snippet = line_of(&src, hit.line);
            let file = clean(path);
            let related = th
                .related
                .map(|(line, col, message)| Related {
                    file: file.clone(),
                    line,
                    column: char_col(&line_of(&src, line), col),
                    message,
                })
                .into_iter()
                .collect();
            out.push(Finding {
                rule: hit.rule.id,
                category: hit.rule.category.as_str(),
                message: format!("{}: {}", hit.detail, hit.rule.summary),
                fix: th.fix.unwrap_or(hit.rule.fix),
                file,
                line: hit.line,
                column: char_col(&snippet, hit.col),
                end_column: char_col(&snippet, hit.end_col),
                snippet,
                tests,
                via: Vec::new(),
                related,
                pedantic: false,
            });
        }
    }
    out
}
