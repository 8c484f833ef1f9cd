//! Gathers report files into the store.
//!
//! - Discovery: files are taken as given; directories are searched recursively for files with a
//!   report extension ([`REPORT_EXTENSIONS`]), in sorted order, skipping hidden directories.
//!   Other files in a directory (logs, screenshots) are ignored rather than rejected.
//! - Identity: a report is its content (BLAKE3 hash); content already stored is skipped, so
//!   ingesting twice changes nothing and a killed ingest is completed by running it again.
//! - Runs: reports of one invocation belong to one run. The run is keyed by CI metadata when
//!   it names the run (provider, run id, run attempt, job), otherwise by the hashes of all the
//!   invocation's inputs — so re-running an interrupted ingest adds the rest to the same run.
//! - Order: inputs are ingested in the order given, directory contents in path order; within a
//!   run, that order numbers the attempts of each test and the execution positions (so name
//!   retry reports to sort after the first report, e.g. `attempt-1.xml`, `attempt-2.xml`).
//! - Atomicity: each report is parsed straight into a store transaction; a parse error rolls
//!   it back and the file is reported as rejected while the others go on.

use flakehound_ingest::Error as ParseError;
use flakehound_model::{Format, ReportInfo, RunMeta};
use flakehound_store::{NewReport, RunKey, Store};
use std::path::{Path, PathBuf};

/// Extensions picked up when searching directories.
pub const REPORT_EXTENSIONS: &[&str] = &["xml", "trx", "json", "jsonl", "ndjson", "tap"];

/// One input of an ingest.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    /// Content read from standard input, named `name` in summaries.
    Bytes {
        name: String,
        bytes: Vec<u8>,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Expands paths: files as given, directories searched recursively. Paths that do not exist are
/// returned as errors (path, reason).
pub fn discover(paths: &[PathBuf]) -> (Vec<Input>, Vec<(String, String)>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() && has_report_extension(e.path()) => {
                        inputs.push(Input::File(e.into_path()))
                    }
                    Ok(_) => {}
                    Err(err) => errors.push((path.display().to_string(), err.to_string())),
                }
            }
        } else if path.exists() {
            inputs.push(Input::File(path.clone()));
        } else {
            errors.push((
                path.display().to_string(),
                "no such file or directory".into(),
            ));
        }
    }
    (inputs, errors)
}

fn has_report_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| REPORT_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq)]
pub enum FileStatus {
    Ingested {
        format: Format,
        records: u64,
        results: u64,
    },
    /// Same content already in the store.
    Duplicate,
    Rejected {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileOutcome {
    pub name: String,
    pub status: FileStatus,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub files: Vec<FileOutcome>,
    pub runs_created: u64,
    pub run_key: String,
    pub records: u64,
    pub results: u64,
}

impl Summary {
    pub fn count(&self, f: impl Fn(&FileStatus) -> bool) -> usize {
        self.files.iter().filter(|o| f(&o.status)).count()
    }
    pub fn rejected(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter_map(|o| match &o.status {
            FileStatus::Rejected { reason } => Some((o.name.as_str(), reason.as_str())),
            _ => None,
        })
    }
}

pub struct Options<'a> {
    pub format: Option<Format>,
    pub meta: &'a RunMeta,
    /// `ci`, or the flakehound command that produced the results.
    pub source: &'a str,
}

fn hash_input(input: &Input) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    match input {
        Input::File(p) => {
            hasher.update_reader(std::fs::File::open(p)?)?;
        }
        Input::Bytes { bytes, .. } => {
            hasher.update(bytes);
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Ingests `inputs` into `store` as one run. `progress` is called after each file.
pub fn ingest(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &Options<'_>,
    progress: &mut dyn FnMut(&FileOutcome),
) -> Summary {
    let hashes: Vec<std::io::Result<String>> = inputs.iter().map(hash_input).collect();
    let run_key = RunKey::from_meta(opts.meta).unwrap_or_else(|| {
        let mut h = blake3::Hasher::new();
        let mut sorted: Vec<&str> = hashes
            .iter()
            .filter_map(|h| h.as_ref().ok().map(String::as_str))
            .collect();
        sorted.sort_unstable();
        for s in sorted {
            h.update(s.as_bytes());
        }
        RunKey(format!("local/{}", &h.finalize().to_hex()[..16]))
    });
    let mut summary = Summary {
        run_key: run_key.0.clone(),
        ..Default::default()
    };
    for (input, hash) in inputs.iter().zip(hashes) {
        let status = match hash {
            Err(e) => FileStatus::Rejected {
                reason: format!("cannot read: {e}"),
            },
            Ok(hash) => ingest_one(store, input, &hash, &run_key, opts, &mut summary),
        };
        let outcome = FileOutcome {
            name: input.name(),
            status,
        };
        progress(&outcome);
        summary.files.push(outcome);
    }
    summary
}

fn ingest_one(
    store: &mut dyn Store,
    input: &Input,
    hash: &str,
    run_key: &RunKey,
    opts: &Options<'_>,
    summary: &mut Summary,
) -> FileStatus {
    match store.has_report(hash) {
        Ok(true) => return FileStatus::Duplicate,
        Ok(false) => {}
        Err(e) => {
            return FileStatus::Rejected {
                reason: e.to_string(),
            };
        }
    }
    let name = input.name();
    let new = NewReport {
        hash,
        path: Some(&name),
        format: opts.format,
        run_key,
        run: opts.meta,
        source: opts.source,
    };
    let mut writer = match store.begin_report(&new) {
        Ok(w) => w,
        Err(e) => {
            return FileStatus::Rejected {
                reason: e.to_string(),
            };
        }
    };
    let mut sink = |case: flakehound_model::TestCase| writer.add(&case).map_err(ParseError::sink);
    let parsed: Result<ReportInfo, ParseError> = match input {
        Input::File(p) => flakehound_ingest::parse_file(p, opts.format, &mut sink),
        Input::Bytes { bytes, .. } => flakehound_ingest::parse_bytes(bytes, opts.format, &mut sink),
    };
    let mut info = match parsed {
        Ok(info) => info,
        Err(e) => {
            return FileStatus::Rejected {
                reason: e.to_string(),
            };
        }
    };
    info.timestamp = info
        .timestamp
        .as_deref()
        .and_then(flakehound_ci::normalize_timestamp);
    let format = info.format.or(opts.format).unwrap_or(Format::Junit);
    match writer.commit(&info) {
        Ok(w) => {
            summary.records += w.records;
            summary.results += w.results;
            summary.runs_created += u64::from(w.new_run);
            FileStatus::Ingested {
                format,
                records: w.records,
                results: w.results,
            }
        }
        Err(e) => FileStatus::Rejected {
            reason: e.to_string(),
        },
    }
}
