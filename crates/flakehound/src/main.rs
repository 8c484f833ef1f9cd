//! The `flakehound` command: parses flags, calls the library crates, prints.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use context::Context;
use flakehound_evidence::{FileStatus, Input, Options, RunPer};
use flakehound_model::{Format, RunMeta, exit};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod alerts;
mod bisect;
mod context;
mod dashboard;
mod detective;
mod events;
mod hunt;
mod import;
mod knowledge;
mod lint;
mod output;
mod run;
mod team;

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
    /// Store location, for the commands that use a store (they also take `--db` after their
    /// name): a SQLite file path (or `sqlite://PATH`), or a PostgreSQL URL
    /// (`postgres://user@host/db`). Default: .flakehound/flakehound.db at the git root, or in
    /// the current directory outside git.
    #[arg(long, env = "FLAKEHOUND_DB", value_name = "LOCATION")]
    db: Option<String>,
    /// Project whose evidence to read and write, for the commands that use a store (they also
    /// take `--project` after their name). Default: the git remote as host/owner/name, else the
    /// repository's directory name; a store holding one project uses that one.
    #[arg(long, env = "FLAKEHOUND_PROJECT", value_name = "NAME")]
    project: Option<String>,
    /// When to colour output (report, run, hunt; they also take `--color` after their name).
    /// Default: auto (a terminal, and NO_COLOR unset).
    #[arg(long, value_enum, value_name = "WHEN")]
    color: Option<ColorChoice>,
    #[command(subcommand)]
    command: Command,
}

/// `--server`: read from a flakehound server instead of the local store.
#[derive(Args, Clone, Default)]
struct RemoteOpt {
    /// Read from a flakehound server (`flakehound serve`) instead of the local store; the token
    /// (read scope) comes from --token or FLAKEHOUND_TOKEN.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The server's token (read scope).
    #[arg(
        long,
        env = "FLAKEHOUND_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    token: Option<String>,
}

impl RemoteOpt {
    fn server(&self) -> Result<Option<flakehound_client::Server>> {
        match (&self.server, &self.token) {
            (None, _) => Ok(None),
            (Some(_), None) => bail!("--server needs a token: --token or FLAKEHOUND_TOKEN"),
            (Some(url), Some(token)) => Ok(Some(flakehound_client::Server::new(url, token))),
        }
    }
}

/// `--db` and `--project` after a command's name, on the commands that use a store (the flags
/// before the name, and `FLAKEHOUND_DB`/`FLAKEHOUND_PROJECT`, are [`Cli::db`] and
/// [`Cli::project`]; these win over both).
#[derive(Args, Clone, Default)]
struct StoreOpt {
    /// Store location: a SQLite file path (or `sqlite://PATH`), or a PostgreSQL URL
    /// (`postgres://user@host/db`). Default: FLAKEHOUND_DB, else .flakehound/flakehound.db at
    /// the git root, or in the current directory outside git.
    #[arg(long, value_name = "LOCATION")]
    db: Option<String>,
    /// Project whose evidence to read and write. Default: FLAKEHOUND_PROJECT, else the git
    /// remote as host/owner/name, else the repository's directory name; a store holding one
    /// project uses that one.
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
}

