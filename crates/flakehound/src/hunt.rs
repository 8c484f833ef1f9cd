//! `flakehound hunt`: flags in, the hunt crate does the work, a table out.

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table, modifiers, presets};
use flakehound_hunt::{Class, Hunt};
use flakehound_model::exit;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(clap::Args)]
pub struct HuntArgs {
    /// Wall-clock budget: `90s`, `10m`, `1h30m` (default 5m when --runs is not given).
    #[arg(long, value_parser = parse_duration, value_name = "TIME")]
    budget: Option<Duration>,
    /// Rounds of the whole suite (follow-up runs of failing tests come on top).
    #[arg(long, short = 'n', value_name = "N")]
    runs: Option<u32>,
    /// Executions at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    workers: Option<usize>,
    /// Seed of the shuffled orders and hash seeds; printed, so a hunt can be replayed.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Time zones (`TZ`) the rounds take turns with, comma-separated; `machine` is the
    /// machine's own (round 1 runs under the first). Default: machine, 12 hours west of UTC and
    /// 14 hours east. `--tz machine` varies nothing.
    #[arg(long, value_delimiter = ',', value_name = "ZONES")]
    tz: Vec<String>,
    /// Hunt only this part of the suite: `K/N` (a stable split for CI matrices).
    #[arg(long, value_name = "K/N")]
    shard: Option<flakehound_hunt::Shard>,
    /// The result as JSON.
    #[arg(long)]
    json: bool,
    /// Do not record the executions in the store.
    #[arg(long)]
    no_record: bool,
    /// The test runner, when it cannot be told from the command.
    #[arg(long, value_parser = crate::run::parse_runner, value_name = "RUNNER")]
    test_runner: Option<flakehound_runner::RunnerKind>,
    /// Exit 1 when a hunted test is in one of these classes (comma-separated): broken,
    /// order-dependent, non-idempotent, parallel, flaky, or `any` for all five. For scheduled
    /// jobs.
    #[arg(long, value_delimiter = ',', value_enum, value_name = "CLASSES")]
    fail_on: Vec<FailOn>,
    #[command(flatten)]
    events: crate::events::EventsOpt,
    /// Hunt only tests whose id contains one of these.
    #[arg(value_name = "TEST-FILTER")]
    filters: Vec<String>,
    /// The test command.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Classes `--fail-on` accepts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Broken,
    OrderDependent,
    NonIdempotent,
    Parallel,
    Flaky,
    /// Every class but stable.
    Any,
}

impl FailOn {
    fn matches(self, class: Class) -> bool {
        match self {
            FailOn::Broken => class == Class::Broken,
            FailOn::OrderDependent => class == Class::OrderDependent,
            FailOn::NonIdempotent => class == Class::NonIdempotent,
            FailOn::Parallel => class == Class::Parallel,
            FailOn::Flaky => class == Class::Flaky,
            FailOn::Any => class != Class::Stable,
        }
    }
}

/// `90s`, `10m`, `1h30m`, `2h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("{s:?} is not a duration (use e.g. 90s, 10m, 1h30m)");
    let t = s.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| err())?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(err()),
        };
    }
    if !num.is_empty() || total == 0 {
        return Err(err());
    }
    Ok(Duration::from_secs(total))
}

static STOP: AtomicBool = AtomicBool::new(false);

