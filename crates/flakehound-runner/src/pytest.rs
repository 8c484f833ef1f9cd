//! The pytest adapter (`pytest ...`, `python -m pytest ...`, `uv run pytest ...`).
//!
//! The user's argv is kept as is; flakehound only appends to it:
//! - the report: `--junitxml=<scratch>/pytest-<invocation>.xml -o junit_family=xunit1`. The
//!   xunit1 family writes `file` and `line` attributes, which locate annotations and make the
//!   canonical id the node id. When the user's argv already has its own `--junitxml`, their
//!   report family (whatever their configuration says) is used for every invocation of the
//!   session, so ids stay consistent: their first full run is read from their path, later
//!   invocations write ours (the last `--junitxml` wins) and leave theirs intact.
//! - selection, order and repetition: the bundled plugin `flakehound_pytest.py` (see its
//!   docstring), written to `<scratch>/pyplugin`, put on `PYTHONPATH` and loaded with
//!   `-p flakehound_pytest`, only when a request needs it.
//! - listing: `--collect-only --verbosity=-1`, which prints one node id a line.
//! - a selection also replaces the user's positional paths by the node ids when that is safe,
//!   so pytest collects only the selected files (see `pytest_narrow`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::generic::{check_all_fresh, run_start};
use crate::shared::{file_plan, report_files, stdout_plan};
use crate::{
    Adapter, Capabilities, Cmd, Error, Order, Plan, Request, Result, Results, RunnerKind, TestRef,
    read_files,
};

/// The plugin's source, written next to each session's scratch files.
const PLUGIN: &str = include_str!("flakehound_pytest.py");
const PLUGIN_MODULE: &str = "flakehound_pytest";
const SELECT_VAR: &str = "FLAKEHOUND_PYTEST_SELECT";
const ORDER_VAR: &str = "FLAKEHOUND_PYTEST_ORDER";
const REPEAT_VAR: &str = "FLAKEHOUND_PYTEST_REPEAT";
const STATUS_VAR: &str = "FLAKEHOUND_PYTEST_STATUS";

pub struct Pytest {
    cmd: Cmd,
    /// The `--junitxml` path of the user's own argv. Decided once, here, so that every
    /// invocation of a session writes the same JUnit family.
    user_report: Option<String>,
    /// pytest-cov was seen active in a session read so far. Runs of a selection then get
    /// `--no-cov`: the coverage of a few re-run tests is always short of the gate, and that
    /// failure would say nothing about the tests (the full run's gate is judged on the full run).
    cov: std::sync::atomic::AtomicBool,
}

impl Pytest {
    pub fn new(cmd: Cmd) -> Self {
        let user_report = user_junitxml(&cmd.args);
        Self {
            cmd,
            user_report,
            cov: Default::default(),
        }
    }

    fn list_plan(&self, scratch: &Path) -> Result<Plan> {
        let scratch = absolute(scratch)?;
        let mut cmd = self.cmd.clone();
        if self.user_report.is_some() {
            // pytest writes a (test-less) report even when only collecting: not over theirs.
            let report = scratch.join("pytest-list.xml");
            cmd.args.push(format!("--junitxml={}", utf8(&report)?));
        }
        // --verbosity sets the level outright, whatever -v/-q the user's argv or addopts hold
        // (`-q` would add up with theirs: `-qq` prints per-file counts instead of node ids).
        cmd.args
            .extend(["--collect-only".to_string(), "--verbosity=-1".to_string()]);
        Ok(stdout_plan(cmd, scratch.join("pytest-list.txt"), false))
    }
}

