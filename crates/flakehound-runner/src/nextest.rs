//! `cargo nextest run`: the report is nextest's JUnit XML.
//!
//! # Where the JUnit report comes from
//! nextest writes JUnit only when its profile has a `junit.path`. The plan passes
//! `--tool-config-file flakehound:<scratch>/nextest-<inv>.toml`, a tool config holding
//! `[profile.<P>.junit] path = "<scratch>/flakehound-<inv>.xml"` for the profile `P` in use
//! (`-P`/`--profile`, else `NEXTEST_PROFILE`, else `default`). Checked with cargo-nextest 0.9.143:
//! - a tool config may set the JUnit path of any profile, even one the user's config does not
//!   define, and its `profile.P` beats anything `P` inherits from the user's `default` profile;
//! - nextest joins the path to its store directory for `P` (`<workspace root>/target/nextest/P`,
//!   `store.dir` being relative to the workspace root, *not* to the target directory), so an
//!   absolute path lands exactly where given: in the caller's scratch directory, away from the
//!   user's files;
//! - but the user's own config (`.config/nextest.toml` at the workspace root, or `--config-file`)
//!   wins over tool configs: when it sets `profile.P.junit.path` itself, nextest writes there,
//!   so the plan reads that file (`<workspace root>/<store.dir>/P/<path>`) instead. The
//!   workspace root comes from `cargo locate-project --workspace` (run once).
//!
//! `fresh_after` is set in both cases, so that a file left by an earlier run is never read as
//! this run's.
//!
//! # The command line
//! - `--no-fail-fast` is added when absent, and the user's `--fail-fast` / `--max-fail` removed
//!   (nextest refuses `--max-fail` with `--no-fail-fast`): a run stopped at the first failure
//!   would not report the other tests.
//! - A selection is one `-E` filterset, `(binary_id(=B) & test(=T)) | ...` (or `test(=T)` for a
//!   test without binary id), replacing the user's `-E` options: several `-E` are united, which
//!   would run the user's whole filterset again. The user's positional filters stay (nextest
//!   intersects them with `-E`, and the selected tests passed them already). Very long
//!   selections are split into several `-E` (united), each below the OS limit on one argument.
//! - Names are written with nextest's escapes for equality matchers: `\\`, `\)`, `\,`, `\n`,
//!   `\r`, `\t` and `\u{..}` for other control characters; `(` must *not* be escaped (checked
//!   against nextest 0.9.143 with names holding parentheses, commas, backslashes, spaces,
//!   leading/trailing blanks, `|`, `&`, quotes, `/`, `~`, `=`, `#`, glob characters, tabs).
//!
//! Doc tests (`package::doctest` from the cargo adapter) cannot be selected: nextest does not run
//! them. Neither ordering nor repetition is supported (nextest's `--stress-count` reruns the whole
//! selection in a separate report shape).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flakehound_model::{Dialect, Format, canonical_id};

use crate::cargo::{CargoArgv, flag_value, has_flag, remove_flag};
use crate::generic::{check_all_fresh, run_start};
use crate::shared::{
    SELECT_AND_LIST, file_plan, refuse_repeat_and_order, report_files, stdout_plan,
};
use crate::{
    Adapter, Capabilities, Cmd, Error, Plan, Request, Result, Results, RunnerKind, TestRef,
    read_files,
};

/// Tool name of the `--tool-config-file` (nextest requires one per file).
const TOOL: &str = "flakehound";

/// Longest `-E` argument: Linux caps one argument at 128 KiB.
const MAX_FILTER: usize = 64 * 1024;

