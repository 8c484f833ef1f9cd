//! `flakehound hunt`: re-run a suite many times, in fresh processes and several orders, to find
//! its flaky tests fast, and say what each one is with honest statistics.
//!
//! - Tests are listed through the runner adapter, then filtered (`TEST-FILTER`: substrings of
//!   ids) and sharded (`--shard K/N`: a stable hash of the id, so N jobs split the suite the same
//!   way every time and together cover it once).
//! - Workers run executions in parallel, each a fresh process with its own `PYTHONHASHSEED`
//!   (pytest; recorded), following the [`schedule`] (follow-up questions before new rounds).
//! - Each execution is stored as evidence (source `hunt`, one run per execution, with the
//!   context, order, seed and hash seed as report properties), so `report`, `classify` and
//!   `explain` use it.
//! - The budget is a wall-clock time and/or a number of rounds; stopping (Ctrl-C) hands out no
//!   new executions, ends the running ones (their process groups, see [`exec`]) and discards
//!   them, keeping everything finished before.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use flakehound_events::{Emitter, Ending, Engine, EventKind, TestResult};
use flakehound_model::{ReportInfo, RunMeta, TestCase};
use flakehound_runner::{Adapter, Request, RunnerKind, TestRef};

pub mod classify;
pub mod exec;
pub mod schedule;

pub use classify::{Class, Finding};
pub use schedule::{Context, Job};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runner(#[from] flakehound_runner::Error),
    #[error("{0}")]
    Usage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long to hunt: whichever limit comes first (at least one must be set).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub time: Option<Duration>,
    /// Rounds of the whole selection (follow-up questions are extra).
    pub runs: Option<u32>,
}

/// `--shard K/N` (1-based K).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether a test belongs to this shard: a stable hash of its id, so every job of a CI
    /// matrix computes the same split without talking to the others.
    pub fn contains(&self, id: &str) -> bool {
        let h = blake3::hash(id.as_bytes());
        let v = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"));
        v % u64::from(self.count) == u64::from(self.index - 1)
    }
}

pub struct Config {
    pub budget: Budget,
    pub workers: usize,
    pub seed: u64,
    /// Substrings of test ids; a test is hunted when it contains any (all tests when empty).
    pub filters: Vec<String>,
    pub shard: Option<Shard>,
    /// Scratch directory (exists, writable).
    pub scratch: PathBuf,
    /// Names this hunt in the store (`hunt/<session>/<execution>`).
    pub session: String,
    /// CI/git metadata of the evidence.
    pub meta: RunMeta,
    /// Problems found before the hunt (a pytest plugin that interferes, a store that cannot be
    /// opened): told as warning events right after the start, and first in [`Hunt::warnings`].
    pub warnings: Vec<String>,
    /// Time zones (`TZ`) the rounds take turns with; `None` is the machine's own and should come
    /// first (round 1 runs under it). Empty: the machine's only. See [`default_zones`].
    pub zones: Vec<Option<String>>,
}

/// The time zones a hunt varies by default: the machine's own, 12 hours west of UTC and 14
/// hours east (the two ends of the world's clocks: a test that compares a local date with a UTC
/// date fails under one of them at any hour of the day). IANA names when the system has the
/// time zone database (Go and Node read only those), POSIX strings otherwise (the C library,
/// hence Python, needs no database for them).
pub fn default_zones() -> Vec<Option<String>> {
    let iana = std::path::Path::new("/usr/share/zoneinfo/Etc/GMT+12").exists()
        && std::path::Path::new("/usr/share/zoneinfo/Pacific/Kiritimati").exists();
    let (west, east) = if iana {
        ("Etc/GMT+12", "Pacific/Kiritimati")
    } else {
        ("WEST+12", "EAST-14")
    };
    vec![None, Some(west.to_string()), Some(east.to_string())]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// Every round of `--runs` (and its follow-ups) was run.
    Rounds,
    /// The `--budget` time ran out.
    Time,
    /// Ctrl-C (or SIGINT): the findings are those of the executions finished before.
    Interrupted,
}

/// The result of a hunt.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hunt {
    pub session: String,
    pub seed: u64,
    pub runner: String,
    pub tests: usize,
    pub executions: u32,
    pub rounds: u32,
    pub seconds: f64,
    pub workers: usize,
    pub stopped: Stop,
    /// Every hunted test, worst first (broken, order-dependent, non-idempotent, flaky, stable).
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
}

