//! `flakehound import github|gitlab`: flags, token, progress and the summary; the work is
//! `flakehound-import`'s. Also the job-level part of `report` (`Jobs` section, `--jobs`).

use crate::StoreOpt;
use crate::context::Context;
use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Subcommand};
use flakehound_import::{Api, Auth, Event, Options, Summary};
use flakehound_model::exit;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Subcommand)]
pub enum ImportCmd {
    /// GitHub Actions: every attempt of every finished workflow run, its jobs, and the reports
    /// inside its artifacts. Token: GITHUB_TOKEN, else `gh auth token`.
    Github(GithubArgs),
    /// GitLab CI: finished pipelines, their jobs (retried ones included) and test reports.
    /// Token: GITLAB_TOKEN.
    Gitlab(GitlabArgs),
}

#[derive(Args, Clone)]
pub struct Common {
    /// How far back: a duration (30d, 12h, 2w), a date (2026-01-31) or an RFC 3339 time.
    #[arg(long, default_value = "30d", value_name = "WHEN")]
    since: String,
    /// Only runs of this branch (GitLab: ref).
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// Units (run attempts, pipelines) downloaded at once.
    #[arg(long, short = 'j', default_value_t = 8, value_name = "N")]
    jobs: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GithubArgs {
    /// The repository, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    repo: String,
    /// Only runs of this workflow (its file name, e.g. ci.yml, or its id).
    #[arg(long, value_name = "WORKFLOW")]
    workflow: Option<String>,
    /// Artifacts searched for reports, by name (comma-separated globs, case-insensitive).
    #[arg(long, value_name = "GLOB", default_value = flakehound_import::DEFAULT_ARTIFACTS)]
    artifacts: String,
    /// API root, for GitHub Enterprise Server (https://HOST/api/v3).
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    api_url: String,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub store: StoreOpt,
}

#[derive(Args)]
pub struct GitlabArgs {
    /// The GitLab project: its numeric id or its path (group/name). (The store's project is
    /// the usual one: `flakehound --project NAME import gitlab …`, FLAKEHOUND_PROJECT, or the
    /// git remote.)
    #[arg(long, value_name = "ID|PATH")]
    project: String,
    /// Store location (as every command's `--db`).
    #[arg(long, value_name = "LOCATION")]
    db: Option<String>,
    /// Jobs whose artifact archives are searched for reports too (comma-separated globs of job
    /// names); the pipeline test report is always read.
    #[arg(long, value_name = "GLOB")]
    artifacts: Option<String>,
    /// API root of a self-managed GitLab (https://HOST/api/v4).
    #[arg(long, value_name = "URL", default_value = "https://gitlab.com/api/v4")]
    api_url: String,
    #[command(flatten)]
    pub common: Common,
}

impl ImportCmd {
    /// The store options given after the command's name.
    pub fn store(&self) -> StoreOpt {
        match self {
            ImportCmd::Github(a) => a.store.clone(),
            ImportCmd::Gitlab(a) => StoreOpt {
                db: a.db.clone(),
                project: None,
            },
        }
    }
}

/// GITHUB_TOKEN, else what `gh auth token` prints when `gh` is installed and logged in.
fn github_token() -> Option<String> {
    if let Some(t) = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Some(t.trim().to_string());
    }
    let out = std::process::Command::new("gh")
        .args(["auth", "token"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let t = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !t.is_empty()).then_some(t)
}

/// Shows progress: a bar on a terminal, a few plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    done: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
    problems: std::sync::atomic::AtomicUsize,
}

/// Problems printed one by one; the rest are counted in the summary.
const PROBLEMS_SHOWN: usize = 20;

