//! Imports CI history into the store: GitHub Actions workflow runs (every attempt) and GitLab
//! pipelines (retried jobs included), their jobs, and the reports inside their artifacts (and
//! GitLab's pipeline `test_report`).
//!
//! # Units
//! An import works in *units*: a GitHub run attempt, a GitLab pipeline. A unit is fetched (its
//! jobs, its artifacts downloaded and unzipped into a scratch directory) on one of `jobs`
//! worker threads, then written by the calling thread, which owns the store: its reports go
//! through the ingest pipeline (`flakehound-evidence`) with the unit's CI metadata, and then
//! [`CiJobs::record_import`] flushes them and records the unit's jobs and the unit itself in
//! one transaction. So:
//! - importing again skips every recorded unit (and reports are stored by content hash, so a
//!   unit whose reports were stored but which was not recorded yet adds nothing the second
//!   time);
//! - an interrupted import (Ctrl-C, a crash, the API failing) keeps every recorded unit, and
//!   the next import resumes with the others;
//! - only finished runs and pipelines are units: a run still going is imported next time.
//!
//! Problems that importing again would not fix (an expired artifact, 410; a token without the
//! permission to read artifacts, 403; a file in an artifact that is not a report) are reported
//! and the unit is recorded. Failures that may pass later (network, 5xx after retries) leave the
//! unit for the next import.