/// `cargo nextest run` options that `cargo nextest list` does not accept, with whether they take
/// a value.
const RUN_ONLY: &[(&[&str], bool)] = &[
    (&["-j", "--test-threads"], true),
    (&["--retries"], true),
    (&["--flaky-result"], true),
    (&["--max-fail"], true),
    (&["--debugger"], true),
    (&["--tracer"], true),
    (&["--no-tests"], true),
    (&["--stress-count"], true),
    (&["--stress-duration"], true),
    (&["--failure-output"], true),
    (&["--success-output"], true),
    (&["--status-level"], true),
    (&["--final-status-level"], true),
    (&["--max-progress-running"], true),
    (&["--message-format", "-T"], true),
    (&["--message-format-version"], true),
    (&["-R", "--rerun"], true),
    (&["--no-run"], false),
    (&["--fail-fast"], false),
    (&["--no-fail-fast"], false),
    (&["--no-capture", "--nocapture"], false),
    (&["--no-output-indent"], false),
    (&["--hide-progress-bar"], false),
    (&["--no-input-handler"], false),
];

pub struct Nextest {
    cmd: Cmd,
    /// The workspace root, looked up at most once.
    root: OnceLock<Option<PathBuf>>,
}

impl Nextest {
    pub fn new(cmd: Cmd) -> Self {
        Self {
            cmd,
            root: OnceLock::new(),
        }
    }

    fn argv(&self) -> CargoArgv {
        CargoArgv::split(&self.cmd, &[&["nextest"], &["run", "r"]])
    }

    /// The nextest profile of a run: `-P`/`--profile`, else `NEXTEST_PROFILE` (the request's
    /// environment, the command's, then ours unless the command removes it), else `default`.
    fn profile(&self, argv: &CargoArgv, env: &[(String, String)]) -> String {
        const VAR: &str = "NEXTEST_PROFILE";
        if let Some(p) = flag_value(&argv.args, &["-P", "--profile"]) {
            return p;
        }
        let set = env
            .iter()
            .chain(&self.cmd.env)
            .rev()
            .find(|(k, _)| k == VAR)
            .map(|(_, v)| v.clone());
        let inherited = || {
            (!self.cmd.env_remove.iter().any(|k| k == VAR))
                .then(|| std::env::var(VAR).ok())
                .flatten()
        };
        set.or_else(inherited)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "default".into())
    }

    fn workspace_root(&self, argv: &CargoArgv) -> Option<&Path> {
        self.root
            .get_or_init(|| {
                let cmd = argv.cargo_cmd(
                    &self.cmd,
                    &["locate-project", "--workspace", "--message-format", "plain"],
                );
                let out = crate::exec::helper_output(&cmd)?;
                let manifest = PathBuf::from(String::from_utf8_lossy(&out).trim());
                Some(manifest.parent()?.to_path_buf())
            })
            .as_deref()
    }

    /// The JUnit path the user's own nextest config sets for `profile`, which nextest prefers to
    /// ours (see the module docs).
    fn user_junit(&self, argv: &CargoArgv, profile: &str) -> Option<PathBuf> {
        let root = self.workspace_root(argv)?;
        let config = match flag_value(&argv.args, &["--config-file"]) {
            Some(p) => {
                let p = PathBuf::from(p);
                match &self.cmd.cwd {
                    Some(cwd) if p.is_relative() => cwd.join(p),
                    _ => p,
                }
            }
            None => root.join(".config").join("nextest.toml"),
        };
        let text = std::fs::read_to_string(config).ok()?;
        // A config nextest cannot parse fails the run anyway; ours then stands.
        let doc: toml_edit::DocumentMut = text.parse().ok()?;
        let path = doc
            .get("profile")?
            .get(profile)?
            .get("junit")?
            .get("path")?
            .as_str()?;
        let store = doc
            .get("store")
            .and_then(|s| s.get("dir"))
            .and_then(|d| d.as_str())
            .unwrap_or("target/nextest");
        Some(root.join(store).join(profile).join(path))
    }
}

