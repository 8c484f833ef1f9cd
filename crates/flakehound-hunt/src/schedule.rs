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
//! 4. A test that failed every run alone but passed in the suite is not called brittle on that
//!    alone: the alone runs had other hash seeds and time zones (and other load) than the suite
//!    runs it passed in. It is run [`CONFIRM_RUNS`] times alone and [`CONFIRM_RUNS`] times after
//!    the tests that preceded it in a suite execution it passed in, both under that execution's
//!    hash seed and time zone, interleaved (so both see the same load): only "passes after the
//!    others, fails alone, same conditions" is brittle.
//!
//! Every process gets a varied `PYTHONHASHSEED` (pytest) and, per round, a time zone from
//! [`Scheduler::zones`] (the machine's own, then far west and far east of UTC: a test that
//! compares local and UTC dates fails under one of the two at any hour). Alone runs keep the
//! time zone of the failing execution that asked for them, so that "alone or not" is the only
//! thing that changes.
//!
//! Replays and confirmations re-run a known order under chosen conditions: they answer a
//! question, they are not new samples, so they do not count in the failure rate (see
//! [`Observations::runs`]).

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
/// Runs with nothing beside them that a parallel hunt makes of a test that failed only beside
/// other executions, so that "fails only in parallel" can be told from a rare flake.
pub const EXCLUSIVE_RUNS: u64 = 12;
/// Runs of each half of the shared-random-state check (alone, and after the failing order,
/// both with the random generator reseeded before each test).
pub const RESEED_RUNS: u32 = 2;
/// Runs of each half of the brittle check (alone, and after the others), same conditions.
pub const CONFIRM_RUNS: u32 = 3;
/// Executions of the idempotence check (see [`Context::RepeatAlone`]).
pub const IDEMPOTENCE_RUNS: u32 = 3;

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
    /// The brittle check: `test` alone (`with_others: false`) or after the tests that preceded
    /// it in execution `of`, where it passed (`with_others: true`), under `of`'s hash seed and
    /// time zone.
    Confirm {
        test: String,
        of: u32,
        with_others: bool,
        /// Alone under `of`'s hash seed but the zone of the failing alone runs: asked when the
        /// zones differ, it tells the hash seed from the time zone.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        seed_only: bool,
    },
    /// The idempotence check: `test` alone, run [`REPEAT_TIMES`] times in one process, with
    /// nothing beside it. Asked when it passed and then failed in a repeat round: in a parallel
    /// hunt the suite's repeat rounds run beside other executions, whose leftovers can make a
    /// first run fail too and hide what the repetition shows.
    RepeatAlone { test: String },
    /// The shared-random-state check of an order victim: `test` alone, or after the tests of
    /// its failing execution `of`, with the global random generator reseeded (to 0) before
    /// each test.
    Reseeded {
        test: String,
        of: u32,
        with_others: bool,
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
            Context::RepeatAlone { .. } => format!("alone, repeat ×{REPEAT_TIMES}"),
            Context::Alone { .. } => "alone".into(),
            Context::Replay { of, .. } => format!("replay of #{of}"),
            Context::Confirm {
                of,
                with_others: true,
                ..
            } => format!("after the others as in #{of}"),
            Context::Confirm {
                of,
                seed_only: true,
                ..
            } => format!("alone with the hash seed of #{of}"),
            Context::Confirm { of, .. } => format!("alone as in #{of}"),
            Context::Reseeded {
                of,
                with_others: true,
                ..
            } => format!("replay of #{of}, random reseeded"),
            Context::Reseeded { .. } => "alone, random reseeded".into(),
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
    /// `TZ` of the process (`None`: the machine's own).
    pub tz: Option<String>,
    /// Whether `hash_seed` was chosen by the question (confirmations), not handed out fresh.
    pub pinned: bool,
    /// Runs with no other execution at the same time (follow-ups of a parallel hunt).
    pub exclusive: bool,
    /// Reseed the global random generator with this before each test.
    pub reseed: Option<u32>,
}

