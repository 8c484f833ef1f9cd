//! Runner adapters: for each test runner, how to get a machine-readable report out of the user's
//! command, and how to run a chosen set of tests again.
//!
//! `flakehound run` (retry only failures) uses [`Adapter::plan`] with a selection; the hunting
//! features (`hunt`, `polluter`, `diagnose`) use the same call with an [`Order`], repetitions and
//! extra environment, after listing the tests with [`Adapter::list`]. An adapter only *builds*
//! commands and *reads* results; [`exec::execute`] runs them.
//!
//! | runner | report | select | list | order | repeat in process |
//! |---|---|---|---|---|---|
//! | pytest | `--junitxml` (injected) | bundled plugin (`-p flakehound_pytest`) | `--collect-only -q` | plugin | plugin |
//! | cargo test | libtest's human stdout | `-- --exact NAME...` | `-- --list` | no | no |
//! | cargo nextest | JUnit via `--tool-config-file` | `-E` filterset | `list` | no | no |
//! | go test | `-json` stdout | `-run` regex | `-list` | no | `-count` |
//! | jest | `--json --outputFile` | `-t` name pattern + paths | `--listTests` | no | no |
//! | vitest | `--reporter=junit` | `-t` name pattern + paths | `list` | no | no |
//! | generic | user-given report path | no (whole command) | no | no | no |

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flakehound_model::{Format, ReportInfo, TestCase};

pub mod exec;

mod cargo;
mod generic;
mod go;
mod jest;
mod nextest;
mod pytest;
pub use pytest::{
    PytestPlugins, Rerun, SessionStatus, pytest_plugins, without_plugin_interference,
};
mod pytest_narrow;
mod shared;
mod vitest;

/// Errors of an adapter. None of them is the runner's fault: the caller falls back to the
/// runner's own exit status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The adapter cannot do what was asked (e.g. select tests in generic mode).
    #[error("{runner} cannot {what}")]
    Unsupported { runner: &'static str, what: String },
    /// The command line cannot be used as asked (e.g. empty command).
    #[error("{0}")]
    Command(String),
    /// The runner produced no report where one was expected.
    #[error("no report from {runner}: {detail}")]
    MissingReport {
        runner: &'static str,
        detail: String,
    },
    /// The report exists but cannot be read.
    #[error("cannot read report {path}: {reason}")]
    BadReport { path: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The test runners flakehound knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunnerKind {
    Pytest,
    CargoTest,
    Nextest,
    Go,
    Jest,
    Vitest,
    Generic,
}

impl RunnerKind {
    pub const ALL: [RunnerKind; 7] = [
        RunnerKind::Pytest,
        RunnerKind::CargoTest,
        RunnerKind::Nextest,
        RunnerKind::Go,
        RunnerKind::Jest,
        RunnerKind::Vitest,
        RunnerKind::Generic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RunnerKind::Pytest => "pytest",
            RunnerKind::CargoTest => "cargo-test",
            RunnerKind::Nextest => "nextest",
            RunnerKind::Go => "go",
            RunnerKind::Jest => "jest",
            RunnerKind::Vitest => "vitest",
            RunnerKind::Generic => "generic",
        }
    }

    pub fn from_name(s: &str) -> Option<RunnerKind> {
        RunnerKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A command line to spawn: program, arguments, and environment changes on top of ours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Variables to set (after `env_remove`).
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    /// Working directory; `None` = ours.
    pub cwd: Option<PathBuf>,
}

impl Cmd {
    /// From a user's argv (`["pytest", "-x", "tests"]`); `None` when empty.
    pub fn from_argv(argv: &[String]) -> Option<Cmd> {
        let (program, args) = argv.split_first()?;
        Some(Cmd {
            program: program.clone(),
            args: args.to_vec(),
            ..Cmd::default()
        })
    }

    /// The command as a shell-quoted line, for display and reproduction.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.env {
            out.push_str(k);
            out.push('=');
            out.push_str(&shell_quote(v));
            out.push(' ');
        }
        out.push_str(&shell_quote(&self.program));
        for a in &self.args {
            out.push(' ');
            out.push_str(&shell_quote(a));
        }
        out
    }
}

/// `K=V ... program args...`, shell-quoted.
pub fn command_line(env: &[(String, String)], program: &str, args: &[String]) -> String {
    Cmd {
        program: program.to_string(),
        args: args.to_vec(),
        env: env.to_vec(),
        ..Cmd::default()
    }
    .display()
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> Cow<'_, str> {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if safe {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// A test as an adapter needs it to select it again: the fields of its report record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestRef {
    /// Canonical id (see `flakehound_model::canonical_id`).
    pub id: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    /// Enclosing suites, outermost first (jest/vitest describe blocks, nextest binary).
    pub suite: Vec<String>,
}

impl From<&TestCase> for TestRef {
    fn from(c: &TestCase) -> Self {
        TestRef {
            id: c.id.clone(),
            classname: c.classname.clone(),
            name: c.name.clone(),
            file: c.file.clone(),
            suite: c.suite.clone(),
        }
    }
}

