//! `bisect`: flags in, the bisect crate searches, the result out (and into the store).

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table, modifiers, presets};
use flakehound_bisect::git::{Repo, short};
use flakehound_bisect::search::Config;
use flakehound_bisect::{Bisection, Judge};
use flakehound_model::exit;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Args)]
pub struct BisectArgs {
    /// Test id (as `report` shows it; with a runner flakehound knows, a unique suffix such as
    /// `tests::name` is enough).
    test: String,
    /// A commit where the test was fine (or flaky at its old rate). Default: from the store
    /// (the verdict's culprit range, or the last commit where the test only passed).
    #[arg(long, value_name = "REV")]
    good: Option<String>,
    /// A commit where the test fails (more). Default: from the store (the verdict's culprit
    /// range, or the newest commit where it failed), else HEAD.
    #[arg(long, value_name = "REV")]
    bad: Option<String>,
    /// Run once in each checked-out commit before its first execution, with `sh -c` (e.g.
    /// `pip install -e .`, `cargo build --tests`); when it fails the commit is skipped.
    #[arg(long, value_name = "CMD")]
    setup: Option<String>,
    /// Stop when one answer (a culprit, or "no culprit") has this posterior probability.
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    confidence: f64,
    /// The most executions in all (the answer is then the most probable one, undecided).
    #[arg(long, default_value_t = 200, value_name = "N")]
    max_runs: u64,
    /// Judge each execution by the command's exit status alone (0 passes, 125 skips the
    /// commit, anything else fails), even for a runner flakehound knows.
    #[arg(long)]
    exit_status: bool,
    /// Do not narrow a merge culprit into the merged branch.
    #[arg(long)]
    no_merges: bool,
    /// The test runner, when it cannot be told from the command.
    #[arg(long, value_parser = crate::run::parse_runner, value_name = "RUNNER")]
    test_runner: Option<flakehound_runner::RunnerKind>,
    /// Do not record the executions and the result in the store.
    #[arg(long)]
    no_record: bool,
    /// The result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    events: crate::events::EventsOpt,
    /// The test command, run in each checked-out commit, e.g. `-- pytest -q tests/test_a.py`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

static STOP: AtomicBool = AtomicBool::new(false);

pub fn cmd_bisect(ctx: &Context, args: BisectArgs) -> Result<ExitCode> {
    if !(args.confidence > 0.5 && args.confidence < 1.0) {
        bail!("--confidence must be between 0.5 and 1, e.g. 0.95");
    }
    if args.max_runs == 0 {
        bail!("--max-runs must be at least 1");
    }
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let repo = Repo::discover(&cwd)?;
    // The range: the flags, else what the store knows.
    let stored = if args.good.is_none() || args.bad.is_none() {
        match ctx.exists().then(|| ctx.open_existing()).transpose()? {
            Some(mut store) => {
                flakehound_bisect::evidence::default_range(store.as_mut(), &args.test)?
            }
            None => None,
        }
    } else {
        None
    };
    let (good, bad) = match (&args.good, &args.bad, &stored) {
        (Some(g), Some(b), _) => (g.clone(), b.clone()),
        (g, b, Some((sg, sb))) => (
            g.clone().unwrap_or_else(|| sg.clone()),
            b.clone().unwrap_or_else(|| sb.clone()),
        ),
        (Some(g), None, None) => (g.clone(), "HEAD".to_string()),
        (None, _, None) => bail!(
            "the store does not say where {} changed (no stored failure after a pass at a known commit); pass --good REV (and --bad REV, default HEAD)",
            args.test
        ),
    };
    let good_sha = repo.resolve(&good).with_context(|| {
        if args.good.is_none() {
            "--good from the store".to_string()
        } else {
            "--good".to_string()
        }
    })?;
    let bad_sha = repo.resolve(&bad).with_context(|| {
        if args.bad.is_none() {
            "--bad from the store".to_string()
        } else {
            "--bad".to_string()
        }
    })?;
    let range = repo.range(&good_sha, &bad_sha)?;
    // pytest plugins that would hide failures (reruns) or take the order away are turned off
    // for every run, as the detective's experiments do.
    let (command, control) = match flakehound_runner::pytest_plugins(&args.command, None) {
        Some(p) if !args.exit_status => (
            flakehound_runner::without_plugin_interference(&args.command, &p),
            flakehound_detective::session::control_notes(&p),
        ),
        _ => (args.command.clone(), Vec::new()),
    };
    let judge = if args.exit_status {
        Judge::ExitStatus
    } else {
        match flakehound_runner::detect(&command, args.test_runner, None) {
            Ok(adapter) => Judge::Adapter(adapter),
            Err(_) if args.test_runner.is_none() => Judge::ExitStatus,
            Err(e) => return Err(e.into()),
        }
    };
    let judged = match &judge {
        Judge::Adapter(a) => format!("the {} results", a.kind().name()),
        Judge::ExitStatus => "the exit status".to_string(),
    };
    eprintln!(
        "flakehound bisect: {} over {} commits ({} good, {} bad), judged by {judged}",
        args.test,
        range.len(),
        short(&good_sha),
        short(&bad_sha),
    );
    for c in &control {
        eprintln!("control: {c}");
    }
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let opts = flakehound_bisect::Options {
        test: args.test.clone(),
        command,
        setup: args.setup.clone(),
        judge,
        config: Config {
            confidence: args.confidence,
            max_runs: args.max_runs,
            ..Config::default()
        },
        narrow_merges: !args.no_merges,
        // The command runs where the user ran it, in each worktree.
        subdir: cwd
            .canonicalize()
            .ok()
            .and_then(|c| {
                let root = repo.root.canonicalize().ok()?;
                c.strip_prefix(root).ok().map(std::path::Path::to_path_buf)
            })
            .unwrap_or_default(),
        stop: Some(&STOP),
    };
    let mut renderer = renderer(&args.events)?;
    let b = flakehound_bisect::bisect(&repo, &range, &opts, &mut |e| renderer.event(e))?;
    drop(renderer);
    let mut warnings = Vec::new();
    if !args.no_record && (b.executions > 0) {
        let res = ctx.open().and_then(|mut store| {
            let meta = flakehound_ci::detect(&cwd);
            let session = flakehound_detective::session::session_id();
            flakehound_bisect::evidence::record(store.as_mut(), &session, &meta, &b.runs)?;
            if !b.interrupted {
                flakehound_bisect::evidence::note(store.as_mut(), &b)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            warnings.push(format!("not recorded: {e:#}"));
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &b)?;
        writeln!(out)?;
    } else {
        print(&mut out, &b, &range)?;
        for w in &warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    if b.interrupted {
        eprintln!(
            "flakehound bisect: interrupted after {} executions; the worktrees are removed",
            b.executions
        );
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    // 0: an answer at the confidence asked for; 3: the run cap came first.
    Ok(ExitCode::from(if b.decided {
        exit::OK
    } else {
        exit::NOT_ENOUGH_EVIDENCE
    }))
}

fn renderer(opt: &crate::events::EventsOpt) -> Result<crate::events::Renderer> {
    use std::io::IsTerminal;
    let mode = if std::io::stderr().is_terminal() {
        crate::events::Mode::Progress
    } else {
        crate::events::Mode::Text
    };
    crate::events::Renderer::new(mode, crate::events::Lines::Stderr, opt)
}

fn pct(r: &flakehound_analysis::stats::Rate) -> String {
    format!(
        "{:.1}% [{:.1}–{:.1}%] ({} of {} runs)",
        100.0 * r.mean,
        100.0 * r.low,
        100.0 * r.high,
        r.failures,
        r.trials
    )
}

/// The table of tested commits, the answer, the rates and the cost.
fn print(out: &mut impl Write, b: &Bisection, range: &[String]) -> Result<()> {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            ["#", "Commit", "Subject", "Runs", "Fail", "P(culprit)"]
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    for row in &b.tested {
        let pos = range
            .iter()
            .position(|s| s == &row.sha)
            .map_or_else(|| "branch".to_string(), |p| p.to_string());
        let subject: String = row.subject.chars().take(48).collect();
        t.add_row(vec![
            Cell::new(pos).set_alignment(CellAlignment::Right),
            Cell::new(short(&row.sha)),
            Cell::new(match &row.skipped {
                Some(why) => format!("{subject} (skipped: {why})"),
                None => subject,
            }),
            Cell::new(row.runs).set_alignment(CellAlignment::Right),
            Cell::new(row.failures).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", row.probability)).set_alignment(CellAlignment::Right),
        ]);
    }
    writeln!(out, "{t}")?;
    let undecided = if b.decided {
        String::new()
    } else {
        " — undecided: the run cap came first (raise --max-runs)".to_string()
    };
    match (&b.culprit, &b.culprit_commit) {
        (Some(_), Some(c)) if b.candidates.is_empty() => {
            writeln!(
                out,
                "Culprit: {} (probability {:.3}){undecided}",
                c.sha, b.probability
            )?;
            writeln!(out, "  Author:  {}", c.author)?;
            writeln!(out, "  Date:    {}", c.date)?;
            writeln!(out, "  Subject: {}", c.subject)?;
            if let Some(m) = &b.merge {
                if m.narrowed {
                    writeln!(
                        out,
                        "  Found on the branch merged by {} (first-parent search, then the merged branch).",
                        short(&m.merge)
                    )?;
                } else {
                    writeln!(
                        out,
                        "  A merge: its branch alone does not fail more, so the merge itself is the culprit."
                    )?;
                }
            }
            writeln!(out, "Failure rate before: {}", pct(&b.rate_before))?;
            writeln!(out, "Failure rate after:  {}", pct(&b.rate_after))?;
        }
        (Some(_), _) => {
            writeln!(
                out,
                "Culprit: one of {} (probability {:.3}): skipped commits could not be tested{undecided}",
                b.candidates
                    .iter()
                    .map(|c| short(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                b.probability
            )?;
            writeln!(out, "Failure rate before: {}", pct(&b.rate_before))?;
            writeln!(out, "Failure rate after:  {}", pct(&b.rate_after))?;
        }
        (None, _) => {
            writeln!(
                out,
                "No culprit (probability {:.3}){undecided}: the test was flaky all along, at {}",
                b.probability,
                pct(&b.rate_before)
            )?;
            writeln!(
                out,
                "If it fails more now than it once did, the change is before {}: try an older --good.",
                short(&b.good)
            )?;
        }
    }
    let steps = usize::BITS - (b.commits.saturating_sub(2)).leading_zeros();
    writeln!(
        out,
        "{} executions in {:.1}s (git bisect running the test 20 times a step: {}).",
        b.executions,
        b.seconds,
        20 * steps
    )?;
    Ok(())
}
