//! Which files, classes and functions pytest collects as tests: its `python_files`,
//! `python_classes` and `python_functions` settings, read from the project root as pytest
//! reads them (dogpile.cache names its test classes `…Test` with `python_classes = "*Test"`;
//! without the setting the scan saw none of its tests).
//!
//! The settings file is the first of the root's `pytest.ini` (or `.pytest.ini`; it wins even
//! without a `[pytest]` section, as in pytest), `pyproject.toml` with `[tool.pytest.ini_options]`,
//! `tox.ini` with `[pytest]`, `setup.cfg` with `[tool:pytest]`. (pytest looks further up too;
//! the scan's root is already the nearest directory with one of these files or `setup.py`.)
//! A value is a list of whitespace-separated patterns (a TOML list or string). Files match by
//! glob, on the base name, or on the path below the root when the pattern has a `/`; classes
//! and functions match by prefix, or by glob when the pattern has `*`, `?` or `[`. Classes that
//! derive from `unittest.TestCase` are collected whatever `python_classes` says, and their
//! `test…` methods whatever `python_functions` says (unittest's own rule). A file that cannot be
//! read or parsed leaves pytest's defaults.
//!
//! **pytest-relaxed** (invoke, fabric and paramiko test with it): once installed, the plugin
//! collects every `.py` file pytest is pointed at except `conftest.py`, `test_*.py` (left to
//! pytest) and names starting with `_`; in those files every function and class not starting
//! with `_` is a test, and so is every method not starting with `_` (nor `setup`/`teardown`),
//! nested classes included (`Outer::Inner::method`). A plugin is active when installed, which the
//! scan cannot see, so it reads the project's declaration: `pytest-relaxed` named in the root's
//! requirement files (`*requirements*.txt`, `requirements/*.txt`), `tox.ini`, `setup.cfg`,
//! `setup.py`, `pyproject.toml` or `Pipfile`, and not switched off by `-p no:relaxed` in
//! `addopts`. It applies under the `testpaths` setting's directories, or, when there is none,
//! under directories named `tests`, `test` or `testing` (projects that run relaxed without
//! `testpaths` point pytest at their test directory: invoke's `inv test`), never to the code
//! under test.

use globset::{Glob, GlobBuilder, GlobMatcher};
use std::path::Path;

/// pytest's defaults.
const FILES: &[&str] = &["test_*.py", "*_test.py"];
const CLASSES: &[&str] = &["Test"];
const FUNCTIONS: &[&str] = &["test"];

/// One pattern: a prefix or a glob.
#[derive(Clone, Debug)]
enum Pattern {
    Prefix(String),
    Glob(GlobMatcher),
}

impl Pattern {
    fn name(p: &str) -> Pattern {
        if p.contains(['*', '?', '[']) {
            if let Ok(g) = Glob::new(p) {
                return Pattern::Glob(g.compile_matcher());
            }
        }
        Pattern::Prefix(p.to_string())
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
            Pattern::Glob(g) => g.is_match(s),
        }
    }
}

/// A `python_files` pattern: on the base name, or (with a `/`) on the path, where `*` also
/// crosses directories (Python's `fnmatch`).
#[derive(Clone, Debug)]
struct FilePattern {
    on_path: bool,
    glob: GlobMatcher,
}

/// What pytest collects in one project.
#[derive(Clone, Debug)]
pub struct Naming {
    files: Vec<FilePattern>,
    classes: Vec<Pattern>,
    functions: Vec<Pattern>,
    /// pytest-relaxed's rules for the files it collects: `None` when the project does not use
    /// it; otherwise the directories it applies under (below the root) and the naming of its
    /// modules.
    relaxed: Option<(Vec<String>, Box<Naming>)>,
    /// This is a relaxed module's naming: every name not starting with `_` is a test.
    relaxed_module: bool,
    /// The project's `norecursedirs` (fnmatch patterns on a directory's name): pytest does not
    /// look for tests in them (plumbum's `experiments`). Empty when it sets none (the walk
    /// skips pytest's default ones anyway).
    norecurse: Vec<globset::GlobMatcher>,
}

