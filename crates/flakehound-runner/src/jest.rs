//! jest (`jest`, `npx jest`, `yarn jest`, `npm test` with `--runner jest`...).
//!
//! - **Report**: `--json --outputFile=<scratch>/jest-<invocation>.json --testLocationInResults`
//!   is appended, read with the `jest-json` parser. A `--json` or `--outputFile` the user passed
//!   is removed first: the report must go to a fresh, per-invocation path that flakehound
//!   controls (the user's file is not written during flakehound runs). `--watch`/`--watchAll`
//!   are removed too, since a run must end.
//! - **Selection**: the files of the selected tests as positional path patterns
//!   (`(?:^|/)src/a\.test\.js$`: jest matches them as regular expressions against absolute
//!   paths), plus `-t '^(?:NAME|...)$'`, NAME being jest's full name (describe blocks and title
//!   joined by spaces), regex-escaped as in `flakehound quarantine export --runner jest`. Any
//!   `-t` of the user is replaced. Limits: jest matches `-t` case-insensitively and against
//!   every selected file, so a test with the same full name in a selected file runs too (e.g.
//!   `describe('a') › test('b')` and `test('a b')`); positional patterns the user wrote stay and
//!   add files. A whole-file selection (a file that failed to run, or an entry of the file list)
//!   cannot be expressed with `-t`: when one is selected, `-t` is left out and every test of the
//!   selected files runs. When a selected test has no known file, no path pattern is passed.
//! - **Results**: jest reports the tests `-t` filtered out as `pending`; [`Adapter::read`]
//!   drops skipped records whose full name is not one of the selected names (parsed back from
//!   the `-t` argument), so the results are those of the selection.
//! - **List**: `--listTests --json` prints the test *files*; [`Adapter::parse_list`] returns one
//!   [`TestRef`] per file (id = name = file = the path relative to the working directory, no
//!   suite), the same shape as the record of a file that failed to run. Selecting such a ref
//!   runs the whole file. (jest 30's `--collectTests` lists single tests, but older versions
//!   reject it.) Ordering and repetition are not supported: jest runs files in parallel workers
//!   and orders them itself.
//! - With `npm` as the program (`npm test`), a `--` is inserted before the added arguments so
//!   that npm hands them to the script.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flakehound_model::{Format, TestCase};

use crate::shared::{SELECT_AND_LIST, file_plan, report_files, stdout_plan, unsupported};
use crate::{
    Adapter, Capabilities, Cmd, Error, Order, Plan, Request, Result, Results, RunnerKind, TestRef,
    program_name, read_files,
};

pub struct Jest {
    cmd: Cmd,
}

impl Jest {
    pub fn new(cmd: Cmd) -> Self {
        Self { cmd }
    }

    /// The user's arguments without those flakehound replaces (see the module docs).
    fn base_args(&self, replace_name_pattern: bool) -> Vec<String> {
        let mut drop: Vec<(&str, bool)> = vec![
            ("--json", false),
            ("--outputFile", true),
            ("--watch", false),
            ("--watchAll", false),
        ];
        if replace_name_pattern {
            drop.extend([("-t", true), ("--testNamePattern", true)]);
        }
        let mut args = remove_flags(&self.cmd.args, &drop);
        if needs_separator(&self.cmd) {
            args.push("--".into());
        }
        args
    }
}