impl Adapter for Pytest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Pytest
    }

    fn test_failure_exit(&self) -> Option<i32> {
        Some(1)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            select: true,
            list: true,
            order: true,
            repeat: true,
        }
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        let scratch = absolute(scratch)?;
        let mut cmd = self.cmd.clone();
        // Invocation 0 (unset) counts as the first.
        let first_full_run = req.selection.is_none() && req.invocation <= 1;
        let report = match &self.user_report {
            Some(theirs) if first_full_run => resolve_user_path(theirs, cmd.cwd.as_deref())?,
            _ => {
                let ours = scratch.join(format!("pytest-{}.xml", req.invocation));
                cmd.args.push(format!("--junitxml={}", utf8(&ours)?));
                ours
            }
        };
        if self.user_report.is_none() {
            cmd.args
                .extend(["-o".to_string(), "junit_family=xunit1".to_string()]);
        }

        if req.selection.is_some() && self.cov.load(std::sync::atomic::Ordering::Relaxed) {
            cmd.args.push("--no-cov".to_string());
        }
        let mut env: Vec<(String, String)> = req.env.clone();
        let repeat = req.repeat.max(1);
        // Also when the request sets one of the plugin's variables (random seed, threads).
        let plugin_var = env.iter().any(|(k, _)| k.starts_with("FLAKEHOUND_PYTEST_"));
        let needed =
            req.selection.is_some() || req.order != Order::AsWritten || repeat > 1 || plugin_var;
        // The plugin also reports what the exit status is made of (see `non_test_failure`) on
        // every run, except under `python -I`/`-E`, which ignore PYTHONPATH: loading it there
        // would fail a run that needs nothing from it.
        let status = (!isolated_python(&cmd)).then(|| status_path(&scratch, req.invocation));
        if needed || status.is_some() {
            let dir = write_plugin(&scratch)?;
            // Keep the PYTHONPATH the run would otherwise get (the request's, else ours).
            let base = match env.iter().position(|(k, _)| k == "PYTHONPATH") {
                Some(i) => Some(env.remove(i).1),
                None => match std::env::var_os("PYTHONPATH") {
                    None => None,
                    Some(v) => Some(v.into_string().map_err(|_| {
                        Error::Command(
                            "PYTHONPATH is not valid UTF-8: flakehound cannot add its pytest \
                             plugin to it"
                                .into(),
                        )
                    })?),
                },
            };
            env.push(("PYTHONPATH".into(), python_path(&dir, base.as_deref())?));
            cmd.args
                .extend(["-p".to_string(), PLUGIN_MODULE.to_string()]);

            // Variables we do not set must not leak in from our own environment.
            let mut unset = vec![SELECT_VAR, ORDER_VAR, REPEAT_VAR, STATUS_VAR];
            if let Some(path) = &status {
                // A file left by an earlier invocation must not speak for this one.
                let _ = std::fs::remove_file(path);
                env.push((STATUS_VAR.into(), utf8(path)?.to_string()));
                unset.retain(|v| *v != STATUS_VAR);
            }
            if let Some(selection) = &req.selection {
                let path = scratch.join(format!("pytest-select-{}.txt", req.invocation));
                write_selection(&path, selection)?;
                let cwd = match &cmd.cwd {
                    Some(d) => d.clone(),
                    None => std::env::current_dir().map_err(|e| Error::Io {
                        context: "cannot determine the current directory".into(),
                        source: e,
                    })?,
                };
                if let Some(args) =
                    crate::pytest_narrow::narrowed(&cmd.program, &cmd.args, selection, &cwd)
                {
                    cmd.args = args;
                }
                env.push((SELECT_VAR.into(), utf8(&path)?.to_string()));
                unset.retain(|v| *v != SELECT_VAR);
            }
            let order = match req.order {
                Order::AsWritten => None,
                Order::Shuffled(seed) => Some(format!("shuffle:{seed}")),
                Order::Reversed => Some("reverse".to_string()),
                Order::AsGiven => Some("given".to_string()),
            };
            if let Some(order) = order {
                env.push((ORDER_VAR.into(), order));
                unset.retain(|v| *v != ORDER_VAR);
            }
            if repeat > 1 {
                env.push((REPEAT_VAR.into(), repeat.to_string()));
                unset.retain(|v| *v != REPEAT_VAR);
            }
            cmd.env_remove.extend(unset.into_iter().map(String::from));
        }
        cmd.env.extend(env);

        Ok(file_plan(cmd, report, None, run_start(&scratch)))
    }

    fn list(&self, scratch: &Path) -> Option<Result<Plan>> {
        Some(self.list_plan(scratch))
    }

    /// The user's command with the node ids in place of its positional paths when that is
    /// safe, else appended (pytest runs node ids given on the command line in that order).
    fn reproduction(&self, tests: &[TestRef], env: &[(String, String)]) -> Option<String> {
        let cwd = match &self.cmd.cwd {
            Some(d) => d.clone(),
            None => std::env::current_dir().ok()?,
        };
        let args = crate::pytest_narrow::narrowed(&self.cmd.program, &self.cmd.args, tests, &cwd)
            .unwrap_or_else(|| {
                let mut a = self.cmd.args.clone();
                a.extend(tests.iter().map(|t| t.id.clone()));
                a
            });
        Some(crate::command_line(env, &self.cmd.program, &args))
    }

    fn parse_list(&self, stdout: &str) -> Result<Vec<TestRef>> {
        parse_collection(stdout)
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        let (paths, format, fresh_after) = report_files(
            plan,
            "a pytest run is read from its JUnit report, not from its output",
        )?;
        check_all_fresh(self.kind(), paths, fresh_after).map_err(|e| match e {
            Error::MissingReport { runner, detail } => Error::MissingReport {
                runner,
                detail: format!(
                    "{detail}; pytest probably stopped before running tests (a usage or \
                     collection error, see its output above)"
                ),
            },
            other => other,
        })?;
        let mut results = read_files(self.kind(), paths, format)?;
        if let Some(status) = SessionStatus::of(plan) {
            add_reruns(&mut results, &status.reruns);
            if status.plugins.iter().any(|p| p == "pytest_cov") {
                self.cov.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(results)
    }

    fn non_test_failure(&self, plan: &Plan) -> Option<String> {
        SessionStatus::of(plan)?.non_test_failure()
    }

    fn notes(&self, plan: &Plan) -> Vec<String> {
        SessionStatus::of(plan).map_or_else(Vec::new, |s| s.notes())
    }
}

/// `<scratch>/pytest-<invocation>.status.json`: the plugin's account of the exit status.
fn status_path(scratch: &Path, invocation: u32) -> PathBuf {
    scratch.join(format!("pytest-{invocation}.status.json"))
}

/// Whether the command runs Python with `-I` or `-E` (PYTHONPATH ignored) before `-m pytest`.
fn isolated_python(cmd: &Cmd) -> bool {
    let name = cmd
        .program
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&cmd.program);
    if !name.starts_with("python") {
        return false;
    }
    cmd.args
        .iter()
        .take_while(|a| a.as_str() != "-m" && a.as_str() != "-c")
        .any(|a| {
            a.strip_prefix('-')
                .is_some_and(|f| !f.starts_with('-') && (f.contains('I') || f.contains('E')))
        })
}