impl Hunt {
    pub fn count(&self, class: Class) -> usize {
        self.findings.iter().filter(|f| f.class == class).count()
    }
}

/// Lists the tests through the adapter (a logged execution of its list command).
pub fn list_tests(adapter: &dyn Adapter, scratch: &std::path::Path) -> Result<Vec<TestRef>> {
    let plan = adapter.list(scratch).ok_or_else(|| {
        Error::Usage(format!(
            "the {} adapter cannot list tests, which hunting needs",
            adapter.kind().name()
        ))
    })??;
    let log = scratch.join("list.log");
    let x = flakehound_runner::exec::execute_logged(&plan, &log)?;
    let text = match &plan.report {
        flakehound_runner::ReportSource::Stdout { capture, .. } => std::fs::read_to_string(capture),
        flakehound_runner::ReportSource::Files { paths, .. } => {
            std::fs::read_to_string(paths.first().cloned().unwrap_or_default())
        }
    }
    .unwrap_or_default();
    let failed = |e: &dyn std::fmt::Display| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Error::Usage(format!(
            "cannot list the tests (`{}` exited {}): {e}\n{}",
            plan.cmd.display(),
            x.code,
            tail.join("\n")
        ))
    };
    let tests = adapter.parse_list(&text).map_err(|e| failed(&e))?;
    // Nothing listed by a command that failed (pytest not installed, a syntax error in a
    // conftest): that failure is the news, not "no tests to hunt".
    if tests.is_empty() && x.code != 0 {
        return Err(failed(&"it listed no test"));
    }
    Ok(tests)
}

/// Chooses the tests of a hunt from the listed ones.
pub fn select(tests: Vec<TestRef>, filters: &[String], shard: Option<Shard>) -> Vec<TestRef> {
    let mut seen = std::collections::HashSet::new();
    tests
        .into_iter()
        .filter(|t| seen.insert(t.id.clone()))
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.id.contains(f.as_str())))
        .filter(|t| shard.is_none_or(|s| s.contains(&t.id)))
        .collect()
}

struct Done {
    job: Job,
    results: Option<Vec<TestCase>>,
    info: Option<ReportInfo>,
    started: jiff::Timestamp,
    seconds: f64,
    problem: Option<String>,
    /// The command's exit status, when it ran to its end.
    exit: Option<i32>,
}

/// What a worker tells the hunt's loop.
enum Msg {
    Started(u32, String),
    Done(Box<Done>),
}

