//! The `flakehound` command: parses flags, calls the library crates, prints.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use flakehound_evidence::{FileStatus, Input, Options};
use flakehound_model::{Format, RunMeta};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod detective;
mod hunt;
mod knowledge;
mod output;
mod run;

// Ingest allocates many small strings on the parser thread and frees them on the writer thread;
// glibc's malloc spent a quarter of all instructions there, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "flakehound",
    version,
    about = "Hunts flaky tests with evidence",
    max_term_width = 100
)]
struct Cli {
    /// Store location (SQLite file). Default: .flakehound/flakehound.db at the git root, or in the
    /// current directory outside git.
    #[arg(long, global = true, env = "FLAKEHOUND_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Parse reports without storing them; print counts per file.
    Parse {
        /// Report files (directories are searched recursively).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file per line.
        #[arg(long)]
        json: bool,
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
    },
    /// Store reports as evidence (files, directories searched recursively, `-` for stdin).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
        #[command(flatten)]
        meta: Box<MetaArgs>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Print only rejected files.
        #[arg(long, short, conflicts_with = "json")]
        quiet: bool,
    },
    /// Every non-stable test with its verdict, ranked by cost to the team.
    Report {
        #[arg(long)]
        json: bool,
        /// Show at most N tests.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Include stable tests.
        #[arg(long)]
        all: bool,
    },
    /// The verdict on a test (or every non-stable test): flaky or a real bug, with reasons.
    Classify {
        /// Test id as shown by `report`.
        #[arg(required_unless_present = "all")]
        test: Option<String>,
        /// Every non-stable test.
        #[arg(long, conflicts_with = "test")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// The evidence dossier of a test: timeline, message clusters, runners, hours, order.
    Explain {
        test: String,
        #[arg(long)]
        json: bool,
    },
    /// Infrastructure incidents: runs where many unrelated tests failed together.
    Incidents {
        #[arg(long)]
        json: bool,
    },
    /// Failure messages shared by several tests (one cause behind many failures).
    Clusters {
        #[arg(long)]
        json: bool,
    },
    /// Run a test command: retry only failed tests, record every attempt, fail the build only
    /// for real, non-quarantined failures.
    Run(Box<run::RunArgs>),
    /// Re-run a suite in many orders and fresh processes to find its flaky tests fast.
    Hunt(Box<hunt::HuntArgs>),
    /// Find the test whose earlier run makes an order-dependent victim fail (and its cleaners).
    Polluter(Box<detective::PolluterArgs>),
    /// Name a test's root cause by controlled experiments, with a reproduction.
    Diagnose(Box<detective::DiagnoseArgs>),
    /// Measure a test's failure rate under given conditions.
    Repro(Box<detective::ReproArgs>),
    /// After a fix: run until "p < target" holds, and compare with the stored rate before.
    Verify(Box<detective::VerifyArgs>),
    /// Merge other stores into this one (hunt shards, parallel CI jobs); idempotent.
    Merge {
        /// SQLite store files to merge in.
        #[arg(required = true)]
        stores: Vec<PathBuf>,
    },
    /// Manage .flakehound/quarantine.toml: tests that run but do not fail the build.
    Quarantine {
        /// Quarantine file. Default: .flakehound/quarantine.toml at the repository root.
        #[arg(
            long,
            global = true,
            env = "FLAKEHOUND_QUARANTINE",
            value_name = "PATH"
        )]
        file: Option<PathBuf>,
        #[command(subcommand)]
        cmd: knowledge::QuarantineCmd,
    },
    /// Record root-cause knowledge about a test (shown by `explain` and `report`).
    Note {
        test: String,
        /// Root-cause category (concurrency, order, time, randomness, network, ...).
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        text: String,
        #[arg(long)]
        link: Option<String>,
    },
    /// List the notes (of one test, or all), or remove one.
    Notes {
        test: Option<String>,
        /// Remove the note with this number.
        #[arg(long, value_name = "ID", conflicts_with = "test")]
        remove: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

/// Run metadata; each flag overrides what is detected from the CI environment and git.
#[derive(Args, Clone)]
struct MetaArgs {
    /// Commit sha the tests ran on.
    #[arg(long)]
    commit: Option<String>,
    #[arg(long)]
    branch: Option<String>,
    /// Runner / agent / host name.
    #[arg(long)]
    runner: Option<String>,
    /// CI job name.
    #[arg(long)]
    job: Option<String>,
    /// CI run (pipeline/workflow) id; reports with the same run id, attempt and job form one run.
    #[arg(long)]
    run_id: Option<String>,
    /// Re-run number of the whole CI job (1 = first execution).
    #[arg(long)]
    attempt: Option<u32>,
    /// Start time of the run (RFC 3339, or `YYYY-MM-DD HH:MM:SS` taken as UTC, or unix seconds).
    #[arg(long)]
    timestamp: Option<String>,
    /// CI provider name.
    #[arg(long)]
    provider: Option<String>,
    /// Link to the run.
    #[arg(long)]
    url: Option<String>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {s:?}; known: {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    match run(cli, color) {
        Ok(code) => code,
        // Output piped into `head` and closed: not an error of ours.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flakehound: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, color: bool) -> Result<ExitCode> {
    match cli.command {
        Command::Parse {
            files,
            json,
            format,
        } => cmd_parse(&files, json, format),
        Command::Ingest {
            paths,
            format,
            meta,
            json,
            quiet,
        } => {
            let db = db_path(cli.db)?;
            let style = if json {
                Style::Json
            } else if quiet {
                Style::Quiet
            } else {
                Style::Human
            };
            cmd_ingest(&db, &paths, format, *meta, style)
        }
        Command::Report { json, limit, all } => {
            let db = db_path(cli.db)?;
            cmd_report(&db, json, limit, all, color)
        }
        Command::Classify { test, all, json } => cmd_classify(&db_path(cli.db)?, test, all, json),
        Command::Explain { test, json } => cmd_explain(&db_path(cli.db)?, &test, json),
        Command::Incidents { json } => cmd_incidents(&db_path(cli.db)?, json),
        Command::Clusters { json } => cmd_clusters(&db_path(cli.db)?, json),
        Command::Run(args) => run::cmd_run(*args, cli.db, color),
        Command::Hunt(args) => hunt::cmd_hunt(*args, cli.db, color),
        Command::Polluter(args) => detective::cmd_polluter(*args, cli.db),
        Command::Diagnose(args) => detective::cmd_diagnose(*args, cli.db),
        Command::Repro(args) => detective::cmd_repro(*args, cli.db),
        Command::Verify(args) => detective::cmd_verify(*args, cli.db),
        Command::Merge { stores } => cmd_merge(&db_path(cli.db)?, &stores),
        Command::Quarantine { file, cmd } => {
            knowledge::cmd_quarantine(cmd, &knowledge::quarantine_path(file)?, &db_path(cli.db)?)
        }
        Command::Note {
            test,
            category,
            text,
            link,
        } => knowledge::cmd_note(&db_path(cli.db)?, test, category, text, link),
        Command::Notes { test, remove, json } => {
            knowledge::cmd_notes(&db_path(cli.db)?, test, remove, json)
        }
    }
}

fn db_path(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let root = flakehound_ci::git_root(&cwd).unwrap_or(cwd);
    Ok(root.join(".flakehound").join("flakehound.db"))
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn cmd_parse(files: &[PathBuf], json: bool, format: Option<Format>) -> Result<ExitCode> {
    let (inputs, missing) = flakehound_evidence::discover(files);
    if inputs.is_empty() && missing.is_empty() {
        bail!("no report files found in {}", show_paths(files));
    }
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    // Once the reader is gone (`parse … | head -1`), output stops but every file is still
    // parsed: the exit status must say whether one was rejected, printed or not.
    let mut closed = false;
    let emit = |line: std::io::Result<()>, closed: &mut bool| -> Result<()> {
        match line {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                *closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    };
    for (name, reason) in &missing {
        failed = true;
        if !closed {
            emit(
                output::parse_line(&mut out, json, name, Err(reason)),
                &mut closed,
            )?;
        }
    }
    for input in &inputs {
        let Input::File(path) = input else { continue };
        let name = path.display().to_string();
        let line = match flakehound_ingest::count_file(path, format) {
            Ok((info, counts)) => {
                let format = info.format.map_or("unknown", |f| f.as_str());
                (!closed).then(|| output::parse_line(&mut out, json, &name, Ok((format, counts))))
            }
            Err(e) => {
                failed = true;
                (!closed).then(|| output::parse_line(&mut out, json, &name, Err(&e.to_string())))
            }
        };
        if let Some(line) = line {
            emit(line, &mut closed)?;
        }
    }
    if !closed {
        emit(out.flush(), &mut closed)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_meta_ref(args: &MetaArgs) -> Result<RunMeta> {
    let args = args.clone();
    let timestamp =
        match args.timestamp {
            Some(raw) => Some(flakehound_ci::normalize_timestamp(&raw).with_context(|| {
                format!("--timestamp {raw:?} is not a date-time (use RFC 3339)")
            })?),
            None => None,
        };
    let mut meta = RunMeta {
        commit: args.commit,
        branch: args.branch,
        provider: args.provider,
        job: args.job,
        run_id: args.run_id,
        run_attempt: args.attempt,
        runner: args.runner,
        started_at: timestamp,
        url: args.url,
        ..Default::default()
    };
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    meta.fill_from(&flakehound_ci::detect(&cwd));
    Ok(meta)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Human,
    Json,
    Quiet,
}

fn cmd_ingest(
    db: &Path,
    paths: &[PathBuf],
    format: Option<Format>,
    meta: MetaArgs,
    style: Style,
) -> Result<ExitCode> {
    let meta = run_meta_ref(&meta)?;
    // Inputs keep the order given (it numbers attempts within a run); `-` is standard input.
    let mut inputs = Vec::new();
    let mut missing = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            inputs.push(Input::Bytes {
                name: "<stdin>".into(),
                bytes,
            });
        } else {
            let (found, not_found) = flakehound_evidence::discover(std::slice::from_ref(path));
            inputs.extend(found);
            missing.extend(not_found);
        }
    }
    if inputs.is_empty() && missing.is_empty() {
        bail!("no report files found in {}", show_paths(paths));
    }
    let mut store = flakehound_store::open(db)?;
    let opts = Options {
        format,
        meta: &meta,
        source: "ci",
    };
    let mut summary = flakehound_evidence::ingest(store.as_mut(), &inputs, &opts, &mut |_| {});
    for (name, reason) in missing {
        summary.files.push(flakehound_evidence::FileOutcome {
            name,
            status: FileStatus::Rejected { reason },
        });
    }
    let mut out = std::io::stdout().lock();
    match style {
        Style::Json => output::ingest_json(&mut out, &summary, db)?,
        Style::Human => output::ingest_summary(&mut out, &summary, &meta, db, &store.totals()?)?,
        Style::Quiet => output::rejected(&mut std::io::stderr().lock(), &summary)?,
    }
    let rejected = summary.count(|s| matches!(s, FileStatus::Rejected { .. }));
    Ok(if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Opens an existing store (analysis commands never create one).
fn open_existing(db: &Path) -> Result<Box<dyn flakehound_store::Store>> {
    if !db.exists() {
        bail!(
            "no store at {}; run `flakehound ingest` first",
            db.display()
        );
    }
    Ok(flakehound_store::open(db)?)
}

fn analyse(db: &Path, include_stable: bool) -> Result<flakehound_analysis::Report> {
    let mut store = open_existing(db)?;
    Ok(flakehound_analysis::report_from_store(
        store.as_mut(),
        include_stable,
    )?)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn cmd_report(
    db: &Path,
    json: bool,
    limit: Option<usize>,
    all: bool,
    color: bool,
) -> Result<ExitCode> {
    let mut report = analyse(db, all)?;
    let total = report.entries.len();
    if let Some(n) = limit {
        report.entries.truncate(n);
    }
    attach_owners(&mut report.entries);
    if json {
        print_json(&report.entries)?;
    } else {
        output::report_table(&mut std::io::stdout().lock(), &report, total, color)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_classify(db: &Path, test: Option<String>, all: bool, json: bool) -> Result<ExitCode> {
    let entries = analyse(db, !all)?.entries;
    let chosen: Vec<_> = match &test {
        Some(id) => {
            let found: Vec<_> = entries.into_iter().filter(|e| &e.ranked.id == id).collect();
            if found.is_empty() {
                bail!("no test {id:?} in the store (ids are listed by `flakehound report --all`)");
            }
            found
        }
        None => entries,
    };
    let mut chosen = chosen;
    attach_owners(&mut chosen);
    if json {
        print_json(&chosen)?;
    } else {
        let mut out = std::io::stdout().lock();
        for (i, e) in chosen.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            output::verdict_block(&mut out, e)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_explain(db: &Path, test: &str, json: bool) -> Result<ExitCode> {
    let mut store = open_existing(db)?;
    let stats = store.test_stats()?;
    let ev = store.evidence()?;
    let Some(dossier) = flakehound_analysis::verdict::dossier(&ev, test) else {
        bail!("no test {test:?} in the store (ids are listed by `flakehound report --all`)");
    };
    let mut entries = flakehound_analysis::report(stats, &ev, true).entries;
    entries.retain(|e| e.ranked.id == test);
    flakehound_analysis::attach_notes(&mut entries, store.notes(Some(test))?);
    attach_owners(&mut entries);
    let entry = entries.pop();
    if json {
        print_json(&serde_json::json!({ "verdict": entry, "dossier": dossier }))?;
    } else {
        let mut out = std::io::stdout().lock();
        if let Some(e) = &entry {
            output::verdict_block(&mut out, e)?;
            writeln!(out)?;
        }
        output::dossier(&mut out, &dossier)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_merge(db: &Path, stores: &[PathBuf]) -> Result<ExitCode> {
    let mut store = flakehound_store::SqliteStore::open(db)?;
    let mut failed = false;
    for src in stores {
        match store.merge_from(src) {
            Ok(m) => println!(
                "{}: {} reports merged ({} new runs, {} results), {} already present",
                src.display(),
                m.reports,
                m.runs,
                m.results,
                m.skipped
            ),
            Err(e) => {
                failed = true;
                eprintln!("{}: error: {e}", src.display());
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Fills in the owners of the entries (CODEOWNERS, else git blame of the test's file).
fn attach_owners(entries: &mut [flakehound_analysis::ReportEntry]) {
    let Ok(root) = knowledge::repo_root() else {
        return;
    };
    let owners = knowledge::Owners::load(&root);
    for e in entries {
        e.owners = owners.of(&e.ranked.id, e.ranked.file.as_deref());
    }
}

fn cmd_incidents(db: &Path, json: bool) -> Result<ExitCode> {
    let incidents = analyse(db, false)?.incidents;
    if json {
        print_json(&incidents)?;
    } else {
        output::incidents(&mut std::io::stdout().lock(), &incidents)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_clusters(db: &Path, json: bool) -> Result<ExitCode> {
    let clusters = analyse(db, false)?.shared_clusters;
    if json {
        print_json(&clusters)?;
    } else {
        output::shared_clusters(&mut std::io::stdout().lock(), &clusters)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
