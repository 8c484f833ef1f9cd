//! `go test`: the report is the `go test -json` event stream on stdout.
//!
//! # The command line
//! - `-json` is added when absent. The user still sees normal `go test -v` text:
//!   [`GoTest::display_line`] prints each event's `Output` and passes non-JSON lines (plain build
//!   output) through. Build errors go to stderr, which is not captured (it reaches the user as
//!   is); the stream still has the `FAIL pkg [build failed]` summary, which the parser turns into
//!   an errored `pkg::[build failed]` record.
//! - A selection becomes `-run '^(?:TestA|TestB)$'` over the *top-level* names (a failed subtest
//!   `TestA/case` re-runs `TestA`, the smallest unit go can select without guessing how the
//!   subtest names were rewritten), RE2-escaped, replacing the user's `-run`. When every selected
//!   id carries its package (`example.com/m/pkg::TestA/sub`), the user's package arguments are
//!   replaced by those packages, so that unrelated packages are neither built nor run; one
//!   pattern serves all of them, so a same-named test in another selected package runs too.
//!   Package-level records of the parser (`[build failed]`, `Failure`) select their package
//!   without adding a name.
//! - `-count=1` is added to a selection: go caches passing results, and a cached pass says
//!   nothing about flakiness. [`Request::repeat`] `N` becomes `-count=N` (runs in one process,
//!   one after another), replacing the user's `-count`.
//! - Everything after `-args` goes to the test binaries untouched.
//!
//! Listing runs `go test -list . PACKAGES` (with the user's build flags), which prints the test
//! names of each package before its `ok  pkg` summary line.

use std::borrow::Cow;
use std::path::Path;

use flakehound_model::{Dialect, Format, canonical_id};

use crate::cargo::read_capture;
use crate::shared::{captured, cmd_from_words, stdout_plan, unsupported};
use crate::{
    Adapter, Capabilities, Cmd, Error, Order, Plan, Request, Result, Results, RunnerKind, TestRef,
    program_name, read_files,
};

/// Boolean flags of `go test` and of the go build system (they never take a separate value).
/// Any other flag without `=` is taken to consume the next argument, as go's flag parser does
/// for non-boolean flags; an unknown flag (passed on to the test binary) is taken as boolean.
const BOOL_FLAGS: &[&str] = &[
    "a",
    "asan",
    "benchmem",
    "c",
    "cover",
    "failfast",
    "fullpath",
    "i",
    "json",
    "linkshared",
    "modcacherw",
    "msan",
    "n",
    "race",
    "short",
    "trimpath",
    "v",
    "work",
    "x",
];

/// Value-taking flags of `go test` and of the go build system.
const VALUE_FLAGS: &[&str] = &[
    "asmflags",
    "bench",
    "benchtime",
    "blockprofile",
    "blockprofilerate",
    "buildmode",
    "buildvcs",
    "C",
    "compiler",
    "count",
    "covermode",
    "coverpkg",
    "coverprofile",
    "cpu",
    "cpuprofile",
    "exec",
    "fuzz",
    "fuzzminimizetime",
    "fuzztime",
    "gccgoflags",
    "gcflags",
    "installsuffix",
    "ldflags",
    "list",
    "memprofile",
    "memprofilerate",
    "mod",
    "modfile",
    "mutexprofile",
    "mutexprofilefraction",
    "o",
    "outputdir",
    "overlay",
    "p",
    "parallel",
    "pgo",
    "pkgdir",
    "run",
    "shuffle",
    "skip",
    "tags",
    "timeout",
    "toolexec",
    "trace",
    "vet",
];

/// Flags a listing drops: they select, repeat or format test *runs*.
const RUN_ONLY: &[&str] = &[
    "bench", "count", "failfast", "fuzz", "json", "list", "run", "shuffle", "skip",
];

pub struct GoTest {
    cmd: Cmd,
}

