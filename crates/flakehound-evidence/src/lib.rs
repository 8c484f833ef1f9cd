//! Gathers report files into the store.
//!
//! - Discovery: files are taken as given; directories are searched recursively for files with a
//!   report extension ([`REPORT_EXTENSIONS`]), in sorted order, skipping hidden directories and
//!   following symlinks (a loop is reported, not followed). Other files in a directory (logs,
//!   screenshots) are ignored rather than rejected. Only regular files are read (a FIFO or a
//!   device is refused with the reason), up to a size cap ([`max_report_bytes`]).
//! - Identity: a report is its content (BLAKE3 hash); content already stored is skipped, so
//!   ingesting twice changes nothing and a killed ingest is completed by running it again.
//! - Runs: decided in [`identity`] (flags, then the CI job when it plausibly produced the
//!   reports, then layout and content: a report holding the same tests again is another run).
//!   Runs without CI identity are keyed by the hashes of their reports, so re-running an
//!   interrupted ingest adds the rest to the same run.
//! - Order: inputs are ingested in the order given, directory contents in path order; within a
//!   run, that order numbers the attempts of each test and the execution positions (so name
//!   retry reports to sort after the first report, e.g. `attempt-1.xml`, `attempt-2.xml`).
//! - Atomicity: each report is parsed straight into a store transaction; a parse error rolls
//!   it back and the file is reported as rejected while the others go on.

use flakehound_ingest::Error as ParseError;
use flakehound_model::{Format, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, RunKey, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

mod gather;
pub mod identity;
pub mod own;
pub use flakehound_ci::Surroundings;
pub use gather::{Gathered, gather, spool};
pub use identity::{Decision, RunPer};

/// Extensions picked up when searching directories.
pub const REPORT_EXTENSIONS: &[&str] = &["xml", "trx", "json", "jsonl", "ndjson", "tap"];

/// One input of an ingest.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    /// Content in memory, named `name` in summaries: with its hash when the caller computed it,
    /// and its records when the caller parsed them already (see [`Preparsed`]).
    Bytes {
        name: String,
        bytes: std::sync::Arc<[u8]>,
        hash: Option<String>,
        parsed: Option<Preparsed>,
    },
    /// Content spooled to a file (standard input), named `name`, hashed while spooling.
    Spooled {
        name: String,
        path: PathBuf,
        hash: String,
    },
}

/// A report parsed before the ingest that writes it: the team server parses each upload on the
/// request's own thread, several at a time, so that the project's writer, which writes the
/// uploads of every request in turn, only writes (parsing inside its ingest made it the
/// server's bottleneck). The records are handed over once: the ingest that writes the input
/// takes them (one that found them taken parses the bytes again).
#[derive(Clone)]
pub struct Preparsed(std::sync::Arc<std::sync::Mutex<Option<ParsedReport>>>);

type ParsedReport = (Vec<TestCase>, Result<ReportInfo, ParseError>);

impl Preparsed {
    /// Parses `bytes` as the ingest would (the same parser, the same format detection).
    pub fn parse(bytes: &[u8], format: Option<Format>) -> Preparsed {
        let mut cases = Vec::new();
        let result = flakehound_ingest::parse_bytes(bytes, format, &mut |case| {
            cases.push(case);
            Ok(())
        });
        Preparsed(std::sync::Arc::new(std::sync::Mutex::new(Some((
            cases, result,
        )))))
    }

    fn take(&self) -> Option<ParsedReport> {
        self.0.lock().ok()?.take()
    }
}

impl std::fmt::Debug for Preparsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Preparsed")
    }
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Bytes { name, .. } | Input::Spooled { name, .. } => name.clone(),
        }
    }
}

/// Default largest report accepted, in bytes (4 GB). Parsing takes bounded memory whatever the
/// size, so the cap is about time and about inputs that never end: generous, and adjustable
/// with [`MAX_SIZE_ENV`].
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 4_000_000_000;

/// Environment variable overriding [`DEFAULT_MAX_REPORT_BYTES`]: bytes, or a number with a
/// `k`, `M`, `G` or `T` suffix (decimal, as sizes are shown; `Ki`, `Mi`, `Gi`, `Ti` for powers
/// of 1024), e.g. `FLAKEHOUND_MAX_REPORT_SIZE=10G`.
pub const MAX_SIZE_ENV: &str = "FLAKEHOUND_MAX_REPORT_SIZE";

