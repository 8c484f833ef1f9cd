//! `flakehound polluter VICTIM`: which earlier test makes an order-dependent victim fail, which
//! test cleans up after it, and — for a brittle victim, one that fails alone — which earlier test
//! sets up what it needs.
//!
//! [`find`] takes the victim and the candidates (the tests that preceded it in a failing order,
//! or the whole suite), in that order, and runs experiments through a [`Lab`]: each one is some
//! of the candidates, in their original order, then the victim, in one fresh process.
//!
//! # Facts first
//! 1. The victim **alone** ([`Options::alone_runs`] runs). Passes → look for a *polluter*: a
//!    test whose prior execution makes it fail. Fails every time → the victim is *brittle*:
//!    look for a *state-setter*, a test whose prior execution makes it pass (the same search
//!    with the outcome flipped). Both → it is flaky on its own: see *noise* below.
//! 2. The victim **after all candidates**. When that does not give the outcome searched for,
//!    the candidates do not reproduce the failure (or hold no state-setter): the report says so
//!    ([`Verdict::NotReproduced`]) and nothing else is run.
//!
//! # The search
//! A delta-debugging bisection (Zeller's `dd` with interference, binary splits) for a minimal
//! set of candidates that, run before the victim, gives the outcome searched for:
//! - The set is split in two, in the original order, **at a boundary between modules** (pytest:
//!   the node id up to the first `::`; other runners: the id up to its last `::`) when one
//!   leaves neither half larger than ⅔ of the set, else between classes (the node id up to its
//!   last `::`), else in the middle. Tests of one module or class stay together as long as
//!   other tests are left to split off, so pollution that needs several of them (state built
//!   up in a module-scoped fixture or a class attribute) is narrowed down to that module or
//!   class as cheaply as a single polluter, and only then taken apart.
//! - The first half is run. If it gives the outcome, the search goes on in it. If not, the
//!   culprit is *inferred* to be in the second half, which is searched without running it; the
//!   single test this ends on is run with the victim to check (unless that exact experiment
//!   already ran).
//! - The result is run once more at the end, afresh (the culprits, then the victim, must give
//!   the outcome), unless it is a single test whose run was the check of an inference: a
//!   bisection step that a random failure sent the wrong way is caught there.
//! - So one polluter among `n` candidates costs one run per level of splits (at most
//!   `2·⌈log2 n⌉ − 1` levels: two ⅔-splits in a row more than halve the set), one run to check
//!   the last inference or the result, and the two establishing runs: at most
//!   `2·⌈log2 n⌉ + 2` runs, within [`Report::run_bound`] `= 2·⌈log2 n⌉ + 3` (the level count is
//!   checked for every `n` up to 200,000 in the tests).
//! - When an inference turns out wrong (the check passes), the search goes back to the nearest
//!   set that really gave the outcome and runs its second half. When both halves pass, the
//!   culprits are **several tests needed together**: each half is searched with the other as
//!   context (`dd(c1, c2 ∪ r)`, then `dd(c2, d1 ∪ r)`), which ends on a set in which every test
//!   is needed (1-minimal).
//! - Identical experiments are not run twice during the search (results are cached per
//!   subset).
//!
//! # Noise
//! When the victim is also flaky on its own ([`Options::confirm`], or detected: it both passed
//! and failed alone, or the final check contradicted the search), every experiment is repeated
//! up to [`Options::votes`] times and decided by majority (stopping as soon as one outcome has
//! it). The report gives the noise rates estimated from the minority votes — how often the
//! victim fails in experiments decided "passes", and passes in experiments decided "fails",
//! two rates since a flaky victim's random failures need not come with random passes — and
//! the [`Report::confidence`] that every decision of the search was right under those rates.
//! A search that ends in a contradiction (its result, run afresh, does not give the outcome) is
//! run again with confirmation, over the evidence gathered so far (earlier runs count as
//! votes; the contradicting run replaces the evidence it contradicts), up to [`SEARCHES`]
//! times in all.
//!
//! # Cleaners
//! Once the polluter(s) `P` are known, [`find`] looks among the other candidates (and
//! [`Options::suite`]) for cleaners: tests `C` such that `P, C, victim` passes. Up to
//! [`CHECK_EACH`] tests are run one by one; more are group-tested: a group that makes the
//! victim pass is split (by modules, as above) until single tests are left, a group that does
//! not is dropped; when a group passes and its first half does not, the second half is known
//! to hold a cleaner and is split without being run. A group holding a cleaner followed by a
//! test that pollutes again is dropped too: group testing can miss such a cleaner. When the
//! polluter and the victim share a module and tests of other modules clean up, the report notes
//! that the state probably lives in module scope (leaving the module tears its fixtures down).
//!
//! # Reproduction
//! For each finding, the [`Lab::command`] of the minimal experiment as a shell line. For pytest,
//! when the adapter put the node ids on the command line (see `pytest_narrow`), flakehound's own
//! additions (its plugin, its report, its scratch files) are taken out, which leaves a line that
//! works without flakehound: `python -m pytest -q tests/a.py::test_sets tests/b.py::test_reads`.
//!
//! A run whose process dies before writing its report (a test calling `os._exit`, a crash)
//! counts as the victim not passing: a test that kills the victim's process is a polluter too.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flakehound_runner::{Cmd, Order, RunnerKind, TestRef, shell_quote};
use serde::Serialize;

use crate::{Error, Lab, Result};

/// Searches at most (the first, and again after contradictions) before giving up
/// ([`Verdict::Inconclusive`]).
pub const SEARCHES: u32 = 4;

/// Up to this many cleaner candidates are run one by one; more are group-tested.
pub const CHECK_EACH: usize = 4;

/// How [`find`] searches.
#[derive(Clone, Debug)]
pub struct Options {
    /// Confirm every experiment by majority vote from the start (the victim is known to be
    /// flaky on its own).
    pub confirm: bool,
    /// Switch confirmation on when noise shows: the victim both passes and fails alone, or the
    /// final check contradicts the search (which is then run again).
    pub auto_confirm: bool,
    /// Runs per confirmed experiment (majority of this many; an even number is raised by one,
    /// zero counts as one).
    pub votes: u32,
    /// Runs of the victim alone at the start (at least one; at least [`Options::votes`] when
    /// confirming). When one fails, more are run to tell a brittle victim (fails every time)
    /// from a flaky one.
    pub alone_runs: u32,
    /// Look for cleaners once the polluter is known.
    pub cleaners: bool,
    /// Stop looking for cleaners after this many.
    pub max_cleaners: usize,
    /// More tests to consider as cleaners besides the other candidates (e.g. the whole
    /// suite), in their order; the candidates, the culprits and the victim among them are not
    /// considered twice.
    pub suite: Vec<TestRef>,
    /// Stop after this many runs in all (`None`: no limit). The report then gives the smallest
    /// set of candidates known to reproduce ([`Verdict::BudgetExhausted`]).
    pub max_runs: Option<u32>,
    /// Extra environment for every run, on top of [`Lab::env`].
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            confirm: false,
            auto_confirm: true,
            votes: 3,
            alone_runs: 1,
            cleaners: true,
            max_cleaners: 3,
            suite: Vec::new(),
            max_runs: None,
            env: Vec::new(),
        }
    }
}

/// What was searched for, decided by how the victim fares alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Search {
    /// The victim passes alone: tests whose prior execution makes it fail.
    Polluter,
    /// The victim fails alone (brittle): tests whose prior execution makes it pass.
    StateSetter,
}

/// How the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// [`Report::culprits`], run before the victim, give the outcome searched for, and each of
    /// them is needed.
    Found,
    /// The victim fares the same after all the candidates as alone: they hold no polluter (or
    /// no state-setter).
    NotReproduced,
    /// No candidates were given (besides the victim).
    NoCandidates,
    /// [`Options::max_runs`] ran out; [`Report::culprits`] is the smallest set of candidates
    /// seen to give the outcome (not necessarily minimal; empty when none was).
    BudgetExhausted,
    /// The experiments contradicted each other even with confirmation (the victim is too
    /// flaky, or the pollution depends on more than which tests ran before);
    /// [`Report::culprits`] as for [`Verdict::BudgetExhausted`].
    Inconclusive,
    /// Stopped by Ctrl-C; [`Report::culprits`] as for [`Verdict::BudgetExhausted`].
    Interrupted,
}

/// Outcomes of the victim over the runs of one experiment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub runs: u32,
    pub passed: u32,
    /// Ran and failed (or errored).
    pub failed: u32,
    /// Did not run, or no result: skipped, or the process died before writing its report.
    /// Counts as not passing.
    pub missing: u32,
}

impl Tally {
    fn add(&mut self, passed: Option<bool>) {
        self.runs += 1;
        match passed {
            Some(true) => self.passed += 1,
            Some(false) => self.failed += 1,
            None => self.missing += 1,
        }
    }

    fn not_passed(&self) -> u32 {
        self.runs - self.passed
    }

    /// Votes against the majority outcome.
    fn minority(&self) -> u32 {
        self.passed.min(self.not_passed())
    }

    /// The decision once one outcome has `need` votes and the majority: whether the victim
    /// passed. `None` while undecided.
    fn decided(&self, need: u32) -> Option<bool> {
        let (p, n) = (self.passed, self.not_passed());
        if p >= need && p > n {
            Some(true)
        } else if n >= need && n > p {
            Some(false)
        } else {
            None
        }
    }
}