impl GoTest {
    pub fn new(cmd: Cmd) -> Self {
        Self { cmd }
    }
}

impl Adapter for GoTest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Go
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(1)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            select: true,
            list: true,
            order: false,
            repeat: true,
        }
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        if req.order != Order::AsWritten {
            return Err(unsupported(self.kind(), "run tests in a chosen order"));
        }
        let mut argv = GoArgv::split(&self.cmd);
        if !argv.has("json") {
            argv.flags.insert(0, vec!["-json".into()]);
        }
        let mut count = (req.repeat > 1).then_some(req.repeat);
        if let Some(selection) = &req.selection {
            let (packages, names) = go_selection(selection)?;
            argv.remove("run");
            if !names.is_empty() {
                argv.flags.push(vec!["-run".into(), run_pattern(&names)]);
            }
            if let Some(packages) = packages {
                argv.packages = packages;
            }
            count.get_or_insert(1);
        }
        if let Some(n) = count {
            argv.remove("count");
            argv.flags.push(vec![format!("-count={n}")]);
        }
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(req.env.iter().cloned());
        let capture = scratch.join(format!("go-test-{}.jsonl", req.invocation));
        Ok(stdout_plan(cmd, capture, false))
    }

    /// `go test -run '^TestX$' -count=1 PACKAGE`: the plan's selection without `-json`, with the
    /// test cache off (a cached pass would not reproduce anything).
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let mut argv = GoArgv::split(&self.cmd);
        let (packages, names) = go_selection(tests).ok()?;
        argv.remove("run");
        if !names.is_empty() {
            argv.flags.push(vec!["-run".into(), run_pattern(&names)]);
        }
        if let Some(packages) = packages {
            argv.packages = packages;
        }
        argv.remove("count");
        argv.flags.push(vec!["-count=1".into()]);
        let mut cmd = argv.into_cmd(&self.cmd);
        cmd.env.extend(env.iter().cloned());
        Some(cmd.display())
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let mut argv = GoArgv::split(&self.cmd);
        for flag in RUN_ONLY {
            argv.remove(flag);
        }
        argv.flags.insert(0, vec!["-list".into(), ".".into()]);
        if argv.packages.is_empty() {
            // A package argument makes go print the summary line naming the package, even for
            // the current directory.
            argv.packages.push(".".into());
        }
        let cmd = argv.into_cmd(&self.cmd);
        Some(Ok(stdout_plan(
            cmd,
            scratch.join("go-test-list.txt"),
            false,
        )))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let mut refs = Vec::new();
        let mut pending: Vec<&str> = Vec::new();
        let mut any_summary = false;
        for line in stdout.lines() {
            let line = line.trim_end_matches('\r');
            if let Some((status, package)) = summary(line) {
                any_summary = true;
                // A package that failed to build or to list lists nothing.
                if status == "ok" {
                    for name in pending.drain(..) {
                        refs.push(go_ref(Some(package), name));
                    }
                }
                pending.clear();
            } else if is_listed_test(line) {
                pending.push(line);
            }
        }
        // Names without a summary line (a truncated output) have no package.
        refs.extend(pending.into_iter().map(|name| go_ref(None, name)));
        if refs.is_empty() && !any_summary {
            return Err(Error::BadReport {
                path: "go test -list output".into(),
                reason: "no test names and no package summary line in it".into(),
            });
        }
        Ok(refs)
    }

    fn display_line<'a>(&self, line: &'a str) -> Option<Cow<'a, str>> {
        if !line.starts_with('{') {
            return Some(Cow::Borrowed(line));
        }
        let event: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return Some(Cow::Borrowed(line)),
        };
        // Not a test2json event: whatever it is, the user should see it.
        if event.get("Action").is_none() {
            return Some(Cow::Borrowed(line));
        }
        let output = event.get("Output")?.as_str()?;
        let output = output.strip_suffix('\n').unwrap_or(output);
        let output = output.strip_suffix('\r').unwrap_or(output);
        Some(Cow::Owned(output.to_string()))
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        let capture = captured(
            plan,
            "a go test plan reads its captured output, not report files",
        )?;
        let text = read_capture(RunnerKind::Go, capture)?;
        if text.trim().is_empty() {
            return Err(Error::MissingReport {
                runner: RunnerKind::Go.name(),
                detail: "go test printed nothing on stdout (see its error output)".into(),
            });
        }
        read_files(
            RunnerKind::Go,
            std::slice::from_ref(capture),
            Some(Format::GoJson),
        )
    }
}