/// What the bundled plugin wrote at the end of a session (`FLAKEHOUND_PYTEST_STATUS`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SessionStatus {
    /// The status pytest computed from its tests, before pytest_sessionfinish hooks ran.
    pub exit_before_hooks: i32,
    pub exit: i32,
    /// pytest's own failure count (`session.testsfailed`).
    pub testsfailed: u64,
    /// The failed test and collection reports the plugin saw.
    pub failed_reports: u64,
    pub sessionfinish_error: Option<String>,
    /// Active plugins among randomly, rerunfailures, pytest_cov, xdist.plugin.
    pub plugins: Vec<String>,
    pub randomly_seed: Option<i64>,
    pub reruns: Vec<Rerun>,
}

/// A failed attempt pytest-rerunfailures ran again (outcome `rerun`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Rerun {
    pub nodeid: String,
    pub when: String,
    pub message: String,
}

/// Largest status file read (reruns of a huge suite stay well below).
const MAX_STATUS: u64 = 64 * 1024 * 1024;

impl SessionStatus {
    /// The status of `plan`'s session, when the plugin wrote one.
    pub fn of(plan: &Plan) -> Option<SessionStatus> {
        let path = plan
            .cmd
            .env
            .iter()
            .find(|(k, _)| k == STATUS_VAR)?
            .1
            .clone();
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_STATUS {
            return None;
        }
        serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
    }

    /// Why the session failed for something other than its tests, if it did.
    pub fn non_test_failure(&self) -> Option<String> {
        if let Some(e) = &self.sessionfinish_error {
            return Some(format!("a pytest_sessionfinish hook raised {e}"));
        }
        if self.exit != self.exit_before_hooks {
            return Some(format!(
                "a pytest_sessionfinish hook changed pytest's exit status from {} to {}",
                self.exit_before_hooks, self.exit
            ));
        }
        if self.testsfailed > self.failed_reports {
            let extra = self.testsfailed - self.failed_reports;
            let cov = if self.plugins.iter().any(|p| p == "pytest_cov") {
                " (pytest-cov is active: its --cov-fail-under gate counts as one)"
            } else {
                " (a plugin such as pytest-cov's --cov-fail-under)"
            };
            return Some(format!(
                "pytest counted {extra} failure{} that {} no failed test{cov}",
                if extra == 1 { "" } else { "s" },
                if extra == 1 { "is" } else { "are" },
            ));
        }
        None
    }

    /// What the user should know about the plugins underneath.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.plugins.iter().any(|p| p == "randomly") {
            notes.push(match self.randomly_seed {
                Some(seed) => format!(
                    "pytest-randomly is active: this run's order and random seeds came from \
                     --randomly-seed={seed} (add it to replay them; -p no:randomly turns it off)"
                ),
                None => "pytest-randomly is active: the test order is random".to_string(),
            });
        }
        if self.plugins.iter().any(|p| p == "rerunfailures") {
            notes.push(format!(
                "pytest-rerunfailures is active: its {} rerun{} {} counted as failed attempts \
                 (a test that passed only on a rerun is flaky, not passed)",
                self.reruns.len(),
                if self.reruns.len() == 1 { "" } else { "s" },
                if self.reruns.len() == 1 { "is" } else { "are" },
            ));
        }
        notes
    }
}

/// pytest-rerunfailures' reruns never reach the JUnit report: they become failed attempts
/// before the test's reported one, so a test that passed on a rerun shows as flaky.
fn add_reruns(results: &mut Results, reruns: &[Rerun]) {
    if reruns.is_empty() {
        return;
    }
    let mut by_id: std::collections::HashMap<&str, Vec<&Rerun>> = Default::default();
    for r in reruns {
        by_id.entry(r.nodeid.as_str()).or_default().push(r);
    }
    for case in &mut results.cases {
        let Some(runs) = by_id.remove(case.id.as_str()) else {
            continue;
        };
        let earlier: Vec<flakehound_model::Attempt> = runs
            .iter()
            .map(|r| {
                let mut a = flakehound_model::Attempt::new(if r.when == "call" {
                    flakehound_model::Outcome::Failed
                } else {
                    flakehound_model::Outcome::Errored
                });
                a.failure = Some(flakehound_model::Failure {
                    message: Some(format!("(rerun by pytest-rerunfailures) {}", r.message)),
                    ..Default::default()
                });
                a
            })
            .collect();
        case.attempts.splice(0..0, earlier);
    }
}

/// The last `--junitxml`/`--junit-xml` value of an argv, as pytest reads it (the last one wins;
/// an empty value turns the report off).
fn user_junitxml(args: &[String]) -> Option<String> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        for opt in ["--junitxml", "--junit-xml"] {
            if arg == opt {
                if let Some(value) = args.get(i + 1) {
                    found = Some(value.clone());
                    i += 1;
                }
            } else if let Some(value) = arg.strip_prefix(opt).and_then(|r| r.strip_prefix('=')) {
                found = Some(value.to_string());
            }
        }
        i += 1;
    }
    found.filter(|p| !p.is_empty())
}

