//! The evidence store.
//!
//! Callers see only the [`Store`] trait and plain data types. The engines are sibling crates:
//! `flakehound-store-sqlite` (the embedded default) and `flakehound-store-postgres` (for teams
//! and the server). This crate depends on neither: a program [`install`]s the backends it links
//! (the binary installs both) and [`open`] dispatches on the [`Location`]. The trait is
//! synchronous on purpose: ingestion is a single-writer batch job, and blocking clients fit both
//! engines the same way (an async server calls it from blocking tasks).
//!
//! Guarantees every implementation keeps:
//! - A report is written all-or-nothing ([`Store::begin_report`] → [`ReportWriter::commit`]);
//!   dropping the writer without committing leaves no trace of it.
//! - Reports are identified by their content hash: writing the same content twice is a no-op
//!   ([`Store::has_report`]).
//! - Runs are identified by [`RunKey`]; reports of one run (a CI job execution) share its
//!   attempt numbering and execution order.

use flakehound_model::{Category, Counts, Format, ReportInfo, RunMeta, RunSource, TestCase};
use std::path::Path;

mod admin;
mod alerts;
#[cfg(feature = "conformance")]
pub mod conformance;
mod jobs;
mod location;
mod merge;
mod numbering;
pub mod retention;
pub mod time;

pub use admin::{
    Admin, CodeownersAction, CodeownersOffer, CodeownersOutcome, CodeownersRecord,
    CodeownersSource, NewToken, QuarantineChange, QuarantineRecord, Scope, SessionRecord,
    TokenInfo, UploadRecord, decide_codeowners,
};
pub use alerts::{AlertConfig, AlertState, AlertStore, Delivery, Mute};
pub use jobs::{CiJob, CiJobs};
pub use location::{
    Backend, Lease, Location, OpenMode, install, open, open_admin, open_alerts, open_existing,
    try_lead,
};
pub use merge::{
    Merged, StoredReport, merge, merge_locations, properties_from_json, properties_to_json,
    total as merged_total,
};
pub use numbering::Numbering;
pub use retention::{HistoryRow, Pruned, add_history};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("store error: {0}")]
    Backend(String),
    #[error(
        "invalid project name {0:?}: it must be 1 to 200 characters without control characters"
    )]
    InvalidProject(String),
    /// A write to the store at `path` failed (SQLite's messages do not name the file).
    #[error("cannot write store {path}: {reason}")]
    Write { path: String, reason: String },
    /// A write failed and every report not yet flushed was rolled back with it.
    #[error("store write failed, uncommitted reports rolled back: {0}")]
    BatchLost(String),
    #[error(
        "store schema version {found} is newer than this flakehound understands ({supported}); upgrade flakehound"
    )]
    TooNew { found: i64, supported: i64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Identity of a run: one execution of a CI job (a re-run of the job is another run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RunKey(pub String);

impl RunKey {
    /// Key from CI metadata when it names the run (`provider/run_id/attempt/job`), else `None`.
    pub fn from_meta(meta: &RunMeta) -> Option<RunKey> {
        let run_id = meta.run_id.as_deref()?;
        Some(RunKey(format!(
            "{}/{}/{}/{}",
            meta.provider.as_deref().unwrap_or("ci"),
            run_id,
            meta.run_attempt.unwrap_or(1),
            meta.job.as_deref().unwrap_or("")
        )))
    }
}

/// Everything known about a report before its records are written.
#[derive(Clone, Debug)]
pub struct NewReport<'a> {
    /// Content hash (hex).
    pub hash: &'a str,
    pub path: Option<&'a str>,
    /// The format when known up front; otherwise the parser's, given at commit.
    pub format: Option<Format>,
    pub run_key: &'a RunKey,
    pub run: &'a RunMeta,
    /// CI reports, or one of flakehound's own executions.
    pub source: RunSource,
}

impl<'a> NewReport<'a> {
    /// A CI JUnit report without a path: what most store tests write.
    pub fn ci_junit(hash: &'a str, run_key: &'a RunKey, run: &'a RunMeta) -> Self {
        NewReport {
            hash,
            path: None,
            format: Some(Format::Junit),
            run_key,
            run,
            source: RunSource::Ci,
        }
    }
}

/// What a committed report added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub records: u64,
    pub results: u64,
    pub new_run: bool,
    /// Another writer (a concurrent ingest of the same file) stored this report between the
    /// caller's [`Store::has_report`] and the commit: nothing was written, and that is success.
    pub duplicate: bool,
}

