//! Records flakehound's own executions of a test command as evidence: `run`'s invocations,
//! the hunt's executions, the detective's trials. One way for all of them, so that a run's key,
//! its metadata and a report's identity mean the same whoever ran the tests.
//!
//! - Every report carries the property `flakehound.source` (`run`, `hunt`, `diagnose`, ...).
//! - A report is identified by its run key, its execution number, the command and the results:
//!   recording the same execution twice changes nothing.
//! - [`Runs::One`]: every execution is an attempt of one run (`run`: the retries of a CI job);
//!   the run's metadata is the caller's.
//! - [`Runs::Each`]: every execution is a run of its own, keyed `{source}/{session}/{number}`,
//!   whose metadata says flakehound ran it: provider `flakehound-{source}`, run id the session,
//!   run attempt the execution's number, job its label, and its own start and duration (the
//!   CI job's start would place every execution at the job's start). The report's own
//!   timestamp is dropped: flakehound's clock is the truth.

use flakehound_model::{ReportInfo, RunMeta, RunSource, TestCase};
use flakehound_store::{NewReport, RunKey, Store};

/// How executions become runs.
#[derive(Clone, Copy, Debug)]
pub enum Runs<'a> {
    /// Every execution is an attempt of the run with this key.
    One(&'a RunKey),
    /// Every execution is a run of its own (see the module documentation).
    Each,
}

/// A batch of executions by one flakehound command.
#[derive(Clone, Copy, Debug)]
pub struct Session<'a> {
    /// Which command ran them.
    pub source: &'a RunSource,
    /// The session id (a hunt's, an experiment's); unused by [`Runs::One`] keys.
    pub id: &'a str,
    /// Metadata every run starts from (the CI's or the local checkout's).
    pub meta: &'a RunMeta,
    pub runs: Runs<'a>,
}

/// One execution of the test command.
#[derive(Clone, Debug, Default)]
pub struct Execution<'a> {
    /// 1-based number within the session: the attempt (`One`), or the run's attempt (`Each`).
    pub number: u32,
    /// What was run, as shown (part of the report's identity).
    pub command: &'a str,
    /// Its label (`Each`: the run's job), e.g. the experiment's condition.
    pub label: Option<String>,
    /// Report path to store, when there is one to show.
    pub path: Option<String>,
    /// Its start (RFC 3339) and duration (`Each`).
    pub started: Option<String>,
    pub seconds: Option<f64>,
    /// The report's details (format, tool, properties) as the runner gave them.
    pub info: ReportInfo,
    pub cases: &'a [TestCase],
}

/// The key of the run of an [`Runs::Each`] execution.
pub fn run_key(source: &RunSource, session: &str, number: u32) -> RunKey {
    RunKey(format!("{source}/{session}/{number}"))
}

