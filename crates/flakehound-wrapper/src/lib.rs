//! `flakehound run`: wrap the CI test command, retry only what failed, record every attempt,
//! and decide the build status without ever lying about it.
//!
//! # Decision rules (the contract with CI)
//!
//! 1. The runner's first invocation decides whether the build is red: exit 0 stays 0
//!    (flakehound never turns a green build red on its own; `--fail-on-flaky` cannot either,
//!    because a green first run has no failure to have passed on retry).
//! 2. A red first run turns green only when its report explains the red: it lists at least one
//!    failed test, and every failed test either passed on a retry (flaky) or is quarantined.
//!    With `fail_on_flaky`, a flaky test keeps the build red.
//! 3. Anything flakehound cannot establish keeps the runner's own status: no report, an
//!    unreadable report, a red exit with no failed test in the report (a collection error, a
//!    coverage threshold, a crash after the report was written), an adapter or retry error.
//!    Each is said in [`WrappedRun::warnings`].
//! 4. A failed test missing from a retry's results stays failed.
//!
//! # Retries
//!
//! Only tests whose last attempt failed are retried, up to `retries` more invocations, selected
//! the runner's native way ([`flakehound_runner::Adapter::plan`]). Runners that cannot select
//! (generic mode) re-run the whole command; only the previously failed tests' results count.
//! Quarantined tests are not retried: their failures do not count anyway, and a retry would
//! only spend CI time. Each invocation's records keep their attempts (runner-level retries such as
//! nextest's `flakyFailure` stay attempts), appended in execution order.
//!
//! # Quarantine matching
//!
//! An entry matches its exact test id, and also every test below it: `tests/a.py::test_x`
//! covers `tests/a.py::test_x[1]`, `tests/a.py::TestY` covers `tests/a.py::TestY::test_z`
//! (the next characters must be `[`, `::`, `/` or ` › `). Past-expiry entries still protect
//! (a forgotten date must not turn builds red) and are reported on every run.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use flakehound_model::{
    Outcome, QuarantineInfo, ReportInfo, RunMeta, RunStatus, TestCase, WrappedRun, WrappedTest,
};
use flakehound_quarantine::{Entry, QuarantineFile};
use flakehound_runner::{Adapter, Cmd, Request, TestRef, exec};

/// How to wrap.
pub struct Options<'a> {
    /// Extra invocations for failed tests.
    pub retries: u32,
    pub fail_on_flaky: bool,
    /// The quarantine, when it could be read.
    pub quarantine: Option<&'a QuarantineFile>,
    pub today: jiff::civil::Date,
    /// Scratch directory for reports (exists, writable).
    pub scratch: PathBuf,
    /// The user's command, for the fallback when the adapter cannot build a plan.
    pub argv: &'a [String],
}

/// The results of one invocation, for recording as evidence.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub number: u32,
    pub command: String,
    pub exit: i32,
    pub info: Option<ReportInfo>,
    pub cases: Vec<TestCase>,
}

/// A wrapped run and the evidence it produced.
#[derive(Clone, Debug, Default)]
pub struct Wrapped {
    pub run: WrappedRun,
    pub invocations: Vec<Invocation>,
}

