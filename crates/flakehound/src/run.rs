//! `flakehound run -- <test command>`: flags in, the wrapper crate does the work, outputs out.

use anyhow::Result;
use flakehound_model::{RunStatus, WrappedRun};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::MetaArgs;
use crate::context::Context;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Extra invocations for the tests that failed (only those are re-run). Default 2, or
    /// FLAKEHOUND_RETRIES, or `retries` in the [run] table of .flakehound/config.toml.
    #[arg(short = 'r', long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    retries: Option<u32>,
    /// Pause before each retry, e.g. 5s (FLAKEHOUND_RETRY_DELAY, config `retry_delay`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    retry_delay: Option<Duration>,
    /// Retry a failed test only when its failure message matches this regular expression;
    /// repeatable (FLAKEHOUND_ONLY_RERUN, config `only_rerun`). The others stay failed.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    only_rerun: Vec<String>,
    /// Stop the whole run (every invocation together) after this long, e.g. 30m; the build
    /// fails (FLAKEHOUND_TIMEOUT, config `timeout`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Stop any single invocation (the first run or a retry) after this long
    /// (FLAKEHOUND_ATTEMPT_TIMEOUT, config `attempt_timeout`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    attempt_timeout: Option<Duration>,
    /// A test that fails and then passes on retry fails the build too (FLAKEHOUND_FAIL_ON_FLAKY,
    /// config `fail_on_flaky`).
    #[arg(long)]
    fail_on_flaky: bool,
    /// Write a merged JUnit report (flaky tests carry `flakyFailure` elements).
    #[arg(long, value_name = "PATH")]
    junit_out: Option<PathBuf>,
    /// Write the whole result as JSON.
    #[arg(long, value_name = "PATH")]
    json_out: Option<PathBuf>,
    /// The test runner, when it cannot be told from the command: pytest, cargo-test, nextest,
    /// go, jest, vitest, generic.
    #[arg(long, value_parser = parse_runner, value_name = "RUNNER")]
    test_runner: Option<flakehound_runner::RunnerKind>,
    /// Report file or directory the command writes (generic mode: any runner, whole-command
    /// retries).
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Do not record the attempts in the store.
    #[arg(long)]
    no_record: bool,
    /// Quarantine file. Default: .flakehound/quarantine.toml at the repository root.
    #[arg(long, env = "FLAKEHOUND_QUARANTINE", value_name = "PATH")]
    quarantine: Option<PathBuf>,
    /// A flakehound server: the run reads the project's quarantine from it (besides the
    /// repository's file) and uploads every attempt to it. Its problems never change the exit
    /// status: unsent results are spooled for a later `flakehound upload`.
    #[arg(long, env = "FLAKEHOUND_SERVER", value_name = "URL")]
    server: Option<String>,
    /// The server's token (upload scope).
    #[arg(long, env = "FLAKEHOUND_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The project's public upload id, for CI without secrets (fork pull requests): used when
    /// no token is given.
    #[arg(long, env = "FLAKEHOUND_PUBLIC_ID", value_name = "ID")]
    public_id: Option<String>,
    /// Do not send the repository's CODEOWNERS with the upload to --server (by default the
    /// committed file goes along; the server keeps it when the run is of the default branch).
    #[arg(long, env = "FLAKEHOUND_NO_CODEOWNERS")]
    no_codeowners: bool,
    #[command(flatten)]
    meta: Box<MetaArgs>,
    #[command(flatten)]
    events: crate::events::EventsOpt,
    /// The test command.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    flakehound_wrapper::config::parse_duration(s)
}

