//! `flakehound run`: wrap the CI test command, retry only what failed, record every attempt,
//! and decide the build status without ever lying about it.
//!
//! # Decision rules (the contract with CI)
//!
//! Never make CI lie: a problem of flakehound's own never turns a red build green nor a green
//! build red; the runner's own exit status is the fallback for everything flakehound cannot
//! establish. Each rule has a test (unit tests in `tests.rs`, CLI tests in
//! `crates/flakehound/tests/run.rs`).
//!
//! 1. The runner's first invocation decides whether the build is red: exit 0 stays 0
//!    (flakehound never turns a green build red on its own). One exception, asked for by the
//!    user: with `fail_on_flaky`, a test the runner itself retried into a pass (its report or
//!    pytest-rerunfailures' reruns show a failed attempt) fails the build, exit 1.
//! 2. A red first run turns green only when its report explains the red: it lists at least one
//!    failed test, and every failed test either passed on a retry (flaky) or is quarantined.
//!    With `fail_on_flaky`, a flaky test keeps the build red, and the reason names the tests.
//! 3. Anything flakehound cannot establish keeps the runner's own status: no report, an
//!    unreadable report, a red exit with no failed test in the report (a collection error, a
//!    crash after the report was written), an adapter or retry error.
//!    Each is said in [`WrappedRun::warnings`].
//! 4. A failed test missing from a retry's results stays failed.
//! 5. **Plumbing.** When flakehound cannot write its scratch files (no scratch directory, a full
//!    filesystem: a 1 MiB probe is written and synced first), the command runs unchanged and its
//!    own status is the result. A stdout capture that fails mid-run keeps the runner's status.
//!    When the runner failed, its report is missing and the scratch filesystem has filled up
//!    meanwhile (the runner may have failed only because it could not write the report
//!    flakehound asked for), the command runs once more unchanged and that status is the result.
//! 6. **Failures that are not a test's** keep a red build red even when every failed test passed
//!    on retry: an exit status other than the runner's "tests failed" one
//!    ([`flakehound_runner::Adapter::test_failure_exit`], e.g. pytest's 3 for an internal
//!    error); what the runner says about its session
//!    ([`flakehound_runner::Adapter::non_test_failure`]: for pytest, a pytest_sessionfinish hook
//!    that raised or changed the status, a coverage gate counted by pytest-cov); a retry that
//!    exits red although none of its tests failed. The reason names them.
//! 7. **Could not start.** A command that cannot be executed exits 126, one that is not found
//!    127, as a shell would.
//! 8. **Signals.** SIGINT, SIGTERM and SIGHUP are forwarded to the command's process group (it
//!    runs in a group of its own, so its children go too); no retry follows; what ran is
//!    recorded and summarised; the exit is 128 + the signal (130 for Ctrl-C, 143 for SIGTERM).
//!    A second signal kills the group (SIGKILL), for a command that ignores the first.
//! 9. **Timeouts.** `timeout` bounds the whole run, `attempt_timeout` each invocation. At the
//!    limit the command's process group gets SIGTERM, then SIGKILL after `grace`. A first run
//!    stopped so ends the run with the runner's status (143 when the SIGTERM killed it; 124,
//!    `timeout(1)`'s, if it still exited 0); a retry stopped so leaves its tests failed.
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

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod config;

use flakehound_events::{Emitter, Ending, Engine, EventKind, TestResult};
use flakehound_model::exit;
use flakehound_model::{
    Outcome, QuarantineInfo, ReportInfo, RunMeta, RunStatus, TestCase, WrappedRun, WrappedTest,
};
use flakehound_quarantine::{Entry, QuarantineFile};
use flakehound_runner::{Adapter, Cmd, Plan, Request, TestRef, exec};

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
    /// Limit for the whole wrapped run, every invocation included.
    pub timeout: Option<Duration>,
    /// Limit for each invocation (the first run and every retry).
    pub attempt_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a timeout stops the command.
    pub grace: Duration,
    /// Pause before each retry (a service the tests need may come back).
    pub retry_delay: Duration,
    /// When not empty, a failed test is retried only when its failure message matches one of
    /// these (pytest-rerunfailures' `--only-rerun`); the others stay failed.
    pub only_rerun: Vec<regex::Regex>,
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
    /// The signal (SIGINT, SIGTERM, SIGHUP) that stopped the run; `run.exit` is 128 + it.
    pub interrupted: Option<i32>,
    /// A timeout (`--timeout`, `--attempt-timeout`) stopped the run.
    pub timed_out: bool,
}