/// Where pytest writes the user's `--junitxml` path: `~` expanded, relative to its working
/// directory. (pytest also expands `$VARIABLES`; that is left out.)
fn resolve_user_path(path: &str, cwd: Option<&Path>) -> Result<PathBuf> {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match path.strip_prefix('~') {
        Some("") => home().unwrap_or_else(|| PathBuf::from(path)),
        Some(rest) if rest.starts_with('/') => match home() {
            Some(h) => h.join(&rest[1..]),
            None => PathBuf::from(path),
        },
        _ => PathBuf::from(path),
    };
    if path.is_absolute() {
        return Ok(path);
    }
    match cwd {
        Some(cwd) => absolute(&cwd.join(path)),
        None => absolute(&path),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::Io {
        context: format!("cannot make {} absolute", path.display()),
        source,
    })
}

/// Paths go into arguments and environment variables, which [`Cmd`] holds as strings.
fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::Command(format!(
            "{} is not valid UTF-8: flakehound cannot pass it to pytest",
            path.display()
        ))
    })
}

/// Writes the plugin to `<scratch>/pyplugin/` and returns that directory.
fn write_plugin(scratch: &Path) -> Result<PathBuf> {
    let dir = scratch.join("pyplugin");
    let file = dir.join(format!("{PLUGIN_MODULE}.py"));
    let io_error = |source| Error::Io {
        context: format!("cannot write the pytest plugin to {}", file.display()),
        source,
    };
    if std::fs::read(&file).is_ok_and(|old| old == PLUGIN.as_bytes()) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(io_error)?;
    // Written aside then renamed: a pytest started meanwhile by a concurrent invocation never
    // imports a half-written file.
    let tmp = dir.join(format!(".{PLUGIN_MODULE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, PLUGIN).map_err(io_error)?;
    std::fs::rename(&tmp, &file).map_err(io_error)?;
    Ok(dir)
}

/// `dir` in front of `base` (a PYTHONPATH value, kept byte for byte: an empty entry means the
/// current directory to Python).
fn python_path(dir: &Path, base: Option<&str>) -> Result<String> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    let dir = utf8(dir)?;
    if dir.contains(sep) {
        return Err(Error::Command(format!(
            "the scratch directory {dir} contains `{sep}`: it cannot go on PYTHONPATH"
        )));
    }
    Ok(match base {
        Some(base) if !base.is_empty() => format!("{dir}{sep}{base}"),
        _ => dir.to_string(),
    })
}

/// The select file of the plugin: per test, a line with its id, and a line
/// `classname<TAB>name` when it has a classname (matches even when the id is not the node id).
fn write_selection(path: &Path, selection: &[TestRef]) -> Result<()> {
    let mut text = String::new();
    for t in selection {
        let classname = t.classname.as_deref().filter(|c| !c.is_empty());
        let fields = [Some(t.id.as_str()), classname, Some(t.name.as_str())];
        if fields
            .into_iter()
            .flatten()
            .any(|f| f.contains(['\n', '\r']))
        {
            return Err(Error::Command(format!(
                "cannot select the pytest test {:?}: it contains a line break",
                t.id
            )));
        }
        text.push_str(&t.id);
        text.push('\n');
        if let Some(c) = classname {
            text.push_str(c);
            text.push('\t');
            text.push_str(&t.name);
            text.push('\n');
        }
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        context: format!("cannot write the selection file {}", path.display()),
        source,
    })
}

/// The `(classname, name)` pytest's JUnit report gives a node id (`_pytest.junitxml`'s
/// `mangle_test_address`): parameters split off first, the path's `/` turned into `.` and `.py`
/// dropped, all but the last part joined with `.`. The classname is `None` when empty.
pub(crate) fn junit_names(nodeid: &str) -> (Option<String>, String) {
    let (path, params) = match nodeid.find('[') {
        Some(at) => nodeid.split_at(at),
        None => (nodeid, ""),
    };
    let mut parts: Vec<Cow<'_, str>> = path.split("::").map(Cow::Borrowed).collect();
    let module = parts[0].replace('/', ".");
    parts[0] = Cow::Owned(module.strip_suffix(".py").unwrap_or(&module).to_string());
    let last = parts.pop().unwrap_or_default();
    let name = format!("{last}{params}");
    let classname = parts.join(".");
    ((!classname.is_empty()).then_some(classname), name)
}

/// A test as `pytest --collect-only` names it.
fn test_ref(nodeid: &str) -> TestRef {
    let (classname, name) = junit_names(nodeid);
    let file = nodeid.split_once("::").map(|(f, _)| f.to_string());
    TestRef {
        id: nodeid.to_string(),
        classname,
        name,
        file,
        suite: Vec::new(),
    }
}

/// Parses `pytest --collect-only --verbosity=-1` output: the node ids, one a line, then a blank
/// line and the summary (warnings, errors, "N tests collected"). Lines before the ids (output of
/// plugins or of `-s` imports) are skipped. When collection failed, the ids of the modules that
/// did collect are returned; when none did, it is an error.
fn parse_collection(stdout: &str) -> Result<Vec<TestRef>> {
    let mut refs = Vec::new();
    let mut failure = None;
    for line in stdout.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let section = line.is_empty() || line.starts_with(['=', '!', '_']);
        if section && !refs.is_empty() {
            break;
        }
        if line.starts_with("ERROR ") || (line.starts_with("!!!") && line.contains("Interrupted")) {
            failure.get_or_insert_with(|| line.trim_matches(['!', ' ']).to_string());
            continue;
        }
        if is_node_id(line) {
            refs.push(test_ref(line));
        }
    }
    match failure {
        Some(failure) if refs.is_empty() => Err(Error::MissingReport {
            runner: RunnerKind::Pytest.name(),
            detail: format!("collection failed ({failure})"),
        }),
        _ => Ok(refs),
    }
}