/// The report size cap in effect, or why the override is unusable.
pub fn max_report_bytes() -> Result<u64, String> {
    let Some(raw) = std::env::var_os(MAX_SIZE_ENV) else {
        return Ok(DEFAULT_MAX_REPORT_BYTES);
    };
    let raw = raw.to_string_lossy();
    let t = raw.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let factor: Option<u64> = match unit {
        "" => Some(1),
        "k" => Some(1_000),
        "m" => Some(1_000_000),
        "g" => Some(1_000_000_000),
        "t" => Some(1_000_000_000_000),
        "ki" => Some(1 << 10),
        "mi" => Some(1 << 20),
        "gi" => Some(1 << 30),
        "ti" => Some(1 << 40),
        _ => None,
    };
    match (digits.parse::<u64>(), factor) {
        (Ok(n), Some(f)) if n > 0 => Ok(n.saturating_mul(f)),
        _ => Err(format!(
            "{MAX_SIZE_ENV}={raw:?} is not a size (use bytes, or a number with k, M, G or T)"
        )),
    }
}

#[cfg(target_os = "linux")]
const ELOOP: i32 = 40;
#[cfg(not(target_os = "linux"))]
const ELOOP: i32 = 62;

/// Why `err` (from following `path`) happened, in words a user can act on.
fn path_error(path: &Path, err: &std::io::Error) -> String {
    if err.raw_os_error() == Some(ELOOP) {
        return "symlink loop: following its links never reaches a file".into();
    }
    if err.kind() == std::io::ErrorKind::NotFound {
        return if std::fs::symlink_metadata(path).is_ok() {
            "broken symlink: its target does not exist".into()
        } else {
            "no such file or directory".into()
        };
    }
    err.to_string()
}

/// What a non-regular file is, for the refusal message.
fn special_kind(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    let _ = ft;
    "a special file"
}

/// Accepts a path as a report file, following symlinks: only regular files (a FIFO would block
/// and a device such as `/dev/zero` never end), no larger than `max` bytes. `Err` is the reason
/// for refusing it; `Ok(None)` means a directory.
pub fn accept(path: &Path, max: u64) -> Result<Option<u64>, String> {
    let meta = std::fs::metadata(path).map_err(|e| path_error(path, &e))?;
    check_meta(&meta, max)
}

fn check_meta(meta: &std::fs::Metadata, max: u64) -> Result<Option<u64>, String> {
    let ft = meta.file_type();
    if ft.is_dir() {
        return Ok(None);
    }
    if !ft.is_file() {
        return Err(format!(
            "{}, not a regular file: refused (reading it could block or never end); \
             to read a stream, pipe it to standard input with `-`",
            special_kind(ft)
        ));
    }
    if meta.len() > max {
        return Err(too_big(meta.len(), max));
    }
    Ok(Some(meta.len()))
}

fn too_big(len: u64, max: u64) -> String {
    format!(
        "{} is over the {} limit on a report's size: refused (raise it with {MAX_SIZE_ENV}, \
         e.g. {MAX_SIZE_ENV}={}G)",
        human_size(len),
        human_size(max),
        len / 1_000_000_000 + 1
    )
}

fn human_size(n: u64) -> String {
    flakehound_ingest::cap::human_bytes(n)
}

/// Expands paths: files as given, directories searched recursively (following symlinks, with
/// loops detected). Paths that do not exist, non-regular files (FIFOs, devices), files over the
/// size cap and symlink loops are returned as errors (path, reason).
pub fn discover(paths: &[PathBuf]) -> (Vec<Input>, Vec<(String, String)>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let max = match max_report_bytes() {
        Ok(max) => max,
        Err(reason) => {
            // Every path is refused rather than silently using another limit.
            for path in paths {
                errors.push((path.display().to_string(), reason.clone()));
            }
            return (inputs, errors);
        }
    };
    for path in paths {
        match accept(path, max) {
            Ok(Some(_)) => inputs.push(Input::File(path.clone())),
            Err(reason) => errors.push((path.display().to_string(), reason)),
            Ok(None) => walk(path, max, &mut inputs, &mut errors),
        }
    }
    (inputs, errors)
}