/// Runs the hunt. `store`: where executions are recorded (errors become warnings).
/// `stop`: set it (Ctrl-C) to stop early. `events` hears the hunt start, every execution start
/// and finish (with the totals after it and the first failure of each test), the warnings, and
/// the end (see [`flakehound_events`]).
pub fn hunt(
    adapter: &dyn Adapter,
    cfg: &Config,
    tests: Vec<TestRef>,
    subset: bool,
    mut store: Option<&mut (dyn flakehound_store::Store + 'static)>,
    stop: &AtomicBool,
    events: flakehound_events::Sink<'_>,
) -> Result<Hunt> {
    if cfg.budget.time.is_none() && cfg.budget.runs.is_none() {
        return Err(Error::Usage("a hunt needs --budget or --runs".into()));
    }
    if tests.is_empty() {
        return Err(Error::Usage(
            "no tests to hunt (check the filters and --shard)".into(),
        ));
    }
    let caps = adapter.capabilities();
    if subset && !caps.select {
        return Err(Error::Usage(format!(
            "the {} adapter cannot select tests, so it cannot hunt a filtered or sharded subset",
            adapter.kind().name()
        )));
    }
    let abilities = schedule::Abilities {
        select: caps.select,
        order: caps.order,
        repeat: caps.repeat,
        reseed: adapter.kind() == RunnerKind::Pytest,
    };
    let hash_var = (adapter.kind() == RunnerKind::Pytest).then_some("PYTHONHASHSEED");
    let n_tests = tests.len();
    let mut events = Emitter::new(events);
    let (planned, unit) = match (cfg.budget.runs, cfg.budget.time) {
        (Some(r), _) => (u64::from(r), "rounds"),
        (None, Some(t)) => (t.as_secs(), "seconds"),
        (None, None) => (0, "rounds"),
    };
    events.emit(EventKind::Started {
        engine: Engine::Hunt,
        subject: None,
        tests: Some(n_tests as u64),
        planned: Some(planned),
        unit: Some(unit.to_string()),
    });
    for w in &cfg.warnings {
        events.emit(EventKind::Warning { message: w.clone() });
    }
    let mut failed_once: std::collections::HashSet<String> = std::collections::HashSet::new();
    let scheduler = Mutex::new(
        schedule::Scheduler::new(tests, subset, abilities, cfg.seed, cfg.budget.runs)
            .with_zones(cfg.zones.clone())
            .with_workers(cfg.workers.max(1)),
    );
    let wake = Condvar::new();
    let started = Instant::now();
    let mut warnings: Vec<String> = Vec::new();
    let mut executions = 0u32;
    let mut interrupted = false;
    let mut timed_out = false;
    let workers = cfg.workers.max(1);
    let (tx, rx) = mpsc::channel::<Msg>();

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (scheduler, wake) = (&scheduler, &wake);
            scope.spawn(move || {
                let mut last: Option<u32> = None;
                loop {
                    let job = {
                        let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
                        // The questions the last job raises come before anything new.
                        while last.is_some_and(|id| s.is_pending(id)) {
                            s = wake
                                .wait_timeout(s, Duration::from_millis(200))
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                        loop {
                            match s.next_job() {
                                schedule::Next::Run(job) => break Some(job),
                                schedule::Next::Done => break None,
                                schedule::Next::Wait => {
                                    s = wake
                                        .wait_timeout(s, Duration::from_millis(200))
                                        .unwrap_or_else(|e| e.into_inner())
                                        .0;
                                }
                            }
                        }
                    };
                    let Some(job) = job else { break };
                    last = Some(job.id);
                    if tx.send(Msg::Started(job.id, job.context.label())).is_err() {
                        break;
                    }
                    let done = run_job(adapter, cfg, hash_var, job, stop);
                    if tx.send(Msg::Done(Box::new(done))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        loop {
            let done = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(d) => Some(d),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let over_time = cfg.budget.time.is_some_and(|t| started.elapsed() >= t);
            if stop.load(Ordering::Relaxed) && !interrupted {
                interrupted = true;
                scheduler.lock().unwrap_or_else(|e| e.into_inner()).stop();
                wake.notify_all();
            } else if over_time && !interrupted {
                timed_out = true;
                scheduler.lock().unwrap_or_else(|e| e.into_inner()).stop();
                wake.notify_all();
            }
            let done = match done {
                Some(Msg::Done(done)) => done,
                Some(Msg::Started(id, label)) => {
                    events.emit(EventKind::ExecutionStarted { number: id, label });
                    continue;
                }
                None => continue,
            };
            // An execution that ended after Ctrl-C was probably interrupted: not evidence.
            let usable = !interrupted && done.results.is_some();
            if let Some(p) = &done.problem {
                if warnings.len() < 20 {
                    let w = format!("execution #{}: {p}", done.job.id);
                    events.emit(EventKind::Warning { message: w.clone() });
                    warnings.push(w);
                }
            }
            let cases = done.results.as_deref().unwrap_or_default();
            let failing: Vec<&str> = cases
                .iter()
                .filter(|c| c.attempts.iter().any(|a| a.outcome.is_failure()))
                .map(|c| c.id.as_str())
                .collect();
            events.emit(EventKind::ExecutionFinished {
                number: done.job.id,
                label: done.job.context.label(),
                exit: done.exit,
                passed: cases
                    .iter()
                    .filter(|c| c.outcome == flakehound_model::Outcome::Passed)
                    .count() as u64,
                failed: failing.len() as u64,
                seconds: done.seconds,
                counted: usable,
            });
            if usable {
                for id in failing {
                    if failed_once.insert(id.to_string()) {
                        events.emit(EventKind::Test {
                            test: id.to_string(),
                            result: TestResult::Failed,
                            execution: done.job.id,
                        });
                    }
                }
            }
            if usable {
                executions += 1;
                if let (Some(store), Some(cases)) = (store.as_deref_mut(), &done.results) {
                    if let Err(e) = record(store, cfg, &done, cases) {
                        let w = format!("execution #{} not recorded: {e}", done.job.id);
                        events.emit(EventKind::Warning { message: w.clone() });
                        warnings.push(w);
                        // One store error is enough to say; stop trying.
                        store_broken(&mut warnings);
                    }
                }
            }
            let snapshot = {
                let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
                s.record(
                    &done.job,
                    if usable {
                        done.results.as_deref()
                    } else {
                        None
                    },
                );
                EventKind::Progress {
                    executions,
                    rounds: s.rounds(),
                    failing_tests: s.obs.values().filter(|o| o.failures > 0).count() as u64,
                }
            };
            wake.notify_all();
            events.emit(snapshot);
        }
    });
    if warnings.iter().any(|w| w == STORE_BROKEN) {
        warnings.retain(|w| w != STORE_BROKEN);
    }
    warnings.splice(0..0, cfg.warnings.iter().cloned());
    let s = scheduler.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut findings: Vec<Finding> = s
        .obs
        .iter()
        .map(|(id, o)| classify::classify(id, o))
        .collect();
    findings.sort_by(|a, b| {
        a.class
            .cmp(&b.class)
            .then(b.rate.total_cmp(&a.rate))
            .then(a.id.cmp(&b.id))
    });
    let stopped = if interrupted {
        Stop::Interrupted
    } else if timed_out {
        Stop::Time
    } else {
        Stop::Rounds
    };
    let found = findings.iter().filter(|f| f.class != Class::Stable).count();
    events.emit(EventKind::Finished {
        engine: Engine::Hunt,
        ending: if interrupted {
            Ending::Interrupted
        } else {
            Ending::Completed
        },
        summary: format!(
            "{executions} executions, {} rounds, {found} of {n_tests} tests not stable",
            s.rounds()
        ),
    });
    Ok(Hunt {
        session: cfg.session.clone(),
        seed: cfg.seed,
        runner: adapter.kind().name().to_string(),
        tests: n_tests,
        executions,
        rounds: s.rounds(),
        seconds: started.elapsed().as_secs_f64(),
        workers,
        stopped,
        findings,
        warnings,
    })
}

const STORE_BROKEN: &str = "\u{0}store-broken";

fn store_broken(warnings: &mut Vec<String>) {
    if !warnings.iter().any(|w| w == STORE_BROKEN) {
        warnings.push(STORE_BROKEN.into());
    }
}

fn run_job(
    adapter: &dyn Adapter,
    cfg: &Config,
    hash_var: Option<&str>,
    job: Job,
    stop: &AtomicBool,
) -> Done {
    let started = jiff::Timestamp::now();
    let t0 = Instant::now();
    let dir = cfg.scratch.join(format!("exec-{:05}", job.id));
    let fail = |job: Job, problem: String| Done {
        job,
        results: None,
        info: None,
        started,
        seconds: t0.elapsed().as_secs_f64(),
        problem: Some(problem),
        exit: None,
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(job, format!("cannot create {}: {e}", dir.display()));
    }
    let mut env = Vec::new();
    if let Some(var) = hash_var {
        env.push((var.to_string(), job.hash_seed.to_string()));
    }
    if let Some(tz) = &job.tz {
        env.push(("TZ".to_string(), tz.clone()));
    }
    if let Some(n) = job.reseed {
        // flakehound's pytest plugin reseeds `random` (and numpy) before each test.
        env.push(("FLAKEHOUND_PYTEST_RANDOM_SEED".to_string(), n.to_string()));
    }
    // A temporary directory of its own: parallel executions never share one through `/tmp`
    // (tempfile, mkstemp and friends honour TMPDIR).
    let tmp = dir.join("tmp");
    if std::fs::create_dir_all(&tmp).is_ok() {
        env.push(("TMPDIR".to_string(), tmp.display().to_string()));
    }
    let req = Request {
        selection: job.selection.clone(),
        order: job.order,
        repeat: job.repeat,
        env,
        invocation: job.id,
    };
    let plan = match adapter.plan(&req, &dir) {
        Ok(p) => p,
        Err(e) => return fail(job, e.to_string()),
    };
    let code = match exec::execute(&plan, &dir.join("output.log"), stop) {
        Ok(exec::Ended::Exited(code)) => code,
        // Ended by Ctrl-C: half an execution is no evidence, and nothing to warn about.
        Ok(exec::Ended::Stopped) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Done {
                job,
                results: None,
                info: None,
                started,
                seconds: t0.elapsed().as_secs_f64(),
                problem: None,
                exit: None,
            };
        }
        Err(e) => return fail(job, e),
    };
    let read = adapter.read(&plan);
    let seconds = t0.elapsed().as_secs_f64();
    let done = match read {
        Ok(r) => Done {
            info: r.info.into_iter().next(),
            results: Some(r.cases),
            job,
            started,
            seconds,
            problem: None,
            exit: Some(code),
        },
        Err(e) => Done {
            exit: Some(code),
            ..fail(job, format!("{e} (exit {code})"))
        },
    };
    // Keep the output of executions that went wrong, for the user to read.
    if done.problem.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    done
}

fn record(
    store: &mut dyn flakehound_store::Store,
    cfg: &Config,
    done: &Done,
    cases: &[TestCase],
) -> flakehound_store::Result<()> {
    use flakehound_evidence::own;
    let job = &done.job;
    let mut info = done.info.clone().unwrap_or_default();
    let (order, seed) = match &job.context {
        Context::Suite { order, seed } => (order.as_str().to_string(), *seed),
        Context::Repeat { .. } => ("as written".into(), None),
        Context::RepeatAlone { .. } => ("alone".into(), None),
        Context::Alone { .. } => ("alone".into(), None),
        Context::Replay { of, .. } => (format!("replay of #{of}"), None),
        Context::Reseeded {
            of, with_others, ..
        } => (
            if *with_others {
                format!("replay of #{of}")
            } else {
                "alone".into()
            },
            None,
        ),
        Context::Confirm {
            of, with_others, ..
        } => (
            if *with_others {
                format!("replay of #{of}")
            } else {
                "alone".into()
            },
            None,
        ),
    };
    info.properties.extend([
        ("flakehound.session".to_string(), cfg.session.clone()),
        ("flakehound.context".to_string(), job.context.label()),
        ("flakehound.order".to_string(), order),
        ("flakehound.hunt_seed".to_string(), cfg.seed.to_string()),
        ("flakehound.repeat".to_string(), job.repeat.to_string()),
    ]);
    if let Some(s) = seed {
        info.properties
            .push(("flakehound.shuffle_seed".into(), s.to_string()));
    }
    info.properties
        .push(("PYTHONHASHSEED".into(), job.hash_seed.to_string()));
    if let Some(tz) = &job.tz {
        info.properties.push(("TZ".into(), tz.clone()));
    }
    // Each execution is a run of its own (`hunt/{session}/{job}`), at the hunt's clock.
    let session = own::Session {
        source: &flakehound_model::RunSource::Hunt,
        id: &cfg.session,
        meta: &cfg.meta,
        runs: own::Runs::Each,
    };
    let execution = own::Execution {
        number: job.id,
        label: Some(job.context.label()),
        path: Some(format!("flakehound-hunt/{}/exec-{}", cfg.session, job.id)),
        started: Some(done.started.to_string()),
        seconds: Some(done.seconds),
        info,
        cases,
        ..Default::default()
    };
    own::record(store, &session, [execution])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flakehound_runner::Plan;

    fn t(id: &str) -> TestRef {
        TestRef {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            suite: vec![],
        }
    }

    #[test]
    fn shards_split_the_suite_exactly_once() {
        let tests: Vec<TestRef> = (0..500)
            .map(|i| t(&format!("tests/t.py::test_{i}")))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut sizes = Vec::new();
        for k in 1..=4 {
            let shard: Shard = format!("{k}/4").parse().unwrap();
            let part = select(tests.clone(), &[], Some(shard));
            sizes.push(part.len());
            for p in part {
                assert!(seen.insert(p.id), "a test in two shards");
            }
        }
        assert_eq!(seen.len(), 500);
        assert!(sizes.iter().all(|&n| (90..=160).contains(&n)), "{sizes:?}");
        for bad in ["0/4", "5/4", "x", "1/0", "2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    /// Runs `true` for every execution and reports the selected tests (all when none is
    /// selected) as passed, except `bad`, which always fails.
    struct Fake(Vec<TestRef>);

    impl Adapter for Fake {
        fn kind(&self) -> RunnerKind {
            RunnerKind::Generic
        }
        fn capabilities(&self) -> flakehound_runner::Capabilities {
            flakehound_runner::Capabilities {
                select: true,
                list: true,
                order: false,
                repeat: false,
            }
        }
        fn plan(&self, req: &Request, _: &std::path::Path) -> flakehound_runner::Result<Plan> {
            let ids: Vec<String> = match &req.selection {
                Some(sel) => sel.iter().map(|t| t.id.clone()).collect(),
                None => self.0.iter().map(|t| t.id.clone()).collect(),
            };
            let mut cmd = flakehound_runner::Cmd::from_argv(&["true".to_string()]).unwrap();
            cmd.args = ids;
            Ok(Plan {
                cmd,
                report: flakehound_runner::ReportSource::Files {
                    paths: vec![],
                    format: None,
                    fresh_after: None,
                },
            })
        }
        fn read(&self, plan: &Plan) -> flakehound_runner::Result<flakehound_runner::Results> {
            use flakehound_model::{Attempt, Outcome};
            let cases = plan
                .cmd
                .args
                .iter()
                .map(|id| {
                    let o = if id == "bad" {
                        Outcome::Failed
                    } else {
                        Outcome::Passed
                    };
                    TestCase {
                        id: id.clone(),
                        classname: None,
                        name: id.clone(),
                        file: None,
                        line: None,
                        suite: vec![],
                        outcome: o,
                        attempts: vec![Attempt::new(o)],
                        properties: vec![],
                        timestamp: None,
                    }
                })
                .collect();
            Ok(flakehound_runner::Results {
                info: vec![],
                cases,
            })
        }
    }

    #[test]
    fn a_hunt_reports_start_executions_and_finish() {
        use flakehound_events::{Event, EventKind};
        let tests = vec![t("good"), t("bad")];
        let scratch = tempfile::tempdir().unwrap();
        let cfg = Config {
            budget: Budget {
                time: None,
                runs: Some(2),
            },
            workers: 1,
            seed: 7,
            filters: vec![],
            shard: None,
            scratch: scratch.path().to_path_buf(),
            session: "s".into(),
            meta: RunMeta::default(),
            warnings: vec!["a plugin interferes".into()],
            zones: vec![None],
        };
        let mut got: Vec<Event> = Vec::new();
        let stop = AtomicBool::new(false);
        let h = hunt(
            &Fake(tests.clone()),
            &cfg,
            tests,
            false,
            None,
            &stop,
            &mut |e| got.push(e.clone()),
        )
        .unwrap();
        assert!(h.executions >= 2, "{h:?}");
        let kinds: Vec<&EventKind> = got.iter().map(|e| &e.kind).collect();
        assert!(
            matches!(
                kinds.first(),
                Some(EventKind::Started {
                    tests: Some(2),
                    planned: Some(2),
                    ..
                })
            ),
            "{kinds:?}"
        );
        assert!(
            matches!(kinds.get(1), Some(EventKind::Warning { message }) if message == "a plugin interferes"),
            "{kinds:?}"
        );
        assert_eq!(h.warnings, ["a plugin interferes"]);
        assert!(
            matches!(kinds.last(), Some(EventKind::Finished { .. })),
            "{kinds:?}"
        );
        let started = kinds
            .iter()
            .filter(|k| matches!(k, EventKind::ExecutionStarted { .. }))
            .count();
        let finished = kinds
            .iter()
            .filter(|k| matches!(k, EventKind::ExecutionFinished { counted: true, .. }))
            .count();
        assert_eq!(started, h.executions as usize, "{kinds:?}");
        assert_eq!(finished, h.executions as usize, "{kinds:?}");
        // Each execution's finish comes after its start, and is followed by the totals.
        for (i, k) in kinds.iter().enumerate() {
            if let EventKind::ExecutionFinished { number, .. } = k {
                assert!(
                    kinds[..i].iter().any(|s| matches!(
                        s,
                        EventKind::ExecutionStarted { number: n, .. } if n == number
                    )),
                    "{kinds:?}"
                );
            }
        }
        let last_progress = kinds.iter().rev().find_map(|k| match k {
            EventKind::Progress {
                executions,
                failing_tests,
                ..
            } => Some((*executions, *failing_tests)),
            _ => None,
        });
        assert_eq!(last_progress, Some((h.executions, 1)), "{kinds:?}");
        // The failing test is announced once, at its first failure.
        let failures: Vec<&str> = kinds
            .iter()
            .filter_map(|k| match k {
                EventKind::Test { test, .. } => Some(test.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(failures, ["bad"]);
        assert!(got.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn filters_are_substrings_and_duplicates_go() {
        let tests = vec![t("a::x"), t("b::y"), t("a::x"), t("c::xy")];
        let got: Vec<String> = select(tests, &["x".into()], None)
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(got, ["a::x", "c::xy"]);
    }
}