/// A test of a selection: its package (when the id carries one) and name.
fn split_ref(t: &TestRef) -> (Option<&str>, &str) {
    match t.classname.as_deref() {
        Some(pkg) if !pkg.is_empty() => (Some(pkg), t.name.as_str()),
        // Import paths never contain `::`, while subtest names may: split at the first one.
        _ => match t.id.split_once("::") {
            Some((pkg, name)) => (Some(pkg), name),
            None => (None, t.id.as_str()),
        },
    }
}

/// The packages (`None` unless every test has one) and the top-level test names of a selection.
fn go_selection(selection: &[TestRef]) -> Result<(Option<Vec<String>>, Vec<String>)> {
    if selection.is_empty() {
        return Err(Error::Command(
            "no tests selected: go test -run cannot express an empty selection".into(),
        ));
    }
    let mut packages: Option<Vec<String>> = Some(Vec::new());
    let mut names: Vec<String> = Vec::new();
    for t in selection {
        let (pkg, name) = split_ref(t);
        match (pkg, packages.as_mut()) {
            (Some(p), Some(list)) if !list.iter().any(|q| q == p) => list.push(p.to_string()),
            (Some(_), _) => {}
            (None, _) => packages = None,
        }
        let top = name.split('/').next().unwrap_or(name);
        if is_test_func(top) && !names.iter().any(|n| n == top) {
            names.push(top.to_string());
        }
    }
    if names.is_empty() && packages.is_none() {
        return Err(Error::Command(
            "none of the selected tests is a go test function, and they name no package".into(),
        ));
    }
    Ok((packages, names))
}