/// Why an experiment was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The victim alone.
    Alone,
    /// Every candidate, then the victim.
    AllCandidates,
    /// Half of a set known (or inferred) to give the outcome.
    Bisect,
    /// Bisection of one half with the other half as context (several culprits needed).
    Interference,
    /// Check of a single test or of the final culprits.
    Verify,
    /// Culprits, then tests that may clean up, then the victim.
    Cleaner,
    /// The culprits, then the victim, with Python's `random` reseeded before each test: tells
    /// shared random state from polluted state.
    Reseeded,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Alone => "alone",
            Purpose::AllCandidates => "all-candidates",
            Purpose::Bisect => "bisect",
            Purpose::Interference => "interference",
            Purpose::Verify => "verify",
            Purpose::Cleaner => "cleaner",
            Purpose::Reseeded => "reseeded",
        }
    }
}

/// One experiment of the transcript.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// 1-based.
    pub n: usize,
    pub purpose: Purpose,
    /// How many tests ran before the victim.
    pub before: usize,
    /// 1-based positions in the candidate list of the tests before the victim (`"1-15, 20"`);
    /// `None` for cleaner experiments, whose tests are not all candidates.
    pub positions: Option<String>,
    /// The ids of the tests before the victim, when at most [`STEP_IDS`] (else empty).
    pub tests: Vec<String>,
    pub tally: Tally,
    /// The decision: whether the victim passed (majority of the runs).
    pub victim_passed: bool,
    /// Wall time of the experiment's runs.
    pub seconds: f64,
}

/// Steps list the ids of at most this many tests.
pub const STEP_IDS: usize = 8;

/// A minimal experiment that shows a finding.
#[derive(Clone, Debug, Serialize)]
pub struct Reproduction {
    /// What it shows, for people.
    pub what: String,
    /// The tests, in order; the victim last.
    pub tests: Vec<String>,
    /// Whether the victim is expected to pass.
    pub victim_passes: bool,
    /// The shell line (with `cd DIR &&` in front when the lab has a working directory).
    pub command: String,
    /// Whether `command` works without flakehound; when `false` it uses flakehound's scratch
    /// files (the selection file, the pytest plugin), which last as long as the lab's scratch
    /// directory.
    pub portable: bool,
}

/// Everything [`find`] learnt.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub victim: String,
    pub search: Search,
    pub verdict: Verdict,
    /// Polluters (all needed together) or state-setters, in candidate order.
    pub culprits: Vec<String>,
    /// Tests that, run between the polluters and the victim, make the victim pass.
    pub cleaners: Vec<String>,
    /// How many tests were considered as cleaners.
    pub cleaner_pool: usize,
    /// Whether every test of the pool was decided (not stopped by [`Options::max_cleaners`] or
    /// the run budget). Always `true` when no cleaner search ran.
    pub cleaners_complete: bool,
    /// The polluters only moved a random generator seeded once for all: after them, with
    /// Python's `random` reseeded before each test, the victim passes (pytest only; then no
    /// cleaner search runs: any test that draws a number "cleans" or "pollutes").
    pub shared_random_state: bool,
    /// Candidates after removing the victim and duplicates.
    pub candidates: usize,
    /// The victim alone.
    pub alone: Tally,
    /// Whether the victim's outcome varied between runs of one experiment.
    pub noisy: bool,
    /// Whether experiments were confirmed by majority vote (from the start or once noise
    /// showed).
    pub confirmed: bool,
    /// Runs per confirmed experiment.
    pub votes: u32,
    /// Estimated rate at which a run of the victim goes against the majority of its experiment
    /// (minority votes over votes, in experiments run more than once); 0 when no vote disagreed.
    pub noise_rate: f64,
    /// The same, in experiments decided "the victim passes": its random failures.
    pub fail_noise_rate: f64,
    /// The same, in experiments decided "the victim fails": its random passes.
    pub pass_noise_rate: f64,
    /// Probability that every decision of the search was right, if each run goes against the
    /// truth independently, failing at `fail_noise_rate` when the victim should pass and
    /// passing at `pass_noise_rate` when it should fail, with both outcomes equally likely
    /// beforehand (1 when no noise was seen).
    pub confidence: f64,
    /// Fresh processes in all.
    pub runs: u32,
    /// Runs until the culprits were known (establishing, bisection and checks).
    pub search_runs: u32,
    /// Runs of the cleaner search.
    pub cleaner_runs: u32,
    /// Runs of the shared-random-state check (pytest, once culprits are found).
    pub reseed_runs: u32,
    /// `2·⌈log2 n⌉ + 3` for `n` candidates: the most [`Report::search_runs`] takes for a single
    /// polluter when the victim is not flaky.
    pub run_bound: u32,
    /// Wall time of the whole search, cleaners included.
    pub seconds: f64,
    pub reproductions: Vec<Reproduction>,
    /// Every experiment, in order.
    pub steps: Vec<Step>,
    /// Events of the search worth telling (noise detected, restarts...), in order.
    pub notes: Vec<String>,
    /// One line for people.
    pub summary: String,
}

/// `2·⌈log2 n⌉ + 3` (0 for no candidates): see [`Report::run_bound`].
pub fn run_bound(n: usize) -> u32 {
    if n == 0 { 0 } else { 2 * ceil_log2(n) + 3 }
}

fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// The scopes of a test id that the bisection keeps together: `[module, class]`. For pytest,
/// the node id (parameters left out) up to the first `::`, and up to the last `::`; for other
/// runners, the id up to its last `::` for both. An id without `::` is a scope of its own.
pub fn scopes(kind: RunnerKind, id: &str) -> [String; 2] {
    let base = match kind {
        // `[` starts the parameters, which may contain `::`.
        RunnerKind::Pytest => id.split('[').next().unwrap_or(id),
        _ => id,
    };
    let Some((up_to_last, _)) = base.rsplit_once("::") else {
        return [id.to_string(), id.to_string()];
    };
    match kind {
        RunnerKind::Pytest => {
            let module = base.split("::").next().unwrap_or(base);
            [module.to_string(), up_to_last.to_string()]
        }
        _ => [up_to_last.to_string(), up_to_last.to_string()],
    }
}

/// Splits `c` (indices into `keys`) in two non-empty parts, in order: at the most balanced
/// module boundary that leaves no part larger than ⅔ of `c`, else such a class boundary, else
/// in the middle. `c` must hold at least two entries.
fn split(c: &[usize], keys: &[[String; 2]]) -> (Vec<usize>, Vec<usize>) {
    let m = c.len();
    let limit = if m <= 2 { 1 } else { 2 * m / 3 };
    for level in [0, 1] {
        let mut best: Option<(usize, usize)> = None;
        for i in 1..m {
            if keys[c[i - 1]][level] != keys[c[i]][level] {
                let big = i.max(m - i);
                if big <= limit && best.is_none_or(|(b, _)| big < b) {
                    best = Some((big, i));
                }
            }
        }
        if let Some((_, i)) = best {
            return (c[..i].to_vec(), c[i..].to_vec());
        }
    }
    let i = (m / 2).max(1).min(m);
    (c[..i].to_vec(), c[i..].to_vec())
}

/// The sorted union of two index sets.
fn union(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut u: Vec<usize> = a.iter().chain(b).copied().collect();
    u.sort_unstable();
    u.dedup();
    u
}

/// `[0, 1, 2, 4]` → `"1-3, 5"` (1-based).
fn positions(set: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < set.len() {
        let mut j = i;
        while j + 1 < set.len() && set[j + 1] == set[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        if i == j {
            out.push_str(&(set[i] + 1).to_string());
        } else {
            out.push_str(&format!("{}-{}", set[i] + 1, set[j] + 1));
        }
        i = j + 1;
    }
    out
}

/// Probability that the majority decision of an experiment with `passes` and `fails` runs is
/// wrong, when a run fails at random with probability `qf` where the victim should pass, and
/// passes with probability `qp` where it should fail (equal prior on both truths).
fn wrong(qf: f64, qp: f64, passes: u32, fails: u32) -> f64 {
    let (qf, qp) = (qf.clamp(0.0, 0.5), qp.clamp(0.0, 0.5));
    let (p, f) = (passes as i32, fails as i32);
    let should_pass = (1.0 - qf).powi(p) * qf.powi(f);
    let should_fail = qp.powi(p) * (1.0 - qp).powi(f);
    let total = should_pass + should_fail;
    if total == 0.0 {
        return 0.5;
    }
    if passes > fails {
        should_fail / total
    } else {
        should_pass / total
    }
}

/// Why the search stopped early.
enum Stop {
    /// An inferred step turned out wrong (handled by the nearest verified step).
    Inconsistent,
    /// [`Options::max_runs`] reached.
    Budget,
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fail(e)
    }
}

/// The fixed parts of a cleaner search.
struct Groups<'p> {
    keys: Vec<[String; 2]>,
    polluters: Vec<TestRef>,
    pool: &'p [TestRef],
}

struct Engine<'r, 'l> {
    lab: &'r Lab<'l>,
    opts: &'r Options,
    victim: &'r TestRef,
    cands: Vec<TestRef>,
    keys: Vec<[String; 2]>,
    /// The outcome searched for: `false` = the victim does not pass (polluter).
    want_pass: bool,
    confirm: bool,
    votes: u32,
    /// Candidate subset (sorted) → the victim's outcomes after it, all runs so far: an
    /// experiment decided by one run is topped up to a majority once confirmation is on.
    cache: HashMap<Vec<usize>, Tally>,
    /// Outcomes of experiments of the search no longer in the cache (run afresh since).
    retired: Vec<Tally>,
    /// The victim alone.
    alone: Tally,
    /// Outcomes of the cleaner experiments.
    cleaning: Vec<Tally>,
    /// Smallest subset seen to give the outcome.
    best: Option<Vec<usize>>,
    /// Subsets run to check an inference ([`Purpose::Verify`]).
    checked: HashSet<Vec<usize>>,
    steps: Vec<Step>,
    notes: Vec<String>,
    runs: u32,
    /// Depth of interference recursion, to label steps.
    interfering: u32,
    /// Told every step as it is added to the transcript, with the runs so far.
    on_step: &'r mut dyn FnMut(&Step, u32),
}