impl Default for Naming {
    fn default() -> Naming {
        Naming::from_lists(&list(FILES), &list(CLASSES), &list(FUNCTIONS))
    }
}

/// Names pytest-relaxed never collects as tests: private ones, its own exclusions, and pytest's
/// xunit set-up and tear-down hooks (which pytest calls as such).
fn relaxed_skips(name: &str) -> bool {
    name.starts_with('_')
        || matches!(
            name,
            "setup"
                | "teardown"
                | "setup_module"
                | "teardown_module"
                | "setup_function"
                | "teardown_function"
                | "setup_method"
                | "teardown_method"
                | "setup_class"
                | "teardown_class"
        )
}

/// Whether the project at `root` declares pytest-relaxed among its (test) dependencies.
fn declares_relaxed(root: &Path) -> bool {
    let mut files: Vec<std::path::PathBuf> = [
        "tox.ini",
        "setup.cfg",
        "setup.py",
        "pyproject.toml",
        "Pipfile",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    for dir in [root.to_path_buf(), root.join("requirements")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".txt")
                    && (dir != root || name.contains("requirements"))
                    && e.file_type().is_ok_and(|t| t.is_file())
                {
                    files.push(e.path());
                }
            }
        }
    }
    files.iter().any(|f| {
        std::fs::metadata(f).is_ok_and(|m| m.len() < 1 << 20)
            && std::fs::read_to_string(f).is_ok_and(|t| {
                let t = t.to_ascii_lowercase();
                t.contains("pytest-relaxed") || t.contains("pytest_relaxed")
            })
    })
}

