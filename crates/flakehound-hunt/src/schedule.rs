//! The hunt's scheduler: which execution to run next, and what each finished one tells.
//!
//! Pure state (no processes, no clock): [`Scheduler::next_job`] hands out [`Job`]s,
//! [`Scheduler::record`] takes their results. Follow-up questions come before new rounds:
//! 1. A test that failed in a suite round is run **alone** in fresh processes
//!    ([`ALONE_RUNS`] times): fails alone sometimes → flaky in isolation; always → broken (or
//!    brittle when it passes inside the suite).
//! 2. A test that failed in the suite but passed every time alone is run again after exactly
//!    the tests that preceded it in the failing process, in that order ([`REPLAY_RUNS`] times):
//!    fails again → order-dependent victim (with that order); passes → flaky.
//! 3. Otherwise rounds of the whole selection alternate orders: as written, shuffled (a seed
//!    derived from the hunt's seed and the round, so any order can be replayed), reversed; every
//!    [`REPEAT_EVERY`]th round runs each test [`REPEAT_TIMES`] times in one process (when the
//!    runner can), which exposes non-idempotent tests.

use std::collections::{HashMap, HashSet, VecDeque};

use flakehound_model::{Outcome, TestCase};
use flakehound_runner::{Order, TestRef};

/// Fresh-process runs of a failing test on its own.
pub const ALONE_RUNS: u32 = 5;
/// Replays of a failing order for a test that passes alone.
pub const REPLAY_RUNS: u32 = 3;
/// Every how many rounds one repeats each test in-process.
pub const REPEAT_EVERY: u32 = 4;
/// In-process repetitions in a repeat round.
pub const REPEAT_TIMES: u32 = 3;

/// What an execution was for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Context {
    /// The whole selection in one process.
    Suite {
        order: OrderKind,
        /// Shuffle seed (shuffled rounds only).
        seed: Option<u64>,
    },
    /// The whole selection, each test repeated in one process.
    Repeat { times: u32 },
    /// One test alone.
    Alone { test: String },
    /// The tests that preceded `test` in a failing process, then `test`.
    Replay {
        test: String,
        /// Execution whose order is replayed.
        of: u32,
    },
}

impl Context {
    pub fn label(&self) -> String {
        match self {
            Context::Suite {
                order,
                seed: Some(s),
            } => format!("suite {} (seed {s})", order.as_str()),
            Context::Suite { order, .. } => format!("suite {}", order.as_str()),
            Context::Repeat { times } => format!("repeat ×{times}"),
            Context::Alone { .. } => "alone".into(),
            Context::Replay { of, .. } => format!("replay of #{of}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKind {
    AsWritten,
    Shuffled,
    Reversed,
    Given,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::AsWritten => "as written",
            OrderKind::Shuffled => "shuffled",
            OrderKind::Reversed => "reversed",
            OrderKind::Given => "given",
        }
    }
}

/// One execution to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// 1-based, in the order handed out.
    pub id: u32,
    pub context: Context,
    /// `None`: the whole selection of the hunt.
    pub selection: Option<Vec<TestRef>>,
    pub order: Order,
    pub repeat: u32,
    /// Value for `PYTHONHASHSEED` (or the runner's equivalent), varied per process.
    pub hash_seed: u32,
}

/// What the runner can do, as far as the scheduler cares.
#[derive(Clone, Copy, Debug)]
pub struct Abilities {
    pub select: bool,
    pub order: bool,
    pub repeat: bool,
}

/// How a test fared in one execution.
#[derive(Clone, Debug, Default)]
struct Seen {
    attempts: Vec<Outcome>,
    message: Option<String>,
}

/// Everything observed about one test.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Observations {
    /// Executions (attempts) and failed ones, all contexts. Not serialised: the finding states
    /// them (and the message) once, at its top level.
    #[serde(skip)]
    pub runs: u64,
    #[serde(skip)]
    pub failures: u64,
    pub suite_runs: u64,
    pub suite_failures: u64,
    pub alone_runs: u64,
    pub alone_failures: u64,
    pub replay_runs: u64,
    pub replay_failures: u64,
    /// Repeat rounds in which it passed first and then failed in the same process.
    pub repeat_pass_then_fail: u64,
    /// Repeat rounds in which every repetition passed.
    pub repeat_clean: u64,
    /// Executions in which it failed, with the hash seed of the process.
    pub failed_in: Vec<(u32, u32)>,
    /// First failure message.
    #[serde(skip)]
    pub message: Option<String>,
    /// The execution whose order made it fail (the first failing suite execution).
    pub failing_order_of: Option<u32>,
    /// Tests that preceded it in that execution.
    #[serde(skip)]
    pub failing_order: Vec<TestRef>,
}

