//! `cargo test`: stable Rust has no machine-readable test output, so the report is libtest's
//! human output, captured from one merged stdout + stderr stream and read by
//! [`flakehound_ingest::libtest_human`] (its docs describe the stream, the test ids, which match
//! nextest's, and the records).
//!
//! # Reading the stream
//! cargo announces each test binary on stderr and the binary prints its results on stdout: both
//! streams must be one pipe to keep that order, hence `merge_stderr`.
//!
//! The package and target of a binary are not in libtest's output; the only exact link is the
//! executable's hashed file name, so the plan adds `--message-format json-render-diagnostics`:
//! cargo then prints one JSON `compiler-artifact` line per built target on stdout (package id,
//! target kind and name, executable path), from which the parser names the binaries, while
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

use flakehound_ingest::libtest_human::{
    self, Mode, Parsed, binary_id, doc_test_location, is_lib_kind,
};
use flakehound_model::{Dialect, ReportInfo, canonical_id};

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

    /// Parses a captured stream and names the binaries it does not name.
    fn parse(&self, text: &str, mode: Mode) -> Parsed {
        let mut parsed = libtest_human::parse(text, mode);
        parsed.name_binaries(|crate_name, src, doc| self.resolve(crate_name, src, doc));
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
        let parsed = self.parse(stdout, Mode::List);
        if parsed.sections().is_empty() {
            return Err(Error::BadReport {
                path: "cargo test -- --list output".into(),
                reason: parsed.why_empty(),
            });
        }
        let mut refs = Vec::new();
        for s in parsed.sections() {
            let classname = s.binary().id();
            for name in s.listed() {
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
        let parsed = self.parse(&text, Mode::Run);
        if parsed.sections().is_empty() {
            return Err(Error::MissingReport {
                runner: RunnerKind::CargoTest.name(),
                detail: parsed.why_empty(),
            });
        }
        Ok(Results {
            info: vec![ReportInfo {
                tool: Some("cargo".into()),
                duration: parsed.duration(),
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

#[cfg(test)]
mod tests {
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
    fn unreadable_output_errors_clearly() {
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
    fn target_flags_of_binary_ids() {
        assert_eq!(target_flags("p"), Some(vec!["--lib".to_string()]));
        assert_eq!(target_flags("p::doctest"), Some(vec!["--doc".to_string()]));
        assert_eq!(
            target_flags("p::bench/b"),
            Some(vec!["--bench".to_string(), "b".to_string()])
        );
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
