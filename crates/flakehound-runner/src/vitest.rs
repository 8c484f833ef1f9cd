//! vitest (`vitest`, `vitest run`, `npx vitest`, `pnpm exec vitest`...).
//!
//! - **One run**: bare `vitest` watches for changes when it has a terminal, so `run` is
//!   inserted after the `vitest` word (`watch`/`dev` become `run`; `related` gets `--run`; when
//!   no `vitest` word is visible, as with `npm test --runner vitest`, `--run` is appended).
//!   `--watch`/`-w` are removed. `bench`, `list`, `init` and `typecheck` are refused: they do
//!   not run the tests.
//! - **Report**: `--reporter=junit --outputFile.junit=<scratch>/vitest-<invocation>.xml`, read
//!   as JUnit. The user's `--reporter`s are kept (`--reporter=default` is added only when there
//!   is none, so the terminal output stays as usual); an `--outputFile` or `--outputFile.junit`
//!   of the user is removed, the junit file must be ours. vitest's JUnit records have
//!   classname = the test file relative to the project root and name = `describe > ... > title`,
//!   so their ids are `path::describe > title` (the JUnit reader's generic dialect).
//! - **Selection**: the files of the selected tests as positional filters (vitest keeps files
//!   whose relative path contains a filter), plus `-t '^(?:NAME|...)$'`, NAME being vitest's
//!   full name (describe blocks and title joined by spaces), regex-escaped. Any `-t` of the user
//!   is replaced. As with jest, a test with the same full name in a selected file runs too (vitest
//!   matches case-sensitively), a whole-file selection leaves `-t` out, and the skipped records
//!   of tests the pattern filtered out are dropped from the results.
//! - **List**: `vitest list --json` prints `[{"name": "describe > title", "file": "/abs"}]`;
//!   each becomes a [`TestRef`] shaped like the JUnit record of the same test (same id). A file
//!   that failed to load makes vitest print no list at all (and exit non-zero).
//! - With `npm` as the program, a `--` is inserted before the added arguments.

use std::path::Path;

use flakehound_model::{Dialect, Format, TestCase, canonical_id};

use crate::jest::{
    Target, Targets, base_dir, check_request, fresh_after, json_array, looks_like_test_path,
    needs_separator, read_selected, relative_path, remove_flags,
};
use crate::shared::{SELECT_AND_LIST, cmd_from_words, file_plan, stdout_plan};
use crate::{
    Adapter, Capabilities, Cmd, Error, Plan, Request, Result, Results, RunnerKind, TestRef,
    program_name,
};

pub struct Vitest {
    cmd: Cmd,
}

/// Subcommands that do not run the tests.
const NOT_A_RUN: [&str; 4] = ["bench", "list", "init", "typecheck"];

impl Vitest {
    pub fn new(cmd: Cmd) -> Self {
        Self { cmd }
    }

    /// The user's argv (program first) without the flags in `drop`, and the index of the
    /// `vitest` word in it.
    fn argv(&self, drop: &[(&str, bool)]) -> (Vec<String>, Option<usize>) {
        let mut argv = vec![self.cmd.program.clone()];
        argv.extend(remove_flags(&self.cmd.args, drop));
        let at = argv
            .iter()
            .position(|w| matches!(program_name(w), "vitest" | "vitest.mjs"));
        (argv, at)
    }

    fn with_argv(&self, argv: Vec<String>) -> Cmd {
        cmd_from_words(argv, "", &self.cmd)
    }

    /// The user's command as a single run (`vitest run`, no watch mode, no output file), with
    /// their name filter dropped when flakehound selects the tests.
    fn run_cmd(&self, selecting: bool) -> Result<Cmd> {
        let mut drop = vec![
            ("--outputFile", true),
            ("--outputFile.junit", true),
            ("--watch", false),
            ("-w", false),
        ];
        if selecting {
            drop.extend([("-t", true), ("--testNamePattern", true)]);
        }
        let (mut argv, at) = self.argv(&drop);
        let mut tail: Vec<String> = Vec::new();
        let next = at.and_then(|i| argv.get(i + 1).cloned());
        match (at, next.as_deref()) {
            (Some(_), Some("run")) => {}
            (Some(i), Some("watch" | "dev")) => argv[i + 1] = "run".into(),
            (Some(_), Some("related")) => tail.push("--run".into()),
            (Some(_), Some(sub)) if NOT_A_RUN.contains(&sub) => {
                return Err(Error::Command(format!(
                    "`vitest {sub}` does not run the tests; use `vitest run`"
                )));
            }
            (Some(i), _) => argv.insert(i + 1, "run".into()),
            (None, _) => tail.push("--run".into()),
        }
        let mut cmd = self.with_argv(argv);
        if needs_separator(&self.cmd) {
            cmd.args.push("--".into());
        }
        cmd.args.extend(tail);
        Ok(cmd)
    }
}