/// Writes `executions` (see the module documentation); returns the results written (reports
/// already stored write none). The caller flushes the store when its batch is done.
pub fn record<'e>(
    store: &mut dyn Store,
    session: &Session<'_>,
    executions: impl IntoIterator<Item = Execution<'e>>,
) -> flakehound_store::Result<u64> {
    let mut written = 0;
    for mut e in executions {
        let (key, meta) = match session.runs {
            Runs::One(key) => (key.clone(), std::borrow::Cow::Borrowed(session.meta)),
            Runs::Each => {
                let mut meta = session.meta.clone();
                meta.provider = Some(format!("flakehound-{}", session.source));
                meta.run_id = Some(session.id.to_string());
                meta.run_attempt = Some(e.number);
                meta.job = e.label.clone();
                meta.started_at = e.started.clone();
                meta.duration = e.seconds;
                e.info.timestamp = None;
                (
                    run_key(session.source, session.id, e.number),
                    std::borrow::Cow::Owned(meta),
                )
            }
        };
        if !e
            .info
            .properties
            .iter()
            .any(|(k, _)| k == "flakehound.source")
        {
            e.info
                .properties
                .insert(0, ("flakehound.source".into(), session.source.to_string()));
        }
        let mut h = blake3::Hasher::new();
        h.update(key.0.as_bytes());
        h.update(&e.number.to_le_bytes());
        h.update(e.command.as_bytes());
        for c in e.cases {
            // A case that cannot be serialised still counts by its id.
            match serde_json::to_vec(c) {
                Ok(json) => h.update(&json),
                Err(_) => h.update(c.id.as_bytes()),
            };
        }
        let hash = h.finalize().to_hex().to_string();
        let report = NewReport {
            hash: &hash,
            path: e.path.as_deref(),
            format: e.info.format,
            run_key: &key,
            run: &meta,
            source: session.source.clone(),
        };
        if let Some(w) = flakehound_store::write_report(store, &report, e.cases, &e.info)? {
            written += w.results;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flakehound_model::{Attempt, Outcome};

    fn case(id: &str, outcome: Outcome) -> TestCase {
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome,
            attempts: vec![Attempt::new(outcome)],
            properties: vec![],
            timestamp: None,
        }
    }

    #[test]
    fn one_run_numbers_executions_as_attempts_and_is_idempotent() {
        let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
        let meta = RunMeta {
            provider: Some("github-actions".into()),
            job: Some("tests".into()),
            ..Default::default()
        };
        let key = RunKey("ci/1".into());
        let session = Session {
            source: &RunSource::Run,
            id: "",
            meta: &meta,
            runs: Runs::One(&key),
        };
        let first = [case("a", Outcome::Failed), case("b", Outcome::Passed)];
        let retry = [case("a", Outcome::Passed)];
        let executions = || {
            [
                Execution {
                    number: 1,
                    command: "pytest",
                    cases: &first,
                    ..Default::default()
                },
                Execution {
                    number: 2,
                    command: "pytest a",
                    cases: &retry,
                    ..Default::default()
                },
            ]
        };
        assert_eq!(record(&mut store, &session, executions()).unwrap(), 3);
        assert_eq!(record(&mut store, &session, executions()).unwrap(), 0);
        store.flush().unwrap();
        let ev = store.evidence().unwrap();
        assert_eq!(ev.runs.len(), 1);
        assert_eq!(ev.runs[0].key, "ci/1");
        assert_eq!(ev.runs[0].source, RunSource::Run);
        assert_eq!(ev.runs[0].job.as_deref(), Some("tests"));
        let a = store
            .test_stats()
            .unwrap()
            .into_iter()
            .find(|s| s.id == "a")
            .unwrap();
        assert_eq!((a.runs, a.failures, a.passes, a.retry_passes), (1, 1, 1, 1));
    }

    #[test]
    fn each_execution_is_a_run_that_says_flakehound_ran_it() {
        let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
        let meta = RunMeta {
            provider: Some("local".into()),
            commit: Some("abc".into()),
            ..Default::default()
        };
        let session = Session {
            source: &RunSource::Diagnose,
            id: "s1",
            meta: &meta,
            runs: Runs::Each,
        };
        let failed = [case("a", Outcome::Failed)];
        let passed = [case("a", Outcome::Passed)];
        let info = ReportInfo {
            timestamp: Some("1999-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let executions = [
            Execution {
                number: 1,
                label: Some("TZ=UTC".into()),
                started: Some("2024-05-01T10:00:00Z".into()),
                seconds: Some(1.5),
                info,
                cases: &failed,
                ..Default::default()
            },
            Execution {
                number: 2,
                label: Some("TZ=Etc/GMT+12".into()),
                started: Some("2024-05-01T10:00:02Z".into()),
                cases: &passed,
                ..Default::default()
            },
        ];
        assert_eq!(record(&mut store, &session, executions).unwrap(), 2);
        store.flush().unwrap();
        let ev = store.evidence().unwrap();
        let runs: Vec<_> = ev
            .runs
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.job.as_deref(),
                    r.run_attempt,
                    r.commit.as_deref(),
                    r.started_at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                (
                    "diagnose/s1/1",
                    Some("TZ=UTC"),
                    Some(1),
                    Some("abc"),
                    "2024-05-01T10:00:00Z"
                ),
                (
                    "diagnose/s1/2",
                    Some("TZ=Etc/GMT+12"),
                    Some(2),
                    Some("abc"),
                    "2024-05-01T10:00:02Z"
                ),
            ]
        );
        assert!(ev.runs.iter().all(|r| r.source == RunSource::Diagnose));
        assert_eq!(run_key(&RunSource::Hunt, "s", 7).0, "hunt/s/7");
    }
}