/// Writes one report atomically. Drop without [`commit`](ReportWriter::commit) to roll back.
pub trait ReportWriter {
    fn add(&mut self, case: TestCase) -> Result<()>;
    /// Commits with the report's own information, gathered while parsing: its format, tool,
    /// timestamp (normalised RFC 3339; also the run's start when the run has none), properties.
    fn commit(self: Box<Self>, info: &ReportInfo) -> Result<Written>;
}

/// One failed attempt's text (see [`Store::failure_texts`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailureText {
    pub message: Option<String>,
    pub details: Option<String>,
    /// When its run started.
    pub started_at: Option<String>,
}

/// Per-test aggregates used to rank tests by evidence of flakiness.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestStats {
    pub id: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    /// Runs with at least one executed (not skipped) attempt.
    pub runs: u64,
    /// Attempts that passed / failed or errored / were skipped.
    pub passes: u64,
    pub failures: u64,
    pub skips: u64,
    /// Runs in which the test failed at least once.
    pub failed_runs: u64,
    /// Runs in which the test failed and then passed on a later attempt.
    pub retry_passes: u64,
    /// Commits on which some runs passed the test and others failed it (a run's outcome is its
    /// last executed attempt; passes on retry inside a run are `retry_passes`).
    pub flaky_commits: u64,
    /// Commits with at least one executed attempt.
    pub commits: u64,
    /// Start time of the newest run that executed the test, as stored.
    pub last_seen: Option<String>,
    /// Message (or failure type) of the newest failure that has one (newest: the most recently
    /// stored run, then the latest attempt).
    pub last_failure: Option<String>,
}

/// Store-wide totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub runs: u64,
    pub reports: u64,
    pub tests: u64,
    pub results: u64,
    /// Counts stated only in aggregate by reports without test cases.
    pub aggregate: Counts,
}