/// Searches a directory. Report files reached through symlinks count like any other (CI
/// artifact folders are often assembled with links); a link back to an enclosing directory is
/// reported once as a loop instead of being followed forever. Broken links and special files
/// are reported only when their name looks like a report: other files are not ours to judge.
fn walk(dir: &Path, max: u64, inputs: &mut Vec<Input>, errors: &mut Vec<(String, String)>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) if !has_report_extension(e.path()) => {}
            Ok(e) => match e
                .metadata()
                .map_err(|err| err.to_string())
                .and_then(|m| check_meta(&m, max))
            {
                Ok(_) => inputs.push(Input::File(e.into_path())),
                Err(reason) => errors.push((e.path().display().to_string(), reason)),
            },
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                if let Some(ancestor) = err.loop_ancestor() {
                    errors.push((
                        path.display().to_string(),
                        format!(
                            "symlink loop: it leads back to {}, which is being searched; not \
                             followed",
                            ancestor.display()
                        ),
                    ));
                } else if err.depth() == 0 || has_report_extension(&path) {
                    let reason = match err.io_error() {
                        Some(io) => path_error(&path, io),
                        None => err.to_string(),
                    };
                    errors.push((path.display().to_string(), reason));
                }
            }
        }
    }
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
        /// The report created its run (the first report stored of it).
        new_run: bool,
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
    /// Keys of the runs the inputs belong to, in first-seen order.
    pub runs: Vec<String>,
    pub records: u64,
    pub results: u64,
    /// How the inputs were grouped into runs, and what was assumed.
    pub decision: Decision,
    /// Whether the store failed (an input rejected for the store's sake, not its content): the
    /// same inputs may succeed later (the server answers 503 to have them sent again).
    pub store_failed: bool,
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
    /// Metadata the caller vouches for (flags): applies to every input.
    pub meta: &'a RunMeta,
    /// What this process's CI environment, checkout and host say: attached only to reports they
    /// plausibly describe (see [`identity`]). `None` for callers that put it in `meta`.
    pub local: Option<&'a Surroundings>,
    pub run_per: RunPer,
    /// `ci`, or the flakehound command that produced the results.
    pub source: flakehound_model::RunSource,
}

/// Hashes every input, on two threads: hashing must finish before the first write (it decides
/// duplicates and run keys), so it is a serial prefix of the ingest (~7% of it on 400 files).
/// The inputs marked in `sample` are sampled for the run identity in the same pass (see
/// [`hash_input`]).
fn hash_all(
    inputs: &[Input],
    sample: &[bool],
    format: Option<Format>,
) -> (Vec<std::io::Result<String>>, Vec<Option<identity::Sample>>) {
    let one = |i: usize| hash_input(&inputs[i], sample[i].then_some(format));
    let results: Vec<_> = if inputs.len() < 8 {
        (0..inputs.len()).map(one).collect()
    } else {
        let half = inputs.len() / 2;
        std::thread::scope(|scope| {
            let other = scope.spawn(|| (half..inputs.len()).map(one).collect::<Vec<_>>());
            let mut results: Vec<_> = (0..half).map(one).collect();
            match other.join() {
                Ok(rest) => results.extend(rest),
                // A panic while hashing cannot come from input; hash the rest here instead.
                Err(_) => results.extend((half..inputs.len()).map(one)),
            }
            results
        })
    };
    results.into_iter().unzip()
}

/// Reads `inner`, hashing every byte that passes.
struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut blake3::Hasher,
}

