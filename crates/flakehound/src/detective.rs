//! `polluter`, `diagnose`, `repro`, `verify`: flags in, the detective crate experiments,
//! results out (and into the store).

use anyhow::{Context, Result, bail};
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table, modifiers, presets};
use flakehound_detective::{Lab, Trial, diagnose, repro};
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
    common: Common,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
use crate::hunt::EXIT_INTERRUPTED as INTERRUPTED;

/// How a printed `flakehound …` line must invoke flakehound to run as printed
/// ([`crate::hunt::hint_prefix`]), without `--db` when the store came from `FLAKEHOUND_DB` (the
/// variable carries over to the pasted line by itself).
pub(crate) fn self_program(db: Option<&std::path::Path>) -> String {
    let from_env = db.is_some_and(|db| {
        std::env::var_os("FLAKEHOUND_DB").is_some_and(|e| std::path::Path::new(&e) == db)
    });
    crate::hunt::hint_prefix(db.filter(|_| !from_env))
}

/// A line per finished experiment, and (on a terminal) a spinner naming the run in flight.
struct DiagnoseProgress {
    bar: indicatif::ProgressBar,
    failed: u64,
}

impl DiagnoseProgress {
    fn new() -> DiagnoseProgress {
        use std::io::IsTerminal;
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        DiagnoseProgress { bar, failed: 0 }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    fn observe(&mut self, event: diagnose::Event) {
        match event {
            diagnose::Event::Started {
                suspect,
                conditions,
            } => {
                self.failed = 0;
                self.bar.set_message(format!(
                    "{}: {} conditions",
                    suspect.as_str(),
                    conditions.len()
                ));
            }
            diagnose::Event::Ran {
                suspect,
                condition,
                failed,
                runs,
            } => {
                if failed == Some(true) {
                    self.failed += 1;
                }
                self.bar.set_message(format!(
                    "{}: {condition} — {runs} runs so far, {} failed in this experiment",
                    suspect.as_str(),
                    self.failed
                ));
            }
            diagnose::Event::Finished(e) => self.line(experiment_line(e)),
        }
    }
}

impl Drop for DiagnoseProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// One finished experiment in a line, for progress: `time: 4 conditions, 24 runs, 6 failed;
/// p = 0.0022 * (conclusive …)`.
fn experiment_line(e: &diagnose::Experiment) -> String {
    if let Some(why) = &e.skipped {
        return format!("  {}: skipped ({why})", e.suspect.as_str());
    }
    let runs: u64 = e.conditions.iter().map(|c| c.runs).sum();
    let failed: u64 = e.conditions.iter().map(|c| c.failures).sum();
    format!(
        "  {}: {} conditions, {runs} runs, {failed} failed; p {}{}{}",
        e.suspect.as_str(),
        e.conditions.len(),
        match diagnose::p_text(e.p_value) {
            t if t.starts_with('<') => t,
            t => format!("= {t}"),
        },
        if e.significant {
            " (implicates it)"
        } else {
            ""
        },
        e.stopped
            .as_ref()
            .map(|w| format!("; stopped: {w}"))
            .unwrap_or_default()
    )
}

/// The adapter, a scratch directory, and the test to work on (found in the runner's list when
/// it can list, else taken as given).
struct Setup {
    adapter: Box<dyn flakehound_runner::Adapter>,
    scratch: tempfile::TempDir,
    suite: Vec<TestRef>,
    test: TestRef,
}

fn setup(common: &Common, test: &str) -> Result<Setup> {
    let runner = setup_runner(common)?;
    let test = resolve(&runner.suite, test)?;
    Ok(Setup {
        adapter: runner.adapter,
        scratch: runner.scratch,
        suite: runner.suite,
        test,
    })
}

/// The adapter, a scratch directory and the suite the command lists.
struct Runner {
    adapter: Box<dyn flakehound_runner::Adapter>,
    scratch: tempfile::TempDir,
    suite: Vec<TestRef>,
}

fn setup_runner(common: &Common) -> Result<Runner> {
    let adapter = flakehound_runner::detect(&common.command, common.test_runner, None)?;
    if !adapter.capabilities().select {
        bail!(
            "the {} adapter cannot run a single test, which this command needs",
            adapter.kind().name()
        );
    }
    let scratch = tempfile::Builder::new()
        .prefix("flakehound-detective-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    let suite = if adapter.list(scratch.path()).is_some() {
        flakehound_hunt::list_tests(adapter.as_ref(), scratch.path())?
    } else {
        Vec::new()
    };
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    Ok(Runner {
        adapter,
        scratch,
        suite,
    })
}

/// The test named `test` in the suite (taken as given when the runner cannot list).
fn resolve(suite: &[TestRef], test: &str) -> Result<TestRef> {
    if let Some(t) = suite.iter().find(|t| t.id == test) {
        return Ok(t.clone());
    }
    if suite.is_empty() {
        return Ok(TestRef {
            id: test.to_string(),
            classname: None,
            name: test.to_string(),
            file: None,
            suite: Vec::new(),
        });
    }
    let close: Vec<&str> = suite
        .iter()
        .map(|t| t.id.as_str())
        .filter(|id| id.contains(test) || test.contains(id.rsplit("::").next().unwrap_or(id)))
        .take(5)
        .collect();
    bail!(
        "no test {test:?} among the {} tests the command lists{}",
        suite.len(),
        if close.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", close.join(", "))
        }
    );
}