fn list(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Naming {
    fn from_lists(files: &[String], classes: &[String], functions: &[String]) -> Naming {
        Naming {
            files: files
                .iter()
                .filter_map(|p| {
                    let on_path = p.contains('/');
                    let pat = if on_path {
                        format!("*/{}", p.trim_start_matches("./"))
                    } else {
                        p.clone()
                    };
                    GlobBuilder::new(&pat)
                        .literal_separator(false)
                        .build()
                        .ok()
                        .map(|g| FilePattern {
                            on_path,
                            glob: g.compile_matcher(),
                        })
                })
                .collect(),
            classes: classes.iter().map(|p| Pattern::name(p)).collect(),
            functions: functions.iter().map(|p| Pattern::name(p)).collect(),
            relaxed: None,
            relaxed_module: false,
            norecurse: Vec::new(),
        }
    }

    /// The settings of the project at `root` (pytest's defaults where it sets none).
    pub fn read(root: &Path) -> Naming {
        let src = source(root);
        let setting = |key: &str| src.as_ref().and_then(|s| settings(s, key));
        let get = |key: &str, d: &[&str]| setting(key).unwrap_or_else(|| list(d));
        let mut n = Naming::from_lists(
            &get("python_files", FILES),
            &get("python_classes", CLASSES),
            &get("python_functions", FUNCTIONS),
        );
        n.norecurse = setting("norecursedirs")
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                GlobBuilder::new(p.trim_end_matches('/'))
                    .literal_separator(true)
                    .build()
                    .ok()
                    .map(|g| g.compile_matcher())
            })
            .collect();
        let off = setting("addopts").is_some_and(|a| {
            a.windows(2).any(|w| w[0] == "-p" && w[1] == "no:relaxed")
                || a.iter().any(|x| x == "-pno:relaxed")
        });
        if !off && declares_relaxed(root) {
            let dirs = setting("testpaths")
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|d| !d.is_empty() && d != ".")
                .collect();
            let module = Naming {
                relaxed_module: true,
                ..Naming::default()
            };
            n.relaxed = Some((dirs, Box::new(module)));
        }
        n
    }

    /// Whether pytest-relaxed collects the file at `rel` as one of its modules.
    fn is_relaxed_file(&self, rel: &str) -> bool {
        let Some((dirs, _)) = &self.relaxed else {
            return false;
        };
        let rel = rel.trim_start_matches('/');
        let parts: Vec<&str> = rel.split('/').collect();
        let base = parts.last().copied().unwrap_or(rel);
        if !base.ends_with(".py")
            || base == "conftest.py"
            || base.starts_with("test_")
            || parts.iter().any(|p| p.starts_with('_'))
        {
            return false;
        }
        let dir = &parts[..parts.len() - 1];
        if dirs.is_empty() {
            dir.iter()
                .any(|p| matches!(*p, "tests" | "test" | "testing"))
        } else {
            dirs.iter().any(|d| rel.starts_with(&format!("{d}/")))
        }
    }

    /// The naming of the tests inside the file at `rel`: pytest-relaxed's for the files it
    /// collects, this one otherwise.
    pub fn module(&self, rel: &str) -> &Naming {
        match &self.relaxed {
            Some((_, m)) if self.is_relaxed_file(rel) => m,
            _ => self,
        }
    }

    /// Whether pytest, recursing from the root, skips the directory named `name`
    /// (`norecursedirs`).
    pub fn skips_dir(&self, name: &str) -> bool {
        self.norecurse.iter().any(|g| g.is_match(name))
    }

    /// Whether pytest collects the file at `rel` (its path below the root, `/`-separated).
    pub fn is_test_file(&self, rel: &str) -> bool {
        if self.is_relaxed_file(rel) {
            return true;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let full = format!("/{}", rel.trim_start_matches('/'));
        self.files.iter().any(|f| {
            if f.on_path {
                f.glob.is_match(&full)
            } else {
                f.glob.is_match(base)
            }
        })
    }

    /// Whether pytest collects a class of this name (not counting `TestCase` subclasses).
    pub fn is_test_class(&self, name: &str) -> bool {
        if self.relaxed_module {
            return !name.starts_with('_');
        }
        self.classes.iter().any(|p| p.matches(name))
    }

    /// Whether pytest collects a function or method of this name.
    pub fn is_test_function(&self, name: &str) -> bool {
        if self.relaxed_module {
            return !relaxed_skips(name);
        }
        self.functions.iter().any(|p| p.matches(name))
    }
}