impl<R: std::io::Read> std::io::Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Hashes an input. A file is checked again right before it is opened (it may have been
/// replaced by a FIFO since discovery, and opening a FIFO blocks), and read no further than the
/// size cap (a file still being written may grow without end).
///
/// With `sample` (`Some(format)`), the input's first records are also sampled for the run
/// identity: a file is parsed from the same reads that hash it, up to the sample, and only the
/// rest is read for the hash alone, so each file is read once (a separate sampling pass opened
/// and read every file of a flat folder a second time).
fn hash_input(
    input: &Input,
    sample: Option<Option<Format>>,
) -> (std::io::Result<String>, Option<identity::Sample>) {
    let mut hasher = blake3::Hasher::new();
    let mut taken = None;
    let hashed = (|| {
        match input {
            Input::File(p) => {
                let max = max_report_bytes().map_err(std::io::Error::other)?;
                accept(p, max).map_err(std::io::Error::other)?;
                let file = std::fs::File::open(p)?;
                check_meta(&file.metadata()?, max).map_err(std::io::Error::other)?;
                let mut limited = std::io::Read::take(file, max + 1);
                if let Some(format) = sample {
                    let tee = Hashing {
                        inner: &mut limited,
                        hasher: &mut hasher,
                    };
                    taken = Some(identity::sample_reader(tee, format));
                }
                hasher.update_reader(&mut limited)?;
                if limited.limit() == 0 {
                    return Err(std::io::Error::other(format!(
                        "it grew while being read: {}",
                        too_big(max + 1, max)
                    )));
                }
            }
            Input::Bytes {
                hash: Some(hash), ..
            } => return Ok(hash.clone()),
            Input::Bytes { bytes, .. } => {
                hasher.update(bytes);
            }
            Input::Spooled { hash, .. } => return Ok(hash.clone()),
        }
        Ok(hasher.finalize().to_hex().to_string())
    })();
    (hashed, taken)
}

/// Results written between two durable commits of the store. Larger batches are faster (fewer
/// rewrites of the same index pages); a crash loses at most one batch, which a re-run restores.
pub const FLUSH_RESULTS: u64 = 100_000;

/// Records sent from the parser thread per message, and messages in flight: bounds memory to a
/// few thousand records whatever the report size.
const CHUNK: usize = 256;
const IN_FLIGHT: usize = 16;

/// Most parser threads of an ingest of several inputs (see `pipeline`; the store says how
/// many, [`flakehound_store::Store::parsers`]).
const MAX_PARSERS: usize = 4;

/// A parser thread's channels: its records to the writer, and back once stored.
struct Lane {
    rx: Receiver<Parsed>,
    trash: std::sync::mpsc::Sender<Vec<TestCase>>,
}

/// What the parser thread produces for one input, in order.
enum Parsed {
    Cases(Vec<TestCase>),
    Done(Result<ReportInfo, ParseError>),
}

/// Ingests `inputs` into `store`. `progress` is called after each file.
///
/// Parsing runs on a second thread, one input ahead of the store writes, streaming records
/// through a bounded channel; the calling thread owns the store and writes.
pub fn ingest(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &Options<'_>,
    progress: &mut dyn FnMut(&FileOutcome),
) -> Summary {
    ingest_with(store, inputs, opts, progress, true)
}

/// [`ingest`] without the final [`Store::flush`]: the reports of the last batch stay in the
/// store's open batch, and the caller flushes (the server commits several uploads at once). A
/// failure of that flush loses every report this summary calls ingested since its last
/// flush: the caller must treat them as not stored (the server answers 503, and the retried
/// upload stores them).
pub fn ingest_unflushed(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &Options<'_>,
    progress: &mut dyn FnMut(&FileOutcome),
) -> Summary {
    ingest_with(store, inputs, opts, progress, false)
}

/// [`ingest_unflushed`] of inputs whose runs the caller decided: `runs[i]` is the run key and
/// metadata of `inputs[i]` (no identity decision is made). What the server does with the
/// uploads waiting for one commit: each names its run, and one pipeline (one question about
/// stored reports, parsing one input ahead of the writes) serves them all.
pub fn ingest_runs_unflushed(
    store: &mut dyn Store,
    inputs: &[Input],
    runs: Vec<(RunKey, RunMeta)>,
    format: Option<Format>,
    source: flakehound_model::RunSource,
) -> Summary {
    let (hashes, _) = hash_all(inputs, &vec![false; inputs.len()], format);
    let (keys, metas) = runs.into_iter().unzip();
    let plan = identity::Plan {
        keys,
        metas,
        decision: Decision::default(),
    };
    let meta = RunMeta::default();
    let opts = Options {
        format,
        meta: &meta,
        local: None,
        run_per: RunPer::Auto,
        source,
    };
    pipeline(store, inputs, hashes, |_| plan, &opts, &mut |_| {}, false)
}

fn ingest_with(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &Options<'_>,
    progress: &mut dyn FnMut(&FileOutcome),
    final_flush: bool,
) -> Summary {
    let to_sample = identity::to_sample(inputs, opts.run_per, opts.meta);
    let (hashes, samples) = hash_all(inputs, &to_sample, opts.format);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // Decided on this thread while the parsers start (see `pipeline`).
    let plan = move |hashes: &[std::io::Result<String>]| {
        identity::plan(
            inputs,
            hashes,
            samples,
            opts.format,
            opts.run_per,
            opts.meta,
            opts.local,
            now,
        )
    };
    pipeline(store, inputs, hashes, plan, opts, progress, final_flush)
}

/// Parses (on parser threads) and writes the inputs not stored yet, in the runs `plan` decides.
/// Parsing needs only to know which inputs are stored; the run of each is needed from the first
/// write on, so `plan` runs on this thread once the parsers have started (the run identity
/// decision was 8 ms of a 240 ms ingest with the other core idle).
fn pipeline(
    store: &mut dyn Store,
    inputs: &[Input],
    hashes: Vec<std::io::Result<String>>,
    plan: impl FnOnce(&[std::io::Result<String>]) -> identity::Plan,
    opts: &Options<'_>,
    progress: &mut dyn FnMut(&FileOutcome),
    final_flush: bool,
) -> Summary {
    // Inputs worth parsing: readable and not stored yet, asked in one question (a store error
    // is reported later, by the file's own write).
    let readable: Vec<&str> = hashes
        .iter()
        .filter_map(|h| h.as_ref().ok().map(String::as_str))
        .collect();
    let mut stored = store
        .stored_reports(&readable)
        .unwrap_or_else(|_| vec![false; readable.len()])
        .into_iter();
    let todo: Vec<bool> = hashes
        .iter()
        .map(|h| h.is_ok() && !stored.next().unwrap_or(false))
        .collect();
    // Parser threads take the inputs to parse in turns (the first the 1st, 3rd, ... input, the
    // second the 2nd, 4th, ...), each through its own channel, which the writer (this thread)
    // reads in input order: reports are written in the same order as with one parser, while
    // one parser works ahead on the next report. Parsing costs more than writing (the parser
    // was the critical path, the writer waiting for it half of its time), so two parsers and
    // the writer keep two cores busy. One input (a single big report) uses one parser, and so
    // does a store whose writes a database server on this machine does (see `Store::parsers`).
    let parsers = store
        .parsers()
        .clamp(1, MAX_PARSERS)
        .min(todo.iter().filter(|go| **go).count())
        .max(1);
    let mut summary = Summary::default();
    std::thread::scope(|scope| {
        let mut rxs = Vec::with_capacity(parsers);
        for k in 0..parsers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Parsed>(IN_FLIGHT);
            // Records the store is done with come back to the thread that made them, to be
            // freed there (`Store::spent_records`): freeing another thread's allocations was 9%
            // of the SQLite writer's instructions, on the ingest's critical path.
            let (trash, spent) = std::sync::mpsc::channel::<Vec<TestCase>>();
            rxs.push(Lane { rx, trash });
            let todo = &todo;
            scope.spawn(move || {
                let spent = spent;
                let mine = inputs
                    .iter()
                    .zip(todo)
                    .filter(|(_, go)| **go)
                    .enumerate()
                    .filter(|(i, _)| i % parsers == k);
                for (_, (input, _)) in mine {
                    let mut chunk = Vec::with_capacity(CHUNK);
                    let mut sink = |case: TestCase| {
                        chunk.push(case);
                        if chunk.len() == CHUNK {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                            tx.send(Parsed::Cases(full))
                                .map_err(|_| ParseError::sink("ingest stopped"))?;
                        }
                        Ok(())
                    };
                    let result = match input {
                        Input::File(p) | Input::Spooled { path: p, .. } => {
                            flakehound_ingest::parse_file(p, opts.format, &mut sink)
                        }
                        Input::Bytes { bytes, parsed, .. } => {
                            match parsed.as_ref().and_then(Preparsed::take) {
                                Some((cases, result)) => {
                                    let mut result = result;
                                    for case in cases {
                                        if let Err(e) = sink(case) {
                                            result = Err(e);
                                            break;
                                        }
                                    }
                                    result
                                }
                                None => {
                                    flakehound_ingest::parse_bytes(bytes, opts.format, &mut sink)
                                }
                            }
                        }
                    };
                    if !chunk.is_empty() && tx.send(Parsed::Cases(chunk)).is_err() {
                        return;
                    }
                    if tx.send(Parsed::Done(result)).is_err() {
                        return;
                    }
                    // Freed here, as they arrive.
                    while spent.try_recv().is_ok() {}
                }
                // Until the writer hangs up, at the end of the ingest.
                drop(tx);
                for _records in spent {}
            });
        }
        let plan = plan(&hashes);
        // What the writes will be, for an engine that can use it (`Store::expect_reports`).
        let expected: Vec<(&str, &RunKey)> = hashes
            .iter()
            .zip(&todo)
            .zip(&plan.keys)
            .filter_map(|((h, go), key)| match h {
                Ok(h) if *go => Some((h.as_str(), key)),
                _ => None,
            })
            .collect();
        store.expect_reports(&expected);
        summary.decision = plan.decision.clone();
        write_all(
            store,
            inputs,
            hashes,
            &plan,
            &todo,
            opts,
            &rxs,
            progress,
            &mut summary,
            final_flush,
        );
    });
    store.expect_reports(&[]);
    summary
}

