//! `cargo test`: stable Rust has no machine-readable test output, so the report is libtest's
//! human output, captured from one merged stdout + stderr stream.
//!
//! # What the stream looks like
//! cargo announces each test binary on stderr (`Running unittests src/lib.rs
//! (target/debug/deps/foo-0123abcd)`, `Running tests/it.rs (...)`, `Doc-tests foo`); the binary
//! then prints on stdout `running N tests`, one `test path ... ok|FAILED|ignored[, reason]` line
//! per test, a `failures:` section with one `---- path stdout ----` block per failed test, the
//! list of failed tests, and `test result: ...`. Both streams must be one pipe to keep that
//! order, hence `merge_stderr`.
//!
//! # Test ids
//! Ids match the ones nextest's JUnit gives (classname = nextest's *binary id*, id
//! `binary-id::test::path`), so that `cargo test` and `cargo nextest run` histories agree:
//! `package` for a library's unit tests, `package::target` for an integration test,
//! `package::bin/name`, `package::bench/name`, `package::example/name` for the others. Doc tests,
//! which nextest does not run, get `package::doctest` (their names, `src/lib.rs - item (line 5)`,
//! cannot clash with a Rust test path).
//!
//! The package and target of a binary are not in libtest's output, and neither the source path
//! cargo prints (relative to its package: every library is `src/lib.rs`) nor the target name
//! (two packages of a workspace may both have `tests/cli.rs`) is unique in a workspace. The only
//! exact link is the executable's hashed file name, so the plan adds
//! `--message-format json-render-diagnostics`: cargo then prints one JSON `compiler-artifact`
//! line per built target on stdout (package id, target kind and name, executable path) while
//! still rendering compiler diagnostics for humans on stderr; [`CargoTest::display_line`] hides
//! those JSON lines. When the user chose a `--message-format` of their own that prints no
//! artifacts, the adapter falls back to `cargo metadata --no-deps` (run once), matching the
//! crate name of the executable and the printed source path; failing that, the classname is left
//! out and the id is the bare test path (what the libtest JSON parser gives for `cargo test`).
//!
//! # Running a selection
//! The user's argv is kept, with these changes:
//! - `--no-fail-fast` is added when absent: without it cargo stops at the first test binary with
//!   a failure, and the results of every later binary are simply missing.
//! - quiet flags (cargo's `-q`, libtest's `-q` and `--format`) are removed: they hide the status
//!   lines and per-test result lines the parser reads.
//! - a selection drops the user's own test-name filters (the selected tests passed them already)
//!   and appends `-- --exact NAME...`. When every selected test has a binary id and the user did
//!   not choose targets, the matching `--lib` / `--test NAME` / `--bin NAME` / ... flags are added
//!   so that other binaries are not built or run for nothing.
//! - doc tests cannot be selected exactly: rustdoc splits test arguments on whitespace, and a
//!   doc-test name has spaces. A selection with doc tests therefore uses substring filters (no
//!   `--exact`), the doc tests' file path standing for them: every doc test of that file runs
//!   again, and a selected unit test also brings back the tests whose path contains its own.
//!
//! Neither ordering nor in-process repetition exists in stable libtest (`--shuffle` is nightly),
//! so both are unsupported.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use flakehound_model::{
    Attempt, Dialect, Failure, Outcome, ReportInfo, TestCase, canonical_id, trim_text,
};

use crate::shared::{
    SELECT_AND_LIST, captured, cmd_from_words, refuse_repeat_and_order, stdout_plan,
};
use crate::{
    Adapter, Capabilities, Cmd, Error, Plan, Request, Result, Results, RunnerKind, TestRef,
    program_name,
};

/// Value-taking options of `cargo test` (before `--`); needed to tell option values from the
/// positional test-name filter.
const CARGO_VALUE_FLAGS: &[&str] = &[
    "-p",
    "--package",
    "--exclude",
    "--bin",
    "--example",
    "--test",
    "--bench",
    "-F",
    "--features",
    "-j",
    "--jobs",
    "--target",
    "--target-dir",
    "--manifest-path",
    "--lockfile-path",
    "--profile",
    "--color",
    "--message-format",
    "--config",
    "-Z",
    "--artifact-dir",
];

/// Value-taking options of a libtest binary (after `--`).
const LIBTEST_VALUE_FLAGS: &[&str] = &[
    "--test-threads",
    "--skip",
    "--logfile",
    "--format",
    "--color",
    "-Z",
    "--shuffle-seed",
];

/// cargo's target-selection options: when the user gave any, the plan adds none of its own.
const TARGET_FLAGS: &[&str] = &[
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--bench",
    "--benches",
    "--example",
    "--examples",
    "--all-targets",
    "--doc",
];

const MESSAGE_FORMAT: &str = "--message-format=json-render-diagnostics";

pub struct CargoTest {
    cmd: Cmd,
    /// `cargo metadata --no-deps`, loaded at most once, only when the stream names a binary
    /// that no compiler-artifact line explains.
    metadata: OnceLock<Option<Vec<MetaPackage>>>,
}

impl CargoTest {
    pub fn new(cmd: Cmd) -> Self {
        Self {
            cmd,
            metadata: OnceLock::new(),
        }
    }

    /// The user's argv with the report-related changes shared by runs and listings.
    fn base_argv(&self) -> CargoArgv {
        let mut argv = CargoArgv::split(&self.cmd, &[&["test", "t"]]);
        remove_flag(&mut argv.args, &["-q", "--quiet"], false);
        if let Some(rest) = argv.rest.as_mut() {
            remove_flag(rest, &["-q", "--quiet"], false);
            remove_flag(rest, &["--format"], true);
        }
        if !has_flag(&argv.args, &["--no-fail-fast"]) {
            argv.args.push("--no-fail-fast".into());
        }
        if !has_flag(&argv.args, &["--message-format"]) {
            argv.args.push(MESSAGE_FORMAT.into());
        }
        argv
    }

    /// Parses a captured stream and names its binaries.
    fn parse(&self, text: &str, mode: text::Mode) -> text::Parsed {
        let mut parsed = text::parse(text, mode);
        for section in &mut parsed.sections {
            if let text::Binary::Unknown {
                crate_name,
                src,
                doc,
            } = &section.binary
            {
                section.binary = match self.resolve(crate_name, src.as_deref(), *doc) {
                    Some(id) => text::Binary::Known(id),
                    None => text::Binary::Nameless,
                };
            }
        }
        parsed
    }

    /// The binary id of a test binary not described by the stream, from `cargo metadata`.
    fn resolve(&self, crate_name: &str, src: Option<&str>, doc: bool) -> Option<String> {
        let packages = self
            .metadata
            .get_or_init(|| load_metadata(&self.cmd))
            .as_ref()?;
        // The first match wins: with a source path the match is exact unless two packages of
        // one workspace have the same target name *and* relative path.
        for p in packages {
            let root = Path::new(&p.manifest_path).parent()?;
            for t in &p.targets {
                if t.name.replace('-', "_") != crate_name {
                    continue;
                }
                if doc {
                    if t.kind.iter().any(|k| is_lib_kind(k)) {
                        return Some(format!("{}::doctest", p.name));
                    }
                    continue;
                }
                let same_src = src.is_none_or(|s| Path::new(&t.src_path) == root.join(s));
                if same_src {
                    return Some(binary_id(&p.name, t.kind.first()?, &t.name));
                }
            }
        }
        None
    }
}

impl Adapter for CargoTest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::CargoTest
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(101)
    }

    fn capabilities(&self) -> Capabilities {
        SELECT_AND_LIST
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        refuse_repeat_and_order(
            self.kind(),
            req,
            "run tests in a chosen order (libtest's shuffle is nightly-only)",
        )?;
        let mut argv = self.base_argv();
        if let Some(selection) = &req.selection {
            select(&mut argv, selection)?;
        }
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(req.env.iter().cloned());
        let capture = scratch.join(format!("cargo-test-{}.log", req.invocation));
        Ok(stdout_plan(cmd, capture, true))
    }

    /// The user's `cargo test` narrowed to the tests (without the flags flakehound adds to read
    /// the output).
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let mut argv = CargoArgv::split(&self.cmd, &[&["test", "t"]]);
        select(&mut argv, tests).ok()?;
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(env.iter().cloned());
        Some(cmd.display())
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let mut argv = self.base_argv();
        let rest = argv.rest.get_or_insert_with(Vec::new);
        rest.extend(["--list", "--format", "terse"].map(String::from));
        let cmd = argv.into_cmd(&self.cmd);
        Some(Ok(stdout_plan(
            cmd,
            scratch.join("cargo-test-list.log"),
            true,
        )))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let parsed = self.parse(stdout, text::Mode::List);
        if parsed.sections.is_empty() {
            return Err(Error::BadReport {
                path: "cargo test -- --list output".into(),
                reason: parsed.why_empty(),
            });
        }
        let mut refs = Vec::new();
        for s in &parsed.sections {
            let classname = s.binary.id();
            for name in &s.listed {
                refs.push(TestRef {
                    id: canonical_id(Dialect::Other, classname, name, None, None),
                    classname: classname.map(String::from),
                    name: name.clone(),
                    file: doc_test_location(name).map(|(f, _)| f.to_string()),
                    suite: classname.map(String::from).into_iter().collect(),
                });
            }
        }
        Ok(refs)
    }

    fn display_line<'a>(&self, line: &'a str) -> Option<Cow<'a, str>> {
        // cargo's JSON messages are for the parser only (see the module docs).
        if line.starts_with("{\"reason\":\"") {
            None
        } else {
            Some(Cow::Borrowed(line))
        }
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        let capture = captured(
            plan,
            "a cargo test plan reads its captured output, not report files",
        )?;
        let text = read_capture(RunnerKind::CargoTest, capture)?;
        let parsed = self.parse(&text, text::Mode::Run);
        if parsed.sections.is_empty() {
            return Err(Error::MissingReport {
                runner: RunnerKind::CargoTest.name(),
                detail: parsed.why_empty(),
            });
        }
        Ok(Results {
            info: vec![ReportInfo {
                tool: Some("cargo".into()),
                duration: parsed.duration,
                ..ReportInfo::default()
            }],
            cases: parsed.into_cases(),
        })
    }
}

