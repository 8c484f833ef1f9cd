//! A detective command's session: the adapter for the user's test command, a scratch
//! directory, the suite the command lists, the test to work on, and the recording of the
//! trials as evidence.

use crate::{Error, Result, Trial};
use flakehound_model::{ReportInfo, RunMeta, RunSource};
use flakehound_runner::{Adapter, RunnerKind, TestRef};
use flakehound_store::Store;

/// The adapter, a scratch directory and the suite the command lists (empty when the runner
/// cannot list).
pub struct Session {
    pub adapter: Box<dyn Adapter>,
    pub scratch: tempfile::TempDir,
    pub suite: Vec<TestRef>,
    /// What the session changed in the command to keep its experiments under control (pytest
    /// plugins turned off), one sentence each, to report.
    pub control: Vec<String>,
}

impl Session {
    /// Detects the runner of `command` (or takes `runner`), which must be able to run a single
    /// test, and lists its suite when it can.
    ///
    /// pytest plugins that would take control away are turned off for every run (and so in
    /// every command printed from the adapter), as the hunt does: pytest-randomly reseeds
    /// `random` before each test, overriding the seed a condition fixes or varies, and reorders
    /// the tests; pytest-rerunfailures hides failures behind reruns.
    pub fn start(command: &[String], runner: Option<RunnerKind>) -> Result<Session> {
        let (command, control) = controlled(command);
        let adapter = flakehound_runner::detect(&command, runner, None)?;
        if !adapter.capabilities().select {
            return Err(Error::Usage(format!(
                "the {} adapter cannot run a single test, which this command needs",
                adapter.kind().name()
            )));
        }
        let scratch = tempfile::Builder::new()
            .prefix("flakehound-detective-")
            .tempdir()
            .map_err(|e| Error::Usage(format!("cannot create a scratch directory: {e}")))?;
        let suite = if adapter.list(scratch.path()).is_some() {
            flakehound_hunt::list_tests(adapter.as_ref(), scratch.path())
                .map_err(|e| Error::Usage(e.to_string()))?
        } else {
            Vec::new()
        };
        Ok(Session {
            adapter,
            scratch,
            suite,
            control,
        })
    }

    /// The test named `test` in the suite (see [`resolve`]).
    pub fn resolve(&self, test: &str) -> Result<TestRef> {
        resolve(&self.suite, test)
    }

    /// A lab running the session's adapter in its scratch directory.
    pub fn lab(&self) -> crate::Lab<'_> {
        crate::Lab::new(self.adapter.as_ref(), self.scratch.path().to_path_buf())
    }
}

/// The command with the pytest plugins that would take control away turned off, and what was
/// done, in words (nothing for a command that is not pytest, or without those plugins).
fn controlled(command: &[String]) -> (Vec<String>, Vec<String>) {
    match flakehound_runner::pytest_plugins(command, None) {
        Some(plugins) => (
            flakehound_runner::without_plugin_interference(command, &plugins),
            control_notes(&plugins),
        ),
        None => (command.to_vec(), Vec::new()),
    }
}

/// What [`flakehound_runner::without_plugin_interference`] does for these plugins, in words.
pub fn control_notes(plugins: &flakehound_runner::PytestPlugins) -> Vec<String> {
    let mut notes = Vec::new();
    if plugins.randomly {
        notes.push(
            "pytest-randomly is installed: it reseeds `random` before each test (overriding a \
             fixed seed) and reorders the tests, so every run here passes `-p no:randomly`; \
             the random seed is then set by flakehound alone (fixed at 0, or varied in the \
             randomness experiment)"
                .to_string(),
        );
    }
    if plugins.rerunfailures {
        notes.push(
            "pytest-rerunfailures is installed: every run here passes `--reruns=0`, so that no \
             failure is hidden by a rerun"
                .to_string(),
        );
    }
    notes
}

/// The test named `test` in the suite: taken as given when the runner cannot list (`suite`
/// empty); an error naming up to five close ids when the suite does not hold it.
pub fn resolve(suite: &[TestRef], test: &str) -> Result<TestRef> {
    if let Some(t) = suite.iter().find(|t| t.id == test) {
        return Ok(t.clone());
    }
    if suite.is_empty() {
        return Ok(TestRef {
            id: test.to_string(),
            classname: None,
            name: test.to_string(),
            file: None,
            suite: Vec::new(),
        });
    }
    let close: Vec<&str> = suite
        .iter()
        .map(|t| t.id.as_str())
        .filter(|id| id.contains(test) || test.contains(id.rsplit("::").next().unwrap_or(id)))
        .take(5)
        .collect();
    Err(Error::Usage(format!(
        "no test {test:?} among the {} tests the command lists{}",
        suite.len(),
        if close.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", close.join(", "))
        }
    )))
}