impl Adapter for Jest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Jest
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(1)
    }

    fn capabilities(&self) -> Capabilities {
        SELECT_AND_LIST
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        check_request(self.kind(), req)?;
        let report = scratch.join(format!("jest-{}.json", req.invocation));
        let mut cmd = self.cmd.clone();
        cmd.args = self.base_args(req.selection.is_some());
        cmd.args.extend([
            "--json".to_string(),
            format!("--outputFile={}", report.display()),
            "--testLocationInResults".to_string(),
        ]);
        if let Some(selection) = &req.selection {
            let targets = Targets::of(self.kind(), selection, jest_target)?;
            cmd.args.extend(targets.args(path_pattern));
        }
        cmd.env.extend(req.env.iter().cloned());
        Ok(file_plan(
            cmd,
            report,
            Some(Format::JestJson),
            fresh_after(),
        ))
    }

    /// The user's jest command narrowed to the tests (file paths and an exact name pattern),
    /// without the JSON report flakehound adds.
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let targets = Targets::of(self.kind(), tests, jest_target).ok()?;
        let mut cmd = self.cmd.clone();
        cmd.args = self.base_args(true);
        cmd.args.extend(targets.args(path_pattern));
        cmd.env.extend(env.iter().cloned());
        Some(cmd.display())
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let mut cmd = self.cmd.clone();
        cmd.args = self.base_args(false);
        cmd.args
            .extend(["--listTests".to_string(), "--json".to_string()]);
        Some(Ok(stdout_plan(cmd, scratch.join("jest-list.txt"), false)))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let files: Vec<String> = match json_array(stdout, serde_json::Value::is_string) {
            Some(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            // Without `--json` (an old jest, or a wrapper that drops it): one path a line.
            None => {
                let lines: Vec<String> = stdout
                    .lines()
                    .map(str::trim)
                    .filter(|l| looks_absolute(l))
                    .map(str::to_string)
                    .collect();
                if lines.is_empty() {
                    return Err(Error::BadReport {
                        path: "jest --listTests output".into(),
                        reason: "no JSON array of test files and no absolute path in it".into(),
                    });
                }
                lines
            }
        };
        let base = base_dir(&self.cmd);
        Ok(files
            .iter()
            .map(|f| {
                let rel = relative_path(f, base.as_deref());
                TestRef {
                    id: rel.clone(),
                    classname: None,
                    name: rel.clone(),
                    file: Some(rel),
                    suite: Vec::new(),
                }
            })
            .collect())
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        read_selected(self.kind(), plan, false, jest_full_name)
    }
}

/// What one selected test turns into on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every test of a file.
    File(String),
    /// One test: its file when known, and its full name (titles joined by spaces).
    Test {
        file: Option<String>,
        full_name: String,
    },
}

/// jest's view of a test reference. Refs read from jest's JSON have `suite` = describe blocks
/// and `classname` = them joined by ` › `; other refs (typed ids, jest-junit records) are read
/// from the id `path › describe › title`, as `quarantine export` does.
fn jest_target(r: &TestRef) -> Target {
    if let Some(file) = &r.file {
        if r.suite.is_empty() && (r.id == *file || r.name == *file) {
            return Target::File(file.clone());
        }
    }
    let from_record = r.classname.as_deref().unwrap_or("") == r.suite.join(" › ");
    if from_record {
        let full_name = r
            .suite
            .iter()
            .map(String::as_str)
            .chain([r.name.as_str()])
            .collect::<Vec<_>>()
            .join(" ");
        return Target::Test {
            file: r.file.clone(),
            full_name,
        };
    }
    let parts: Vec<&str> = r.id.split(" › ").collect();
    match parts.split_first() {
        Some((first, rest)) if !rest.is_empty() && looks_like_test_path(first) => Target::Test {
            file: r.file.clone().or_else(|| Some(first.to_string())),
            full_name: rest.join(" "),
        },
        _ => Target::Test {
            file: r.file.clone(),
            full_name: parts.join(" "),
        },
    }
}

