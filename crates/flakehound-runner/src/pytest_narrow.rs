//! Narrowing a pytest selection to the selected node ids on the command line.
//!
//! The bundled plugin selects tests after collection, so a selection still collects the whole
//! suite: on a 2,000-test suite a retry of 10 tests cost about as much as a full run, most of it
//! collection (1.1 s of 2.1 s), while the same 10 node ids given to pytest ran in 0.28 s. So when
//! it is safe, the user's positional paths (`tests`, `tests/unit`) are replaced by the node ids
//! themselves; the plugin still filters and orders, as a safety net.
//!
//! "Safe" is decided conservatively, since pytest's options are open-ended (plugins add their
//! own): the argv must contain no `--`, every token before a positional must be a known flag, a
//! known option with its value, or an `--opt=value` form, every positional must be an existing
//! path (its part before `::`), and every selected id must be a node id whose file exists from
//! the command's directory. Otherwise nothing changes and the plugin alone selects.

use std::path::Path;

use crate::TestRef;

/// pytest options that take a separate value (`-k EXPR`), core and common plugins.
const VALUE_OPTIONS: &[&str] = &[
    "-k",
    "-m",
    "-p",
    "-o",
    "-c",
    "-W",
    "-r",
    "-n",
    "--rootdir",
    "--confcutdir",
    "--basetemp",
    "--junitxml",
    "--junit-xml",
    "--junit-prefix",
    "--ignore",
    "--ignore-glob",
    "--deselect",
    "--maxfail",
    "--tb",
    "--durations",
    "--durations-min",
    "--log-level",
    "--log-cli-level",
    "--log-file",
    "--log-file-level",
    "--log-format",
    "--log-date-format",
    "--import-mode",
    "--capture",
    "--color",
    "--override-ini",
    "--config-file",
    "--dist",
    "--count",
    "--reruns",
    "--reruns-delay",
    "--timeout",
    "--random-order-seed",
];

/// pytest flags without a value.
const FLAGS: &[&str] = &[
    "--exitfirst",
    "--verbose",
    "--quiet",
    "--showlocals",
    "--lf",
    "--last-failed",
    "--ff",
    "--failed-first",
    "--nf",
    "--new-first",
    "--sw",
    "--stepwise",
    "--pdb",
    "--strict-markers",
    "--strict-config",
    "--runxfail",
    "--no-header",
    "--no-summary",
    "--disable-warnings",
    "--disable-pytest-warnings",
    "--cache-clear",
    "--doctest-modules",
    "--full-trace",
    "--setup-show",
    "--setup-only",
    "--setup-plan",
];

/// Short flags that may be clustered (`-vvx`, `-qs`).
const SHORT_FLAGS: &str = "qvxslh";

/// Where pytest's own arguments start in `args` (after `-m pytest`, `run pytest`, ...), or
/// `None` when it cannot be told. `program` is the command's program.
fn pytest_args_start(program: &str, args: &[String]) -> Option<usize> {
    let is_pytest = |w: &str| {
        let base = w.rsplit(['/', '\\']).next().unwrap_or(w);
        matches!(
            base.strip_suffix(".exe").unwrap_or(base),
            "pytest" | "py.test"
        )
    };
    if is_pytest(program) {
        return Some(0);
    }
    args.iter().position(|a| is_pytest(a)).map(|i| i + 1)
}