/// Runs the command with retries (see the crate docs). `out` receives the runner's streamed
/// output when the adapter reads its stdout, and flakehound's progress lines.
pub fn wrap(adapter: &dyn Adapter, opts: &Options<'_>, out: &mut dyn Write) -> Wrapped {
    let started = Instant::now();
    let mut result = Wrapped::default();
    let run = &mut result.run;
    run.runner = adapter.kind().name().to_string();
    run.command = Cmd::from_argv(opts.argv)
        .map(|c| c.display())
        .unwrap_or_default();
    if let Some(q) = opts.quarantine {
        let s = q.summary(opts.today);
        run.quarantine_total = s.total;
        run.quarantine_expired = s.expired;
    }

    // First invocation: the whole command.
    let first = Request {
        invocation: 1,
        repeat: 1,
        ..Request::default()
    };
    let plan = match adapter.plan(&first, &opts.scratch) {
        Ok(p) => p,
        Err(e) => {
            run.warnings.push(format!(
                "cannot prepare the {} command ({e}); ran it unchanged without retries",
                adapter.kind().name()
            ));
            let code = run_unchanged(opts.argv, out, &mut run.warnings);
            run.runner_exit = code;
            run.exit = code;
            run.invocations = 1;
            run.wall_seconds = started.elapsed().as_secs_f64();
            return result;
        }
    };
    let exec1 = match exec::execute(adapter, &plan, out) {
        Ok(x) => x,
        Err(e) => {
            // The command could not even start: a red build, as a shell would make it.
            run.warnings
                .push(format!("cannot run the test command: {e}"));
            run.runner_exit = 127;
            run.exit = 127;
            run.wall_seconds = started.elapsed().as_secs_f64();
            return result;
        }
    };
    run.runner_exit = exec1.code;
    run.exit = exec1.code;
    run.invocations = 1;
    let results = match adapter.read(&plan) {
        Ok(r) => r,
        Err(e) => {
            run.warnings.push(format!(
                "{e}; keeping the runner's exit status {}",
                exec1.code
            ));
            run.wall_seconds = started.elapsed().as_secs_f64();
            return result;
        }
    };
    result.invocations.push(Invocation {
        number: 1,
        command: plan.cmd.display(),
        exit: exec1.code,
        info: results.info.first().cloned(),
        cases: results.cases.clone(),
    });

    // Tests in first-seen order; records of the same id in one invocation merge their attempts.
    let mut order: Vec<String> = Vec::new();
    let mut tests: HashMap<String, TestCase> = HashMap::new();
    let mut refs: HashMap<String, TestRef> = HashMap::new();
    for case in results.cases {
        merge(&mut tests, &mut order, &mut refs, case);
    }

    let quarantined = |id: &str| opts.quarantine.and_then(|q| find_entry(q.entries(), id));
    let still_failing = |tests: &HashMap<String, TestCase>| -> Vec<String> {
        order
            .iter()
            .filter(|id| last_outcome(&tests[*id]).is_failure() && quarantined(id).is_none())
            .cloned()
            .collect()
    };

    let can_select = adapter.capabilities().select;
    for retry in 1..=opts.retries {
        let failing = still_failing(&tests);
        if failing.is_empty() || exec1.code == 0 {
            break;
        }
        let invocation = retry + 1;
        let selection: Vec<TestRef> = failing.iter().map(|id| refs[id].clone()).collect();
        let req = Request {
            selection: can_select.then_some(selection),
            invocation,
            repeat: 1,
            ..Request::default()
        };
        let _ = writeln!(
            out,
            "flakehound: retry {retry}/{}: {} failed test{}{}",
            opts.retries,
            failing.len(),
            if failing.len() == 1 { "" } else { "s" },
            if can_select {
                ""
            } else {
                " (this runner cannot select tests: re-running the whole command)"
            }
        );
        let _ = out.flush();
        let plan = match adapter.plan(&req, &opts.scratch) {
            Ok(p) => p,
            Err(e) => {
                run.warnings
                    .push(format!("cannot prepare retry {retry}: {e}"));
                break;
            }
        };
        let x = match exec::execute(adapter, &plan, out) {
            Ok(x) => x,
            Err(e) => {
                run.warnings.push(format!("cannot run retry {retry}: {e}"));
                break;
            }
        };
        run.invocations += 1;
        let results = match adapter.read(&plan) {
            Ok(r) => r,
            Err(e) => {
                run.warnings.push(format!(
                    "retry {retry}: {e}; its tests count as still failing"
                ));
                break;
            }
        };
        result.invocations.push(Invocation {
            number: invocation,
            command: plan.cmd.display(),
            exit: x.code,
            info: results.info.first().cloned(),
            cases: results.cases.clone(),
        });
        let mut seen = std::collections::HashSet::new();
        for case in results.cases {
            // Only the retried tests' attempts count (a whole-command re-run runs all of them).
            if !failing.contains(&case.id) {
                continue;
            }
            seen.insert(case.id.clone());
            if let Some(t) = tests.get_mut(&case.id) {
                t.attempts.extend(case.attempts);
                t.outcome = last_outcome(t);
            }
        }
        let missing = failing.iter().filter(|id| !seen.contains(*id)).count();
        if missing > 0 {
            run.warnings.push(format!(
                "retry {retry}: {missing} of {} retried test{} not in its results (still failing)",
                failing.len(),
                if failing.len() == 1 { " was" } else { "s were" }
            ));
        }
    }

    // Statuses.
    for id in &order {
        let case = tests.remove(id).expect("every ordered id has a test");
        let entry = quarantined(id);
        let status = status_of(&case, entry.is_some());
        run.tests.push(WrappedTest {
            quarantine: entry.map(|e| QuarantineInfo {
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expires: e.expires.to_string(),
                expired: e.is_expired(opts.today),
                issue: e.issue.clone(),
            }),
            case,
            status,
            owner: None,
        });
    }
    run.exit = decide(run, opts.fail_on_flaky);
    run.wall_seconds = started.elapsed().as_secs_f64();
    result
}

/// The exit status from the statuses (rules 1–3 of the crate docs).
fn decide(run: &mut WrappedRun, fail_on_flaky: bool) -> i32 {
    let code = run.runner_exit;
    if code == 0 {
        let red = run.count(RunStatus::Failed);
        if red > 0 {
            run.warnings.push(format!(
                "the runner exited 0 although its report has {red} failed test{}; keeping exit 0",
                if red == 1 { "" } else { "s" }
            ));
        }
        return 0;
    }
    let explained = run.count(RunStatus::Flaky) + run.count(RunStatus::Quarantined);
    if explained == 0 && run.count(RunStatus::Failed) == 0 {
        run.warnings.push(format!(
            "the runner exited {code} but its report shows no failed test; keeping exit {code}"
        ));
        return code;
    }
    if run.count(RunStatus::Failed) > 0 || (fail_on_flaky && run.count(RunStatus::Flaky) > 0) {
        return code;
    }
    0
}