/// Whether a line of `--collect-only --verbosity=-1` output is a node id: `path::name...`,
/// starting with the path (no indentation, not a `<Module ...>` tree line).
fn is_node_id(line: &str) -> bool {
    match line.split_once("::") {
        Some((path, rest)) => {
            !path.is_empty()
                && !rest.is_empty()
                && !path.starts_with(char::is_whitespace)
                && !path.starts_with('<')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportSource;

    fn argv(s: &str) -> Cmd {
        let words: Vec<String> = s.split_whitespace().map(String::from).collect();
        Cmd::from_argv(&words).unwrap()
    }

    fn t(id: &str) -> TestRef {
        test_ref(id)
    }

    fn env<'a>(plan: &'a Plan, key: &str) -> Option<&'a str> {
        plan.cmd
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn report_path(plan: &Plan) -> &Path {
        match &plan.report {
            ReportSource::Files { paths, .. } => &paths[0],
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn junit_names_follow_pytest() {
        for (nodeid, classname, name) in [
            ("tests/test_a.py::test_x", Some("tests.test_a"), "test_x"),
            (
                "tests/test_a.py::TestC::TestD::test_x[1-a]",
                Some("tests.test_a.TestC.TestD"),
                "test_x[1-a]",
            ),
            // Parameters are split off first: their `::`, `/` and `.py` are left alone.
            (
                "test_a.py::test_p[x::y/z.py]",
                Some("test_a"),
                "test_p[x::y/z.py]",
            ),
            ("t.py::test[br[ack]et]", Some("t"), "test[br[ack]et]"),
            ("pkg/mod.py::pkg.mod.func", Some("pkg.mod"), "pkg.mod.func"),
            ("tests/test_a.py", None, "tests.test_a"),
        ] {
            assert_eq!(
                junit_names(nodeid),
                (classname.map(String::from), name.to_string()),
                "{nodeid}"
            );
        }
    }

    #[test]
    fn finds_the_users_junitxml() {
        let args = |s: &str| -> Vec<String> { s.split_whitespace().map(String::from).collect() };
        assert_eq!(user_junitxml(&args("-x tests")), None);
        assert_eq!(
            user_junitxml(&args("--junitxml=a.xml")),
            Some("a.xml".into())
        );
        assert_eq!(
            user_junitxml(&args("--junitxml a.xml -q")),
            Some("a.xml".into())
        );
        assert_eq!(
            user_junitxml(&args("--junit-xml=b.xml")),
            Some("b.xml".into())
        );
        assert_eq!(
            user_junitxml(&args("--junit-xml b.xml")),
            Some("b.xml".into())
        );
        assert_eq!(
            user_junitxml(&args("--junitxml=a.xml --junit-xml b.xml")),
            Some("b.xml".into())
        );
        assert_eq!(user_junitxml(&args("--junitxml=a.xml --junitxml=")), None);
        assert_eq!(user_junitxml(&args("--junitxml")), None);
        assert_eq!(user_junitxml(&args("--junitxml-other=x")), None);
    }

    #[test]
    fn a_full_run_appends_only_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pytest::new(argv("uv run pytest -x tests"));
        let req = Request {
            invocation: 3,
            env: vec![("TZ".into(), "UTC".into())],
            ..Request::default()
        };
        let plan = p.plan(&req, dir.path()).unwrap();
        let ours = dir.path().join("pytest-3.xml");
        assert_eq!(plan.cmd.program, "uv");
        assert_eq!(
            plan.cmd.args,
            [
                "run".to_string(),
                "pytest".into(),
                "-x".into(),
                "tests".into(),
                format!("--junitxml={}", ours.display()),
                "-o".into(),
                "junit_family=xunit1".into(),
                // Only to tell what the exit status is made of (FLAKEHOUND_PYTEST_STATUS).
                "-p".into(),
                PLUGIN_MODULE.into(),
            ]
        );
        let status = dir.path().join("pytest-3.status.json");
        assert!(plan.cmd.env.contains(&("TZ".into(), "UTC".into())));
        assert!(
            plan.cmd
                .env
                .contains(&(STATUS_VAR.into(), status.display().to_string()))
        );
        assert!(plan.cmd.env.iter().any(|(k, _)| k == "PYTHONPATH"));
        for var in [SELECT_VAR, ORDER_VAR, REPEAT_VAR] {
            assert!(plan.cmd.env_remove.iter().any(|v| v == var), "{var}");
        }
        assert_eq!(report_path(&plan), ours);
        let ReportSource::Files { fresh_after, .. } = &plan.report else {
            unreachable!()
        };
        assert!(fresh_after.is_some());
    }

    #[test]
    fn python_ignoring_pythonpath_runs_a_full_run_without_the_plugin() {
        let dir = tempfile::tempdir().unwrap();
        for line in [
            "python3 -I -m pytest tests",
            "python -E -m pytest",
            "python -sIB -m pytest",
        ] {
            let p = Pytest::new(argv(line));
            let plan = p.plan(&Request::default(), dir.path()).unwrap();
            assert!(!plan.cmd.args.iter().any(|a| a == PLUGIN_MODULE), "{line}");
            assert!(plan.cmd.env.is_empty(), "{line}");
        }
        let p = Pytest::new(argv("python -u -m pytest -I"));
        let plan = p.plan(&Request::default(), dir.path()).unwrap();
        assert!(plan.cmd.args.iter().any(|a| a == PLUGIN_MODULE));
    }

    #[test]
    fn the_plugins_status_tells_non_test_failures_and_adds_reruns() {
        let status = |json: &str| -> SessionStatus { serde_json::from_str(json).unwrap() };
        let ok = status(r#"{"exit_before_hooks":1,"exit":1,"testsfailed":2,"failed_reports":2}"#);
        assert_eq!(ok.non_test_failure(), None);
        let cov = status(
            r#"{"exit_before_hooks":1,"exit":1,"testsfailed":3,"failed_reports":2,"plugins":["pytest_cov"]}"#,
        );
        assert!(
            cov.non_test_failure()
                .unwrap()
                .contains("pytest-cov is active")
        );
        let hook = status(r#"{"exit_before_hooks":0,"exit":1}"#);
        assert!(hook.non_test_failure().unwrap().contains("from 0 to 1"));
        let raised =
            status(r#"{"exit":1,"exit_before_hooks":1,"sessionfinish_error":"OSError: x"}"#);
        assert!(
            raised
                .non_test_failure()
                .unwrap()
                .contains("raised OSError: x")
        );
        // Unknown fields and missing ones: a newer or older plugin still reads.
        let _ = status(r#"{"future":true}"#);

        let mut results = Results {
            info: vec![],
            cases: vec![flakehound_model::TestCase {
                id: "t.py::a".into(),
                classname: None,
                name: "a".into(),
                file: None,
                line: None,
                suite: vec![],
                outcome: flakehound_model::Outcome::Passed,
                attempts: vec![flakehound_model::Attempt::new(
                    flakehound_model::Outcome::Passed,
                )],
                properties: vec![],
                timestamp: None,
            }],
        };
        let rerun = |when: &str| Rerun {
            nodeid: "t.py::a".into(),
            when: when.into(),
            message: "boom".into(),
        };
        add_reruns(
            &mut results,
            &[rerun("call"), rerun("setup"), Rerun::default()],
        );
        let outcomes: Vec<_> = results.cases[0]
            .attempts
            .iter()
            .map(|a| a.outcome)
            .collect();
        use flakehound_model::Outcome::*;
        assert_eq!(outcomes, [Failed, Errored, Passed]);
    }

    // The expected PYTHONPATH uses unix's separator.
    #[cfg(unix)]
    #[test]
    fn the_plugin_is_loaded_for_selection_order_and_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pytest::new(argv("pytest"));
        let mut class_test = t("tests/test_a.py::TestC::test_x[a b]");
        class_test.id = "tests/other.py::TestC::test_x[a b]".into();
        let req = Request {
            selection: Some(vec![t("tests/test_a.py::test_y"), class_test]),
            order: Order::Shuffled(42),
            repeat: 3,
            env: vec![("PYTHONPATH".into(), "/theirs".into())],
            invocation: 2,
        };
        let plan = p.plan(&req, dir.path()).unwrap();
        let plugin_dir = dir.path().join("pyplugin");
        let plugin = std::fs::read_to_string(plugin_dir.join("flakehound_pytest.py")).unwrap();
        assert_eq!(plugin, PLUGIN);
        assert!(
            plan.cmd
                .args
                .ends_with(&["-p".to_string(), "flakehound_pytest".to_string()])
        );
        assert_eq!(
            env(&plan, "PYTHONPATH"),
            Some(format!("{}:/theirs", plugin_dir.display()).as_str())
        );
        assert_eq!(
            plan.cmd
                .env
                .iter()
                .filter(|(k, _)| k == "PYTHONPATH")
                .count(),
            1
        );
        assert_eq!(env(&plan, ORDER_VAR), Some("shuffle:42"));
        assert_eq!(env(&plan, REPEAT_VAR), Some("3"));
        let select = env(&plan, SELECT_VAR).unwrap();
        assert_eq!(
            std::fs::read_to_string(select).unwrap(),
            "tests/test_a.py::test_y\ntests.test_a\ttest_y\n\
             tests/other.py::TestC::test_x[a b]\ntests.test_a.TestC\ttest_x[a b]\n"
        );
        assert!(plan.cmd.env_remove.is_empty());

        // Only an order: the other variables are removed, not inherited.
        let req = Request {
            order: Order::Reversed,
            ..Request::default()
        };
        let plan = p.plan(&req, dir.path()).unwrap();
        assert_eq!(env(&plan, ORDER_VAR), Some("reverse"));
        assert_eq!(env(&plan, SELECT_VAR), None);
        assert_eq!(plan.cmd.env_remove, [SELECT_VAR, REPEAT_VAR]);
    }

    #[test]
    fn a_line_break_in_a_test_cannot_be_selected() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pytest::new(argv("pytest"));
        let req = Request {
            selection: Some(vec![t("t.py::test[a\nb]")]),
            ..Request::default()
        };
        let err = p.plan(&req, dir.path()).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
    }

    #[test]
    fn the_users_report_is_read_on_the_first_full_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = argv("python -m pytest --junitxml out/r.xml");
        cmd.cwd = Some(PathBuf::from("/project"));
        let p = Pytest::new(cmd);
        let first = p
            .plan(
                &Request {
                    invocation: 1,
                    ..Request::default()
                },
                dir.path(),
            )
            .unwrap();
        assert_eq!(report_path(&first), Path::new("/project/out/r.xml"));
        assert_eq!(
            first.cmd.args,
            [
                "-m",
                "pytest",
                "--junitxml",
                "out/r.xml",
                "-p",
                PLUGIN_MODULE
            ]
        );

        let retry = p
            .plan(
                &Request {
                    selection: Some(vec![t("t.py::test")]),
                    invocation: 1,
                    ..Request::default()
                },
                dir.path(),
            )
            .unwrap();
        let ours = dir.path().join("pytest-1.xml");
        assert_eq!(report_path(&retry), ours);
        let ours_arg = format!("--junitxml={}", ours.display());
        assert!(retry.cmd.args.contains(&ours_arg));
        // Their report family for every invocation.
        assert!(!retry.cmd.args.iter().any(|a| a.contains("junit_family")));

        let second = p
            .plan(
                &Request {
                    invocation: 2,
                    ..Request::default()
                },
                dir.path(),
            )
            .unwrap();
        assert_eq!(report_path(&second), dir.path().join("pytest-2.xml"));
    }

    #[test]
    fn the_users_path_is_resolved_like_pytest_does() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(resolve_user_path("r.xml", None).unwrap(), cwd.join("r.xml"));
        assert_eq!(
            resolve_user_path("/abs/r.xml", Some(Path::new("/x"))).unwrap(),
            Path::new("/abs/r.xml")
        );
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                resolve_user_path("~/r.xml", None).unwrap(),
                Path::new(&home).join("r.xml")
            );
        }
    }

    #[test]
    fn list_forces_node_id_output_and_spares_the_users_report() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pytest::new(argv("pytest -v --junitxml=r.xml"));
        let plan = p.list(dir.path()).unwrap().unwrap();
        let n = plan.cmd.args.len();
        assert_eq!(plan.cmd.args[n - 2..], ["--collect-only", "--verbosity=-1"]);
        let list_report = format!(
            "--junitxml={}",
            dir.path().join("pytest-list.xml").display()
        );
        assert_eq!(plan.cmd.args[n - 3], list_report);
        assert!(matches!(plan.report, ReportSource::Stdout { .. }));

        let p = Pytest::new(argv("pytest"));
        let plan = p.list(dir.path()).unwrap().unwrap();
        assert_eq!(plan.cmd.args, ["--collect-only", "--verbosity=-1"]);
    }

    #[test]
    fn parses_the_collection() {
        let out = "\
some plugin says hello
tests/test_a.py::test_x
tests/test_a.py::TestC::test_y[with space]
tests/test_b.py::test_z[br[ack]et]

=============================== warnings summary ===============================
tests/test_w.py::test_w
  /x/tests/test_w.py:2: UserWarning: at import

3 tests collected in 0.02s
";
        let refs = parse_collection(out).unwrap();
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tests/test_a.py::test_x",
                "tests/test_a.py::TestC::test_y[with space]",
                "tests/test_b.py::test_z[br[ack]et]",
            ]
        );
        assert_eq!(
            refs[1],
            TestRef {
                id: "tests/test_a.py::TestC::test_y[with space]".into(),
                classname: Some("tests.test_a.TestC".into()),
                name: "test_y[with space]".into(),
                file: Some("tests/test_a.py".into()),
                suite: vec![],
            }
        );
        assert!(
            parse_collection("\nno tests collected in 0.01s\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_collection("").unwrap().is_empty());
    }

    #[test]
    fn a_failed_collection_without_tests_is_an_error() {
        let out = "\
==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
E   SyntaxError: '(' was never closed
=========================== short test summary info ============================
ERROR tests/test_broken.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.34s
";
        let err = parse_collection(out).unwrap_err();
        assert!(
            err.to_string().contains("ERROR tests/test_broken.py"),
            "{err}"
        );

        // Some modules collected: their tests are listed.
        let partial = format!("tests/test_a.py::test_x\n\n{out}");
        assert_eq!(parse_collection(&partial).unwrap().len(), 1);
    }

    #[test]
    fn reading_a_missing_report_explains() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pytest::new(argv("pytest"));
        let plan = p.plan(&Request::default(), dir.path()).unwrap();
        let err = p.read(&plan).unwrap_err();
        assert!(matches!(err, Error::MissingReport { .. }), "{err:?}");
        assert!(
            err.to_string().contains("usage or collection error"),
            "{err}"
        );
    }
}