/// The scheduler's state.
pub struct Scheduler {
    tests: Vec<TestRef>,
    /// `Some` when the hunt runs a subset (filters, shard): every round selects it.
    subset: bool,
    abilities: Abilities,
    seed: u64,
    /// Suite/repeat rounds handed out.
    rounds: u32,
    max_rounds: Option<u32>,
    next_id: u32,
    questions: VecDeque<Job>,
    /// Tests whose follow-ups were already queued.
    asked_alone: HashSet<String>,
    asked_replay: HashSet<String>,
    pub obs: HashMap<String, Observations>,
    in_flight: u32,
    stopped: bool,
}

/// Answer of [`Scheduler::next_job`].
#[derive(Debug)]
pub enum Next {
    Run(Job),
    /// Nothing to hand out now, but executions in flight may raise questions.
    Wait,
    Done,
}

/// A stable 64-bit mix of a seed and a counter (splitmix64), for shuffle and hash seeds.
pub fn derive(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Scheduler {
    /// `tests`: the hunt's tests; `subset`: whether they are a subset of the suite (then every
    /// round selects them explicitly); `max_rounds`: the `--runs` budget (None = until stopped).
    pub fn new(
        tests: Vec<TestRef>,
        subset: bool,
        abilities: Abilities,
        seed: u64,
        max_rounds: Option<u32>,
    ) -> Scheduler {
        let obs = tests
            .iter()
            .map(|t| (t.id.clone(), Observations::default()))
            .collect();
        Scheduler {
            tests,
            subset,
            abilities,
            seed,
            rounds: 0,
            max_rounds,
            next_id: 0,
            questions: VecDeque::new(),
            asked_alone: HashSet::new(),
            asked_replay: HashSet::new(),
            obs,
            in_flight: 0,
            stopped: false,
        }
    }

    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Stops handing out jobs (budget spent, Ctrl-C).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Follow-up questions not yet handed out.
    pub fn open_questions(&self) -> usize {
        self.questions.len()
    }

    fn job(
        &mut self,
        context: Context,
        selection: Option<Vec<TestRef>>,
        order: Order,
        repeat: u32,
    ) -> Job {
        self.next_id += 1;
        let id = self.next_id;
        Job {
            id,
            context,
            selection,
            order,
            repeat,
            hash_seed: (derive(self.seed ^ 0x4841_5348, u64::from(id)) % 4_294_967_295) as u32,
        }
    }

    pub fn next_job(&mut self) -> Next {
        if self.stopped {
            return if self.in_flight > 0 {
                Next::Wait
            } else {
                Next::Done
            };
        }
        if let Some(mut q) = self.questions.pop_front() {
            self.next_id += 1;
            q.id = self.next_id;
            q.hash_seed = (derive(self.seed ^ 0x4841_5348, u64::from(q.id)) % 4_294_967_295) as u32;
            self.in_flight += 1;
            return Next::Run(q);
        }
        if self.max_rounds.is_some_and(|m| self.rounds >= m) {
            return if self.in_flight > 0 {
                Next::Wait
            } else {
                Next::Done
            };
        }
        self.rounds += 1;
        let r = self.rounds;
        let selection = self.subset.then(|| self.tests.clone());
        let job = if self.abilities.repeat && r.is_multiple_of(REPEAT_EVERY) {
            self.job(
                Context::Repeat {
                    times: REPEAT_TIMES,
                },
                selection,
                Order::AsWritten,
                REPEAT_TIMES,
            )
        } else if !self.abilities.order {
            self.job(
                Context::Suite {
                    order: OrderKind::AsWritten,
                    seed: None,
                },
                selection,
                Order::AsWritten,
                1,
            )
        } else {
            // Round 1 as written, then shuffled, shuffled, reversed, ... (2 of 3 shuffled).
            match r % 3 {
                1 if r == 1 => self.job(
                    Context::Suite {
                        order: OrderKind::AsWritten,
                        seed: None,
                    },
                    selection,
                    Order::AsWritten,
                    1,
                ),
                0 => self.job(
                    Context::Suite {
                        order: OrderKind::Reversed,
                        seed: None,
                    },
                    selection,
                    Order::Reversed,
                    1,
                ),
                _ => {
                    let s = derive(self.seed, u64::from(r));
                    self.job(
                        Context::Suite {
                            order: OrderKind::Shuffled,
                            seed: Some(s),
                        },
                        selection,
                        Order::Shuffled(s),
                        1,
                    )
                }
            }
        };
        self.in_flight += 1;
        Next::Run(job)
    }

    /// Takes the results of a finished job (records in execution order). `None` results: the
    /// execution produced nothing usable (counted as in flight no more, nothing learned).
    pub fn record(&mut self, job: &Job, results: Option<&[TestCase]>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some(cases) = results else { return };
        // Per test, the attempts of this execution, and the order tests first appeared in.
        let mut seen: HashMap<&str, Seen> = HashMap::new();
        let mut order: Vec<&TestCase> = Vec::new();
        for c in cases {
            if !self.obs.contains_key(&c.id) {
                continue;
            }
            let s = seen.entry(&c.id).or_insert_with(|| {
                order.push(c);
                Seen::default()
            });
            s.attempts.extend(c.attempts.iter().map(|a| a.outcome));
            if s.message.is_none() {
                s.message = c
                    .attempts
                    .iter()
                    .find(|a| a.outcome.is_failure())
                    .and_then(|a| a.failure_line());
            }
        }
        let mut follow_alone = Vec::new();
        let mut follow_replay = Vec::new();
        for (pos, c) in order.iter().enumerate() {
            let s = &seen[c.id.as_str()];
            let executed: Vec<Outcome> = s
                .attempts
                .iter()
                .copied()
                .filter(|o| *o != Outcome::Skipped)
                .collect();
            if executed.is_empty() {
                continue;
            }
            let fails = executed.iter().filter(|o| o.is_failure()).count() as u64;
            let o = self.obs.get_mut(&c.id).expect("checked above");
            o.runs += executed.len() as u64;
            o.failures += fails;
            if fails > 0 {
                o.failed_in.push((job.id, job.hash_seed));
                if o.message.is_none() {
                    o.message = s.message.clone();
                }
            }
            match &job.context {
                Context::Suite { .. } => {
                    o.suite_runs += 1;
                    if fails > 0 {
                        o.suite_failures += 1;
                        if o.failing_order_of.is_none() {
                            o.failing_order_of = Some(job.id);
                            o.failing_order =
                                order[..pos].iter().map(|p| TestRef::from(*p)).collect();
                        }
                        follow_alone.push(TestRef::from(*c));
                    }
                }
                Context::Repeat { .. } => {
                    if executed[0] == Outcome::Passed && fails > 0 {
                        o.repeat_pass_then_fail += 1;
                    } else if fails == 0 {
                        o.repeat_clean += 1;
                    }
                    o.suite_runs += 1;
                    if executed[0].is_failure() {
                        o.suite_failures += 1;
                        follow_alone.push(TestRef::from(*c));
                    }
                }
                Context::Alone { .. } => {
                    o.alone_runs += 1;
                    if fails > 0 {
                        o.alone_failures += 1;
                    }
                    if o.alone_runs >= u64::from(ALONE_RUNS)
                        && o.alone_failures == 0
                        && o.suite_failures > 0
                    {
                        follow_replay.push(c.id.clone());
                    }
                }
                Context::Replay { test, .. } => {
                    if &c.id == test {
                        o.replay_runs += 1;
                        if fails > 0 {
                            o.replay_failures += 1;
                        }
                    }
                }
            }
        }
        if !self.abilities.select {
            return;
        }
        for t in follow_alone {
            if self.asked_alone.insert(t.id.clone()) {
                for _ in 0..ALONE_RUNS {
                    let q = Job {
                        id: 0,
                        context: Context::Alone { test: t.id.clone() },
                        selection: Some(vec![t.clone()]),
                        order: Order::AsWritten,
                        repeat: 1,
                        hash_seed: 0,
                    };
                    self.questions.push_back(q);
                }
            }
        }
        for id in follow_replay {
            let o = &self.obs[&id];
            if o.failing_order.is_empty() || !self.asked_replay.insert(id.clone()) {
                continue;
            }
            let Some(victim) = self.tests.iter().find(|t| t.id == id).cloned() else {
                continue;
            };
            let mut selection = o.failing_order.clone();
            selection.push(victim);
            let of = o.failing_order_of.unwrap_or_default();
            for _ in 0..REPLAY_RUNS {
                self.questions.push_back(Job {
                    id: 0,
                    context: Context::Replay {
                        test: id.clone(),
                        of,
                    },
                    selection: Some(selection.clone()),
                    order: if self.abilities.order {
                        Order::AsGiven
                    } else {
                        Order::AsWritten
                    },
                    repeat: 1,
                    hash_seed: 0,
                });
            }
        }
    }
}