impl Adapter for Vitest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Vitest
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(1)
    }

    fn capabilities(&self) -> Capabilities {
        SELECT_AND_LIST
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        check_request(self.kind(), req)?;
        let report = scratch.join(format!("vitest-{}.xml", req.invocation));
        let mut cmd = self.run_cmd(req.selection.is_some())?;
        let (any_reporter, junit) = {
            let r = reporters(&cmd.args);
            (!r.is_empty(), r.contains(&"junit"))
        };
        if !any_reporter {
            cmd.args.push("--reporter=default".into());
        }
        if !junit {
            cmd.args.push("--reporter=junit".into());
        }
        cmd.args
            .push(format!("--outputFile.junit={}", report.display()));
        if let Some(selection) = &req.selection {
            let targets = Targets::of(self.kind(), selection, vitest_target)?;
            cmd.args.extend(targets.args(str::to_string));
        }
        cmd.env.extend(req.env.iter().cloned());
        Ok(file_plan(cmd, report, Some(Format::Junit), fresh_after()))
    }

    /// `vitest run …` narrowed to the tests, without the JUnit reporter flakehound adds.
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let mut cmd = self.run_cmd(true).ok()?;
        let targets = Targets::of(self.kind(), tests, vitest_target).ok()?;
        cmd.args.extend(targets.args(str::to_string));
        cmd.env.extend(env.iter().cloned());
        Some(cmd.display())
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let (mut argv, at) = self.argv(&[
            ("--outputFile", true),
            ("--outputFile.junit", true),
            ("--reporter", true),
            ("--watch", false),
            ("-w", false),
            ("--run", false),
        ]);
        let Some(i) = at else {
            return Some(Err(Error::Command(format!(
                "cannot list vitest tests through `{}`: write the vitest command itself",
                self.cmd.program
            ))));
        };
        let next = argv.get(i + 1).cloned();
        match next.as_deref() {
            Some("list") => {}
            Some("run" | "watch" | "dev") => argv[i + 1] = "list".into(),
            Some(sub) if sub == "related" || NOT_A_RUN.contains(&sub) => {
                return Some(Err(Error::Command(format!(
                    "cannot list the tests of `vitest {sub}`"
                ))));
            }
            _ => argv.insert(i + 1, "list".into()),
        }
        let mut cmd = self.with_argv(argv);
        cmd.args.push("--json".into());
        Some(Ok(stdout_plan(cmd, scratch.join("vitest-list.txt"), false)))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let items =
            json_array(stdout, serde_json::Value::is_object).ok_or_else(|| Error::BadReport {
                path: "vitest list output".into(),
                reason: "no JSON array of tests in it (a test file that fails to load makes \
                         vitest print none)"
                    .into(),
            })?;
        let base = base_dir(&self.cmd);
        let mut refs = Vec::with_capacity(items.len());
        for item in &items {
            let Some(file) = item.get("file").and_then(|f| f.as_str()) else {
                continue;
            };
            let rel = relative_path(file, base.as_deref());
            // Like the JUnit record: classname = the file; a file alone has it as name too.
            let name = match item.get("name").and_then(|n| n.as_str()) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => rel.clone(),
            };
            refs.push(TestRef {
                id: canonical_id(Dialect::Other, Some(&rel), &name, None, None),
                classname: Some(rel.clone()),
                name,
                file: None,
                suite: vec![rel],
            });
        }
        Ok(refs)
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        read_selected(self.kind(), plan, true, vitest_full_name)
    }
}

/// The reporters named by `--reporter X` / `--reporter=X` in `args`.
fn reporters(args: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--reporter" {
            if let Some(v) = args.get(i + 1) {
                out.push(v.as_str());
            }
        } else if let Some(v) = a.strip_prefix("--reporter=") {
            out.push(v);
        }
    }
    out
}

/// vitest's view of a test reference: JUnit records and list entries (classname = the file,
/// name = `describe > title`), records of the `jest-json` parser (vitest's json reporter), or
/// just an id (`path::describe > title`).
fn vitest_target(r: &TestRef) -> Target {
    let class_file = r.classname.as_deref().filter(|c| looks_like_test_path(c));
    let file = r.file.as_deref().or(class_file);
    if let Some(f) = file {
        if r.name == f || r.id == f {
            return Target::File(f.to_string());
        }
    }
    let spaced = |s: &str| s.split(" > ").collect::<Vec<_>>().join(" ");
    if class_file.is_some() {
        return Target::Test {
            file: file.map(str::to_string),
            full_name: spaced(&r.name),
        };
    }
    if r.classname.as_deref().unwrap_or("") == r.suite.join(" › ") && r.file.is_some() {
        let titles: Vec<&str> = r
            .suite
            .iter()
            .map(String::as_str)
            .chain([r.name.as_str()])
            .collect();
        return Target::Test {
            file: file.map(str::to_string),
            full_name: titles.join(" "),
        };
    }
    if let Some((left, right)) = r.id.split_once("::") {
        if looks_like_test_path(left) {
            return Target::Test {
                file: Some(left.to_string()),
                full_name: spaced(right),
            };
        }
    }
    Target::Test {
        file: file.map(str::to_string),
        full_name: spaced(&r.name),
    }
}