/// `--color` after a command's name, on the commands that colour their output.
#[derive(Args, Clone, Copy, Default)]
struct ColorOpt {
    /// When to colour output: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, value_name = "WHEN")]
    color: Option<ColorChoice>,
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
        /// Report format, when detection from content should be overridden.
        #[arg(long, short = 'f', value_parser = parse_format)]
        format: Option<Format>,
    },
    /// Store reports as evidence (files, directories searched recursively, `-` for stdin).
    Ingest {
        /// Report files, directories (searched recursively), or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Report format, when detection from content should be overridden.
        #[arg(long, short = 'f', value_parser = parse_format)]
        format: Option<Format>,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        meta: Box<MetaArgs>,
        /// How reports form runs: `auto` decides from CI metadata, file names (attempt-N,
        /// rerun) and content (a report with the same tests again is another run); `file`, `dir`
        /// or `one` force one run per file, per directory, or one run for all.
        #[arg(long, value_enum, default_value_t = RunPerArg::Auto, value_name = "HOW")]
        run_per: RunPerArg,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Print only rejected files.
        #[arg(long, short, conflicts_with = "json")]
        quiet: bool,
    },
    /// Every non-stable test with its verdict, ranked by cost to the team.
    Report {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Show at most N tests.
        #[arg(long, short = 'n', value_name = "N")]
        limit: Option<usize>,
        /// Include stable and never-run tests.
        #[arg(long)]
        all: bool,
        /// Exit 1 when a test has one of these verdicts (comma-separated): flaky, broken,
        /// regression, fixed, infra, not-run, or `unstable` for the first five. For scheduled
        /// jobs; the tests are named on stderr.
        #[arg(long, value_delimiter = ',', value_enum, value_name = "VERDICTS")]
        fail_on: Vec<FailOnVerdict>,
        /// Only the job-level report from imported CI history (`flakehound import`): jobs that
        /// failed then passed on the same commit, tests ranked by the re-runs they caused, and
        /// the CI minutes and re-runs per week lost (with `--json`, as JSON).
        #[arg(long, conflicts_with_all = ["all", "fail_on", "limit"])]
        jobs: bool,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        remote: RemoteOpt,
        #[command(flatten)]
        color: ColorOpt,
    },
    /// The verdict on a test (or every non-stable test): flaky or a real bug, with reasons.
    Classify {
        /// Test id as shown by `report`.
        #[arg(required_unless_present = "all")]
        test: Option<String>,
        /// Every non-stable test.
        #[arg(long, conflicts_with = "test")]
        all: bool,
        /// Print the verdicts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        remote: RemoteOpt,
    },
    /// The evidence dossier of a test: timeline, message clusters, runners, hours, order.
    Explain {
        /// Test id as shown by `report`.
        test: String,
        /// Print the dossier as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        remote: RemoteOpt,
    },
    /// Infrastructure incidents: runs where many unrelated tests failed together.
    Incidents {
        /// Print the incidents as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        remote: RemoteOpt,
    },
    /// Failure messages shared by several tests (one cause behind many failures).
    Clusters {
        /// Print the clusters as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        remote: RemoteOpt,
    },
    /// Run a test command: retry only failed tests, record every attempt, fail the build only
    /// for real, non-quarantined failures.
    Run {
        #[command(flatten)]
        args: Box<run::RunArgs>,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        color: ColorOpt,
    },
    /// Re-run a suite in many orders and fresh processes to find its flaky tests fast.
    Hunt {
        #[command(flatten)]
        args: Box<hunt::HuntArgs>,
        #[command(flatten)]
        store: StoreOpt,
        #[command(flatten)]
        color: ColorOpt,
    },
    /// Find the test whose earlier run makes an order-dependent victim fail (and its cleaners).
    Polluter {
        #[command(flatten)]
        args: Box<detective::PolluterArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Name a test's root cause by controlled experiments, with a reproduction.
    Diagnose {
        #[command(flatten)]
        args: Box<detective::DiagnoseArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Measure a test's failure rate under given conditions.
    Repro {
        #[command(flatten)]
        args: Box<detective::ReproArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// After a fix: run until "p < target" holds, and compare with the stored rate before.
    Verify {
        #[command(flatten)]
        args: Box<detective::VerifyArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Find the commit that made a test flaky or broken: a flake-aware bisection in worktrees.
    Bisect {
        #[command(flatten)]
        args: Box<bisect::BisectArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Merge other stores into this one (hunt shards, parallel CI jobs); idempotent.
    Merge {
        /// Stores to merge in: SQLite files or `postgres://` URLs (every project of each).
        #[arg(required = true)]
        stores: Vec<PathBuf>,
        #[command(flatten)]
        store: StoreOpt,
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
        /// Store location, for `add` (owners) and `sync` (verdicts): a SQLite file path or a
        /// PostgreSQL URL. Default: FLAKEHOUND_DB, else .flakehound/flakehound.db at the git
        /// root.
        #[arg(long, global = true, value_name = "LOCATION")]
        db: Option<String>,
        /// Project whose evidence `add` and `sync` read. Default: FLAKEHOUND_PROJECT, else
        /// derived from the git remote.
        #[arg(long, global = true, value_name = "NAME")]
        project: Option<String>,
        #[command(subcommand)]
        cmd: knowledge::QuarantineCmd,
    },
    /// Record root-cause knowledge about a test (shown by `explain` and `report`).
    Note {
        /// Test id as shown by `report`.
        test: String,
        /// Root-cause category (concurrency, order, time, randomness, network, ...).
        #[arg(long, short = 'c')]
        category: Option<String>,
        /// What was found (the note itself).
        #[arg(long, short = 't')]
        text: String,
        /// A link to the issue, pull request or fix.
        #[arg(long, short = 'l')]
        link: Option<String>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Run the team server: CI uploads reports with tokens into one shared store, and the
    /// API serves the verdicts (see the README's Team server section).
    Serve(team::ServeArgs),
    /// Browse the local store's verdicts, timelines and incidents in a browser (prints the
    /// URL; the team server serves the same pages at `/`).
    Dashboard {
        #[command(flatten)]
        args: dashboard::DashboardArgs,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Alerts and digests: evaluate the monitors and notify (check), try the channels (test),
    /// mute, and the delivery log (see the README's Alerts section).
    Alerts(alerts::AlertsArgs),
    /// Manage the server's projects and tokens, directly in its database.
    Server {
        /// The server's store: a PostgreSQL URL or a SQLite file (as `serve --database`).
        #[arg(long, global = true, env = "FLAKEHOUND_DATABASE", value_name = "URL")]
        database: Option<String>,
        #[command(subcommand)]
        cmd: team::ServerCmd,
    },
    /// Upload reports to a flakehound server (CI metadata detected as `ingest` does). A server
    /// that is down never fails the step: the files are spooled and sent by a later `upload`.
    Upload {
        #[command(flatten)]
        args: team::UploadArgs,
        #[command(flatten)]
        meta: MetaArgs,
    },
    /// Static scan of test code for the causes of flaky tests (sleeps, unseeded random, clock
    /// reads, real network, fixed temp paths, set order, shared module state, ...).
    /// Import CI history (GitHub Actions, GitLab): runs, re-runs, jobs and the reports in
    /// their artifacts, so that `report` ranks flaky tests and jobs from the history you have.
    Import {
        #[command(subcommand)]
        cmd: import::ImportCmd,
    },
    Lint {
        #[command(flatten)]
        args: Box<lint::LintArgs>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// List the notes (of one test, or all), or remove one.
    Notes {
        /// Only the notes of this test (id as shown by `report`).
        test: Option<String>,
        /// Remove the note with this number.
        #[arg(long, value_name = "ID", conflicts_with = "test")]
        remove: Option<i64>,
        /// Print the notes as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreOpt,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum RunPerArg {
    Auto,
    File,
    Dir,
    One,
}

/// Run metadata; each flag overrides what is detected from the CI environment and git.
#[derive(Args, Clone)]
struct MetaArgs {
    /// Commit sha the tests ran on.
    #[arg(long)]
    commit: Option<String>,
    /// Branch the tests ran on.
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
    flakehound_store::install(&flakehound_store_sqlite::BACKEND);
    flakehound_store::install(&flakehound_store_postgres::BACKEND);
    match run(cli) {
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
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Whether to colour: the command's own `--color`, else the one before its name, else auto.
fn colour(top: Option<ColorChoice>, own: ColorOpt) -> bool {
    match own.color.or(top).unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

impl Command {
    /// The command's own `--db`/`--project` and `--color` (defaults where it has none).
    fn own_options(&self) -> (StoreOpt, ColorOpt) {
        let none = ColorOpt::default();
        match self {
            Command::Parse { .. }
            | Command::Serve(_)
            | Command::Server { .. }
            | Command::Upload { .. } => (StoreOpt::default(), none),
            Command::Report { store, color, .. }
            | Command::Run { store, color, .. }
            | Command::Hunt { store, color, .. } => (store.clone(), *color),
            Command::Ingest { store, .. }
            | Command::Classify { store, .. }
            | Command::Explain { store, .. }
            | Command::Incidents { store, .. }
            | Command::Clusters { store, .. }
            | Command::Polluter { store, .. }
            | Command::Diagnose { store, .. }
            | Command::Repro { store, .. }
            | Command::Verify { store, .. }
            | Command::Bisect { store, .. }
            | Command::Merge { store, .. }
            | Command::Note { store, .. }
            | Command::Lint { store, .. }
            | Command::Dashboard { store, .. }
            | Command::Notes { store, .. } => (store.clone(), none),
            Command::Alerts(a) => (
                StoreOpt {
                    db: a.db.clone(),
                    project: a.project.clone(),
                },
                none,
            ),
            Command::Import { cmd } => (cmd.store(), none),
            Command::Quarantine { db, project, .. } => (
                StoreOpt {
                    db: db.clone(),
                    project: project.clone(),
                },
                none,
            ),
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Parse {
        files,
        json,
        format,
    } = &cli.command
    {
        return cmd_parse(files, *json, *format);
    }
    // The team commands use the server's store or none, not the local evidence.
    let cli = match cli.command {
        Command::Serve(args) => return team::cmd_serve(args),
        Command::Server { database, cmd } => return team::cmd_server(database.as_deref(), cmd),
        Command::Upload { args, meta } => {
            let mut meta = run_meta_ref(&meta)?;
            meta.fill_from(&flakehound_ci::from_process_env());
            let cwd = std::env::current_dir().context("cannot determine the current directory")?;
            let root = flakehound_ci::git_root(&cwd).unwrap_or(cwd);
            let spool = root.join(flakehound_store::DIR_NAME).join("spool");
            return team::cmd_upload(args, meta, spool, &root);
        }
        command => Cli { command, ..cli },
    };
    // Resolved once: `--db`/`--project` after the command's name win over the ones before it
    // (or FLAKEHOUND_DB / FLAKEHOUND_PROJECT).
    let (store, color) = cli.command.own_options();
    let ctx = Context::resolve(
        store.db.or(cli.db),
        store.project.or(cli.project),
        colour(cli.color, color),
    )?;
    match cli.command {
        Command::Parse { .. }
        | Command::Serve(_)
        | Command::Server { .. }
        | Command::Upload { .. } => unreachable!("handled above"),
        Command::Ingest {
            paths,
            format,
            meta,
            run_per,
            json,
            quiet,
            store: _,
        } => {
            let style = if json {
                Style::Json
            } else if quiet {
                Style::Quiet
            } else {
                Style::Human
            };
            let run_per = match run_per {
                RunPerArg::Auto => RunPer::Auto,
                RunPerArg::File => RunPer::File,
                RunPerArg::Dir => RunPer::Dir,
                RunPerArg::One => RunPer::One,
            };
            cmd_ingest(&ctx, &paths, format, *meta, run_per, style)
        }
        Command::Report {
            json, jobs: true, ..
        } => import::cmd_report_jobs(&ctx, json),
        Command::Report {
            json,
            limit,
            all,
            fail_on,
            remote,
            ..
        } => cmd_report(&ctx, remote.server()?.as_ref(), json, limit, all, &fail_on),
        Command::Classify {
            test,
            all,
            json,
            remote,
            ..
        } => cmd_classify(&ctx, remote.server()?.as_ref(), test, all, json),
        Command::Explain {
            test, json, remote, ..
        } => cmd_explain(&ctx, remote.server()?.as_ref(), &test, json),
        Command::Incidents { json, remote, .. } => {
            cmd_incidents(&ctx, remote.server()?.as_ref(), json)
        }
        Command::Clusters { json, remote, .. } => {
            cmd_clusters(&ctx, remote.server()?.as_ref(), json)
        }
        Command::Run { args, .. } => run::cmd_run(&ctx, *args),
        Command::Hunt { args, .. } => hunt::cmd_hunt(&ctx, *args),
        Command::Polluter { args, .. } => detective::cmd_polluter(&ctx, *args),
        Command::Diagnose { args, .. } => detective::cmd_diagnose(&ctx, *args),
        Command::Repro { args, .. } => detective::cmd_repro(&ctx, *args),
        Command::Verify { args, .. } => detective::cmd_verify(&ctx, *args),
        Command::Bisect { args, .. } => bisect::cmd_bisect(&ctx, *args),
        Command::Merge { stores, .. } => cmd_merge(&ctx, &stores),
        Command::Quarantine { file, cmd, .. } => {
            let file =
                file.unwrap_or_else(|| ctx.root.join(flakehound_quarantine::QUARANTINE_FILE));
            knowledge::cmd_quarantine(&ctx, cmd, &file)
        }
        Command::Note {
            test,
            category,
            text,
            link,
            ..
        } => knowledge::cmd_note(&ctx, test, category, text, link),
        Command::Notes {
            test, remove, json, ..
        } => knowledge::cmd_notes(&ctx, test, remove, json),
        Command::Lint { args, .. } => lint::cmd_lint(&ctx, *args),
        Command::Dashboard { args, .. } => dashboard::cmd_dashboard(&ctx, args),
        Command::Alerts(args) => alerts::cmd_alerts(&ctx, args),
        Command::Import { cmd } => import::cmd_import(&ctx, cmd),
    }
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
        let line = match flakehound_ingest::count_file_retries(path, format) {
            Ok((info, counts, retries)) => {
                let format = info.format.map_or("unknown", |f| f.as_str());
                (!closed).then(|| {
                    output::parse_line(&mut out, json, &name, Ok((format, counts, retries)))
                })
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
    Ok(ExitCode::from(if failed {
        exit::FINDINGS
    } else {
        exit::OK
    }))
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
    // A provider named by flags only: the run id, attempt and job come from the flags too.
    if meta.provider.is_none() && meta.run_id.is_some() {
        meta.provider = flakehound_ci::from_process_env().provider;
    }
    Ok(meta)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Human,
    Json,
    Quiet,
}

fn cmd_ingest(
    ctx: &Context,
    paths: &[PathBuf],
    format: Option<Format>,
    meta: MetaArgs,
    run_per: RunPer,
    style: Style,
) -> Result<ExitCode> {
    let meta = run_meta_ref(&meta)?;
    if meta.run_id.is_some() && matches!(run_per, RunPer::File | RunPer::Dir) {
        bail!("--run-id names one run; it cannot be combined with --run-per file or dir");
    }
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let local = flakehound_ci::surroundings(&cwd);
    // Inputs keep the order given (it numbers attempts within a run); `-` is standard input.
    let gathered = flakehound_evidence::gather(paths)?;
    let (inputs, missing) = (&gathered.inputs, gathered.missing.clone());
    if inputs.is_empty() && missing.is_empty() {
        bail!("no report files found in {}", show_paths(paths));
    }
    if inputs.is_empty() {
        // Nothing to store: no store is created, and nothing claims an ingest.
        let summary = flakehound_evidence::Summary {
            files: missing
                .into_iter()
                .map(|(name, reason)| flakehound_evidence::FileOutcome {
                    name,
                    status: FileStatus::Rejected { reason },
                })
                .collect(),
            ..Default::default()
        };
        match style {
            Style::Json => {
                output::ingest_json(&mut std::io::stdout().lock(), &summary, &ctx.location)?
            }
            _ => output::rejected(&mut std::io::stderr().lock(), &summary)?,
        }
        return Ok(ExitCode::from(exit::FINDINGS));
    }
    let mut store = ctx.open()?;
    let opts = Options {
        format,
        meta: &meta,
        local: Some(&local),
        run_per,
        source: flakehound_model::RunSource::Ci,
    };
    let mut summary = flakehound_evidence::ingest(store.as_mut(), inputs, &opts, &mut |_| {});
    drop(gathered);
    for (name, reason) in missing {
        summary.files.push(flakehound_evidence::FileOutcome {
            name,
            status: FileStatus::Rejected { reason },
        });
    }
    let mut out = std::io::stdout().lock();
    match style {
        Style::Json => output::ingest_json(&mut out, &summary, &ctx.location)?,
        Style::Human => {
            output::ingest_summary(&mut out, &summary, &ctx.location, &store.totals()?)?
        }
        Style::Quiet => output::rejected(&mut std::io::stderr().lock(), &summary)?,
    }
    let rejected = summary.count(|s| matches!(s, FileStatus::Rejected { .. }));
    Ok(ExitCode::from(if rejected > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    }))
}

/// Opens the existing store (analysis commands never create one).
fn open_existing(ctx: &Context) -> Result<Box<dyn flakehound_store::Store>> {
    if !ctx.exists() {
        bail!(
            "no store at {}; run `flakehound ingest` first",
            ctx.location
        );
    }
    // Read-only when it cannot be written (a read-only mount, another user's store).
    ctx.open_existing()
}

fn analyse(
    store: &mut dyn flakehound_store::Store,
    include_stable: bool,
) -> Result<flakehound_analysis::Report> {
    Ok(flakehound_analysis::report_from_store(
        store,
        include_stable,
    )?)
}

/// A server's answer at `path`, read as `T`.
fn remote_get<T: serde::de::DeserializeOwned>(
    server: &flakehound_client::Server,
    path: &str,
) -> Result<T> {
    let body = server.get(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    serde_json::from_value(body).with_context(|| {
        format!(
            "{}{path} answered what this flakehound cannot read",
            server.url
        )
    })
}

/// The server's report of every test, with its incidents and shared clusters.
fn remote_report(server: &flakehound_client::Server) -> Result<flakehound_analysis::Report> {
    Ok(flakehound_analysis::Report {
        entries: remote_get(server, "/api/v1/report?all=true")?,
        incidents: remote_get(server, "/api/v1/incidents")?,
        shared_clusters: remote_get(server, "/api/v1/clusters")?,
    })
}

/// A test id as one path segment's worth of the API's `{id}` (which may hold `/`).
fn encode_path(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Verdicts `report --fail-on` accepts.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOnVerdict {
    Flaky,
    Broken,
    Regression,
    Fixed,
    Infra,
    NotRun,
    /// flaky, broken, regression, fixed or infra.
    Unstable,
}

impl FailOnVerdict {
    fn matches(self, v: flakehound_analysis::verdict::Verdict) -> bool {
        use flakehound_analysis::verdict::Verdict;
        match self {
            FailOnVerdict::Flaky => v == Verdict::Flaky,
            FailOnVerdict::Broken => v == Verdict::Broken,
            FailOnVerdict::Regression => v == Verdict::Regression,
            FailOnVerdict::Fixed => v == Verdict::Fixed,
            FailOnVerdict::Infra => v == Verdict::Infra,
            FailOnVerdict::NotRun => v == Verdict::NotRun,
            FailOnVerdict::Unstable => v.is_unstable(),
        }
    }
}

fn cmd_report(
    ctx: &Context,
    server: Option<&flakehound_client::Server>,
    json: bool,
    limit: Option<usize>,
    all: bool,
    fail_on: &[FailOnVerdict],
) -> Result<ExitCode> {
    // Never-run tests are found only by reading every test.
    let wants_not_run = fail_on.contains(&FailOnVerdict::NotRun);
    let (mut report, tests) = match server {
        // Every test (the count of tests, and `--fail-on not-run`), from the server's cache.
        Some(server) => {
            let report = remote_report(server)?;
            let tests = report.entries.len() as u64;
            (report, tests)
        }
        None => {
            let mut store = open_existing(ctx)?;
            let report = analyse(store.as_mut(), all || wants_not_run)?;
            (report, store.totals()?.tests)
        }
    };
    // `--fail-on` judges every test, not only the `--limit` shown.
    let matched: Vec<(String, flakehound_analysis::verdict::Verdict)> = report
        .entries
        .iter()
        .filter(|e| fail_on.iter().any(|f| f.matches(e.verdict)))
        .map(|e| (e.ranked.id.clone(), e.verdict))
        .collect();
    if !all {
        report.entries.retain(|e| e.verdict.is_unstable());
    }
    let count = |v: flakehound_analysis::verdict::Verdict| {
        report.entries.iter().filter(|e| e.verdict == v).count()
    };
    let counts = output::ReportCounts {
        tests,
        unstable: report
            .entries
            .iter()
            .filter(|e| e.verdict.is_unstable())
            .count(),
        stable: all.then(|| count(flakehound_analysis::verdict::Verdict::Stable)),
        not_run: all.then(|| count(flakehound_analysis::verdict::Verdict::NotRun)),
    };
    if let Some(n) = limit {
        report.entries.truncate(n);
    }
    attach_owners(ctx, &mut report.entries);
    if json {
        // Flaky tests carry the static scan's findings inside them (`lint_findings`).
        print_json(&lint::attach(ctx, &report.entries))?;
    } else {
        // Printed commands carry `--db`/`--project` when not the default ones.
        output::report_table(
            &mut std::io::stdout().lock(),
            &report,
            &counts,
            ctx.color,
            &match server {
                Some(server) => output::Hint {
                    before: context::self_command(),
                    after: format!(" --server {}", flakehound_runner::shell_quote(&server.url)),
                },
                None => output::Hint {
                    before: ctx.hint_prefix(),
                    after: String::new(),
                },
            },
        )?;
        if server.is_none() {
            import::jobs_section(ctx, &mut std::io::stdout().lock())?;
        }
    }
    if !matched.is_empty() {
        eprintln!(
            "flakehound report: --fail-on matched {} test{}:",
            matched.len(),
            if matched.len() == 1 { "" } else { "s" }
        );
        for (id, v) in &matched {
            eprintln!("  {id} ({v})");
        }
        return Ok(ExitCode::from(exit::FINDINGS));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_classify(
    ctx: &Context,
    server: Option<&flakehound_client::Server>,
    test: Option<String>,
    all: bool,
    json: bool,
) -> Result<ExitCode> {
    let entries: Vec<flakehound_analysis::ReportEntry> = match server {
        Some(server) => {
            let every: Vec<flakehound_analysis::ReportEntry> =
                remote_get(server, "/api/v1/report?all=true")?;
            if all {
                every
                    .into_iter()
                    .filter(|e| e.verdict.is_unstable())
                    .collect()
            } else {
                every
            }
        }
        None => analyse(open_existing(ctx)?.as_mut(), !all)?.entries,
    };
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
    attach_owners(ctx, &mut chosen);
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

fn cmd_explain(
    ctx: &Context,
    server: Option<&flakehound_client::Server>,
    test: &str,
    json: bool,
) -> Result<ExitCode> {
    if let Some(server) = server {
        let body = server
            .get(&format!("/api/v1/tests/{}", encode_path(test)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if json {
            print_json(&body)?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut entry: Option<flakehound_analysis::ReportEntry> =
            serde_json::from_value(body["verdict"].clone())
                .context("the server's verdict is not one this flakehound reads")?;
        let dossier: flakehound_analysis::verdict::Dossier =
            serde_json::from_value(body["dossier"].clone())
                .context("the server's dossier is not one this flakehound reads")?;
        if let Some(e) = entry.as_mut() {
            attach_owners(ctx, std::slice::from_mut(e));
        }
        let mut out = std::io::stdout().lock();
        if let Some(e) = &entry {
            output::verdict_block(&mut out, e)?;
            writeln!(out)?;
        }
        output::dossier(&mut out, &dossier)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut store = open_existing(ctx)?;
    let stats = store.test_stats()?;
    let ev = store.evidence()?;
    let Some(dossier) = flakehound_analysis::verdict::dossier(&ev, test) else {
        bail!("no test {test:?} in the store (ids are listed by `flakehound report --all`)");
    };
    let mut entries = flakehound_analysis::report(stats, &ev, true).entries;
    entries.retain(|e| e.ranked.id == test);
    flakehound_analysis::attach_notes(&mut entries, store.notes(Some(test))?);
    attach_owners(ctx, &mut entries);
    let entry = entries.pop();
    // Flaky tests: the static scan's findings inside the test, as supporting evidence.
    let (verdict, findings) = lint::explain(ctx, entry.as_ref());
    if json {
        print_json(&serde_json::json!({ "verdict": verdict, "dossier": dossier }))?;
    } else {
        let mut out = std::io::stdout().lock();
        if let Some(e) = &entry {
            output::verdict_block(&mut out, e)?;
            writeln!(out)?;
            lint::explain_text(&mut out, e, &findings)?;
        }
        output::dossier(&mut out, &dossier)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Merges every project of each source store (any engine) into the same project of the store.
fn cmd_merge(ctx: &Context, stores: &[PathBuf]) -> Result<ExitCode> {
    let dst = ctx.location.clone();
    // The destination first: created even when a source fails, and an unreachable one is the
    // command's error.
    drop(ctx.open()?);
    let mut failed = false;
    for src in stores {
        let from = flakehound_store::Location::from(src.as_path());
        match flakehound_store::merge_locations(&dst, &from) {
            Ok(merged) => {
                let m = flakehound_store::merged_total(&merged);
                println!(
                    "{from}: {} reports merged ({} new runs, {} results, {} notes), {} already present",
                    m.reports, m.runs, m.results, m.notes, m.skipped
                );
            }
            Err(e) => {
                failed = true;
                eprintln!("{from}: error: {e}");
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
fn attach_owners(ctx: &Context, entries: &mut [flakehound_analysis::ReportEntry]) {
    let owners = flakehound_owners::Owners::load(&ctx.root);
    for e in entries {
        e.owners = owners.of(&e.ranked.id, e.ranked.file.as_deref());
    }
}

fn cmd_incidents(
    ctx: &Context,
    server: Option<&flakehound_client::Server>,
    json: bool,
) -> Result<ExitCode> {
    let incidents = match server {
        Some(server) => remote_get(server, "/api/v1/incidents")?,
        None => analyse(open_existing(ctx)?.as_mut(), false)?.incidents,
    };
    if json {
        print_json(&incidents)?;
    } else {
        output::incidents(&mut std::io::stdout().lock(), &incidents)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_clusters(
    ctx: &Context,
    server: Option<&flakehound_client::Server>,
    json: bool,
) -> Result<ExitCode> {
    let clusters = match server {
        Some(server) => remote_get(server, "/api/v1/clusters")?,
        None => analyse(open_existing(ctx)?.as_mut(), false)?.shared_clusters,
    };
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

    /// Every flag and argument of every command says what it does in `--help`.
    #[test]
    fn every_flag_has_help_text() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "flakehound", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
