//! The detective: controlled experiments on one test.
//!
//! - [`polluter`]: which earlier test makes an order-dependent victim fail (bisection), which
//!   test cleans up after it, and which test sets up what a brittle test needs.
//! - [`diagnose`]: one experiment per usual suspect (randomness, hashing, time, order, load,
//!   threads, parallel instances, network, repetition), failure rates compared with intervals.
//! - [`repro`]: a failure rate under given conditions, until a failure or a strong claim.
//!
//! Every experiment runs through a [`Lab`]: fresh processes of the runner, one selection in one
//! order with given environment, the results read back through the runner adapter.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{Adapter, Cmd, Order, Plan, Request, TestRef};

pub mod diagnose;
pub mod known;
pub mod polluter;
pub mod repro;
pub mod session;
pub mod stats;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runner(#[from] flakehound_runner::Error),
    #[error("{0}")]
    Usage(String),
    /// The stop flag was raised (Ctrl-C): the run in flight was killed and is not evidence.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn is_interrupted(&self) -> bool {
        matches!(self, Error::Interrupted)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use flakehound_analysis::stats::rate_claim as claim;

/// One fresh-process execution's outcome.
#[derive(Clone, Debug, Default)]
pub struct Trial {
    /// Last executed outcome per test id (skips ignored; a test not in the results is absent).
    pub outcomes: HashMap<String, Outcome>,
    /// Every record, in execution order.
    pub cases: Vec<TestCase>,
    pub exit: i32,
    pub duration: Duration,
    /// When the process was started (stored as the run's start).
    pub started: Option<SystemTime>,
    /// The command that ran, for reproduction.
    pub command: String,
    /// Killed for running past [`Lab::limit`]: a hang. The selected tests without a result
    /// count as failed (as a CI job's time limit would make them).
    pub timed_out: bool,
}

impl Trial {
    /// Whether `id` failed (its last executed attempt failed). `None` when it did not run.
    pub fn failed(&self, id: &str) -> Option<bool> {
        self.outcomes.get(id).map(|o| o.is_failure())
    }
}

/// Runs selections of tests in fresh processes, counting them.
pub struct Lab<'a> {
    adapter: &'a dyn Adapter,
    scratch: PathBuf,
    next: AtomicU32,
    /// Commands previewed so far: each gets its own directory, because a previewed command may
    /// name files in it (a selection file) that must outlive the next preview.
    previews: AtomicU32,
    /// Extra environment for every execution (e.g. the user's `--env K=V`).
    pub env: Vec<(String, String)>,
    /// Wraps each command (e.g. `["taskset", "-c", "0"]`, `["unshare", "-n"]`); empty = none.
    pub wrapper: Vec<String>,
    /// Working directory of every execution (and of [`Lab::command`]'s command); `None` = the
    /// adapter's own (its command's, else ours).
    pub cwd: Option<PathBuf>,
    /// Raised (by a Ctrl-C handler) to stop: the processes in flight are killed (their whole
    /// process group) and [`Lab::run`] returns [`Error::Interrupted`] from then on.
    pub stop: Option<&'a AtomicBool>,
    /// How long a trial may run before it counts as hung and is killed (its process group),
    /// per test it runs (selected tests times repetitions, so that a trial of the whole file
    /// gets more than the control of one test): `first_limit` a test until one trial has
    /// finished, then `factor` times the slowest finished trial's time a test; never less
    /// than `floor` in all. A test that sometimes deadlocks would otherwise stop an
    /// experiment for good (seen: a tqdm asyncio test under the order condition, a pexpect
    /// test under load, each waiting 13–20 minutes before being killed by hand).
    pub first_limit: Duration,
    pub floor: Duration,
    pub factor: u32,
    /// The slowest finished trial's time a test so far, in microseconds.
    per_test: AtomicU64,
}