/// Changes `argv` to run only `selection` (see the module docs).
fn select(argv: &mut CargoArgv, selection: &[TestRef]) -> Result<()> {
    if selection.is_empty() {
        return Err(Error::Command(
            "no tests selected: `cargo test -- --exact` without names would run every test".into(),
        ));
    }
    let has_doc = selection.iter().any(is_doc_test);
    // Targets to build and run, when every selected test names its binary.
    let user_targets = has_flag(&argv.args, TARGET_FLAGS);
    let mut targets: Vec<Vec<String>> = Vec::new();
    let mut all_known = !user_targets;
    for t in selection {
        match t.classname.as_deref().and_then(target_flags) {
            Some(flags) if !targets.contains(&flags) => targets.push(flags),
            Some(_) => {}
            None => all_known = false,
        }
    }
    let doc_flag = vec!["--doc".to_string()];
    // cargo refuses `--doc` together with any other target option.
    if all_known && (!targets.contains(&doc_flag) || targets.len() == 1) {
        argv.args.extend(targets.into_iter().flatten());
    }
    if let Some(at) = positionals(&argv.args, CARGO_VALUE_FLAGS).first() {
        // cargo's single TESTNAME filter.
        argv.args.remove(*at);
    }
    let rest = argv.rest.get_or_insert_with(Vec::new);
    for at in positionals(rest, LIBTEST_VALUE_FLAGS).into_iter().rev() {
        rest.remove(at);
    }
    remove_flag(rest, &["--exact"], false);
    if !has_doc {
        rest.push("--exact".into());
    }
    let mut seen = HashSet::new();
    for t in selection {
        let filter = if is_doc_test(t) {
            doc_filter(&t.name)
        } else {
            t.name.clone()
        };
        if seen.insert(filter.clone()) {
            rest.push(filter);
        }
    }
    Ok(())
}

fn is_doc_test(t: &TestRef) -> bool {
    t.classname
        .as_deref()
        .is_some_and(|c| c.ends_with("::doctest"))
        || (t.classname.is_none() && doc_test_location(&t.name).is_some())
}

/// The whitespace-free filter standing for a doc test: its file path (the longest
/// whitespace-free piece of it, should the path have spaces).
fn doc_filter(name: &str) -> String {
    let path = name.split(" - ").next().unwrap_or(name);
    path.split_whitespace()
        .max_by_key(|p| p.len())
        .unwrap_or(path)
        .to_string()
}

/// `src/lib.rs - item (line 5)` → `("src/lib.rs", 5)`.
fn doc_test_location(name: &str) -> Option<(&str, u32)> {
    let (file, rest) = name.split_once(" - ")?;
    let at = rest.rfind("(line ")?;
    let line = rest[at + 6..].split(')').next()?.trim().parse().ok()?;
    Some((file, line))
}

/// cargo options selecting the target of a nextest binary id.
fn target_flags(binary_id: &str) -> Option<Vec<String>> {
    let flags = match binary_id.split_once("::") {
        None => vec!["--lib".to_string()],
        Some((_, "doctest")) => vec!["--doc".to_string()],
        Some((_, target)) => match target.split_once('/') {
            Some(("bin", name)) => vec!["--bin".into(), name.into()],
            Some(("bench", name)) => vec!["--bench".into(), name.into()],
            Some(("example", name)) => vec!["--example".into(), name.into()],
            Some(_) => return None,
            None => vec!["--test".into(), target.into()],
        },
    };
    Some(flags)
}

/// nextest's binary id of a target (see the module docs).
pub(crate) fn binary_id(package: &str, kind: &str, target: &str) -> String {
    match kind {
        k if is_lib_kind(k) => package.to_string(),
        "test" => format!("{package}::{target}"),
        k => format!("{package}::{k}/{target}"),
    }
}

fn is_lib_kind(kind: &str) -> bool {
    matches!(
        kind,
        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro"
    )
}