/// Whether `name` can be a function go test runs (not a package-level record of the parser
/// such as `[build failed]` or `Failure`).
fn is_test_func(name: &str) -> bool {
    ["Test", "Example", "Fuzz", "Benchmark"]
        .iter()
        .any(|p| name.starts_with(p))
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `^(?:A|B)$` with each name RE2-escaped.
fn run_pattern(names: &[String]) -> String {
    let alternatives: Vec<String> = names.iter().map(|n| re2_escape(n)).collect();
    format!("^(?:{})$", alternatives.join("|"))
}

fn re2_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn go_ref(package: Option<&str>, name: &str) -> TestRef {
    TestRef {
        id: canonical_id(Dialect::Go, package, name, None, None),
        classname: package.map(String::from),
        name: name.to_string(),
        file: None,
        suite: package.map(String::from).into_iter().collect(),
    }
}

/// A `go test` summary line: `ok  \tpkg\t0.01s`, `FAIL\tpkg [build failed]`,
/// `?   \tpkg\t[no test files]` → (status, package).
fn summary(line: &str) -> Option<(&str, &str)> {
    let (status, rest) = line.split_once('\t')?;
    let status = status.trim_end();
    if !matches!(status, "ok" | "FAIL" | "?") {
        return None;
    }
    let package = rest.split(['\t', ' ']).next()?;
    (!package.is_empty()).then_some((status, package))
}

/// A name printed by `-list`: tests, examples and fuzz targets, which `go test` runs
/// (benchmarks only run with `-bench`).
fn is_listed_test(line: &str) -> bool {
    ["Test", "Example", "Fuzz"]
        .iter()
        .any(|p| line.starts_with(p))
        && line.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A `go test` command line: flags (each with its value) and packages, then `-args ...`.
#[derive(Debug)]
struct GoArgv {
    /// Everything up to and including `test` (`go test`, `env X=1 go test`).
    head: Vec<String>,
    /// Flags in order, each as its argument(s): `["-v"]`, `["-run", "X"]`, `["-count=2"]`.
    flags: Vec<Vec<String>>,
    packages: Vec<String>,
    /// `-args` and what follows.
    tail: Vec<String>,
}

impl GoArgv {
    fn split(cmd: &Cmd) -> GoArgv {
        let words: Vec<&String> = std::iter::once(&cmd.program).chain(&cmd.args).collect();
        let go = words.iter().position(|w| program_name(w) == "go");
        let at = go
            .and_then(|g| {
                words[g..]
                    .iter()
                    .position(|w| *w == "test")
                    .map(|t| g + t + 1)
            })
            .unwrap_or(1);
        let head = words[..at].iter().map(|w| w.to_string()).collect();
        let mut argv = GoArgv {
            head,
            flags: Vec::new(),
            packages: Vec::new(),
            tail: Vec::new(),
        };
        let mut rest = words[at..].iter().map(|w| w.to_string());
        while let Some(a) = rest.next() {
            if a == "-args" || a == "--args" {
                argv.tail.push(a);
                argv.tail.extend(rest.by_ref());
                break;
            }
            match flag_name(&a) {
                None => argv.packages.push(a),
                Some((name, has_value)) => {
                    let takes_next =
                        !has_value && !BOOL_FLAGS.contains(&name) && VALUE_FLAGS.contains(&name);
                    let mut flag = vec![a.clone()];
                    if takes_next {
                        flag.extend(rest.next());
                    }
                    argv.flags.push(flag);
                }
            }
        }
        argv
    }

    fn has(&self, name: &str) -> bool {
        self.flags
            .iter()
            .any(|f| flag_name(&f[0]).is_some_and(|(n, _)| n == name))
    }

    fn remove(&mut self, name: &str) {
        self.flags
            .retain(|f| flag_name(&f[0]).is_none_or(|(n, _)| n != name));
    }

    fn into_cmd(self, base: &Cmd) -> Cmd {
        let words = self
            .head
            .into_iter()
            .chain(self.flags.into_iter().flatten())
            .chain(self.packages)
            .chain(self.tail);
        cmd_from_words(words, "go", base)
    }
}

/// `-name`, `--name`, `-name=value` → (name, whether the value is attached); `None` for a
/// non-flag (a package).
fn flag_name(a: &str) -> Option<(&str, bool)> {
    let body = a.strip_prefix("--").or_else(|| a.strip_prefix('-'))?;
    if body.is_empty() {
        return None;
    }
    Some(match body.split_once('=') {
        Some((name, _)) => (name, true),
        None => (body, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportSource;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn adapter(line: &str) -> GoTest {
        GoTest::new(Cmd::from_argv(&argv(line)).unwrap())
    }

    fn go_tref(id: &str) -> TestRef {
        let (pkg, name) = id
            .split_once("::")
            .map_or((None, id), |(p, n)| (Some(p), n));
        go_ref(pkg, name)
    }

    fn plan(line: &str, req: Request) -> Plan {
        adapter(line).plan(&req, Path::new("/s")).unwrap()
    }

    #[test]
    fn reproduction_is_a_plain_go_test_of_the_one_test() {
        let t = TestRef {
            id: "example.com/m/pkg::TestRace".into(),
            classname: Some("example.com/m/pkg".into()),
            name: "TestRace".into(),
            file: None,
            suite: vec![],
        };
        let env = [("GOFLAGS".to_string(), "-race".to_string())];
        assert_eq!(
            adapter("go test -v -count 3 -run Foo ./...")
                .reproduction(std::slice::from_ref(&t), &env)
                .unwrap(),
            "GOFLAGS=-race go test -v -run '^(?:TestRace)$' -count=1 example.com/m/pkg"
        );
    }

    #[test]
    fn plans_a_full_run_with_json() {
        let p = plan(
            "go test -v -tags it ./... -args -flag x",
            Request {
                invocation: 2,
                ..Request::default()
            },
        );
        assert_eq!(
            p.cmd.display(),
            "go test -json -v -tags it ./... -args -flag x"
        );
        assert_eq!(
            p.report,
            ReportSource::Stdout {
                capture: "/s/go-test-2.jsonl".into(),
                merge_stderr: false
            }
        );
        // No second -json; repeat → -count.
        let p = plan(
            "go test -json=true -count 5 ./pkg",
            Request {
                repeat: 3,
                ..Request::default()
            },
        );
        assert_eq!(p.cmd.display(), "go test -json=true -count=3 ./pkg");
        assert!(matches!(
            adapter("go test").plan(
                &Request {
                    order: Order::Reversed,
                    ..Request::default()
                },
                Path::new("/s")
            ),
            Err(Error::Unsupported { .. })
        ));
        assert_eq!(
            adapter("go test").capabilities(),
            Capabilities {
                select: true,
                list: true,
                order: false,
                repeat: true
            }
        );
    }

    #[test]
    fn plans_selections() {
        let sel = vec![
            go_tref("example.com/m/a::TestA/sub case"),
            go_tref("example.com/m/a::TestA/other"),
            go_tref("example.com/m/b::TestB"),
            go_tref("example.com/m/c::[build failed]"),
        ];
        let p = plan(
            "env X=1 go test -run Old -v -count=4 ./... -args -x",
            Request {
                selection: Some(sel),
                ..Request::default()
            },
        );
        assert_eq!(
            p.cmd.args,
            argv(
                "X=1 go test -json -v -run ^(?:TestA|TestB)$ -count=1 \
                 example.com/m/a example.com/m/b example.com/m/c -args -x"
            )
        );
        // Without packages in the ids, the user's packages stay.
        let p = plan(
            "go test ./...",
            Request {
                selection: Some(vec![go_tref("TestLoose"), go_tref("pkg::TestX")]),
                repeat: 2,
                ..Request::default()
            },
        );
        assert_eq!(
            p.cmd.display(),
            "go test -json -run '^(?:TestLoose|TestX)$' -count=2 ./..."
        );
        // Only package-level records: the packages, no -run.
        let p = plan(
            "go test ./...",
            Request {
                selection: Some(vec![go_tref("m/p::Failure")]),
                ..Request::default()
            },
        );
        assert_eq!(p.cmd.display(), "go test -json -count=1 m/p");
        for bad in [vec![], vec![go_tref("[build failed]")]] {
            let err = adapter("go test")
                .plan(
                    &Request {
                        selection: Some(bad),
                        ..Request::default()
                    },
                    Path::new("/s"),
                )
                .unwrap_err();
            assert!(matches!(err, Error::Command(_)), "{err}");
        }
    }

    #[test]
    fn escapes_for_re2() {
        assert_eq!(
            run_pattern(&["TestA".into(), "Test_ü2".into()]),
            "^(?:TestA|Test_ü2)$"
        );
        assert_eq!(
            re2_escape(r"a.b+c*(d)|[e]{f}^$\"),
            r"a\.b\+c\*\(d\)\|\[e\]\{f\}\^\$\\"
        );
        assert!(!is_test_func("TestX(odd)"));
        assert!(is_test_func("ExampleFoo_bar"));
    }

    #[test]
    fn splits_flags_values_and_packages() {
        let a = GoArgv::split(
            &Cmd::from_argv(&argv(
                "go test -race -timeout 30s --tags=x -o out pkg/a pkg/b -unknown -args -v",
            ))
            .unwrap(),
        );
        assert_eq!(a.head, argv("go test"));
        assert_eq!(
            a.flags,
            vec![
                argv("-race"),
                argv("-timeout 30s"),
                argv("--tags=x"),
                argv("-o out"),
                argv("-unknown")
            ]
        );
        assert_eq!(a.packages, argv("pkg/a pkg/b"));
        assert_eq!(a.tail, argv("-args -v"));
        assert!(a.has("tags"));
        assert!(!a.has("v"));
    }

    #[test]
    fn lists_per_package() {
        let a = adapter("go test -v -run X -count 3 -tags it ./...");
        let p = a.list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(p.cmd.display(), "go test -list . -v -tags it ./...");
        let p = adapter("go test").list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(p.cmd.display(), "go test -list . .");

        let out = "TestPass\nTestFail\nBenchmarkB\nExampleE\nFuzzF\nok  \texample.com/gop\t0.003s\n\
                   TestBroken\nFAIL\texample.com/broken [build failed]\n\
                   ?   \texample.com/empty\t[no test files]\n\
                   some log line\nTestPass\nok  \texample.com/gop/sub\t0.004s\nTestTail\n";
        let refs = a.parse_list(out).unwrap();
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "example.com/gop::TestPass",
                "example.com/gop::TestFail",
                "example.com/gop::ExampleE",
                "example.com/gop::FuzzF",
                "example.com/gop/sub::TestPass",
                "TestTail",
            ]
        );
        assert_eq!(refs[0].classname.as_deref(), Some("example.com/gop"));
        assert_eq!(refs[0].suite, vec!["example.com/gop".to_string()]);
        assert!(a.parse_list("").is_err());
        assert!(a.parse_list("garbage\n{}\n").is_err());
        assert_eq!(
            a.parse_list("?   \tm/x\t[no test files]\n").unwrap(),
            vec![]
        );
    }

    #[test]
    fn displays_event_output() {
        let a = adapter("go test");
        let ev = r#"{"Time":"2024-01-01T00:00:00Z","Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}"#;
        assert_eq!(a.display_line(ev).as_deref(), Some("=== RUN   TestA"));
        let ev = r#"{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}"#;
        assert_eq!(a.display_line(ev), None);
        assert_eq!(
            a.display_line("# example.com/broken").as_deref(),
            Some("# example.com/broken")
        );
        assert_eq!(a.display_line("{not json").as_deref(), Some("{not json"));
        assert_eq!(a.display_line(r#"{"a":1}"#).as_deref(), Some(r#"{"a":1}"#));
    }

    #[test]
    fn reads_the_captured_stream() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter("go test");
        let p = a.plan(&Request::default(), dir.path()).unwrap();
        let err = a.read(&p).unwrap_err();
        assert!(err.to_string().contains("was not captured"), "{err}");
        let ReportSource::Stdout { capture, .. } = &p.report else {
            unreachable!()
        };
        std::fs::write(capture, "").unwrap();
        let err = a.read(&p).unwrap_err();
        assert!(err.to_string().contains("printed nothing"), "{err}");
        std::fs::write(capture, "random words\n").unwrap();
        assert!(matches!(a.read(&p), Err(Error::BadReport { .. })));
        std::fs::write(
            capture,
            [
                r#"{"Action":"run","Package":"m/p","Test":"TestA"}"#,
                r#"{"Action":"output","Package":"m/p","Test":"TestA","Output":"--- FAIL: TestA (0.00s)\n"}"#,
                r#"{"Action":"fail","Package":"m/p","Test":"TestA","Elapsed":0}"#,
                r#"{"Action":"output","Package":"m/p","Output":"FAIL\tm/p\t0.01s\n"}"#,
                r#"{"Action":"fail","Package":"m/p","Elapsed":0.01}"#,
            ]
            .join("\n"),
        )
        .unwrap();
        let results = a.read(&p).unwrap();
        assert_eq!(results.cases.len(), 1);
        assert_eq!(results.cases[0].id, "m/p::TestA");
    }
}