/// Order in which to run the selected tests (hunting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// The runner's own order.
    #[default]
    AsWritten,
    /// Shuffled deterministically by this seed.
    Shuffled(u64),
    Reversed,
    /// Exactly the order of [`Request::selection`].
    AsGiven,
}

/// What to run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// `None`: the whole command as the user wrote it. `Some`: only these tests.
    pub selection: Option<Vec<TestRef>>,
    pub order: Order,
    /// Runs of each test inside one process (1 = once). Needs [`Capabilities::repeat`].
    pub repeat: u32,
    /// Extra environment for this invocation (e.g. `PYTHONHASHSEED`, `TZ`).
    pub env: Vec<(String, String)>,
    /// 1-based invocation number within the caller's session: keeps report paths apart.
    pub invocation: u32,
}

/// What an adapter can do beyond a full run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub select: bool,
    pub list: bool,
    pub order: bool,
    pub repeat: bool,
}

/// Where the results of an invocation are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportSource {
    /// Files the runner writes (JUnit, jest JSON...), read with `flakehound-ingest`. Every path
    /// must exist after the run, unless `optional`.
    Files {
        paths: Vec<PathBuf>,
        format: Option<Format>,
        /// When set, a file last modified before this instant is stale (left by an earlier run)
        /// and is reported as missing rather than read.
        fresh_after: Option<SystemTime>,
    },
    /// The runner's standard output is the report (`go test -json`, cargo test's human output);
    /// [`exec::execute`] captures it to `capture`.
    Stdout {
        capture: PathBuf,
        /// Send stderr into the same pipe (one ordered stream), e.g. for cargo, which announces
        /// each test binary on stderr and reports its tests on stdout.
        merge_stderr: bool,
    },
}

/// A command ready to run, and where its results will be.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub cmd: Cmd,
    pub report: ReportSource,
}

/// Results of one invocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    pub info: Vec<ReportInfo>,
    pub cases: Vec<TestCase>,
}

/// One test runner's know-how.
pub trait Adapter: Send + Sync {
    fn kind(&self) -> RunnerKind;

    fn capabilities(&self) -> Capabilities;

    /// The command for `req`, writing any report and scratch files under `scratch` (an existing,
    /// writable directory owned by the caller).
    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan>;

    /// How to list the tests without running them (`None` when unsupported).
    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        let _ = scratch;
        None
    }

    /// Parses the output of the [`Adapter::list`] command.
    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        let _ = stdout;
        Err(Error::Unsupported {
            runner: self.kind().name(),
            what: "list tests".into(),
        })
    }

    /// What to show the user for one line of the runner's stdout when the stdout is the report
    /// (`go test -json` shows each event's `Output`); `None` hides the line.
    fn display_line<'a>(&self, line: &'a str) -> Option<Cow<'a, str>> {
        Some(Cow::Borrowed(line))
    }

    /// The exit status the runner uses for "some tests failed" (pytest 1, cargo test 101,
    /// nextest 100...), `None` when unknown (generic mode). Any other non-zero status means
    /// something other than a test failed (a usage or internal error, a crash, a coverage gate
    /// in runners that give it its own status), which no retry can explain.
    fn test_failure_exit(&self) -> Option<i32> {
        None
    }

    /// Whether a finished invocation of `plan` failed for a reason other than its tests,
    /// as far as the runner tells (pytest: a coverage gate or a hook that changed the exit
    /// status, see the bundled plugin); `None` when nothing says so.
    fn non_test_failure(&self, plan: &Plan) -> Option<String> {
        let _ = plan;
        None
    }

    /// Things the user should know about a finished invocation of `plan` that are not
    /// problems (pytest: pytest-randomly's seed, pytest-rerunfailures' reruns).
    fn notes(&self, plan: &Plan) -> Vec<String> {
        let _ = plan;
        Vec::new()
    }

    /// Reads the results of a finished invocation of `plan`.
    fn read(&self, plan: &Plan) -> Result<Results>;

    /// A command line a person can paste to run `tests` with `env` set, without flakehound's
    /// scratch files (no injected report, no plugin); `None` when the runner cannot select.
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let _ = (tests, env);
        None
    }
}