/// The full name jest matches `-t` against, for a record read from jest's JSON.
fn jest_full_name(case: &TestCase) -> String {
    case.suite
        .iter()
        .map(String::as_str)
        .chain([case.name.as_str()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The files and names of a selection.
pub(crate) struct Targets {
    /// Files to pass as filters, deduplicated, in selection order. Empty when some selected test
    /// has no known file (then every file must be considered).
    pub files: Vec<String>,
    /// Full names to match; `None` when a whole file is selected.
    pub names: Option<Vec<String>>,
}

impl Targets {
    pub fn of(
        kind: RunnerKind,
        selection: &[TestRef],
        target: fn(&TestRef) -> Target,
    ) -> Result<Targets> {
        if selection.is_empty() {
            return Err(Error::Command(format!(
                "no tests selected: {} would run every test",
                kind.name()
            )));
        }
        let mut files: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut whole_file = false;
        let mut unknown_file = false;
        for r in selection {
            let file = match target(r) {
                Target::File(f) => {
                    whole_file = true;
                    Some(f)
                }
                Target::Test { file, full_name } => {
                    if !names.contains(&full_name) {
                        names.push(full_name);
                    }
                    file
                }
            };
            match file {
                Some(f) if !files.contains(&f) => files.push(f),
                Some(_) => {}
                None => unknown_file = true,
            }
        }
        if unknown_file {
            files.clear();
        }
        Ok(Targets {
            files,
            names: (!whole_file).then_some(names),
        })
    }

    /// The arguments selecting the targets: each file as `file_arg` writes it, then
    /// `-t` [`Targets::name_pattern`] when there is one.
    pub fn args(&self, file_arg: fn(&str) -> String) -> Vec<String> {
        let mut args: Vec<String> = self.files.iter().map(|f| file_arg(f)).collect();
        if let Some(pattern) = self.name_pattern() {
            args.extend(["-t".to_string(), pattern]);
        }
        args
    }

    /// `^(?:NAME|...)$` with each name regex-escaped.
    pub fn name_pattern(&self) -> Option<String> {
        let names = self.names.as_ref()?;
        let alternatives: Vec<String> = names
            .iter()
            .map(|n| regex_escape(n, NAME_SPECIAL))
            .collect();
        Some(format!("^(?:{})$", alternatives.join("|")))
    }
}

/// Characters escaped in test names (the set `quarantine export` uses for jest).
const NAME_SPECIAL: &str = r"\^$.*+?()[]{}|/-";
/// Characters escaped in path patterns: `/` stays bare so that jest can adapt it to Windows
/// separators.
const PATH_SPECIAL: &str = r"\^$.*+?()[]{}|";

pub(crate) fn regex_escape(s: &str, special: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A jest path pattern matching exactly `file`: anchored at both ends for an absolute path,
/// else at the end and at a directory boundary (jest matches against absolute paths).
fn path_pattern(file: &str) -> String {
    if looks_absolute(file) {
        format!("^{}$", regex_escape(file, PATH_SPECIAL))
    } else {
        let file = file.trim_start_matches("./");
        format!("(?:^|/){}$", regex_escape(file, PATH_SPECIAL))
    }
}

/// The names of a `^(?:A|B)$` pattern built by [`Targets::name_pattern`], from the last `-t` /
/// `--testNamePattern` in `args`; `None` when there is none or it has another shape.
pub(crate) fn pattern_names(args: &[String]) -> Option<Vec<String>> {
    let mut value: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-t" || a == "--testNamePattern" {
            value = args.get(i + 1).map(String::as_str);
            i += 1;
        } else if let Some(v) = a
            .strip_prefix("--testNamePattern=")
            .or_else(|| a.strip_prefix("-t="))
        {
            value = Some(v);
        }
        i += 1;
    }
    let body = value?.strip_prefix("^(?:")?.strip_suffix(")$")?;
    let mut names = vec![String::new()];
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => names.last_mut()?.push(chars.next()?),
            '|' => names.push(String::new()),
            // An unescaped special character: not a pattern of ours.
            '(' | ')' | '[' | ']' | '*' | '+' | '?' | '^' | '$' | '.' | '{' | '}' => return None,
            c => names.last_mut()?.push(c),
        }
    }
    Some(names)
}