/// Reads a captured stream (lossily: test output need not be UTF-8).
pub(crate) fn read_capture(runner: RunnerKind, capture: &Path) -> Result<String> {
    match std::fs::read(capture) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingReport {
            runner: runner.name(),
            detail: format!("its output was not captured to {}", capture.display()),
        }),
        Err(source) => Err(Error::Io {
            context: format!("cannot read {}", capture.display()),
            source,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Command lines.
// ---------------------------------------------------------------------------------------------

/// A user's cargo command split around its subcommand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CargoArgv {
    /// The words up to and including the subcommand: `cargo test`, or
    /// `env X=1 cargo +nightly nextest run`.
    pub(crate) head: Vec<String>,
    /// The subcommand's arguments before `--`.
    pub(crate) args: Vec<String>,
    /// The arguments after `--`, when there is a `--`.
    pub(crate) rest: Option<Vec<String>>,
    /// Index in `head` of the `cargo` word.
    cargo_at: Option<usize>,
}

impl CargoArgv {
    /// Splits `cmd` after the words of `subcommand` (alternatives for each successive word,
    /// e.g. `[["nextest"], ["run", "r"]]`), found in order after the `cargo` word. Without them
    /// the whole argument list is taken as the subcommand's.
    pub(crate) fn split(cmd: &Cmd, subcommand: &[&[&str]]) -> CargoArgv {
        let words: Vec<&String> = std::iter::once(&cmd.program).chain(&cmd.args).collect();
        let cargo_at = words.iter().position(|w| program_name(w) == "cargo");
        let mut at = cargo_at.map_or(1, |c| c + 1);
        let mut found = true;
        for alternatives in subcommand {
            match words[at.min(words.len())..]
                .iter()
                .position(|w| alternatives.contains(&w.as_str()))
            {
                Some(p) => at += p + 1,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            at = 1;
        }
        let head = words[..at].iter().map(|w| w.to_string()).collect();
        let mut args: Vec<String> = words[at..].iter().map(|w| w.to_string()).collect();
        let rest = args.iter().position(|a| a == "--").map(|dd| {
            let rest = args.split_off(dd + 1);
            args.pop();
            rest
        });
        CargoArgv {
            head,
            args,
            rest,
            cargo_at,
        }
    }

    /// The command line, with `base`'s environment and directory.
    pub(crate) fn into_cmd(self, base: &Cmd) -> Cmd {
        let mut words = self.head;
        words.extend(self.args);
        if let Some(rest) = self.rest {
            words.push("--".into());
            words.extend(rest);
        }
        cmd_from_words(words, "cargo", base)
    }

    /// Another cargo command with the same wrapper and toolchain (`cargo +nightly metadata`),
    /// plus the user's `--manifest-path`.
    pub(crate) fn cargo_cmd(&self, base: &Cmd, sub: &[&str]) -> Cmd {
        let mut words: Vec<String> = match self.cargo_at {
            Some(c) => {
                let mut w = self.head[..=c].to_vec();
                if let Some(tc) = self.head.get(c + 1).filter(|t| t.starts_with('+')) {
                    w.push(tc.clone());
                }
                w
            }
            None => vec!["cargo".into()],
        };
        words.extend(sub.iter().map(|s| s.to_string()));
        if let Some(path) = flag_value(&self.args, &["--manifest-path"]) {
            words.push("--manifest-path".into());
            words.push(path);
        }
        cmd_from_words(words, "cargo", base)
    }
}

/// How an argument matches one of `names`: `Some(true)` when it carries its value
/// (`--name=V`, or `-nV` for a one-letter flag), `Some(false)` for the bare flag.
fn flag_match(arg: &str, names: &[&str]) -> Option<bool> {
    for name in names {
        if arg == *name {
            return Some(false);
        }
        if let Some(after) = arg.strip_prefix(name) {
            let long = name.starts_with("--");
            if (long && after.starts_with('=')) || (!long && name.len() == 2) {
                return Some(true);
            }
        }
    }
    None
}

/// Whether `args` has one of the flags `names`, with or without a value.
pub(crate) fn has_flag(args: &[String], names: &[&str]) -> bool {
    args.iter().any(|a| flag_match(a, names).is_some())
}

/// The value of the last occurrence of one of the value-taking flags `names`.
pub(crate) fn flag_value(args: &[String], names: &[&str]) -> Option<String> {
    let mut value = None;
    let mut i = 0;
    while i < args.len() {
        match flag_match(&args[i], names) {
            Some(true) => {
                let a = &args[i];
                value = Some(match a.split_once('=').filter(|_| a.starts_with("--")) {
                    Some((_, v)) => v.to_string(),
                    None => a[2..].to_string(),
                });
            }
            Some(false) => {
                value = args.get(i + 1).cloned();
                i += 1;
            }
            None => {}
        }
        i += 1;
    }
    value
}

/// Removes every occurrence of the flags `names` (with their value when `takes_value`).
pub(crate) fn remove_flag(args: &mut Vec<String>, names: &[&str], takes_value: bool) {
    let mut i = 0;
    while i < args.len() {
        match flag_match(&args[i], names) {
            Some(false) => {
                let end = (i + if takes_value { 2 } else { 1 }).min(args.len());
                args.drain(i..end);
            }
            // `--name=V`, or `-nV` of a value-taking flag; a joined boolean one-letter flag is
            // a cluster of other flags too (`-qv`), and is left alone.
            Some(true) if takes_value || args[i].starts_with("--") => {
                args.remove(i);
            }
            _ => i += 1,
        }
    }
}

/// Indices of the positional arguments, given the options that take a value.
pub(crate) fn positionals(args: &[String], value_flags: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if !a.starts_with('-') || a == "-" {
            out.push(i);
        } else if flag_match(a, value_flags) == Some(false) {
            i += 1;
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// cargo metadata (fallback naming).
// ---------------------------------------------------------------------------------------------

struct MetaPackage {
    name: String,
    manifest_path: String,
    targets: Vec<MetaTarget>,
}

struct MetaTarget {
    name: String,
    kind: Vec<String>,
    src_path: String,
}

fn load_metadata(cmd: &Cmd) -> Option<Vec<MetaPackage>> {
    let argv = CargoArgv::split(cmd, &[&["test", "t"]]);
    let meta = argv.cargo_cmd(cmd, &["metadata", "--no-deps", "--format-version", "1"]);
    parse_metadata(&crate::exec::helper_output(&meta)?)
}

fn parse_metadata(json: &[u8]) -> Option<Vec<MetaPackage>> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let s = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(String::from);
    let packages = v.get("packages")?.as_array()?;
    Some(
        packages
            .iter()
            .filter_map(|p| {
                Some(MetaPackage {
                    name: s(p, "name")?,
                    manifest_path: s(p, "manifest_path")?,
                    targets: p
                        .get("targets")?
                        .as_array()?
                        .iter()
                        .filter_map(|t| {
                            Some(MetaTarget {
                                name: s(t, "name")?,
                                kind: t
                                    .get("kind")?
                                    .as_array()?
                                    .iter()
                                    .filter_map(|k| k.as_str().map(String::from))
                                    .collect(),
                                src_path: s(t, "src_path")?,
                            })
                        })
                        .collect(),
                })
            })
            .collect(),
    )
}

/// The package name in a cargo package id: `path+file:///x/foo#0.1.0` (name = last path
/// segment), `path+file:///x/y#foo@0.1.0`, `registry+https://...#foo@1.0.0`, or the old
/// `foo 0.1.0 (path+file:///x/foo)`.
pub(crate) fn package_name(id: &str) -> Option<&str> {
    if let Some((url, fragment)) = id.rsplit_once('#') {
        if let Some((name, _)) = fragment.split_once('@') {
            return Some(name);
        }
        if !fragment.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(fragment);
        }
        let path = url.split(['?']).next().unwrap_or(url);
        return path.rsplit('/').find(|s| !s.is_empty());
    }
    id.split_whitespace().next()
}

// ---------------------------------------------------------------------------------------------
// libtest's human output.
// ---------------------------------------------------------------------------------------------

mod text {
    //! The parser of the merged cargo + libtest stream (see the module docs of `cargo`).

    use std::borrow::Cow;
    use std::collections::HashMap;

    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Mode {
        /// A test run: result lines and failure blocks.
        Run,
        /// `-- --list --format terse`: `path: test` lines.
        List,
    }

    /// How a test binary is named.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(super) enum Binary {
        /// nextest's binary id.
        Known(String),
        /// Not explained by the stream: the crate name of the executable (`foo-0123abcd` →
        /// `foo`, or the `Doc-tests foo` name) and the source path cargo printed.
        Unknown {
            crate_name: String,
            src: Option<String>,
            doc: bool,
        },
        /// No name at all (output of a test binary run by hand, or naming failed).
        Nameless,
    }

    impl Binary {
        pub(super) fn id(&self) -> Option<&str> {
            match self {
                Binary::Known(id) => Some(id),
                _ => None,
            }
        }
    }

    #[derive(Debug)]
    pub(super) struct Test {
        pub(super) name: String,
        /// `None` while a result is pending (`--nocapture` with one thread prints the result
        /// after the test's own output).
        pub(super) outcome: Option<Outcome>,
        pub(super) reason: Option<String>,
        pub(super) duration: Option<f64>,
        /// Range of the test's `---- name stdout ----` block in the stream's lines.
        pub(super) block: Option<(usize, usize)>,
    }

    #[derive(Debug)]
    pub(super) struct Section {
        pub(super) binary: Binary,
        pub(super) tests: Vec<Test>,
        index: HashMap<String, usize>,
        /// Names in the closing `failures:` list.
        failed: Vec<String>,
        /// Saw `test result:`.
        pub(super) completed: bool,
        /// cargo's `process didn't exit successfully: ...` for this binary.
        crash: Option<String>,
        pub(super) listed: Vec<String>,
    }

    impl Section {
        fn new(binary: Binary) -> Self {
            Section {
                binary,
                tests: Vec::new(),
                index: HashMap::new(),
                failed: Vec::new(),
                completed: false,
                crash: None,
                listed: Vec::new(),
            }
        }

        fn test_mut(&mut self, name: &str) -> &mut Test {
            let at = *self.index.entry(name.to_string()).or_insert_with(|| {
                self.tests.push(Test {
                    name: name.to_string(),
                    outcome: None,
                    reason: None,
                    duration: None,
                    block: None,
                });
                self.tests.len() - 1
            });
            &mut self.tests[at]
        }
    }

    pub(super) struct Parsed {
        pub(super) sections: Vec<Section>,
        /// Sum of the binaries' `finished in` times.
        pub(super) duration: Option<f64>,
        lines: Vec<String>,
        /// First `error:` line of cargo (a failed build), for the error message.
        first_error: Option<String>,
    }

    pub(super) fn parse(text: &str, mode: Mode) -> Parsed {
        let lines: Vec<String> = text
            .lines()
            .map(|l| strip_ansi(l.strip_suffix('\r').unwrap_or(l)).into_owned())
            .collect();
        let mut p = Parser {
            mode,
            lines: &lines,
            sections: Vec::new(),
            artifacts: HashMap::new(),
            libs: HashMap::new(),
            duration: None,
            first_error: None,
            in_failures: false,
            block: None,
        };
        p.run();
        let (sections, duration, first_error) = (p.sections, p.duration, p.first_error);
        Parsed {
            sections,
            duration,
            lines,
            first_error,
        }
    }

    struct Parser<'l> {
        mode: Mode,
        lines: &'l [String],
        sections: Vec<Section>,
        /// Test executable file name → binary id, from compiler-artifact lines.
        artifacts: HashMap<String, String>,
        /// Library crate name → package name (for `Doc-tests crate`).
        libs: HashMap<String, String>,
        duration: Option<f64>,
        first_error: Option<String>,
        /// Between the first `failures:`/`successes:` header and the closing list.
        in_failures: bool,
        /// The open block: test index and first line.
        block: Option<(usize, usize)>,
    }

    impl Parser<'_> {
        fn run(&mut self) {
            let mut i = 0;
            while i < self.lines.len() {
                i = self.line(i);
            }
            self.close_block(self.lines.len());
        }

        fn cur(&mut self) -> Option<&mut Section> {
            self.sections.last_mut()
        }

        fn start(&mut self, binary: Binary) {
            self.close_block(usize::MAX);
            self.in_failures = false;
            self.sections.push(Section::new(binary));
        }

        fn close_block(&mut self, end: usize) {
            if let Some((test, start)) = self.block.take() {
                let end = end.min(self.lines.len());
                if let Some(s) = self.sections.last_mut() {
                    s.tests[test].block = Some((start, end.max(start)));
                }
            }
        }

        /// Handles line `i`; returns the index of the next line to handle.
        fn line(&mut self, i: usize) -> usize {
            let lines = self.lines;
            let line = lines[i].as_str();
            // Inside a failure block everything is the test's output, even what looks like
            // cargo's own lines (a test may print a nested cargo run).
            if self.block.is_some() {
                return self.in_block(i);
            }
            if line.starts_with("{\"reason\":") {
                self.artifact(line);
                return i + 1;
            }
            if let Some(binary) = self.status(line) {
                self.start(binary);
                return i + 1;
            }
            if self.first_error.is_none() && line.starts_with("error") {
                self.first_error = Some(line.to_string());
            }
            if self.sections.is_empty() {
                if running_line(line) {
                    self.start(Binary::Nameless);
                }
                return i + 1;
            }
            let trimmed = line.trim();
            if running_line(line) {
                return i + 1;
            }
            if let Some(summary) = line.strip_prefix("test result: ") {
                self.finish(summary);
                return i + 1;
            }
            if trimmed == "failures:" || trimmed == "successes:" {
                if line == trimmed {
                    if let Some(next) = self.name_list(i, false) {
                        return next;
                    }
                    self.in_failures = true;
                }
                return i + 1;
            }
            if self.in_failures {
                if let Some(test) = self.block_header(line) {
                    self.block = Some((test, i + 1));
                }
                return i + 1;
            }
            if let Some(rest) = line.strip_prefix("test ") {
                self.result(rest);
                return i + 1;
            }
            if self.mode == Mode::List {
                let entry = line
                    .strip_suffix(": test")
                    .or_else(|| line.strip_suffix(": benchmark"));
                if let Some(name) = entry {
                    if let Some(s) = self.cur() {
                        s.listed.push(name.to_string());
                    }
                    return i + 1;
                }
            }
            if let Some(msg) = trimmed.strip_prefix("process didn't exit successfully: ") {
                if let Some(s) = self.cur().filter(|s| !s.completed) {
                    s.crash = Some(msg.to_string());
                }
                return i + 1;
            }
            // A pending result printed after the test's own output (`--nocapture`).
            if let Some((outcome, reason, duration)) = parse_result(trimmed) {
                if let Some(s) = self.cur() {
                    if let Some(t) = s.tests.iter_mut().rev().find(|t| t.outcome.is_none()) {
                        t.outcome = Some(outcome);
                        t.reason = reason;
                        t.duration = duration;
                    }
                }
            }
            i + 1
        }

        /// Inside a failure block: a line ends it only when it is the next block's header,
        /// the closing name list or (after that list) `test result:`; anything else, even a
        /// nested `cargo test` output, is the test's output.
        fn in_block(&mut self, i: usize) -> usize {
            let lines = self.lines;
            let line = lines[i].as_str();
            if let Some(test) = self.block_header(line) {
                self.close_block(i);
                self.block = Some((test, i + 1));
                return i + 1;
            }
            if line == "failures:" || line == "successes:" {
                if let Some(next) = self.name_list(i, true) {
                    self.close_block(i);
                    return next;
                }
            }
            i + 1
        }

        /// `---- name stdout ----` for a test of this binary that has no block yet.
        fn block_header(&self, line: &str) -> Option<usize> {
            let name = line
                .strip_prefix("---- ")?
                .strip_suffix(" stdout ----")
                .or_else(|| line.strip_prefix("---- ")?.strip_suffix(" stderr ----"))?;
            let s = self.sections.last()?;
            let &at = s.index.get(name)?;
            (s.tests[at].block.is_none()).then_some(at)
        }

        /// At a `failures:` / `successes:` line: when the lines after it are the closing list
        /// of names (indented by four spaces, followed by a blank line, `test result:` or the
        /// end), reads it and returns the index after it. Each name must be a failed (resp.
        /// passed) or still pending test of this binary; when `strict` is false (no block is
        /// open, e.g. `--nocapture` output) names without a result line are accepted too.
        /// Inside a block, that check is what tells the real list from a nested cargo output.
        fn name_list(&mut self, i: usize, strict: bool) -> Option<usize> {
            let failures = self.lines[i] == "failures:";
            let wanted = if failures {
                Outcome::Failed
            } else {
                Outcome::Passed
            };
            let s = self.sections.last()?;
            let mut j = i + 1;
            let mut names = Vec::new();
            while let Some(name) = self.lines.get(j).and_then(|l| l.strip_prefix("    ")) {
                let fits = match s.index.get(name) {
                    Some(&t) => s.tests[t].outcome.is_none_or(|o| o == wanted),
                    None => !strict,
                };
                if !fits || name.trim().is_empty() {
                    return None;
                }
                names.push(name.to_string());
                j += 1;
            }
            let closes = self
                .lines
                .get(j)
                .is_none_or(|l| l.trim().is_empty() || l.starts_with("test result: "));
            if names.is_empty() || !closes {
                return None;
            }
            let s = self.sections.last_mut()?;
            if failures {
                s.failed.extend(names);
            }
            self.in_failures = false;
            Some(j)
        }

        fn finish(&mut self, summary: &str) {
            self.close_block(usize::MAX);
            self.in_failures = false;
            if let Some(d) = summary
                .rsplit_once("finished in ")
                .and_then(|(_, t)| t.trim().strip_suffix('s'))
                .and_then(flakehound_model::parse_seconds)
            {
                *self.duration.get_or_insert(0.0) += d;
            }
            if let Some(s) = self.cur() {
                s.completed = true;
            }
        }

        /// `test NAME ... RESULT` (the `test ` prefix removed).
        fn result(&mut self, rest: &str) {
            let Some((name, result)) = rest.split_once(" ... ") else {
                return;
            };
            let name = strip_mode(name);
            let Some(s) = self.cur() else { return };
            let t = s.test_mut(name);
            if let Some((outcome, reason, duration)) = parse_result(result.trim()) {
                t.outcome = Some(outcome);
                t.reason = reason;
                t.duration = duration;
            }
        }

        /// A cargo `Running ...` / `Doc-tests ...` status line naming a test binary.
        fn status(&self, line: &str) -> Option<Binary> {
            if !line.starts_with(' ') {
                return None;
            }
            let t = line.trim_start();
            if let Some(krate) = t.strip_prefix("Doc-tests ") {
                let krate = krate.trim();
                if krate.is_empty() {
                    return None;
                }
                return Some(match self.libs.get(krate) {
                    Some(pkg) => Binary::Known(format!("{pkg}::doctest")),
                    None => Binary::Unknown {
                        crate_name: krate.to_string(),
                        src: None,
                        doc: true,
                    },
                });
            }
            let what = t.strip_prefix("Running ")?;
            let (src, exe) = if let Some(cmd) = what.strip_prefix('`') {
                // `cargo test -v`: Running `/path/to/foo-0123abcd --exact name`.
                let cmd = cmd.strip_suffix('`').unwrap_or(cmd);
                let exe = cmd.split(' ').next()?.trim_matches(['\'', '"']);
                (None, exe)
            } else {
                let what = what.strip_suffix(')')?;
                let (src, exe) = what.rsplit_once(" (")?;
                (Some(src.strip_prefix("unittests ").unwrap_or(src)), exe)
            };
            let file = exe.rsplit(['/', '\\']).next()?;
            let file = file.strip_suffix(".exe").unwrap_or(file);
            if let Some(id) = self.artifacts.get(file) {
                return Some(Binary::Known(id.clone()));
            }
            let krate = match file.rsplit_once('-') {
                Some((k, hash)) if is_hash(hash) => k,
                // In verbose mode, a `Running` line without a hashed executable is a compiler
                // or build-script run, not a test binary.
                _ if src.is_none() => return None,
                _ => file,
            };
            Some(Binary::Unknown {
                crate_name: krate.to_string(),
                src: src.map(String::from),
                doc: false,
            })
        }

        /// A cargo JSON message: remembers test executables and libraries.
        fn artifact(&mut self, line: &str) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                return;
            };
            if v.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact") {
                return;
            }
            let Some(pkg) = v
                .get("package_id")
                .and_then(|p| p.as_str())
                .and_then(package_name)
            else {
                return;
            };
            let Some(target) = v.get("target") else {
                return;
            };
            let name = target.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let kind = target
                .get("kind")
                .and_then(|k| k.as_array())
                .and_then(|k| k.first())
                .and_then(|k| k.as_str())
                .unwrap_or("");
            if name.is_empty() || kind.is_empty() {
                return;
            }
            if is_lib_kind(kind) {
                self.libs
                    .entry(name.replace('-', "_"))
                    .or_insert_with(|| pkg.to_string());
            }
            let exe = v.get("executable").and_then(|e| e.as_str());
            if let Some(file) = exe.and_then(|e| e.rsplit(['/', '\\']).next()) {
                let file = file.strip_suffix(".exe").unwrap_or(file);
                self.artifacts
                    .insert(file.to_string(), binary_id(pkg, kind, name));
            }
        }
    }

    /// `running 3 tests` / `running 1 test`.
    fn running_line(line: &str) -> bool {
        line.strip_prefix("running ")
            .and_then(|r| r.strip_suffix(" tests").or_else(|| r.strip_suffix(" test")))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    fn is_hash(s: &str) -> bool {
        s.len() >= 8 && s.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Drops libtest's ` - should panic` / ` - compile fail` / ` - compile` mode suffix.
    fn strip_mode(name: &str) -> &str {
        for suffix in [" - should panic", " - compile fail", " - compile"] {
            if let Some(n) = name.strip_suffix(suffix) {
                return n;
            }
        }
        name
    }

    type ParsedResult = (Outcome, Option<String>, Option<f64>);

    /// `ok`, `FAILED`, `ignored`, `ignored, reason`, `bench: ...`, each optionally followed by
    /// `<0.001s>` (`--report-time`).
    pub(super) fn parse_result(s: &str) -> Option<ParsedResult> {
        let (word, time) = match s.rsplit_once(" <") {
            Some((w, t)) if t.ends_with("s>") => (w, t.strip_suffix("s>")),
            _ => (s, None),
        };
        let duration = time.and_then(flakehound_model::parse_seconds);
        let (outcome, reason) = match word {
            "ok" => (Outcome::Passed, None),
            "FAILED" => (Outcome::Failed, None),
            "ignored" => (Outcome::Skipped, None),
            w if w.starts_with("ignored, ") => {
                (Outcome::Skipped, Some(w["ignored, ".len()..].to_string()))
            }
            w if w.starts_with("bench:") => (Outcome::Passed, None),
            _ => return None,
        };
        Some((outcome, reason, duration))
    }

    /// Removes ANSI escape sequences (CSI `ESC [ ... final` and OSC `ESC ] ... BEL|ESC \`), in
    /// case the user forces colours (`CARGO_TERM_COLOR=always`, `--color always`).
    pub(super) fn strip_ansi(line: &str) -> Cow<'_, str> {
        if !line.contains('\x1b') {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len());
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\x1b' {
                out.push(c);
                continue;
            }
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        Cow::Owned(out)
    }

    /// What a failure block tells: a one-line message, its kind and the source location.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub(super) struct Why {
        pub(super) kind: Option<String>,
        pub(super) message: Option<String>,
        pub(super) file: Option<String>,
        pub(super) line: Option<u32>,
    }

    /// Reads a failure block. In order of preference: the first panic (`thread 'x' panicked
    /// at src/lib.rs:10:5:` + message, or before Rust 1.73 `thread 'x' panicked at 'message',
    /// src/lib.rs:10:5`), refined by libtest's `should_panic` notes; the `Error: ...` of a test
    /// returning `Err`; the compiler error of a doc test that did not compile; the first line.
    pub(super) fn why(block: &[String]) -> Why {
        let mut why = Why::default();
        let trimmed = || block.iter().map(|l| l.trim());
        for (i, line) in trimmed().enumerate() {
            let Some((at, inline)) = panic_line(line) else {
                continue;
            };
            why.kind = Some("panic".into());
            why.message = match inline {
                Some(msg) => Some(msg),
                None => trimmed()
                    .skip(i + 1)
                    .find(|l| !l.is_empty())
                    .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                    .filter(|l| *l != "stack backtrace:")
                    .map(one_line),
            };
            (why.file, why.line) = location(at);
            break;
        }
        for (i, line) in trimmed().enumerate() {
            if let Some(note) = line.strip_prefix("note: test did not panic as expected") {
                why.kind = Some("should_panic".into());
                why.message = Some("test did not panic as expected".into());
                if let Some(at) = note.trim().strip_prefix("at ") {
                    (why.file, why.line) = location(at);
                }
            } else if line == "note: panic did not contain expected string" {
                why.kind = Some("should_panic".into());
                let details: Vec<&str> = trimmed()
                    .skip(i + 1)
                    .take_while(|l| {
                        l.starts_with("panic message:") || l.starts_with("expected substring:")
                    })
                    .collect();
                why.message = Some(if details.is_empty() {
                    "panic did not contain expected string".into()
                } else {
                    one_line(&format!(
                        "panic did not contain expected string ({})",
                        details.join(", ")
                    ))
                });
            }
        }
        if why.message.is_some() {
            return why;
        }
        if let Some(err) = trimmed().find(|l| l.starts_with("Error: ")) {
            why.kind = Some("error".into());
            why.message = Some(one_line(err));
        } else if let Some(err) = trimmed()
            .any(|l| l == "Couldn't compile the test.")
            .then(|| trimmed().find(|l| l.starts_with("error[") || l.starts_with("error: ")))
            .flatten()
        {
            why.kind = Some("compile error".into());
            why.message = Some(one_line(err));
        } else {
            why.message = trimmed().find(|l| !l.is_empty()).map(one_line);
        }
        why
    }

    /// `thread 'name' [(id) ]panicked at LOCATION:` → (location, None);
    /// `thread 'name' panicked at 'message', LOCATION` → (location, Some(message)).
    fn panic_line(line: &str) -> Option<(&str, Option<String>)> {
        let rest = line.strip_prefix("thread '")?;
        let (_, after) = rest.split_once("' ")?;
        let at = after.find("panicked at ")?;
        let tail = &after[at + "panicked at ".len()..];
        if let Some(quoted) = tail.strip_prefix('\'') {
            let (msg, loc) = quoted.rsplit_once("', ")?;
            return Some((loc, Some(one_line(msg))));
        }
        Some((tail.strip_suffix(':').unwrap_or(tail), None))
    }

    /// `src/lib.rs:10:5` → file and line.
    fn location(at: &str) -> (Option<String>, Option<u32>) {
        let mut parts = at.trim().rsplitn(3, ':');
        let (col, line, file) = (parts.next(), parts.next(), parts.next());
        match (file, line, col) {
            (Some(f), Some(l), Some(c))
                if !f.is_empty() && c.parse::<u32>().is_ok() && l.parse::<u32>().is_ok() =>
            {
                (Some(f.to_string()), l.parse().ok())
            }
            _ => (None, None),
        }
    }

    /// First line, trimmed and capped at 500 bytes (a [`Failure::message`] is one line).
    pub(super) fn one_line(text: &str) -> String {
        let line = text.trim().lines().next().unwrap_or("").trim();
        if line.len() <= 500 {
            return line.to_string();
        }
        let mut end = 500;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &line[..end])
    }

    impl Parsed {
        /// Why the stream holds no test binary at all.
        pub(super) fn why_empty(&self) -> String {
            match &self.first_error {
                Some(e) => format!("no test binary ran; cargo said: {e}"),
                None if self.lines.iter().all(|l| l.trim().is_empty()) => {
                    "the output is empty".into()
                }
                None => "no libtest output in it (no `running N tests` line)".into(),
            }
        }

        pub(super) fn into_cases(self) -> Vec<TestCase> {
            let mut cases = Vec::new();
            for s in &self.sections {
                let classname = s.binary.id();
                let mut crash_blamed = false;
                for t in &s.tests {
                    let outcome = match t.outcome {
                        Some(o) => o,
                        None if !s.completed => {
                            crash_blamed = true;
                            Outcome::Errored
                        }
                        None if s.failed.contains(&t.name) => Outcome::Failed,
                        None => Outcome::Passed,
                    };
                    cases.push(self.case(classname, t, outcome, s));
                }
                // Listed as failed without a result line (e.g. terse output).
                for name in &s.failed {
                    if !s.index.contains_key(name) {
                        let t = Test {
                            name: name.clone(),
                            outcome: Some(Outcome::Failed),
                            reason: None,
                            duration: None,
                            block: None,
                        };
                        cases.push(self.case(classname, &t, Outcome::Failed, s));
                    }
                }
                if !s.completed && !crash_blamed && s.listed.is_empty() {
                    // The binary died without naming a culprit (a test aborted the process,
                    // a stack overflow, a missing shared library): one record says so, rather
                    // than a run that looks clean.
                    let message = match &s.crash {
                        Some(c) => format!("test binary crashed: {c}"),
                        None => "test binary ended without a `test result:` line".into(),
                    };
                    let mut attempt = Attempt::new(Outcome::Errored);
                    attempt.failure = Some(Failure {
                        kind: Some("crash".into()),
                        message: Some(one_line(&message)),
                        details: None,
                    });
                    cases.push(TestCase {
                        id: canonical_id(Dialect::Other, classname, "[crashed]", None, None),
                        classname: classname.map(String::from),
                        name: "[crashed]".into(),
                        file: None,
                        line: None,
                        suite: classname.map(String::from).into_iter().collect(),
                        outcome: Outcome::Errored,
                        attempts: vec![attempt],
                        properties: Vec::new(),
                        timestamp: None,
                    });
                }
            }
            cases
        }

        fn case(
            &self,
            classname: Option<&str>,
            t: &Test,
            outcome: Outcome,
            s: &Section,
        ) -> TestCase {
            let block = t.block.map(|(a, b)| &self.lines[a..b]).unwrap_or(&[]);
            let text = trim_text(&block.join("\n"));
            let mut attempt = Attempt::new(outcome);
            attempt.duration = t.duration;
            let mut file = None;
            let mut line = None;
            match outcome {
                Outcome::Failed | Outcome::Errored => {
                    let why = why(block);
                    file = why.file;
                    line = why.line;
                    let message = match (outcome, why.message) {
                        (Outcome::Errored, m) => Some(match m {
                            Some(m) => format!("no test result (the test binary crashed): {m}"),
                            None => match &s.crash {
                                Some(c) => one_line(&format!("no test result: {c}")),
                                None => "no test result (the test binary crashed)".into(),
                            },
                        }),
                        (_, m) => m,
                    };
                    let failure = Failure {
                        kind: why.kind,
                        message,
                        details: text.clone(),
                    };
                    attempt.failure = (!failure.is_empty()).then_some(failure);
                }
                Outcome::Skipped => {
                    attempt.failure = t.reason.as_ref().map(|r| Failure {
                        message: Some(one_line(r)),
                        ..Failure::default()
                    });
                }
                Outcome::Passed => {}
            }
            attempt.stdout = text;
            // A doc test's own file and line are in its name (its panic location is a
            // temporary file of rustdoc).
            if let Some((f, l)) = doc_test_location(&t.name) {
                file = Some(f.to_string());
                line = Some(l);
            }
            TestCase {
                id: canonical_id(Dialect::Other, classname, &t.name, None, None),
                classname: classname.map(String::from),
                name: t.name.clone(),
                file,
                line,
                suite: classname.map(String::from).into_iter().collect(),
                outcome,
                attempts: vec![attempt],
                properties: Vec::new(),
                timestamp: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::text::{Binary, Mode, parse, why};
    use super::*;
    use crate::{Order, ReportSource};
    use std::path::PathBuf;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn adapter(line: &str) -> CargoTest {
        CargoTest::new(Cmd::from_argv(&argv(line)).unwrap())
    }

    fn tref(classname: Option<&str>, name: &str) -> TestRef {
        TestRef {
            id: canonical_id(Dialect::Other, classname, name, None, None),
            classname: classname.map(String::from),
            name: name.into(),
            file: None,
            suite: Vec::new(),
        }
    }

    fn plan_args(line: &str, selection: Option<Vec<TestRef>>) -> String {
        let req = Request {
            selection,
            invocation: 3,
            ..Request::default()
        };
        let plan = adapter(line).plan(&req, Path::new("/s")).unwrap();
        assert_eq!(
            plan.report,
            ReportSource::Stdout {
                capture: PathBuf::from("/s/cargo-test-3.log"),
                merge_stderr: true
            }
        );
        plan.cmd.display()
    }

    /// A compiler-artifact line as cargo prints it (`reason` first).
    fn artifact(pkg_id: &str, kind: &str, name: &str, exe: Option<&str>) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","package_id":{},"manifest_path":"/x/Cargo.toml","target":{{"kind":[{}],"crate_types":["lib"],"name":{},"src_path":"/x"}},"profile":{{"test":{}}},"features":[],"filenames":[],"executable":{},"fresh":true}}"#,
            serde_json::json!(pkg_id),
            serde_json::json!(kind),
            serde_json::json!(name),
            exe.is_some(),
            serde_json::json!(exe),
        )
    }

    /// Parses a stream without metadata fallback.
    fn cases(text: &str) -> Vec<TestCase> {
        parse(text, Mode::Run).into_cases()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(String, Outcome)> {
        cases.iter().map(|c| (c.id.clone(), c.outcome)).collect()
    }

    /// A real `cargo test --no-fail-fast --message-format json-render-diagnostics` stream
    /// (Rust 1.95), trimmed: lib unit tests, a bin, an integration test and doc tests.
    fn full_stream() -> String {
        let lib = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "lib",
            "my_pkg",
            Some("/tmp/p/target/debug/deps/my_pkg-c93b59a92189d5d2"),
        );
        let rlib = artifact("path+file:///tmp/p#my-pkg@0.1.0", "lib", "my_pkg", None);
        let bin = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "bin",
            "tool",
            Some("/tmp/p/target/debug/deps/tool-83ed23d4899bfe91"),
        );
        let it = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "test",
            "it",
            Some("/tmp/p/target/debug/deps/it-6a64749ae52f1dfe"),
        );
        format!(
            "{rlib}\n{lib}\n{bin}\n{it}\n{}",
            r#"{"reason":"build-finished","success":true}
   Compiling my-pkg v0.1.0 (/tmp/p)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.61s
     Running unittests src/lib.rs (target/debug/deps/my_pkg-c93b59a92189d5d2)

running 9 tests
test tests::ignored_plain ... ignored
test tests::ignored_reason ... ignored, slow one
test tests::multiline ... FAILED
test tests::fails ... FAILED
test tests::passes ... ok
test tests::result_err ... FAILED
test tests::sp_none - should panic ... FAILED
test tests::sp_ok - should panic ... ok
test tests::sp_wrong - should panic ... FAILED

failures:

---- tests::multiline stdout ----

thread 'tests::multiline' (9220) panicked at src/lib.rs:37:22:
line one
line two
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::fails stdout ----
some stdout
some stderr

thread 'tests::fails' (9219) panicked at src/lib.rs:20:69:
assertion `left == right` failed: math is broken
  left: 2
 right: 3
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.

---- tests::result_err stdout ----
Error: "bad result"

---- tests::sp_none stdout ----
note: test did not panic as expected at src/lib.rs:35:8
---- tests::sp_wrong stdout ----

thread 'tests::sp_wrong' (9225) panicked at src/lib.rs:32:21:
bang
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
note: panic did not contain expected string
      panic message: "bang"
 expected substring: "boom"

failures:
    tests::fails
    tests::multiline
    tests::result_err
    tests::sp_none
    tests::sp_wrong

test result: FAILED. 2 passed; 5 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.13s

error: test failed, to rerun pass `--lib`
     Running unittests src/bin/tool.rs (target/debug/deps/tool-83ed23d4899bfe91)

running 1 test
test bin_test ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/it.rs (target/debug/deps/it-6a64749ae52f1dfe)

running 3 tests
test it_passes ... ok
test m::inner ... ok
test it_fails ... FAILED

failures:

---- it_fails stdout ----

thread 'it_fails' (9229) panicked at tests/it.rs:4:17:
assertion failed: false
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    it_fails

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s

error: test failed, to rerun pass `--test it`
   Doc-tests my_pkg

running 3 tests
test src/lib.rs - (line 2) ... ok
test src/lib.rs - noop (line 10) ... ok
test src/lib.rs - (line 5) ... FAILED

failures:

---- src/lib.rs - (line 5) stdout ----
Test executable failed (exit status: 101).

stderr:

thread 'main' (9274) panicked at /tmp/rustdoctestbbRi7f/doctest_bundle_2024.rs:14:1:
assertion `left == right` failed
  left: 2
 right: 3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace



failures:
    src/lib.rs - (line 5)

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.27s

all doctests ran in 0.79s; merged doctests compilation took 0.52s
error: doctest failed, to rerun pass `--doc`
error: 3 targets failed:
    `--lib`
    `--test it`
    `--doc`
"#
        )
    }

    #[test]
    fn parses_a_full_run_with_ids_like_nextest() {
        let parsed = parse(&full_stream(), Mode::Run);
        assert!((parsed.duration.unwrap() - 0.50).abs() < 1e-9);
        let cases = parsed.into_cases();
        assert_eq!(
            outcomes(&cases),
            vec![
                ("my-pkg::tests::ignored_plain".into(), Outcome::Skipped),
                ("my-pkg::tests::ignored_reason".into(), Outcome::Skipped),
                ("my-pkg::tests::multiline".into(), Outcome::Failed),
                ("my-pkg::tests::fails".into(), Outcome::Failed),
                ("my-pkg::tests::passes".into(), Outcome::Passed),
                ("my-pkg::tests::result_err".into(), Outcome::Failed),
                ("my-pkg::tests::sp_none".into(), Outcome::Failed),
                ("my-pkg::tests::sp_ok".into(), Outcome::Passed),
                ("my-pkg::tests::sp_wrong".into(), Outcome::Failed),
                ("my-pkg::bin/tool::bin_test".into(), Outcome::Passed),
                ("my-pkg::it::it_passes".into(), Outcome::Passed),
                ("my-pkg::it::m::inner".into(), Outcome::Passed),
                ("my-pkg::it::it_fails".into(), Outcome::Failed),
                (
                    "my-pkg::doctest::src/lib.rs - (line 2)".into(),
                    Outcome::Passed
                ),
                (
                    "my-pkg::doctest::src/lib.rs - noop (line 10)".into(),
                    Outcome::Passed
                ),
                (
                    "my-pkg::doctest::src/lib.rs - (line 5)".into(),
                    Outcome::Failed
                ),
            ]
        );
        let by_id = |id: &str| cases.iter().find(|c| c.id == id).unwrap();
        let failure = |id: &str| by_id(id).attempts[0].failure.clone().unwrap();

        let fails = by_id("my-pkg::tests::fails");
        assert_eq!(fails.classname.as_deref(), Some("my-pkg"));
        assert_eq!(fails.name, "tests::fails");
        assert_eq!(fails.suite, vec!["my-pkg".to_string()]);
        assert_eq!(
            (fails.file.as_deref(), fails.line),
            (Some("src/lib.rs"), Some(20))
        );
        let f = failure("my-pkg::tests::fails");
        assert_eq!(f.kind.as_deref(), Some("panic"));
        assert_eq!(
            f.message.as_deref(),
            Some("assertion `left == right` failed: math is broken")
        );
        let details = f.details.unwrap();
        assert!(details.starts_with("some stdout\nsome stderr"), "{details}");
        assert!(details.contains(" right: 3"), "{details}");
        assert!(details.ends_with("verbose backtrace."), "{details}");
        assert_eq!(fails.attempts[0].stdout.as_deref(), Some(details.as_str()));

        assert_eq!(
            failure("my-pkg::tests::multiline").message.as_deref(),
            Some("line one")
        );
        let f = failure("my-pkg::tests::result_err");
        assert_eq!(
            (f.kind.as_deref(), f.message.as_deref()),
            (Some("error"), Some("Error: \"bad result\""))
        );
        let sp_none = by_id("my-pkg::tests::sp_none");
        assert_eq!(
            (sp_none.file.as_deref(), sp_none.line),
            (Some("src/lib.rs"), Some(35))
        );
        assert_eq!(
            failure("my-pkg::tests::sp_none").message.as_deref(),
            Some("test did not panic as expected")
        );
        let f = failure("my-pkg::tests::sp_wrong");
        assert_eq!(f.kind.as_deref(), Some("should_panic"));
        assert_eq!(
            f.message.as_deref(),
            Some(
                "panic did not contain expected string (panic message: \"bang\", \
                 expected substring: \"boom\")"
            )
        );
        assert_eq!(by_id("my-pkg::tests::sp_wrong").line, Some(32));
        assert_eq!(
            failure("my-pkg::tests::ignored_reason").message.as_deref(),
            Some("slow one")
        );
        assert!(
            by_id("my-pkg::tests::ignored_plain").attempts[0]
                .failure
                .is_none()
        );
        assert!(by_id("my-pkg::tests::passes").attempts[0].failure.is_none());

        let it = by_id("my-pkg::it::it_fails");
        assert_eq!(
            (it.file.as_deref(), it.line),
            (Some("tests/it.rs"), Some(4))
        );
        // The block ends before the closing list.
        let details = failure("my-pkg::it::it_fails").details.unwrap();
        assert!(!details.contains("failures:"), "{details}");

        let doc = by_id("my-pkg::doctest::src/lib.rs - (line 5)");
        assert_eq!(
            (doc.file.as_deref(), doc.line),
            (Some("src/lib.rs"), Some(5))
        );
        assert_eq!(
            failure("my-pkg::doctest::src/lib.rs - (line 5)")
                .message
                .as_deref(),
            Some("assertion `left == right` failed")
        );
    }

    #[test]
    fn old_panic_format_and_compile_errors() {
        let w = why(&argv_lines(&[
            "thread 'a::b' panicked at 'called `Option::unwrap()` on a `None` value', src/a.rs:7:9",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]));
        assert_eq!(
            w.message.as_deref(),
            Some("called `Option::unwrap()` on a `None` value")
        );
        assert_eq!((w.file.as_deref(), w.line), (Some("src/a.rs"), Some(7)));

        let w = why(&argv_lines(&[
            "Couldn't compile the test.",
            "error[E0425]: cannot find value `x` in this scope",
        ]));
        assert_eq!(w.kind.as_deref(), Some("compile error"));
        assert_eq!(
            w.message.as_deref(),
            Some("error[E0425]: cannot find value `x` in this scope")
        );

        // A panic in a spawned thread, then the test's own panic: the first one tells.
        let w = why(&argv_lines(&[
            "thread '<unnamed>' panicked at src/w.rs:3:5:",
            "worker died",
            "thread 't' panicked at src/t.rs:9:1:",
            "join failed",
        ]));
        assert_eq!(
            (w.message.as_deref(), w.line),
            (Some("worker died"), Some(3))
        );
        let w = why(&argv_lines(&["", "just text"]));
        assert_eq!((w.kind, w.message.as_deref()), (None, Some("just text")));
        assert_eq!(why(&[]), text::Why::default());
    }

    fn argv_lines(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn nested_cargo_output_in_a_block_stays_in_the_block() {
        // A test that runs `cargo test` itself and fails, printing the nested output.
        let text = "     Running unittests src/lib.rs (target/debug/deps/outer-0123456789abcdef)

running 2 tests
test outer_fails ... FAILED
test outer_ok ... ok

failures:

---- outer_fails stdout ----
nested:
running 1 test
test inner ... FAILED

failures:

---- inner stdout ----
inner boom

failures:
    inner

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

thread 'outer_fails' panicked at src/lib.rs:5:5:
nested run failed

failures:
    outer_fails

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
";
        let cases = cases(text);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("outer_fails".into(), Outcome::Failed),
                ("outer_ok".into(), Outcome::Passed)
            ]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("nested run failed"));
        assert!(f.details.as_ref().unwrap().contains("inner boom"));
    }

    #[test]
    fn unknown_binaries_keep_their_crate_for_the_fallback() {
        let text = "     Running unittests src/lib.rs (target/debug/deps/foo_bar-0123456789abcdef)

running 1 test
test t ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests foo_bar

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
     Running `/abs/target/debug/deps/it-0123456789abcdef --exact t`
     Running `rustc --crate-name x`
";
        let parsed = parse(text, Mode::Run);
        let bins: Vec<&Binary> = parsed.sections.iter().map(|s| &s.binary).collect();
        assert_eq!(
            bins,
            vec![
                &Binary::Unknown {
                    crate_name: "foo_bar".into(),
                    src: Some("src/lib.rs".into()),
                    doc: false
                },
                &Binary::Unknown {
                    crate_name: "foo_bar".into(),
                    src: None,
                    doc: true
                },
                &Binary::Unknown {
                    crate_name: "it".into(),
                    src: None,
                    doc: false
                },
            ]
        );
        // Without names, the id is the bare test path.
        assert_eq!(
            outcomes(&parsed.into_cases())[0],
            ("t".into(), Outcome::Passed)
        );
    }

    #[test]
    fn metadata_fallback_names_binaries() {
        let json = serde_json::json!({"packages": [
            {"name": "a", "manifest_path": "/w/a/Cargo.toml", "targets": [
                {"name": "a", "kind": ["lib"], "src_path": "/w/a/src/lib.rs"},
                {"name": "cli", "kind": ["test"], "src_path": "/w/a/tests/cli.rs"}]},
            {"name": "b-b", "manifest_path": "/w/b/Cargo.toml", "targets": [
                {"name": "b-b", "kind": ["lib"], "src_path": "/w/b/src/lib.rs"},
                {"name": "tool", "kind": ["bin"], "src_path": "/w/b/src/main.rs"},
                {"name": "cli", "kind": ["test"], "src_path": "/w/b/tests/cli/main.rs"}]}
        ]});
        let a = adapter("cargo test");
        assert!(
            a.metadata
                .set(parse_metadata(json.to_string().as_bytes()))
                .is_ok()
        );
        assert_eq!(
            a.resolve("b_b", Some("src/lib.rs"), false).as_deref(),
            Some("b-b")
        );
        assert_eq!(
            a.resolve("cli", Some("tests/cli/main.rs"), false)
                .as_deref(),
            Some("b-b::cli")
        );
        assert_eq!(
            a.resolve("cli", Some("tests/cli.rs"), false).as_deref(),
            Some("a::cli")
        );
        assert_eq!(
            a.resolve("tool", Some("src/main.rs"), false).as_deref(),
            Some("b-b::bin/tool")
        );
        assert_eq!(
            a.resolve("b_b", None, true).as_deref(),
            Some("b-b::doctest")
        );
        assert_eq!(a.resolve("nope", None, false), None);
        assert!(parse_metadata(b"not json").is_none());
    }

    #[test]
    fn crashed_binary_and_pending_results() {
        let text = "     Running tests/crash.rs (target/debug/deps/crash-0123456789abcdef)

running 2 tests
test fine ... ok
error: test failed, to rerun pass `--test crash`

Caused by:
  process didn't exit successfully: `/t/crash-0123456789abcdef` (signal: 6, SIGABRT: process abort signal)
     Running tests/serial.rs (target/debug/deps/serial-0123456789abcdef)

running 2 tests
test a ... some output of a
ok
test b ... printing without newline
more output

failures:
    b

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
     Running tests/hang.rs (target/debug/deps/hang-0123456789abcdef)

running 1 test
test slow ... 
";
        let cases = cases(text);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("fine".into(), Outcome::Passed),
                ("[crashed]".into(), Outcome::Errored),
                ("a".into(), Outcome::Passed),
                ("b".into(), Outcome::Failed),
                ("slow".into(), Outcome::Errored),
            ]
        );
        let crash = cases[1].attempts[0].failure.as_ref().unwrap();
        assert!(
            crash.message.as_ref().unwrap().contains("SIGABRT"),
            "{crash:?}"
        );
        assert_eq!(
            cases[4].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("no test result (the test binary crashed)")
        );
    }

    #[test]
    fn show_output_colours_and_report_time() {
        let text = "\
\x1b[0m\x1b[1m\x1b[92m     Running\x1b[0m unittests src/lib.rs (target/debug/deps/x-0123456789abcdef)

running 2 tests
test a ... \x1b[32mok\x1b[0m <0.250s>
test b ... ok

successes:

---- a stdout ----
hello from a

---- b stdout ----
hello from b


successes:
    a
    b

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.30s
";
        let cases = cases(text);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].attempts[0].duration, Some(0.25));
        assert_eq!(cases[0].attempts[0].stdout.as_deref(), Some("hello from a"));
        assert_eq!(cases[1].attempts[0].stdout.as_deref(), Some("hello from b"));
        assert!(cases.iter().all(|c| c.outcome == Outcome::Passed));
    }

    #[test]
    fn very_long_output_is_capped() {
        let mut text = String::from(
            "running 1 test\ntest big ... FAILED\n\nfailures:\n\n---- big stdout ----\nfirst line\n",
        );
        for i in 0..200_000 {
            text.push_str(&format!("noise line {i}\n"));
        }
        text.push_str(
            "thread 'big' panicked at src/lib.rs:1:1:\nthe end\n\nfailures:\n    big\n\n",
        );
        text.push_str("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s\n");
        let cases = cases(&text);
        assert_eq!(outcomes(&cases), vec![("big".into(), Outcome::Failed)]);
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("the end"));
        let details = f.details.as_ref().unwrap();
        assert!(details.len() < flakehound_model::MAX_TEXT + 200);
        assert!(details.starts_with("first line") && details.ends_with("the end"));
    }

    #[test]
    fn garbage_never_panics_and_errors_clearly() {
        for input in [
            "",
            "\u{0}\u{1}\x1b[",
            "test  ... ",
            "running 1 test\ntest ... ok\n---- x stdout ----\nfailures:\n    \n",
            "     Running \n     Running (\n     Running `\n   Doc-tests \n",
            "{\"reason\":\"compiler-artifact\",\"package_id\":5}\n{\"reason\":",
            "failures:\nfailures:\n    x\ntest result: \nthread '",
            "thread 'x' panicked at ', :::\nthread 'x' panicked at",
        ] {
            let _ = parse(input, Mode::Run).into_cases();
            let _ = parse(input, Mode::List).into_cases();
            let _ = why(&input.lines().map(String::from).collect::<Vec<_>>());
        }
        let a = adapter("cargo test");
        let dir = tempfile::tempdir().unwrap();
        let plan = a.plan(&Request::default(), dir.path()).unwrap();
        let err = a.read(&plan).unwrap_err();
        assert!(err.to_string().contains("was not captured"), "{err}");
        let ReportSource::Stdout { capture, .. } = &plan.report else {
            unreachable!()
        };
        std::fs::write(
            capture,
            "   Compiling p v0.1.0\nerror[E0308]: mismatched types\nerror: could not compile `p`\n",
        )
        .unwrap();
        let err = a.read(&plan).unwrap_err();
        assert!(
            err.to_string()
                .contains("no test binary ran; cargo said: error[E0308]: mismatched types"),
            "{err}"
        );
        std::fs::write(capture, "").unwrap();
        let err = a.read(&plan).unwrap_err();
        assert!(err.to_string().contains("output is empty"), "{err}");
    }

    #[test]
    fn plans_full_runs() {
        assert_eq!(
            plan_args("cargo test", None),
            "cargo test --no-fail-fast --message-format=json-render-diagnostics"
        );
        assert_eq!(
            plan_args(
                "cargo +nightly test -q --workspace --no-fail-fast -- --format terse --nocapture",
                None
            ),
            "cargo +nightly test --workspace --no-fail-fast \
             --message-format=json-render-diagnostics -- --nocapture"
        );
        assert_eq!(
            plan_args("cargo t --message-format short", None),
            "cargo t --message-format short --no-fail-fast"
        );
        let a = adapter("cargo test");
        let mut req = Request {
            repeat: 2,
            ..Request::default()
        };
        assert!(matches!(
            a.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        req.repeat = 1;
        req.order = Order::Reversed;
        assert!(matches!(
            a.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        req.order = Order::AsWritten;
        req.env = vec![("TZ".into(), "UTC".into())];
        assert_eq!(
            a.plan(&req, Path::new("/s")).unwrap().cmd.env,
            vec![("TZ".to_string(), "UTC".to_string())]
        );
        assert_eq!(
            a.capabilities(),
            Capabilities {
                select: true,
                list: true,
                order: false,
                repeat: false
            }
        );
    }

    #[test]
    fn reproduction_is_the_users_command_narrowed() {
        let env = [("TZ".to_string(), "Etc/GMT+12".to_string())];
        assert_eq!(
            adapter("cargo test -q -p my-pkg -- --test-threads 2")
                .reproduction(&[tref(Some("my-pkg::it"), "m::b")], &env)
                .unwrap(),
            "TZ=Etc/GMT+12 cargo test -q -p my-pkg --test it -- --test-threads 2 --exact m::b"
        );
    }

    #[test]
    fn plans_selections() {
        // Exact names, the user's filters dropped, targets restricted.
        let sel = vec![
            tref(Some("my-pkg"), "tests::a"),
            tref(Some("my-pkg::it"), "m::b"),
            tref(Some("my-pkg::bin/tool"), "c"),
            tref(Some("my-pkg"), "tests::a"),
        ];
        assert_eq!(
            plan_args(
                "cargo test -p my-pkg some_filter -- --test-threads 2 other --exact",
                Some(sel)
            ),
            "cargo test -p my-pkg --no-fail-fast --message-format=json-render-diagnostics \
             --lib --test it --bin tool -- --test-threads 2 --exact tests::a m::b c"
        );
        // The user's target choice is kept; unnamed binaries prevent a restriction.
        assert_eq!(
            plan_args("cargo test --tests", Some(vec![tref(Some("p::x"), "t")])),
            "cargo test --tests --no-fail-fast --message-format=json-render-diagnostics \
             -- --exact t"
        );
        assert_eq!(
            plan_args(
                "cargo test",
                Some(vec![tref(None, "t"), tref(Some("p::bench/b"), "u")])
            ),
            "cargo test --no-fail-fast --message-format=json-render-diagnostics \
             -- --exact t u"
        );
        // Doc tests: substring filters on their file, `--doc` only when alone.
        assert_eq!(
            plan_args(
                "cargo test",
                Some(vec![
                    tref(Some("p::doctest"), "src/lib.rs - (line 5)"),
                    tref(Some("p::doctest"), "src/lib.rs - f (line 9)")
                ])
            ),
            "cargo test --no-fail-fast --message-format=json-render-diagnostics --doc \
             -- src/lib.rs"
        );
        assert_eq!(
            plan_args(
                "cargo test -- --exact",
                Some(vec![
                    tref(Some("p::doctest"), "src/a b.rs - (line 5)"),
                    tref(Some("p"), "t")
                ])
            ),
            "cargo test --no-fail-fast --message-format=json-render-diagnostics \
             -- src/a t"
        );
        // Odd names are passed as single arguments.
        let plan = adapter("cargo test")
            .plan(
                &Request {
                    selection: Some(vec![tref(Some("p::odd"), "sp ace (x)")]),
                    ..Request::default()
                },
                Path::new("/s"),
            )
            .unwrap();
        assert_eq!(plan.cmd.args.last().map(String::as_str), Some("sp ace (x)"));
        let err = adapter("cargo test")
            .plan(
                &Request {
                    selection: Some(vec![]),
                    ..Request::default()
                },
                Path::new("/s"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("no tests selected"), "{err}");
    }

    #[test]
    fn splits_wrapped_commands() {
        let cmd = Cmd::from_argv(&argv("env A=1 /usr/bin/cargo +1.80 test --lib -- x")).unwrap();
        let split = CargoArgv::split(&cmd, &[&["test", "t"]]);
        assert_eq!(split.head, argv("env A=1 /usr/bin/cargo +1.80 test"));
        assert_eq!(split.args, argv("--lib"));
        assert_eq!(split.rest, Some(argv("x")));
        let meta = split.cargo_cmd(&cmd, &["metadata"]);
        assert_eq!(meta.display(), "env A=1 /usr/bin/cargo +1.80 metadata");
        let cmd = Cmd::from_argv(&argv("cargo test --manifest-path=a/Cargo.toml")).unwrap();
        let split = CargoArgv::split(&cmd, &[&["test", "t"]]);
        assert_eq!(
            split.cargo_cmd(&cmd, &["metadata"]).display(),
            "cargo metadata --manifest-path a/Cargo.toml"
        );
        // No recognisable subcommand: every argument is the subcommand's.
        let cmd = Cmd::from_argv(&argv("./my-cargo-wrapper -p x")).unwrap();
        let split = CargoArgv::split(&cmd, &[&["test", "t"]]);
        assert_eq!(split.head, argv("./my-cargo-wrapper"));
        assert_eq!(split.args, argv("-p x"));
        assert_eq!(split.rest, None);
    }

    #[test]
    fn flag_helpers() {
        let args = argv("-pfoo --jobs=2 -F x --color always pos -q -qv");
        assert!(has_flag(&args, &["-p"]));
        assert_eq!(
            flag_value(&args, &["-p", "--package"]).as_deref(),
            Some("foo")
        );
        assert_eq!(flag_value(&args, &["-j", "--jobs"]).as_deref(), Some("2"));
        assert_eq!(flag_value(&args, &["-F"]).as_deref(), Some("x"));
        assert_eq!(positionals(&args, CARGO_VALUE_FLAGS), vec![6]);
        let mut a = args.clone();
        remove_flag(&mut a, &["-q", "--quiet"], false);
        assert_eq!(a, argv("-pfoo --jobs=2 -F x --color always pos -qv"));
        remove_flag(&mut a, &["--color"], true);
        remove_flag(&mut a, &["-j", "--jobs"], true);
        assert_eq!(a, argv("-pfoo -F x pos -qv"));
    }

    #[test]
    fn package_names_from_ids() {
        for (id, name) in [
            ("path+file:///tmp/probe/p#0.1.0", "p"),
            ("path+file:///w/crates/x#my-crate@0.1.0", "my-crate"),
            (
                "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
                "serde",
            ),
            ("git+https://github.com/a/b?branch=x#b@0.1.0", "b"),
            ("git+https://github.com/a/repo?branch=x#0.1.0", "repo"),
            ("foo 0.1.0 (path+file:///x/foo)", "foo"),
        ] {
            assert_eq!(package_name(id), Some(name), "{id}");
        }
        assert_eq!(binary_id("p", "proc-macro", "p"), "p");
        assert_eq!(binary_id("p", "example", "e"), "p::example/e");
        assert_eq!(target_flags("p::weird/x"), None);
    }

    #[test]
    fn lists_tests_per_binary() {
        let a = adapter("cargo test");
        let text = format!(
            "{}\n{}\n{}",
            artifact(
                "path+file:///w/p#0.1.0",
                "lib",
                "p",
                Some("/w/target/debug/deps/p-c93b59a92189d5d2")
            ),
            artifact("path+file:///w/p#0.1.0", "lib", "p", None),
            "    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.02s
     Running unittests src/lib.rs (target/debug/deps/p-c93b59a92189d5d2)
tests::a: test
tests::b: benchmark
   Doc-tests p
src/lib.rs - (line 2): test
all doctests ran in 0.48s; merged doctests compilation took 0.47s
"
        );
        let refs = a.parse_list(&text).unwrap();
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "p::tests::a",
                "p::tests::b",
                "p::doctest::src/lib.rs - (line 2)"
            ]
        );
        assert_eq!(refs[2].file.as_deref(), Some("src/lib.rs"));
        assert_eq!(refs[0].suite, vec!["p".to_string()]);
        assert!(a.parse_list("nothing here").is_err());

        let plan = a.list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(
            plan.cmd.display(),
            "cargo test --no-fail-fast --message-format=json-render-diagnostics \
             -- --list --format terse"
        );
    }

    #[test]
    fn hides_cargo_json_messages_only() {
        let a = adapter("cargo test");
        assert_eq!(a.display_line("{\"reason\":\"compiler-artifact\"}"), None);
        assert_eq!(
            a.display_line("test a ... ok").as_deref(),
            Some("test a ... ok")
        );
        assert_eq!(a.display_line("{\"x\":1}").as_deref(), Some("{\"x\":1}"));
    }
}