use flakehound_evidence::Input;
use flakehound_model::{RunMeta, RunSource};
use flakehound_store::{CiJob, RunKey, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub mod cost;
#[cfg(feature = "fixture")]
pub mod fixture;
pub mod github;
pub mod gitlab;
pub mod http;
mod reports;

pub use http::{Api, ApiError, Auth, Tuning};

/// What a unit brings once fetched.
pub struct Fetched {
    pub jobs: Vec<CiJob>,
    /// Report files (in the scratch directory) with the run each belongs to.
    pub reports: Vec<(Input, RunKey, RunMeta)>,
    /// What could not be imported and will not be by trying again (expired artifacts, …).
    pub problems: Vec<String>,
    pub artifacts: u64,
}

/// A CI provider's history.
pub trait Source: Sync {
    type Unit: Send + Sync;
    /// `github-actions` or `gitlab-ci` (the provider of the runs, as `flakehound ingest` names
    /// it in CI).
    fn provider(&self) -> &'static str;
    /// The unit's identity in [`CiJobs::record_import`].
    fn key(&self, unit: &Self::Unit) -> String;
    /// Every finished unit in the range asked for, oldest first.
    fn list(&self) -> Result<Vec<Self::Unit>, ApiError>;
    /// Jobs and reports of `unit`; files go under `scratch`.
    fn fetch(&self, unit: &Self::Unit, scratch: &Path) -> Result<Fetched, ApiError>;
}

/// What happens during an import, for progress display.
#[derive(Clone, Debug)]
pub enum Event {
    /// Units found, and how many of them were imported before.
    Listed { units: usize, already: usize },
    /// A unit is recorded.
    Imported {
        unit: String,
        reports: usize,
        jobs: usize,
    },
    /// Something was not imported (and will not be by trying again).
    Problem(String),
    /// A unit failed; the next import tries it again.
    Failed { unit: String, reason: String },
    /// Rate-limit waits and retries.
    Notice(String),
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub provider: String,
    /// Finished units in range.
    pub units: usize,
    /// Of those, imported before this import.
    pub already: usize,
    pub imported: usize,
    pub failed: usize,
    pub jobs: usize,
    pub artifacts: u64,
    pub reports: usize,
    pub results: u64,
    pub problems: Vec<String>,
    /// Stopped by the user before the end.
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

pub struct Options {
    /// Units fetched at once.
    pub jobs: usize,
    /// Where scratch directories go (the system's temporary directory when `None`).
    pub scratch: Option<PathBuf>,
    /// Set by Ctrl-C: no new unit is started, the import returns with `stopped`.
    pub stop: Arc<AtomicBool>,
}

/// Consecutive failed units after which the API is taken to be down: the import stops (what
/// was recorded stays) instead of trying every remaining unit.
const FAILURES_IN_A_ROW: usize = 8;

/// Imports every unit of `source` not recorded in `store` yet.
pub fn import<S: Source>(
    source: &S,
    store: &mut dyn Store,
    opts: &Options,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Summary, ImportError> {
    let provider = source.provider();
    let jobs_store = store.job_evidence().ok_or_else(|| {
        ImportError::Other("this store engine keeps no job-level evidence".into())
    })?;
    let done = jobs_store.imported_units(provider)?;
    let listed = match source.list() {
        Ok(l) => l,
        // Ctrl-C while listing: nothing was written.
        Err(ApiError::Stopped) => {
            return Ok(Summary {
                provider: provider.to_string(),
                stopped: true,
                ..Summary::default()
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut summary = Summary {
        provider: provider.to_string(),
        units: listed.len(),
        ..Summary::default()
    };
    let todo: Vec<(S::Unit, String)> = listed
        .into_iter()
        .map(|u| {
            let k = source.key(&u);
            (u, k)
        })
        .filter(|(_, k)| !done.contains(k))
        .collect();
    summary.already = summary.units - todo.len();
    events(Event::Listed {
        units: summary.units,
        already: summary.already,
    });
    let scratch = match &opts.scratch {
        Some(dir) => tempfile::Builder::new()
            .prefix("flakehound-import-")
            .tempdir_in(dir),
        None => tempfile::Builder::new()
            .prefix("flakehound-import-")
            .tempdir(),
    }
    .map_err(|e| ImportError::Other(format!("cannot make a scratch directory: {e}")))?;
    let next = AtomicUsize::new(0);
    let workers = opts.jobs.clamp(1, 64).min(todo.len().max(1));
    // Fetched units wait here for the writer: bounded, so scratch space and memory stay
    // bounded by the number of workers, whatever the history's length.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<Fetched, ApiError>)>(workers);
    let abort = AtomicBool::new(false);
    let mut fatal: Option<ImportError> = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (todo, next, abort, scratch) = (&todo, &next, &abort, scratch.path());
            scope.spawn(move || {
                loop {
                    if opts.stop.load(Ordering::Relaxed) || abort.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((unit, _)) = todo.get(i) else { return };
                    let dir = scratch.join(i.to_string());
                    let fetched = std::fs::create_dir_all(&dir)
                        .map_err(|e| ApiError::Decode {
                            url: String::new(),
                            reason: format!("cannot make {}: {e}", dir.display()),
                        })
                        .and_then(|()| source.fetch(unit, &dir));
                    if tx.send((i, fetched)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut in_a_row = 0;
        for (i, fetched) in rx {
            if fatal.is_some() || opts.stop.load(Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(scratch.path().join(i.to_string()));
                continue;
            }
            let key = &todo[i].1;
            let result = match fetched {
                Err(ApiError::Stopped) => continue,
                Err(e) => {
                    summary.failed += 1;
                    in_a_row += 1;
                    events(Event::Failed {
                        unit: key.clone(),
                        reason: e.to_string(),
                    });
                    if in_a_row >= FAILURES_IN_A_ROW {
                        fatal = Some(ImportError::Other(format!(
                            "{in_a_row} units failed in a row, the last with: {e}; stopping \
                             (what was imported is kept: import again to resume)"
                        )));
                        abort.store(true, Ordering::Relaxed);
                    }
                    continue;
                }
                Ok(f) => write_unit(store, provider, key, f, &mut summary, events),
            };
            let _ = std::fs::remove_dir_all(scratch.path().join(i.to_string()));
            match result {
                Ok(()) => in_a_row = 0,
                Err(e) => {
                    fatal = Some(e);
                    abort.store(true, Ordering::Relaxed);
                }
            }
        }
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    summary.stopped = opts.stop.load(Ordering::Relaxed);
    Ok(summary)
}

/// Ingests a fetched unit's reports and records it.
fn write_unit(
    store: &mut dyn Store,
    provider: &str,
    key: &str,
    f: Fetched,
    summary: &mut Summary,
    events: &(dyn Fn(Event) + Sync),
) -> Result<(), ImportError> {
    let mut problems = f.problems;
    let mut reports = 0;
    if !f.reports.is_empty() {
        let (inputs, runs): (Vec<Input>, Vec<(RunKey, RunMeta)>) = f
            .reports
            .into_iter()
            .map(|(input, key, meta)| (input, (key, meta)))
            .unzip();
        let s =
            flakehound_evidence::ingest_runs_unflushed(store, &inputs, runs, None, RunSource::Ci);
        if s.store_failed {
            let reason = s
                .rejected()
                .next()
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| "the store failed".into());
            return Err(ImportError::Store(StoreError::Backend(reason)));
        }
        for (name, reason) in s.rejected() {
            problems.push(format!(
                "{key}: {}: not a report: {reason}",
                display_name(name)
            ));
        }
        reports = s.count(|st| matches!(st, flakehound_evidence::FileStatus::Ingested { .. }));
        summary.results += s.results;
    }
    let jobs_store = store.job_evidence().ok_or_else(|| {
        ImportError::Other("this store engine keeps no job-level evidence".into())
    })?;
    jobs_store.record_import(provider, key, &f.jobs)?;
    summary.imported += 1;
    summary.jobs += f.jobs.len();
    summary.artifacts += f.artifacts;
    summary.reports += reports;
    for p in problems {
        events(Event::Problem(p.clone()));
        summary.problems.push(p);
    }
    events(Event::Imported {
        unit: key.to_string(),
        reports,
        jobs: f.jobs.len(),
    });
    Ok(())
}

/// A scratch file's name without the scratch directory (`…/3/1234/junit/a.xml` → `1234/junit/a.xml`
/// is still long; the artifact part is what the user knows).
fn display_name(name: &str) -> String {
    match name.find("/art-") {
        Some(i) => name[i + 5..].to_string(),
        None => name.to_string(),
    }
}

/// Seconds between two RFC 3339 times.
pub(crate) fn seconds_between(start: Option<&str>, end: Option<&str>) -> Option<f64> {
    let a: jiff::Timestamp = start?.parse().ok()?;
    let b: jiff::Timestamp = end?.parse().ok()?;
    let d = b.as_millisecond() - a.as_millisecond();
    (d >= 0).then_some(d as f64 / 1000.0)
}

/// A `--since` value: `30d`, `12h`, `2w`, or a date (`2026-01-31`) or RFC 3339 time.
pub fn parse_since(s: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, String> {
    let t = s.trim();
    if let Some((n, unit)) = t
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(i, _)| t.split_at(i))
    {
        if let (Ok(n), Some(secs)) = (
            n.parse::<i64>(),
            match unit {
                "d" => Some(86_400),
                "h" => Some(3_600),
                "w" => Some(7 * 86_400),
                _ => None,
            },
        ) {
            return now
                .checked_sub(jiff::SignedDuration::from_secs(n.saturating_mul(secs)))
                .map_err(|e| format!("--since {s:?}: {e}"));
        }
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("--since {s:?}: {e}"));
    }
    Err(format!(
        "--since {s:?}: use a duration (30d, 12h, 2w), a date (2026-01-31) or an RFC 3339 time"
    ))
}

/// Artifact name patterns (`--artifacts`): comma-separated globs, case-insensitive.
pub fn artifact_globs(patterns: &str) -> Result<globset::GlobSet, String> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        b.add(
            globset::GlobBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("--artifacts {p:?}: {e}"))?,
        );
    }
    b.build()
        .map_err(|e| format!("--artifacts {patterns:?}: {e}"))
}

/// Artifact names taken when `--artifacts` is not given: the names test reports usually get.
pub const DEFAULT_ARTIFACTS: &str = "*test*,*junit*,*report*,*result*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_values() {
        let now: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("30d", now).unwrap().to_string(),
            "2026-01-30T00:00:00Z"
        );
        assert_eq!(
            parse_since("2026-02-01", now).unwrap().to_string(),
            "2026-02-01T00:00:00Z"
        );
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("3y", now).is_err());
    }

    #[test]
    fn default_artifact_names() {
        let g = artifact_globs(DEFAULT_ARTIFACTS).unwrap();
        assert!(g.is_match("junit-linux"));
        assert!(g.is_match("Test-Results"));
        assert!(!g.is_match("dist-binaries"));
        assert!(artifact_globs("[").is_err());
    }
}