fn status_of(case: &TestCase, quarantined: bool) -> RunStatus {
    let last = last_outcome(case);
    let ever_failed = case.attempts.iter().any(|a| a.outcome.is_failure());
    match last {
        Outcome::Passed if ever_failed => RunStatus::Flaky,
        Outcome::Passed => RunStatus::Passed,
        Outcome::Skipped if !ever_failed => RunStatus::Skipped,
        Outcome::Skipped | Outcome::Failed | Outcome::Errored => {
            if quarantined {
                RunStatus::Quarantined
            } else {
                RunStatus::Failed
            }
        }
    }
}

/// Outcome of the last attempt (records from the parsers always have one).
fn last_outcome(case: &TestCase) -> Outcome {
    case.attempts.last().map_or(case.outcome, |a| a.outcome)
}

fn merge(
    tests: &mut HashMap<String, TestCase>,
    order: &mut Vec<String>,
    refs: &mut HashMap<String, TestRef>,
    case: TestCase,
) {
    match tests.get_mut(&case.id) {
        Some(t) => {
            t.attempts.extend(case.attempts);
            t.outcome = last_outcome(t);
        }
        None => {
            order.push(case.id.clone());
            refs.insert(case.id.clone(), TestRef::from(&case));
            tests.insert(case.id.clone(), case);
        }
    }
}

/// The quarantine entry covering `id` (exact, or a parent: see the crate docs).
pub fn find_entry<'e>(entries: &'e [Entry], id: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| e.id == id).or_else(|| {
        entries
            .iter()
            .filter(|e| {
                id.strip_prefix(e.id.as_str()).is_some_and(|rest| {
                    ["[", "::", "/", " › "]
                        .iter()
                        .any(|sep| rest.starts_with(sep))
                })
            })
            .max_by_key(|e| e.id.len())
    })
}

/// Runs the user's argv as is (the adapter could not build a plan); returns its exit code.
fn run_unchanged(argv: &[String], out: &mut dyn Write, warnings: &mut Vec<String>) -> i32 {
    let Some((program, args)) = argv.split_first() else {
        warnings.push("empty test command".into());
        return 2;
    };
    let _ = out.flush();
    match std::process::Command::new(program).args(args).status() {
        Ok(s) => exit_code(s),
        Err(e) => {
            warnings.push(format!("cannot run `{program}`: {e}"));
            127
        }
    }
}

fn exit_code(s: std::process::ExitStatus) -> i32 {
    if let Some(c) = s.code() {
        return c;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return 128 + sig;
        }
    }
    1
}

/// Writes every invocation's records into the store as one run (`source` `run`), one report
/// per invocation, so retries are attempts 2, 3... of the same run. Idempotent: a report is
/// identified by the run key, the invocation number and its content.
pub fn record(
    store: &mut dyn flakehound_store::Store,
    invocations: &[Invocation],
    meta: &RunMeta,
    run_key: &flakehound_store::RunKey,
) -> flakehound_store::Result<u64> {
    let mut written = 0;
    for inv in invocations {
        let mut h = blake3::Hasher::new();
        h.update(run_key.0.as_bytes());
        h.update(&inv.number.to_le_bytes());
        h.update(inv.command.as_bytes());
        for c in &inv.cases {
            h.update(serde_json::to_string(c).unwrap_or_default().as_bytes());
        }
        let hash = h.finalize().to_hex().to_string();
        let path = format!("flakehound-run/invocation-{}", inv.number);
        let info = inv.info.clone().unwrap_or_default();
        let report = flakehound_store::NewReport {
            hash: &hash,
            path: Some(&path),
            format: info.format,
            run_key,
            run: meta,
            source: "run",
        };
        if let Some(w) = flakehound_store::write_report(store, &report, &inv.cases, &info)? {
            written += w.results;
        }
    }
    store.flush()?;
    Ok(written)
}

/// A run key for a wrapped run: the CI run's when the environment names one, else a fresh
/// local key (every local `flakehound run` is its own run).
pub fn run_key(meta: &RunMeta) -> flakehound_store::RunKey {
    flakehound_store::RunKey::from_meta(meta).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut h = blake3::Hasher::new();
        h.update(&nanos.to_le_bytes());
        h.update(&std::process::id().to_le_bytes());
        flakehound_store::RunKey(format!("run/{}", &h.finalize().to_hex()[..16]))
    })
}

#[cfg(test)]
mod tests;