/// Reads the report of `plan` and drops the skipped records of tests a name pattern filtered
/// out (see the module docs). `full_name` gives the name the runner matched.
pub(crate) fn read_selected(
    kind: RunnerKind,
    plan: &Plan,
    case_sensitive: bool,
    full_name: fn(&TestCase) -> String,
) -> Result<Results> {
    let (paths, format, fresh_after) = report_files(
        plan,
        &format!("{} reads report files, not standard output", kind.name()),
    )?;
    check_fresh(kind, paths, fresh_after)?;
    let mut results = read_files(kind, paths, format)?;
    if let Some(names) = pattern_names(&plan.cmd.args) {
        let fold = |s: &str| {
            if case_sensitive {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        let names: std::collections::HashSet<String> = names.iter().map(|n| fold(n)).collect();
        results.cases.retain(|c| {
            c.outcome != flakehound_model::Outcome::Skipped || names.contains(&fold(&full_name(c)))
        });
    }
    Ok(results)
}

/// Fails when a report file was last written before `fresh_after` (left by an earlier run).
pub(crate) fn check_fresh(
    kind: RunnerKind,
    paths: &[PathBuf],
    fresh_after: Option<SystemTime>,
) -> Result<()> {
    let Some(after) = fresh_after else {
        return Ok(());
    };
    for path in paths {
        let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
            continue; // read_files reports a missing file
        };
        if modified < after {
            return Err(Error::MissingReport {
                runner: kind.name(),
                detail: format!(
                    "{} was not written by this run (it is older than the run)",
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// The instant a report must be newer than: now, rounded down to the second, because some file
/// systems keep modification times in whole seconds.
pub(crate) fn fresh_after() -> SystemTime {
    let now = SystemTime::now();
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => now,
    }
}

/// Refuses what neither jest nor vitest can do.
pub(crate) fn check_request(kind: RunnerKind, req: &Request) -> Result<()> {
    if req.order != Order::AsWritten {
        return Err(unsupported(kind, "run tests in a chosen order"));
    }
    if req.repeat > 1 {
        return Err(unsupported(kind, "repeat tests inside one process"));
    }
    Ok(())
}

/// `args` without the flags in `drop` (`(flag, takes_value)`), in both the `--flag value` and
/// `--flag=value` forms. Arguments after a `--` are looked at too: with
/// `npm test -- ...` they are the runner's.
pub(crate) fn remove_flags(args: &[String], drop: &[(&str, bool)]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let matched = drop.iter().find(|(flag, _)| {
            a == *flag
                || a.strip_prefix(flag)
                    .is_some_and(|rest| rest.starts_with('='))
        });
        match matched {
            // `--flag value`: the value goes too (unless it is another option).
            Some((flag, true)) if a == *flag => {
                if args.get(i + 1).is_some_and(|v| !v.starts_with('-')) {
                    i += 1;
                }
            }
            Some(_) => {}
            None => out.push(args[i].clone()),
        }
        i += 1;
    }
    out
}

/// `npm test` / `npm run x` only hands arguments after `--` to the script.
pub(crate) fn needs_separator(cmd: &Cmd) -> bool {
    program_name(&cmd.program) == "npm"
        && cmd
            .args
            .first()
            .is_some_and(|a| matches!(a.as_str(), "test" | "t" | "tst" | "run" | "run-script"))
        && !cmd.args.iter().any(|a| a == "--")
}

/// The directory the runner resolves relative paths against.
pub(crate) fn base_dir(cmd: &Cmd) -> Option<PathBuf> {
    match &cmd.cwd {
        Some(dir) if dir.is_absolute() => Some(dir.clone()),
        Some(dir) => std::env::current_dir().ok().map(|c| c.join(dir)),
        None => std::env::current_dir().ok(),
    }
}

/// `path` relative to `base` when it lies under it (as the `jest-json` parser does), else as
/// written.
pub(crate) fn relative_path(path: &str, base: Option<&Path>) -> String {
    let Some(base) = base else {
        return path.to_string();
    };
    let canonical = std::fs::canonicalize(base).ok();
    for b in std::iter::once(base).chain(canonical.as_deref()) {
        if let Ok(rest) = Path::new(path).strip_prefix(b) {
            let rest = rest.to_string_lossy();
            if !rest.is_empty() {
                return rest.replace('\\', "/");
            }
        }
    }
    path.to_string()
}

pub(crate) fn looks_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || p.starts_with('\\')
        || (b.len() > 2
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// Whether an id segment names a test file rather than a describe block.
pub(crate) fn looks_like_test_path(s: &str) -> bool {
    const EXTENSIONS: [&str; 8] = [".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts"];
    !s.contains(' ') && (s.contains('/') || EXTENSIONS.iter().any(|e| s.ends_with(e)))
}

/// The first JSON array in `stdout` that starts a line and whose elements all pass `item`
/// (runners print their JSON among any console output of the test files); `None` when there
/// is none.
pub(crate) fn json_array(
    stdout: &str,
    item: fn(&serde_json::Value) -> bool,
) -> Option<Vec<serde_json::Value>> {
    let mut offset = 0;
    for line in stdout.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            let mut stream = serde_json::Deserializer::from_str(&stdout[offset..])
                .into_iter::<serde_json::Value>();
            if let Some(Ok(serde_json::Value::Array(items))) = stream.next() {
                if items.iter().all(item) {
                    return Some(items);
                }
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportSource;

    fn jest(line: &str) -> Jest {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        Jest::new(Cmd::from_argv(&argv).unwrap())
    }

    fn tref(id: &str, file: Option<&str>, suite: &[&str], name: &str) -> TestRef {
        TestRef {
            id: id.into(),
            classname: (!suite.is_empty()).then(|| suite.join(" › ")),
            name: name.into(),
            file: file.map(String::from),
            suite: suite.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn request(selection: Option<Vec<TestRef>>) -> Request {
        Request {
            selection,
            invocation: 3,
            ..Request::default()
        }
    }

    #[test]
    fn full_run_appends_the_report_flags() {
        let plan = jest("npx jest --ci --json --outputFile out.json --watch src")
            .plan(&request(None), Path::new("/s"))
            .unwrap();
        assert_eq!(plan.cmd.program, "npx");
        assert_eq!(
            plan.cmd.args,
            [
                "jest",
                "--ci",
                "src",
                "--json",
                "--outputFile=/s/jest-3.json",
                "--testLocationInResults"
            ]
        );
        let ReportSource::Files {
            paths,
            format,
            fresh_after,
        } = plan.report
        else {
            panic!("files expected");
        };
        assert_eq!(paths, [PathBuf::from("/s/jest-3.json")]);
        assert_eq!(format, Some(Format::JestJson));
        assert!(fresh_after.is_some_and(|t| t <= SystemTime::now()));
    }

    #[test]
    fn reproduction_is_the_users_jest_narrowed_to_the_test() {
        let t = tref(
            "jest/clock.test.js › clock › is utc",
            Some("jest/clock.test.js"),
            &["clock"],
            "is utc",
        );
        let env = [("TZ".to_string(), "Etc/GMT+12".to_string())];
        let r = jest("npx jest --ci -t old --json")
            .reproduction(std::slice::from_ref(&t), &env)
            .unwrap();
        let plan = jest("npx jest --ci -t old --json")
            .plan(&request(Some(vec![t])), Path::new("/s"))
            .unwrap();
        // The plan's selection arguments, without its report flags.
        let selection: Vec<String> = plan.cmd.args[5..]
            .iter()
            .map(|a| crate::shell_quote(a).into_owned())
            .collect();
        assert_eq!(
            r,
            format!("TZ=Etc/GMT+12 npx jest --ci {}", selection.join(" "))
        );
        assert!(!r.contains("--json") && !r.contains("old"), "{r}");
    }

    #[test]
    fn selection_gives_paths_and_an_exact_name_pattern() {
        let sel = vec![
            tref(
                "jest/math.test.js › math › edge (cases)|[x] › divides by $0.50 * 2?",
                Some("jest/math.test.js"),
                &["math", "edge (cases)|[x]"],
                "divides by $0.50 * 2?",
            ),
            tref(
                "jest/math.test.js › top level test",
                Some("jest/math.test.js"),
                &[],
                "top level test",
            ),
            tref(
                "jest/nested/flaky.test.js › flaky › adds numbers",
                Some("jest/nested/flaky.test.js"),
                &["flaky"],
                "adds numbers",
            ),
        ];
        let mut req = request(Some(sel));
        req.env = vec![("TZ".into(), "UTC".into())];
        let plan = jest("yarn jest -t old --testNamePattern=older")
            .plan(&req, Path::new("/s"))
            .unwrap();
        assert_eq!(
            plan.cmd.args[4..],
            [
                r"(?:^|/)jest/math\.test\.js$",
                r"(?:^|/)jest/nested/flaky\.test\.js$",
                "-t",
                r"^(?:math edge \(cases\)\|\[x\] divides by \$0\.50 \* 2\?|top level test|flaky adds numbers)$",
            ]
        );
        assert_eq!(plan.cmd.args[0], "jest");
        assert!(!plan.cmd.args.iter().any(|a| a.contains("old")));
        assert_eq!(plan.cmd.env, [("TZ".to_string(), "UTC".to_string())]);
        assert_eq!(
            pattern_names(&plan.cmd.args).unwrap(),
            [
                "math edge (cases)|[x] divides by $0.50 * 2?",
                "top level test",
                "flaky adds numbers"
            ]
        );
    }

    #[test]
    fn ids_without_record_fields_are_read_like_quarantine_export() {
        let typed = TestRef {
            id: "src/w.test.js › Widget › renders (a|b)?".into(),
            classname: Some("Widget renders".into()),
            name: "Widget renders (a|b)?".into(),
            file: None,
            suite: vec!["widget.test.js".into()],
        };
        assert_eq!(
            jest_target(&typed),
            Target::Test {
                file: Some("src/w.test.js".into()),
                full_name: "Widget renders (a|b)?".into()
            }
        );
        // jest-junit without a file: the first segment is a describe block.
        let junit = TestRef {
            id: "Widget › renders".into(),
            classname: Some("Widget".into()),
            name: "renders".into(),
            file: None,
            suite: vec!["jest tests".into()],
        };
        let plan = jest("jest")
            .plan(&request(Some(vec![junit])), Path::new("/s"))
            .unwrap();
        // No file known: no path pattern, only the name.
        assert_eq!(plan.cmd.args[3..], ["-t", "^(?:Widget renders)$"]);
    }

    #[test]
    fn whole_files_run_without_a_name_pattern() {
        let file = TestRef {
            id: "jest/broken.test.js".into(),
            classname: None,
            name: "jest/broken.test.js".into(),
            file: Some("jest/broken.test.js".into()),
            suite: Vec::new(),
        };
        let test = tref("a.test.js › t", Some("/abs/a.test.js"), &[], "t");
        let plan = jest("npm test")
            .plan(&request(Some(vec![file, test])), Path::new("/s"))
            .unwrap();
        assert_eq!(
            plan.cmd.args,
            [
                "test",
                "--",
                "--json",
                "--outputFile=/s/jest-3.json",
                "--testLocationInResults",
                r"(?:^|/)jest/broken\.test\.js$",
                r"^/abs/a\.test\.js$",
            ]
        );
        assert_eq!(pattern_names(&plan.cmd.args), None);
    }

    #[test]
    fn refuses_what_jest_cannot_do() {
        let j = jest("jest");
        let mut req = request(Some(Vec::new()));
        assert!(matches!(
            j.plan(&req, Path::new("/s")),
            Err(Error::Command(m)) if m.contains("no tests selected")
        ));
        req.selection = None;
        req.order = Order::Reversed;
        assert!(matches!(
            j.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        req.order = Order::AsWritten;
        req.repeat = 3;
        assert!(matches!(
            j.plan(&req, Path::new("/s")),
            Err(Error::Unsupported { .. })
        ));
        req.repeat = 1;
        assert!(j.plan(&req, Path::new("/s")).is_ok());
        let caps = j.capabilities();
        assert!(caps.select && caps.list && !caps.order && !caps.repeat);
    }

    #[test]
    fn lists_files() {
        let j = jest("jest --ci");
        let plan = j.list(Path::new("/s")).unwrap().unwrap();
        assert_eq!(plan.cmd.args, ["--ci", "--listTests", "--json"]);
        assert!(
            matches!(plan.report, ReportSource::Stdout { ref capture, merge_stderr: false }
            if capture == Path::new("/s/jest-list.txt"))
        );
        let cwd = std::env::current_dir().unwrap();
        let inside = cwd.join("jest/a.test.js").display().to_string();
        let stdout = format!(
            "console.log noise\n[1, 2]\n{}\n",
            serde_json::to_string(&[inside.as_str(), "/elsewhere/b.test.js"]).unwrap()
        );
        let refs = j.parse_list(&stdout).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].id, "jest/a.test.js");
        assert_eq!(refs[0].file.as_deref(), Some("jest/a.test.js"));
        assert_eq!(jest_target(&refs[0]), Target::File("jest/a.test.js".into()));
        assert_eq!(refs[1].id, "/elsewhere/b.test.js");
        // Plain lines (no --json).
        let refs = j.parse_list("/x/a.test.js\n/x/b.test.js\n").unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(j.parse_list("[]\n").unwrap(), []);
        assert!(j.parse_list("").is_err());
        assert!(j.parse_list("No tests found\n").is_err());
    }

    #[test]
    fn pattern_names_round_trip_and_reject_other_patterns() {
        let names = ["a|b", r"c\d", "e (f) [g] {h} $^.*+?/-", "ß ünïcode"];
        let t = Targets {
            files: Vec::new(),
            names: Some(names.iter().map(|s| s.to_string()).collect()),
        };
        let args = vec!["-t".to_string(), t.name_pattern().unwrap()];
        assert_eq!(pattern_names(&args).unwrap(), names);
        let other = |p: &str| pattern_names(&["--testNamePattern".to_string(), p.to_string()]);
        assert_eq!(other("^(?:a.b)$"), None);
        assert_eq!(other("adds"), None);
        assert_eq!(other(r"^(?:a\"), None);
        assert_eq!(pattern_names(&["-t=^(?:x)$".to_string()]).unwrap(), ["x"]);
        assert_eq!(pattern_names(&["-t".to_string()]), None);
    }

    #[test]
    fn removes_flags_in_both_forms() {
        let args: Vec<String> = "--outputFile a --json --outputFile=b -t x --ci -- --json"
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(
            remove_flags(
                &args,
                &[("--json", false), ("--outputFile", true), ("-t", true)]
            ),
            ["--ci", "--"]
        );
        // A value-taking flag followed by another option takes no value with it.
        let args: Vec<String> = vec!["-t".into(), "--ci".into()];
        assert_eq!(remove_flags(&args, &[("-t", true)]), ["--ci"]);
    }

    #[test]
    fn paths_and_separators() {
        assert_eq!(
            relative_path("/w/p/a.test.js", Some(Path::new("/w/p"))),
            "a.test.js"
        );
        assert_eq!(
            relative_path("/w/pa/a.test.js", Some(Path::new("/w/p"))),
            "/w/pa/a.test.js"
        );
        assert_eq!(relative_path("/w/p/a.test.js", None), "/w/p/a.test.js");
        assert!(looks_absolute("C:\\x") && looks_absolute("/x") && !looks_absolute("x/y"));
        assert!(looks_like_test_path("src/a.test.js") && looks_like_test_path("a.spec.ts"));
        assert!(!looks_like_test_path("Widget") && !looks_like_test_path("a b/c"));
        assert!(needs_separator(&jest("npm run test").cmd));
        assert!(!needs_separator(&jest("npm test -- --ci").cmd));
        assert!(!needs_separator(&jest("yarn test").cmd));
        assert_eq!(path_pattern("./a+b.test.js"), r"(?:^|/)a\+b\.test\.js$");
    }
}