/// Size of the scratch probe: a filesystem that cannot take this much cannot take a report.
const PROBE_BYTES: usize = 1024 * 1024;

/// Whether `dir` can take flakehound's files (a report, a capture): writes and syncs a probe.
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(".flakehound-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// One invocation's outcome as the wrapper sees it.
enum Step {
    Ran(exec::Ran),
    /// Could not start: the shell's status (126, 127) and why.
    NotStarted(i32, String),
}

struct Clock<'o, 'e> {
    started: Instant,
    opts: &'o Options<'o>,
    events: RefCell<Emitter<'e>>,
}

impl Clock<'_, '_> {
    fn emit(&self, kind: EventKind) {
        self.events.borrow_mut().emit(kind);
    }

    /// An invocation starts.
    fn started(&self, number: u32, label: &str) {
        self.emit(EventKind::ExecutionStarted {
            number,
            label: label.to_string(),
        });
    }

    /// An invocation ended: `cases` are its results when they could be read (then it counts).
    fn finished(
        &self,
        (number, label): (u32, &str),
        exit: Option<i32>,
        seconds: f64,
        cases: Option<&[TestCase]>,
    ) {
        let all = cases.unwrap_or_default();
        self.emit(EventKind::ExecutionFinished {
            number,
            label: label.to_string(),
            exit,
            passed: all
                .iter()
                .filter(|c| last_outcome(c) == Outcome::Passed)
                .count() as u64,
            failed: all.iter().filter(|c| last_outcome(c).is_failure()).count() as u64,
            seconds,
            counted: cases.is_some(),
        });
    }

    /// The tests of an invocation whose result matters: failures, and (on a retry) passes.
    fn results(&self, number: u32, cases: &[TestCase]) {
        for c in cases {
            let o = last_outcome(c);
            let result = if o.is_failure() {
                TestResult::Failed
            } else if number > 1 && o == Outcome::Passed {
                TestResult::PassedOnRetry
            } else {
                continue;
            };
            self.emit(EventKind::Test {
                test: c.id.clone(),
                result,
                execution: number,
            });
        }
    }

    /// The limit for the next invocation and the option that sets it.
    fn limit(&self) -> Option<(Duration, &'static str)> {
        let whole = self
            .opts
            .timeout
            .map(|t| (t.saturating_sub(self.started.elapsed()), "--timeout"));
        let each = self.opts.attempt_timeout.map(|t| (t, "--attempt-timeout"));
        match (whole, each) {
            (Some(w), Some(e)) => Some(if e.0 < w.0 { e } else { w }),
            (w, e) => w.or(e),
        }
    }

    fn invoke(&self, adapter: &dyn Adapter, plan: &Plan, out: &mut dyn Write) -> (Step, &str) {
        let limit = self.limit();
        let limits = exec::Limits {
            timeout: limit.map(|l| l.0),
            grace: self.opts.grace,
        };
        let _ = out.flush();
        let step = match exec::run(adapter, plan, out, &limits) {
            Ok(ran) => Step::Ran(ran),
            Err(e) => Step::NotStarted(exec::spawn_status(&e), e.to_string()),
        };
        (step, limit.map_or("", |l| l.1))
    }
}

use flakehound_events::secs;

fn signal_name(sig: i32) -> String {
    match sig {
        1 => "SIGHUP".into(),
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// Runs the command with retries (see the crate docs). `out` receives the runner's streamed
/// output (when the adapter reads its stdout, the lines it shows). `events` hears the run
/// start, every invocation start and end, the failures and passes on retry, each retry (and its
/// delay), the warnings and the end; the wrapper prints nothing of its own.
pub fn wrap(
    adapter: &dyn Adapter,
    opts: &Options<'_>,
    out: &mut dyn Write,
    events: flakehound_events::Sink<'_>,
) -> Wrapped {
    let clock = Clock {
        started: Instant::now(),
        opts,
        events: RefCell::new(Emitter::new(events)),
    };
    clock.emit(EventKind::Started {
        engine: Engine::Run,
        subject: Cmd::from_argv(opts.argv).map(|c| c.display()),
        tests: None,
        planned: Some(u64::from(opts.retries)),
        unit: Some("retries".into()),
    });
    let mut result = Wrapped::default();
    wrap_into(adapter, opts, out, &clock, &mut result);
    result.run.wall_seconds = clock.started.elapsed().as_secs_f64();
    finish(&clock, &result);
    result
}

/// The warnings and the end of a run, as events.
fn finish(clock: &Clock<'_, '_>, result: &Wrapped) {
    let run = &result.run;
    for w in &run.warnings {
        clock.emit(EventKind::Warning { message: w.clone() });
    }
    let mut summary = format!(
        "exit {}: {} passed, {} failed, {} flaky, {} quarantined in {} invocation{}",
        run.exit,
        run.count(RunStatus::Passed),
        run.count(RunStatus::Failed),
        run.count(RunStatus::Flaky),
        run.count(RunStatus::Quarantined),
        run.invocations,
        if run.invocations == 1 { "" } else { "s" }
    );
    if let Some(r) = &run.reason {
        summary.push_str(&format!("; {r}"));
    }
    clock.emit(EventKind::Finished {
        engine: Engine::Run,
        ending: if result.interrupted.is_some() {
            Ending::Interrupted
        } else if result.timed_out {
            Ending::TimedOut
        } else {
            Ending::Completed
        },
        summary,
    });
}

fn wrap_into(
    adapter: &dyn Adapter,
    opts: &Options<'_>,
    out: &mut dyn Write,
    clock: &Clock<'_, '_>,
    result: &mut Wrapped,
) {
    let run = &mut result.run;
    let runner = adapter.kind().name();
    run.runner = runner.to_string();
    run.command = Cmd::from_argv(opts.argv)
        .map(|c| c.display())
        .unwrap_or_default();
    if let Some(q) = opts.quarantine {
        let s = q.summary(opts.today);
        run.quarantine_total = s.total;
        run.quarantine_expired = s.expired;
    }

    // Rule 5: flakehound's plumbing must be able to write its files, or it must not be in the
    // way (a report the runner cannot write fails the runner).
    if let Err(e) = probe(&opts.scratch) {
        run.warnings.push(format!(
            "cannot write flakehound's scratch files in {} ({e}); ran the command unchanged, \
             without retries",
            opts.scratch.display()
        ));
        unchanged(opts, out, clock, result);
        return;
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
                "cannot prepare the {runner} command ({e}); ran it unchanged without retries"
            ));
            unchanged(opts, out, clock, result);
            return;
        }
    };
    const FIRST: (u32, &str) = (1, "first run");
    clock.started(FIRST.0, FIRST.1);
    let (step, limit) = clock.invoke(adapter, &plan, out);
    let ran = match step {
        Step::Ran(ran) => ran,
        Step::NotStarted(code, e) => {
            clock.finished(FIRST, None, 0.0, None);
            // As a shell would: 126 found but not executable, 127 not found.
            run.warnings
                .push(format!("cannot run the test command: {e}"));
            run.runner_exit = code;
            run.exit = code;
            run.reason = Some(format!(
                "the test command could not be started (exit {code})"
            ));
            return;
        }
    };
    let code = ran.execution.code;
    let seconds = ran.execution.duration.as_secs_f64();
    run.runner_exit = code;
    run.exit = code;
    run.invocations = 1;
    if let Some(e) = &ran.capture_error {
        clock.finished(FIRST, Some(code), seconds, None);
        run.warnings.push(format!(
            "{e}; the command ran but its report is lost: keeping the runner's exit status {code}"
        ));
        return;
    }
    let mut stop: Option<String> = None;
    if ran.timed_out {
        stop = Some(format!(
            "the test command timed out after {} ({limit}) and was stopped",
            secs(ran.execution.duration)
        ));
    }
    let results = match adapter.read(&plan) {
        Ok(r) => r,
        Err(e) => {
            clock.finished(FIRST, Some(code), seconds, None);
            if let Some(why) = stop {
                return stopped(result, why, ran.interrupted);
            }
            if ran.interrupted.is_some() {
                return stopped(result, String::new(), ran.interrupted);
            }
            if code != 0 {
                if let Err(full) = probe(&opts.scratch) {
                    // The runner may have failed only because it could not write the report we
                    // asked for: only its own run can tell its own status.
                    run.warnings.push(format!(
                        "{e}, and flakehound's scratch directory {} no longer takes files \
                         ({full}): running the command again unchanged for its own status",
                        opts.scratch.display()
                    ));
                    unchanged(opts, out, clock, result);
                    return;
                }
            }
            run.warnings
                .push(format!("{e}; keeping the runner's exit status {code}"));
            return;
        }
    };
    let mut results = results;
    if ran.interrupted.is_some() {
        // pytest writes the test it was interrupted in as a nameless `<testcase/>`: not a pass.
        results.cases.retain(|c| !c.name.is_empty());
    }
    clock.finished(FIRST, Some(code), seconds, Some(&results.cases));
    clock.results(FIRST.0, &results.cases);
    result.invocations.push(Invocation {
        number: 1,
        command: plan.cmd.display(),
        exit: code,
        info: results.info.first().cloned(),
        cases: results.cases.clone(),
    });
    let run = &mut result.run;
    run.warnings.extend(adapter.notes(&plan));

    // Failures that are not a test's: they keep the build red whatever the retries show.
    let mut non_test: Vec<String> = Vec::new();
    if code != 0 {
        if let Some(tests_failed) = adapter.test_failure_exit() {
            if code != tests_failed {
                non_test.push(format!(
                    "exit {code} is not {runner}'s status for failed tests ({tests_failed})"
                ));
            }
        }
        if let Some(why) = adapter.non_test_failure(&plan) {
            non_test.push(why);
        }
    }

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
    let retryable = |case: &TestCase| -> bool {
        opts.only_rerun.is_empty()
            || case
                .attempts
                .iter()
                .rev()
                .find(|a| a.outcome.is_failure())
                .and_then(|a| a.failure.as_ref())
                .is_some_and(|f| {
                    let text = format!(
                        "{}\n{}",
                        f.message.as_deref().unwrap_or_default(),
                        f.kind.as_deref().unwrap_or_default()
                    );
                    opts.only_rerun.iter().any(|re| re.is_match(&text))
                })
    };
    let mut interrupted = ran.interrupted;

    let can_select = adapter.capabilities().select;
    let mut skipped_by_filter = 0;
    for retry in 1..=opts.retries {
        if stop.is_some() || interrupted.is_some() || code == 0 {
            break;
        }
        let all_failing = still_failing(&tests);
        let failing: Vec<String> = all_failing
            .iter()
            .filter(|id| retryable(&tests[*id]))
            .cloned()
            .collect();
        if retry == 1 {
            skipped_by_filter = all_failing.len() - failing.len();
        }
        if failing.is_empty() {
            break;
        }
        if !opts.retry_delay.is_zero() {
            clock.emit(EventKind::RetryDelay {
                retry,
                seconds: opts.retry_delay.as_secs_f64(),
            });
            if let Some(sig) = pause(opts.retry_delay) {
                interrupted = Some(sig);
                break;
            }
        }
        if clock.limit().is_some_and(|l| l.0.is_zero()) {
            stop = Some(format!(
                "the time allowed by --timeout ({}) ran out before retry {retry}",
                secs(opts.timeout.unwrap_or_default())
            ));
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
        clock.emit(EventKind::RetryScheduled {
            retry,
            retries: opts.retries,
            tests: failing.len() as u64,
            whole_command: !can_select,
        });
        let plan = match adapter.plan(&req, &opts.scratch) {
            Ok(p) => p,
            Err(e) => {
                run.warnings
                    .push(format!("cannot prepare retry {retry}: {e}"));
                break;
            }
        };
        let label = format!("retry {retry}");
        let this = (invocation, label.as_str());
        clock.started(invocation, &label);
        let (step, limit) = clock.invoke(adapter, &plan, out);
        let x = match step {
            Step::Ran(x) => x,
            Step::NotStarted(_, e) => {
                clock.finished(this, None, 0.0, None);
                run.warnings.push(format!("cannot run retry {retry}: {e}"));
                break;
            }
        };
        run.invocations += 1;
        interrupted = x.interrupted;
        if x.timed_out {
            // Its tests are missing from its results, so they stay failed.
            run.warnings.push(format!(
                "retry {retry} timed out after {} ({limit}) and was stopped",
                secs(x.execution.duration)
            ));
        }
        let xsecs = x.execution.duration.as_secs_f64();
        if let Some(e) = &x.capture_error {
            clock.finished(this, Some(x.execution.code), xsecs, None);
            run.warnings.push(format!(
                "retry {retry}: {e}; its tests count as still failing"
            ));
            break;
        }
        let results = match adapter.read(&plan) {
            Ok(r) => r,
            Err(e) => {
                clock.finished(this, Some(x.execution.code), xsecs, None);
                run.warnings.push(format!(
                    "retry {retry}: {e}; its tests count as still failing"
                ));
                break;
            }
        };
        result.invocations.push(Invocation {
            number: invocation,
            command: plan.cmd.display(),
            exit: x.execution.code,
            info: results.info.first().cloned(),
            cases: results.cases.clone(),
        });
        let retried: Vec<TestCase> = results
            .cases
            .iter()
            .filter(|c| failing.contains(&c.id))
            .cloned()
            .collect();
        clock.finished(this, Some(x.execution.code), xsecs, Some(&retried));
        clock.results(invocation, &retried);
        let mut seen = std::collections::HashSet::new();
        let mut failed_here = 0;
        for case in results.cases {
            // Only the retried tests' attempts count (a whole-command re-run runs all of them).
            if !failing.contains(&case.id) {
                continue;
            }
            if case.attempts.iter().any(|a| a.outcome.is_failure()) {
                failed_here += 1;
            }
            seen.insert(case.id.clone());
            if let Some(t) = tests.get_mut(&case.id) {
                t.attempts.extend(case.attempts);
                t.outcome = last_outcome(t);
            }
        }
        let xcode = x.execution.code;
        if xcode != 0 && !x.timed_out && x.interrupted.is_none() {
            // The retry's own red must be explained by its tests too.
            if failed_here == 0 && can_select {
                non_test.push(format!(
                    "retry {retry} exited {xcode} although none of its tests failed"
                ));
            } else if let Some(tests_failed) = adapter.test_failure_exit() {
                if xcode != tests_failed {
                    non_test.push(format!(
                        "retry {retry} exited {xcode}, which is not {runner}'s status for \
                         failed tests ({tests_failed})"
                    ));
                }
            }
            if let Some(why) = adapter.non_test_failure(&plan) {
                non_test.push(format!("retry {retry}: {why}"));
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
    if skipped_by_filter > 0 {
        run.warnings.push(format!(
            "{skipped_by_filter} failed test{} not retried: {} failure message matches no \
             --only-rerun pattern",
            if skipped_by_filter == 1 {
                " was"
            } else {
                "s were"
            },
            if skipped_by_filter == 1 {
                "its"
            } else {
                "their"
            }
        ));
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
    if let Some(why) = stop {
        return stopped(result, why, interrupted);
    }
    if interrupted.is_some() {
        return stopped(result, String::new(), interrupted);
    }
    run.exit = decide(run, opts.fail_on_flaky, &non_test);
}

/// The status of a run stopped by its timeout whose command still exited 0 (`timeout(1)`'s).
const TIMED_OUT: i32 = 124;

/// Ends a run stopped by a timeout (`why`) or a signal: never green. A signal gives 128 + its
/// number (the shell's convention, 130 for Ctrl-C); a timeout keeps the runner's status, which
/// is 128 + SIGTERM (143) when the stop killed it, or 124 (`timeout(1)`'s) if it exited 0.
fn stopped(result: &mut Wrapped, why: String, interrupted: Option<i32>) {
    let run = &mut result.run;
    result.interrupted = interrupted;
    result.timed_out = interrupted.is_none();
    if let Some(sig) = interrupted {
        run.exit = exit::signalled(sig);
        run.reason = Some(format!(
            "interrupted by {}: the test command's process group was stopped, no retry ran; \
             partial results above",
            signal_name(sig)
        ));
        return;
    }
    run.exit = if run.runner_exit != 0 {
        run.runner_exit
    } else {
        TIMED_OUT
    };
    run.reason = Some(why);
}

/// `--fail-on-flaky: 2 tests passed only on retry: a, b`.
fn flaky_reason(run: &WrappedRun) -> String {
    const SHOWN: usize = 5;
    let flaky: Vec<&str> = run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Flaky)
        .map(|t| t.case.id.as_str())
        .collect();
    let mut names = flaky
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if flaky.len() > SHOWN {
        names.push_str(&format!(" and {} more", flaky.len() - SHOWN));
    }
    format!(
        "--fail-on-flaky: {} passed only on retry: {names}",
        if flaky.len() == 1 {
            "1 test".to_string()
        } else {
            format!("{} tests", flaky.len())
        }
    )
}

/// Sleeps `d` unless a signal comes first (returned).
fn pause(d: Duration) -> Option<i32> {
    let until = Instant::now() + d;
    loop {
        if let Some(sig) = exec::signals::received() {
            return Some(sig);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// The exit status from the statuses (rules 1–3 and 6–7 of the crate docs); sets the reason.
fn decide(run: &mut WrappedRun, fail_on_flaky: bool, non_test: &[String]) -> i32 {
    let code = run.runner_exit;
    if code == 0 && fail_on_flaky && run.count(RunStatus::Flaky) > 0 {
        // Only possible when the runner retried on its own (pytest-rerunfailures' reruns,
        // nextest's retries): the user asked for flaky tests to fail the build.
        run.reason = Some(flaky_reason(run));
        return i32::from(exit::FINDINGS);
    }
    if code == 0 {
        let red = run.count(RunStatus::Failed);
        if red > 0 {
            run.warnings.push(format!(
                "the runner exited 0 although its report has {red} failed test{}; keeping exit 0",
                if red == 1 { "" } else { "s" }
            ));
        }
        return i32::from(exit::OK);
    }
    let explained = run.count(RunStatus::Flaky) + run.count(RunStatus::Quarantined);
    if explained == 0 && run.count(RunStatus::Failed) == 0 {
        run.warnings.push(format!(
            "the runner exited {code} but its report shows no failed test; keeping exit {code}"
        ));
        return code;
    }
    if run.count(RunStatus::Failed) > 0 {
        return code;
    }
    if !non_test.is_empty() {
        let why = format!(
            "the test command failed (exit {code}) for a reason other than its tests: {}",
            non_test.join("; ")
        );
        run.reason = Some(why);
        return code;
    }
    if fail_on_flaky && run.count(RunStatus::Flaky) > 0 {
        run.reason = Some(flaky_reason(run));
        return code;
    }
    i32::from(exit::OK)
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

/// Runs the user's command unchanged when flakehound cannot wrap it (no runner detected, no
/// scratch directory): its own status, with flakehound's signal forwarding and timeouts.
/// `opts.scratch` is not used.
pub fn wrap_unchanged(
    opts: &Options<'_>,
    out: &mut dyn Write,
    events: flakehound_events::Sink<'_>,
) -> Wrapped {
    let clock = Clock {
        started: Instant::now(),
        opts,
        events: RefCell::new(Emitter::new(events)),
    };
    let mut result = Wrapped::default();
    result.run.command = Cmd::from_argv(opts.argv)
        .map(|c| c.display())
        .unwrap_or_default();
    clock.emit(EventKind::Started {
        engine: Engine::Run,
        subject: Some(result.run.command.clone()),
        tests: None,
        planned: Some(0),
        unit: Some("retries".into()),
    });
    unchanged(opts, out, &clock, &mut result);
    result.run.wall_seconds = clock.started.elapsed().as_secs_f64();
    finish(&clock, &result);
    result
}

/// Runs the user's argv as is (flakehound cannot wrap it): the runner's own status decides,
/// with the same signal forwarding and timeouts, and nothing is retried or recorded.
fn unchanged(opts: &Options<'_>, out: &mut dyn Write, clock: &Clock<'_, '_>, result: &mut Wrapped) {
    let run = &mut result.run;
    let Some(cmd) = Cmd::from_argv(opts.argv) else {
        run.warnings.push("empty test command".into());
        run.exit = i32::from(exit::ERROR);
        return;
    };
    let plan = Plan {
        cmd,
        report: flakehound_runner::ReportSource::Files {
            paths: vec![],
            format: None,
            fresh_after: None,
        },
    };
    run.invocations += 1;
    let this = (run.invocations, "unchanged");
    clock.started(this.0, this.1);
    let (step, limit) = clock.invoke(&Plain, &plan, out);
    match step {
        Step::NotStarted(code, e) => {
            clock.finished(this, None, 0.0, None);
            run.warnings
                .push(format!("cannot run the test command: {e}"));
            run.runner_exit = code;
            run.exit = code;
        }
        Step::Ran(ran) => {
            let took = ran.execution.duration.as_secs_f64();
            clock.finished(this, Some(ran.execution.code), took, None);
            run.runner_exit = ran.execution.code;
            run.exit = ran.execution.code;
            if ran.timed_out {
                let why = format!(
                    "the test command timed out after {} ({limit}) and was stopped",
                    secs(ran.execution.duration)
                );
                stopped(result, why, ran.interrupted);
            } else if ran.interrupted.is_some() {
                stopped(result, String::new(), ran.interrupted);
            }
        }
    }
}

/// The adapter for a command run as is: it only shows the output.
struct Plain;

impl Adapter for Plain {
    fn kind(&self) -> flakehound_runner::RunnerKind {
        flakehound_runner::RunnerKind::Generic
    }
    fn capabilities(&self) -> flakehound_runner::Capabilities {
        flakehound_runner::Capabilities::default()
    }
    fn plan(&self, _: &Request, _: &Path) -> flakehound_runner::Result<Plan> {
        Err(flakehound_runner::Error::Command("not used".into()))
    }
    fn read(&self, _: &Plan) -> flakehound_runner::Result<flakehound_runner::Results> {
        Err(flakehound_runner::Error::Command("not used".into()))
    }
}

/// Writes every invocation's records into the store as one run (`source` `run`), one report
/// per invocation, so retries are attempts 2, 3... of the same run. Idempotent: a report is
/// identified by the run key, the invocation number and its content (see
/// [`flakehound_evidence::own`], which records every execution of flakehound's own).
pub fn record(
    store: &mut dyn flakehound_store::Store,
    invocations: &[Invocation],
    meta: &RunMeta,
    run_key: &flakehound_store::RunKey,
) -> flakehound_store::Result<u64> {
    use flakehound_evidence::own;
    let session = own::Session {
        source: &flakehound_model::RunSource::Run,
        id: "",
        meta,
        runs: own::Runs::One(run_key),
    };
    let executions = invocations.iter().map(|inv| own::Execution {
        number: inv.number,
        command: &inv.command,
        path: Some(format!("flakehound-run/invocation-{}", inv.number)),
        info: inv.info.clone().unwrap_or_default(),
        cases: &inv.cases,
        ..Default::default()
    });
    let written = own::record(store, &session, executions)?;
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