/// The full name vitest matches `-t` against, for a JUnit record (`describe > title`) or a
/// `jest-json` record.
fn vitest_full_name(case: &TestCase) -> String {
    if case.classname.as_deref().is_some_and(looks_like_test_path) {
        case.name.split(" > ").collect::<Vec<_>>().join(" ")
    } else {
        case.suite
            .iter()
            .map(String::as_str)
            .chain([case.name.as_str()])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Order;
    use crate::ReportSource;
    use std::path::PathBuf;

    fn vitest(line: &str) -> Vitest {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        Vitest::new(Cmd::from_argv(&argv).unwrap())
    }

    fn request(selection: Option<Vec<TestRef>>) -> Request {
        Request {
            selection,
            invocation: 2,
            ..Request::default()
        }
    }

    fn args(line: &str) -> Vec<String> {
        let plan = vitest(line).plan(&request(None), Path::new("/s")).unwrap();
        let mut argv = vec![plan.cmd.program];
        argv.extend(plan.cmd.args);
        argv
    }

    fn junit_ref(file: &str, name: &str) -> TestRef {
        TestRef {
            id: canonical_id(Dialect::Other, Some(file), name, None, None),
            classname: Some(file.into()),
            name: name.into(),
            file: None,
            suite: vec![file.into()],
        }
    }

    #[test]
    fn reproduction_is_one_run_of_the_test_without_the_report() {
        let t = junit_ref("src/clock.test.ts", "clock > is utc");
        let env = [("TZ".to_string(), "Etc/GMT+12".to_string())];
        let r = vitest("npx vitest --config c.ts -t old")
            .reproduction(std::slice::from_ref(&t), &env)
            .unwrap();
        assert!(
            r.starts_with("TZ=Etc/GMT+12 npx vitest run --config c.ts "),
            "{r}"
        );
        assert!(r.contains("src/clock.test.ts"), "{r}");
        assert!(!r.contains("junit") && !r.contains("old"), "{r}");
        assert_eq!(vitest("vitest list").reproduction(&[t], &env), None);
    }

    #[test]
    fn makes_one_run_with_a_junit_report() {
        let tail = [
            "--reporter=default",
            "--reporter=junit",
            "--outputFile.junit=/s/vitest-2.xml",
        ];
        let with = |head: &[&str]| {
            let mut v: Vec<String> = head.iter().map(|s| s.to_string()).collect();
            v.extend(tail.iter().map(|s| s.to_string()));
            v
        };
        assert_eq!(args("vitest"), with(&["vitest", "run"]));
        assert_eq!(
            args("npx vitest --config c.ts"),
            with(&["npx", "vitest", "run", "--config", "c.ts"])
        );
        assert_eq!(
            args("pnpm exec vitest run src"),
            with(&["pnpm", "exec", "vitest", "run", "src"])
        );
        assert_eq!(args("vitest watch -w"), with(&["vitest", "run"]));
        assert_eq!(
            args("vitest related a.ts"),
            with(&["vitest", "related", "a.ts", "--run"])
        );
        assert_eq!(args("npm test"), with(&["npm", "test", "--", "--run"]));
        assert_eq!(
            args("/p/node_modules/.bin/vitest --outputFile=x.xml --outputFile.junit y.xml"),
            with(&["/p/node_modules/.bin/vitest", "run"])
        );
        for sub in ["bench", "list", "init"] {
            let err = vitest(&format!("vitest {sub}"))
                .plan(&request(None), Path::new("/s"))
                .unwrap_err();
            assert!(err.to_string().contains("does not run the tests"), "{err}");
        }
    }

    #[test]
    fn keeps_the_users_reporters() {
        assert_eq!(
            args("vitest run --reporter=verbose --reporter json --outputFile.json=r.json")[2..],
            [
                "--reporter=verbose",
                "--reporter",
                "json",
                "--outputFile.json=r.json",
                "--reporter=junit",
                "--outputFile.junit=/s/vitest-2.xml"
            ]
        );
        assert_eq!(
            args("vitest run --reporter=junit")[2..],
            ["--reporter=junit", "--outputFile.junit=/s/vitest-2.xml"]
        );
        let plan = vitest("vitest")
            .plan(&request(None), Path::new("/s"))
            .unwrap();
        assert!(
            matches!(plan.report, ReportSource::Files { ref paths, format: Some(Format::Junit), fresh_after: Some(_) }
            if paths == &[PathBuf::from("/s/vitest-2.xml")])
        );
    }

    #[test]
    fn selection_gives_file_filters_and_an_exact_name_pattern() {
        let sel = vec![
            junit_ref(
                "vitest/math.test.mjs",
                "math > edge (cases)|[x] > divides by $0.50 * 2?",
            ),
            junit_ref("vitest/math.test.mjs", "top level test"),
            junit_ref("vitest/nested/flaky.test.mjs", "flaky > adds numbers"),
        ];
        let plan = vitest("vitest run -t old")
            .plan(&request(Some(sel)), Path::new("/s"))
            .unwrap();
        assert_eq!(
            plan.cmd.args[4..],
            [
                "vitest/math.test.mjs",
                "vitest/nested/flaky.test.mjs",
                "-t",
                r"^(?:math edge \(cases\)\|\[x\] divides by \$0\.50 \* 2\?|top level test|flaky adds numbers)$",
            ]
        );
        assert!(!plan.cmd.args.contains(&"old".to_string()));
    }

    #[test]
    fn reads_every_ref_shape() {
        // A file that failed to load (JUnit: classname = name = the file).
        assert_eq!(
            vitest_target(&junit_ref(
                "vitest/broken.test.mjs",
                "vitest/broken.test.mjs"
            )),
            Target::File("vitest/broken.test.mjs".into())
        );
        // A typed id.
        let typed = TestRef {
            id: "src/a.test.ts::outer > inner > t".into(),
            classname: None,
            name: "t".into(),
            file: None,
            suite: Vec::new(),
        };
        assert_eq!(
            vitest_target(&typed),
            Target::Test {
                file: Some("src/a.test.ts".into()),
                full_name: "outer inner t".into()
            }
        );
        // A record of vitest's json reporter.
        let json = TestRef {
            id: "src/a.test.ts › outer › t".into(),
            classname: Some("outer".into()),
            name: "t".into(),
            file: Some("src/a.test.ts".into()),
            suite: vec!["outer".into()],
        };
        assert_eq!(
            vitest_target(&json),
            Target::Test {
                file: Some("src/a.test.ts".into()),
                full_name: "outer t".into()
            }
        );
    }

    #[test]
    fn lists_tests_like_junit_records() {
        let v = vitest("npx vitest run --reporter=dot src");
        let plan = v.list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(plan.cmd.args, ["vitest", "list", "src", "--json"]);
        assert!(
            matches!(plan.report, ReportSource::Stdout { ref capture, .. }
            if capture == Path::new("/s/vitest-list.txt"))
        );
        assert_eq!(
            vitest("vitest --config c")
                .list(Path::new("/s"))
                .unwrap()
                .unwrap()
                .cmd
                .args,
            ["list", "--config", "c", "--json"]
        );
        assert!(vitest("npm test").list(Path::new("/s")).unwrap().is_err());
        assert!(
            vitest("vitest bench")
                .list(Path::new("/s"))
                .unwrap()
                .is_err()
        );

        let cwd = std::env::current_dir().unwrap();
        let file = cwd.join("vitest/math.test.mjs").display().to_string();
        let stdout = format!(
            "[log] from a test file\n{}\n",
            serde_json::json!([
                {"name": "math > adds numbers", "file": file},
                {"file": file},
                {"name": "x"}
            ])
        );
        let refs = v.parse_list(&stdout).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(
            refs[0],
            junit_ref("vitest/math.test.mjs", "math > adds numbers")
        );
        assert_eq!(refs[0].id, "vitest/math.test.mjs::math > adds numbers");
        assert_eq!(refs[1].id, "vitest/math.test.mjs");
        assert_eq!(
            vitest_target(&refs[1]),
            Target::File("vitest/math.test.mjs".into())
        );
        assert!(v.parse_list("").is_err());
        assert_eq!(v.parse_list("[]").unwrap(), []);
    }

    #[test]
    fn refuses_order_and_repeat() {
        let v = vitest("vitest");
        let mut req = request(None);
        req.order = Order::Shuffled(1);
        assert!(matches!(
            v.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        req.order = Order::AsWritten;
        req.repeat = 2;
        assert!(matches!(
            v.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        let caps = v.capabilities();
        assert!(caps.select && caps.list && !caps.order && !caps.repeat);
    }
}