impl<'a> Lab<'a> {
    /// `scratch` must exist and be writable.
    pub fn new(adapter: &'a dyn Adapter, scratch: PathBuf) -> Lab<'a> {
        Lab {
            adapter,
            scratch,
            next: AtomicU32::new(0),
            previews: AtomicU32::new(0),
            env: Vec::new(),
            wrapper: Vec::new(),
            cwd: None,
            stop: None,
            first_limit: Duration::from_secs(600),
            floor: Duration::from_secs(60),
            factor: 10,
            per_test: AtomicU64::new(0),
        }
    }

    /// Whether the stop flag is raised.
    pub fn stopped(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    pub fn adapter(&self) -> &dyn Adapter {
        self.adapter
    }

    /// Executions so far.
    pub fn executions(&self) -> u32 {
        self.next.load(Ordering::Relaxed)
    }

    /// The command that would run `tests` in this order (for printing a reproduction).
    pub fn command(
        &self,
        tests: &[TestRef],
        order: Order,
        env: &[(String, String)],
    ) -> Result<Cmd> {
        let n = self.previews.fetch_add(1, Ordering::Relaxed) + 1;
        let dir = self.scratch.join(format!("preview-{n:03}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
        let mut all_env = self.env.clone();
        all_env.extend(env.iter().cloned());
        let plan = self.adapter.plan(
            &Request {
                selection: Some(tests.to_vec()),
                order,
                repeat: 1,
                env: all_env,
                invocation: 0,
            },
            &dir,
        )?;
        let mut cmd = plan.cmd;
        if self.cwd.is_some() {
            cmd.cwd.clone_from(&self.cwd);
        }
        Ok(cmd)
    }

    /// Runs `tests` (all of them in `order`, each `repeat` times in the process) once, in a
    /// fresh process, with `env` on top of [`Lab::env`].
    pub fn run(
        &self,
        tests: &[TestRef],
        order: Order,
        repeat: u32,
        env: &[(String, String)],
    ) -> Result<Trial> {
        self.run_wrapped(tests, order, repeat, env, &[])
    }

    /// Like [`Lab::run`], with the command prefixed by `wrapper` (then [`Lab::wrapper`]), e.g.
    /// `taskset -c 0`, `unshare -n`, `faketime ...`.
    pub fn run_wrapped(
        &self,
        tests: &[TestRef],
        order: Order,
        repeat: u32,
        env: &[(String, String)],
        wrapper: &[String],
    ) -> Result<Trial> {
        if self.stopped() {
            return Err(Error::Interrupted);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let dir = self.scratch.join(format!("trial-{n:05}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
        let mut all_env = self.env.clone();
        all_env.extend(env.iter().cloned());
        let req = Request {
            selection: Some(tests.to_vec()),
            order,
            repeat: repeat.max(1),
            env: all_env,
            invocation: n,
        };
        let mut plan = self.adapter.plan(&req, &dir)?;
        if self.cwd.is_some() {
            plan.cmd.cwd.clone_from(&self.cwd);
        }
        let wrapper: Vec<String> = wrapper.iter().chain(&self.wrapper).cloned().collect();
        if let Some((program, rest)) = wrapper.split_first() {
            let mut args: Vec<String> = rest.to_vec();
            args.push(plan.cmd.program.clone());
            args.append(&mut plan.cmd.args);
            plan.cmd.program = program.clone();
            plan.cmd.args = args;
        }
        let started = SystemTime::now();
        let t0 = Instant::now();
        let units = u32::try_from(tests.len().max(1))
            .unwrap_or(u32::MAX)
            .saturating_mul(repeat.max(1));
        let limit = self.limit(units);
        let (code, timed_out) = execute(&plan, &dir.join("output.log"), self.stop, limit)?;
        if self.stopped() {
            // Killed, or ended while we were being stopped: not evidence either way.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(Error::Interrupted);
        }
        // A hung run killed for its time limit may have written no report.
        let results = match self.adapter.read(&plan) {
            Ok(r) => r,
            Err(_) if timed_out => flakehound_runner::Results::default(),
            Err(e) => return Err(e.into()),
        };
        let mut outcomes = HashMap::new();
        for c in &results.cases {
            for a in &c.attempts {
                if a.outcome != Outcome::Skipped {
                    outcomes.insert(c.id.clone(), a.outcome);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        let duration = t0.elapsed();
        if timed_out {
            for t in tests {
                outcomes.entry(t.id.clone()).or_insert(Outcome::Failed);
            }
        } else {
            let us = u64::try_from((duration / units).as_micros()).unwrap_or(u64::MAX);
            self.per_test.fetch_max(us.max(1), Ordering::Relaxed);
        }
        Ok(Trial {
            outcomes,
            cases: results.cases,
            exit: code,
            duration,
            started: Some(started),
            command: plan.cmd.display(),
            timed_out,
        })
    }

    /// How long a trial of `units` tests (selected tests times repetitions) may run (see
    /// [`Lab::first_limit`]).
    pub fn limit(&self, units: u32) -> Duration {
        let per_test = match self.per_test.load(Ordering::Relaxed) {
            0 => self.first_limit,
            us => Duration::from_micros(us).saturating_mul(self.factor),
        };
        per_test.saturating_mul(units.max(1)).max(self.floor)
    }
}

/// How long a stopped process group gets to end after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// Runs `plan` to completion with its output in files, like the runner's `execute_logged`, but
/// in a process group of its own, so that `stop` can end it with everything it started (a
/// wrapper such as `taskset`, pytest's own subprocesses), and so can running past `limit` (a
/// hang). Its own group also keeps the terminal's Ctrl-C away from it: we decide what an
/// interrupted experiment means, rather than pytest reporting a half-run test as failed.
/// Returns the exit code (128 + signal when killed) and whether the limit killed it.
fn execute(
    plan: &Plan,
    log: &std::path::Path,
    stop: Option<&AtomicBool>,
    limit: Duration,
) -> Result<(i32, bool)> {
    let io = |what: String| move |e: std::io::Error| Error::Usage(format!("{what}: {e}"));
    let cmd = &plan.cmd;
    let mut command = flakehound_runner::exec::logged_command(plan, log)?;
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(io(format!("cannot run `{}`", cmd.program)))?;
    let pid = child.id();
    let t0 = Instant::now();
    let timed_out = AtomicBool::new(false);
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let status = std::thread::scope(|s| {
        // The watcher wakes as soon as the child ends (the channel), so a normal run pays no
        // polling delay; it checks the stop flag and the time limit every 20 ms meanwhile.
        let timed_out = &timed_out;
        s.spawn(move || {
            loop {
                match finished.recv_timeout(Duration::from_millis(20)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    break;
                }
                if t0.elapsed() > limit {
                    timed_out.store(true, Ordering::Relaxed);
                    break;
                }
            }
            kill_group(pid, false);
            if finished.recv_timeout(GRACE).is_err() {
                kill_group(pid, true);
            }
        });
        let status = child.wait();
        let _ = done.send(());
        status
    })
    .map_err(io(format!("cannot wait for `{}`", cmd.program)))?;
    let timed_out = timed_out.load(Ordering::Relaxed);
    if timed_out || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        // What the child left running in its group goes too.
        kill_group(pid, true);
    }
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let code = match (status.code(), signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => flakehound_model::exit::signalled(sig),
        (None, None) => i32::from(flakehound_model::exit::FINDINGS),
    };
    Ok((code, timed_out))
}

/// SIGTERM (or SIGKILL) to the process group led by `pid`.
fn kill_group(pid: u32, hard: bool) {
    use flakehound_runner::exec::signals;
    signals::kill_group(
        pid,
        if hard {
            signals::SIGKILL
        } else {
            signals::SIGTERM
        },
    );
}