impl Adapter for Nextest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Nextest
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(100)
    }

    fn capabilities(&self) -> Capabilities {
        SELECT_AND_LIST
    }

    /// The user's `cargo nextest run` with one `-E` filterset per test (without the JUnit
    /// configuration flakehound adds).
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        if tests.is_empty() {
            return None;
        }
        let mut argv = self.argv();
        select(&mut argv, tests);
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(env.iter().cloned());
        Some(cmd.display())
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        refuse_repeat_and_order(self.kind(), req, "run tests in a chosen order")?;
        let mut argv = self.argv();
        remove_flag(&mut argv.args, &["--max-fail"], true);
        remove_flag(&mut argv.args, &["--fail-fast"], false);
        if !has_flag(&argv.args, &["--no-fail-fast"]) {
            argv.args.push("--no-fail-fast".into());
        }
        if let Some(selection) = &req.selection {
            if selection.is_empty() {
                return Err(Error::Command(
                    "no tests selected: nextest cannot run an empty selection".into(),
                ));
            }
            select(&mut argv, selection);
        }
        let profile = self.profile(&argv, &req.env);
        let scratch = std::path::absolute(scratch).map_err(|source| Error::Io {
            context: format!("cannot resolve {}", scratch.display()),
            source,
        })?;
        let fresh_after = run_start(&scratch);
        let report = match self.user_junit(&argv, &profile) {
            Some(path) => path,
            None => {
                let report = scratch.join(format!("flakehound-{}.xml", req.invocation));
                let config = scratch.join(format!("nextest-{}.toml", req.invocation));
                std::fs::write(&config, tool_config(&profile, &report)?).map_err(|source| {
                    Error::Io {
                        context: format!("cannot write {}", config.display()),
                        source,
                    }
                })?;
                argv.args.push("--tool-config-file".into());
                argv.args.push(format!("{TOOL}:{}", utf8(&config)?));
                report
            }
        };
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(req.env.iter().cloned());
        Ok(file_plan(cmd, report, Some(Format::Junit), fresh_after))
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let mut argv = self.argv();
        match argv.head.last_mut() {
            Some(sub) if sub == "run" || sub == "r" => *sub = "list".into(),
            _ => {
                return Some(Err(Error::Command(format!(
                    "cannot find `nextest run` in `{}` to list its tests",
                    self.cmd.display()
                ))));
            }
        }
        for (names, takes_value) in RUN_ONLY {
            remove_flag(&mut argv.args, names, *takes_value);
        }
        argv.args
            .extend(["--message-format", "json"].map(String::from));
        let cmd = argv.into_cmd(&self.cmd);
        Some(Ok(stdout_plan(
            cmd,
            scratch.join("nextest-list.json"),
            false,
        )))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let bad = |reason: String| Error::BadReport {
            path: "cargo nextest list output".into(),
            reason,
        };
        // Only the JSON document: skip anything a wrapper may have printed before it.
        let json = stdout
            .find('{')
            .map(|at| &stdout[at..])
            .ok_or_else(|| bad("no JSON in it".into()))?;
        let v: serde_json::Value = serde_json::Deserializer::from_str(json)
            .into_iter()
            .next()
            .ok_or_else(|| bad("no JSON in it".into()))?
            .map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let suites = v
            .get("rust-suites")
            .and_then(|s| s.as_object())
            .ok_or_else(|| bad("no `rust-suites` object (not `--message-format json`?)".into()))?;
        let mut refs = Vec::new();
        for (key, suite) in suites {
            let binary = suite
                .get("binary-id")
                .and_then(|b| b.as_str())
                .unwrap_or(key);
            let Some(cases) = suite.get("testcases").and_then(|t| t.as_object()) else {
                continue;
            };
            for (name, case) in cases {
                // Tests the user's filters (or `#[ignore]`) leave out would not run either.
                let status = case
                    .get("filter-match")
                    .and_then(|f| f.get("status"))
                    .and_then(|s| s.as_str());
                if status.is_some_and(|s| s != "matches") {
                    continue;
                }
                refs.push(TestRef {
                    id: canonical_id(Dialect::Other, Some(binary), name, None, None),
                    classname: Some(binary.to_string()),
                    name: name.clone(),
                    file: None,
                    suite: vec![binary.to_string()],
                });
            }
        }
        Ok(refs)
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        let (paths, format, fresh_after) = report_files(
            plan,
            "a nextest plan reads its JUnit report, not captured output",
        )?;
        check_all_fresh(RunnerKind::Nextest, paths, fresh_after)?;
        read_files(RunnerKind::Nextest, paths, format)
    }
}