fn open_store(db: Option<PathBuf>) -> Result<Box<dyn flakehound_store::Store>> {
    let p = crate::db_path(db)?;
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    Ok(crate::open_store(&p)?)
}

/// Records trials as evidence: one run per trial (`source` diagnose/repro/verify).
fn record_trials(
    store: &mut dyn flakehound_store::Store,
    source: flakehound_model::RunSource,
    trials: &[(String, Trial)],
) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let base = flakehound_ci::detect(&cwd);
    let session = format!(
        "{}-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S"),
        std::process::id()
    );
    for (i, (condition, trial)) in trials.iter().enumerate() {
        let key = flakehound_store::RunKey(format!("{source}/{session}/{}", i + 1));
        let mut meta = base.clone();
        meta.provider = Some(format!("flakehound-{source}"));
        meta.run_id = Some(session.clone());
        meta.job = Some(condition.clone());
        meta.run_attempt = Some(i as u32 + 1);
        meta.duration = Some(trial.duration.as_secs_f64());
        // Each run's own start, in UTC, so "last seen" and history order place it right (the
        // CI's start would put every experiment at the job's start).
        meta.started_at = trial
            .started
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| t.to_string());
        let info = flakehound_model::ReportInfo {
            properties: vec![
                ("flakehound.source".into(), source.to_string()),
                ("flakehound.condition".into(), condition.clone()),
            ],
            ..Default::default()
        };
        let hash = blake3::hash(key.0.as_bytes()).to_hex().to_string();
        let report = flakehound_store::NewReport {
            hash: &hash,
            path: None,
            format: None,
            run_key: &key,
            run: &meta,
            source: source.clone(),
        };
        flakehound_store::write_report(store, &report, &trial.cases, &info)?;
    }
    store.flush()?;
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