#[allow(clippy::too_many_arguments)]
fn write_all(
    store: &mut dyn Store,
    inputs: &[Input],
    hashes: Vec<std::io::Result<String>>,
    plan: &identity::Plan,
    todo: &[bool],
    opts: &Options<'_>,
    rxs: &[Lane],
    progress: &mut dyn FnMut(&FileOutcome),
    summary: &mut Summary,
    final_flush: bool,
) {
    // Files whose reports are committed to the open batch but not yet durable.
    let mut pending: Vec<usize> = Vec::new();
    let mut pending_results = 0;
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut parsed_so_far = 0usize;
    let runs = plan.keys.iter().zip(&plan.metas);
    for (((input, hash), (run_key, meta)), &parsed) in inputs.iter().zip(hashes).zip(runs).zip(todo)
    {
        let mut batch_lost = false;
        if !summary.runs.contains(&run_key.0) {
            summary.runs.push(run_key.0.clone());
        }
        let status = match hash {
            Err(e) => FileStatus::Rejected {
                reason: format!("cannot read: {e}"),
            },
            Ok(_) if !parsed => FileStatus::Duplicate,
            Ok(hash) => {
                let recheck = !seen.insert(hash.clone());
                // The parser of the n-th input to parse (see `pipeline`).
                let lane = &rxs[parsed_so_far % rxs.len()];
                parsed_so_far += 1;
                let job = Job {
                    recheck,
                    input,
                    hash: &hash,
                    run_key,
                    meta,
                    opts,
                    rx: &lane.rx,
                };
                let status = ingest_one(store, &job, summary, &mut batch_lost);
                let spent = store.spent_records();
                if !spent.is_empty() {
                    // A parser that has stopped no longer takes them: they are dropped here.
                    let _ = lane.trash.send(spent);
                }
                status
            }
        };
        if batch_lost {
            // The store rolled back every report since the last flush with this one.
            if let FileStatus::Rejected { reason } = &status {
                lose(summary, &mut pending, &reason.clone());
            }
            pending_results = 0;
        }
        if let FileStatus::Ingested { results, .. } = &status {
            pending.push(summary.files.len());
            pending_results += results;
        }
        let outcome = FileOutcome {
            name: input.name(),
            status,
        };
        progress(&outcome);
        summary.files.push(outcome);
        if pending_results >= FLUSH_RESULTS || store.flush_due() {
            flush(store, summary, &mut pending);
            pending_results = 0;
        }
    }
    if final_flush {
        flush(store, summary, &mut pending);
    }
}