/// Replaces the user's filtersets with the selection's.
fn select(argv: &mut CargoArgv, tests: &[TestRef]) {
    remove_flag(
        &mut argv.args,
        &["-E", "--filterset", "--filter-expr"],
        true,
    );
    for expr in filtersets(tests) {
        argv.args.push("-E".into());
        argv.args.push(expr);
    }
}

/// The `-E` filtersets selecting `selection` (usually one; more for very long selections).
fn filtersets(selection: &[TestRef]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut current = String::new();
    for t in selection {
        let term = match &t.classname {
            Some(b) => format!("(binary_id(={}) & test(={}))", escape(b), escape(&t.name)),
            None => format!("test(={})", escape(&t.name)),
        };
        if !seen.insert(term.clone()) {
            continue;
        }
        if !current.is_empty() && current.len() + term.len() + 3 > MAX_FILTER {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str(" | ");
        }
        current.push_str(&term);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Escapes `s` for an equality matcher of nextest's filterset DSL (see the module docs).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | ')' | ',' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The tool config setting the JUnit path of `profile`.
fn tool_config(profile: &str, report: &Path) -> Result<String> {
    let mut doc = toml_edit::DocumentMut::new();
    let mut junit = toml_edit::Table::new();
    junit["path"] = toml_edit::value(utf8(report)?);
    let mut p = toml_edit::Table::new();
    p.set_implicit(true);
    p.insert("junit", toml_edit::Item::Table(junit));
    let mut profiles = toml_edit::Table::new();
    profiles.set_implicit(true);
    profiles.insert(profile, toml_edit::Item::Table(p));
    doc.insert("profile", toml_edit::Item::Table(profiles));
    Ok(format!(
        "# Written by flakehound: where nextest writes this run's JUnit report.\n{doc}"
    ))
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::Command(format!(
            "nextest needs a UTF-8 path, and {} is not",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Order, ReportSource};

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// An adapter whose workspace root is `root` (no `cargo locate-project`).
    fn adapter(line: &str, root: Option<&Path>) -> Nextest {
        let a = Nextest::new(Cmd::from_argv(&argv(line)).unwrap());
        a.root.set(root.map(Path::to_path_buf)).unwrap();
        a
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

    fn plan(a: &Nextest, req: &Request, scratch: &Path) -> Plan {
        a.plan(req, scratch).unwrap()
    }

    fn report_path(plan: &Plan) -> PathBuf {
        match &plan.report {
            ReportSource::Files {
                paths,
                format,
                fresh_after,
            } => {
                assert_eq!(*format, Some(Format::Junit));
                assert!(fresh_after.is_some());
                assert_eq!(paths.len(), 1);
                paths[0].clone()
            }
            other => panic!("unexpected report source {other:?}"),
        }
    }

    #[test]
    fn plans_a_full_run_with_a_tool_config() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter("cargo nextest run --max-fail 2 --fail-fast -p x", None);
        let req = Request {
            invocation: 4,
            env: vec![("TZ".into(), "UTC".into())],
            ..Request::default()
        };
        let p = plan(&a, &req, dir.path());
        let config = dir.path().join("nextest-4.toml");
        assert_eq!(
            p.cmd.display(),
            format!(
                "TZ=UTC cargo nextest run -p x --no-fail-fast --tool-config-file flakehound:{}",
                config.display()
            )
        );
        assert_eq!(p.cmd.env, vec![("TZ".to_string(), "UTC".to_string())]);
        let report = report_path(&p);
        assert_eq!(report, dir.path().join("flakehound-4.xml"));
        let doc: toml_edit::DocumentMut =
            std::fs::read_to_string(&config).unwrap().parse().unwrap();
        assert_eq!(
            doc["profile"]["default"]["junit"]["path"].as_str(),
            report.to_str()
        );
        assert!(
            !std::fs::read_to_string(&config)
                .unwrap()
                .contains("[profile]\n")
        );

        // The profile in use, however it is given; odd profile names are quoted.
        for (line, env, profile) in [
            ("cargo nextest run -P ci", vec![], "ci"),
            ("cargo nextest run --profile=ci", vec![], "ci"),
            (
                "cargo nextest r",
                vec![("NEXTEST_PROFILE".to_string(), "my.prof".to_string())],
                "my.prof",
            ),
        ] {
            let a = adapter(line, None);
            let req = Request {
                env,
                invocation: 1,
                ..Request::default()
            };
            plan(&a, &req, dir.path());
            let doc: toml_edit::DocumentMut =
                std::fs::read_to_string(dir.path().join("nextest-1.toml"))
                    .unwrap()
                    .parse()
                    .unwrap();
            assert!(
                doc["profile"][profile]["junit"]["path"].as_str().is_some(),
                "{line}: {doc}"
            );
        }
        // A removed NEXTEST_PROFILE is not inherited.
        let mut a = adapter("cargo nextest run", None);
        a.cmd.env_remove.push("NEXTEST_PROFILE".into());
        assert_eq!(a.profile(&a.argv(), &[]), "default");
    }

    #[test]
    fn the_users_junit_path_wins() {
        let root = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".config")).unwrap();
        std::fs::write(
            root.path().join(".config/nextest.toml"),
            "[store]\ndir = \"out/nx\"\n[profile.ci]\njunit = { path = \"junit.xml\" }\n",
        )
        .unwrap();
        let a = adapter("cargo nextest run -P ci", Some(root.path()));
        let p = plan(&a, &Request::default(), scratch.path());
        assert_eq!(
            report_path(&p),
            root.path().join("out/nx/ci/junit.xml"),
            "{p:?}"
        );
        assert!(!p.cmd.args.iter().any(|x| x == "--tool-config-file"));
        // Another profile: ours.
        let a = adapter("cargo nextest run", Some(root.path()));
        let p = plan(&a, &Request::default(), scratch.path());
        assert_eq!(report_path(&p), scratch.path().join("flakehound-0.xml"));
        // `--config-file` replaces `.config/nextest.toml`.
        std::fs::write(
            root.path().join("other.toml"),
            "[profile.default.junit]\npath = \"/abs/j.xml\"\n",
        )
        .unwrap();
        let mut a = adapter(
            "cargo nextest run --config-file other.toml",
            Some(root.path()),
        );
        a.cmd.cwd = Some(root.path().to_path_buf());
        let p = plan(&a, &Request::default(), scratch.path());
        assert_eq!(report_path(&p), PathBuf::from("/abs/j.xml"));
        // A broken config leaves ours in place.
        std::fs::write(root.path().join("other.toml"), "[[[nope").unwrap();
        let p = plan(&a, &Request::default(), scratch.path());
        assert_eq!(report_path(&p), scratch.path().join("flakehound-0.xml"));
    }

    #[test]
    fn reproduction_is_the_users_command_with_a_filterset() {
        let a = adapter("cargo nextest run -E package(x) --workspace", None);
        let env = [("TZ".to_string(), "UTC".to_string())];
        assert_eq!(
            a.reproduction(&[tref(Some("my-crate"), "tests::a")], &env)
                .unwrap(),
            "TZ=UTC cargo nextest run --workspace -E '(binary_id(=my-crate) & test(=tests::a))'"
        );
        assert_eq!(a.reproduction(&[], &env), None);
    }

    #[test]
    fn plans_selections_as_one_filterset() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(
            "cargo nextest run -E package(x) --filterset=all() filt",
            None,
        );
        let req = Request {
            selection: Some(vec![
                tref(Some("my-crate"), "tests::a"),
                tref(Some("my-crate::it"), "odd(name, x)\\y"),
                tref(None, "loose"),
                tref(Some("my-crate"), "tests::a"),
            ]),
            ..Request::default()
        };
        let p = plan(&a, &req, dir.path());
        let args = &p.cmd.args;
        assert_eq!(&args[..4], &argv("nextest run filt --no-fail-fast")[..]);
        assert_eq!(args[4], "-E");
        assert_eq!(
            args[5],
            r"(binary_id(=my-crate) & test(=tests::a)) | (binary_id(=my-crate::it) & test(=odd(name\, x\)\\y)) | test(=loose)"
        );
        assert_eq!(args[6], "--tool-config-file");
        let err = a
            .plan(
                &Request {
                    selection: Some(vec![]),
                    ..Request::default()
                },
                dir.path(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("no tests selected"), "{err}");
        for bad in [
            Request {
                repeat: 3,
                ..Request::default()
            },
            Request {
                order: Order::Shuffled(1),
                ..Request::default()
            },
        ] {
            assert!(matches!(
                a.plan(&bad, dir.path()),
                Err(Error::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn long_selections_are_split() {
        let sel: Vec<TestRef> = (0..5000)
            .map(|i| tref(Some("c"), &format!("tests::test_number_{i}")))
            .collect();
        let sets = filtersets(&sel);
        assert!(sets.len() > 1);
        assert!(sets.iter().all(|s| s.len() <= MAX_FILTER));
        let terms: usize = sets.iter().map(|s| s.split(" | ").count()).sum();
        assert_eq!(terms, 5000);
    }

    #[test]
    fn escapes_for_equality_matchers() {
        assert_eq!(escape("a(b)"), r"a(b\)");
        assert_eq!(escape(r"c,d\e"), r"c\,d\\e");
        assert_eq!(escape("t\tn\nr\r\u{1}"), r"t\tn\nr\r\u{1}");
        assert_eq!(escape(" sp ace|&/~=#*?[] "), " sp ace|&/~=#*?[] ");
    }

    #[test]
    fn lists_with_the_list_subcommand() {
        let a = adapter(
            "cargo nextest run --retries 2 -j 4 --no-capture -p x -E all() --no-fail-fast -- --exact t",
            None,
        );
        let p = a.list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(
            p.cmd.display(),
            "cargo nextest list -p x -E 'all()' --message-format json -- --exact t"
        );
        assert_eq!(
            p.report,
            ReportSource::Stdout {
                capture: PathBuf::from("/s/nextest-list.json"),
                merge_stderr: false
            }
        );
        let a = adapter("some-wrapper", None);
        assert!(a.list(Path::new("/s")).unwrap().is_err());
    }

    #[test]
    fn parses_the_json_list() {
        let a = adapter("cargo nextest run", None);
        let json = r#"{"rust-build-meta":{},"test-count":3,"rust-suites":{
            "p":{"binary-id":"p","kind":"lib","testcases":{
                "tests::a":{"ignored":false,"filter-match":{"status":"matches"}},
                "tests::ign":{"ignored":true,"filter-match":{"status":"mismatch","reason":"ignored"}}}},
            "p::it":{"binary-id":"p::it","kind":"test","testcases":{
                "odd(x)":{"ignored":false,"filter-match":{"status":"matches"}}}},
            "p::bin/b":{"binary-id":"p::bin/b","testcases":{
                "old":{"ignored":false}}}}}"#;
        let refs = a.parse_list(&format!("warning: noise\n{json}")).unwrap();
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["p::tests::a", "p::bin/b::old", "p::it::odd(x)"]);
        assert_eq!(refs[2].classname.as_deref(), Some("p::it"));
        assert_eq!(refs[2].name, "odd(x)");
        for bad in ["", "garbage", "{\"a\":1}", "{\"rust-suites\":"] {
            assert!(a.parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_only_a_fresh_report() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter("cargo nextest run", None);
        let p = plan(&a, &Request::default(), dir.path());
        let err = a.read(&p).unwrap_err();
        assert!(err.to_string().contains("was not written"), "{err}");
        let report = report_path(&p);
        std::fs::write(
            &report,
            r#"<testsuites><testsuite name="p"><testcase classname="p" name="tests::a"/></testsuite></testsuites>"#,
        )
        .unwrap();
        let results = a.read(&p).unwrap();
        assert_eq!(results.cases.len(), 1);
        assert_eq!(results.cases[0].id, "p::tests::a");
        // The same file, seen by a later plan: stale.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let later = plan(&a, &Request::default(), dir.path());
        let err = a.read(&later).unwrap_err();
        assert!(err.to_string().contains("earlier run"), "{err}");
    }
}