fn parse_regex(s: &str) -> Result<String, String> {
    regex::Regex::new(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

pub(crate) fn parse_runner(s: &str) -> Result<flakehound_runner::RunnerKind, String> {
    flakehound_runner::RunnerKind::from_name(s).ok_or_else(|| {
        let names: Vec<_> = flakehound_runner::RunnerKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        format!("unknown runner {s:?}; known: {}", names.join(", "))
    })
}

/// Never returns an error for problems of flakehound's own once the command has run: they
/// become warnings and the runner's status stands.
pub fn cmd_run(ctx: &Context, args: RunArgs) -> Result<ExitCode> {
    // From here on SIGINT/SIGTERM/SIGHUP are flakehound's to handle: forwarded to the test
    // command's process group, then the partial results are recorded and printed, the scratch
    // directory removed, and the exit is 128 + the signal.
    flakehound_runner::exec::signals::install();
    // The wrapper's lines (retries) go to stdout, between the test command's own output.
    let mut renderer = crate::events::Renderer::new(
        crate::events::Mode::Text,
        crate::events::Lines::Stdout,
        &args.events,
    )?;
    let mut warnings: Vec<String> = Vec::new();
    let today = ctx.today().unwrap_or_else(|e| {
        warnings.push(format!("{e:#}"));
        jiff::Zoned::now().date()
    });
    let root = &ctx.root;
    let quarantine_path = args
        .quarantine
        .clone()
        .unwrap_or_else(|| root.join(flakehound_quarantine::QUARANTINE_FILE));
    let quarantine = match flakehound_quarantine::QuarantineFile::load(&quarantine_path) {
        Ok(q) => {
            // Malformed entries are skipped, the rest still protects: say which.
            for p in q.problems() {
                warnings.push(format!("quarantine entry ignored: {p}"));
            }
            Some(q)
        }
        Err(e) => {
            warnings.push(format!(
                "quarantine ignored: {e} (failures of quarantined tests count)"
            ));
            None
        }
    };
    let server = match (
        args.server.as_deref(),
        args.token.as_deref(),
        args.public_id.as_deref(),
    ) {
        (Some(url), token, public) if token.is_some() || public.is_some() => {
            let mut s = match token {
                Some(t) => flakehound_client::Server::new(url, t),
                None => flakehound_client::Server::public(url, public.unwrap_or_default()),
            };
            s.timeout = Duration::from_secs(10);
            s.retries = 1;
            Some(s)
        }
        (Some(_), _, _) => {
            warnings.push(
                "--server without a token (FLAKEHOUND_TOKEN) or public upload id (FLAKEHOUND_PUBLIC_ID): not used".into(),
            );
            None
        }
        _ => None,
    };
    let mut quarantine = quarantine;
    if let Some(server) = &server {
        match server_quarantine(server) {
            Ok(entries) => {
                let q = quarantine.get_or_insert_with(flakehound_quarantine::QuarantineFile::new);
                for e in entries {
                    // The repository's own entry wins for a test in both.
                    let _ = q.add(e, false);
                }
            }
            Err(e) => warnings.push(format!(
                "the server's quarantine is unavailable ({e}); using the repository's only"
            )),
        }
    }
    let settings = settings(&args, root, &mut warnings);
    let only_rerun = settings
        .only_rerun
        .unwrap_or_default()
        .iter()
        .filter_map(|re| regex::Regex::new(re).ok())
        .collect();
    let mut opts = flakehound_wrapper::Options {
        retries: settings.retries.unwrap_or(2),
        fail_on_flaky: settings.fail_on_flaky.unwrap_or(false),
        quarantine: quarantine.as_ref(),
        today,
        scratch: PathBuf::new(),
        argv: &args.command,
        timeout: settings.timeout,
        attempt_timeout: settings.attempt_timeout,
        grace: grace(),
        retry_delay: settings.retry_delay.unwrap_or_default(),
        only_rerun,
    };
    let scratch = tempfile::Builder::new().prefix("flakehound-run-").tempdir();
    let scratch = match scratch {
        Ok(d) => d,
        Err(e) => {
            warnings.push(format!(
                "cannot create a scratch directory: {e}; running the command unchanged, \
                 without retries"
            ));
            return Ok(unchanged(&opts, warnings, &mut renderer));
        }
    };
    opts.scratch = scratch.path().to_path_buf();
    let adapter =
        match flakehound_runner::detect(&args.command, args.test_runner, args.report.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                warnings.push(format!(
                    "{e}; running the command unchanged, without retries"
                ));
                return Ok(unchanged(&opts, warnings, &mut renderer));
            }
        };
    let mut stdout = std::io::stdout();
    let wrapped = flakehound_wrapper::wrap(adapter.as_ref(), &opts, &mut stdout, &mut |e| {
        renderer.event(e)
    });
    drop(renderer);
    let mut run = wrapped.run;
    run.warnings.splice(0..0, warnings);
    run.rerun = rerun_line(adapter.as_ref(), &run);

    // Owners of the tests worth a look (blame is a process per test: not for passes).
    let owners = flakehound_owners::Owners::load(root);
    for t in &mut run.tests {
        if matches!(
            t.status,
            RunStatus::Failed | RunStatus::Flaky | RunStatus::Quarantined
        ) {
            let o = owners.of(&t.case.id, t.case.file.as_deref());
            if !o.is_empty() {
                t.owner = Some(o.join(" "));
            }
        }
    }

    if !args.no_record && !wrapped.invocations.is_empty() {
        if let Err(e) = record(ctx, &args, &wrapped.invocations) {
            run.warnings.push(format!(
                "attempts not recorded: {e:#} (the build status is unaffected)"
            ));
        }
    }
    publish(&args, &run, ctx.color);
    if let Some(server) = &server {
        upload(server, &args, &run, scratch.path(), root);
    }
    Ok(exit(run.exit))
}

/// The project's quarantine on the server, as entries of the quarantine file.
pub(crate) fn server_quarantine(
    server: &flakehound_client::Server,
) -> Result<Vec<flakehound_quarantine::Entry>> {
    let body = server.get("/api/v1/quarantine")?;
    let entries: Vec<flakehound_store::QuarantineRecord> =
        serde_json::from_value(body["entries"].clone())?;
    entries
        .into_iter()
        .map(|e| {
            Ok(flakehound_quarantine::Entry {
                added: e.added.parse()?,
                expires: e.expires.parse()?,
                id: e.test,
                reason: e.reason,
                owner: e.owner,
                issue: e.issue,
            })
        })
        .collect()
}

/// Uploads the run (every attempt, as one merged JUnit report) to the server; when it cannot,
/// spools it for a later `flakehound upload`. Prints one line either way; never fails.
fn upload(
    server: &flakehound_client::Server,
    args: &RunArgs,
    run: &WrappedRun,
    scratch: &Path,
    root: &Path,
) {
    let path = scratch.join("flakehound-run.xml");
    // The evidence as it happened: the merged report shows quarantined failures as skips (for
    // CI's eyes); the server gets them as the failures (and passes) they were.
    let mut faithful = run.clone();
    for t in &mut faithful.tests {
        if t.status == RunStatus::Quarantined {
            let passed_last = t
                .case
                .attempts
                .last()
                .is_some_and(|a| !a.outcome.is_failure());
            t.status = if passed_last {
                RunStatus::Flaky
            } else {
                RunStatus::Failed
            };
        }
    }
    let written = std::fs::File::create(&path).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        flakehound_publish::junit::write_merged(&faithful, &mut w)?;
        w.flush()
    });
    if let Err(e) = written {
        eprintln!("flakehound: warning: results not uploaded: cannot write them: {e}");
        return;
    }
    let mut meta = crate::run_meta_ref(&args.meta).unwrap_or_default();
    meta.fill_from(&flakehound_ci::from_process_env());
    let codeowners = if args.no_codeowners {
        None
    } else {
        crate::team::upload_codeowners(root)
    };
    match server.upload_with(&meta, std::slice::from_ref(&path), codeowners.as_ref()) {
        Ok(a) => {
            println!(
                "flakehound: uploaded to {} ({}): {} results",
                a.body["project"].as_str().unwrap_or("?"),
                server.url,
                a.body["results"].as_u64().unwrap_or(0)
            );
            if let Some(line) = crate::team::codeowners_line(&a.body) {
                println!("flakehound: {line}");
            }
            // The skipped lines of a CODEOWNERS (and an older server's word on it).
            for w in a.body["warnings"].as_array().into_iter().flatten() {
                let w = w.as_str().unwrap_or_default();
                if w.contains("CODEOWNERS") {
                    eprintln!("flakehound: warning: {w}");
                }
            }
        }
        Err(e) => {
            let spool = root.join(flakehound_store::DIR_NAME).join("spool");
            let kept = match &e {
                flakehound_client::ClientError::Unavailable(_) => {
                    match flakehound_client::spool_with(&spool, &meta, &[path], codeowners.as_ref())
                    {
                        Ok(d) => format!("; spooled in {} for `flakehound upload`", d.display()),
                        Err(s) => format!("; could not spool them either: {s}"),
                    }
                }
                _ => String::new(),
            };
            eprintln!(
                "flakehound: warning: results not uploaded: {e}{kept} (the build status is unaffected)"
            );
        }
    }
}