/// The third-party pytest plugins a pytest command line would load, as `pytest -VV` lists them
/// (it collects and runs nothing). For `hunt` and the detective, which take control of order and
/// retries: `-p no:randomly` keeps pytest-randomly from reordering and reseeding their
/// experiments, `-p no:rerunfailures` from hiding failures (both are safe to pass only when the
/// plugin is installed, which this tells; an uninstalled `-p no:` is harmless too, but then the
/// plugin's options in the user's configuration would be unknown to pytest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PytestPlugins {
    /// `pytest-randomly-3.15.0`, ... as listed.
    pub all: Vec<String>,
    pub randomly: bool,
    pub rerunfailures: bool,
    pub cov: bool,
    pub xdist: bool,
}

impl PytestPlugins {
    /// Parses `pytest -VV` output.
    pub fn parse(text: &str) -> PytestPlugins {
        let mut p = PytestPlugins::default();
        let mut listing = false;
        for line in text.lines() {
            if line.starts_with("registered third-party plugins") {
                listing = true;
                continue;
            }
            if !listing {
                continue;
            }
            let Some(entry) = line.strip_prefix("  ") else {
                listing = false;
                continue;
            };
            let name = entry
                .split(" at ")
                .next()
                .unwrap_or(entry)
                .trim()
                .to_string();
            // `pytest-randomly-3.15.0`: the distribution name without its version.
            let dist = name
                .rsplit_once('-')
                .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
                .map_or(name.as_str(), |(d, _)| d)
                .to_ascii_lowercase()
                .replace('_', "-");
            match dist.as_str() {
                "pytest-randomly" => p.randomly = true,
                "pytest-rerunfailures" => p.rerunfailures = true,
                "pytest-cov" => p.cov = true,
                "pytest-xdist" => p.xdist = true,
                _ => {}
            }
            p.all.push(name);
        }
        p
    }