/// What the runner can do, as far as the scheduler cares.
#[derive(Clone, Copy, Debug)]
pub struct Abilities {
    pub select: bool,
    pub order: bool,
    pub repeat: bool,
    /// Whether the runner can reseed the language's global random generator before each test
    /// (pytest, through flakehound's plugin): the shared-random-state check needs it.
    pub reseed: bool,
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
    /// Executions (attempts) and failed ones: the samples of the failure rate. Replays and
    /// confirmations are not samples (they re-run a known order on purpose); executions of one
    /// repeated order that all failed count once (see [`Observations::same_order`]). Not
    /// serialised: the finding states them (and the message) once, at its top level.
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
    /// The idempotence check's answers (see [`Context::RepeatAlone`]): its executions, those
    /// that passed first and then failed, and those whose first run failed.
    pub idem_runs: u64,
    pub idem_pass_then_fail: u64,
    pub idem_first_failures: u64,
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
    /// That execution's time zone (replays keep it).
    #[serde(skip)]
    pub failing_tz: Option<String>,
    /// The time zone of its alone runs (that of the failing execution that asked for them).
    #[serde(skip)]
    pub alone_tz: Option<String>,
    /// The brittle check's answers (see [`Context::Confirm`]).
    pub confirm_alone_runs: u64,
    pub confirm_alone_failures: u64,
    pub confirm_others_runs: u64,
    pub confirm_others_failures: u64,
    /// Executions that ran beside another one (samples only), and those that failed it.
    pub overlap_runs: u64,
    pub overlap_failures: u64,
    /// Executions with no other one at the same time (any context), and those that failed it.
    pub exclusive_runs: u64,
    pub exclusive_failures: u64,
    /// The shared-random-state check's answers (see [`Context::Reseeded`]).
    pub reseeded_alone_runs: u64,
    pub reseeded_alone_failures: u64,
    pub reseeded_others_runs: u64,
    pub reseeded_others_failures: u64,
    /// Alone under the passing hash seed in the alone runs' zone (asked when zones differ).
    pub confirm_seed_runs: u64,
    pub confirm_seed_failures: u64,
    /// The suite execution the brittle check copies (the last one it passed in).
    pub confirm_of: Option<u32>,
    /// Executions and failures per time zone (`machine` for the machine's own), over the
    /// samples of the failure rate.
    pub by_zone: std::collections::BTreeMap<String, (u64, u64)>,
    /// Executions and failures of the rounds whose order repeats (as written, reversed): when
    /// every one of a key's executions failed, they are one observation, not several.
    #[serde(skip)]
    pub same_order: std::collections::BTreeMap<&'static str, (u64, u64)>,
    /// The last suite execution it passed in, with its conditions and the tests before it.
    #[serde(skip)]
    pub last_pass: Option<PassedIn>,
}

/// A suite execution a test passed in: enough to run it again under the same conditions.
#[derive(Clone, Debug)]
pub struct PassedIn {
    pub of: u32,
    pub hash_seed: u32,
    pub tz: Option<String>,
    /// The execution's order, shared by every test of it; the test is at `pos`.
    pub order: std::sync::Arc<Vec<TestRef>>,
    pub pos: usize,
}

impl Observations {
    /// Notes that it passed at `pos` of suite execution `job` (whose order is `order`); whether
    /// the brittle check can run now (it failed every run alone before this pass).
    fn passed_in(&mut self, job: &Job, order: std::sync::Arc<Vec<TestRef>>, pos: usize) -> bool {
        self.last_pass = Some(PassedIn {
            of: job.id,
            hash_seed: job.hash_seed,
            tz: job.tz.clone(),
            order,
            pos,
        });
        self.alone_runs >= u64::from(ALONE_RUNS) && self.alone_failures == self.alone_runs
    }

    /// The failure rate's samples: `(runs, failures)` with the executions of one repeated
    /// order that all failed counted once.
    pub fn samples(&self) -> (u64, u64) {
        let (mut runs, mut failures) = (self.runs, self.failures);
        for &(r, f) in self.same_order.values() {
            if r > 1 && f == r {
                runs -= r - 1;
                failures -= f - 1;
            }
        }
        (runs, failures)
    }
}