/// The settings pytest reads, parsed once: an INI file's section, or `pyproject.toml`'s
/// `[tool.pytest.ini_options]`. `None` inside: the file wins but does not parse (pytest's
/// defaults then).
enum Source {
    Ini(Option<configparser::ini::Ini>, &'static str),
    Toml(toml_edit::Item),
}

fn source(root: &Path) -> Option<Source> {
    for f in ["pytest.ini", ".pytest.ini"] {
        if let Ok(t) = std::fs::read_to_string(root.join(f)) {
            return Some(Source::Ini(ini(&t), "pytest"));
        }
    }
    if let Ok(t) = std::fs::read_to_string(root.join("pyproject.toml"))
        && let Ok(mut doc) = t.parse::<toml_edit::DocumentMut>()
        && let Some(opts) = doc
            .get_mut("tool")
            .and_then(|x| x.get_mut("pytest"))
            .and_then(|x| x.get_mut("ini_options"))
    {
        return Some(Source::Toml(std::mem::take(opts)));
    }
    for (f, section) in [("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")] {
        if let Ok(t) = std::fs::read_to_string(root.join(f))
            && let Some(i) = ini(&t)
            && i.sections().iter().any(|s| s == section)
        {
            return Some(Source::Ini(Some(i), section));
        }
    }
    None
}

fn ini(text: &str) -> Option<configparser::ini::Ini> {
    let mut i = configparser::ini::Ini::new();
    // Values continued on indented lines, as Python's configparser (and so pytest) reads them.
    i.set_multiline(true);
    i.read(text.to_string()).ok()?;
    Some(i)
}

/// One setting's patterns, if the settings file has it.
fn settings(src: &Source, key: &str) -> Option<Vec<String>> {
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    match src {
        Source::Ini(i, section) => i.as_ref()?.get(section, key).map(|v| words(&v)),
        Source::Toml(opts) => {
            let v = opts.get(key)?;
            if let Some(s) = v.as_str() {
                return Some(words(s));
            }
            let a = v.as_array()?;
            Some(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .map(str::to_string)
                    .collect(),
            )
        }
    }
    .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(files: &[(&str, &str)]) -> (tempfile::TempDir, Naming) {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in files {
            std::fs::write(dir.path().join(p), t).unwrap();
        }
        let n = Naming::read(dir.path());
        (dir, n)
    }

    #[test]
    fn defaults_without_settings() {
        let (_d, n) = at(&[("setup.py", "")]);
        assert!(n.is_test_file("tests/test_a.py") && n.is_test_file("a_test.py"));
        assert!(!n.is_test_file("tests/helpers.py"));
        assert!(n.is_test_class("TestCart") && !n.is_test_class("CartTest"));
        assert!(n.is_test_function("test_total") && !n.is_test_function("check_total"));
    }

    #[test]
    fn pyproject_globs_and_lists() {
        // dogpile.cache's settings.
        let (_d, n) = at(&[(
            "pyproject.toml",
            "[tool.pytest.ini_options]\npython_files = \"tests/*test_*.py\"\npython_classes = \"*Test\"\npython_functions = [\"test\", \"check_*\"]\n",
        )]);
        assert!(n.is_test_file("tests/cache/test_region.py"));
        assert!(
            !n.is_test_file("test_top.py"),
            "the pattern names a directory"
        );
        assert!(n.is_test_class("RegionTest") && !n.is_test_class("TestRegion"));
        assert!(n.is_test_function("check_total") && n.is_test_function("test_x"));
    }

    #[test]
    fn ini_files_with_continued_values_and_precedence() {
        // portalocker's pytest.ini; python-dateutil's setup.cfg; pytest.ini wins over both.
        let (_d, n) = at(&[(
            "pytest.ini",
            "[pytest]\npython_files =\n    portalocker_tests/*.py\n\naddopts =\n    --ignore setup.py\n",
        )]);
        assert!(n.is_test_file("portalocker_tests/temporary_file_lock.py"));
        assert!(!n.is_test_file("test_other.py"));
        let (_d, n) = at(&[(
            "setup.cfg",
            "[metadata]\nname = x\n\n[tool:pytest]\npython_files =\n\ttest_*.py\n\t*_test.py\n\t*_solution.py\nxfail_strict = true\n",
        )]);
        assert!(n.is_test_file("x_solution.py") && n.is_test_file("test_a.py"));
        assert!(n.is_test_class("TestA"), "unset: pytest's default");
        let (_d, n) = at(&[
            ("pytest.ini", "[pytest]\n"),
            ("tox.ini", "[pytest]\npython_classes = Check\n"),
        ]);
        assert!(n.is_test_class("TestA") && !n.is_test_class("CheckA"));
        let (_d, n) = at(&[("tox.ini", "[pytest]\npython_classes = Check\n")]);
        assert!(n.is_test_class("CheckA") && !n.is_test_class("TestA"));
    }

    #[test]
    fn unreadable_settings_leave_the_defaults() {
        let (_d, n) = at(&[(
            "pyproject.toml",
            "[tool.pytest.ini_options\npython_classes = 1",
        )]);
        assert!(n.is_test_class("TestA"));
        let (_d, n) = at(&[(
            "pyproject.toml",
            "[tool.pytest.ini_options]\npython_classes = 7\n",
        )]);
        assert!(n.is_test_class("TestA"));
    }
}