pub fn cmd_diagnose(args: DiagnoseArgs, db: Option<PathBuf>) -> Result<ExitCode> {
    let Some(test) = &args.test else {
        return diagnose_flaky(&args, db);
    };
    let s = setup(&args.common, test)?;
    let mut lab = Lab::new(s.adapter.as_ref(), s.scratch.path().to_path_buf());
    lab.stop = Some(&STOP);
    let known = Known::load(db.clone());
    let (d, warnings) = diagnose_one(&args, db, known.as_ref(), &lab, &s.suite, &s.test)?;
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
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Diagnoses one test (saying on stderr what the stored evidence points at), and records the
/// runs and the diagnosis unless `--no-record`. Returns the diagnosis and recording warnings.
fn diagnose_one(
    args: &DiagnoseArgs,
    db: Option<PathBuf>,
    known: Option<&Known>,
    lab: &Lab,
    suite: &[TestRef],
    test: &TestRef,
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
        suite: suite.to_vec(),
        only: args.only.clone(),
        command: args.common.command.clone(),
        first,
        quick: args.quick,
        history: known.and_then(|k| k.history.get(&test.id).copied()),
        program: self_program(db.as_deref()),
    };
    let mut progress = DiagnoseProgress::new();
    let d = diagnose::diagnose_observed(lab, test, &opts, &mut |e| progress.observe(e))?;
    drop(progress);
    let mut warnings = Vec::new();
    if !args.common.no_record {
        let res = open_store(db).and_then(|mut store| {
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
fn diagnose_flaky(args: &DiagnoseArgs, db: Option<PathBuf>) -> Result<ExitCode> {
    let path = crate::db_path(db.clone())?;
    if !path.exists() {
        bail!(
            "no store at {}: --flaky diagnoses the tests a store calls flaky (ingest, run or hunt first)",
            path.display()
        );
    }
    let known = Known::load(db.clone())
        .with_context(|| format!("cannot read the store at {}", path.display()))?;
    let s = setup_runner(&args.common)?;
    let mut lab = Lab::new(s.adapter.as_ref(), s.scratch.path().to_path_buf());
    lab.stop = Some(&STOP);
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
        let (d, w) = diagnose_one(args, db.clone(), Some(&known), &lab, &s.suite, &test)?;
        warnings.extend(w);
        if !args.common.json {
            eprintln!("  {}", verdict_line(&d));
        }
        done.push(d);
    }
    let interrupted = STOP.load(Ordering::Relaxed) || done.iter().any(|d| d.interrupted);
    let status = if interrupted {
        eprintln!("flakehound diagnose: interrupted; the runs so far are recorded");
        ExitCode::from(INTERRUPTED)
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
            Cell::new(d.category.map_or("-", |c| c.as_str())),
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
                self_program(db.as_deref()),
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
        "* implicates the suspect: significant at 95% (Fisher's exact test against the suspect's first condition){}",
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
            "Verdict: {c} (confidence {:.3}) — {}",
            d.confidence, d.verdict
        )?,
        _ => writeln!(out, "Verdict: {}", d.verdict)?,
    }
    match (&d.reproduction, d.reproduction_rate) {
        (Some(r), Some((f, n))) => writeln!(out, "Reproduce (failed {f} of {n} runs): {r}")?,
        (Some(r), None) => writeln!(out, "Reproduce: {r}")?,
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

pub fn cmd_repro(args: ReproArgs, db: Option<PathBuf>) -> Result<ExitCode> {
    let s = setup(&args.common, &args.test)?;
    let mut lab = Lab::new(s.adapter.as_ref(), s.scratch.path().to_path_buf());
    lab.stop = Some(&STOP);
    let cond = args.conditions.conditions();
    let m = repro::measure(
        &lab,
        &s.test,
        &cond,
        args.runs.max(1),
        args.until_fail,
        &STOP,
    )?;
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
        if let Some(r) = s
            .adapter
            .reproduction(std::slice::from_ref(&s.test), &cond.env)
        {
            writeln!(out, "  command: {r}")?;
        }
        writeln!(out, "  {:.1}s", m.seconds)?;
    }
    let _ = db;
    if m.interrupted {
        eprintln!("flakehound repro: interrupted after {} runs", m.runs);
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(if m.failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn cmd_verify(args: VerifyArgs, db: Option<PathBuf>) -> Result<ExitCode> {
    if !(0.0..1.0).contains(&args.target) || args.target <= 0.0 {
        bail!("--target must be a rate between 0 and 1, e.g. 0.01");
    }
    let s = setup(&args.common, &args.test)?;
    // The rate before the fix, from the store (every stored attempt of the test).
    let before = crate::db_path(db.clone())
        .ok()
        .filter(|p| p.exists())
        .and_then(|p| {
            let mut store = crate::open_store(&p).ok()?;
            let stats = store.test_stats().ok()?;
            let t = stats.into_iter().find(|t| t.id == s.test.id)?;
            (t.passes + t.failures > 0).then_some((t.failures, t.passes + t.failures))
        });
    let mut lab = Lab::new(s.adapter.as_ref(), s.scratch.path().to_path_buf());
    lab.stop = Some(&STOP);
    let v = repro::verify(
        &lab,
        &s.test,
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
    }
    // 0 fixed; 1 failed again; 3 no failure but not enough runs for the claim; 130 Ctrl-C.
    Ok(match v.outcome {
        repro::Outcome::Fixed => ExitCode::SUCCESS,
        repro::Outcome::NotFixed => ExitCode::from(1),
        repro::Outcome::NotEnoughEvidence => ExitCode::from(3),
        repro::Outcome::Interrupted => ExitCode::from(INTERRUPTED),
    })
}

/// What the store knows that orders the experiments, read once per command: each non-stable
/// test's likely cause (its verdict's category, which also reads history: preceding tests,
/// runners, time of day), its failure messages, and the flaky tests, most costly first.
struct Known {
    /// Each test's stored record: failures and runs.
    history: std::collections::HashMap<String, (u64, u64)>,
    categories: std::collections::HashMap<String, flakehound_analysis::category::Category>,
    messages: std::collections::HashMap<String, Vec<String>>,
    flaky: Vec<String>,
}

impl Known {
    /// `None` without a readable store.
    fn load(db: Option<PathBuf>) -> Option<Known> {
        let p = crate::db_path(db).ok().filter(|p| p.exists())?;
        let mut store = crate::open_store(&p).ok()?;
        let entries = flakehound_analysis::report_from_store(store.as_mut(), false)
            .ok()?
            .entries;
        let flaky = entries
            .iter()
            .filter(|e| e.verdict == flakehound_analysis::verdict::Verdict::Flaky)
            .map(|e| e.ranked.id.clone())
            .collect();
        let categories = entries
            .into_iter()
            .filter_map(|e| Some((e.ranked.id.clone(), e.category?)))
            .collect();
        let history = store
            .test_stats()
            .ok()?
            .into_iter()
            .map(|t| (t.id, (t.failures, t.passes + t.failures)))
            .collect();
        let ev = store.failing_evidence().ok()?;
        let mut messages: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for r in ev.results.iter().filter(|r| r.outcome.is_failure()) {
            if let Some(m) = r.message {
                messages
                    .entry(ev.tests[r.test as usize].id.clone())
                    .or_default()
                    .push(ev.messages[m as usize].clone());
            }
        }
        Some(Known {
            history,
            categories,
            messages,
            flaky,
        })
    }

    /// The suspects the store points at for `test` (its likely cause's, then its failure
    /// messages' root-cause categories, most frequent first), and a line telling the user.
    /// With `--only`, only those suspects are named (the others will not run).
    fn priors(
        &self,
        test: &str,
        only: &[diagnose::Suspect],
    ) -> (Vec<diagnose::Suspect>, Option<String>) {
        let mut first = Vec::new();
        let mut said = Vec::new();
        if let Some(&c) = self.categories.get(test) {
            let suspects = diagnose::suspects_for(c);
            if !suspects.is_empty() {
                first.extend_from_slice(suspects);
                said.push(format!("the verdict's likely cause is {c}"));
            }
        }
        let messages = self.messages.get(test).map_or(&[][..], Vec::as_slice);
        let tally = flakehound_analysis::category::tally(messages.iter().map(String::as_str));
        for (category, count, why) in &tally {
            let suspects = diagnose::suspects_for(*category);
            if suspects.is_empty() {
                continue;
            }
            for s in suspects {
                if !first.contains(s) {
                    first.push(*s);
                }
            }
            said.push(format!(
                "{count} of {} failure messages look like {category}{}",
                messages.len(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" (\"{why}\")")
                }
            ));
        }
        if !only.is_empty() {
            first.retain(|s| only.contains(s));
        }
        let line = (!first.is_empty()).then(|| {
            format!(
                "From the store: {}. Testing {} first.",
                said.join("; "),
                first
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        (first, line)
    }
}

/// The tests that ran before `victim` in the newest stored run where it failed, in order.
fn failing_order(db: Option<PathBuf>, victim: &str) -> Option<Vec<TestRef>> {
    let p = crate::db_path(db).ok().filter(|p| p.exists())?;
    let mut store = crate::open_store(&p).ok()?;
    let ev = store.evidence().ok()?;
    let v = ev.tests.iter().position(|t| t.id == victim)? as u32;
    let (run, pos) = ev
        .results
        .iter()
        .filter(|r| r.test == v && r.outcome.is_failure())
        .map(|r| (r.run, r.position))
        .max_by_key(|(run, _)| ev.runs[*run as usize].started_at.clone())?;
    let mut before: Vec<&flakehound_store::ResultRow> = ev
        .results
        .iter()
        .filter(|r| r.run == run && r.position < pos && r.test != v)
        .collect();
    before.sort_by_key(|r| (r.position, r.attempt));
    let mut seen = std::collections::HashSet::new();
    Some(
        before
            .into_iter()
            .filter(|r| seen.insert(r.test))
            .map(|r| {
                let t = &ev.tests[r.test as usize];
                TestRef {
                    id: t.id.clone(),
                    classname: t.classname.clone(),
                    name: t.name.clone(),
                    file: t.file.clone(),
                    suite: Vec::new(),
                }
            })
            .collect(),
    )
    .filter(|v: &Vec<TestRef>| !v.is_empty())
}

pub fn cmd_polluter(args: PolluterArgs, db: Option<PathBuf>) -> Result<ExitCode> {
    let s = setup(&args.common, &args.victim)?;
    let (candidates, source) = match &args.candidates {
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
            (list, format!("{}", path.display()))
        }
        None => match failing_order(db, &s.test.id) {
            Some(order) => (order, "its latest failing run in the store".to_string()),
            None => (
                s.suite
                    .iter()
                    .filter(|t| t.id != s.test.id)
                    .cloned()
                    .collect(),
                "the whole suite".to_string(),
            ),
        },
    };
    if candidates.is_empty() {
        bail!("no candidate tests to search (pass --candidates FILE)");
    }
    eprintln!(
        "flakehound polluter: {} — {} candidates from {source}",
        s.test.id,
        candidates.len()
    );
    let mut lab = Lab::new(s.adapter.as_ref(), s.scratch.path().to_path_buf());
    lab.stop = Some(&STOP);
    let opts = flakehound_detective::polluter::Options {
        confirm: args.confirm,
        cleaners: !args.no_cleaners,
        max_runs: args.max_runs,
        suite: s.suite.clone(),
        ..Default::default()
    };
    let r = flakehound_detective::polluter::find(&lab, &s.test, &candidates, &opts)?;
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
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(if r.culprits.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
