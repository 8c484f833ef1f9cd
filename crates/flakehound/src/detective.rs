//! `polluter`, `diagnose`, `repro`, `verify`: flags in, the detective crate experiments,
//! results out (and into the store).

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table, modifiers, presets};
use flakehound_detective::known::{Known, failing_orders};
use flakehound_detective::session::{Session, resolve};
use flakehound_detective::{Lab, Trial, diagnose, repro};
use flakehound_model::exit;
use flakehound_runner::TestRef;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags shared by the detective commands.
#[derive(clap::Args)]
pub struct Common {
    /// The test runner, when it cannot be told from the command.
    #[arg(long, value_parser = crate::run::parse_runner, value_name = "RUNNER")]
    test_runner: Option<flakehound_runner::RunnerKind>,
    /// Do not record the runs in the store.
    #[arg(long)]
    no_record: bool,
    /// The result as JSON.
    #[arg(long)]
    json: bool,
    /// The test command (as for `run`), e.g. `-- pytest -q`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(clap::Args)]
pub struct DiagnoseArgs {
    /// Test id (as `report` shows it).
    #[arg(required_unless_present = "flaky", conflicts_with = "flaky")]
    test: Option<String>,
    /// Diagnose every test the store calls flaky (as `report` lists them, most costly first),
    /// one after another, and end with a summary table. Combine with --quick.
    #[arg(long)]
    flaky: bool,
    /// Runs per condition.
    #[arg(long, short = 'n', default_value_t = 10, value_name = "N")]
    runs: u32,
    /// Only these suspects (comma-separated): randomness, hashing, time, order, load, threads,
    /// parallel, network, repetition.
    #[arg(long, value_delimiter = ',', value_parser = parse_suspect, value_name = "SUSPECTS")]
    only: Vec<diagnose::Suspect>,
    /// Stop at the first experiment that explains the failures (p < 0.01). The suspects that the
    /// stored failure messages point at go first either way.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    events: crate::events::EventsOpt,
    #[command(flatten)]
    common: Common,
}

fn parse_suspect(s: &str) -> Result<diagnose::Suspect, String> {
    diagnose::Suspect::parse(s).ok_or_else(|| {
        let names: Vec<_> = diagnose::Suspect::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown suspect {s:?}; known: {}", names.join(", "))
    })
}

#[derive(clap::Args, Clone)]
pub struct ConditionArgs {
    /// Environment for the runs (repeatable): `--env TZ=Etc/GMT+12`.
    #[arg(long = "env", value_parser = parse_env, value_name = "K=V")]
    env: Vec<(String, String)>,
    /// Keep every core busy while running (four spinning threads a core).
    #[arg(long)]
    load: bool,
    /// Pin the runs to one core.
    #[arg(long)]
    pin: bool,
    /// Instances at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    parallel: usize,
    /// Run the test twice in each process.
    #[arg(long)]
    twice: bool,
    /// Run without network (`unshare -n`).
    #[arg(long)]
    no_network: bool,
}

impl ConditionArgs {
    /// Whether a plain command of the runner cannot carry these conditions: no runner runs one
    /// test twice in a process from its own command line the same way (pytest drops a repeated
    /// node id), nor loads the machine or starts several instances.
    fn need_flakehound(&self) -> bool {
        self.twice || self.load || self.parallel > 1
    }

    /// The flags that give these conditions to `flakehound repro`, each followed by a space.
    fn flags(&self) -> String {
        let mut f = String::new();
        for (k, v) in &self.env {
            f.push_str(&format!(
                "--env {} ",
                flakehound_runner::shell_quote(&format!("{k}={v}"))
            ));
        }
        if self.load {
            f.push_str("--load ");
        }
        if self.pin {
            f.push_str("--pin ");
        }
        if self.parallel > 1 {
            f.push_str(&format!("--parallel {} ", self.parallel));
        }
        if self.twice {
            f.push_str("--twice ");
        }
        if self.no_network {
            f.push_str("--no-network ");
        }
        f
    }

    fn conditions(&self) -> repro::Conditions {
        repro::Conditions {
            env: self.env.clone(),
            load: self.load,
            pin: self.pin,
            parallel: self.parallel,
            twice: self.twice,
            no_network: self.no_network,
        }
    }
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not K=V")),
    }
}