/// The argv with its positional paths replaced by the selected node ids, when that is safe (see
/// the module docs); `None` to leave the command as it is.
pub(crate) fn narrowed(
    program: &str,
    args: &[String],
    selection: &[TestRef],
    cwd: &Path,
) -> Option<Vec<String>> {
    if selection.is_empty() {
        return None;
    }
    let start = pytest_args_start(program, args)?;
    let mut positionals = Vec::new();
    let mut i = start;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return None;
        }
        if let Some(long) = a.strip_prefix("--") {
            if long.contains('=') || FLAGS.contains(&a) {
                i += 1;
            } else if VALUE_OPTIONS.contains(&a) {
                i += 2;
            } else {
                // Unknown long option: it may take the next token as its value.
                return None;
            }
            continue;
        }
        if let Some(short) = a.strip_prefix('-') {
            let first = short.chars().next()?;
            if VALUE_OPTIONS.contains(&&a[..1 + first.len_utf8()]) {
                // `-k EXPR`, or the value attached: `-kexpr`, `-rA`.
                i += if short.len() == first.len_utf8() {
                    2
                } else {
                    1
                };
            } else if short.chars().all(|c| SHORT_FLAGS.contains(c)) {
                i += 1;
            } else {
                return None;
            }
            continue;
        }
        positionals.push(i);
        i += 1;
    }
    for &p in &positionals {
        let path = args[p].split("::").next().unwrap_or(&args[p]);
        if !cwd.join(path).exists() {
            return None;
        }
    }
    let mut ids = Vec::with_capacity(selection.len());
    for t in selection {
        let (file, rest) = t.id.split_once("::")?;
        if rest.is_empty() || t.id.contains(['\n', '\r']) || !cwd.join(file).is_file() {
            return None;
        }
        if !ids.contains(&t.id) {
            ids.push(t.id.clone());
        }
    }
    let mut out: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| !positionals.contains(i))
        .map(|(_, a)| a.clone())
        .collect();
    out.extend(ids);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn sel(ids: &[&str]) -> Vec<TestRef> {
        ids.iter()
            .map(|id| TestRef {
                id: id.to_string(),
                classname: None,
                name: id.to_string(),
                file: None,
                suite: vec![],
            })
            .collect()
    }

    fn project() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("tests/unit")).unwrap();
        std::fs::write(d.path().join("tests/test_a.py"), "").unwrap();
        std::fs::write(d.path().join("tests/unit/test_b.py"), "").unwrap();
        d
    }

    #[test]
    fn replaces_positional_paths_by_node_ids() {
        let d = project();
        let s = sel(&["tests/test_a.py::test_x[a b]", "tests/unit/test_b.py::T::t"]);
        let got = narrowed(
            "python",
            &argv("-m pytest -q -k slow tests -x"),
            &s,
            d.path(),
        );
        assert_eq!(
            got.unwrap(),
            [
                "-m",
                "pytest",
                "-q",
                "-k",
                "slow",
                "-x",
                "tests/test_a.py::test_x[a b]",
                "tests/unit/test_b.py::T::t"
            ]
        );
        // No positional at all (testpaths from the ini): the ids are added.
        let got = narrowed("pytest", &argv("-vv --tb=short"), &s, d.path()).unwrap();
        assert_eq!(got.len(), 4);
        // A flag before a path does not swallow it.
        let got = narrowed("pytest", &argv("-x tests/unit"), &s, d.path()).unwrap();
        assert_eq!(got[0], "-x");
        assert!(!got.contains(&"tests/unit".to_string()), "{got:?}");
        // Attached short values and `--opt=value` forms are understood.
        assert!(narrowed("pytest", &argv("-rA -kfoo --maxfail=2 tests"), &s, d.path()).is_some());
    }

    #[test]
    fn leaves_the_command_alone_when_unsure() {
        let d = project();
        let s = sel(&["tests/test_a.py::test_x"]);
        for line in [
            "--cov src tests",           // unknown option: `src` may be its value
            "-Z tests",                  // unknown short option
            "tests -- extra",            // `--` changes the meaning of what follows
            "missing_dir",               // positional that is not a path here
            "python_files_elsewhere.py", // idem
        ] {
            assert_eq!(
                narrowed("pytest", &argv(line), &s, d.path()),
                None,
                "{line}"
            );
        }
        // Ids that are not node ids of existing files.
        for id in ["tests/gone.py::t", "just_a_name", "tests/test_a.py::"] {
            assert_eq!(
                narrowed("pytest", &argv("tests"), &sel(&[id]), d.path()),
                None,
                "{id}"
            );
        }
        // A wrapper whose pytest cannot be found.
        assert_eq!(narrowed("make", &argv("test"), &s, d.path()), None);
    }
}
