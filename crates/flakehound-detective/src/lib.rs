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
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{Adapter, Cmd, Order, Request, TestRef, exec};

pub mod diagnose;
pub mod polluter;
pub mod repro;
pub mod stats;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runner(#[from] flakehound_runner::Error),
    #[error("{0}")]
    Usage(String),
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
    /// The command that ran, for reproduction.
    pub command: String,
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
        }
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
        let t0 = Instant::now();
        let x = exec::execute_logged(&plan, &dir.join("output.log"))?;
        let results = self.adapter.read(&plan)?;
        let mut outcomes = HashMap::new();
        for c in &results.cases {
            for a in &c.attempts {
                if a.outcome != Outcome::Skipped {
                    outcomes.insert(c.id.clone(), a.outcome);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Trial {
            outcomes,
            cases: results.cases,
            exit: x.code,
            duration: t0.elapsed(),
            command: plan.cmd.display(),
        })
    }
}