pub fn cmd_hunt(ctx: &Context, args: HuntArgs) -> Result<ExitCode> {
    let mut budget = flakehound_hunt::Budget {
        time: args.budget,
        runs: args.runs,
    };
    if budget.time.is_none() && budget.runs.is_none() {
        budget.time = Some(Duration::from_secs(300));
    }
    if args.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let seed = args.seed.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        flakehound_hunt::schedule::derive(nanos, u64::from(std::process::id())) % 1_000_000
    });
    // pytest-randomly and pytest-rerunfailures would take the experiment's control away (orders
    // and seeds, failures hidden by reruns): say so, and turn them off for the hunt's runs.
    let mut plugin_warnings = Vec::new();
    let command = match flakehound_runner::pytest_plugins(&args.command, None) {
        Some(plugins) => {
            let shown = args.command.join(" ");
            for w in plugins.warnings(&shown) {
                plugin_warnings.push(format!(
                    "{w}; the hunt turns it off for its runs (-p no:randomly / --reruns=0)"
                ));
            }
            flakehound_runner::without_plugin_interference(&args.command, &plugins)
        }
        None => args.command.clone(),
    };
    let adapter = flakehound_runner::detect(&command, args.test_runner, None)?;
    let hint_prefix = ctx.hint_prefix();
    let hint_suffix = hint_suffix(&args);
    let scratch = tempfile::Builder::new()
        .prefix("flakehound-hunt-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    // Ctrl-C is ours from the start: during the listing too, the terminal's SIGINT reaches the
    // list command (same process group), and the hunt says it was interrupted instead of dying
    // silently or reporting the interrupted listing as a failure.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let listed = flakehound_hunt::list_tests(adapter.as_ref(), scratch.path());
    if STOP.load(Ordering::Relaxed) {
        eprintln!("flakehound hunt: interrupted while listing the tests; nothing was run");
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    let listed = listed?;
    let total = listed.len();
    let subset = !args.filters.is_empty() || args.shard.is_some();
    let tests = flakehound_hunt::select(listed, &args.filters, args.shard);
    let session = session_id(seed);
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let mut warnings = plugin_warnings;
    let mut store = if args.no_record {
        None
    } else {
        match ctx.open() {
            Ok(s) => Some(s),
            Err(e) => {
                warnings.push(format!("executions not recorded: {e:#}"));
                None
            }
        }
    };

    let cfg = flakehound_hunt::Config {
        budget,
        workers,
        seed,
        filters: args.filters.clone(),
        shard: args.shard,
        scratch: scratch.path().to_path_buf(),
        session: session.clone(),
        meta: flakehound_ci::detect(&cwd),
        warnings,
        zones: if args.tz.is_empty() {
            flakehound_hunt::default_zones()
        } else {
            args.tz
                .iter()
                .map(|z| z.trim())
                .filter(|z| !z.is_empty())
                .map(|z| (z != "machine").then(|| z.to_string()))
                .collect()
        },
    };
    let mode = if ctx.color && !args.json {
        crate::events::Mode::Progress
    } else {
        crate::events::Mode::Text
    };
    let mut renderer =
        crate::events::Renderer::new(mode, crate::events::Lines::Stderr, &args.events)?;
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "flakehound hunt: {} of {total} tests, {} worker{}, seed {seed} (replay with --seed {seed}), {}",
        tests.len(),
        workers,
        if workers == 1 { "" } else { "s" },
        match (budget.time, budget.runs) {
            (Some(t), Some(r)) => format!("budget {}s or {r} rounds", t.as_secs()),
            (Some(t), None) => format!("budget {}s", t.as_secs()),
            (None, Some(r)) => format!("{r} rounds"),
            (None, None) => String::new(),
        }
    );
    let result = flakehound_hunt::hunt(
        adapter.as_ref(),
        &cfg,
        tests,
        subset,
        store.as_deref_mut(),
        &STOP,
        &mut |e| renderer.event(e),
    );
    drop(renderer);
    let mut hunt = result?;
    if let Some(s) = store.as_deref_mut() {
        if let Err(e) = s.flush() {
            hunt.warnings.push(format!("executions not recorded: {e}"));
        }
    }
    for f in &mut hunt.findings {
        f.hints = hints(f, &hint_prefix, &hint_suffix);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &hunt)?;
        writeln!(out)?;
    } else {
        summary(&mut out, &hunt)?;
    }
    out.flush()?;
    drop(out);
    // Interrupted: the partial result is printed, but the exit says the hunt did not finish
    // (a scheduled job must not take a cut-short hunt for a clean one).
    if hunt.stopped == flakehound_hunt::Stop::Interrupted {
        eprintln!("flakehound hunt: interrupted; the results above are partial");
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    let matched: Vec<&flakehound_hunt::Finding> = hunt
        .findings
        .iter()
        .filter(|f| args.fail_on.iter().any(|c| c.matches(f.class)))
        .collect();
    if !matched.is_empty() {
        eprintln!(
            "flakehound hunt: --fail-on matched {} test{}:",
            matched.len(),
            if matched.len() == 1 { "" } else { "s" }
        );
        for f in matched {
            eprintln!("  {} ({})", f.id, f.class.as_str());
        }
        return Ok(ExitCode::from(exit::FINDINGS));
    }
    Ok(ExitCode::SUCCESS)
}

/// `[--test-runner R] -- COMMAND...`, shell-quoted.
fn hint_suffix(args: &HuntArgs) -> String {
    let mut s = String::new();
    if let Some(r) = args.test_runner {
        s.push_str(" --test-runner ");
        s.push_str(r.name());
    }
    s.push_str(" --");
    for a in &args.command {
        s.push(' ');
        s.push_str(&flakehound_runner::shell_quote(a));
    }
    s
}