/// A fresh session id: the start time and the process id.
pub fn session_id() -> String {
    format!(
        "{}-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S"),
        std::process::id()
    )
}

/// Records trials as evidence, one run per trial (`{source}/{session}/{n}`, the trial's
/// condition as the run's job; see [`flakehound_evidence::own`]), and flushes the store.
/// `meta` is what every run starts from (the CI's or the checkout's).
pub fn record_trials(
    store: &mut dyn Store,
    source: &RunSource,
    session: &str,
    meta: &RunMeta,
    trials: &[(String, Trial)],
) -> flakehound_store::Result<()> {
    use flakehound_evidence::own;
    let batch = own::Session {
        source,
        id: session,
        meta,
        runs: own::Runs::Each,
    };
    let executions = trials.iter().enumerate().map(|(i, (condition, trial))| {
        let info = ReportInfo {
            properties: vec![("flakehound.condition".into(), condition.clone())],
            ..Default::default()
        };
        own::Execution {
            number: i as u32 + 1,
            command: &trial.command,
            label: Some(condition.clone()),
            // Each run's own start, in UTC, so "last seen" and history order place it right.
            started: trial
                .started
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map(|t| t.to_string()),
            seconds: Some(trial.duration.as_secs_f64()),
            info,
            cases: &trial.cases,
            ..Default::default()
        }
    });
    own::record(store, &batch, executions)?;
    store.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TestRef {
        TestRef {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            suite: Vec::new(),
        }
    }

    #[test]
    fn tests_resolve_by_id_or_are_taken_as_given() {
        let suite = [t("tests/a.py::test_one"), t("tests/a.py::test_two")];
        assert_eq!(
            resolve(&suite, "tests/a.py::test_two").unwrap().id,
            "tests/a.py::test_two"
        );
        // A runner that cannot list: the id as given.
        let given = resolve(&[], "x::y").unwrap();
        assert_eq!((given.id.as_str(), given.name.as_str()), ("x::y", "x::y"));
        let err = resolve(&suite, "test_one").unwrap_err().to_string();
        assert!(
            err.contains("among the 2 tests") && err.contains("did you mean tests/a.py::test_one?"),
            "{err}"
        );
        let err = resolve(&suite, "nothing").unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn trials_are_runs_of_their_own_with_their_condition() {
        use flakehound_model::{Attempt, Outcome, TestCase};
        let case = |o: Outcome| TestCase {
            id: "a".into(),
            classname: None,
            name: "a".into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: o,
            attempts: vec![Attempt::new(o)],
            properties: vec![],
            timestamp: None,
        };
        let trial = |o: Outcome| Trial {
            outcomes: [("a".to_string(), o)].into(),
            cases: vec![case(o)],
            exit: 0,
            duration: std::time::Duration::from_millis(10),
            started: Some(std::time::SystemTime::UNIX_EPOCH),
            command: "pytest a".into(),
            timed_out: false,
        };
        let trials = vec![
            ("as is".to_string(), trial(Outcome::Passed)),
            ("TZ=Etc/GMT+12".to_string(), trial(Outcome::Failed)),
        ];
        let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
        let meta = RunMeta::default();
        record_trials(&mut store, &RunSource::Diagnose, "s", &meta, &trials).unwrap();
        record_trials(&mut store, &RunSource::Diagnose, "s", &meta, &trials).unwrap();
        let ev = store.evidence().unwrap();
        let runs: Vec<_> = ev
            .runs
            .iter()
            .map(|r| (r.key.as_str(), r.job.as_deref(), r.source.clone()))
            .collect();
        assert_eq!(
            runs,
            [
                ("diagnose/s/1", Some("as is"), RunSource::Diagnose),
                ("diagnose/s/2", Some("TZ=Etc/GMT+12"), RunSource::Diagnose),
            ]
        );
        assert_eq!(ev.runs[0].started_at, "1970-01-01T00:00:00Z");
        let stats = store.test_stats().unwrap();
        assert_eq!((stats[0].runs, stats[0].failures), (2, 1));
    }
}