impl Engine<'_, '_> {
    /// One fresh process: `before`, then the victim. `Some(passed)`, or `None` when the victim
    /// has no result.
    fn run_once(&mut self, before: &[TestRef]) -> Result<Option<bool>, Stop> {
        if self.opts.max_runs.is_some_and(|max| self.runs >= max) {
            return Err(Stop::Budget);
        }
        self.runs += 1;
        let mut tests = before.to_vec();
        tests.push(self.victim.clone());
        match self.lab.run(&tests, Order::AsGiven, 1, &self.opts.env) {
            Ok(trial) => Ok(trial.failed(&self.victim.id).map(|failed| !failed)),
            // The process died before writing a (complete) report.
            Err(Error::Runner(
                flakehound_runner::Error::MissingReport { .. }
                | flakehound_runner::Error::BadReport { .. },
            )) => Ok(None),
            Err(e) => Err(Stop::Fail(e)),
        }
    }

    /// Adds a step to the transcript: the runs it made (`tally`), the decision.
    fn record(
        &mut self,
        purpose: Purpose,
        before: &[TestRef],
        set: Option<&[usize]>,
        tally: Tally,
        passed: bool,
        t0: Instant,
    ) {
        self.steps.push(Step {
            n: self.steps.len() + 1,
            purpose,
            before: before.len(),
            positions: set.map(positions),
            tests: if before.len() <= STEP_IDS {
                before.iter().map(|t| t.id.clone()).collect()
            } else {
                Vec::new()
            },
            tally,
            victim_passed: passed,
            seconds: t0.elapsed().as_secs_f64(),
        });
        if let Some(step) = self.steps.last() {
            (self.on_step)(step, self.runs);
        }
    }

    /// Votes that decide an experiment: 1, or a majority of [`Engine::votes`] when confirming.
    fn need(&self) -> u32 {
        if self.confirm { self.votes / 2 + 1 } else { 1 }
    }

    /// One experiment: `before`, then the victim, run until decided ([`Engine::need`]), counting
    /// the `prior` runs of the same experiment. All its runs so far; a step in the transcript
    /// when it ran.
    fn observe(
        &mut self,
        before: &[TestRef],
        set: Option<&[usize]>,
        purpose: Purpose,
        prior: Tally,
    ) -> Result<Tally, Stop> {
        let t0 = Instant::now();
        let need = self.need();
        let mut new = Tally::default();
        let mut all = prior;
        let passed = loop {
            if let Some(passed) = all.decided(need) {
                break passed;
            }
            let p = self.run_once(before)?;
            new.add(p);
            all.add(p);
        };
        if new.runs > 0 {
            self.record(purpose, before, set, new, passed, t0);
        }
        Ok(all)
    }

    /// Whether the candidates `set` (sorted), then the victim, give the outcome searched for.
    fn bad(&mut self, set: &[usize], purpose: Purpose) -> Result<bool, Stop> {
        let prior = self.cache.get(set).copied().unwrap_or_default();
        let passed = match prior.decided(self.need()) {
            Some(p) => p,
            None => {
                let before: Vec<TestRef> = set.iter().map(|&i| self.cands[i].clone()).collect();
                let all = self.observe(&before, Some(set), purpose, prior)?;
                self.cache.insert(set.to_vec(), all);
                if purpose == Purpose::Verify && prior.runs == 0 {
                    self.checked.insert(set.to_vec());
                }
                all.decided(self.need()).unwrap_or(false)
            }
        };
        let bad = passed == self.want_pass;
        if bad && self.best.as_ref().is_none_or(|b| set.len() < b.len()) {
            self.best = Some(set.to_vec());
        }
        Ok(bad)
    }

    /// The culprits `set`, then the victim, twice, with `random` reseeded (to 0) before each
    /// test: whether the victim passed both times.
    fn reseeded(&mut self, set: &[usize]) -> Result<bool, Stop> {
        let t0 = Instant::now();
        let before: Vec<TestRef> = set.iter().map(|&i| self.cands[i].clone()).collect();
        let mut tests = before.clone();
        tests.push(self.victim.clone());
        let mut env = self.opts.env.clone();
        env.push(("FLAKEHOUND_PYTEST_RANDOM_SEED".into(), "0".into()));
        let mut tally = Tally::default();
        for _ in 0..2 {
            if self.opts.max_runs.is_some_and(|max| self.runs >= max) {
                return Err(Stop::Budget);
            }
            self.runs += 1;
            let passed = match self.lab.run(&tests, Order::AsGiven, 1, &env) {
                Ok(trial) => trial.failed(&self.victim.id).map(|failed| !failed),
                Err(Error::Runner(
                    flakehound_runner::Error::MissingReport { .. }
                    | flakehound_runner::Error::BadReport { .. },
                )) => None,
                Err(e) => return Err(Stop::Fail(e)),
            };
            tally.add(passed);
        }
        let passed = tally.passed == tally.runs;
        self.record(Purpose::Reseeded, &before, Some(set), tally, passed, t0);
        Ok(passed)
    }

    /// [`Engine::bad`] without looking at (but updating) the cache.
    fn bad_fresh(&mut self, set: &[usize]) -> Result<bool, Stop> {
        if let Some(old) = self.cache.remove(set) {
            self.retired.push(old);
        }
        self.bad(set, Purpose::Verify)
    }

    /// The victim alone: decides what to search for, and whether it is flaky on its own.
    fn alone(&mut self) -> Result<Tally, Stop> {
        let t0 = Instant::now();
        let min = if self.confirm {
            self.votes.max(self.opts.alone_runs)
        } else {
            self.opts.alone_runs.max(1)
        };
        let mut tally = Tally::default();
        while tally.runs < min {
            let p = self.run_once(&[])?;
            tally.add(p);
        }
        // A failure: brittle (fails every time) or flaky? Run until it passes, up to `votes`.
        while tally.passed == 0 && tally.runs < self.votes {
            let p = self.run_once(&[])?;
            tally.add(p);
        }
        if tally.passed > 0 && tally.passed < tally.runs {
            if !self.confirm && self.opts.auto_confirm {
                self.confirm = true;
                self.notes.push(format!(
                    "the victim passed {} and failed {} of {} runs alone: it is flaky on its \
                     own; every experiment is confirmed by majority of {}",
                    tally.passed,
                    tally.not_passed(),
                    tally.runs,
                    self.votes
                ));
            }
            // A clear majority, over at least `votes` runs.
            while tally.runs < self.votes || tally.passed * 2 == tally.runs {
                let p = self.run_once(&[])?;
                tally.add(p);
            }
        }
        if tally.passed == 0 && tally.failed == 0 {
            return Err(Stop::Fail(Error::Usage(format!(
                "the victim {} has no result when run alone ({} run(s)): is it a test of this \
                 suite, and not skipped?",
                self.victim.id, tally.runs
            ))));
        }
        let passed = tally.passed * 2 > tally.runs;
        self.want_pass = !passed;
        self.alone = tally;
        self.record(Purpose::Alone, &[], None, tally, passed, t0);
        Ok(tally)
    }

    /// A minimal subset of `c` that, with the context `r`, gives the outcome searched for.
    /// Requires: `c ∪ r` gives it (`verified`: seen; else inferred), `r` alone does not.
    fn dd(&mut self, c: Vec<usize>, r: Vec<usize>, verified: bool) -> Result<Vec<usize>, Stop> {
        if c.len() <= 1 {
            if !verified && !c.is_empty() && !self.bad(&union(&c, &r), Purpose::Verify)? {
                return Err(Stop::Inconsistent);
            }
            return Ok(c);
        }
        let (c1, c2) = split(&c, &self.keys);
        let purpose = if self.interfering > 0 {
            Purpose::Interference
        } else {
            Purpose::Bisect
        };
        if self.bad(&union(&c1, &r), purpose)? {
            return self.dd(c1, r, true);
        }
        // The first half does not: infer the second does, and check where the search ends.
        match self.dd(c2.clone(), r.clone(), false) {
            Ok(found) => return Ok(found),
            // Only a verified set can tell where the inference went wrong.
            Err(Stop::Inconsistent) if verified => {}
            Err(e) => return Err(e),
        }
        if self.bad(&union(&c2, &r), purpose)? {
            return self.dd(c2, r, true);
        }
        // Neither half alone: culprits in both, needed together.
        self.interfering += 1;
        let found = self.dd(c1, union(&c2, &r), true).and_then(|d1| {
            let d2 = self.dd(c2, union(&d1, &r), true)?;
            Ok(union(&d1, &d2))
        });
        self.interfering -= 1;
        found
    }

    /// The minimal culprits, checked. On a contradiction (the final check does not give the
    /// outcome) confirmation is switched on and the search runs again over what it knows
    /// (the contradicting run replaced the evidence it contradicted), up to [`SEARCHES`] times.
    fn search(&mut self) -> Result<(Verdict, Vec<usize>), Stop> {
        let all: Vec<usize> = (0..self.cands.len()).collect();
        let mut searches = 1;
        loop {
            let found = self.dd(all.clone(), Vec::new(), true)?;
            // Run afresh, even when this very set ran during the search: a random failure there
            // would otherwise stand unchallenged. Except for a single test whose run was the
            // check of an inference (the one-polluter case): that run was the challenge. A
            // result of several tests comes out of interference, which is also where a random
            // failure leads the search: it is always run again.
            let confirmed = if found.is_empty() {
                false
            } else if found.len() == 1 && self.checked.contains(&found) {
                self.bad(&found, Purpose::Verify)?
            } else {
                self.bad_fresh(&found)?
            };
            if confirmed {
                return Ok((Verdict::Found, found));
            }
            let contradiction = format!(
                "the experiments contradict each other: {} before the victim did not give what \
                 the search inferred",
                positions(&found)
            );
            if (!self.confirm && !self.opts.auto_confirm) || searches >= SEARCHES {
                self.notes.push(contradiction);
                return Ok((Verdict::Inconclusive, self.best.clone().unwrap_or_default()));
            }
            searches += 1;
            if self.confirm {
                self.notes.push(format!(
                    "{contradiction}; searching again with that evidence"
                ));
            } else {
                self.confirm = true;
                self.notes.push(format!(
                    "{contradiction} (noise?); searching again, every experiment confirmed by \
                     majority of {} (runs made so far count as votes)",
                    self.votes
                ));
            }
            self.best = None;
            if !self.bad(&all, Purpose::AllCandidates)? {
                return Ok((Verdict::NotReproduced, Vec::new()));
            }
        }
    }