/// The commands that take a finding further, each complete (`-- COMMAND` included).
fn hints(f: &flakehound_hunt::Finding, prefix: &str, suffix: &str) -> Vec<String> {
    let id = flakehound_runner::shell_quote(&f.id);
    let mut out = Vec::new();
    // Shared random state has no polluter to find: the tests before it only drew numbers.
    let random_state = f
        .factor
        .as_ref()
        .is_some_and(|x| x.variable == "random state");
    if f.class == Class::OrderDependent && !f.failing_order.is_empty() && !random_state {
        out.push(format!("{prefix} polluter {id}{suffix}"));
    }
    // A varied condition it follows: reproduce it under a failing value.
    if let Some(value) = f.factor.as_ref().and_then(|x| {
        x.fails_under
            .first()
            .filter(|v| (x.variable != "TZ" || *v != "machine") && x.variable != "random state")
            .map(|v| format!("{}={v}", x.variable))
    }) {
        let env = flakehound_runner::shell_quote(&value);
        out.push(format!("{prefix} repro {id} --env {env}{suffix}"));
    }
    if matches!(f.class, Class::Flaky | Class::NonIdempotent) || random_state {
        out.push(format!("{prefix} diagnose {id}{suffix}"));
    }
    out
}

fn session_id(seed: u64) -> String {
    let now = jiff::Timestamp::now();
    let h = blake3::hash(format!("{now}{seed}{}", std::process::id()).as_bytes());
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%S"),
        &h.to_hex().as_str()[..6]
    )
}

fn summary(out: &mut impl Write, h: &Hunt) -> std::io::Result<()> {
    let stopped = match h.stopped {
        flakehound_hunt::Stop::Interrupted => ", interrupted (results so far)",
        flakehound_hunt::Stop::Time => ", time budget spent",
        flakehound_hunt::Stop::Rounds => "",
    };
    writeln!(
        out,
        "Hunted {} tests with {} executions ({} rounds) in {:.1}s on {} worker{}, seed {}{stopped}.",
        h.tests,
        h.executions,
        h.rounds,
        h.seconds,
        h.workers,
        if h.workers == 1 { "" } else { "s" },
        h.seed
    )?;
    let found: Vec<_> = h
        .findings
        .iter()
        .filter(|f| f.class != Class::Stable)
        .collect();
    if found.is_empty() {
        writeln!(out, "No test failed.")?;
    } else {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(
                ["Test", "Class", "Runs", "Fail", "Failure rate [95% CI]"]
                    .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
            );
        for f in &found {
            table.add_row(vec![
                Cell::new(&f.id),
                Cell::new(f.class.as_str()),
                Cell::new(f.runs).set_alignment(CellAlignment::Right),
                Cell::new(f.failures).set_alignment(CellAlignment::Right),
                Cell::new(&f.claim),
            ]);
        }
        writeln!(out, "{table}")?;
        for f in &found {
            writeln!(out, "{} — {}: {}", f.id, f.class.as_str(), f.detail)?;
            if let Some(m) = &f.message {
                writeln!(out, "    message: {m}")?;
            }
            // Shared random state has no polluter to find: the tests before it only drew numbers.
            let random_state = f
                .factor
                .as_ref()
                .is_some_and(|x| x.variable == "random state");
            if f.class == Class::OrderDependent && !f.failing_order.is_empty() && !random_state {
                writeln!(
                    out,
                    "    failing order: {} test(s) before it",
                    f.failing_order.len(),
                )?;
            }
            // One hint a line, nothing around it, so that it can be copied whole.
            for h in &f.hints {
                let what = if h.contains(" polluter ") {
                    "find the polluter"
                } else if h.contains(" repro ") {
                    "reproduce it"
                } else {
                    "name the cause"
                };
                writeln!(out, "    {what}:")?;
                writeln!(out, "      {h}")?;
            }
        }
    }
    let stable: Vec<_> = h
        .findings
        .iter()
        .filter(|f| f.class == Class::Stable)
        .collect();
    if let Some(weakest) = stable.iter().min_by_key(|f| f.runs) {
        writeln!(
            out,
            "{} stable test{}: never failed; the least-run one: {}.",
            stable.len(),
            if stable.len() == 1 { "" } else { "s" },
            weakest.claim
        )?;
    }
    for w in &h.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        use super::parse_duration;
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        for bad in ["", "m", "10x", "1h30", "0s", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