/// Detects the runner from the user's command (`forced` overrides), seeing through wrappers
/// such as `python -m`, `uv run`, `poetry run`, `npx`. `report` is the user-given report path
/// (required by, and only used for, the generic adapter unless the runner is known).
pub fn detect(
    argv: &[String],
    forced: Option<RunnerKind>,
    report: Option<&Path>,
) -> Result<Box<dyn Adapter>> {
    let cmd = Cmd::from_argv(argv).ok_or_else(|| Error::Command("empty test command".into()))?;
    let kind = match forced {
        Some(k) => k,
        None => detect_kind(argv).unwrap_or(RunnerKind::Generic),
    };
    Ok(match kind {
        RunnerKind::Pytest => Box::new(pytest::Pytest::new(cmd)),
        RunnerKind::CargoTest => Box::new(cargo::CargoTest::new(cmd)),
        RunnerKind::Nextest => Box::new(nextest::Nextest::new(cmd)),
        RunnerKind::Go => Box::new(go::GoTest::new(cmd)),
        RunnerKind::Jest => Box::new(jest::Jest::new(cmd)),
        RunnerKind::Vitest => Box::new(vitest::Vitest::new(cmd)),
        RunnerKind::Generic => {
            let report = report.ok_or_else(|| {
                Error::Command(format!(
                    "cannot tell which test runner `{}` is; pass --test-runner, or --report PATH \
                     with the report it writes",
                    cmd.program
                ))
            })?;
            Box::new(generic::Generic::new(cmd, report.to_path_buf()))
        }
    })
}

/// The runner of a command line, seeing through wrappers (see [`detect`]).
pub fn detect_kind(argv: &[String]) -> Option<RunnerKind> {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut i = 0;
    // Environment assignments and wrappers before the runner.
    loop {
        let w = *words.get(i)?;
        let base = program_name(w);
        match base {
            _ if w.contains('=') && !w.starts_with('-') && i == 0 => i += 1,
            "env" | "npx" | "pnpx" | "bunx" => i += 1,
            "uv" | "poetry" | "pipenv" | "pdm" | "hatch" | "rye" | "pnpm" | "yarn" | "bun"
                if matches!(words.get(i + 1), Some(&"run") | Some(&"exec")) =>
            {
                i += 2
            }
            "pnpm" | "yarn" | "bun" => i += 1,
            _ => break,
        }
    }
    let w = program_name(words[i]);
    let next = words.get(i + 1).copied();
    match w {
        "pytest" | "py.test" => Some(RunnerKind::Pytest),
        _ if w.starts_with("python") => (next == Some("-m") && words.get(i + 2) == Some(&"pytest"))
            .then_some(RunnerKind::Pytest),
        "cargo" => match next {
            Some("test") | Some("t") => Some(RunnerKind::CargoTest),
            Some("nextest") => Some(RunnerKind::Nextest),
            _ => None,
        },
        "cargo-nextest" => Some(RunnerKind::Nextest),
        "go" => (next == Some("test")).then_some(RunnerKind::Go),
        "jest" => Some(RunnerKind::Jest),
        "vitest" => Some(RunnerKind::Vitest),
        _ => None,
    }
}

/// `/usr/bin/python3.11` → `python3.11`; `pytest.exe` → `pytest`.
fn program_name(w: &str) -> &str {
    let base = w.rsplit(['/', '\\']).next().unwrap_or(w);
    base.strip_suffix(".exe").unwrap_or(base)
}

/// Reads report files with `flakehound-ingest` (shared by the file-based adapters).
pub fn read_files(
    runner: RunnerKind,
    paths: &[PathBuf],
    format: Option<Format>,
) -> Result<Results> {
    let mut results = Results::default();
    for path in paths {
        if !path.exists() {
            return Err(Error::MissingReport {
                runner: runner.name(),
                detail: format!("{} was not written", path.display()),
            });
        }
        let cases = &mut results.cases;
        let info = flakehound_ingest::parse_file(path, format, &mut |c| {
            cases.push(c);
            Ok(())
        })
        .map_err(|e| Error::BadReport {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        results.info.push(info);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn detects_runners_through_wrappers() {
        for (line, kind) in [
            ("pytest -x tests", Some(RunnerKind::Pytest)),
            ("/venv/bin/python3 -m pytest", Some(RunnerKind::Pytest)),
            ("uv run pytest", Some(RunnerKind::Pytest)),
            ("poetry run python -m pytest -q", Some(RunnerKind::Pytest)),
            ("cargo test --workspace", Some(RunnerKind::CargoTest)),
            ("cargo nextest run", Some(RunnerKind::Nextest)),
            ("go test ./...", Some(RunnerKind::Go)),
            ("npx jest --ci", Some(RunnerKind::Jest)),
            ("pnpm exec vitest run", Some(RunnerKind::Vitest)),
            ("yarn jest", Some(RunnerKind::Jest)),
            ("make test", None),
            ("python script.py", None),
            ("cargo build", None),
        ] {
            assert_eq!(detect_kind(&argv(line)), kind, "{line}");
        }
    }

    #[test]
    fn generic_needs_a_report_path() {
        let err = detect(&argv("make test"), None, None).err().unwrap();
        assert!(err.to_string().contains("--report"), "{err}");
        assert!(detect(&argv("make test"), None, Some(Path::new("out.xml"))).is_ok());
        assert!(detect(&[], None, None).is_err());
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("tests/a.py::t"), "tests/a.py::t");
        assert_eq!(shell_quote("t[a b]"), "'t[a b]'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