struct Job<'a> {
    input: &'a Input,
    hash: &'a str,
    run_key: &'a RunKey,
    meta: &'a RunMeta,
    opts: &'a Options<'a>,
    rx: &'a Receiver<Parsed>,
    /// Whether the store must be asked again whether it holds the report: only when the same
    /// content came earlier in this ingest. Absent at the start and not seen since, it is still
    /// absent for this writer, and a concurrent ingest storing it meanwhile is found by the
    /// store's commit ([`flakehound_store::Written::duplicate`]). On PostgreSQL each question is
    /// a round trip: asking twice per file was two thirds of an ingest's round trips.
    recheck: bool,
}

impl Job<'_> {
    /// Receives the input's records, passing them to `add` until it fails; returns the parse
    /// result, or the first `add` error.
    fn receive(
        &self,
        add: &mut dyn FnMut(TestCase) -> Result<(), StoreError>,
    ) -> Result<ReportInfo, String> {
        let mut failed: Option<String> = None;
        loop {
            match self.rx.recv() {
                Ok(Parsed::Cases(cases)) => {
                    for case in cases {
                        if failed.is_none() {
                            if let Err(e) = add(case) {
                                failed = Some(e.to_string());
                            }
                        }
                    }
                }
                Ok(Parsed::Done(result)) => {
                    return match failed {
                        Some(e) => Err(e),
                        None => result.map_err(|e| e.to_string()),
                    };
                }
                Err(_) => return Err("internal error: the parser thread stopped".into()),
            }
        }
    }
}