/// Longest re-run line worth printing: past it, a list of ids is no command to paste.
const RERUN_MAX: usize = 2_000;

/// The runner's own command for the tests that failed on every attempt.
fn rerun_line(adapter: &dyn flakehound_runner::Adapter, run: &WrappedRun) -> Option<String> {
    let failed: Vec<flakehound_runner::TestRef> = run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Failed)
        .map(|t| flakehound_runner::TestRef::from(&t.case))
        .collect();
    if failed.is_empty() {
        return None;
    }
    adapter
        .reproduction(&failed, &[])
        .filter(|line| line.len() <= RERUN_MAX)
}

fn record(
    ctx: &Context,
    args: &RunArgs,
    invocations: &[flakehound_wrapper::Invocation],
) -> Result<()> {
    let meta = crate::run_meta_ref(&args.meta)?;
    let key = flakehound_wrapper::run_key(&meta);
    let mut store = ctx.open()?;
    flakehound_wrapper::record(store.as_mut(), invocations, &meta, &key)?;
    Ok(())
}

/// Terminal summary, CI annotations, step summary, files. Failures here are printed, never fatal.
fn publish(args: &RunArgs, run: &WrappedRun, color: bool) {
    let mut out = std::io::stdout().lock();
    let mut problems: Vec<String> = Vec::new();
    if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        // GitHub resolves annotation files against the workspace: absolute paths (jest and
        // node stack frames) are made relative to it.
        let workspace = std::env::var("GITHUB_WORKSPACE")
            .ok()
            .filter(|w| !w.is_empty())
            .map(|w| format!("file={}/", w.trim_end_matches('/')));
        for line in flakehound_publish::annotations::github(run, 50) {
            let line = match &workspace {
                Some(prefix) => line.replacen(prefix.as_str(), "file=", 1),
                None => line,
            };
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let md = flakehound_publish::markdown::step_summary(run, 1024 * 1024 - 4096);
        if let Err(e) = append(Path::new(&path), &md) {
            problems.push(format!("cannot write $GITHUB_STEP_SUMMARY: {e}"));
        }
    }
    if let Some(path) = &args.junit_out {
        let res = std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            flakehound_publish::junit::write_merged(run, &mut w)?;
            w.flush()
        });
        if let Err(e) = res {
            problems.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = &args.json_out {
        let res = serde_json::to_vec_pretty(run)
            .map_err(std::io::Error::from)
            .and_then(|b| std::fs::write(path, b));
        if let Err(e) = res {
            problems.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    let mut run = run.clone();
    run.warnings.extend(problems);
    let _ = writeln!(out);
    let _ = write!(
        out,
        "{}",
        flakehound_publish::text::terminal_summary(&run, color)
    );
    let _ = out.flush();
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Runs the command unchanged (flakehound could not wrap it) and returns its status.
fn unchanged(
    opts: &flakehound_wrapper::Options<'_>,
    warnings: Vec<String>,
    renderer: &mut crate::events::Renderer,
) -> ExitCode {
    for w in &warnings {
        eprintln!("flakehound: warning: {w}");
    }
    let wrapped = flakehound_wrapper::wrap_unchanged(opts, &mut std::io::stdout(), &mut |e| {
        renderer.event(e)
    });
    for w in &wrapped.run.warnings {
        eprintln!("flakehound: warning: {w}");
    }
    exit(wrapped.run.exit)
}

/// Time between SIGTERM and SIGKILL when a timeout stops the command:
/// FLAKEHOUND_KILL_GRACE (a duration), default 10 s.
fn grace() -> Duration {
    std::env::var("FLAKEHOUND_KILL_GRACE")
        .ok()
        .and_then(|v| parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(10))
}

/// The run settings: flags over FLAKEHOUND_* variables over the [run] table of
/// .flakehound/config.toml (see `flakehound_wrapper::config`).
fn settings(
    args: &RunArgs,
    root: &Path,
    warnings: &mut Vec<String>,
) -> flakehound_wrapper::config::Settings {
    use flakehound_wrapper::config;
    let flags = config::Settings {
        retries: args.retries,
        retry_delay: args.retry_delay,
        only_rerun: (!args.only_rerun.is_empty()).then(|| args.only_rerun.clone()),
        timeout: args.timeout,
        attempt_timeout: args.attempt_timeout,
        fail_on_flaky: args.fail_on_flaky.then_some(true),
    };
    let env = config::from_env(&|name| std::env::var(name).ok(), warnings);
    let file = config::load(&root.join(flakehound_quarantine::CONFIG_FILE), warnings);
    flags.or(env).or(file)
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(flakehound_model::exit::FINDINGS))
}