    /// Warnings to print when these plugins are active underneath flakehound, and what it does.
    pub fn warnings(&self, command: &str) -> Vec<String> {
        let mut w = Vec::new();
        if self.randomly {
            w.push(format!(
                "pytest-randomly is active under `{command}`: it reorders and reseeds every run"
            ));
        }
        if self.rerunfailures {
            w.push(format!(
                "pytest-rerunfailures is active under `{command}`: its reruns hide failures"
            ));
        }
        w
    }
}

/// Where pytest itself sits in a command line (`pytest`, `py.test`, `python -m pytest`).
fn pytest_word(argv: &[String]) -> Option<usize> {
    argv.iter().enumerate().find_map(|(i, w)| {
        let name = crate::program_name(w);
        if name == "pytest" || name == "py.test" {
            Some(i)
        } else if w == "-m" && argv.get(i + 1).is_some_and(|n| n == "pytest") {
            Some(i + 1)
        } else {
            None
        }
    })
}

/// The command with the options that give a controlled experiment (hunt) back its control:
/// pytest-randomly off (`-p no:randomly`: the hunt chooses orders and seeds itself and records
/// them, so its replays are exact) and pytest-rerunfailures' reruns off (`--reruns=0`, which
/// overrides a `--reruns N` in `addopts` while keeping the plugin's options known to pytest; a
/// rerun would hide the very failures the hunt looks for). Unchanged when neither is active or
/// the command is not pytest.
pub fn without_plugin_interference(argv: &[String], plugins: &PytestPlugins) -> Vec<String> {
    let mut out = argv.to_vec();
    let Some(at) = pytest_word(argv) else {
        return out;
    };
    // A plugin the command already switches off (`-p no:rerunfailures`) is off: its options
    // are unknown to pytest then, so `--reruns=0` would be a usage error.
    let off = |name: &str| {
        let no = format!("no:{name}");
        argv.windows(2).any(|w| w[0] == "-p" && w[1] == no)
            || argv
                .iter()
                .any(|a| *a == format!("-p{no}") || *a == format!("-p={no}"))
    };
    let mut extra = Vec::new();
    if plugins.randomly && !off("randomly") {
        extra.extend(["-p".to_string(), "no:randomly".to_string()]);
    }
    if plugins.rerunfailures && !off("rerunfailures") {
        extra.push("--reruns=0".to_string());
    }
    out.splice(at + 1..at + 1, extra);
    out
}