/// Makes pending reports durable; if that fails, they are reported as rejected.
fn flush(store: &mut dyn Store, summary: &mut Summary, pending: &mut Vec<usize>) {
    if let Err(e) = store.flush() {
        lose(summary, pending, &format!("store commit failed: {e}"));
    }
    pending.clear();
}

/// Marks reports that were rolled back after being reported as ingested.
fn lose(summary: &mut Summary, pending: &mut Vec<usize>, reason: &str) {
    summary.store_failed = true;
    for &i in pending.iter() {
        if let FileStatus::Ingested {
            records, results, ..
        } = summary.files[i].status
        {
            summary.records -= records;
            summary.results -= results;
        }
        summary.files[i].status = FileStatus::Rejected {
            reason: reason.to_string(),
        };
    }
    pending.clear();
}

fn ingest_one(
    store: &mut dyn Store,
    job: &Job<'_>,
    summary: &mut Summary,
    batch_lost: &mut bool,
) -> FileStatus {
    let opts = job.opts;
    // The same content may appear twice in one ingest.
    let stored = if job.recheck {
        store.has_report(job.hash)
    } else {
        Ok(false)
    };
    if !matches!(stored, Ok(false)) {
        let _ = job.receive(&mut |_| Ok(()));
        return match stored {
            Err(e) => {
                summary.store_failed = true;
                FileStatus::Rejected {
                    reason: e.to_string(),
                }
            }
            _ => FileStatus::Duplicate,
        };
    }
    let name = job.input.name();
    let new = NewReport {
        hash: job.hash,
        path: Some(&name),
        format: opts.format,
        run_key: job.run_key,
        run: job.meta,
        source: opts.source.clone(),
    };
    let mut writer = match store.begin_report(&new) {
        Ok(w) => w,
        Err(e) => {
            let _ = job.receive(&mut |_| Ok(()));
            summary.store_failed = true;
            return FileStatus::Rejected {
                reason: e.to_string(),
            };
        }
    };
    let mut info = match job.receive(&mut |case| writer.add(case)) {
        Ok(info) => info,
        Err(reason) => return FileStatus::Rejected { reason },
    };
    info.timestamp = info
        .timestamp
        .as_deref()
        .and_then(flakehound_ci::normalize_timestamp);
    let format = info.format.or(opts.format).unwrap_or(Format::Junit);
    match writer.commit(&info) {
        // A concurrent ingest stored it first: stored is stored.
        Ok(w) if w.duplicate => FileStatus::Duplicate,
        Ok(w) => {
            summary.records += w.records;
            summary.results += w.results;
            summary.runs_created += u64::from(w.new_run);
            FileStatus::Ingested {
                format,
                records: w.records,
                results: w.results,
                new_run: w.new_run,
            }
        }
        Err(e @ StoreError::BatchLost(_)) => {
            *batch_lost = true;
            summary.store_failed = true;
            FileStatus::Rejected {
                reason: e.to_string(),
            }
        }
        Err(e) => {
            summary.store_failed = true;
            FileStatus::Rejected {
                reason: e.to_string(),
            }
        }
    }
}