pub trait Store {
    /// The project this handle reads and writes: every run belongs to one project, and every
    /// read (stats, evidence, notes, totals) sees only its runs. One store (a PostgreSQL
    /// database) serves many repositories.
    fn project(&self) -> &str;
    /// Every project with at least one run or note, sorted.
    fn projects(&mut self) -> Result<Vec<String>>;
    /// Whether a report with this content hash is already stored.
    fn has_report(&mut self, hash: &str) -> Result<bool>;
    /// [`Store::has_report`] for many hashes at once: one answer per hash, in order. Engines
    /// where each question is a round trip to a server answer all of them in one.
    fn stored_reports(&mut self, hashes: &[&str]) -> Result<Vec<bool>> {
        hashes.iter().map(|h| self.has_report(h)).collect()
    }
    /// Starts writing a report. The caller must have checked [`Store::has_report`]. A committed
    /// report may be buffered until [`Store::flush`].
    fn begin_report<'s>(&'s mut self, report: &NewReport<'_>)
    -> Result<Box<dyn ReportWriter + 's>>;
    /// Makes every committed report durable. Until then a crash may lose them (never half of
    /// one); dropping the store flushes too, ignoring errors.
    fn flush(&mut self) -> Result<()>;
    /// The reports an ingest is about to write, in order: content hashes (that
    /// [`stored_reports`](Store::stored_reports) just called new) and the keys of their runs. A
    /// hint that lets an engine write them with fewer round trips (PostgreSQL checks them all
    /// once under its write lock, then streams them); it changes no result: a report stored
    /// meanwhile is still a duplicate.
    fn expect_reports(&mut self, _reports: &[(&str, &RunKey)]) {}
    /// The records of the last report committed, if the engine kept them: the caller may drop
    /// them where they were made (an ingest's parser thread), which costs less than freeing
    /// them on the writing thread. Empty by default; taking them changes nothing stored.
    fn spent_records(&mut self) -> Vec<flakehound_model::TestCase> {
        Vec::new()
    }
    /// How many threads an ingest may parse reports on while this store writes them. An
    /// embedded engine writes in the ingest's own process, which then keeps two cores busy with
    /// two parsers; an engine whose writes are done by a database server on the same machine
    /// competes with it for the cores, and one parser measured faster there.
    fn parsers(&self) -> usize {
        2
    }
    /// Whether committed reports have held the store's write lock long enough that the caller
    /// should [`flush`](Store::flush) at the next report boundary, so that other writers of the
    /// store (another ingest, a `run`) get their turn instead of timing out.
    fn flush_due(&self) -> bool {
        false
    }
    /// Aggregates for every test with at least one result.
    fn test_stats(&mut self) -> Result<Vec<TestStats>>;
    fn totals(&mut self) -> Result<Totals>;
    /// Every stored result, columnar, for the verdict engine (see [`Evidence`]).
    fn evidence(&mut self) -> Result<Evidence>;
    /// Like [`Store::evidence`] but only for the tests that ever failed (every run is listed,
    /// with [`Evidence::run_sizes`]): what verdicts need, without reading the passes of tests
    /// that never failed.
    fn failing_evidence(&mut self) -> Result<Evidence>;
    /// Execution order of the run with key `run_key`: (test id, position) of each executed test.
    fn run_order(&mut self, run_key: &str) -> Result<Vec<(String, u32)>>;
    /// The failure texts of `test`'s failed attempts, newest run first, at most `limit`: the
    /// whole message and the details (a stack trace), which the evidence does not carry (it
    /// keeps each message's line), for showing an example of a failure pattern.
    fn failure_texts(&mut self, test: &str, limit: usize) -> Result<Vec<FailureText>>;
    /// Adds a note (its `id` and `created_at` are assigned here, `created_at` when empty);
    /// returns the new id.
    fn add_note(&mut self, note: &Note) -> Result<i64>;
    /// Notes of `test` (every note when `None`), oldest first.
    fn notes(&mut self, test: Option<&str>) -> Result<Vec<Note>>;
    /// Deletes a note; `false` when there is none with that id.
    fn remove_note(&mut self, id: i64) -> Result<bool>;
    /// Calls `each` with every report of this project, rebuilt from what is stored, in the order
    /// the reports were stored (so the reports of a run come in their order): what [`merge`]
    /// replays into another store. Stops at the first error `each` returns.
    /// Job-level evidence ([`CiJobs`]) when the engine keeps it.
    fn job_evidence(&mut self) -> Option<&mut dyn CiJobs> {
        None
    }
    /// The per-test, per-commit aggregates of runs pruned by retention ([`retention`]).
    /// Engines add them to [`Store::test_stats`]; callers computing stats from evidence add
    /// them with [`add_history`].
    fn history(&mut self) -> Result<Vec<HistoryRow>> {
        Ok(Vec::new())
    }
    /// Retention: drops this project's runs started before `before` (RFC 3339 UTC), by commit,
    /// except pinned ones, keeping their aggregates ([`retention`]). All or nothing: one
    /// transaction, under the project's write lock.
    fn prune(&mut self, before: &str) -> Result<Pruned> {
        let _ = before;
        Err(StoreError::Backend(
            "this store engine does not support retention".into(),
        ))
    }
    /// Pins (or unpins) the run with key `run_key`: a pinned run, and its commit's other runs,
    /// are never pruned. `false` when there is no such run.
    fn pin_run(&mut self, run_key: &str, pinned: bool) -> Result<bool> {
        let _ = (run_key, pinned);
        Err(StoreError::Backend(
            "this store engine does not support pinning runs".into(),
        ))
    }
    /// The keys of the pinned runs, sorted.
    fn pinned_runs(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn export(&mut self, each: &mut dyn FnMut(StoredReport) -> Result<()>) -> Result<()> {
        let _ = each;
        Err(StoreError::Backend(
            "this store engine cannot export its reports (merge from it is not supported)".into(),
        ))
    }
}

/// A piece of root-cause knowledge about a test: what people wrote (`flakehound note`) or what
/// an experiment found (`kind` `diagnosis`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub id: i64,
    /// Canonical test id.
    pub test: String,
    pub kind: NoteKind,
    /// Root-cause category, when given.
    pub category: Option<Category>,
    pub text: String,
    pub link: Option<String>,
    pub author: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// Who wrote a [`Note`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// Written by a person (`flakehound note`).
    #[default]
    Note,
    /// Found by an experiment (`flakehound diagnose`).
    Diagnosis,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::Diagnosis => "diagnosis",
        }
    }

    /// Reads a stored kind; anything but `diagnosis` is a person's note.
    pub fn parse(s: &str) -> NoteKind {
        if s == "diagnosis" {
            NoteKind::Diagnosis
        } else {
            NoteKind::Note
        }
    }
}

impl std::fmt::Display for NoteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The project name used when none is given and none can be derived.
pub const DEFAULT_PROJECT: &str = "default";