/// Runs `<the command's pytest> -VV` and lists its third-party plugins; `None` when the command
/// is not a pytest command or pytest cannot tell (then nothing is known, nothing is assumed).
pub fn pytest_plugins(argv: &[String], cwd: Option<&Path>) -> Option<PytestPlugins> {
    let at = pytest_word(argv)?;
    let mut cmd = Cmd::from_argv(&argv[..=at])?;
    cmd.args.push("-VV".into());
    cmd.cwd = cwd.map(Path::to_path_buf);
    let out = crate::exec::command_of(&cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.contains("This is pytest version")
        .then(|| PytestPlugins::parse(&text))
}

#[cfg(test)]
mod interference_tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn hunt_turns_off_randomly_and_reruns_right_after_pytest() {
        let both = PytestPlugins {
            randomly: true,
            rerunfailures: true,
            ..Default::default()
        };
        assert_eq!(
            without_plugin_interference(&argv("python -m pytest -q tests"), &both),
            argv("python -m pytest -p no:randomly --reruns=0 -q tests")
        );
        assert_eq!(
            without_plugin_interference(&argv(".venv/bin/pytest -x"), &both),
            argv(".venv/bin/pytest -p no:randomly --reruns=0 -x")
        );
        let none = PytestPlugins::default();
        assert_eq!(
            without_plugin_interference(&argv("python -m pytest -q"), &none),
            argv("python -m pytest -q")
        );
        assert_eq!(
            without_plugin_interference(&argv("cargo test"), &both),
            argv("cargo test")
        );
        // Switched off by the command already: `--reruns=0` would be an unknown option then.
        assert_eq!(
            without_plugin_interference(
                &argv("python -m pytest -p no:rerunfailures -pno:randomly -q"),
                &both
            ),
            argv("python -m pytest -p no:rerunfailures -pno:randomly -q")
        );
    }
}