/// The key of `tz` in [`Observations::by_zone`].
pub fn zone_key(tz: &Option<String>) -> String {
    tz.clone().unwrap_or_else(|| "machine".to_string())
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
    asked_confirm: HashSet<String>,
    asked_exclusive: HashSet<String>,
    asked_reseed: HashSet<String>,
    asked_idem: HashSet<String>,
    /// Time zones the rounds take turns with (`None`: the machine's own), first first.
    zones: Vec<Option<String>>,
    pub obs: HashMap<String, Observations>,
    in_flight: u32,
    /// Jobs handed out and not yet recorded.
    pending: HashSet<u32>,
    /// Exclusive jobs handed out (kept: few).
    exclusive: HashSet<u32>,
    /// Jobs running, with whether another execution ran at the same time as them.
    running: HashMap<u32, bool>,
    /// Whether executions run side by side (more than one worker): then follow-up questions
    /// run exclusively, so that what they answer is not disturbed by another execution.
    parallel: bool,
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
            asked_confirm: HashSet::new(),
            asked_exclusive: HashSet::new(),
            asked_reseed: HashSet::new(),
            asked_idem: HashSet::new(),
            zones: vec![None],
            obs,
            in_flight: 0,
            pending: HashSet::new(),
            exclusive: HashSet::new(),
            running: HashMap::new(),
            parallel: false,
            stopped: false,
        }
    }

    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Sets the time zones rounds vary (`None`: the machine's own; the first round always
    /// takes the first). Empty: only the machine's.
    pub fn with_zones(mut self, zones: Vec<Option<String>>) -> Scheduler {
        self.zones = if zones.is_empty() { vec![None] } else { zones };
        self
    }

    /// Tells how many executions run at once: with more than one, follow-ups are exclusive.
    pub fn with_workers(mut self, workers: usize) -> Scheduler {
        self.parallel = workers > 1;
        self
    }

    fn hash_seed(&self, id: u32) -> u32 {
        (derive(self.seed ^ 0x4841_5348, u64::from(id)) % 4_294_967_295) as u32
    }

    /// The time zone of round `r`: the first zone for round 1, then every zone once in each
    /// stretch of as many rounds as zones, shifted by one each stretch so that the order kinds
    /// (which cycle by 3) meet every zone.
    fn zone_of_round(&self, r: u32) -> Option<String> {
        let n = self.zones.len();
        let k = r.saturating_sub(1) as usize;
        self.zones[(k + k / n) % n].clone()
    }

    /// Whether job `id` was handed out and its results are not recorded yet. A worker waits
    /// for its last job to be recorded before asking for the next one, so that the follow-up
    /// questions that job raises come first, whoever records it: with one worker the hunt is
    /// the same for the same seed.
    pub fn is_pending(&self, id: u32) -> bool {
        self.pending.contains(&id)
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
            hash_seed: self.hash_seed(id),
            tz: self.zone_of_round(self.rounds),
            pinned: false,
            exclusive: false,
            reseed: None,
        }
    }

    /// Notes that `id` starts now: it overlaps whatever is running, and they overlap it.
    fn start(&mut self, id: u32) {
        let alongside = !self.running.is_empty();
        for overlapped in self.running.values_mut() {
            *overlapped = true;
        }
        self.running.insert(id, alongside);
        self.in_flight += 1;
        self.pending.insert(id);
    }

    pub fn next_job(&mut self) -> Next {
        if self.stopped {
            return if self.in_flight > 0 {
                Next::Wait
            } else {
                Next::Done
            };
        }
        // An exclusive job runs alone: nothing starts beside it, and it starts when nothing runs.
        let exclusive_running = self.running.keys().any(|id| self.exclusive.contains(id));
        if exclusive_running
            || (self.questions.front().is_some_and(|q| q.exclusive) && !self.running.is_empty())
        {
            return Next::Wait;
        }
        if let Some(mut q) = self.questions.pop_front() {
            self.next_id += 1;
            q.id = self.next_id;
            if !q.pinned {
                q.hash_seed = self.hash_seed(q.id);
            }
            if q.exclusive {
                self.exclusive.insert(q.id);
            }
            self.start(q.id);
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
        self.start(job.id);
        Next::Run(job)
    }

    /// Takes the results of a finished job (records in execution order). `None` results: the
    /// execution produced nothing usable (counted as in flight no more, nothing learned).
    pub fn record(&mut self, job: &Job, results: Option<&[TestCase]>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.pending.remove(&job.id);
        let overlapped = self.running.remove(&job.id).unwrap_or(false);
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
        // A suite execution's order, shared by the tests that pass in it (for the brittle
        // check), made once and only when some test needs it.
        let mut shared: Option<std::sync::Arc<Vec<TestRef>>> = None;
        let mut shared_order = || {
            shared
                .get_or_insert_with(|| {
                    std::sync::Arc::new(order.iter().map(|p| TestRef::from(*p)).collect())
                })
                .clone()
        };
        let zone = zone_key(&job.tz);
        let mut follow_alone = Vec::new();
        let mut follow_replay = Vec::new();
        let mut follow_confirm = Vec::new();
        let mut follow_reseed = Vec::new();
        let mut follow_idem = Vec::new();
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
            // Replays and confirmations answer a question about a known order; they are not
            // samples of the failure rate.
            let sample = !matches!(
                job.context,
                Context::Replay { .. }
                    | Context::Confirm { .. }
                    | Context::Reseeded { .. }
                    | Context::RepeatAlone { .. }
            );
            if sample {
                o.runs += executed.len() as u64;
                o.failures += fails;
                let z = o.by_zone.entry(zone.clone()).or_default();
                z.0 += executed.len() as u64;
                z.1 += fails;
            }
            if overlapped {
                if sample {
                    o.overlap_runs += 1;
                    o.overlap_failures += u64::from(fails > 0);
                }
            } else {
                o.exclusive_runs += 1;
                o.exclusive_failures += u64::from(fails > 0);
            }
            if fails > 0 {
                o.failed_in.push((job.id, job.hash_seed));
                if o.message.is_none() {
                    o.message = s.message.clone();
                }
            }
            match &job.context {
                Context::Suite { order: kind, .. } => {
                    o.suite_runs += 1;
                    let repeated = match kind {
                        OrderKind::AsWritten => Some("as written"),
                        OrderKind::Reversed => Some("reversed"),
                        _ => None,
                    };
                    if let Some(key) = repeated {
                        let e = o.same_order.entry(key).or_default();
                        e.0 += executed.len() as u64;
                        e.1 += fails;
                    }
                    if fails > 0 {
                        o.suite_failures += 1;
                        if o.failing_order_of.is_none() {
                            o.failing_order_of = Some(job.id);
                            o.failing_tz = job.tz.clone();
                            o.failing_order =
                                order[..pos].iter().map(|p| TestRef::from(*p)).collect();
                        }
                        follow_alone.push((TestRef::from(*c), job.tz.clone()));
                    } else {
                        if o.passed_in(job, shared_order(), pos) {
                            follow_confirm.push(c.id.clone());
                        }
                    }
                }
                Context::Repeat { .. } => {
                    if executed[0] == Outcome::Passed && fails > 0 {
                        o.repeat_pass_then_fail += 1;
                        follow_idem.push((TestRef::from(*c), job.tz.clone()));
                    } else if fails == 0 {
                        o.repeat_clean += 1;
                    }
                    o.suite_runs += 1;
                    if executed[0].is_failure() {
                        o.suite_failures += 1;
                        follow_alone.push((TestRef::from(*c), job.tz.clone()));
                    } else {
                        // Its first run passed after the tests before it (each repeated): the
                        // brittle check replays them once each.
                        if o.passed_in(job, shared_order(), pos) {
                            follow_confirm.push(c.id.clone());
                        }
                    }
                }
                Context::RepeatAlone { test } => {
                    if &c.id == test {
                        o.idem_runs += 1;
                        if executed[0].is_failure() {
                            o.idem_first_failures += 1;
                        } else if fails > 0 {
                            o.idem_pass_then_fail += 1;
                        }
                    }
                }
                Context::Alone { .. } => {
                    o.alone_runs += 1;
                    if fails > 0 {
                        o.alone_failures += 1;
                    }
                    if o.alone_runs >= u64::from(ALONE_RUNS) && o.suite_failures > 0 {
                        if o.alone_failures == 0 {
                            follow_replay.push(c.id.clone());
                        } else if o.alone_failures == o.alone_runs
                            && o.suite_failures < o.suite_runs
                        {
                            follow_confirm.push(c.id.clone());
                        }
                    }
                }
                Context::Replay { test, .. } => {
                    if &c.id == test {
                        o.replay_runs += 1;
                        if fails > 0 {
                            o.replay_failures += 1;
                        }
                        // A victim so far: does the order act through the random generator?
                        if o.replay_runs >= u64::from(REPLAY_RUNS)
                            && o.replay_failures * 3 >= o.replay_runs * 2
                        {
                            follow_reseed.push(c.id.clone());
                        }
                    }
                }
                Context::Reseeded {
                    test, with_others, ..
                } => {
                    if &c.id == test {
                        if *with_others {
                            o.reseeded_others_runs += 1;
                            o.reseeded_others_failures += u64::from(fails > 0);
                        } else {
                            o.reseeded_alone_runs += 1;
                            o.reseeded_alone_failures += u64::from(fails > 0);
                        }
                    }
                }
                Context::Confirm {
                    test,
                    with_others,
                    seed_only,
                    ..
                } => {
                    if &c.id == test {
                        if *seed_only {
                            o.confirm_seed_runs += 1;
                            o.confirm_seed_failures += u64::from(fails > 0);
                        } else if *with_others {
                            o.confirm_others_runs += 1;
                            o.confirm_others_failures += u64::from(fails > 0);
                        } else {
                            o.confirm_alone_runs += 1;
                            o.confirm_alone_failures += u64::from(fails > 0);
                        }
                    }
                }
            }
        }
        if !self.abilities.select {
            return;
        }
        // Failed beside other executions only, and asked alone already: more runs with nothing
        // beside it tell "fails only in parallel" from a rare flake.
        if self.parallel {
            let suspects: Vec<String> = order
                .iter()
                .map(|c| c.id.clone())
                .filter(|id| {
                    let o = &self.obs[id];
                    o.overlap_failures >= 2
                        && o.exclusive_failures == 0
                        && o.alone_runs >= u64::from(ALONE_RUNS)
                        && o.exclusive_runs < EXCLUSIVE_RUNS
                        && !self.asked_exclusive.contains(id)
                })
                .collect();
            for id in suspects {
                self.asked_exclusive.insert(id.clone());
                let Some(t) = self.tests.iter().find(|t| t.id == id).cloned() else {
                    continue;
                };
                let more = EXCLUSIVE_RUNS - self.obs[&id].exclusive_runs;
                let tz = self.obs[&id].alone_tz.clone();
                for _ in 0..more {
                    self.questions.push_back(Job {
                        id: 0,
                        context: Context::Alone { test: id.clone() },
                        selection: Some(vec![t.clone()]),
                        order: Order::AsWritten,
                        repeat: 1,
                        hash_seed: 0,
                        tz: tz.clone(),
                        pinned: false,
                        exclusive: true,
                        reseed: None,
                    });
                }
            }
        }
        for (t, tz) in follow_alone {
            if self.asked_alone.insert(t.id.clone()) {
                if let Some(o) = self.obs.get_mut(&t.id) {
                    o.alone_tz = tz.clone();
                }
                for _ in 0..ALONE_RUNS {
                    let q = Job {
                        id: 0,
                        context: Context::Alone { test: t.id.clone() },
                        selection: Some(vec![t.clone()]),
                        order: Order::AsWritten,
                        repeat: 1,
                        hash_seed: 0,
                        // The failing execution's time zone: only "alone" changes.
                        tz: tz.clone(),
                        pinned: false,
                        exclusive: self.parallel,
                        reseed: None,
                    };
                    self.questions.push_back(q);
                }
            }
        }
        if self.abilities.repeat {
            for (t, tz) in follow_idem {
                if !self.asked_idem.insert(t.id.clone()) {
                    continue;
                }
                for _ in 0..IDEMPOTENCE_RUNS {
                    self.questions.push_back(Job {
                        id: 0,
                        context: Context::RepeatAlone { test: t.id.clone() },
                        selection: Some(vec![t.clone()]),
                        order: Order::AsWritten,
                        repeat: REPEAT_TIMES,
                        hash_seed: 0,
                        tz: tz.clone(),
                        pinned: false,
                        exclusive: self.parallel,
                        reseed: None,
                    });
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
            let tz = o.failing_tz.clone();
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
                    tz: tz.clone(),
                    pinned: false,
                    exclusive: self.parallel,
                    reseed: None,
                });
            }
        }
        if !self.abilities.order {
            return;
        }
        if self.abilities.reseed {
            for id in follow_reseed {
                if !self.asked_reseed.insert(id.clone()) {
                    continue;
                }
                let o = &self.obs[&id];
                let Some(victim) = self.tests.iter().find(|t| t.id == id).cloned() else {
                    continue;
                };
                let mut replay = o.failing_order.clone();
                replay.push(victim.clone());
                let (of, tz) = (o.failing_order_of.unwrap_or_default(), o.failing_tz.clone());
                for _ in 0..RESEED_RUNS {
                    for others in [false, true] {
                        self.questions.push_back(Job {
                            id: 0,
                            context: Context::Reseeded {
                                test: id.clone(),
                                of,
                                with_others: others,
                            },
                            selection: Some(if others {
                                replay.clone()
                            } else {
                                vec![victim.clone()]
                            }),
                            order: Order::AsGiven,
                            repeat: 1,
                            hash_seed: 0,
                            tz: tz.clone(),
                            pinned: false,
                            exclusive: self.parallel,
                            reseed: Some(0),
                        });
                    }
                }
            }
        }
        for id in follow_confirm {
            let Some(pass) = self.obs[&id].last_pass.clone() else {
                continue;
            };
            if !self.asked_confirm.insert(id.clone()) {
                continue;
            }
            self.obs.get_mut(&id).expect("known test").confirm_of = Some(pass.of);
            let test = pass.order[pass.pos].clone();
            let with_others: Vec<TestRef> = pass.order[..=pass.pos].to_vec();
            // Interleaved, so that both halves meet the same load. When the passing zone is
            // not the alone runs' zone, a third kind tells the hash seed from the zone.
            let alone_tz = self.obs[&id].alone_tz.clone();
            let kinds: &[(bool, bool)] = if alone_tz == pass.tz {
                &[(false, false), (true, false)]
            } else {
                &[(false, false), (true, false), (false, true)]
            };
            for _ in 0..CONFIRM_RUNS {
                for &(others, seed_only) in kinds {
                    self.questions.push_back(Job {
                        id: 0,
                        context: Context::Confirm {
                            test: id.clone(),
                            of: pass.of,
                            with_others: others,
                            seed_only,
                        },
                        selection: Some(if others {
                            with_others.clone()
                        } else {
                            vec![test.clone()]
                        }),
                        order: Order::AsGiven,
                        repeat: 1,
                        hash_seed: pass.hash_seed,
                        tz: if seed_only {
                            alone_tz.clone()
                        } else {
                            pass.tz.clone()
                        },
                        pinned: true,
                        exclusive: self.parallel,
                        reseed: None,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flakehound_model::Attempt;

    fn t(id: &str) -> TestRef {
        TestRef {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            suite: vec![],
        }
    }

    fn case(id: &str, outcome: Outcome) -> TestCase {
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome,
            attempts: vec![Attempt::new(outcome)],
            properties: vec![],
            timestamp: None,
        }
    }

    fn next(s: &mut Scheduler) -> Job {
        match s.next_job() {
            Next::Run(j) => j,
            other => panic!("expected a job, got {other:?}"),
        }
    }

    const ALL: Abilities = Abilities {
        select: true,
        order: true,
        repeat: false,
        reseed: false,
    };

    fn zones() -> Vec<Option<String>> {
        vec![None, Some("W+12".into()), Some("E-14".into())]
    }

    #[test]
    fn rounds_vary_the_time_zone_and_round_one_is_the_machines() {
        let mut s = Scheduler::new(vec![t("a")], false, ALL, 7, Some(30)).with_zones(zones());
        let mut seen = HashSet::new();
        for r in 1..=30 {
            let j = next(&mut s);
            if r == 1 {
                assert_eq!(j.tz, None);
            }
            seen.insert(j.tz.clone());
            s.record(&j, Some(&[case("a", Outcome::Passed)]));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        // The same seed hands out the same zones.
        let mut again = Scheduler::new(vec![t("a")], false, ALL, 7, Some(30)).with_zones(zones());
        let mut s2 = Scheduler::new(vec![t("a")], false, ALL, 7, Some(30)).with_zones(zones());
        for _ in 0..30 {
            assert_eq!(next(&mut again).tz, next(&mut s2).tz);
        }
    }

    /// In a parallel hunt, a test that passes and then fails in a repeat round is run repeated
    /// alone, with nothing beside it, [`IDEMPOTENCE_RUNS`] times; those runs are not samples.
    #[test]
    fn pass_then_fail_in_a_repeat_round_asks_the_idempotence_check() {
        let abilities = Abilities {
            repeat: true,
            ..ALL
        };
        let mut s = Scheduler::new(
            vec![t("a"), t("b")],
            false,
            abilities,
            7,
            Some(REPEAT_EVERY),
        )
        .with_workers(2);
        let mut repeat = None;
        for _ in 0..REPEAT_EVERY {
            let j = next(&mut s);
            if matches!(j.context, Context::Repeat { .. }) {
                repeat = Some(j);
            } else {
                s.record(
                    &j,
                    Some(&[case("a", Outcome::Passed), case("b", Outcome::Passed)]),
                );
            }
        }
        let repeat = repeat.expect("a repeat round");
        let mut b = case("b", Outcome::Failed);
        b.attempts = vec![
            Attempt::new(Outcome::Passed),
            Attempt::new(Outcome::Failed),
            Attempt::new(Outcome::Failed),
        ];
        s.record(&repeat, Some(&[case("a", Outcome::Passed), b.clone()]));
        let (runs_before, _) = s.obs["b"].samples();
        for _ in 0..IDEMPOTENCE_RUNS {
            let j = next(&mut s);
            assert!(matches!(&j.context, Context::RepeatAlone { test } if test == "b"));
            assert_eq!(j.repeat, REPEAT_TIMES);
            assert!(j.exclusive, "nothing runs beside it");
            let ids: Vec<&str> = j
                .selection
                .as_ref()
                .unwrap()
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            assert_eq!(ids, ["b"]);
            s.record(&j, Some(&[b.clone()]));
        }
        let o = &s.obs["b"];
        assert_eq!((o.idem_runs, o.idem_pass_then_fail), (3, 3));
        assert_eq!(o.samples().0, runs_before, "the check is not a sample");
        assert_eq!(
            crate::classify::classify("b", o).class,
            crate::classify::Class::NonIdempotent
        );
        // Asked once per test.
        s.record(&repeat, Some(&[case("a", Outcome::Passed), b]));
        assert!(!matches!(
            s.next_job(),
            Next::Run(Job {
                context: Context::RepeatAlone { .. },
                ..
            })
        ));
    }

    /// `b` passes in round 1, fails in round 2, then fails every alone run: the brittle check
    /// runs it alone and after `a` under round 1's hash seed and zone, interleaved, and none of
    /// those (nor replays) count as samples of its failure rate.
    #[test]
    fn a_test_failing_every_run_alone_gets_the_brittle_check_under_the_passing_conditions() {
        let mut s =
            Scheduler::new(vec![t("a"), t("b")], false, ALL, 3, Some(2)).with_zones(zones());
        let r1 = next(&mut s);
        s.record(
            &r1,
            Some(&[case("a", Outcome::Passed), case("b", Outcome::Passed)]),
        );
        let r2 = next(&mut s);
        s.record(
            &r2,
            Some(&[case("a", Outcome::Passed), case("b", Outcome::Failed)]),
        );
        for _ in 0..ALONE_RUNS {
            let j = next(&mut s);
            assert!(matches!(&j.context, Context::Alone { test } if test == "b"));
            assert_eq!(j.tz, r2.tz, "alone runs keep the failing execution's zone");
            assert!(!j.pinned);
            s.record(&j, Some(&[case("b", Outcome::Failed)]));
        }
        // Round 1 ran in the machine's zone, the alone runs in round 2's: a third kind (the
        // passing seed in the alone runs' zone) tells the seed from the zone.
        assert_ne!(r1.tz, r2.tz);
        let mut kinds = Vec::new();
        for _ in 0..3 * CONFIRM_RUNS {
            let j = next(&mut s);
            let Context::Confirm {
                test,
                of,
                with_others,
                seed_only,
            } = &j.context
            else {
                panic!("expected a confirmation, got {:?}", j.context)
            };
            assert_eq!((test.as_str(), *of), ("b", r1.id));
            assert!(j.pinned);
            assert_eq!(j.hash_seed, r1.hash_seed);
            assert_eq!(
                j.tz,
                if *seed_only {
                    r2.tz.clone()
                } else {
                    r1.tz.clone()
                }
            );
            let ids: Vec<&str> = j
                .selection
                .as_ref()
                .unwrap()
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            assert_eq!(
                ids,
                if *with_others {
                    vec!["a", "b"]
                } else {
                    vec!["b"]
                }
            );
            assert_eq!(j.order, Order::AsGiven);
            kinds.push((*with_others, *seed_only));
            let results: Vec<TestCase> = if *with_others {
                vec![case("a", Outcome::Passed), case("b", Outcome::Passed)]
            } else {
                vec![case("b", Outcome::Failed)]
            };
            s.record(&j, Some(&results));
        }
        assert_eq!(
            kinds,
            [(false, false), (true, false), (false, true)].repeat(CONFIRM_RUNS as usize)
        );
        let o = &s.obs["b"];
        assert_eq!((o.confirm_alone_runs, o.confirm_alone_failures), (3, 3));
        assert_eq!((o.confirm_others_runs, o.confirm_others_failures), (3, 0));
        // Samples: the two rounds and the five alone runs, not the nine confirmations.
        assert_eq!((o.runs, o.failures), (7, 6));
        let f = crate::classify::classify("b", o);
        assert_eq!(f.class, crate::Class::OrderDependent, "{}", f.detail);
        assert!(matches!(s.next_job(), Next::Done));
    }

    #[test]
    fn replays_are_not_samples() {
        let mut s =
            Scheduler::new(vec![t("a"), t("v")], false, ALL, 5, Some(1)).with_zones(zones());
        let r1 = next(&mut s);
        s.record(
            &r1,
            Some(&[case("a", Outcome::Passed), case("v", Outcome::Failed)]),
        );
        for _ in 0..ALONE_RUNS {
            let j = next(&mut s);
            s.record(&j, Some(&[case("v", Outcome::Passed)]));
        }
        for _ in 0..REPLAY_RUNS {
            let j = next(&mut s);
            assert!(matches!(j.context, Context::Replay { .. }));
            assert_eq!(j.tz, r1.tz, "replays keep the failing execution's zone");
            s.record(
                &j,
                Some(&[case("a", Outcome::Passed), case("v", Outcome::Failed)]),
            );
        }
        let o = &s.obs["v"];
        assert_eq!((o.replay_runs, o.replay_failures), (3, 3));
        assert_eq!((o.runs, o.failures), (6, 1), "one failure replayed is one");
        assert_eq!(
            crate::classify::classify("v", o).class,
            crate::Class::OrderDependent
        );
    }
}