/// Checks a project name: non-empty after trimming, at most 200 bytes, no control characters.
/// Returns the trimmed name.
pub fn valid_project(project: &str) -> Result<&str> {
    let p = project.trim();
    if p.is_empty() || p.len() > 200 || p.chars().any(char::is_control) {
        return Err(StoreError::InvalidProject(project.to_string()));
    }
    Ok(p)
}

/// All stored evidence in memory, columnar and interned: runs ordered by start time, results
/// ordered by run then execution position. About 24 bytes per result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    pub runs: Vec<RunRow>,
    pub tests: Vec<TestRow>,
    pub results: Vec<ResultRow>,
    /// Distinct failure messages (first line of message with matcher values from later lines,
    /// see [`flakehound_model::message_line`]; or the failure type).
    pub messages: Vec<String>,
    /// Per run (same order as `runs`): how many tests it executed, all tests included.
    pub run_sizes: Vec<u64>,
}

/// The distinct failure messages of an [`Evidence`] being loaded, as the engines intern them:
/// the first line of each, trimmed, numbered in order of first appearance.
#[derive(Debug, Default)]
pub struct Messages {
    index: foldhash::HashMap<String, u32>,
}

impl Messages {
    /// The index of `message`'s line ([`flakehound_model::message_line`]: the first line, with
    /// matcher values from later lines), new or already seen.
    pub fn intern(&mut self, message: &str) -> u32 {
        let line = flakehound_model::message_line(message);
        if let Some(&i) = self.index.get(line.as_ref()) {
            return i;
        }
        let next = self.index.len() as u32;
        self.index.insert(line.into_owned(), next);
        next
    }
}

impl Evidence {
    /// Completes evidence an engine loaded: the messages in index order, and the results in
    /// the documented order (run, then execution position, then attempt).
    pub fn finish(&mut self, messages: Messages) {
        self.messages = vec![String::new(); messages.index.len()];
        for (m, i) in messages.index {
            self.messages[i as usize] = m;
        }
        self.results.sort_by_key(|r| (r.run, r.position, r.attempt));
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunRow {
    pub key: String,
    pub source: RunSource,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub job: Option<String>,
    pub run_attempt: Option<u32>,
    pub runner: Option<String>,
    pub os: Option<String>,
    pub pull_request: Option<String>,
    /// RFC 3339 UTC when known (from CI metadata or the reports), else when it was stored.
    pub started_at: String,
    /// Link to the run's CI page, when its metadata has one.
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestRow {
    pub id: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResultRow {
    /// Index into [`Evidence::runs`].
    pub run: u32,
    /// Index into [`Evidence::tests`].
    pub test: u32,
    pub attempt: u32,
    pub position: u32,
    pub outcome: flakehound_model::Outcome,
    pub duration: Option<f32>,
    /// Index into [`Evidence::messages`].
    pub message: Option<u32>,
}

/// Writes one report with all its records atomically, unless a report with its hash is stored
/// already (then nothing changes and `None` is returned).
pub fn write_report<'c>(
    store: &mut dyn Store,
    report: &NewReport<'_>,
    cases: impl IntoIterator<Item = &'c TestCase>,
    info: &ReportInfo,
) -> Result<Option<Written>> {
    if store.has_report(report.hash)? {
        return Ok(None);
    }
    let mut w = store.begin_report(report)?;
    for c in cases {
        w.add(c.clone())?;
    }
    Ok(Some(w.commit(info)?))
}

/// Name of the directory flakehound keeps its files in, at the repository root.
pub const DIR_NAME: &str = ".flakehound";

/// What `.flakehound/.gitignore` says: everything but the files meant for review.
pub const GITIGNORE: &str = "\
# Written by flakehound. The store (flakehound.db*) and scratch files are local evidence;
# quarantine.toml and config.toml are meant to be committed and reviewed.
*
!.gitignore
!quarantine.toml
!config.toml
";

/// Writes `dir/.gitignore` ([`GITIGNORE`]) when `dir` is a `.flakehound` directory without one,
/// so that `git status` shows only the quarantine and the config. An existing file is the
/// user's and never touched. Best effort: a failure here must not stop the command that created
/// the store or the quarantine, so it is ignored.
pub fn ensure_gitignore(dir: &Path) {
    if dir.file_name().is_none_or(|n| n != DIR_NAME) {
        return;
    }
    let path = dir.join(".gitignore");
    // create_new: never overwrite, even if another process wrote one meanwhile.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        use std::io::Write;
        let _ = f.write_all(GITIGNORE.as_bytes());
    }
}