    /// Cleaners of `culprits` among `pool`: tests after which the victim passes again. Whether
    /// the search decided every test of the pool (else it stopped at the cap or the budget).
    fn cleaners(
        &mut self,
        culprits: &[usize],
        pool: &[TestRef],
        found: &mut Vec<String>,
    ) -> Result<bool, Stop> {
        let kind = self.lab.adapter().kind();
        let mut g = Groups {
            keys: pool.iter().map(|t| scopes(kind, &t.id)).collect(),
            polluters: culprits.iter().map(|&i| self.cands[i].clone()).collect(),
            pool,
        };
        let all: Vec<usize> = (0..pool.len()).collect();
        let outcome = if pool.len() <= CHECK_EACH {
            all.iter()
                .try_for_each(|&i| self.clean_group(&mut g, vec![i], false, found).map(drop))
        } else {
            self.clean_group(&mut g, all, false, found).map(drop)
        };
        match outcome {
            Ok(()) => Ok(true),
            Err(Stop::Budget) | Err(Stop::Inconsistent) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Group test: whether the polluters, then `group`, then the victim, pass (`known`: it is
    /// inferred that they do, from the parent group passing and its first half not); when they
    /// do, the halves are searched in turn, down to single tests, which go to `found`.
    fn clean_group(
        &mut self,
        g: &mut Groups,
        group: Vec<usize>,
        known: bool,
        found: &mut Vec<String>,
    ) -> Result<bool, Stop> {
        if found.len() >= self.opts.max_cleaners {
            return Err(Stop::Budget);
        }
        let cleans = if known && group.len() > 1 {
            true
        } else {
            let mut before = g.polluters.clone();
            before.extend(group.iter().map(|&i| g.pool[i].clone()));
            let all = self.observe(&before, None, Purpose::Cleaner, Tally::default())?;
            self.cleaning.push(all);
            all.decided(self.need()).unwrap_or(false)
        };
        if !cleans {
            if group.len() == 1 {
                return Ok(false);
            }
            // "The victim still fails after the group" clears every member only if none of them
            // pollutes again after a cleaner. The group alone, then the victim, tells: when the
            // victim fails after it, a member pollutes, so each half is tested on its own.
            let alone: Vec<TestRef> = group.iter().map(|&i| g.pool[i].clone()).collect();
            let t = self.observe(&alone, None, Purpose::Cleaner, Tally::default())?;
            self.cleaning.push(t);
            if t.decided(self.need()).unwrap_or(false) {
                return Ok(false);
            }
            let (a, b) = split(&group, &g.keys);
            let first = self.clean_group(g, a, false, found)?;
            let second = self.clean_group(g, b, false, found)?;
            return Ok(first || second);
        }
        if group.len() == 1 {
            found.push(g.pool[group[0]].id.clone());
            return Ok(true);
        }
        let (a, b) = split(&group, &g.keys);
        let first = self.clean_group(g, a, false, found)?;
        self.clean_group(g, b, !first, found)?;
        Ok(true)
    }

    /// Whether noise showed, the noise rates (all, failures, passes), and the confidence of
    /// the search's decisions: over every experiment's runs (the cleaners' too for the rates).
    fn noise(&self) -> (bool, f64, f64, f64, f64) {
        let search: Vec<Tally> = std::iter::once(self.alone)
            .chain(self.cache.values().copied())
            .chain(self.retired.iter().copied())
            .collect();
        let all = search.iter().chain(&self.cleaning);
        let noisy = all.clone().any(|t| t.minority() > 0);
        // (minority, votes) in experiments decided "passes", and "fails".
        let (mut fail, mut pass) = ((0, 0), (0, 0));
        for t in all.filter(|t| t.runs > 1) {
            let n = if t.passed > t.not_passed() {
                &mut fail
            } else {
                &mut pass
            };
            n.0 += t.minority();
            n.1 += t.runs;
        }
        let rate = |(minority, votes): (u32, u32)| {
            if votes == 0 {
                0.0
            } else {
                f64::from(minority) / f64::from(votes)
            }
        };
        let (qf, qp) = (rate(fail), rate(pass));
        let both = rate((fail.0 + pass.0, fail.1 + pass.1));
        let confidence = search
            .iter()
            .filter(|t| t.runs > 0)
            .map(|t| 1.0 - wrong(qf, qp, t.passed, t.not_passed()))
            .product();
        (noisy, both, qf, qp, confidence)
    }
}

/// Finds what makes `victim` fail after `candidates` (or, when it fails alone, what makes it
/// pass): see the module docs. `candidates` are the tests that preceded the victim in a failing
/// order (or the whole suite), in that order; the victim and repeated ids among them are
/// dropped. Errors are the lab's (the runner cannot run, the victim has no result alone);
/// everything else, including "nothing found", is a [`Report`].
pub fn find(lab: &Lab, victim: &TestRef, candidates: &[TestRef], opts: &Options) -> Result<Report> {
    find_observed(
        lab,
        victim,
        candidates,
        opts,
        &mut flakehound_events::ignore,
    )
}

/// [`find`], telling `events` as it goes: the start (the victim, the candidates), every step
/// of the search, and the end (the summary).
pub fn find_observed(
    lab: &Lab,
    victim: &TestRef,
    candidates: &[TestRef],
    opts: &Options,
    events: flakehound_events::Sink<'_>,
) -> Result<Report> {
    use flakehound_events::{Emitter, Ending, EventKind};
    let mut em = Emitter::new(events);
    em.emit(EventKind::Started {
        engine: flakehound_events::Engine::Polluter,
        subject: Some(victim.id.clone()),
        tests: Some(candidates.len() as u64),
        planned: opts.max_runs.map(u64::from),
        unit: opts.max_runs.map(|_| "runs".to_string()),
    });
    let r = search(lab, victim, candidates, opts, &mut |step, runs| {
        em.emit(EventKind::CandidateStep {
            purpose: step.purpose.as_str().to_string(),
            candidates: step.before as u64,
            failed: Some(!step.victim_passed),
            runs: u64::from(runs),
        })
    });
    if let Ok(r) = &r {
        em.emit(EventKind::Finished {
            engine: flakehound_events::Engine::Polluter,
            ending: if r.verdict == Verdict::Interrupted {
                Ending::Interrupted
            } else {
                Ending::Completed
            },
            summary: r.summary.clone(),
        });
    }
    r
}

fn search(
    lab: &Lab,
    victim: &TestRef,
    candidates: &[TestRef],
    opts: &Options,
    on_step: &mut dyn FnMut(&Step, u32),
) -> Result<Report> {
    let t0 = Instant::now();
    let kind = lab.adapter().kind();
    let mut seen = HashSet::new();
    seen.insert(victim.id.as_str());
    let cands: Vec<TestRef> = candidates
        .iter()
        .filter(|t| seen.insert(t.id.as_str()))
        .cloned()
        .collect();
    let keys = cands.iter().map(|t| scopes(kind, &t.id)).collect();
    let votes = opts.votes.max(1) | 1;
    let mut e = Engine {
        lab,
        opts,
        victim,
        cands,
        keys,
        want_pass: false,
        confirm: opts.confirm,
        votes,
        cache: HashMap::new(),
        retired: Vec::new(),
        alone: Tally::default(),
        cleaning: Vec::new(),
        best: None,
        checked: HashSet::new(),
        steps: Vec::new(),
        notes: Vec::new(),
        runs: 0,
        interfering: 0,
        on_step,
    };
    let n = e.cands.len();
    let mut report = Report {
        victim: victim.id.clone(),
        search: Search::Polluter,
        verdict: Verdict::NoCandidates,
        culprits: Vec::new(),
        cleaners: Vec::new(),
        cleaner_pool: 0,
        cleaners_complete: true,
        shared_random_state: false,
        candidates: n,
        alone: Tally::default(),
        noisy: false,
        confirmed: false,
        votes,
        noise_rate: 0.0,
        fail_noise_rate: 0.0,
        pass_noise_rate: 0.0,
        confidence: 1.0,
        runs: 0,
        search_runs: 0,
        cleaner_runs: 0,
        reseed_runs: 0,
        run_bound: run_bound(n),
        seconds: 0.0,
        reproductions: Vec::new(),
        steps: Vec::new(),
        notes: Vec::new(),
        summary: String::new(),
    };
    if n == 0 {
        report.summary = format!("no candidates to run before {}", victim.id);
        return Ok(report);
    }

    let outcome = (|| -> Result<(Verdict, Vec<usize>), Stop> {
        report.alone = e.alone()?;
        let all: Vec<usize> = (0..n).collect();
        if !e.bad(&all, Purpose::AllCandidates)? {
            return Ok((Verdict::NotReproduced, Vec::new()));
        }
        e.search()
    })();
    let (verdict, culprits) = match outcome {
        Ok(v) => v,
        Err(Stop::Budget) => (Verdict::BudgetExhausted, e.best.clone().unwrap_or_default()),
        Err(Stop::Fail(Error::Interrupted)) => {
            (Verdict::Interrupted, e.best.clone().unwrap_or_default())
        }
        Err(Stop::Fail(err)) => return Err(err),
        // Never leaves a verified step (the top of the search is one).
        Err(Stop::Inconsistent) => (Verdict::Inconclusive, e.best.clone().unwrap_or_default()),
    };
    report.search = if e.want_pass {
        Search::StateSetter
    } else {
        Search::Polluter
    };
    report.verdict = verdict;
    report.culprits = culprits.iter().map(|&i| e.cands[i].id.clone()).collect();
    report.search_runs = e.runs;
    let (_, noise_rate, fail_noise_rate, pass_noise_rate, confidence) = e.noise();
    report.noise_rate = noise_rate;
    report.fail_noise_rate = fail_noise_rate;
    report.pass_noise_rate = pass_noise_rate;
    report.confidence = confidence;

    // Shared random state: do the polluters act through the global random generator?
    if verdict == Verdict::Found && !e.want_pass && kind == flakehound_runner::RunnerKind::Pytest {
        match e.reseeded(&culprits) {
            Ok(shared) => report.shared_random_state = shared,
            Err(Stop::Fail(err)) if !matches!(err, Error::Interrupted) => return Err(err),
            // Out of runs or interrupted: the polluter stands, unchecked.
            Err(_) => {}
        }
        if report.shared_random_state {
            e.notes.push(
                "after the polluters, with Python's random reseeded before each test, the \
                 victim passes: they only drew from a random generator seeded once for all \
                 (random.seed(...) at import), so any test that draws a number moves what \
                 the victim gets; no cleaner search"
                    .to_string(),
            );
        }
    }

    report.reseed_runs = e.runs - report.search_runs;

    // Cleaners.
    if verdict == Verdict::Found
        && !e.want_pass
        && !report.shared_random_state
        && opts.cleaners
        && opts.max_cleaners > 0
    {
        let mut taken: HashSet<&str> = culprits.iter().map(|&i| e.cands[i].id.as_str()).collect();
        taken.insert(victim.id.as_str());
        let mut pool: Vec<TestRef> = Vec::new();
        for t in e.cands.iter().chain(&opts.suite) {
            if taken.insert(t.id.as_str()) {
                pool.push(t.clone());
            }
        }
        report.cleaner_pool = pool.len();
        let mut found = Vec::new();
        report.cleaners_complete = match e.cleaners(&culprits, &pool, &mut found) {
            Ok(complete) => complete,
            // Ctrl-C during the cleaner search: the culprit stands; the cleaners are partial.
            Err(Stop::Fail(Error::Interrupted)) => false,
            Err(Stop::Fail(err)) => return Err(err),
            Err(_) => return Err(Error::Usage("cleaner search stopped".into())),
        };
        report.cleaners = found;
        // Pollution in module scope: any test of another module "cleans", as leaving the
        // module tears down its module-scoped fixtures.
        let module = |id: &str| scopes(kind, id)[0].clone();
        let home = module(&victim.id);
        if report.culprits.iter().all(|c| module(c) == home)
            && report.cleaners.iter().any(|c| module(c) != home)
        {
            e.notes.push(format!(
                "the polluter and the victim share the module {home}, and tests of other \
                 modules clean up: the polluted state probably lives in module scope (a \
                 module-scoped fixture), torn down when another module runs in between"
            ));
        }
    }
    report.cleaner_runs = e.runs - report.search_runs - report.reseed_runs;

    // Reproductions.
    let by_id: HashMap<&str, &TestRef> = e
        .cands
        .iter()
        .chain(&opts.suite)
        .map(|t| (t.id.as_str(), t))
        .collect();
    let refs = |ids: &[String]| -> Vec<TestRef> {
        let mut v: Vec<TestRef> = ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|t| (*t).clone()))
            .collect();
        v.push(victim.clone());
        v
    };
    if verdict == Verdict::Found {
        let culprit_list = report.culprits.join(", ");
        match report.search {
            Search::Polluter => {
                report.reproductions.push(reproduction(
                    lab,
                    opts,
                    format!("{} fails after {}", victim.id, culprit_list),
                    &refs(&report.culprits),
                    false,
                ));
                if let Some(c) = report.cleaners.first() {
                    let mut ids = report.culprits.clone();
                    ids.push(c.clone());
                    report.reproductions.push(reproduction(
                        lab,
                        opts,
                        format!("{} passes when {c} runs in between", victim.id),
                        &refs(&ids),
                        true,
                    ));
                }
            }
            Search::StateSetter => {
                report.reproductions.push(reproduction(
                    lab,
                    opts,
                    format!("{} fails alone", victim.id),
                    &refs(&[]),
                    false,
                ));
                report.reproductions.push(reproduction(
                    lab,
                    opts,
                    format!("{} passes after {}", victim.id, culprit_list),
                    &refs(&report.culprits),
                    true,
                ));
            }
        }
    }

    report.noisy = e.noise().0;
    report.confirmed = e.confirm;
    report.runs = e.runs;
    report.seconds = t0.elapsed().as_secs_f64();
    report.summary = summary(&report);
    report.steps = std::mem::take(&mut e.steps);
    report.notes = std::mem::take(&mut e.notes);
    Ok(report)
}

/// The one-line [`Report::summary`].
fn summary(r: &Report) -> String {
    let cost = format!("{} runs, {:.1} s", r.runs, r.seconds);
    let culprits = r.culprits.join(" + ");
    match (r.verdict, r.search) {
        (Verdict::Found, Search::Polluter) if r.shared_random_state => format!(
            "shared random state: {culprits} draw{} from Python's random before {}, which passes after them once random is reseeded before each test: a generator seeded once for all (random.seed(...) at import), not a polluted state; give the test its own generator ({cost})",
            if r.culprits.len() == 1 { "s" } else { "" },
            r.victim
        ),
        (Verdict::Found, Search::Polluter) => {
            let what = if r.culprits.len() == 1 {
                "polluter".to_string()
            } else {
                format!("{} polluters, all needed", r.culprits.len())
            };
            let cleaners = if r.cleaners.is_empty() {
                String::new()
            } else {
                format!("; cleaned up by {}", r.cleaners.join(", "))
            };
            format!(
                "{what}: {culprits} makes {} fail{cleaners} ({cost})",
                r.victim
            )
        }
        (Verdict::Found, Search::StateSetter) => format!(
            "{} fails alone (brittle); state-setter: {culprits} makes it pass ({cost})",
            r.victim
        ),
        (Verdict::NotReproduced, Search::Polluter) => format!(
            "{} passes after all {} candidates too: not reproducible with them ({cost})",
            r.victim, r.candidates
        ),
        (Verdict::NotReproduced, Search::StateSetter) => format!(
            "{} fails alone and after all {} candidates: no state-setter among them ({cost})",
            r.victim, r.candidates
        ),
        (Verdict::NoCandidates, _) => format!("no candidates to run before {}", r.victim),
        (Verdict::BudgetExhausted, _) => format!(
            "run budget spent; smallest reproducing set so far: {} ({cost})",
            if culprits.is_empty() {
                "none"
            } else {
                &culprits
            }
        ),
        (Verdict::Interrupted, _) => format!(
            "interrupted; smallest reproducing set so far: {} ({cost})",
            if culprits.is_empty() {
                "none"
            } else {
                &culprits
            }
        ),
        (Verdict::Inconclusive, _) => format!(
            "inconclusive: the experiments contradict each other (noise rate {:.0}%) ({cost})",
            r.noise_rate * 100.0
        ),
    }
}

/// The shell line for `tests` (the victim last), with what it shows. A command the lab cannot
/// build is reported in `command` as a comment rather than failing the whole report.
fn reproduction(
    lab: &Lab,
    opts: &Options,
    what: String,
    tests: &[TestRef],
    victim_passes: bool,
) -> Reproduction {
    let ids: Vec<String> = tests.iter().map(|t| t.id.clone()).collect();
    let cmd = match lab.command(tests, Order::AsGiven, &opts.env) {
        Ok(cmd) => cmd,
        Err(e) => {
            return Reproduction {
                what,
                tests: ids,
                victim_passes,
                command: format!("# no command: {e}"),
                portable: false,
            };
        }
    };
    let scratch = std::path::absolute(&lab.scratch).unwrap_or_else(|_| lab.scratch.clone());
    let portable = match lab.adapter().kind() {
        RunnerKind::Pytest => portable_pytest(&cmd, &ids, &scratch),
        _ => None,
    };
    let (line, is_portable) = match portable {
        Some(p) => (p.display(), true),
        None => (cmd.display(), false),
    };
    let command = match &cmd.cwd {
        Some(dir) => format!("cd {} && {line}", shell_quote(&dir.display().to_string())),
        None => line,
    };
    Reproduction {
        what,
        tests: ids,
        victim_passes,
        command,
        portable: is_portable,
    }
}

/// The pytest command without flakehound's additions, when the node ids `ids` end its
/// arguments in order (so pytest alone runs exactly them, in that order); `None` otherwise.
/// Removed: `-p flakehound_pytest`, the `--junitxml` under `scratch`, the last
/// `-o junit_family=xunit1`, the `FLAKEHOUND_PYTEST_*` variables, and the plugin's directory
/// from `PYTHONPATH` (the variable is dropped when what is left is our own `PYTHONPATH`).
fn portable_pytest(cmd: &Cmd, ids: &[String], scratch: &Path) -> Option<Cmd> {
    let mut args = cmd.args.clone();
    let remove_pair = |args: &mut Vec<String>, a: &str, b: &str| -> bool {
        let at = (0..args.len().saturating_sub(1))
            .rev()
            .find(|&i| args[i] == a && args[i + 1] == b);
        match at {
            Some(i) => {
                args.drain(i..i + 2);
                true
            }
            None => false,
        }
    };
    if !remove_pair(&mut args, "-p", "flakehound_pytest") {
        return None;
    }
    args.retain(|a| {
        !a.strip_prefix("--junitxml=")
            .is_some_and(|p| Path::new(p).starts_with(scratch))
    });
    remove_pair(&mut args, "-o", "junit_family=xunit1");
    let mut unique: Vec<&String> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if args.len() < unique.len()
        || args[args.len() - unique.len()..]
            .iter()
            .zip(&unique)
            .any(|(a, id)| a != *id)
    {
        return None;
    }
    let sep = if cfg!(windows) { ';' } else { ':' };
    let ours = std::env::var("PYTHONPATH").ok();
    let mut env = Vec::new();
    for (k, v) in &cmd.env {
        if k.starts_with("FLAKEHOUND_PYTEST_") {
            continue;
        }
        if k == "PYTHONPATH" {
            let (first, rest) = v.split_once(sep).unwrap_or((v.as_str(), ""));
            if PathBuf::from(first).starts_with(scratch) {
                if rest.is_empty() || Some(rest) == ours.as_deref() {
                    continue;
                }
                env.push((k.clone(), rest.to_string()));
                continue;
            }
        }
        env.push((k.clone(), v.clone()));
    }
    Some(Cmd {
        program: cmd.program.clone(),
        args,
        env,
        env_remove: Vec::new(),
        cwd: cmd.cwd.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use flakehound_model::{Attempt, Outcome, TestCase};
    use flakehound_runner::{Adapter, Capabilities, Plan, ReportSource, Request, Results};

    use super::*;

    type Model = dyn Fn(&[String], u32) -> Option<bool> + Send + Sync;

    /// A simulated runner: each run spawns `true`, and the victim's outcome comes from `model`
    /// (the ids run before it, the 1-based number of the run): `Some(passed)`, or `None` for a
    /// run that wrote no report.
    struct Sim {
        victim: String,
        model: Box<Model>,
        runs: AtomicU32,
    }

    impl Adapter for Sim {
        fn kind(&self) -> RunnerKind {
            RunnerKind::Pytest
        }

        fn capabilities(&self) -> Capabilities {
            Capabilities {
                select: true,
                list: false,
                order: true,
                repeat: false,
            }
        }

        fn plan(&self, req: &Request, _scratch: &Path) -> flakehound_runner::Result<Plan> {
            assert_eq!(req.order, Order::AsGiven);
            let args = req
                .selection
                .iter()
                .flatten()
                .map(|t| t.id.clone())
                .collect();
            Ok(Plan {
                cmd: Cmd {
                    program: "true".into(),
                    args,
                    ..Cmd::default()
                },
                report: ReportSource::Files {
                    paths: Vec::new(),
                    format: None,
                    fresh_after: None,
                },
            })
        }

        fn read(&self, plan: &Plan) -> flakehound_runner::Result<Results> {
            let (victim, before) = plan.cmd.args.split_last().expect("a victim");
            assert_eq!(victim, &self.victim, "the victim runs last");
            let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
            let Some(passed) = (self.model)(before, n) else {
                return Err(flakehound_runner::Error::MissingReport {
                    runner: "sim",
                    detail: "crashed".into(),
                });
            };
            let outcome = if passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            };
            Ok(Results {
                info: Vec::new(),
                cases: vec![TestCase {
                    id: victim.clone(),
                    classname: None,
                    name: victim.clone(),
                    file: None,
                    line: None,
                    suite: Vec::new(),
                    outcome,
                    attempts: vec![Attempt::new(outcome)],
                    properties: Vec::new(),
                    timestamp: None,
                }],
            })
        }
    }

    const VICTIM: &str = "tests/test_victim.py::test_victim";

    fn tref(id: &str) -> TestRef {
        TestRef {
            id: id.to_string(),
            classname: None,
            name: id.rsplit("::").next().unwrap_or(id).to_string(),
            file: id.split("::").next().map(String::from),
            suite: Vec::new(),
        }
    }

    /// `n` candidates in modules of uneven sizes (1, 2, 3, ..., 7, then again), some in a class.
    fn suite(n: usize) -> Vec<TestRef> {
        let mut out = Vec::new();
        let (mut module, mut left) = (0, 1);
        for i in 0..n {
            if left == 0 {
                module += 1;
                left = module % 7 + 1;
            }
            left -= 1;
            let id = if module % 3 == 2 {
                format!("tests/test_m{module}.py::TestC::test_{i}")
            } else {
                format!("tests/test_m{module}.py::test_{i}")
            };
            out.push(tref(&id));
        }
        out
    }

    fn find_with(
        cands: &[TestRef],
        opts: &Options,
        model: impl Fn(&[String], u32) -> Option<bool> + Send + Sync + 'static,
    ) -> Result<Report> {
        let sim = Sim {
            victim: VICTIM.into(),
            model: Box::new(model),
            runs: AtomicU32::new(0),
        };
        let scratch = tempfile::tempdir().unwrap();
        let lab = Lab::new(&sim, scratch.path().to_path_buf());
        let report = find(&lab, &tref(VICTIM), cands, opts)?;
        assert_eq!(report.runs, lab.executions(), "every run is counted");
        assert_eq!(
            report.runs,
            report.search_runs + report.reseed_runs + report.cleaner_runs
        );
        assert_eq!(
            report.steps.iter().map(|s| s.tally.runs).sum::<u32>(),
            report.runs
        );
        Ok(report)
    }

    fn no_cleaners() -> Options {
        Options {
            cleaners: false,
            ..Options::default()
        }
    }

    #[test]
    fn a_search_reports_start_every_step_and_finish() {
        use flakehound_events::{Ending, Event, EventKind};
        let cands = suite(16);
        let polluter = cands[5].id.clone();
        let sim = Sim {
            victim: VICTIM.into(),
            model: Box::new(needs_all(&[&polluter])),
            runs: AtomicU32::new(0),
        };
        let scratch = tempfile::tempdir().unwrap();
        let lab = Lab::new(&sim, scratch.path().to_path_buf());
        let mut got: Vec<Event> = Vec::new();
        let r = find_observed(&lab, &tref(VICTIM), &cands, &no_cleaners(), &mut |e| {
            got.push(e.clone())
        })
        .unwrap();
        assert_eq!(r.culprits, [polluter]);
        assert!(
            matches!(
                &got[0].kind,
                EventKind::Started { subject: Some(v), tests: Some(16), .. } if v == VICTIM
            ),
            "{got:?}"
        );
        let steps: Vec<(String, u64)> = got
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::CandidateStep {
                    purpose,
                    candidates,
                    ..
                } => Some((purpose.clone(), *candidates)),
                _ => None,
            })
            .collect();
        let expected: Vec<(String, u64)> = r
            .steps
            .iter()
            .map(|s| (s.purpose.as_str().to_string(), s.before as u64))
            .collect();
        assert_eq!(steps, expected, "one event a step, in order");
        match &got.last().unwrap().kind {
            EventKind::Finished {
                ending, summary, ..
            } => {
                assert_eq!(*ending, Ending::Completed);
                assert_eq!(summary, &r.summary);
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(got.len(), r.steps.len() + 2, "{got:?}");
    }

    /// The victim fails when every one of `polluters` ran before it.
    fn needs_all(polluters: &[&str]) -> impl Fn(&[String], u32) -> Option<bool> + use<> {
        let p: Vec<String> = polluters.iter().map(|s| s.to_string()).collect();
        move |before: &[String], _| Some(!p.iter().all(|x| before.contains(x)))
    }

    #[test]
    fn one_polluter_anywhere_within_the_bound() {
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 30, 31, 33, 64, 100] {
            let cands = suite(n);
            let mut most = 0;
            for p in 0..n {
                let polluter = cands[p].id.clone();
                let r = find_with(&cands, &no_cleaners(), needs_all(&[&polluter])).unwrap();
                assert_eq!(r.verdict, Verdict::Found, "n={n} p={p}: {r:#?}");
                assert_eq!(r.culprits, std::slice::from_ref(&polluter), "n={n} p={p}");
                assert_eq!(r.search, Search::Polluter);
                assert!(
                    r.search_runs <= run_bound(n),
                    "n={n} p={p}: {} runs > bound {}",
                    r.search_runs,
                    run_bound(n)
                );
                assert_eq!(r.confidence, 1.0);
                assert!(!r.noisy && !r.confirmed);
                assert_eq!(r.reproductions.len(), 1);
                assert_eq!(r.reproductions[0].tests, [polluter, VICTIM.to_string()]);
                assert!(!r.reproductions[0].victim_passes);
                most = most.max(r.search_runs);
            }
            eprintln!("n={n}: at most {most} runs (bound {})", run_bound(n));
        }
    }

    #[test]
    fn several_polluters_needed_together() {
        let cands = suite(30);
        for (a, b) in [(0, 29), (3, 4), (10, 20), (14, 15), (0, 1), (28, 29)] {
            let (pa, pb) = (cands[a].id.clone(), cands[b].id.clone());
            let r = find_with(&cands, &no_cleaners(), needs_all(&[&pa, &pb])).unwrap();
            assert_eq!(r.verdict, Verdict::Found, "{a},{b}: {r:#?}");
            assert_eq!(r.culprits, [pa, pb], "{a},{b}");
            assert!(
                r.steps.iter().any(|s| s.purpose == Purpose::Interference) || b == a + 1,
                "{a},{b}"
            );
        }
        let ids: Vec<String> = [2, 17, 25].iter().map(|&i| cands[i].id.clone()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let r = find_with(&cands, &no_cleaners(), needs_all(&refs)).unwrap();
        assert_eq!(r.verdict, Verdict::Found);
        assert_eq!(r.culprits, ids);
        assert!(r.summary.contains("3 polluters"), "{}", r.summary);
    }

    #[test]
    fn a_module_needed_whole_is_cheaper_than_scattered_tests() {
        // Four tests of one module all needed (state built up in a module fixture) versus
        // four scattered over the list: keeping modules together finds the former faster.
        let mut cands: Vec<TestRef> = (0..12).map(|i| tref(&format!("a.py::t{i}"))).collect();
        cands.extend((0..4).map(|i| tref(&format!("m.py::T::t{i}"))));
        cands.extend((0..16).map(|i| tref(&format!("z.py::t{i}"))));
        let module: Vec<String> = (0..4).map(|i| format!("m.py::T::t{i}")).collect();
        let refs: Vec<&str> = module.iter().map(String::as_str).collect();
        let r = find_with(&cands, &no_cleaners(), needs_all(&refs)).unwrap();
        assert_eq!(r.culprits, module);
        let scattered: Vec<String> = [0, 9, 20, 31]
            .iter()
            .map(|&i| cands[i].id.clone())
            .collect();
        let refs: Vec<&str> = scattered.iter().map(String::as_str).collect();
        let s = find_with(&cands, &no_cleaners(), needs_all(&refs)).unwrap();
        assert_eq!(s.culprits, scattered);
        assert!(r.runs < s.runs, "{} vs {}", r.runs, s.runs);
    }

    #[test]
    fn brittle_victim_and_its_state_setter() {
        let cands = suite(20);
        let setter = cands[7].id.clone();
        let s = setter.clone();
        let r = find_with(&cands, &no_cleaners(), move |before, _| {
            Some(before.contains(&s))
        })
        .unwrap();
        assert_eq!(r.search, Search::StateSetter);
        assert_eq!(r.verdict, Verdict::Found);
        assert_eq!(r.culprits, std::slice::from_ref(&setter));
        assert_eq!(r.alone.failed, r.alone.runs);
        // Fails alone: checked `votes` times before calling it brittle.
        assert_eq!(r.alone.runs, 3);
        assert!(r.search_runs <= run_bound(20) + 2);
        assert_eq!(r.reproductions.len(), 2);
        assert_eq!(r.reproductions[0].tests, [VICTIM]);
        assert!(!r.reproductions[0].victim_passes);
        assert_eq!(r.reproductions[1].tests, [setter, VICTIM.to_string()]);
        assert!(r.reproductions[1].victim_passes);
        assert!(r.summary.contains("brittle"), "{}", r.summary);
    }

    #[test]
    fn not_reproduced_with_these_candidates() {
        let cands = suite(10);
        let r = find_with(&cands, &Options::default(), |_, _| Some(true)).unwrap();
        assert_eq!(r.verdict, Verdict::NotReproduced);
        assert_eq!(r.runs, 2);
        assert!(r.culprits.is_empty() && r.reproductions.is_empty());
        // Brittle, and nothing makes it pass.
        let r = find_with(&cands, &Options::default(), |_, _| Some(false)).unwrap();
        assert_eq!(
            (r.verdict, r.search),
            (Verdict::NotReproduced, Search::StateSetter)
        );
        assert!(r.summary.contains("no state-setter"), "{}", r.summary);
    }

    #[test]
    fn no_candidates_and_victim_among_them() {
        let r = find_with(&[], &Options::default(), |_, _| Some(true)).unwrap();
        assert_eq!((r.verdict, r.runs), (Verdict::NoCandidates, 0));
        // The victim itself and repeats are dropped.
        let r = find_with(
            &[tref(VICTIM), tref(VICTIM)],
            &Options::default(),
            |_, _| Some(true),
        )
        .unwrap();
        assert_eq!((r.verdict, r.candidates), (Verdict::NoCandidates, 0));
        let cands = vec![
            tref("a.py::p"),
            tref(VICTIM),
            tref("a.py::p"),
            tref("b.py::q"),
        ];
        let r = find_with(&cands, &no_cleaners(), needs_all(&["a.py::p"])).unwrap();
        assert_eq!(r.candidates, 2);
        assert_eq!(r.culprits, ["a.py::p"]);
    }

    #[test]
    fn victim_without_a_result_alone_is_an_error() {
        let err = find_with(&suite(5), &Options::default(), |_, _| None).unwrap_err();
        assert!(
            err.to_string().contains("no result when run alone"),
            "{err}"
        );
    }

    #[test]
    fn a_test_that_kills_the_process_is_a_polluter() {
        let cands = suite(12);
        let killer = cands[5].id.clone();
        let k = killer.clone();
        let r = find_with(&cands, &no_cleaners(), move |before, _| {
            if before.contains(&k) {
                None
            } else {
                Some(true)
            }
        })
        .unwrap();
        assert_eq!(r.culprits, [killer]);
        assert!(r.steps.iter().any(|s| s.tally.missing > 0));
    }

    /// A polluter at `p`, and the victim failing on its own on the runs in `noise`.
    fn noisy(
        cands: &[TestRef],
        p: usize,
        noise: impl Fn(u32) -> bool + Send + Sync + 'static,
    ) -> impl Fn(&[String], u32) -> Option<bool> + Send + Sync + 'static {
        let polluter = cands[p].id.clone();
        move |before, n| Some(!noise(n) && !before.contains(&polluter))
    }

    #[test]
    fn confirmed_search_sees_through_noise() {
        let cands = suite(30);
        let opts = Options {
            confirm: true,
            ..no_cleaners()
        };
        for p in [0, 13, 29] {
            let r = find_with(&cands, &opts, noisy(&cands, p, |n| n % 5 == 0)).unwrap();
            assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
            assert_eq!(r.culprits, [cands[p].id.clone()]);
            assert!(r.confirmed);
            assert!(
                r.steps
                    .iter()
                    .all(|s| s.tally.runs >= 2 || s.purpose == Purpose::Alone)
            );
            if r.noisy {
                assert!(r.noise_rate > 0.0 && r.confidence < 1.0, "{r:#?}");
            }
        }
        // Noise seen in every case over the three searches: at least one was noisy.
        let r = find_with(&cands, &opts, noisy(&cands, 29, |n| n % 5 == 0)).unwrap();
        assert!(
            r.noisy && r.confidence > 0.5 && r.confidence < 1.0,
            "{r:#?}"
        );
    }

    #[test]
    fn noise_seen_alone_switches_confirmation_on() {
        let cands = suite(30);
        // The very first run (alone) fails.
        let r = find_with(&cands, &no_cleaners(), noisy(&cands, 17, |n| n % 5 == 1)).unwrap();
        assert_eq!(r.culprits, [cands[17].id.clone()]);
        assert!(r.noisy && r.confirmed, "{r:#?}");
        assert_eq!(r.search, Search::Polluter);
        assert_eq!((r.alone.runs, r.alone.passed), (3, 2));
        assert!(r.notes[0].contains("flaky on its own"), "{:?}", r.notes);
        // Without auto-confirmation it is not switched on.
        let opts = Options {
            auto_confirm: false,
            ..no_cleaners()
        };
        let r = find_with(&cands, &opts, noisy(&cands, 17, |n| n == 1)).unwrap();
        assert!(r.noisy && !r.confirmed);
        assert_eq!(r.culprits, [cands[17].id.clone()]);
    }

    #[test]
    fn unnoticed_noise_is_caught_by_the_contradiction() {
        let cands = suite(16);
        // Run 3 is the first bisection step, the first half, which holds no polluter: a
        // failure there sends the search the wrong way.
        let r = find_with(&cands, &no_cleaners(), noisy(&cands, 15, |n| n == 3)).unwrap();
        assert_eq!(r.verdict, Verdict::Found, "{r:#?}");
        assert_eq!(r.culprits, [cands[15].id.clone()]);
        assert!(r.confirmed);
        assert!(
            r.notes.iter().any(|n| n.contains("searching again")),
            "{:?}",
            r.notes
        );
        // A victim whose outcome has nothing to do with the tests before it (it passes on
        // every third run): no confident answer, and the search gives up in bounded runs.
        let opts = Options {
            confirm: true,
            ..no_cleaners()
        };
        let r = find_with(&cands, &opts, |_, n| Some(n % 3 == 0)).unwrap();
        assert!(r.verdict != Verdict::Found || r.confidence < 0.5, "{r:#?}");
        assert!(r.noisy && r.noise_rate > 0.0, "{r:#?}");
        assert!(r.runs < 200, "{}", r.runs);
    }

    #[test]
    fn a_failure_that_needs_many_tests_before_it() {
        // No single polluter: the victim fails after any 6 tests (load, accumulated state).
        let cands = suite(16);
        let r = find_with(&cands, &no_cleaners(), |before, _| Some(before.len() < 6)).unwrap();
        assert_eq!(r.verdict, Verdict::Found);
        assert_eq!(r.culprits.len(), 6, "{r:#?}");
        assert!(r.summary.contains("6 polluters"), "{}", r.summary);
    }

    #[test]
    fn cleaners_one_by_one_and_by_groups() {
        // P pollutes; any of `cleaners` after it (and before the victim) cleans up.
        let model = |p: &str, cleaners: &[&str]| {
            let p = p.to_string();
            let c: Vec<String> = cleaners.iter().map(|s| s.to_string()).collect();
            move |before: &[String], _| {
                let Some(at) = before.iter().position(|t| *t == p) else {
                    return Some(true);
                };
                Some(before[at..].iter().any(|t| c.contains(t)))
            }
        };
        // Few candidates: each is tried.
        let cands = vec![tref("a.py::c"), tref("a.py::p"), tref("b.py::x")];
        let r = find_with(&cands, &Options::default(), model("a.py::p", &["a.py::c"])).unwrap();
        assert_eq!(r.culprits, ["a.py::p"]);
        assert_eq!(r.cleaners, ["a.py::c"]);
        assert!(r.cleaners_complete);
        assert_eq!((r.cleaner_pool, r.cleaner_runs), (2, 2));
        assert_eq!(r.reproductions.len(), 2);
        assert_eq!(r.reproductions[1].tests, ["a.py::p", "a.py::c", VICTIM]);
        assert!(r.reproductions[1].victim_passes);
        // Many: group testing, with the suite's later tests too.
        let cands = suite(40);
        let later: Vec<TestRef> = (0..20).map(|i| tref(&format!("z.py::t{i}"))).collect();
        let opts = Options {
            suite: later.iter().chain(&cands).cloned().collect(),
            ..Options::default()
        };
        let p = cands[10].id.clone();
        let r = find_with(&cands, &opts, model(&p, &[&cands[3].id, "z.py::t7"])).unwrap();
        assert_eq!(r.culprits, std::slice::from_ref(&p));
        assert_eq!(r.cleaners, [cands[3].id.clone(), "z.py::t7".to_string()]);
        assert_eq!(r.cleaner_pool, 59);
        assert!(r.cleaners_complete);
        assert!(r.cleaner_runs <= 2 + 4 * 6, "{}", r.cleaner_runs);
        // None at all: two runs tell (the whole pool does not clean, and does not pollute on
        // its own, so no member hides a cleaner behind a second polluter).
        let r = find_with(&cands, &opts, model(&p, &[])).unwrap();
        assert!(r.cleaners.is_empty() && r.cleaners_complete);
        assert_eq!(r.cleaner_runs, 2);
        // Capped.
        let opts = Options {
            max_cleaners: 1,
            ..opts
        };
        let r = find_with(&cands, &opts, model(&p, &[&cands[3].id, "z.py::t7"])).unwrap();
        assert_eq!(r.cleaners, [cands[3].id.clone()]);
        assert!(!r.cleaners_complete);
    }

    /// A cleaner followed, in the pool, by a test that pollutes again: the pool as one group
    /// does not clean, yet the cleaner is found (the group alone makes the victim fail, so its
    /// halves are tested), and completeness is claimed only because that was checked.
    #[test]
    fn a_cleaner_hidden_behind_a_second_polluter_is_found() {
        let cands = suite(40);
        let (p, c, q) = (
            cands[10].id.clone(),
            cands[3].id.clone(),
            cands[30].id.clone(),
        );
        let model = move |before: &[String], _| {
            let mut polluted = false;
            for t in before {
                if *t == p || *t == q {
                    polluted = true;
                } else if *t == c {
                    polluted = false;
                }
            }
            Some(!polluted)
        };
        let r = find_with(&cands, &Options::default(), model).unwrap();
        assert_eq!(r.verdict, Verdict::Found);
        assert!(r.cleaners.contains(&cands[3].id), "{r:#?}");
        assert!(r.cleaners_complete);
    }

    #[test]
    fn the_run_budget_is_kept() {
        let cands = suite(64);
        let p = cands[40].id.clone();
        let opts = Options {
            max_runs: Some(4),
            ..no_cleaners()
        };
        let r = find_with(&cands, &opts, needs_all(&[&p])).unwrap();
        assert_eq!(r.verdict, Verdict::BudgetExhausted);
        assert_eq!(r.runs, 4);
        assert!(r.culprits.contains(&p) && r.culprits.len() < 64, "{r:#?}");
        let opts = Options {
            max_runs: Some(1),
            ..no_cleaners()
        };
        let r = find_with(&cands, &opts, needs_all(&[&p])).unwrap();
        assert_eq!((r.verdict, r.runs), (Verdict::BudgetExhausted, 1));
        assert!(r.culprits.is_empty());
    }

    #[test]
    fn scopes_of_ids() {
        let k = RunnerKind::Pytest;
        assert_eq!(scopes(k, "t/a.py::T::test[x::y]"), ["t/a.py", "t/a.py::T"]);
        assert_eq!(scopes(k, "t/a.py::test"), ["t/a.py", "t/a.py"]);
        assert_eq!(scopes(k, "odd"), ["odd", "odd"]);
        let k = RunnerKind::CargoTest;
        assert_eq!(scopes(k, "crate::m::n::t"), ["crate::m::n", "crate::m::n"]);
    }

    #[test]
    fn splits_at_module_boundaries_when_balanced_enough() {
        let keys = |ids: &[&str]| -> Vec<[String; 2]> {
            ids.iter()
                .map(|id| scopes(RunnerKind::Pytest, id))
                .collect()
        };
        let all = |n: usize| (0..n).collect::<Vec<_>>();
        // Modules a(3) b(3): at 3.
        let k = keys(&["a::1", "a::2", "a::3", "b::1", "b::2", "b::3"]);
        assert_eq!(split(&all(6), &k).0, [0, 1, 2]);
        // a(4) b(2): 4 ≤ ⅔·6 → at the module boundary, not the middle.
        let k = keys(&["a::1", "a::2", "a::3", "a::4", "b::1", "b::2"]);
        assert_eq!(split(&all(6), &k).0, [0, 1, 2, 3]);
        // a(5) b(1): too unbalanced; a class boundary inside a is used instead.
        let k = keys(&[
            "a::T::1", "a::T::2", "a::U::3", "a::U::4", "a::U::5", "b::1",
        ]);
        assert_eq!(split(&all(6), &k).0, [0, 1]);
        // One module, no classes: the middle.
        let k = keys(&["a::1", "a::2", "a::3", "a::4", "a::5"]);
        assert_eq!(split(&all(5), &k), (vec![0, 1], vec![2, 3, 4]));
        assert_eq!(split(&[3, 4], &k), (vec![3], vec![4]));
    }

    #[test]
    fn the_bound_holds_for_any_size() {
        // levels + the check of the last inference or of the result + alone + all candidates.
        let mut memo = vec![0u32; 200_001];
        for m in 2..memo.len() {
            let larger = if m <= 2 { 1 } else { 2 * m / 3 };
            memo[m] = 1 + memo[larger];
            assert!(memo[m] + 3 < run_bound(m), "n={m}");
        }
        assert_eq!(memo[30], 7);
        assert!(memo[1] + 2 <= run_bound(1));
    }

    #[test]
    fn bounds_positions_and_confidence() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 30].map(run_bound),
            [0, 3, 5, 7, 7, 9, 9, 13]
        );
        assert_eq!(positions(&[0, 1, 2, 4, 6, 7]), "1-3, 5, 7-8");
        assert_eq!(positions(&[]), "");
        assert_eq!(wrong(0.0, 0.0, 1, 0), 0.0);
        assert_eq!(wrong(0.0, 0.0, 0, 1), 0.0);
        // One run failing at random 20% of the time where it should pass: a failure is wrong
        // with probability 0.2 / 1.2.
        assert!((wrong(0.2, 0.0, 0, 1) - 0.2 / 1.2).abs() < 1e-12);
        // It never passes at random: a pass is right.
        assert_eq!(wrong(0.2, 0.0, 2, 1), 0.0);
        assert!(wrong(0.2, 0.1, 0, 3) < wrong(0.2, 0.1, 0, 2));
        assert!(wrong(0.2, 0.1, 2, 1) > wrong(0.2, 0.1, 2, 0));
        // Symmetric noise: the plain binomial posterior.
        let q: f64 = 0.2;
        let expect = q * q / (q * q + (1.0 - q) * (1.0 - q));
        assert!((wrong(q, q, 2, 0) - expect).abs() < 1e-12);
    }

    #[test]
    fn portable_pytest_command() {
        let scratch = Path::new("/tmp/scr");
        let ids = ["t/a.py::p".to_string(), "t/b.py::v".to_string()];
        let cmd = Cmd {
            program: "python".into(),
            args: [
                "-m",
                "pytest",
                "-q",
                "--junitxml=/tmp/scr/preview/pytest-0.xml",
                "-o",
                "junit_family=xunit1",
                "-p",
                "flakehound_pytest",
                "t/a.py::p",
                "t/b.py::v",
            ]
            .map(String::from)
            .to_vec(),
            env: vec![
                ("FLAKEHOUND_PYTEST_SELECT".into(), "/tmp/scr/x".into()),
                ("PYTHONPATH".into(), "/tmp/scr/preview/pyplugin:/src".into()),
                ("FLAKEHOUND_PYTEST_ORDER".into(), "given".into()),
                ("TZ".into(), "UTC".into()),
            ],
            env_remove: Vec::new(),
            cwd: None,
        };
        let p = portable_pytest(&cmd, &ids, scratch).unwrap();
        if std::env::var("PYTHONPATH").as_deref() != Ok("/src") {
            assert_eq!(
                p.display(),
                "PYTHONPATH=/src TZ=UTC python -m pytest -q t/a.py::p t/b.py::v"
            );
        }
        // Not narrowed (the ids are not the arguments): the plugin is needed.
        let mut wide = cmd.clone();
        wide.args.truncate(8);
        wide.args.push("tests".into());
        assert!(portable_pytest(&wide, &ids, scratch).is_none());
        // Another order than the ids'.
        assert!(portable_pytest(&cmd, &[ids[1].clone(), ids[0].clone()], scratch).is_none());
        // No plugin: not a command of ours.
        let mut bare = cmd;
        bare.args.drain(6..8);
        assert!(portable_pytest(&bare, &ids, scratch).is_none());
    }

    #[test]
    fn report_serializes() {
        let cands = suite(6);
        let p = cands[2].id.clone();
        let r = find_with(&cands, &Options::default(), needs_all(&[&p])).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["verdict"], "found");
        assert_eq!(v["search"], "polluter");
        assert_eq!(v["culprits"][0], p.as_str());
        assert_eq!(v["steps"][0]["purpose"], "alone");
        assert_eq!(v["steps"][1]["purpose"], "all-candidates");
        assert_eq!(v["steps"][1]["positions"], "1-6");
        assert!(
            v["reproductions"][0]["command"]
                .as_str()
                .unwrap()
                .contains(&p)
        );
    }
}