impl Progress {
    fn new(json: bool) -> Progress {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} (ETA {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar.set_message("listing runs");
            bar
        });
        Progress {
            bar,
            quiet: json,
            done: Default::default(),
            total: Default::default(),
            problems: Default::default(),
        }
    }

    fn line(&self, s: &str) {
        match &self.bar {
            Some(bar) => bar.println(s),
            None if !self.quiet => eprintln!("{s}"),
            None => {}
        }
    }

    fn event(&self, e: Event) {
        match e {
            Event::Listed { units, already } => {
                let todo = units - already;
                self.total.store(todo, Ordering::Relaxed);
                match &self.bar {
                    Some(bar) => {
                        bar.set_length(todo as u64);
                        bar.set_message("");
                    }
                    None if !self.quiet => eprintln!(
                        "flakehound import: {units} finished in range, {already} imported before, {todo} to import"
                    ),
                    None => {}
                }
            }
            Event::Imported { .. } => {
                let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
                let total = self.total.load(Ordering::Relaxed);
                match &self.bar {
                    Some(bar) => bar.inc(1),
                    // About ten lines whatever the history's length.
                    None if !self.quiet
                        && (done == total || done.is_multiple_of((total / 10).max(1))) =>
                    {
                        eprintln!("flakehound import: {done}/{total} imported")
                    }
                    None => {}
                }
            }
            Event::Problem(p) => {
                if self.problems.fetch_add(1, Ordering::Relaxed) < PROBLEMS_SHOWN {
                    self.line(&format!("flakehound import: warning: {p}"));
                }
            }
            Event::Failed { unit, reason } => {
                self.line(&format!(
                    "flakehound import: {unit} failed (tried again by the next import): {reason}"
                ));
            }
            Event::Notice(n) => self.line(&format!("flakehound import: {n}")),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn cmd_import(ctx: &Context, cmd: ImportCmd) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C: no new unit starts, waits end, what is recorded stays; a second Ctrl-C
        // kills at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::Relaxed) {
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        });
    }
    let common = match &cmd {
        ImportCmd::Github(a) => a.common.clone(),
        ImportCmd::Gitlab(a) => a.common.clone(),
    };
    let since = flakehound_import::parse_since(&common.since, jiff::Timestamp::now())
        .map_err(|e| anyhow!(e))?;
    let progress = Arc::new(Progress::new(common.json));
    let notice = {
        let p = progress.clone();
        Box::new(move |s: String| p.event(Event::Notice(s)))
    };
    let opts = Options {
        jobs: common.jobs.max(1),
        scratch: None,
        stop: stop.clone(),
    };
    let mut store = ctx.open()?;
    let events = |e: Event| progress.event(e);
    let json = common.json;
    let result = match cmd {
        ImportCmd::Github(a) => {
            let (owner, name) = a
                .repo
                .split_once('/')
                .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
                .ok_or_else(|| anyhow!("--repo {:?}: expected OWNER/NAME", a.repo))?;
            let token = github_token();
            if token.is_none() {
                progress.line(
                    "flakehound import: warning: no GITHUB_TOKEN (and no `gh auth token`): \
                     artifacts cannot be downloaded without one",
                );
            }
            let auth = token.map_or(Auth::None, Auth::Bearer);
            let api = Api::new(&a.api_url, auth, stop.clone(), notice)?;
            let source = flakehound_import::github::GitHub {
                api,
                repo: format!("{owner}/{name}"),
                since: Some(since),
                workflow: a.workflow,
                branch: common.branch.clone(),
                artifacts: flakehound_import::artifact_globs(&a.artifacts)
                    .map_err(|e| anyhow!(e))?,
            };
            flakehound_import::import(&source, store.as_mut(), &opts, &events)
        }
        ImportCmd::Gitlab(a) => {
            let auth = std::env::var("GITLAB_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map_or(Auth::None, |t| Auth::PrivateToken(t.trim().to_string()));
            let api = Api::new(&a.api_url, auth, stop.clone(), notice)?;
            let source = flakehound_import::gitlab::GitLab {
                api,
                project: a.project.clone(),
                since: Some(since),
                branch: common.branch.clone(),
                artifacts: a
                    .artifacts
                    .as_deref()
                    .map(flakehound_import::artifact_globs)
                    .transpose()
                    .map_err(|e| anyhow!(e))?,
            };
            flakehound_import::import(&source, store.as_mut(), &opts, &events)
        }
    };
    progress.finish();
    let summary =
        result.context("import stopped (what was imported is kept: run it again to resume)")?;
    print_summary(&summary, json)?;
    Ok(if summary.stopped {
        ExitCode::from(exit::INTERRUPTED)
    } else if summary.failed > 0 {
        ExitCode::from(exit::ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(s: &Summary, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, s)?;
        writeln!(out)?;
        return Ok(());
    }
    let what = if s.provider == flakehound_import::gitlab::PROVIDER {
        "pipelines"
    } else {
        "run attempts"
    };
    writeln!(
        out,
        "Imported {} {what} ({} already imported): {} jobs, {} artifacts, {} reports, {} results",
        s.imported, s.already, s.jobs, s.artifacts, s.reports, s.results
    )?;
    if !s.problems.is_empty() {
        writeln!(
            out,
            "{} problem{} (not fatal; listed above{})",
            s.problems.len(),
            if s.problems.len() == 1 { "" } else { "s" },
            if s.problems.len() > PROBLEMS_SHOWN {
                format!(", the first {PROBLEMS_SHOWN}")
            } else {
                String::new()
            }
        )?;
    }
    if s.failed > 0 {
        writeln!(
            out,
            "{} {what} failed; run the same command again to import them",
            s.failed
        )?;
    }
    if s.stopped {
        writeln!(out, "Stopped; run the same command again to resume")?;
    }
    Ok(())
}

/// `report --jobs`.
pub fn cmd_report_jobs(ctx: &Context, json: bool) -> Result<ExitCode> {
    let mut store = ctx.open_existing()?;
    let report = jobs_report(store.as_mut())?.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if report.totals.jobs == 0 {
        writeln!(
            out,
            "No CI jobs imported; `flakehound import github --repo OWNER/NAME` imports them."
        )?;
    } else {
        print_jobs(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `Jobs` section after `report`'s table, when jobs were imported.
pub fn jobs_section(ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open_existing()?;
    if let Some(report) = jobs_report(store.as_mut())? {
        print_jobs(out, &report)?;
    }
    Ok(())
}

/// The job-level report of the store: `None` when no jobs were imported.
pub fn jobs_report(
    store: &mut dyn flakehound_store::Store,
) -> Result<Option<flakehound_import::cost::JobsReport>> {
    let Some(jobs) = store.job_evidence() else {
        return Ok(None);
    };
    let jobs = jobs.jobs()?;
    if jobs.is_empty() {
        return Ok(None);
    }
    let evidence = store.failing_evidence()?;
    Ok(Some(flakehound_import::cost::jobs_report(
        &jobs,
        Some(&evidence),
    )))
}

/// The `Jobs` section of `report`: flaky jobs and tests ranked by what they cost, and totals.
pub fn print_jobs(out: &mut dyn Write, r: &flakehound_import::cost::JobsReport) -> Result<()> {
    let t = &r.totals;
    writeln!(out)?;
    writeln!(
        out,
        "Jobs: {} imported over {:.1} weeks; {} failed, then passed on the same commit:",
        t.jobs,
        t.weeks,
        r.flaky_jobs.len()
    )?;
    if !r.flaky_jobs.is_empty() {
        writeln!(
            out,
            "  {:<40} {:>13} {:>8} {:>12}",
            "JOB", "FLAKY COMMITS", "RE-RUNS", "MINUTES LOST"
        )?;
        for j in &r.flaky_jobs {
            let name = match &j.workflow {
                Some(w) => format!("{w} / {}", j.name),
                None => j.name.clone(),
            };
            writeln!(
                out,
                "  {:<40} {:>13} {:>8} {:>12.1}",
                name, j.flaky_commits, j.reruns, j.minutes_lost
            )?;
        }
    }
    if !r.tests.is_empty() {
        writeln!(
            out,
            "  Tests whose failures made those jobs fail, by what they cost:"
        )?;
        for c in r.tests.iter().take(10) {
            writeln!(
                out,
                "  {:<40} {:>8.1} re-runs {:>8.1} CI minutes lost",
                c.test, c.reruns, c.minutes_lost
            )?;
        }
    }
    writeln!(
        out,
        "Cost: {:.1} re-runs and {:.0} CI minutes per week lost to flaky jobs ({} re-runs, {:.0} of {:.0} CI minutes in all)",
        t.reruns_per_week, t.minutes_lost_per_week, t.reruns, t.minutes_lost, t.minutes_total
    )?;
    Ok(())
}