#[derive(clap::Args)]
pub struct ReproArgs {
    /// Test id as shown by `report` (a pytest node id, a cargo test path, ...).
    test: String,
    /// Runs (the most, with --until-fail).
    #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
    runs: u64,
    /// Stop at the first failure.
    #[arg(long)]
    until_fail: bool,
    #[command(flatten)]
    conditions: ConditionArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Test id as shown by `report` (a pytest node id, a cargo test path, ...).
    test: String,
    /// The failure rate to rule out, at 95% confidence (0.01 = 1%: 299 clean runs).
    #[arg(long, default_value_t = 0.01, value_name = "RATE")]
    target: f64,
    /// The most runs to make. A claim that needs more ends as "not enough evidence" (exit 3),
    /// with the runs it would need.
    #[arg(long, default_value_t = repro::VERIFY_MAX_RUNS, value_name = "N")]
    max_runs: u64,
    #[command(flatten)]
    conditions: ConditionArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct PolluterArgs {
    /// The order-dependent victim (or a brittle test: then its state-setter is found).
    victim: String,
    /// Candidates, one test id a line, in the order they ran (default: the tests that preceded
    /// the victim in its latest failing run in the store, else the whole suite).
    #[arg(long, value_name = "FILE")]
    candidates: Option<PathBuf>,
    /// Confirm every step by majority vote (the victim is also flaky on its own).
    #[arg(long)]
    confirm: bool,
    /// Skip the search for cleaners.
    #[arg(long)]
    no_cleaners: bool,
    /// Stop after this many runs.
    #[arg(long, value_name = "N")]
    max_runs: Option<u32>,
    #[command(flatten)]
    events: crate::events::EventsOpt,
    #[command(flatten)]
    common: Common,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// How a detective command shows its events: a spinner and lines on a terminal, lines
/// otherwise.
fn renderer(opt: &crate::events::EventsOpt) -> Result<crate::events::Renderer> {
    use std::io::IsTerminal;
    let mode = if std::io::stderr().is_terminal() {
        crate::events::Mode::Progress
    } else {
        crate::events::Mode::Text
    };
    crate::events::Renderer::new(mode, crate::events::Lines::Stderr, opt)
}

/// Starts the session (the runner, a scratch directory, the suite); Ctrl-C then stops the
/// experiments instead of the process.
fn start(common: &Common) -> Result<Session> {
    let session = Session::start(&common.command, common.test_runner)?;
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    Ok(session)
}

/// The session and the test to work on (found in the runner's list when it can list, else
/// taken as given).
fn setup(common: &Common, test: &str) -> Result<(Session, TestRef)> {
    let session = start(common)?;
    let test = session.resolve(test)?;
    Ok((session, test))
}

/// The existing store, to read what it knows; `None` without a readable one.
fn stored(ctx: &Context) -> Option<Box<dyn flakehound_store::Store>> {
    ctx.exists().then(|| ctx.open_existing().ok()).flatten()
}

/// Records trials as evidence: one run per trial (`source` diagnose/repro/verify).
fn record_trials(
    store: &mut dyn flakehound_store::Store,
    source: flakehound_model::RunSource,
    trials: &[(String, Trial)],
) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let meta = flakehound_ci::detect(&cwd);
    let session = flakehound_detective::session::session_id();
    flakehound_detective::session::record_trials(store, &source, &session, &meta, trials)?;
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            header
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    t
}

pub fn cmd_diagnose(ctx: &Context, args: DiagnoseArgs) -> Result<ExitCode> {
    let Some(test) = &args.test else {
        return diagnose_flaky(ctx, &args);
    };
    let (s, test) = setup(&args.common, test)?;
    let mut lab = s.lab();
    lab.stop = Some(&STOP);
    let known = stored(ctx).and_then(|mut store| Known::load(store.as_mut()).ok());
    let mut renderer = renderer(&args.events)?;
    let (d, warnings) = diagnose_one(ctx, &args, known.as_ref(), &lab, &s, &test, &mut renderer)?;
    drop(renderer);
    let mut out = std::io::stdout().lock();
    if args.common.json {
        serde_json::to_writer_pretty(&mut out, &d)?;
        writeln!(out)?;
    } else {
        print_diagnosis(&mut out, &d, args.runs.max(1))?;
        writeln!(out, "{} runs in {:.1}s.", d.runs, d.seconds)?;
        for w in &warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    if d.interrupted {
        eprintln!("flakehound diagnose: interrupted; the runs so far are recorded");
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Diagnoses one test (saying on stderr what the stored evidence points at), and records the
/// runs and the diagnosis unless `--no-record`. Returns the diagnosis and recording warnings.
fn diagnose_one(
    ctx: &Context,
    args: &DiagnoseArgs,
    known: Option<&Known>,
    lab: &Lab,
    session: &Session,
    test: &TestRef,
    renderer: &mut crate::events::Renderer,
) -> Result<(diagnose::Diagnosis, Vec<String>)> {
    eprintln!(
        "flakehound diagnose: {} — {} runs per condition",
        test.id, args.runs
    );
    let (first, evidence) = known
        .map(|k| k.priors(&test.id, &args.only))
        .unwrap_or_default();
    if let Some(line) = &evidence {
        eprintln!("{line}");
    }
    let opts = diagnose::Options {
        runs: args.runs.max(1),
        suite: session.suite.clone(),
        only: args.only.clone(),
        command: args.common.command.clone(),
        first,
        quick: args.quick,
        history: known.and_then(|k| k.history.get(&test.id).copied()),
        program: ctx.self_program(),
        control: session.control.clone(),
        failing_order: stored(ctx)
            .and_then(|mut store| failing_orders(store.as_mut(), &test.id, 1).ok())
            .and_then(|f| f.orders.into_iter().next())
            .map(|order| {
                // The suite's own references (file, class) where it lists the test.
                order
                    .into_iter()
                    .map(|t| {
                        session
                            .suite
                            .iter()
                            .find(|s| s.id == t.id)
                            .cloned()
                            .unwrap_or(t)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let d = diagnose::diagnose_observed(lab, test, &opts, &mut |e| renderer.event(e))?;
    let mut warnings = Vec::new();
    if !args.common.no_record {
        let res = ctx.open().and_then(|mut store| {
            record_trials(
                store.as_mut(),
                flakehound_model::RunSource::Diagnose,
                &d.trials,
            )?;
            if d.interrupted {
                // The runs are evidence; a verdict cut short is not a diagnosis to show.
                return Ok(());
            }
            let mut text = format!("diagnose: {}", d.verdict);
            if let Some(r) = &d.reproduction {
                text.push_str(&format!("; reproduce: {r}"));
            }
            store.add_note(&flakehound_store::Note {
                test: d.test.clone(),
                kind: flakehound_store::NoteKind::Diagnosis,
                category: d.category,
                text,
                author: Some("flakehound diagnose".into()),
                ..Default::default()
            })?;
            Ok(())
        });
        if let Err(e) = res {
            warnings.push(format!("diagnosis not recorded: {e:#}"));
        }
    }
    Ok((d, warnings))
}

/// `diagnose --flaky`: every test the store calls flaky, most costly first, then a summary.
fn diagnose_flaky(ctx: &Context, args: &DiagnoseArgs) -> Result<ExitCode> {
    if !ctx.exists() {
        bail!(
            "no store at {}: --flaky diagnoses the tests a store calls flaky (ingest, run or hunt first)",
            ctx.location
        );
    }
    let known = ctx
        .open_existing()
        .and_then(|mut store| Ok(Known::load(store.as_mut())?))
        .with_context(|| format!("cannot read the store at {}", ctx.location))?;
    let s = start(&args.common)?;
    let mut lab = s.lab();
    lab.stop = Some(&STOP);
    let mut renderer = renderer(&args.events)?;
    let mut done = Vec::new();
    let mut missing = Vec::new();
    let mut warnings = Vec::new();
    for id in &known.flaky {
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        let test = match resolve(&s.suite, id) {
            Ok(t) => t,
            Err(_) => {
                missing.push(id.clone());
                continue;
            }
        };
        let (d, w) = diagnose_one(ctx, args, Some(&known), &lab, &s, &test, &mut renderer)?;
        warnings.extend(w);
        if !args.common.json {
            eprintln!("  {}", verdict_line(&d));
        }
        done.push(d);
    }
    let interrupted = STOP.load(Ordering::Relaxed) || done.iter().any(|d| d.interrupted);
    let status = if interrupted {
        eprintln!("flakehound diagnose: interrupted; the runs so far are recorded");
        ExitCode::from(exit::INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    };
    let mut out = std::io::stdout().lock();
    if args.common.json {
        serde_json::to_writer_pretty(&mut out, &done)?;
        writeln!(out)?;
        return Ok(status);
    }
    if done.is_empty() && missing.is_empty() && !interrupted {
        writeln!(out, "The store calls no test flaky: nothing to diagnose.")?;
        return Ok(status);
    }
    let mut t = table(&["Test", "Diagnosis", "Conf", "Reproduction", "Runs", "Time"]);
    for d in &done {
        t.add_row(vec![
            Cell::new(&d.test),
            Cell::new(d.category.map_or(
                if d.inconclusive.is_some() {
                    "inconclusive"
                } else {
                    "-"
                },
                |c| c.as_str(),
            )),
            Cell::new(if d.suspect.is_some() {
                format!("{:.3}", d.confidence)
            } else {
                String::new()
            }),
            Cell::new(d.reproduction.as_deref().unwrap_or("-")),
            Cell::new(d.runs).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.0}s", d.seconds)).set_alignment(CellAlignment::Right),
        ]);
    }
    writeln!(out, "{t}")?;
    let named = done.iter().filter(|d| d.suspect.is_some()).count();
    let runs: u32 = done.iter().map(|d| d.runs).sum();
    let secs: f64 = done.iter().map(|d| d.seconds).sum();
    writeln!(
        out,
        "{named} of {} flaky tests diagnosed with a named cause, {runs} runs in {secs:.0}s.{}",
        done.len(),
        match done.first() {
            Some(d) => format!(
                " `{} explain {}` shows a diagnosis with its evidence.",
                ctx.self_program(),
                flakehound_runner::shell_quote(&d.test)
            ),
            None => String::new(),
        }
    )?;
    if !missing.is_empty() {
        writeln!(
            out,
            "Not among the tests the command lists (skipped): {}",
            missing.join(", ")
        )?;
    }
    for w in &warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(status)
}

/// The verdict in one line, as the table's last lines say it.
fn verdict_line(d: &diagnose::Diagnosis) -> String {
    match (d.category, d.suspect) {
        (Some(c), Some(_)) => format!("{}: {c} (confidence {:.3})", d.test, d.confidence),
        _ => format!("{}: {}", d.test, d.verdict),
    }
}

/// The experiments' table, the verdict and the reproduction.
fn print_diagnosis(out: &mut impl Write, d: &diagnose::Diagnosis, runs: u32) -> Result<()> {
    let mut t = table(&[
        "Suspect",
        "Condition",
        "Runs",
        "Fail",
        "Failure rate [95% CI]",
        "p",
    ]);
    for e in &d.experiments {
        if let Some(why) = &e.skipped {
            t.add_row(vec![
                Cell::new(e.suspect.as_str()),
                Cell::new(format!("skipped: {why}")),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
            ]);
            continue;
        }
        for (i, c) in e.conditions.iter().enumerate() {
            let p = match c.p_value {
                None => String::new(),
                Some(p) => format!(
                    "{}{}",
                    diagnose::p_text(p),
                    if c.implicates { " *" } else { "" }
                ),
            };
            t.add_row(vec![
                Cell::new(if i == 0 { e.suspect.as_str() } else { "" }),
                Cell::new(&c.name),
                Cell::new(c.runs).set_alignment(CellAlignment::Right),
                Cell::new(c.failures).set_alignment(CellAlignment::Right),
                Cell::new(flakehound_detective::claim(c.failures, c.runs)),
                Cell::new(p),
            ]);
        }
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "* implicates the suspect: significant at 95% (Fisher's exact test against the suspect's first condition, Holm-adjusted for the {} comparisons made){}",
        d.comparisons,
        if d.experiments
            .iter()
            .any(|e| !e.suspect.either_direction() && e.batches > 0)
        {
            "; for order, load, parallel, network and repetition only when failing more"
        } else {
            ""
        }
    )?;
    // Experiments stopped as futile, in one line (progress said each one's numbers).
    let futile: Vec<&str> = d
        .experiments
        .iter()
        .filter(|e| {
            e.stopped
                .as_deref()
                .is_some_and(|w| w.starts_with("futile"))
        })
        .map(|e| e.suspect.as_str())
        .collect();
    if !futile.is_empty() {
        writeln!(
            out,
            "Stopped early, a difference having become implausible (under a {:.0}% chance): {}",
            diagnose::FUTILE * 100.0,
            futile.join(", ")
        )?;
    }
    for e in &d.experiments {
        for n in &e.notes {
            writeln!(out, "{}: {n}", e.suspect.as_str())?;
        }
        match &e.stopped {
            Some(why) if why.starts_with("futile") => {}
            Some(why) => writeln!(out, "{}: stopped early, {why}", e.suspect.as_str())?,
            None if e.batches > 1 => writeln!(
                out,
                "{}: borderline after {runs} runs a condition, so it ran up to {} batches of {runs}",
                e.suspect.as_str(),
                e.batches,
            )?,
            None => {}
        }
    }
    for c in &d.control {
        writeln!(out, "Control: {c}")?;
    }
    if d.interrupted {
        writeln!(
            out,
            "Interrupted (Ctrl-C): the table shows the runs finished before it."
        )?;
    }
    writeln!(out)?;
    match (d.category, d.suspect) {
        (Some(c), Some(_)) => writeln!(
            out,
            "Verdict: {c}{} (confidence {:.3}) — {}",
            d.kind.map(|k| format!(", {k}")).unwrap_or_default(),
            d.confidence,
            d.verdict
        )?,
        _ => writeln!(out, "Verdict: {}", d.verdict)?,
    }
    match (&d.reproduction, d.reproduction_rate) {
        (Some(r), Some((f, n))) => writeln!(out, "Reproduce (failed {f} of {n} runs): {r}")?,
        (Some(r), None) => writeln!(out, "Reproduce: {r}")?,
        // An inconclusive verdict already says how its reproduction went.
        (None, Some(_)) if d.inconclusive.is_some() => {}
        (None, Some((f, n))) => writeln!(
            out,
            "No reliable reproduction: the failing condition failed {f} of {n} checks."
        )?,
        (None, None) => {}
    }
    if let Some(r) = &d.polluter {
        writeln!(out, "Polluter search: {}", r.summary)?;
    }
    Ok(())
}

pub fn cmd_repro(ctx: &Context, args: ReproArgs) -> Result<ExitCode> {
    let (s, test) = setup(&args.common, &args.test)?;
    let mut lab = s.lab();
    lab.stop = Some(&STOP);
    let cond = args.conditions.conditions();
    let m = repro::measure(&lab, &test, &cond, args.runs.max(1), args.until_fail, &STOP)?;
    let mut out = std::io::stdout().lock();
    if args.common.json {
        serde_json::to_writer_pretty(&mut out, &m)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} under {}:", m.test, m.conditions)?;
        writeln!(out, "  failure rate {}", m.claim)?;
        if let Some(f) = &m.first_failure {
            writeln!(out, "  first failure: {f}")?;
        }
        if m.stopped_at_first_failure {
            writeln!(out, "  stopped at the first failure (--until-fail)")?;
        }
        if m.missing > 0 {
            writeln!(out, "  {} runs gave no result for the test", m.missing)?;
        }
        if args.conditions.need_flakehound() {
            // Twice in one process, under load or several at once: only flakehound's own runs
            // do that; the plain command would run the test once and pass.
            let cmd: Vec<String> = args
                .common
                .command
                .iter()
                .map(|a| flakehound_runner::shell_quote(a).into_owned())
                .collect();
            writeln!(
                out,
                "  command: {} repro {} {}-n {} -- {}",
                ctx.self_program(),
                flakehound_runner::shell_quote(&test.id),
                args.conditions.flags(),
                args.runs.max(1),
                cmd.join(" ")
            )?;
        } else if let Some(r) = s
            .adapter
            .reproduction(std::slice::from_ref(&test), &cond.env)
        {
            let wrapper: Vec<&str> = [
                args.conditions.no_network.then_some("unshare -n "),
                args.conditions.pin.then_some("taskset -c 0 "),
            ]
            .into_iter()
            .flatten()
            .collect();
            writeln!(out, "  command: {}{r}", wrapper.concat())?;
        }
        for c in &s.control {
            writeln!(out, "  control: {c}")?;
        }
        writeln!(out, "  {:.1}s", m.seconds)?;
    }
    if m.interrupted {
        eprintln!("flakehound repro: interrupted after {} runs", m.runs);
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    Ok(ExitCode::from(if m.failures > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    }))
}

pub fn cmd_verify(ctx: &Context, args: VerifyArgs) -> Result<ExitCode> {
    if !(0.0..1.0).contains(&args.target) || args.target <= 0.0 {
        bail!("--target must be a rate between 0 and 1, e.g. 0.01");
    }
    let (s, test) = setup(&args.common, &args.test)?;
    // The rate before the fix, from the store (every stored attempt of the test).
    let before = stored(ctx).and_then(|mut store| {
        flakehound_detective::known::rate_before(store.as_mut(), &test.id)
            .ok()
            .flatten()
    });
    let mut lab = s.lab();
    lab.stop = Some(&STOP);
    let v = repro::verify(
        &lab,
        &test,
        &args.conditions.conditions(),
        args.target,
        before,
        args.max_runs,
        &STOP,
    )?;
    let mut out = std::io::stdout().lock();
    if args.common.json {
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}: {}", v.after.test, v.verdict)?;
        writeln!(
            out,
            "  after: {} in {:.1}s{}",
            v.after.claim,
            v.after.seconds,
            if v.after.conditions == "as is" {
                String::new()
            } else {
                format!(" under {}", v.after.conditions)
            }
        )?;
        if let Some(b) = &v.before_claim {
            writeln!(out, "  before: {b} (stored evidence)")?;
        }
        for c in &s.control {
            writeln!(out, "  control: {c}")?;
        }
    }
    // 0 fixed; 1 failed again; 3 no failure but not enough runs for the claim; 130 Ctrl-C.
    Ok(match v.outcome {
        repro::Outcome::Fixed => ExitCode::from(exit::OK),
        repro::Outcome::NotFixed => ExitCode::from(exit::FINDINGS),
        repro::Outcome::NotEnoughEvidence => ExitCode::from(exit::NOT_ENOUGH_EVIDENCE),
        repro::Outcome::Interrupted => ExitCode::from(exit::INTERRUPTED),
    })
}

pub fn cmd_polluter(ctx: &Context, args: PolluterArgs) -> Result<ExitCode> {
    let (s, victim) = setup(&args.common, &args.victim)?;
    // Candidate lists, tried in turn while the victim does not fail after them: the given
    // file; else the stored runs where its first attempt failed (newest first, up to 3
    // distinct orders), then the whole suite.
    let whole_suite = || -> Vec<TestRef> {
        s.suite
            .iter()
            .filter(|t| t.id != victim.id)
            .cloned()
            .collect()
    };
    let mut later_attempt_only = 0;
    let tries: Vec<(Vec<TestRef>, String)> = match &args.candidates {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let by_id: std::collections::HashMap<&str, &TestRef> =
                s.suite.iter().map(|t| (t.id.as_str(), t)).collect();
            let list: Vec<TestRef> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|id| match by_id.get(id) {
                    Some(t) => (*t).clone(),
                    None => TestRef {
                        id: id.to_string(),
                        classname: None,
                        name: id.to_string(),
                        file: None,
                        suite: Vec::new(),
                    },
                })
                .collect();
            vec![(list, format!("{}", path.display()))]
        }
        None => {
            let found = stored(ctx)
                .and_then(|mut store| failing_orders(store.as_mut(), &victim.id, 3).ok())
                .unwrap_or_default();
            later_attempt_only = found.later_attempt_only;
            let n = found.orders.len();
            let mut tries: Vec<(Vec<TestRef>, String)> = found
                .orders
                .into_iter()
                .enumerate()
                .map(|(i, o)| {
                    (
                        o,
                        if i == 0 {
                            "its latest failing run in the store".to_string()
                        } else {
                            format!("failing run {} of {n} in the store (newest first)", i + 1)
                        },
                    )
                })
                .collect();
            // The other tests of its module: pollution that lives in module scope (a
            // module-scoped fixture) is torn down when another module runs in between, so the
            // whole suite in collection order can pass where its module alone fails it.
            let kind = s.adapter.kind();
            let module = flakehound_detective::polluter::scopes(kind, &victim.id)[0].clone();
            let suite = whole_suite();
            let same_module: Vec<TestRef> = suite
                .iter()
                .filter(|t| flakehound_detective::polluter::scopes(kind, &t.id)[0] == module)
                .cloned()
                .collect();
            if !same_module.is_empty() && same_module.len() < suite.len() {
                tries.push((same_module, "the other tests of its module".to_string()));
            }
            tries.push((suite, "the whole suite".to_string()));
            tries
        }
    };
    let mut lab = s.lab();
    lab.stop = Some(&STOP);
    let opts = flakehound_detective::polluter::Options {
        confirm: args.confirm,
        cleaners: !args.no_cleaners,
        max_runs: args.max_runs,
        suite: s.suite.clone(),
        ..Default::default()
    };
    let mut r = None;
    let mut earlier_runs = 0;
    let total = tries.len();
    for (i, (candidates, source)) in tries.into_iter().enumerate() {
        if candidates.is_empty() {
            if total == 1 {
                bail!("no candidate tests to search (pass --candidates FILE)");
            }
            continue;
        }
        eprintln!(
            "flakehound polluter: {} — {} candidates from {source}",
            victim.id,
            candidates.len()
        );
        if i == 0 {
            for c in &s.control {
                eprintln!("control: {c}");
            }
        }
        let mut renderer = renderer(&args.events)?;
        let found = flakehound_detective::polluter::find_observed(
            &lab,
            &victim,
            &candidates,
            &opts,
            &mut |e| renderer.event(e),
        )?;
        drop(renderer);
        let again = found.verdict == flakehound_detective::polluter::Verdict::NotReproduced
            && i + 1 < total;
        if again {
            eprintln!(
                "flakehound polluter: {}; trying the next candidates",
                found.summary
            );
            earlier_runs += found.runs;
        }
        r = Some(found);
        if !again {
            break;
        }
    }
    let Some(mut r) = r else {
        bail!("no candidate tests to search (pass --candidates FILE)");
    };
    if earlier_runs > 0 {
        r.notes.push(format!(
            "{earlier_runs} runs before this search went to earlier candidate lists, after which the victim passed"
        ));
    }
    if later_attempt_only > 0 && r.culprits.is_empty() {
        r.notes.push(format!(
            "in {later_attempt_only} stored run(s) it passed its first attempt and failed a later one in the same process: that is non-idempotence (state it leaves behind), not order; `flakehound diagnose` tests it"
        ));
    }
    let mut out = std::io::stdout().lock();
    if args.common.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", r.summary)?;
        if !r.culprits.is_empty() {
            writeln!(
                out,
                "{}: {}",
                if r.culprits.len() == 1 {
                    "Culprit"
                } else {
                    "Culprits (together)"
                },
                r.culprits.join(", ")
            )?;
        }
        if !r.cleaners.is_empty() {
            writeln!(out, "Cleaners: {}", r.cleaners.join(", "))?;
        }
        for rep in &r.reproductions {
            writeln!(out, "{}:\n  {}", rep.what, rep.command)?;
        }
        for n in &r.notes {
            writeln!(out, "note: {n}")?;
        }
        writeln!(
            out,
            "{} runs ({} to find the culprit, bound 2·⌈log2 n⌉+3 = {}), {:.1}s.",
            r.runs, r.search_runs, r.run_bound, r.seconds
        )?;
    }
    if r.verdict == flakehound_detective::polluter::Verdict::Interrupted {
        eprintln!("flakehound polluter: interrupted after {} runs", r.runs);
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    Ok(ExitCode::from(if r.culprits.is_empty() {
        exit::FINDINGS
    } else {
        exit::OK
    }))
}
